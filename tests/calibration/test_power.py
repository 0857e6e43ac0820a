"""Power and coverage under the planted effects; IPW coverage under null effects.

Printed tables give the power of each test with ``effects_default.yaml``.
Coverage is checked only for the quantities the generator plants as exact
model parameters (``truth["exact"]``): the access odds ratios by nationality
and QPV residence and the placement odds ratios. The waiting-time hazard ratio
is only approximately the access odds ratio (``truth["approximate"]``): its
estimate is reported, not checked.
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocation_analysis.calibration import rejection_rates

COLUMNS = [
    "test_id",
    "group",
    "replicates",
    "valid",
    "rejections",
    "rate",
    "rate_ci_low",
    "rate_ci_high",
    "coverage",
    "median_estimate",
    "mean_n",
]


def show(capsys, title: str, table: pd.DataFrame) -> None:
    """Print a calibration table so that it appears in the CI log."""
    cols = [c for c in COLUMNS if c in table.columns]
    with capsys.disabled():
        print(f"\n=== {title}")
        print(table[cols].round(4).to_string(index=False))


pytestmark = pytest.mark.slow

POWER_TESTS = [
    "access_origin_rates",
    "access_residence_rates",
    "access_origin_cmh",
    "access_residence_cmh",
    "access_origin_logit",
    "access_residence_logit",
    "waiting_time_origin_logrank",
    "waiting_time_residence_logrank",
    "placement_origin_logit",
    "placement_residence_logit",
    "placement_origin_dissimilarity",
]


def test_logit_intervals_cover_the_planted_odds_ratios(capsys):
    table = rejection_rates(POWER_TESTS, n_replicates=200, effects="default", scale="tiny", seed=4)
    show(capsys, "power and coverage, effects_default (200 replicates, tiny)", table)
    checked = table[table["truth"].notna()]
    assert set(checked["test_id"]) == {
        "access_origin_logit",
        "access_residence_logit",
        "placement_origin_logit",
        "placement_residence_logit",
    }
    bad = checked[(checked["coverage"] < 0.90) | (checked["coverage"] > 0.99)]
    assert bad.empty, f"coverage outside [0.90, 0.99]:\n{bad.to_string()}"


def test_ipw_interval_covers_zero_under_null_effects(capsys):
    table = rejection_rates(
        ["access_origin_ipw", "access_residence_ipw"],
        n_replicates=200,
        effects="null",
        scale="tiny",
        seed=5,
    )
    show(capsys, "IPW difference, effects_null (200 replicates, tiny)", table)
    assert (table["truth"] == 0.0).all()
    bad = table[(table["coverage"] < 0.90) | (table["coverage"] > 0.99)]
    assert bad.empty, f"coverage of 0 outside [0.90, 0.99]:\n{bad.to_string()}"

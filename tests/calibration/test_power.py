"""Power of the report's tests and coverage of the planted odds ratios.

Replicates are plain subsamples (2 000 demands of the access frame, 1 500
leases; no permutation, no redraw) of one ``mel`` population generated with
``effects_default.yaml``. The printed rejection rates are the powers of the
tests against the planted effects at that sample size.

Coverage is checked for the quantities the generator plants as exact model
parameters (``truth["exact"]``): the access odds ratios by nationality and QPV
residence and the placement odds ratios. Because every replicate comes from
the same finite population, what is measured is the coverage of that
population's own odds ratio, which differs from the planted one by the
population's sampling error; the difference is small for the access models
(sampling fraction 2 000 / 60 000) and larger for placement (1 500 / 5 900
leases), where the finite-population correction also makes the intervals
slightly conservative.
"""

from __future__ import annotations

import pytest

from allocation_analysis.calibration import rejection_rates

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


def test_logit_intervals_cover_the_planted_odds_ratios(default_population, show):
    table = rejection_rates(default_population, POWER_TESTS, null="none", n_replicates=200, seed=6)
    show("power and coverage, effects_default (200 subsamples)", table)
    checked = table[table["truth"].notna()]
    assert set(checked["test_id"]) == {
        "access_origin_logit",
        "access_residence_logit",
        "placement_origin_logit",
        "placement_residence_logit",
    }
    bad = checked[(checked["coverage"] < 0.90) | (checked["coverage"] > 0.99)]
    assert bad.empty, f"coverage outside [0.90, 0.99]:\n{bad.to_string()}"

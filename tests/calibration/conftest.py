"""Session fixtures of the calibration study: one realistic population per effects file."""

from __future__ import annotations

import pandas as pd
import pytest

from allocation_analysis import calibration, synth

COLUMNS = [
    "test_id",
    "group",
    "replicates",
    "valid",
    "rejections",
    "rate",
    "rate_ci_low",
    "rate_ci_high",
    "truth",
    "coverage",
    "coverage_ci_low",
    "coverage_ci_high",
    "median_estimate",
    "mean_n",
    "seconds_per_replicate",
]


@pytest.fixture
def show(capsys):
    """Print a calibration table so that it appears in the CI log (even without ``-s``)."""

    def _show(title: str, table: pd.DataFrame) -> None:
        cols = [c for c in COLUMNS if c in table.columns]
        with capsys.disabled():
            print(f"\n=== {title}")
            with pd.option_context("display.width", 250, "display.max_columns", 30):
                print(table[cols].round(4).to_string(index=False))

    return _show


@pytest.fixture(scope="session")
def null_population() -> calibration.Population:
    """``mel`` population generated with ``effects_null.yaml`` (seed 0), frames in memory."""
    return calibration.build_population(synth.generate(scale="mel", seed=0, effects="null"))


@pytest.fixture(scope="session")
def default_population() -> calibration.Population:
    """``mel`` population generated with ``effects_default.yaml`` (seed 0), frames in memory."""
    return calibration.build_population(synth.generate(scale="mel", seed=0, effects="default"))


@pytest.fixture(scope="session")
def confounded_population() -> calibration.Population:
    """``mel`` population of ``effects_null_confounded.yaml`` (seed 0): no planted
    disparity, groups that differ in filing dates, incomes, typologies and commune
    preferences, outcomes correlated within first-choice communes."""
    return calibration.build_population(
        synth.generate(scale="mel", seed=0, effects="null_confounded")
    )

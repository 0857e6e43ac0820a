"""Size of every test of ``results.json`` at alpha = 0.05 (issues 4 and 8).

A point rejection rate outside [0.03, 0.07] fails: this is the CI guard
against a regression of the calibration. The run is seeded, hence
deterministic: once it passes it keeps passing unless the code changes.
Measured sizes are printed in the log (``-s`` not needed).

Replicates are subsamples of one ``mel`` population generated with
``effects_null.yaml`` (2 000 demands of the access frame, 1 500 leases), under
the exact null each test is meant to hold (see
:mod:`allocation_analysis.calibration`):

- *exchangeable null* (group labels permuted jointly across the rows of each
  subsample) for the raw tests — score test of rates, CMH over typology ×
  priority strata, log-rank, dissimilarity permutation test — and for Cox;
- *parametric null* (outcome redrawn from the population's logistic model on
  the controls, without group terms) for the adjusted logits of access and
  placement, Fairlie's unexplained part and the IPW difference.

With 1 000 replicates the standard error of a rate of 0.05 is 0.007, so the
band is ±2.9 SE and a perfectly calibrated test falls outside it with
probability 0.004; with 500 replicates (SE 0.0097, ±2.06 SE) 0.04.
"""

from __future__ import annotations

import pytest

from allocation_analysis.calibration import rejection_rates

pytestmark = pytest.mark.slow

ALPHA = 0.05
LOW, HIGH = 0.03, 0.07

RAW = [
    "access_origin_rates",
    "access_residence_rates",
    "access_origin_cmh",
    "access_residence_cmh",
    "waiting_time_origin_logrank",
    "waiting_time_residence_logrank",
    "placement_origin_dissimilarity",
]
LOGIT = [
    "access_origin_logit",
    "access_residence_logit",
    "placement_origin_logit",
    "placement_residence_logit",
]
COX = ["waiting_time_origin_cox", "waiting_time_residence_cox"]
FAIRLIE = ["access_origin_fairlie", "access_residence_fairlie"]
IPW = ["access_origin_ipw", "access_residence_ipw"]


def _outside(table):
    return table[(table["rate"] < LOW) | (table["rate"] > HIGH) | table["rate"].isna()]


def _check_size(population, show, ids, *, null, n_replicates, seed, label):
    """Rejection rates of ``ids`` over seeded replicates, each inside [LOW, HIGH]."""
    table = rejection_rates(
        population, ids, null=null, n_replicates=n_replicates, seed=seed, alpha=ALPHA
    )
    show(f"size of {label}, {null} null ({n_replicates} replicates)", table)
    assert (table["replicates"] == n_replicates).all()
    bad = _outside(table)
    assert bad.empty, f"size outside [{LOW}, {HIGH}]:\n{bad.to_string()}"


def test_raw_tests_hold_their_size_when_groups_are_exchangeable(null_population, show):
    _check_size(
        null_population,
        show,
        RAW,
        null="exchangeable",
        n_replicates=1000,
        seed=1,
        label="the raw tests",
    )


def test_adjusted_logits_hold_their_size_under_the_parametric_null(null_population, show):
    _check_size(
        null_population,
        show,
        LOGIT,
        null="parametric",
        n_replicates=500,
        seed=2,
        label="the adjusted logits",
    )


def test_cox_holds_its_size_when_groups_are_exchangeable(null_population, show):
    _check_size(
        null_population, show, COX, null="exchangeable", n_replicates=500, seed=3, label="Cox"
    )


def test_fairlie_holds_its_size_under_the_parametric_null(null_population, show):
    """Wald test of the unexplained part with its analytic (influence-value) SE."""
    _check_size(
        null_population,
        show,
        FAIRLIE,
        null="parametric",
        n_replicates=500,
        seed=4,
        label="Fairlie (unexplained part)",
    )


def test_ipw_interval_covers_zero_under_the_parametric_null(null_population, show):
    table = rejection_rates(
        null_population, IPW, null="parametric", n_replicates=200, seed=5, alpha=ALPHA
    )
    show("IPW difference, parametric null: coverage of 0 (200 replicates)", table)
    assert (table["truth"] == 0.0).all()
    bad = table[(table["coverage"] < 0.90) | (table["coverage"] > 0.99)]
    assert bad.empty, f"coverage of 0 outside [0.90, 0.99]:\n{bad.to_string()}"

"""Separation checks do not depend on the units of the controls (issue 14 §2).

A control measured as a share in [0, 0.05] with a large coefficient (about 60
per unit share, 0.6 per percentage point) must give the same fit as the same
control in percent, and the same as R (``glm(binomial)``, ``coxph`` with Efron
ties; ``tests/reference/make_reference_separation.R``). Genuine separation is
still reported whatever the units.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
from _ref_b import REFERENCE_DIR, ref_data

from allocation_analysis.stats._separation import (
    MAX_LINEAR_PREDICTOR,
    is_separated,
    standardized_coefficients,
)
from allocation_analysis.stats.decomposition import fairlie
from allocation_analysis.stats.profiles import ipw_disparity
from allocation_analysis.stats.regression import logit_disparity
from allocation_analysis.stats.survival import cox

TOL = 1e-6
GROUPS = {"group": "groupe", "reference": "local", "compared": "etranger"}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = ref_data("separation_data")
    d["pct"] = 100.0 * d["part"]
    return d


@pytest.fixture(scope="module")
def ref() -> dict:
    with open(REFERENCE_DIR / "r_reference_separation.json", encoding="utf-8") as fh:
        return json.load(fh)


def _no_separation_warning(res) -> None:
    text = " ".join(res.warnings).lower()
    assert "séparation" not in text and "converge" not in text, res.warnings


# --------------------------------------------------------------------------- #
# logit_disparity
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def logits(data):
    return {
        c: logit_disparity(data, outcome="y", controls=[c, "zone"], **GROUPS)
        for c in ("part", "pct")
    }


def test_logit_with_a_share_control_equals_the_percent_control(logits):
    share, pct = logits["part"], logits["pct"]
    _no_separation_warning(share)
    assert share.estimate == pytest.approx(pct.estimate, rel=TOL)
    assert (share.ci_low, share.ci_high) == pytest.approx((pct.ci_low, pct.ci_high), rel=TOL)
    assert share.p_value == pytest.approx(pct.p_value, rel=TOL)
    assert share.details["coefficients"]["part"] == pytest.approx(
        100.0 * pct.details["coefficients"]["pct"], rel=TOL
    )
    assert share.details["ame"] == pytest.approx(pct.details["ame"], rel=TOL)


@pytest.mark.parametrize("control", ["part", "pct"])
def test_logit_with_a_large_share_coefficient_equals_r_glm(logits, ref, control):
    res = logits[control]
    r = ref["logit"]["share" if control == "part" else "percent"]
    assert r["converged"] == 1
    assert res.n == r["n"]
    assert res.estimate == pytest.approx(r["odds_ratio"], rel=TOL)
    assert res.ci_low == pytest.approx(r["ci_low"], rel=TOL)
    assert res.ci_high == pytest.approx(r["ci_high"], rel=TOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=TOL)
    coefs = res.details["coefficients"]
    assert coefs[control] == pytest.approx(r["coefficients"][control], rel=TOL)
    assert coefs["const"] == pytest.approx(r["coefficients"]["(Intercept)"], rel=TOL)
    assert res.details["std_errors"][control] == pytest.approx(r["std_errors"][control], rel=TOL)


# --------------------------------------------------------------------------- #
# cox
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def coxes(data):
    return {
        c: cox(data, duration="duree", event="evenement", controls=[c, "zone"], **GROUPS)
        for c in ("part", "pct")
    }


def test_cox_with_a_share_control_equals_the_percent_control(coxes):
    share, pct = coxes["part"], coxes["pct"]
    _no_separation_warning(share)
    assert share.estimate == pytest.approx(pct.estimate, rel=TOL)
    assert (share.ci_low, share.ci_high) == pytest.approx((pct.ci_low, pct.ci_high), rel=TOL)
    assert share.details["coefficients"]["part"] == pytest.approx(
        100.0 * pct.details["coefficients"]["pct"], rel=TOL
    )
    assert share.details["loglik"] == pytest.approx(pct.details["loglik"], rel=1e-12)


@pytest.mark.parametrize("control", ["part", "pct"])
def test_cox_with_a_large_share_coefficient_equals_r_coxph(coxes, ref, control):
    res = coxes[control]
    r = ref["cox"]["share" if control == "part" else "percent"]
    assert res.n == r["n"]
    assert res.estimate == pytest.approx(r["hazard_ratio"], rel=TOL)
    assert res.ci_low == pytest.approx(r["ci_low"], rel=TOL)
    assert res.ci_high == pytest.approx(r["ci_high"], rel=TOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=TOL)
    assert res.details["coefficients"][control] == pytest.approx(
        r["coefficients"][control], rel=TOL
    )
    assert res.details["std_errors"][control] == pytest.approx(r["std_errors"][control], rel=TOL)


# --------------------------------------------------------------------------- #
# fairlie
# --------------------------------------------------------------------------- #
def test_fairlie_with_a_share_control_equals_the_percent_control(data, ref):
    kw = dict(outcome="y", n_orderings=20, random_state=3, **GROUPS)
    share = fairlie(data, controls=["part", "zone"], **kw)
    pct = fairlie(data, controls=["pct", "zone"], **kw)
    _no_separation_warning(share)
    assert math.isfinite(share.estimate)
    assert share.estimate == pytest.approx(pct.estimate, rel=TOL)
    for key in ("gap", "explained", "explained_se", "unexplained_se", "explained_matched"):
        assert share.details[key] == pytest.approx(pct.details[key], rel=TOL), key
    np.testing.assert_allclose(
        share.details["contributions"]["contribution"].to_numpy(),
        pct.details["contributions"]["contribution"].to_numpy(),
        rtol=TOL,
    )
    # the pooled logit of the decomposition is R's glm with the group indicator
    r = ref["logit"]["share"]["coefficients"]
    coefs = share.details["coefficients"]
    assert coefs["const"] == pytest.approx(r["(Intercept)"], rel=TOL)
    assert coefs["part"] == pytest.approx(r["part"], rel=TOL)
    assert coefs["zone=sud"] == pytest.approx(r["zonesud"], rel=TOL)
    assert pct.details["coefficients"]["pct"] == pytest.approx(r["part"] / 100.0, rel=TOL)


# --------------------------------------------------------------------------- #
# ipw_disparity
# --------------------------------------------------------------------------- #
def test_ipw_with_a_share_control_equals_the_percent_control(data, ref):
    kw = dict(outcome="y", random_state=1, cv_folds=0, **GROUPS)
    share = ipw_disparity(data, controls=["part", "zone"], **kw)
    pct = ipw_disparity(data, controls=["pct", "zone"], **kw)
    _no_separation_warning(share)
    assert share.estimate == pytest.approx(pct.estimate, rel=TOL)
    assert share.details["se"] == pytest.approx(pct.details["se"], rel=TOL)
    assert share.n == pct.n == ref["ipw"]["n"]
    # scikit-learn's L-BFGS stops at a gradient tolerance of 1e-4: close to
    # R's glm propensity, not to its last digits
    assert share.estimate == pytest.approx(ref["ipw"]["rate_difference"], rel=1e-3)


# --------------------------------------------------------------------------- #
# genuine separation is still reported, in any unit
# --------------------------------------------------------------------------- #
def _separated_frame(scale: float) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 300
    part = rng.uniform(0.0, 0.05, n)
    return pd.DataFrame(
        {
            "y": (part > 0.025).astype(int),  # the control predicts the outcome perfectly
            "groupe": rng.choice(["local", "etranger"], n),
            "x": scale * part,
        }
    )


@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
def test_logit_and_fairlie_still_flag_a_control_that_predicts_perfectly(scale):
    d = _separated_frame(scale)
    res = logit_disparity(d, outcome="y", controls=["x"], **GROUPS)
    assert math.isnan(res.estimate)
    assert any("Séparation" in w for w in res.warnings)
    res = fairlie(d, outcome="y", controls=["x"], n_orderings=2, **GROUPS)
    assert math.isnan(res.estimate)
    assert any("séparation" in w for w in res.warnings)


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_logit_and_fairlie_still_flag_quasi_separation_by_a_rare_indicator(scale):
    # a rare 0/1 numeric control (5 % of the rows) whose rows are all housed,
    # beside a share control with a large coefficient
    rng = np.random.default_rng(12)
    n = 400
    part = rng.uniform(0.0, 0.05, n)
    rare = (rng.random(n) < 0.05).astype(float)
    y = rng.binomial(1, 1 / (1 + np.exp(-(-1.5 + 60.0 * part))))
    y[rare == 1] = 1
    d = pd.DataFrame(
        {"y": y, "groupe": rng.choice(["local", "etranger"], n), "x": scale * part, "r": rare}
    )
    res = logit_disparity(d, outcome="y", controls=["x", "r"], **GROUPS)
    assert math.isnan(res.estimate)
    assert any("Séparation" in w for w in res.warnings)
    res = fairlie(d, outcome="y", controls=["x", "r"], n_orderings=2, **GROUPS)
    assert math.isnan(res.estimate)
    assert any("séparation" in w for w in res.warnings)


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_cox_still_flags_a_group_without_events_with_a_share_control(scale):
    rng = np.random.default_rng(13)
    n = 120
    d = pd.DataFrame(
        {
            "t": rng.exponential(size=n),
            "groupe": ["local"] * 60 + ["etranger"] * 60,
            "x": scale * rng.uniform(0.0, 0.05, n),
        }
    )
    d["e"] = np.where(d["groupe"] == "etranger", 0, 1)
    res = cox(d, duration="t", event="e", controls=["x"], **GROUPS)
    assert math.isnan(res.estimate)
    assert any("ne converge pas" in w for w in res.warnings)


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_ipw_flags_a_propensity_separated_by_a_share_control(scale):
    rng = np.random.default_rng(14)
    n = 300
    part = rng.uniform(0.0, 0.05, n)
    d = pd.DataFrame(
        {
            "y": rng.binomial(1, 0.5, n),
            "groupe": np.where(part > 0.025, "etranger", "local"),
            "x": scale * part,
            "z": rng.normal(size=n),
        }
    )
    # the share separates the groups completely: no overlap, so no trimming
    # (it would empty both groups) and a warning on the propensity model
    res = ipw_disparity(d, outcome="y", controls=["x", "z"], cv_folds=0, trim=None, **GROUPS)
    assert any("Séparation" in w and "propension" in w for w in res.warnings), res.warnings


# --------------------------------------------------------------------------- #
# the shared helper
# --------------------------------------------------------------------------- #
def test_is_separated_is_invariant_to_rescaling_a_column():
    rng = np.random.default_rng(0)
    n = 200
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.uniform(0, 0.05, n)])
    for beta in (np.array([-1.0, 0.5, 60.0]), np.array([-1.0, 0.5, 900.0])):
        for model in ("logit", "cox"):
            Xc = X if model == "logit" else X[:, 1:] - X[:, 1:].mean(axis=0)
            bc = beta if model == "logit" else beta[1:]
            verdict = is_separated(Xc, bc, model=model)
            for c in (1e-3, 100.0, 1e5):
                Xs, bs = Xc.copy(), bc.copy()
                Xs[:, -1] *= c
                bs[-1] /= c
                assert is_separated(Xs, bs, model=model) == verdict
                np.testing.assert_allclose(
                    standardized_coefficients(Xs, bs), standardized_coefficients(Xc, bc)
                )
    # 60 per unit share: a standardised coefficient below 1, no separation
    assert not is_separated(X, np.array([-1.0, 0.5, 60.0]))
    # a linear predictor beyond logit(1 - 1e-8): separated
    assert is_separated(X, np.array([MAX_LINEAR_PREDICTOR + 0.1, 0.0, 0.0]))
    assert is_separated(X, np.array([0.0, np.inf, 0.0]))
    # the former rule |b| > 15 for a balanced 0/1 indicator
    assert is_separated(X, np.array([-8.0, 16.0, 0.0]))

import math
import time

import numpy as np
import pandas as pd
import pytest
from _ref_b import RTOL, ref_b, ref_data

from allocation_analysis.stats.decomposition import fairlie, oaxaca_blinder

KW = dict(
    outcome="loyer",
    group="nationalite",
    reference="francaise",
    compared="hors_ue",
    controls=["x1", "x2"],
)


# ----------------------------------------------------------------- Oaxaca–Blinder
@pytest.mark.parametrize("coefs", ["pooled", "reference", "compared"])
def test_oaxaca_twofold_matches_lm_by_hand_in_r(coefs):
    r = ref_b()["oaxaca"][coefs]
    res = oaxaca_blinder(
        ref_data("oaxaca_data"), **KW, reference_coefficients=coefs, n_boot=50, random_state=1
    )
    assert res.details["gap"] == pytest.approx(r["gap"], rel=RTOL)
    assert res.details["explained"] == pytest.approx(r["explained"], rel=RTOL)
    assert res.estimate == pytest.approx(r["unexplained"], rel=RTOL)
    by = res.details["by_term"]["explained"]
    assert by["x1"] == pytest.approx(r["explained_by"]["x1"], rel=RTOL)
    assert by["x2"] == pytest.approx(r["explained_by"]["x2"], rel=RTOL)
    assert res.ci_low < res.estimate < res.ci_high


def test_oaxaca_threefold_matches_r_and_sums_to_the_gap():
    r = ref_b()["oaxaca"]["threefold"]
    res = oaxaca_blinder(ref_data("oaxaca_data"), **KW, kind="threefold", n_boot=20, random_state=2)
    for c in ("endowments", "coefficients", "interaction"):
        assert res.details[c] == pytest.approx(r[c], rel=RTOL)
    total = sum(res.details[c] for c in ("endowments", "coefficients", "interaction"))
    assert total == pytest.approx(res.details["gap"], rel=1e-12)
    assert res.estimate_name == "coefficients_gap"


def test_oaxaca_options_are_checked():
    with pytest.raises(ValueError, match="reference_coefficients"):
        oaxaca_blinder(ref_data("oaxaca_data"), **KW, reference_coefficients="omega")
    with pytest.raises(ValueError, match="kind"):
        oaxaca_blinder(ref_data("oaxaca_data"), **KW, kind="fourfold")


def test_oaxaca_with_too_few_rows_warns():
    d = ref_data("oaxaca_data")
    d = pd.concat([d[d.nationalite == "francaise"], d[d.nationalite == "hors_ue"].head(2)])
    res = oaxaca_blinder(d, **KW, n_boot=0)
    assert math.isnan(res.estimate)
    assert any("Trop peu d'observations" in w for w in res.warnings)


# ----------------------------------------------------------------- Fairlie
def _sim(rng, n, p_x_b, group_effect=0.0):
    g = rng.random(n) < 0.4
    x = (rng.random(n) < np.where(g, p_x_b, 0.3)).astype(int)
    z = rng.normal(size=n)
    lp = -0.5 + 1.2 * x + 0.5 * z + group_effect * g
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame({"y": y, "g": np.where(g, "b", "a"), "x": x, "z": z})


FK = dict(outcome="y", group="g", reference="a", compared="b", controls=["x", "z"])


def test_fairlie_closed_form_with_one_binary_covariate():
    # Reference group (100 rows): x=1 for 40 rows (30 with y=1), x=0 for 60 rows (15 with y=1).
    # The logit y ~ x on the reference group is saturated: F(a+b)=30/40=0.75, F(a)=15/60=0.25.
    # Compared group (100 rows): x=1 for 70 rows; 50 rows with y=1.
    # explained = (0.70 - 0.40) * (0.75 - 0.25) = 0.15; gap = 0.50 - 0.45 = 0.05;
    # unexplained = -0.10. Equal group sizes: the matched samples are the full samples,
    # so the single contribution equals the explained part.
    ref = pd.DataFrame({"x": [1] * 40 + [0] * 60, "y": [1] * 30 + [0] * 10 + [1] * 15 + [0] * 45})
    cmp = pd.DataFrame({"x": [1] * 70 + [0] * 30, "y": [1] * 35 + [0] * 35 + [1] * 15 + [0] * 15})
    d = pd.concat([ref.assign(g="a"), cmp.assign(g="b")], ignore_index=True)
    res = fairlie(
        d,
        outcome="y",
        group="g",
        reference="a",
        compared="b",
        controls=["x"],
        pooled=False,
        n_boot=0,
        n_orderings=3,
        random_state=0,
    )
    assert res.details["gap"] == pytest.approx(0.05)
    assert res.details["explained"] == pytest.approx(0.15, rel=1e-6)
    assert res.estimate == pytest.approx(-0.10, rel=1e-5)
    assert res.details["contributions"].loc["x", "contribution"] == pytest.approx(0.15, rel=1e-6)


def test_fairlie_analytic_se_of_a_saturated_reference_model_equals_the_hand_formula():
    # Same data as above, reference-group coefficients. With a saturated logit,
    # F(x) is the reference cell mean r(x) and the unexplained part is
    # mean_c(y - r(x)). Delta method, both group sizes fixed, the reference
    # residuals taken leave-one-out (leaving out a row of cell x moves r(x) by
    # (r(x) - y_i) / (n_x - 1): the residual scaled by n_x / (n_x - 1)):
    #   Var = sum_c (u - u_bar)^2 / n_c^2 * n_c/(n_c-1)
    #       + sum_x p_c(x)^2 r(x)(1-r(x)) / n_r(x) * (n_x/(n_x-1))^2 * n_r/(n_r-1)
    # u - u_bar in the compared group: 0.35 (35 rows), -0.65 (35), 0.85 (15), -0.15 (15)
    #   -> sum of squares 4.2875 + 14.7875 + 10.8375 + 0.3375 = 30.25
    # reference part: 0.7^2 * 0.1875 / 40 * (40/39)^2 + 0.3^2 * 0.1875 / 60 * (60/59)^2
    #   = 0.0024161735700197 + 0.0002908646940534 = 0.0027070382640731
    # Var = 30.25 / 9900 + 0.0027070382640731 * 100 / 99
    ref = pd.DataFrame({"x": [1] * 40 + [0] * 60, "y": [1] * 30 + [0] * 10 + [1] * 15 + [0] * 45})
    cmp = pd.DataFrame({"x": [1] * 70 + [0] * 30, "y": [1] * 35 + [0] * 35 + [1] * 15 + [0] * 15})
    d = pd.concat([ref.assign(g="a"), cmp.assign(g="b")], ignore_index=True)
    res = fairlie(
        d, outcome="y", group="g", reference="a", compared="b", controls=["x"], pooled=False
    )
    se = math.sqrt(30.25 / 9900 + 0.0027070382640731 * 100 / 99)
    assert res.details["unexplained_se"] == pytest.approx(se, rel=1e-6)
    assert res.ci_low == pytest.approx(-0.10 - 1.959963984540054 * se, rel=1e-6)
    assert res.p_value == pytest.approx(math.erfc(0.10 / se / math.sqrt(2)), rel=1e-6)
    assert res.details["inference"] == "analytic"


@pytest.mark.parametrize("pooled", [True, False])
def test_fairlie_analytic_se_agrees_with_a_long_bootstrap(pooled):
    # The influence-value SE is the first-order limit of the bootstrap within
    # groups: with 400 replicates the bootstrap SE has a Monte Carlo relative
    # error of about 1/sqrt(800) = 3.5 %; 12 % is more than 3 of those.
    d = _sim(np.random.default_rng(21), 3000, p_x_b=0.7, group_effect=0.4)
    a = fairlie(d, **FK, pooled=pooled, n_orderings=1, random_state=1)
    b = fairlie(
        d, **FK, pooled=pooled, inference="bootstrap", n_boot=400, n_orderings=1, random_state=1
    )
    assert a.estimate == pytest.approx(b.estimate)
    for key in ("unexplained_se", "explained_se"):
        assert a.details[key] == pytest.approx(b.details[key], rel=0.12), key
    assert a.details["contributions"]["se"].isna().all()
    assert b.details["contributions"]["se"].notna().all()


def test_fairlie_identical_covariate_distributions_give_no_explained_part():
    rng = np.random.default_rng(11)
    d = _sim(rng, 20_000, p_x_b=0.3, group_effect=0.6)
    res = fairlie(d, **FK, n_boot=0, n_orderings=5, random_state=1)
    assert abs(res.details["explained"]) < 0.01
    assert res.estimate == pytest.approx(res.details["gap"], abs=0.01)


def test_fairlie_outcome_independent_of_group_gives_no_unexplained_part():
    rng = np.random.default_rng(12)
    d = _sim(rng, 20_000, p_x_b=0.7, group_effect=0.0)
    res = fairlie(d, **FK, n_boot=0, n_orderings=5, random_state=1)
    # raw gap is about 0.4 * (F(0.7) - F(-0.5)) ~ 0.11: it must be explained, not unexplained
    assert res.details["gap"] > 0.08
    assert abs(res.estimate) < 0.015
    assert res.details["explained"] == pytest.approx(res.details["gap"], abs=0.015)


def test_fairlie_contributions_sum_to_the_matched_explained_part_and_ci_covers():
    rng = np.random.default_rng(13)
    d = _sim(rng, 1500, p_x_b=0.7, group_effect=0.4)
    res = fairlie(d, **FK, inference="bootstrap", n_boot=60, n_orderings=10, random_state=3)
    contrib = res.details["contributions"]
    assert contrib["contribution"].sum() == pytest.approx(res.details["explained_matched"])
    assert res.details["explained_matched"] == pytest.approx(res.details["explained"], abs=0.02)
    assert res.ci_low < res.estimate < res.ci_high
    # x differs between groups and matters, z does not differ
    assert contrib.loc["x", "contribution"] > 0.05
    assert abs(contrib.loc["z", "contribution"]) < 0.02
    assert res.estimate + res.details["explained"] == pytest.approx(res.details["gap"])


def test_fairlie_is_reproducible_with_a_seed():
    d = _sim(np.random.default_rng(14), 800, p_x_b=0.6)
    a = fairlie(d, **FK, inference="bootstrap", n_boot=20, n_orderings=5, random_state=7)
    b = fairlie(d, **FK, inference="bootstrap", n_boot=20, n_orderings=5, random_state=7)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    pd.testing.assert_frame_equal(a.details["contributions"], b.details["contributions"])


def test_fairlie_separation_and_empty_group_warn_instead_of_raising():
    d = pd.DataFrame({"y": [1] * 20 + [0] * 20, "g": ["a", "b"] * 20, "x": [1] * 20 + [0] * 20})
    res = fairlie(d, outcome="y", group="g", reference="a", compared="b", controls=["x"], n_boot=0)
    assert math.isnan(res.estimate)
    assert any("séparation" in w for w in res.warnings)
    d["g"] = pd.Categorical(["a"] * 40, ["a", "b"])
    d["x"] = np.arange(40) % 2
    res = fairlie(d, outcome="y", group="g", reference="a", compared="b", controls=["x"], n_boot=0)
    assert math.isnan(res.estimate)
    assert any("aucune observation" in w for w in res.warnings)


def test_fairlie_drops_a_control_level_that_predicts_the_outcome_perfectly():
    # A situation level whose demands are never housed makes the logit
    # separated; as logit_disparity (and Stata), the level goes with its rows
    # and the decomposition is that of the remaining rows.
    d = _sim(np.random.default_rng(30), 2000, p_x_b=0.6)
    d["sit"] = np.where(np.arange(2000) % 10 == 0, "z", np.where(np.arange(2000) % 2, "x", "y"))
    d.loc[d["sit"] == "z", "y"] = 0
    kw = {**FK, "controls": ["x", "z", "sit"]}
    res = fairlie(d, **kw, n_orderings=2, random_state=1)
    assert res.n == 1800
    assert any("sit=z" in w for w in res.warnings)
    ref = fairlie(d[d["sit"] != "z"], **kw, n_orderings=2, random_state=1)
    assert res.estimate == pytest.approx(ref.estimate, rel=1e-10)
    assert res.details["unexplained_se"] == pytest.approx(ref.details["unexplained_se"], rel=1e-10)


def test_fairlie_argument_mistakes_raise_value_errors():
    d = _sim(np.random.default_rng(0), 100, 0.5)
    with pytest.raises(ValueError, match="n_boot"):
        fairlie(d, **FK, n_boot=-1)
    with pytest.raises(ValueError, match="n_boot"):
        fairlie(d, **FK, inference="bootstrap", n_boot=1)
    with pytest.raises(ValueError, match="inference"):
        fairlie(d, **FK, inference="jackknife")
    with pytest.raises(ValueError, match="controls"):
        fairlie(d, outcome="y", group="g", reference="a", compared="b", controls=[])


def test_ten_thousand_rows_timing():
    d = _sim(np.random.default_rng(15), 10_000, p_x_b=0.6)
    t0 = time.perf_counter()
    fairlie(d, **FK, n_boot=20, n_orderings=20, random_state=1)
    oaxaca_blinder(d.assign(y=d["y"] + d["z"]), **FK, n_boot=200, random_state=1)
    assert time.perf_counter() - t0 < 20.0

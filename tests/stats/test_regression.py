import math
import time

import numpy as np
import pandas as pd
import pytest
from _ref_b import RTOL, ref_b, ref_data
from scipy import stats as sps

from allocation_analysis.stats import ResultSet, TestResult
from allocation_analysis.stats.regression import logit_disparity

CONTROLS = ["zone", "revenu"]


@pytest.fixture(scope="module")
def data():
    return ref_data("logit_data")


@pytest.mark.parametrize("compared", ["hors_ue", "ue"])
def test_odds_ratio_ci_and_p_match_r_glm(data, compared):
    r = ref_b()["logit"][compared]
    res = logit_disparity(
        data,
        outcome="y",
        group="nationalite",
        reference="francaise",
        compared=compared,
        controls=CONTROLS,
    )
    assert res.n == r["n"]
    assert res.estimate == pytest.approx(r["odds_ratio"], rel=RTOL)
    assert res.ci_low == pytest.approx(r["ci_low"], rel=RTOL)
    assert res.ci_high == pytest.approx(r["ci_high"], rel=RTOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)
    assert res.statistic == pytest.approx(r["z"] ** 2, rel=RTOL)
    coefs = res.details["coefficients"]
    rc = r["coefficients"]
    for ours, theirs in [
        ("const", "(Intercept)"),
        ("group", "g"),
        ("zone=nord", "zonenord"),
        ("zone=sud", "zonesud"),
        ("revenu", "revenu"),
    ]:
        assert coefs[ours] == pytest.approx(rc[theirs], rel=RTOL)


@pytest.mark.parametrize("compared", ["hors_ue", "ue"])
def test_cluster_robust_se_matches_sandwich_vcovcl_hc1(data, compared):
    r = ref_b()["logit"][compared]
    res = logit_disparity(
        data,
        outcome="y",
        group="nationalite",
        reference="francaise",
        compared=compared,
        controls=CONTROLS,
        cluster="commune",
    )
    assert res.details["se"] == pytest.approx(r["se_cluster"], rel=RTOL)
    # p-value and interval: Student's t with G - 1 = 24 df (regression.cluster_reference),
    # from R's vcovCL standard error; tests/stats/test_few_clusters.py checks them against R
    b, se = math.log(r["odds_ratio"]), r["se_cluster"]
    q = sps.t.ppf(0.975, 24)
    assert res.ci_low == pytest.approx(math.exp(b - q * se), rel=RTOL)
    assert res.ci_high == pytest.approx(math.exp(b + q * se), rel=RTOL)
    assert res.p_value == pytest.approx(2 * sps.t.sf(abs(b / se), 24), rel=RTOL)
    assert res.details["df_reference"] == 24
    assert res.details["ame_se"] == pytest.approx(r["ame_se_cluster"], rel=RTOL)
    assert res.details["n_clusters"] == 25


@pytest.mark.parametrize("compared", ["hors_ue", "ue"])
def test_average_marginal_effect_and_vif_match_r_by_hand(data, compared):
    r = ref_b()["logit"][compared]
    res = logit_disparity(
        data,
        outcome="y",
        group="nationalite",
        reference="francaise",
        compared=compared,
        controls=CONTROLS,
    )
    assert res.details["ame"] == pytest.approx(r["ame"], rel=RTOL)
    assert res.details["ame_se"] == pytest.approx(r["ame_se"], rel=RTOL)
    v = res.details["vif"]
    for ours, theirs in [
        ("group", "g"),
        ("zone=nord", "zonenord"),
        ("zone=sud", "zonesud"),
        ("revenu", "revenu"),
    ]:
        assert v[ours] == pytest.approx(r["vif"][theirs], rel=RTOL)
    assert res.warnings == ()


def test_several_levels_without_compared_give_a_result_set(data):
    res = logit_disparity(
        data, outcome="y", group="nationalite", reference="francaise", controls=CONTROLS
    )
    assert isinstance(res, ResultSet)
    assert sorted(r.compared for r in res) == ["hors_ue", "ue"]
    assert res.by_group("ue").estimate == pytest.approx(
        ref_b()["logit"]["ue"]["odds_ratio"], rel=RTOL
    )
    one = logit_disparity(
        data,
        outcome="y",
        group="nationalite",
        reference="francaise",
        compared="ue",
        controls=CONTROLS,
    )
    assert isinstance(one, TestResult)


def test_rows_with_missing_values_are_dropped_with_a_counted_warning(data):
    d = data.copy()
    d.loc[[0, 1, 2], "revenu"] = np.nan
    d.loc[[3, 4], "zone"] = None
    # rows 0-4 are kept only if in the two groups compared; count those
    kept_groups = d.loc[:4, "nationalite"].isin(["francaise", "hors_ue"]).sum()
    res = logit_disparity(
        d,
        outcome="y",
        group="nationalite",
        reference="francaise",
        compared="hors_ue",
        controls=CONTROLS,
    )
    assert res.n == ref_b()["logit"]["hors_ue"]["n"] - kept_groups
    assert any(w.startswith(f"{kept_groups} ligne(s) écartée(s)") for w in res.warnings)


def test_perfect_separation_gives_nan_and_a_warning():
    d = pd.DataFrame(
        {
            "y": [1] * 20 + [0] * 20,
            "g": ["b"] * 20 + ["a"] * 20,
            "x": np.linspace(0, 1, 40),
        }
    )
    res = logit_disparity(d, outcome="y", group="g", reference="a", compared="b", controls=["x"])
    assert math.isnan(res.estimate) and math.isnan(res.p_value)
    assert any("Séparation" in w for w in res.warnings)


def test_quasi_separation_by_a_control_is_reported():
    rng = np.random.default_rng(5)
    n = 200
    x = rng.normal(size=n)
    d = pd.DataFrame({"y": (x > 0).astype(int), "g": rng.choice(["a", "b"], n), "x": x})
    res = logit_disparity(d, outcome="y", group="g", reference="a", compared="b", controls=["x"])
    assert math.isnan(res.estimate)
    assert any("Séparation" in w for w in res.warnings)


def test_empty_group_gives_nan_and_a_warning(data):
    d = data.copy()
    d["nationalite"] = pd.Categorical(
        d["nationalite"], categories=["francaise", "ue", "hors_ue", "autre"]
    )
    res = logit_disparity(
        d,
        outcome="y",
        group="nationalite",
        reference="francaise",
        compared="autre",
        controls=CONTROLS,
    )
    assert math.isnan(res.estimate)
    assert any("'autre' n'a aucune observation" in w for w in res.warnings)


def test_collinear_controls_raise_a_vif_warning():
    rng = np.random.default_rng(2)
    n = 300
    a = rng.normal(size=n)
    d = pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "g": rng.choice(["a", "b"], n),
            "a": a,
            "b": a + rng.normal(scale=0.05, size=n),
        }
    )
    res = logit_disparity(
        d, outcome="y", group="g", reference="a", compared="b", controls=["a", "b"]
    )
    # hand value: VIF = 1 / (1 - r^2) with r^2 of b on a ~ 1/(1+0.05^2) -> VIF ~ 400
    assert res.details["vif"]["a"] > 100
    assert any("VIF" in w for w in res.warnings)


def test_argument_mistakes_raise_value_errors_naming_the_argument(data):
    with pytest.raises(ValueError, match="reference"):
        logit_disparity(data, outcome="y", group="nationalite", reference="inconnue")
    with pytest.raises(ValueError, match="controls"):
        logit_disparity(
            data, outcome="y", group="nationalite", reference="francaise", controls=["absente"]
        )
    with pytest.raises(ValueError, match="alpha"):
        logit_disparity(data, outcome="y", group="nationalite", reference="francaise", alpha=2)
    with pytest.raises(ValueError, match="outcome"):
        logit_disparity(data, outcome="zone", group="nationalite", reference="francaise")


@pytest.mark.slow
def test_size_under_the_null_is_close_to_alpha(capsys):
    rng = np.random.default_rng(20240601)
    reps, n, rejections = 500, 200, 0
    for _ in range(reps):
        x = rng.normal(size=n)
        z = rng.choice(["u", "v", "w"], n)
        y = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 0.5 * x)))).astype(int)
        d = pd.DataFrame({"y": y, "g": rng.choice(["a", "b"], n, p=[0.6, 0.4]), "x": x, "z": z})
        res = logit_disparity(
            d, outcome="y", group="g", reference="a", compared="b", controls=["x", "z"]
        )
        rejections += res.p_value < 0.05
    size = rejections / reps
    with capsys.disabled():
        print(f"\nlogit_disparity: size at alpha=0.05 over {reps} null replicates = {size:.3f}")
    assert 0.03 <= size <= 0.07


def test_ten_thousand_rows_take_well_under_a_second():
    rng = np.random.default_rng(0)
    n = 10_000
    d = pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "g": rng.choice(["a", "b", "c"], n),
            "x": rng.normal(size=n),
            "z": rng.choice(list("pqrs"), n),
            "cl": rng.integers(0, 50, n),
        }
    )
    t0 = time.perf_counter()
    logit_disparity(d, outcome="y", group="g", reference="a", controls=["x", "z"], cluster="cl")
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.slow
def test_wald_ci_covers_a_planted_odds_ratio_at_its_nominal_rate(capsys):
    rng = np.random.default_rng(20240603)
    reps, n, log_or = 300, 300, 0.5
    covered = rejected = 0
    for _ in range(reps):
        x = rng.normal(size=n)
        g = rng.random(n) < 0.4
        y = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 0.5 * x + log_or * g)))).astype(int)
        d = pd.DataFrame({"y": y, "g": np.where(g, "b", "a"), "x": x})
        res = logit_disparity(
            d, outcome="y", group="g", reference="a", compared="b", controls=["x"]
        )
        covered += res.ci_low <= math.exp(log_or) <= res.ci_high
        rejected += res.p_value < 0.05
    with capsys.disabled():
        print(
            f"\nlogit_disparity: OR={math.exp(log_or):.3f}, n={n}: coverage of the 95 % CI = "
            f"{covered / reps:.3f}, power = {rejected / reps:.3f} ({reps} replicates)"
        )
    assert 0.92 <= covered / reps <= 0.98


def test_control_level_that_predicts_the_outcome_is_dropped_with_its_rows_like_stata():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(
        {
            "g": rng.choice(["ref", "cmp"], n),
            "typ": rng.choice(["T1", "T2", "T3", "T5+"], n, p=[0.3, 0.3, 0.3, 0.1]),
            "x": rng.normal(size=n),
        }
    )
    lp = -0.5 + 0.6 * (df["g"] == "cmp") + 0.4 * df["x"]
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    df.loc[df["typ"] == "T5+", "y"] = 0  # nobody of this level has the outcome
    res = logit_disparity(
        df, outcome="y", group="g", reference="ref", compared="cmp", controls=["typ", "x"]
    )
    assert np.isfinite(res.estimate)
    assert any("Stata" in w and "typ=T5+" in w for w in res.warnings)
    # independent fit on the rows that carry information, without the level
    red = df[df["typ"] != "T5+"].assign(cmp=lambda d: (d["g"] == "cmp").astype(int))
    ref_fit = smf.logit("y ~ cmp + C(typ) + x", data=red).fit(disp=0)
    assert res.estimate == pytest.approx(np.exp(ref_fit.params["cmp"]), rel=1e-6)
    assert res.n == len(red)


def test_reference_level_that_predicts_the_outcome_is_dropped_and_the_next_level_becomes_reference():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(4)
    n = 600
    df = pd.DataFrame(
        {
            "g": rng.choice(["ref", "cmp"], n),
            "typ": rng.choice(["T1", "T2", "T3"], n, p=[0.2, 0.4, 0.4]),
            "x": rng.normal(size=n),
        }
    )
    lp = -0.3 + 0.7 * (df["g"] == "cmp") + 0.4 * df["x"]
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    df.loc[df["typ"] == "T1", "y"] = 0  # the reference level (first sorted) never has the outcome
    res = logit_disparity(
        df, outcome="y", group="g", reference="ref", compared="cmp", controls=["typ", "x"]
    )
    assert any("typ=<référence>" in w for w in res.warnings)
    red = df[df["typ"] != "T1"].assign(cmp=lambda d: (d["g"] == "cmp").astype(int))
    ref_fit = smf.logit("y ~ cmp + C(typ) + x", data=red).fit(disp=0)
    assert res.estimate == pytest.approx(np.exp(ref_fit.params["cmp"]), rel=1e-6)

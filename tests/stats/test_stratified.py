import math

import numpy as np
import pandas as pd
import pytest
from _ref import individuals_from_tables, r_reference

from allocation_analysis.stats import ResultSet
from allocation_analysis.stats.stratified import cmh, cmh_from_tables

CASES = r_reference()["cmh"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_cmh_matches_r_mantelhaen_test_with_correction(case):
    res = cmh_from_tables(case["tables"], correction=True)
    assert res.estimate == pytest.approx(case["estimate"], rel=1e-9)
    assert [res.ci_low, res.ci_high] == pytest.approx(case["conf_int"], rel=1e-9)
    assert res.statistic == pytest.approx(case["statistic_corrected"], rel=1e-9, abs=1e-12)
    assert res.p_value == pytest.approx(case["p_value_corrected"], rel=1e-9)
    assert res.df == 1 and res.estimate_name == "odds_ratio"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_cmh_matches_r_mantelhaen_test_without_correction(case):
    res = cmh_from_tables(case["tables"], correction=False)
    assert res.statistic == pytest.approx(case["statistic"], rel=1e-9, abs=1e-12)
    assert res.p_value == pytest.approx(case["p_value"], rel=1e-9)
    assert res.details["statistic_corrected"] == pytest.approx(
        case["statistic_corrected"], rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_breslow_day_tarone_matches_the_independent_r_implementation(case):
    bd = cmh_from_tables(case["tables"]).details["breslow_day"]
    ref = case["breslow_day"]
    assert bd["statistic"] == pytest.approx(ref["statistic"], rel=1e-8)
    assert bd["statistic_uncorrected"] == pytest.approx(ref["statistic_uncorrected"], rel=1e-8)
    assert bd["df"] == ref["df"]
    assert bd["p_value"] == pytest.approx(ref["p_value"], rel=1e-8)


def test_breslow_day_is_defined_when_the_pooled_odds_ratio_is_exactly_one():
    # hand computation: with OR = 1 the expected cell is n1 m1 / N = 15 in the first two
    # strata (deviations -5 and +5, variance 1 / (4 / 15) = 3.75) and 0 deviation in the
    # third: BD = 2 * 25 / 3.75 = 13.333..., Tarone term = 0.
    case = next(c for c in CASES if c["name"] == "or_exactly_one")
    res = cmh_from_tables(case["tables"])
    assert res.estimate == 1.0
    assert res.details["breslow_day"]["statistic"] == pytest.approx(2 * 25 / 3.75)


def test_ucb_breslow_day_agrees_with_statsmodels_where_it_is_defined():
    sm = pytest.importorskip("statsmodels.stats.contingency_tables")
    case = CASES[0]
    tables = np.asarray(case["tables"], dtype=float)
    st = sm.StratifiedTable(np.moveaxis(tables, 0, -1))
    eq = st.test_equal_odds(adjust=True)
    bd = cmh_from_tables(tables).details["breslow_day"]
    assert bd["statistic"] == pytest.approx(eq.statistic, rel=1e-6)


def test_stratum_with_a_zero_margin_is_dropped_with_a_warning_and_changes_nothing():
    base = np.asarray(CASES[0]["tables"], dtype=float)
    with_empty = np.concatenate([base, [[[0, 0], [5, 7]]], [[[3, 0], [4, 0]]]])
    a = cmh_from_tables(base)
    b = cmh_from_tables(with_empty)
    assert b.estimate == pytest.approx(a.estimate, rel=1e-12)
    assert b.statistic == pytest.approx(a.statistic, rel=1e-12)
    assert b.details["breslow_day"]["df"] == a.details["breslow_day"]["df"] == 5
    assert any("2 strate(s)" in w for w in b.warnings)
    assert b.details["strata"]["kept"].tolist() == [True] * 6 + [False, False]


def test_cmh_from_a_dataframe_builds_the_same_tables():
    case = CASES[0]
    df = individuals_from_tables(
        case["tables"], compared="femme", reference="homme", names=list("ABCDEF")
    )
    res = cmh(
        df, outcome="issue", group="groupe", strata="strate", reference="homme", compared="femme"
    )
    assert res.groups == ("homme", "femme")
    assert res.estimate == pytest.approx(case["estimate"], rel=1e-9)
    assert res.p_value == pytest.approx(case["p_value_corrected"], rel=1e-9)
    assert res.n == int(np.sum(case["tables"]))


def test_stratum_with_a_single_row_is_dropped_with_a_warning():
    case = CASES[0]
    df = individuals_from_tables(case["tables"], names=list("ABCDEF"))
    df = pd.concat([df, pd.DataFrame({"strate": ["G"], "groupe": ["c"], "issue": [True]})])
    res = cmh(df, outcome="issue", group="groupe", strata="strate", reference="r", compared="c")
    assert res.estimate == pytest.approx(case["estimate"], rel=1e-9)
    assert any("strate(s) sans information" in w and "G" in w for w in res.warnings)


def test_no_informative_stratum_gives_nan_with_a_warning():
    res = cmh_from_tables([[[3, 0], [4, 0]]])
    assert math.isnan(res.estimate) and math.isnan(res.p_value)
    assert any("Aucune strate exploitable" in w for w in res.warnings)


def test_single_stratum_breslow_day_is_nan_with_a_warning():
    res = cmh_from_tables([[[10, 20], [15, 15]]])
    assert math.isnan(res.details["breslow_day"]["statistic"])
    assert any("Breslow" in w for w in res.warnings)
    # one stratum: the MH odds ratio is the sample odds ratio (10 * 15) / (20 * 15)
    assert res.estimate == pytest.approx(0.5)


def test_unbounded_common_odds_ratio_warns():
    res = cmh_from_tables([[[5, 0], [3, 4]], [[6, 0], [2, 2]]])
    assert math.isinf(res.estimate) and math.isnan(res.ci_low)
    assert any("non borné" in w for w in res.warnings)


def test_multilevel_group_returns_a_result_set_and_multiple_strata_columns_cross():
    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(
        {
            "groupe": rng.choice(["francaise", "ue", "hors_ue"], n),
            "s1": rng.choice(["x", "y"], n),
            "s2": rng.choice(["p", "q"], n),
            "issue": rng.random(n) < 0.4,
        }
    )
    res = cmh(df, outcome="issue", group="groupe", strata=["s1", "s2"], reference="francaise")
    assert isinstance(res, ResultSet) and {r.compared for r in res} == {"ue", "hors_ue"}
    assert res[0].details["n_strata"] == 4


def test_bad_tables_shape_and_unknown_strata_column_raise():
    with pytest.raises(ValueError, match="forme"):
        cmh_from_tables(np.ones((3, 2, 3)))
    df = individuals_from_tables(CASES[0]["tables"])
    with pytest.raises(ValueError, match="`strata`"):
        cmh(df, outcome="issue", group="groupe", strata="departement", reference="r")


def test_cmh_size_under_the_null_is_nominal():
    # three strata with different base rates and group shares, no group effect
    rng = np.random.default_rng(99)
    sizes = [(60, 140), (100, 100), (40, 160)]  # (compared, reference) per stratum
    rates = [0.2, 0.45, 0.7]
    n_rep = 1000
    rej = {True: 0, False: 0}
    for _ in range(n_rep):
        tables = []
        for (nc, nr), p in zip(sizes, rates, strict=True):
            xc, xr = rng.binomial(nc, p), rng.binomial(nr, p)
            tables.append([[xc, nc - xc], [xr, nr - xr]])
        res = cmh_from_tables(tables, correction=False)
        rej[False] += res.p_value < 0.05
        rej[True] += res.details["p_value_corrected"] < 0.05
    size, size_c = rej[False] / n_rep, rej[True] / n_rep
    print(
        f"\ncmh: size at alpha=0.05 over {n_rep} replicates = {size:.3f} "
        f"(with continuity correction {size_c:.3f})"
    )
    assert 0.03 <= size <= 0.07
    assert size_c <= size


@pytest.mark.slow
def test_cmh_dataframe_path_size_under_the_null_is_nominal():
    rng = np.random.default_rng(7)
    n_rep, n = 500, 600
    strata = rng.choice(["A", "B", "C"], n)
    base = {"A": 0.2, "B": 0.45, "C": 0.7}
    p = np.vectorize(base.get)(strata)
    group = rng.choice(["francaise", "hors_ue"], n, p=[0.7, 0.3])
    rejected = 0
    for _ in range(n_rep):
        df = pd.DataFrame({"groupe": group, "strate": strata, "issue": rng.random(n) < p})
        res = cmh(
            df,
            outcome="issue",
            group="groupe",
            strata="strate",
            reference="francaise",
            compared="hors_ue",
            correction=False,
        )
        rejected += res.p_value < 0.05
    size = rejected / n_rep
    print(f"\ncmh (from a DataFrame): size at alpha=0.05 over {n_rep} replicates = {size:.3f}")
    assert 0.03 <= size <= 0.07

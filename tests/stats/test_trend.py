"""Linear trend of a proportion across semesters (``stats.trend.trend_test``).

Reference values: ``tests/reference/make_reference_trend.R`` (R ``glm`` binomial,
``confint.default``, ``prop.trend.test``), committed as ``r_reference_trend.json``.
"""

import math

import numpy as np
import pandas as pd
import pytest
from _ref import r_reference
from scipy import stats

from allocation_analysis.stats._result import TestResult
from allocation_analysis.stats.rates import wilson_interval
from allocation_analysis.stats.trend import _separated, cochran_armitage, trend_test

REF = r_reference("r_reference_trend.json")
SERIES = REF["series"]
RTOL = 1e-6


def _counts(case, index=None):
    return pd.DataFrame(
        {
            "index": case["idx"] if index is None else index,
            "events": case["x"],
            "totals": case["n"],
        }
    )


@pytest.mark.parametrize("name", list(SERIES))
def test_slope_odds_ratio_wald_interval_and_p_match_r_glm(name):
    case = SERIES[name]
    res = trend_test(_counts(case))
    assert res.details["slope"] == pytest.approx(case["slope"], rel=RTOL)
    assert res.details["se"] == pytest.approx(case["se"], rel=RTOL)
    assert res.details["z"] == pytest.approx(case["z"], rel=RTOL)
    assert res.details["intercept"] == pytest.approx(case["intercept"], rel=RTOL)
    assert res.p_value == pytest.approx(case["p_value"], rel=RTOL)
    assert res.statistic == pytest.approx(case["z"] ** 2, rel=RTOL)
    assert res.df == 1
    assert res.estimate == pytest.approx(math.exp(case["slope"]), rel=RTOL)
    assert [res.ci_low, res.ci_high] == pytest.approx(np.exp(case["ci95"]), rel=RTOL)
    assert res.details["deviance"] == pytest.approx(case["deviance"], rel=1e-6, abs=1e-9)
    assert res.details["df_residual"] == case["df_residual"]
    assert res.n == sum(case["n"])
    assert res.estimate_name == "odds_ratio_per_period"
    assert res.warnings == ()


@pytest.mark.parametrize("name", list(SERIES))
def test_interval_level_follows_alpha(name):
    case = SERIES[name]
    res = trend_test(_counts(case), alpha=0.10)
    assert [res.ci_low, res.ci_high] == pytest.approx(np.exp(case["ci90"]), rel=RTOL)
    assert res.alpha == 0.10


@pytest.mark.parametrize("name", list(SERIES))
def test_cochran_armitage_matches_r_prop_trend_test(name):
    case = SERIES[name]
    ca = trend_test(_counts(case)).details["cochran_armitage"]
    ref = case["trend_explicit_scores"]
    assert ca["statistic"] == pytest.approx(ref["statistic"], rel=RTOL)
    assert ca["p_value"] == pytest.approx(ref["p_value"], rel=RTOL)
    assert ca["df"] == 1
    assert np.sign(ca["z"]) == np.sign(case["slope"])
    # prop.trend.test's default scores 1, 2, ..., k (differ from idx for the gap)
    k = len(case["x"])
    ca_default = trend_test(_counts(case, index=list(range(1, k + 1)))).details["cochran_armitage"]
    ref = case["trend_default_scores"]
    assert ca_default["statistic"] == pytest.approx(ref["statistic"], rel=RTOL)
    assert ca_default["p_value"] == pytest.approx(ref["p_value"], rel=RTOL)


def test_gap_in_the_index_changes_the_scores():
    case = SERIES["falling_gap"]
    assert case["trend_default_scores"]["statistic"] != pytest.approx(
        case["trend_explicit_scores"]["statistic"], rel=1e-4
    )


def test_zero_total_period_carries_no_information_and_is_reported():
    case = SERIES["zero_total"]
    res = trend_test(_counts(case))
    keep = [i for i, n in enumerate(case["n"]) if n > 0]
    sub = pd.DataFrame(
        {
            "index": [case["idx"][i] for i in keep],
            "events": [case["x"][i] for i in keep],
            "totals": [case["n"][i] for i in keep],
        }
    )
    res_sub = trend_test(sub)
    assert res.estimate == pytest.approx(res_sub.estimate, rel=1e-12)
    assert res.p_value == pytest.approx(res_sub.p_value, rel=1e-12)
    periods = res.details["periods"]
    assert len(periods) == 5 and res.details["n_periods"] == 4
    empty = periods.loc[~periods["used"]]
    assert empty["period_index"].tolist() == [2]
    assert empty[["rate", "ci_low", "ci_high", "fitted"]].isna().all(axis=None)


def test_periods_table_uses_the_wilson_interval_and_fitted_rates():
    case = SERIES["rising"]
    res = trend_test(_counts(case), alpha=0.1)
    periods = res.details["periods"]
    assert list(periods.columns) == [
        "period_index",
        "events",
        "totals",
        "rate",
        "ci_low",
        "ci_high",
        "fitted",
        "used",
    ]
    for row in periods.itertuples():
        assert (row.ci_low, row.ci_high) == wilson_interval(row.events, row.totals, alpha=0.1)
    eta = res.details["intercept"] + res.details["slope"] * periods["period_index"]
    np.testing.assert_allclose(periods["fitted"], 1 / (1 + np.exp(-eta)), rtol=1e-10)
    # fitted events add up to the observed events (score equation of the intercept)
    assert float((periods["fitted"] * periods["totals"]).sum()) == pytest.approx(sum(case["x"]))


def test_invariant_to_row_order_and_to_shifting_the_index():
    case = SERIES["falling_gap"]
    base = trend_test(_counts(case))
    shuffled = _counts(case).sample(frac=1.0, random_state=3)
    shifted = _counts(case, index=[i + 40 for i in case["idx"]])
    for other in (trend_test(shuffled), trend_test(shifted)):
        assert other.estimate == pytest.approx(base.estimate, rel=1e-9)
        assert other.p_value == pytest.approx(base.p_value, rel=1e-9)
        assert [other.ci_low, other.ci_high] == pytest.approx([base.ci_low, base.ci_high])
        assert other.details["cochran_armitage"]["statistic"] == pytest.approx(
            base.details["cochran_armitage"]["statistic"], rel=1e-9
        )
    assert trend_test(shuffled).details["periods"]["period_index"].tolist() == case["idx"]


def test_custom_column_names_and_unpacking():
    case = SERIES["rising"]
    df = _counts(case).rename(
        columns={"index": "semestre", "events": "attributions", "totals": "demandes"}
    )
    res = trend_test(df, events="attributions", totals="demandes", period_index="semestre")
    assert isinstance(res, TestResult)
    stat, p = res
    assert p == pytest.approx(case["p_value"], rel=RTOL)
    assert stat == pytest.approx(case["z"] ** 2, rel=RTOL)


def test_cochran_armitage_is_invariant_to_the_scale_of_the_scores():
    x, n = [5, 9, 12, 20], [50, 60, 55, 70]
    a = cochran_armitage(x, n, [0, 1, 2, 3])
    b = cochran_armitage(x, n, [10, 12, 14, 16])
    assert a["statistic"] == pytest.approx(b["statistic"], rel=1e-12)
    assert a["z"] > 0


# ------------------------------------------------------------------ degenerate data


def _nan_result(res):
    for v in (res.estimate, res.ci_low, res.ci_high, res.statistic, res.p_value):
        assert math.isnan(v)
    assert "non calculable" in res.method


@pytest.mark.parametrize(
    "x, n",
    [
        ([10, 20], [100, 100]),  # two semesters only
        ([10, 0, 20], [100, 0, 100]),  # three rows, one empty semester
        ([5], [50]),
    ],
)
def test_fewer_than_three_periods_with_data_give_nan_and_the_french_warning(x, n):
    res = trend_test(pd.DataFrame({"index": range(len(x)), "events": x, "totals": n}))
    _nan_result(res)
    assert math.isnan(res.details["cochran_armitage"]["p_value"])
    assert len(res.warnings) == 1
    assert "tendance non calculable : moins de trois semestres de données" in (
        res.warnings[0].lower()
    )


def test_empty_frame_gives_nan_not_an_error():
    res = trend_test(pd.DataFrame({"index": [], "events": [], "totals": []}, dtype=float))
    _nan_result(res)
    assert res.n == 0
    assert "moins de trois semestres" in res.warnings[0]


def test_no_event_at_all_gives_nan_with_its_reason():
    res = trend_test(pd.DataFrame({"index": range(4), "events": 0, "totals": [30, 40, 0, 50]}))
    _nan_result(res)
    assert any("aucun événement" in w for w in res.warnings)
    assert math.isnan(res.details["cochran_armitage"]["statistic"])


def test_every_unit_an_event_gives_nan_with_its_reason():
    tot = [30, 40, 25, 50]
    res = trend_test(pd.DataFrame({"index": range(4), "events": tot, "totals": tot}))
    _nan_result(res)
    assert any("tous les individus" in w for w in res.warnings)


def test_separation_leaves_wald_undefined_and_cochran_armitage_as_in_r():
    case = REF["separated"]
    res = trend_test(_counts(case))
    _nan_result(res)
    assert any(w.startswith("Séparation") for w in res.warnings)
    ca = res.details["cochran_armitage"]
    ref = case["trend_explicit_scores"]
    assert ca["statistic"] == pytest.approx(ref["statistic"], rel=RTOL)
    assert ca["p_value"] == pytest.approx(ref["p_value"], rel=RTOL)


@pytest.mark.parametrize(
    "rates, separated",
    [
        ([0, 0, 0.4], True),
        ([0.5, 1, 1], True),
        ([0, 0.3, 1], True),
        ([0, 0, 1, 1], True),
        ([1, 1, 0.2, 0], True),
        ([1, 0.5, 0, 0], True),
        ([0, 0.5, 0], False),
        ([0.2, 0, 1], False),
        ([0, 1, 0.5], False),
        ([0.1, 0.2, 0.3], False),
    ],
)
def test_separation_rule(rates, separated):
    assert _separated(np.asarray(rates, dtype=float)) is separated


def test_zero_rates_without_separation_are_estimated():
    res = trend_test(
        pd.DataFrame({"index": range(4), "events": [0, 3, 0, 5], "totals": [10, 10, 10, 10]})
    )
    assert math.isfinite(res.estimate) and math.isfinite(res.p_value)
    assert res.warnings == ()


def test_rows_with_a_missing_value_are_ignored_with_a_warning():
    case = SERIES["rising"]
    df = _counts(case).astype({"events": "Int64"})
    extra = pd.DataFrame({"index": [7, None], "events": [pd.NA, 10], "totals": [100, 100]})
    df = pd.concat([df, extra.astype({"events": "Int64"})], ignore_index=True)
    res = trend_test(df)
    assert res.p_value == pytest.approx(case["p_value"], rel=RTOL)
    assert len(res.warnings) == 1 and "2 ligne(s) ignorée(s)" in res.warnings[0]


# ------------------------------------------------------------------ argument mistakes


def _frame():
    return pd.DataFrame({"index": [0, 1, 2], "events": [1, 2, 3], "totals": [10, 10, 10]})


def test_missing_column_raises_in_french():
    with pytest.raises(ValueError, match=r"`totals` désigne la colonne 'demandes', absente"):
        trend_test(_frame(), totals="demandes")


def test_not_a_dataframe_raises():
    with pytest.raises(ValueError, match="doit être un pandas.DataFrame"):
        trend_test({"index": [0, 1, 2], "events": [1, 2, 3], "totals": [10, 10, 10]})


def test_negative_counts_raise():
    df = _frame()
    df.loc[1, "events"] = -1
    with pytest.raises(ValueError, match=r"`events`.*positifs ou nuls.*\['1'\]"):
        trend_test(df)
    df = _frame()
    df.loc[2, "totals"] = -5
    with pytest.raises(ValueError, match=r"`totals`.*positifs ou nuls"):
        trend_test(df)


def test_events_above_totals_raise():
    df = _frame()
    df.loc[0, "events"] = 11
    with pytest.raises(ValueError, match=r"ne peut pas dépasser l'effectif"):
        trend_test(df)


def test_non_numeric_columns_raise():
    df = _frame().assign(index=["2023S1", "2023S2", "2024S1"])
    with pytest.raises(ValueError, match=r"`period_index`.*indice numérique"):
        trend_test(df)
    with pytest.raises(ValueError, match=r"`events`.*effectifs"):
        trend_test(_frame().assign(events=[True, False, True]))


def test_infinite_counts_raise():
    with pytest.raises(ValueError, match="valeurs infinies"):
        trend_test(_frame().assign(totals=[10, np.inf, 10]))


def test_repeated_period_index_raises():
    with pytest.raises(ValueError, match=r"distinctes \(une ligne par semestre\)"):
        trend_test(_frame().assign(index=[0, 1, 1]))


@pytest.mark.parametrize("alpha", [0, 1, 1.5, "x"])
def test_bad_alpha_raises(alpha):
    with pytest.raises(ValueError, match="`alpha`"):
        trend_test(_frame(), alpha=alpha)


# ------------------------------------------------------------------ simulation


def test_planted_trend_is_detected():
    rng = np.random.default_rng(20260311)
    totals = np.full(6, 500)
    rates = np.linspace(0.20, 0.30, 6)
    events = rng.binomial(totals, rates)
    res = trend_test(pd.DataFrame({"index": range(6), "events": events, "totals": totals}))
    assert res.p_value < 0.01
    assert res.details["cochran_armitage"]["p_value"] < 0.01
    assert res.ci_low > 1


def test_power_for_the_planted_trend():
    # 0.20 -> 0.30 over 6 semesters of 500 demands: power at 1 % about 0.95
    rng = np.random.default_rng(20260313)
    reps = 200
    totals = np.full(6, 500)
    events = rng.binomial(totals, np.linspace(0.20, 0.30, 6), size=(reps, 6))
    p = np.array(
        [
            trend_test(pd.DataFrame({"index": range(6), "events": e, "totals": totals})).p_value
            for e in events
        ]
    )
    assert (p < 0.01).mean() >= 0.90


def test_wald_interval_coverage_under_a_logit_linear_trend():
    rng = np.random.default_rng(20260314)
    reps, alpha, beta = 1000, 0.05, math.log(1.1)
    totals = np.array([120, 480, 250, 900, 60, 350])
    rates = 1 / (1 + np.exp(-(math.log(0.2 / 0.8) + beta * np.arange(6))))
    events = rng.binomial(totals, rates, size=(reps, totals.size))
    covered = 0
    for e in events:
        res = trend_test(pd.DataFrame({"index": range(6), "events": e, "totals": totals}))
        covered += res.ci_low <= math.exp(beta) <= res.ci_high
    lo, hi = stats.binom.interval(0.99, reps, 1 - alpha)
    assert lo <= covered <= hi


def test_size_under_a_flat_rate_with_unequal_totals():
    rng = np.random.default_rng(20260312)
    reps, level = 2000, 0.05
    totals = np.array([120, 480, 250, 900, 60, 350])
    events = rng.binomial(totals, 0.25, size=(reps, totals.size))
    p_wald = np.empty(reps)
    p_ca = np.empty(reps)
    for r in range(reps):
        res = trend_test(pd.DataFrame({"index": range(6), "events": events[r], "totals": totals}))
        p_wald[r] = res.p_value
        p_ca[r] = res.details["cochran_armitage"]["p_value"]
    lo, hi = stats.binom.interval(0.99, reps, level)
    assert not np.isnan(p_wald).any()
    assert lo <= int((p_wald < level).sum()) <= hi
    assert lo <= int((p_ca < level).sum()) <= hi

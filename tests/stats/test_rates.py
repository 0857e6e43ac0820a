import math

import numpy as np
import pandas as pd
import pytest
from _ref import individuals, r_reference

from allocation_analysis.stats import ResultSet, TestResult
from allocation_analysis.stats.rates import compare_rates, wilson_interval

CASES = r_reference()["rates"]


def _ids(c):
    return f"{c['x_compared']}of{c['n_compared']}-vs-{c['x_reference']}of{c['n_reference']}"


def _run(case, **kw):
    df = individuals(
        case["x_compared"], case["n_compared"], case["x_reference"], case["n_reference"]
    )
    return compare_rates(
        df, outcome="issue", group="groupe", reference="francaise", compared="hors_ue", **kw
    )


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_score_test_matches_r_prop_test_without_and_with_correction(case):
    res = _run(case, method="score")
    assert res.statistic == pytest.approx(case["chisq"], rel=1e-6)
    assert res.p_value == pytest.approx(case["p_value"], rel=1e-6)
    assert res.df == 1
    assert res.details["chisq_corrected"] == pytest.approx(case["chisq_corrected"], rel=1e-6)
    assert res.details["p_value_chisq_corrected"] == pytest.approx(
        case["p_value_corrected"], rel=1e-6
    )


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_fisher_matches_r_fisher_test(case):
    res = _run(case, method="fisher")
    assert res.p_value == pytest.approx(case["fisher_p_value"], rel=1e-6)
    assert "Fisher" in res.method


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_wilson_and_newcombe_intervals_match_r(case):
    res = _run(case)
    rates = res.details["rates"].set_index("group")
    np.testing.assert_allclose(
        rates.loc["hors_ue", ["ci_low", "ci_high"]].to_numpy(float),
        case["wilson_compared"],
        rtol=1e-6,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        rates.loc["francaise", ["ci_low", "ci_high"]].to_numpy(float),
        case["wilson_reference"],
        rtol=1e-6,
        atol=1e-12,
    )
    assert res.estimate == pytest.approx(
        case["x_compared"] / case["n_compared"] - case["x_reference"] / case["n_reference"]
    )
    assert [res.ci_low, res.ci_high] == pytest.approx(case["newcombe"], rel=1e-6)


def test_newcombe_interval_reproduces_the_published_example():
    # Newcombe (1998), Table II, 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    res = compare_rates(
        individuals(56, 70, 48, 80),
        outcome="issue",
        group="groupe",
        reference="francaise",
        compared="hors_ue",
    )
    assert round(res.ci_low, 4) == 0.0524 and round(res.ci_high, 4) == 0.3339


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_auto_uses_fisher_exactly_when_an_expected_cell_is_below_five(case):
    res = _run(case, method="auto")
    assert ("Fisher" in res.method) == (case["min_expected"] < 5)
    expected_p = case["fisher_p_value"] if case["min_expected"] < 5 else case["p_value"]
    assert res.p_value == pytest.approx(expected_p, rel=1e-6)


def test_rates_table_columns_and_rate_ratio_with_log_interval():
    res = compare_rates(
        individuals(30, 100, 20, 100),
        outcome="issue",
        group="groupe",
        reference="francaise",
        compared="hors_ue",
    )
    rates = res.details["rates"]
    assert list(rates.columns) == ["group", "n", "events", "rate", "ci_low", "ci_high"]
    assert rates["n"].tolist() == [100, 100] and rates["events"].tolist() == [20, 30]
    # hand computation: ratio 0.3/0.2 = 1.5, se(log) = sqrt(1/30 - 1/100 + 1/20 - 1/100)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 20 - 1 / 100)
    rr = res.details["rate_ratio"]
    assert rr["estimate"] == pytest.approx(1.5)
    assert rr["ci_low"] == pytest.approx(1.5 * math.exp(-1.959963984540054 * se))
    assert rr["ci_high"] == pytest.approx(1.5 * math.exp(1.959963984540054 * se))
    assert res.estimate_name == "rate_difference" and res.groups == ("francaise", "hors_ue")
    stat, p = res
    assert stat == res.statistic and p == res.p_value


def test_empty_compared_group_gives_nan_with_a_warning():
    df = individuals(0, 0, 10, 50)
    df["groupe"] = pd.Categorical(df["groupe"], categories=["francaise", "hors_ue"])
    res = compare_rates(
        df, outcome="issue", group="groupe", reference="francaise", compared="hors_ue"
    )
    assert math.isnan(res.estimate) and math.isnan(res.p_value)
    assert any("vide" in w for w in res.warnings)


def test_zero_events_in_both_groups_warns_and_auto_falls_back_to_fisher():
    res = compare_rates(
        individuals(0, 40, 0, 60),
        outcome="issue",
        group="groupe",
        reference="francaise",
        compared="hors_ue",
    )
    assert res.estimate == 0.0
    assert "Fisher" in res.method and res.p_value == 1.0
    assert any("Aucun événement" in w for w in res.warnings)
    score = compare_rates(
        individuals(0, 40, 0, 60),
        outcome="issue",
        group="groupe",
        reference="francaise",
        compared="hors_ue",
        method="score",
    )
    assert math.isnan(score.p_value)
    assert any("Aucun événement" in w for w in score.warnings)


def test_small_groups_are_flagged_underpowered_and_large_ones_not():
    small = compare_rates(
        individuals(10, 40, 12, 40),
        outcome="issue",
        group="groupe",
        reference="francaise",
        compared="hors_ue",
    )
    large = compare_rates(
        individuals(900, 3000, 950, 3000),
        outcome="issue",
        group="groupe",
        reference="francaise",
        compared="hors_ue",
    )
    assert any("Puissance insuffisante" in w for w in small.warnings)
    assert not any("Puissance insuffisante" in w for w in large.warnings)


def test_multilevel_group_without_compared_returns_a_result_set():
    df = pd.concat(
        [individuals(10, 50, 20, 60), individuals(5, 30, 0, 0, compared="ue")], ignore_index=True
    )
    res = compare_rates(df, outcome="issue", group="groupe", reference="francaise")
    assert isinstance(res, ResultSet) and len(res) == 2
    assert res.by_group("ue").estimate == pytest.approx(5 / 30 - 20 / 60)
    assert len(res.to_frame()) == 2
    one = compare_rates(df, outcome="issue", group="groupe", reference="francaise", compared="ue")
    assert isinstance(one, TestResult) and one.groups == ("francaise", "ue")


def test_missing_outcome_rows_are_dropped_with_a_warning():
    df = individuals(10, 50, 20, 60)
    df["issue"] = df["issue"].astype("boolean")
    df.loc[0, "issue"] = pd.NA
    res = compare_rates(
        df, outcome="issue", group="groupe", reference="francaise", compared="hors_ue"
    )
    assert res.n == 109
    assert any("ignorée" in w for w in res.warnings)


def test_argument_mistakes_raise_value_error_naming_the_argument():
    df = individuals(10, 50, 20, 60)
    with pytest.raises(ValueError, match="`outcome`.*absente"):
        compare_rates(df, outcome="nope", group="groupe", reference="francaise")
    with pytest.raises(ValueError, match="`reference`.*francaise.*hors_ue"):
        compare_rates(df, outcome="issue", group="groupe", reference="FR")
    with pytest.raises(ValueError, match="`compared`"):
        compare_rates(df, outcome="issue", group="groupe", reference="francaise", compared="ue")
    with pytest.raises(ValueError, match="`method`"):
        compare_rates(df, outcome="issue", group="groupe", reference="francaise", method="wald")


def test_non_binary_outcome_is_rejected():
    df = individuals(10, 50, 20, 60).assign(issue=lambda d: d["issue"].astype(int) * 2)
    with pytest.raises(ValueError, match="binaire"):
        compare_rates(df, outcome="issue", group="groupe", reference="francaise")


def test_score_test_size_under_the_null_is_nominal():
    # independent binomial draws under H0 (same rate in both groups)
    rng = np.random.default_rng(20240501)
    n_rep, n1, n2, p = 1000, 150, 250, 0.3
    group = np.array(["hors_ue"] * n1 + ["francaise"] * n2)
    rejected = 0
    for _ in range(n_rep):
        df = pd.DataFrame({"groupe": group, "issue": rng.random(n1 + n2) < p})
        res = compare_rates(
            df,
            outcome="issue",
            group="groupe",
            reference="francaise",
            compared="hors_ue",
            method="score",
        )
        rejected += res.p_value < 0.05
    size = rejected / n_rep
    print(f"\ncompare_rates score test: size at alpha=0.05 over {n_rep} replicates = {size:.3f}")
    assert 0.03 <= size <= 0.07


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['x_compared']}/{c['n_compared']}")
def test_compare_counts_matches_r_prop_test_and_newcombe(case):
    from allocation_analysis.stats import compare_counts

    got = compare_counts(
        case["x_compared"], case["n_compared"], case["x_reference"], case["n_reference"]
    )
    assert got["difference"] == pytest.approx(
        case["x_compared"] / case["n_compared"] - case["x_reference"] / case["n_reference"]
    )
    assert got["statistic"] == pytest.approx(case["chisq"], rel=1e-9)
    assert got["p_value"] == pytest.approx(case["p_value"], rel=1e-9)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(tuple(case["newcombe"]), rel=1e-9)


def test_wilson_interval_matches_hand_computation():
    # k = 25, n = 500, z = 1.959964, z² = 3.841459:
    # den = 1 + z²/n = 1.00768292
    # centre = (0.05 + z²/(2n)) / den = 0.05384146 / 1.00768292 = 0.0534310
    # half = z * sqrt(0.05 * 0.95 / 500 + z² / (4 * 500²)) / den
    #      = 1.959964 * sqrt(0.000095 + 0.00000384146) / 1.00768292 = 0.0193372
    lo, hi = wilson_interval(25, 500)
    assert lo == pytest.approx(0.0340938, abs=2e-6)
    assert hi == pytest.approx(0.0727682, abs=2e-6)
    assert wilson_interval(0, 10)[0] == 0.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))

import math

import numpy as np
import pandas as pd
import pytest
from _ref import r_reference

from allocation_analysis.stats.multiple import adjust_pvalues

REF = r_reference()["p_adjust"]


@pytest.mark.parametrize("method,key", [("fdr_bh", "fdr_bh"), ("holm", "holm")])
def test_adjust_pvalues_matches_r_p_adjust_with_na(method, key):
    got = adjust_pvalues(np.array(REF["p"]), method=method)
    np.testing.assert_allclose(got, REF[key], rtol=1e-12, equal_nan=True)


def test_nan_stays_nan_and_others_adjusted_over_non_nan_count():
    # hand computation, BH over m = 3 non-missing values: sorted 0.01, 0.03, 0.04
    # 3/1*0.01 = 0.03 ; 3/2*0.03 = 0.045 -> min(0.045, 0.04) = 0.04 ; 3/3*0.04 = 0.04
    got = adjust_pvalues([0.01, None, 0.04, 0.03])
    assert isinstance(got, list)
    assert math.isnan(got[1])
    assert got[0] == pytest.approx(0.03) and got[2] == pytest.approx(0.04)
    assert got[3] == pytest.approx(0.04)


def test_holm_hand_computation():
    # sorted 0.01, 0.03, 0.04 with m = 3: 3*0.01, max(2*0.03, .), max(1*0.04, .)
    got = adjust_pvalues([0.04, 0.01, 0.03], method="holm")
    assert got == pytest.approx([0.06, 0.03, 0.06])


def test_series_keeps_index_and_name():
    s = pd.Series([0.2, np.nan, 0.01], index=["a", "b", "c"], name="p")
    got = adjust_pvalues(s)
    assert isinstance(got, pd.Series)
    assert list(got.index) == ["a", "b", "c"] and got.name == "p"
    assert np.isnan(got["b"])
    assert got["c"] == pytest.approx(0.02) and got["a"] == pytest.approx(0.2)


def test_ndarray_in_ndarray_out():
    got = adjust_pvalues(np.array([0.5, 0.5]))
    assert isinstance(got, np.ndarray)


def test_all_nan_gives_all_nan_and_logs_a_warning(caplog):
    with caplog.at_level("WARNING"):
        got = adjust_pvalues([np.nan, np.nan])
    assert all(math.isnan(v) for v in got)
    assert "manquantes" in caplog.text


def test_adjusted_values_are_capped_at_one():
    assert adjust_pvalues([0.9, 0.8], method="holm") == pytest.approx([1.0, 1.0])


def test_unknown_method_is_rejected_with_allowed_values():
    with pytest.raises(ValueError, match="method.*fdr_bh.*holm"):
        adjust_pvalues([0.1], method="bonferroni")


def test_p_value_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match="entre 0 et 1"):
        adjust_pvalues([0.1, 1.5])


# --------------------------------------------------------------------------- FCR-adjusted intervals
def test_fcr_adjusted_level_hand_computation():
    from allocation_analysis.stats.multiple import fcr_adjusted_level

    # m = 4 non-missing; sorted 0.001, 0.01, 0.03, 0.2 against i * 0.05 / 4 =
    # 0.0125, 0.025, 0.0375, 0.05: the step-up rule selects R = 3
    # (BH adjusted 0.004, 0.02, 0.04, 0.2) -> level 1 - 3 * 0.05 / 4 = 0.9625
    assert fcr_adjusted_level([0.03, 0.001, None, 0.2, 0.01]) == pytest.approx(0.9625)
    # no selection: the Bonferroni level 1 - 0.05 / 3
    assert fcr_adjusted_level(pd.Series([0.5, 0.2, 0.9])) == pytest.approx(1 - 0.05 / 3)
    # alpha = 0.10: 0.001, 0.01, 0.03 all below i * 0.1 / 4, 0.2 below 0.1? no -> R = 3
    assert fcr_adjusted_level([0.001, 0.01, 0.03, 0.2], alpha=0.10) == pytest.approx(1 - 0.075)
    assert math.isnan(fcr_adjusted_level([float("nan")]))


def test_wald_interval_at_level_equals_the_interval_built_at_that_level():
    from scipy.stats import norm

    from allocation_analysis.stats.multiple import wald_interval_at_level

    b, se = math.log(0.72), 0.11
    z95, z99 = norm.ppf(0.975), norm.ppf(0.995)
    lo95, hi95 = math.exp(b - z95 * se), math.exp(b + z95 * se)
    lo, hi = wald_interval_at_level(0.72, lo95, hi95, alpha=0.05, level=0.99, log_scale=True)
    assert lo == pytest.approx(math.exp(b - z99 * se), rel=1e-12)
    assert hi == pytest.approx(math.exp(b + z99 * se), rel=1e-12)
    # linear scale (a difference of rates), from a 90 % interval to a 95 % one
    z90 = norm.ppf(0.95)
    lo, hi = wald_interval_at_level(
        -0.05, -0.05 - z90 * 0.02, -0.05 + z90 * 0.02, alpha=0.10, level=0.95, log_scale=False
    )
    assert (lo, hi) == pytest.approx((-0.05 - z95 * 0.02, -0.05 + z95 * 0.02), rel=1e-12)
    # not a Wald interval (asymmetric) or missing: no interval rather than a wrong one
    assert all(
        math.isnan(v)
        for v in wald_interval_at_level(0.5, 0.1, 0.6, alpha=0.05, level=0.99, log_scale=False)
    )
    assert all(
        math.isnan(v)
        for v in wald_interval_at_level(
            float("nan"), 0.1, 0.6, alpha=0.05, level=0.99, log_scale=True
        )
    )


def test_wald_interval_at_level_uses_the_t_quantiles_of_a_few_clusters_test():
    # a log-OR of 0.4 with se 0.2 and a t(11) reference (12 clusters)
    from scipy import stats as sps

    from allocation_analysis.stats.multiple import wald_interval_at_level

    b, se, df = 0.4, 0.2, 11
    q95, q99 = sps.t.ppf(0.975, df), sps.t.ppf(0.995, df)
    lo, hi = math.exp(b - q95 * se), math.exp(b + q95 * se)
    got = wald_interval_at_level(math.exp(b), lo, hi, alpha=0.05, level=0.99, log_scale=True, df=df)
    assert got == pytest.approx((math.exp(b - q99 * se), math.exp(b + q99 * se)), rel=1e-12)

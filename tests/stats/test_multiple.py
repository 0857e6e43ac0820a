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

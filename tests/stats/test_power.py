import math

import pytest
from _ref import r_reference
from scipy import stats

from allocation_analysis.stats.power import (
    minimum_detectable_effect,
    power_two_proportions,
    underpowered_warning,
)

REF = r_reference()


@pytest.mark.parametrize("case", REF["power"], ids=lambda c: f"n{c['n']}-{c['p1']}-{c['p2']}")
def test_power_matches_r_power_prop_test(case):
    got = power_two_proportions(case["n"], case["n"], case["p1"], case["p2"], alpha=case["alpha"])
    assert got == pytest.approx(case["power"], rel=1e-10)


@pytest.mark.parametrize("case", REF["mde"], ids=lambda c: f"n{c['n']}-{c['p1']}")
def test_mde_increase_matches_p2_solved_by_r_power_prop_test(case):
    res = minimum_detectable_effect(
        case["n"], case["n"], case["p1"], alpha=case["alpha"], power=case["power"]
    )
    assert res.details["mde_increase"] == pytest.approx(case["p2"] - case["p1"], rel=1e-8)
    assert res.estimate >= res.details["mde_increase"]


def test_unequal_sizes_follow_the_documented_formula():
    # hand computation: n1 = 300 (p1 = 0.2), n2 = 100 (p2 = 0.3), alpha = 0.05
    n1, n2, p1, p2 = 300, 100, 0.2, 0.3
    pbar = (300 * 0.2 + 100 * 0.3) / 400  # 0.225
    sd0 = math.sqrt(pbar * (1 - pbar) * (1 / 300 + 1 / 100))
    sd1 = math.sqrt(0.2 * 0.8 / 300 + 0.3 * 0.7 / 100)
    expected = stats.norm.cdf((0.1 - 1.959963984540054 * sd0) / sd1)
    assert power_two_proportions(n1, n2, p1, p2) == pytest.approx(expected, rel=1e-9)


def test_power_at_the_mde_equals_target_power():
    res = minimum_detectable_effect(400, 150, 0.35, power=0.9)
    up, down = res.details["mde_increase"], res.details["mde_decrease"]
    assert power_two_proportions(400, 150, 0.35, 0.35 + up) == pytest.approx(0.9, abs=1e-9)
    assert power_two_proportions(400, 150, 0.35, 0.35 - down) == pytest.approx(0.9, abs=1e-9)
    assert res.estimate == max(up, down)


def test_mde_with_an_empty_group_is_nan_with_a_warning():
    res = minimum_detectable_effect(100, 0, 0.3)
    assert math.isnan(res.estimate)
    assert any("vide" in w for w in res.warnings)


def test_mde_at_rate_zero_is_one_sided_with_a_warning():
    res = minimum_detectable_effect(100, 100, 0.0)
    assert math.isnan(res.details["mde_decrease"]) and res.estimate > 0
    assert any("un seul sens" in w for w in res.warnings)


def test_underpowered_flag_depends_on_the_ten_point_bound():
    assert underpowered_warning(50, 50, 0.3) is not None  # MDE about 27 points
    assert underpowered_warning(2000, 2000, 0.3) is None  # MDE about 4 points
    assert "Puissance insuffisante" in underpowered_warning(50, 50, 0.3)


def test_invalid_power_is_rejected():
    with pytest.raises(ValueError, match="power"):
        minimum_detectable_effect(100, 100, 0.3, power=1.2)


def test_power_messages_are_french_with_french_numbers():
    # « puissance de 80% (underpowered: minimum detectable effect above 10 percentage
    # points) » mixed English into a French sentence and wrote 80% without its space.
    text = underpowered_warning(50, 50, 0.3)
    assert text.endswith("serait détecté avec une puissance de 80\u202f%.")
    assert "underpowered" not in text and "percentage" not in text
    res = minimum_detectable_effect(50, 50, 0.3)
    assert "puissance = 80\u202f%" in res.method and "alpha = 0,05" in res.method
    none = minimum_detectable_effect(0, 50, 0.3)
    assert all("(" not in w or "minimum" not in w for w in none.warnings)

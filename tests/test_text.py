"""French number formatting shared by the report, the maps and the figures."""

from __future__ import annotations

import math

from allocation_analysis.text import MISSING, fmt_int, fmt_p, fmt_pct, fmt_points

NNBSP = "\u202f"


def test_percentages_and_counts_use_the_narrow_no_break_space():
    assert fmt_pct(0.248) == f"24,8{NNBSP}%"
    assert fmt_pct(0.25, digits=0) == f"25{NNBSP}%"
    assert fmt_int(1234) == f"1{NNBSP}234"


def test_points_are_signed_only_when_the_rounded_value_is_not_zero():
    assert fmt_points(-0.032) == "\u22123,2 points"
    assert fmt_points(0.05) == "+5,0 points"
    assert fmt_points(-0.0001) == "0,0 points"
    assert fmt_points(0.0001) == "0,0 points"
    assert fmt_points(0.1234, digits=0) == "+12 points"
    assert fmt_points(math.nan) == MISSING


def test_p_value_without_prefix_for_a_labelled_cell():
    assert fmt_p(0.0321) == "p = 0,032"
    assert fmt_p(0.0321, prefix=False) == "0,032"
    assert fmt_p(0.00004) == "p < 0,001"
    assert fmt_p(0.00004, prefix=False) == "< 0,001"
    assert fmt_p(None, prefix=False) == MISSING

"""Saying whether the objective is met where the secret masks the share.

A masked numerator with a published denominator may carry its status (objective
met or not): the reader learns that the count is below, or at or above,
``target × denominator``. Several such intervals, tied by the relations between
the rows, can pin a count. The attacker below is written from the meaning of the
indicators (:func:`test_privacy_disclosure.attack_system`), adds what a reader
knows of bounds (a masked count is at least 1, zeros being always published) and
of the released statuses, and solves the integer program for each secret cell.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from test_disclosure_property import _frame, lease
from test_privacy_disclosure import attack_system

from allocation_analysis.indicators import SHORTFALL_BANDS, compute_indicators
from allocation_analysis.privacy import protect_indicators, release_masked_statuses

T = 11
_BANDS = {
    "non_atteint_nettement": (0.10, None),  # more than 10 points below the target
    "non_atteint_en_dessous": (0.05, 0.10),
    "non_atteint_legerement": (0.0, 0.05),
}
"""What the synthesis page's words say of a masked share: its shortfall interval."""


def interval_attack(original: pd.DataFrame, published: pd.DataFrame) -> list[tuple]:
    """Secret cells (true value in [1, T-1]) that the published table fixes to one value."""
    var, truth, equations = attack_system(original, published)
    if not var:
        return []
    n = len(var)
    lb = np.zeros(n)
    # above every count (twice the largest): keeps the program bounded
    ub = np.full(n, 2.0 * max(truth.values()) + 10.0)
    for name, vid in var.items():
        if name[0] == "row":  # a masked count: zeros are always published
            lb[vid] = 1
    p = published.reset_index(drop=True)
    for i, r in p.iterrows():
        if not (pd.isna(r["numerator"]) and pd.notna(r["denominator"])):
            continue
        bound = math.ceil(round(float(r["target"]) * float(r["denominator"]), 9))
        vid = var[("row", i, "numerator")]
        t, d = float(r["target"]), float(r["denominator"])
        if r["status"] == "atteint":  # share >= target
            lb[vid] = max(lb[vid], bound)
        elif r["status"] == "non_atteint":  # share < target
            ub[vid] = min(ub[vid], bound - 1)
        elif r["status"] in _BANDS:  # target - share in (more, at_most]
            more, at_most = _BANDS[r["status"]]
            ub[vid] = min(ub[vid], math.ceil(round((t - more) * d, 9)) - 1)
            if at_most is not None:
                lb[vid] = max(lb[vid], math.ceil(round((t - at_most) * d, 9)))
    A = np.zeros((len(equations), n))
    b = np.zeros(len(equations))
    for k, (terms, const) in enumerate(equations):
        for vid, coef in terms:
            A[k, vid] += coef
        b[k] = -const
    cons = LinearConstraint(A, b, b)

    def feasible(vid: int, low: float, high: float) -> bool:
        """Is there an integer point of the reader's set with the cell in [low, high]?"""
        if low > high:
            return False
        lo, hi = lb.copy(), ub.copy()
        lo[vid], hi[vid] = max(lo[vid], low), min(hi[vid], high)
        if lo[vid] > hi[vid]:
            return False
        res = milp(np.zeros(n), constraints=cons, integrality=np.ones(n), bounds=Bounds(lo, hi))
        return res.x is not None

    pinned = []
    for name, vid in var.items():
        v = truth[name]
        if 1 <= v <= T - 1:
            assert feasible(vid, v, v), "the true counts must be feasible"
            if not (feasible(vid, -np.inf, v - 1) or feasible(vid, v + 1, np.inf)):
                pinned.append(name)
    return pinned


def _leases(n_a: int, q1_a: int, n_b: int, q1_b: int) -> pd.DataFrame:
    """Leases of 2025-S2 outside QPV in two communes (A: 59001, B: 59002)."""
    rows = []
    for commune, n, q1 in (("59001", n_a, q1_a), ("59002", n_b, q1_b)):
        for k in range(n):
            rows.append(
                {
                    "day": 400 + k % 100,
                    "commune": commune,
                    "bailleur": "111111111",
                    "reservataire": "etat",
                    "qpv": False,
                    "q1": k < q1,
                    "anru": False,
                    "prio": False,
                    "mutation": False,
                }
            )
    return _frame(rows)


def _naive_statuses(raw: pd.DataFrame, pub: pd.DataFrame) -> pd.DataFrame:
    """Every masked share with a published denominator says whether the target is met."""
    out = pub.copy()
    masked = pub["numerator"].isna() & (pub["denominator"] >= T).fillna(False)
    met = raw["numerator"] >= raw["target"] * raw["denominator"]
    out["status"] = out["status"].astype("string")
    out.loc[masked & met, "status"] = "atteint"
    out.loc[masked & ~met, "status"] = "non_atteint"
    return out


def _q1_commune_status(frame: pd.DataFrame, commune: str) -> str:
    row = frame[
        (frame["id"] == "q1_hors_qpv")
        & (frame["scope"] == "commune")
        & (frame["scope_value"] == commune)
        & (frame["window"] == "semester")
    ]
    return str(row["status"].iloc[0])


def test_two_met_statuses_that_would_pin_a_count_are_not_both_released():
    # Territory 20 Q1 of 80. A: 3 of 12 (25 %: met, so A >= 3); B: 17 of 68 (25 %:
    # met, so B >= 17); A + B = 20, hence A <= 3: both statuses together give A = 3.
    raw = compute_indicators(_leases(12, 3, 68, 17), period="2025-S2")
    pub = protect_indicators(raw, threshold=T)
    a_row = (
        (pub["id"] == "q1_hors_qpv")
        & (pub["scope"] == "commune")
        & (pub["scope_value"] == "59001")
        & (pub["window"] == "semester")
    )
    assert pub.loc[a_row, "numerator"].isna().all() and pub.loc[a_row, "denominator"].notna().all()
    # The attacker is strong enough: with both statuses, A's count is found.
    naive = _naive_statuses(raw, pub)
    assert ("row", int(np.flatnonzero(a_row.to_numpy())[0]), "numerator") in interval_attack(
        raw, naive
    )

    released = release_masked_statuses(raw, pub, threshold=T)
    out = pub.copy()
    out["status"] = out["status"].astype("string").where(released.isna(), released)
    assert interval_attack(raw, out) == []
    statuses = {_q1_commune_status(out, c) for c in ("59001", "59002")}
    # One of the two is said (the audit withholds one status, not every status).
    assert statuses == {"atteint", "non_diffuse"}


def test_a_band_that_pins_the_count_becomes_a_plain_status():
    # 4 of 20 (20 %): « légèrement en dessous » means 20 % to 25 %, i.e. exactly 4.
    raw = compute_indicators(_leases(20, 4, 0, 0), period="2025-S2")
    pub = protect_indicators(raw, threshold=T)
    territory = (raw["scope"] == "territory").to_numpy()
    out = pub.copy()
    out["status"] = out["status"].astype("string")
    q1_sem = (out["id"] == "q1_hors_qpv") & territory & (out["window"] == "semester")
    out.loc[q1_sem, "status"] = "non_atteint_legerement"
    assert interval_attack(raw, out)  # said as is, the band gives the count
    released = release_masked_statuses(
        raw, pub, threshold=T, bands=SHORTFALL_BANDS, banded=territory
    )
    assert released[q1_sem].tolist() == ["non_atteint"]
    out = pub.copy()
    out["status"] = out["status"].astype("string").where(released.isna(), released)
    assert interval_attack(raw, out) == []


def test_a_lone_masked_share_says_the_objective_is_not_met():
    # 2 of 57 outside QPV are Q1 in A: far below 25 %; B is large and published.
    raw = compute_indicators(_leases(57, 2, 200, 60), period="2025-S2")
    pub = protect_indicators(raw, threshold=T)
    released = release_masked_statuses(raw, pub, threshold=T)
    out = pub.copy()
    out["status"] = out["status"].astype("string").where(released.isna(), released)
    assert _q1_commune_status(out, "59001") == "non_atteint"
    assert interval_attack(raw, out) == []


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lease, min_size=60, max_size=150))
def test_released_statuses_never_pin_a_small_count(rows):
    raw = compute_indicators(_frame(rows), period="2025-S2")
    pub = protect_indicators(raw, threshold=T)
    released = release_masked_statuses(
        raw,
        pub,
        threshold=T,
        bands=SHORTFALL_BANDS,
        banded=(raw["scope"] == "territory").to_numpy(),
    )
    out = pub.copy()
    out["status"] = out["status"].astype("string").where(released.isna(), released)
    # Only rows with a masked numerator and a published denominator get one.
    said = released.notna()
    assert (pub.loc[said, "numerator"].isna() & pub.loc[said, "denominator"].notna()).all()
    # What is said is true.
    met = raw["numerator"] >= raw["target"] * raw["denominator"]
    assert (released[said & met] == "atteint").all()
    assert released[said & ~met].isin(["non_atteint", *_BANDS]).all()
    short = raw["target"] - raw["numerator"] / raw["denominator"]
    for code, (more, at_most) in _BANDS.items():
        band = said & (released == code)
        assert (short[band] > more).all() and (at_most is None or (short[band] <= at_most).all())
    assert interval_attack(raw, out) == []

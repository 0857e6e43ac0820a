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

from allocation_analysis.indicators import compute_indicators
from allocation_analysis.privacy import protect_indicators, release_masked_statuses

T = 11


def interval_attack(original: pd.DataFrame, published: pd.DataFrame) -> list[tuple]:
    """Secret cells (true value in [1, T-1]) that the published table fixes to one value."""
    var, truth, equations = attack_system(original, published)
    if not var:
        return []
    n = len(var)
    lb = np.zeros(n)
    ub = np.full(n, 1e8)  # far above any count: keeps the program bounded
    for name, vid in var.items():
        if name[0] == "row":  # a masked count: zeros are always published
            lb[vid] = 1
    p = published.reset_index(drop=True)
    for i, r in p.iterrows():
        if not (pd.isna(r["numerator"]) and pd.notna(r["denominator"])):
            continue
        bound = math.ceil(round(float(r["target"]) * float(r["denominator"]), 9))
        vid = var[("row", i, "numerator")]
        if r["status"] == "atteint":  # share >= target
            lb[vid] = max(lb[vid], bound)
        elif r["status"] == "non_atteint":  # share < target
            ub[vid] = min(ub[vid], bound - 1)
    A = np.zeros((len(equations), n))
    b = np.zeros(len(equations))
    for k, (terms, const) in enumerate(equations):
        for vid, coef in terms:
            A[k, vid] += coef
        b[k] = -const
    cons = LinearConstraint(A, b, b)

    def extreme(vid: int, sign: float) -> float:
        c = np.zeros(n)
        c[vid] = sign
        res = milp(c, constraints=cons, integrality=np.ones(n), bounds=Bounds(lb, ub))
        assert res.x is not None, "the true counts must be feasible"
        return float(res.x[vid])

    pinned = []
    for name, vid in var.items():
        # the largest value minus the smallest: 0 when the cell can take one value only
        if 1 <= truth[name] <= T - 1 and extreme(vid, -1.0) - extreme(vid, 1.0) < 0.5:
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
    released = release_masked_statuses(raw, pub, threshold=T)
    out = pub.copy()
    out["status"] = out["status"].astype("string").where(released.isna(), released)
    # Only rows with a masked numerator and a published denominator get one.
    said = released.notna()
    assert (pub.loc[said, "numerator"].isna() & pub.loc[said, "denominator"].notna()).all()
    # What is said is true.
    met = raw["numerator"] >= raw["target"] * raw["denominator"]
    assert (released[said & met] == "atteint").all()
    assert (released[said & ~met] == "non_atteint").all()
    assert interval_attack(raw, out) == []

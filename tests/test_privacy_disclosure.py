"""Disclosure control: primary and secondary suppression, and a differencing attack."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocation_analysis.errors import AnalysisError
from allocation_analysis.indicators import RESERVATAIRES, compute_indicators, trend_table
from allocation_analysis.privacy import (
    apply_disclosure_control,
    check_no_small_counts,
    protect_breakdown,
    protect_indicators,
    secondary_suppression,
    small_counts,
)

T = 11  # default threshold: counts 1..10 are secret


def hidden(out, label, col):
    return pd.isna(out.loc[label, col])


# --------------------------------------------------------------------------- generic rules


def test_primary_suppression_hides_counts_1_to_10_only():
    t = pd.DataFrame({"n": [5, 0, 12, 10, 11, 1]}, index=list("abcdef"))
    out = apply_disclosure_control(t, count_columns=["n"])
    assert out["n"].isna().tolist() == [True, False, False, True, False, True]
    assert out["suppressed"].tolist() == [True, False, False, True, False, True]
    assert out.loc["b", "n"] == 0 and out.loc["e", "n"] == 11


def test_single_suppressed_part_drags_the_next_smallest():
    # T = A + B + C = 3 + 40 + 57: A alone hidden would be T - B - C.
    t = pd.DataFrame({"n": [100, 3, 40, 57]}, index=["T", "A", "B", "C"])
    out = apply_disclosure_control(t, count_columns=["n"], groups=[("T", ["A", "B", "C"])])
    assert hidden(out, "A", "n") and hidden(out, "B", "n")
    assert out.loc["C", "n"] == 57 and out.loc["T", "n"] == 100


def test_two_suppressed_parts_need_nothing_more():
    t = pd.DataFrame({"n": [100, 3, 4, 93]}, index=["T", "A", "B", "C"])
    out = apply_disclosure_control(t, count_columns=["n"], groups=[("T", ["A", "B", "C"])])
    assert out["n"].isna().tolist() == [False, True, True, False]
    assert out.attrs["disclosure"] == {"threshold": 11, "primary": 2, "secondary": 0}


def test_two_masked_parts_of_a_small_difference_are_not_pinned_by_their_bounds():
    # T = A + B + C = 13 = 11 + 1 + 1: A, T published would leave B + C = 2, and a
    # masked count is at least 1 (zeros are published), so B = C = 1. Found in the
    # 12-month Action Logement leases of two communes with one lease each.
    t = pd.DataFrame({"n": [13, 11, 1, 1]}, index=["T", "A", "B", "C"])
    out = apply_disclosure_control(t, count_columns=["n"], groups=[("T", ["A", "B", "C"])])
    assert hidden(out, "B", "n") and hidden(out, "C", "n")
    assert hidden(out, "A", "n") or hidden(out, "T", "n")
    # The same with 4 + 5 masked out of 9 = 20 - 11: B + C = 9 leaves B in [1, 8].
    t = pd.DataFrame({"n": [20, 11, 4, 5]}, index=["T", "A", "B", "C"])
    out = apply_disclosure_control(t, count_columns=["n"], groups=[("T", ["A", "B", "C"])])
    assert out["n"].isna().tolist() == [False, False, True, True]


def test_zero_cells_are_published_and_never_used_as_cover():
    # T = 0 + 5 + 7 + 30: 5 and 7 are both secret, 0 stays published.
    t = pd.DataFrame({"n": [42, 0, 5, 7, 30]}, index=["T", "Z", "A", "B", "C"])
    out = apply_disclosure_control(t, count_columns=["n"], groups=[("T", ["Z", "A", "B", "C"])])
    assert out["n"].isna().tolist() == [False, False, True, True, False]


def test_small_complement_hides_the_numerator_and_the_share():
    # 95 of 100: the 5 households outside the numerator would be disclosed.
    t = pd.DataFrame({"num": [95, 40], "den": [100, 100], "share": [0.95, 0.40]}, index=["x", "y"])
    out = apply_disclosure_control(
        t, count_columns=["num", "den"], share_columns=["share"], denominator_column="den"
    )
    assert hidden(out, "x", "num") and np.isnan(out.loc["x", "share"])
    assert out.loc["x", "den"] == 100
    assert out.loc["y", "num"] == 40 and out.loc["y", "share"] == 0.40
    assert out["suppressed"].tolist() == [True, False]


def test_share_hidden_on_small_denominator_even_with_zero_numerator():
    t = pd.DataFrame({"num": [0], "den": [7], "share": [0.0]})
    out = apply_disclosure_control(
        t, count_columns=["num", "den"], share_columns=["share"], denominator_column="den"
    )
    assert pd.isna(out.loc[0, "den"]) and np.isnan(out.loc[0, "share"])
    assert out.loc[0, "num"] == 0  # a zero is not secret; den - 0 is hidden with den


def test_rolling_minus_semester_does_not_reveal_the_previous_semester():
    # rolling 24/55 = semester 20/50 + previous semester 4/5 (not in the table).
    t = pd.DataFrame({"num": [20, 24], "den": [50, 55]}, index=["S", "R"])
    out = apply_disclosure_control(
        t, count_columns=["num", "den"], denominator_column="den", groups=[("R", ["S"])]
    )
    published = out.dropna()
    # Whatever is published, R - S must not be computable for num or den.
    assert hidden(out, "S", "num") or hidden(out, "R", "num")
    assert hidden(out, "S", "den") or hidden(out, "R", "den")
    # The cheapest cover is the smaller row, the semester.
    assert hidden(out, "S", "num") and hidden(out, "S", "den")
    assert out.loc["R", "num"] == 24 and out.loc["R", "den"] == 55
    assert len(published) == 1


def test_relation_restricted_to_some_columns():
    # Only the denominators add up: T.den = A.den + B.den.
    t = pd.DataFrame({"num": [50, 30, 20], "den": [100, 95, 5]}, index=["T", "A", "B"])
    out = apply_disclosure_control(
        t,
        count_columns=["num", "den"],
        denominator_column="den",
        groups=[("T", ["A", "B"], ["den"])],
    )
    assert hidden(out, "B", "den")
    assert hidden(out, "A", "den") or hidden(out, "T", "den")


def test_check_no_small_counts_guards_publication():
    ok = pd.DataFrame({"n": [0, 11, 250, np.nan], "share": [0.0, 1.0, 0.5, np.nan]})
    check_no_small_counts(ok[["n"]], threshold=11)
    check_no_small_counts(ok, threshold=11, columns=["n"])
    with pytest.raises(AnalysisError, match="secret statistique|Secret statistique"):
        check_no_small_counts(pd.DataFrame({"n": [12, 10]}), threshold=11)
    with pytest.raises(AnalysisError, match="n \\(1\\)"):
        check_no_small_counts(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}), threshold=11)


def test_small_counts_are_1_to_threshold_minus_1_and_zero_only_for_a_base():
    values = pd.Series([0, 1, 10, 11, None], dtype="Int64")
    assert small_counts(values, threshold=11).tolist() == [False, True, True, False, False]
    assert small_counts(values, threshold=11, zero=True).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert small_counts(np.array([[5.0, 30.0]]), threshold=6).tolist() == [[True, False]]


def test_secondary_suppression_hides_the_smallest_positive_other_cell_or_reports_none():
    hide = np.array([False, True, False, False])
    assert secondary_suppression(np.array([0.0, 4.0, 30.0, 12.0]), hide)
    assert hide.tolist() == [False, True, False, True]  # 12, not the 0
    lonely = np.array([True, False])
    assert not secondary_suppression(np.array([4.0, 0.0]), lonely)
    assert lonely.tolist() == [True, False]


def test_breakdown_with_one_small_count_hides_the_next_smallest_in_that_column():
    t = pd.DataFrame({"a": [3, 40, 25, 0], "b": [30, 40, 25, 12]})
    out = protect_breakdown(t, ["a", "b"], threshold=T)
    assert out["a"].isna().tolist() == [True, False, True, False]
    assert out["b"].isna().tolist() == [False, False, False, False]
    assert out.loc[1, "a"] == 40


# --------------------------------------------------------------------------- attack on indicators


def random_leases(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    communes = np.array(["59001", "59002", "59003", "59004", "59005"])
    dates = pd.Timestamp("2024-07-01") + pd.to_timedelta(rng.integers(0, 549, n), unit="D")
    return pd.DataFrame(
        {
            "date_bail": dates,
            "commune_logement": pd.array(
                rng.choice(communes, n, p=[0.55, 0.25, 0.1, 0.06, 0.04]), dtype="string"
            ),
            "bailleur_siren": pd.array(
                rng.choice(["111111111", "222222222", "333333333"], n, p=[0.6, 0.3, 0.1]),
                dtype="string",
            ),
            "reservataire": pd.array(
                rng.choice(list(RESERVATAIRES), n, p=[0.25, 0.3, 0.2, 0.2, 0.05]), dtype="string"
            ),
            "logement_en_qpv": rng.random(n) < 0.3,
            "q1": rng.random(n) < 0.22,
            "relogement_anru": rng.random(n) < 0.03,
            "prioritaire_ou_dalo": rng.random(n) < 0.3,
            "mutation": rng.random(n) < 0.3,
        }
    )


def attack_system(
    original: pd.DataFrame, published: pd.DataFrame
) -> tuple[dict[tuple, int], dict[tuple, float], list[tuple[list[tuple[int, float]], float]]]:
    """The reader's unknowns and equations, written from the meaning of the indicators.

    Returns the unknown cells (name → variable index), their true values and the
    equations ``(terms, constant)`` meaning ``sum(coef * var) + constant = 0``
    (see :func:`attack`).
    """
    o = original.reset_index(drop=True)
    p = published.reset_index(drop=True)
    key = {
        (r.id, r.scope, "" if pd.isna(r.scope_value) else r.scope_value, r.window, r.period): i
        for i, r in enumerate(o.itertuples())
    }
    var: dict[tuple, int] = {}
    truth: dict[tuple, float] = {}

    def cell(name: tuple, value: float, known: bool):
        if known:
            return None, value
        if name not in var:
            var[name] = len(var)
            truth[name] = value
        return var[name], 0.0

    true_count = {c: o[c].to_numpy(dtype=float) for c in ("numerator", "denominator")}
    shown = {c: p[c].notna().to_numpy() for c in ("numerator", "denominator")}

    def count(i: int, col: str):
        return cell(("row", i, col), true_count[col][i], bool(shown[col][i]))

    equations = []  # (list of (var, coef), constant) meaning sum(coef*var) + constant = 0

    def add(terms):
        lin, const = [], 0.0
        for (vid, val), coef in terms:
            if vid is None:
                const += coef * val
            else:
                lin.append((vid, coef))
        equations.append((lin, const))

    for i in range(len(o)):
        comp = true_count["denominator"][i] - true_count["numerator"][i]
        add(
            [
                (count(i, "numerator"), 1),
                (cell(("comp", i), comp, False), 1),
                (count(i, "denominator"), -1),
            ]
        )
    for (id_, win, per), sub in o.groupby(["id", "window", "period"]):
        t = key[(id_, "territory", "", win, per)]
        for _scope, part in sub[sub["scope"] != "territory"].groupby("scope"):
            for col in ("numerator", "denominator"):
                add([(count(t, col), 1)] + [(count(j, col), -1) for j in part.index])
    for i, r in o.iterrows():
        if r["window"] != "rolling_12m":
            continue
        sv = "" if pd.isna(r["scope_value"]) else r["scope_value"]
        s = key[(r["id"], r["scope"], sv, "semester", r["period"])]
        for col in ("numerator", "denominator"):
            prev = true_count[col][i] - true_count[col][s]
            secret = prev != 0
            add(
                [
                    (count(i, col), 1),
                    (count(s, col), -1),
                    (cell(("prev", i, col), prev, not secret), -1),
                ]
            )
    for (win, per), _ in o.groupby(["window", "period"]):
        for res in ("action_logement", "collectivite", "bailleur"):
            t = key[(f"prioritaires_{res}", "territory", "", win, per)]
            a = key[("q1_hors_qpv", "reservataire", res, win, per)]
            b = key[("non_q1_en_qpv", "reservataire", res, win, per)]
            add(
                [
                    (count(t, "denominator"), 1),
                    (count(a, "denominator"), -1),
                    (count(b, "denominator"), -1),
                ]
            )

    return var, truth, equations


def attack(original: pd.DataFrame, published: pd.DataFrame, threshold: int = T) -> list[str]:
    """Linear differencing attack written from the meaning of the indicators.

    The attacker knows every published count, that breakdowns are exhaustive,
    that numerator + complement = denominator, that the leases of a reservataire
    are those outside plus inside QPV, and the previous semester's counts that
    are 0 (the previous report's own suppression pattern is not modelled; the
    trend-table test covers semesters published together). Returns the secret
    cells (true value in [1, threshold-1]) that the published numbers fix.
    """
    var, truth, equations = attack_system(original, published)
    if not var:
        return []
    A = np.zeros((len(equations), len(var)))
    for r, (lin, _) in enumerate(equations):
        for vid, coef in lin:
            A[r, vid] += coef
    # Orthonormal basis of the row space: x_j is fixed by the equations iff the
    # unit vector e_j lies in it, i.e. its projection keeps norm 1.
    _, sv, vt = np.linalg.svd(A, full_matrices=False)
    basis = vt[sv > 1e-9 * max(1.0, sv.max(initial=0.0))]
    proj = (basis**2).sum(axis=0)
    leaked = []
    for name, vid in var.items():
        if 1 <= truth[name] <= threshold - 1 and proj[vid] > 1 - 1e-8:
            leaked.append(str(name))
    return leaked


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_suppressed_cells_cannot_be_recovered_from_published_margins(seed):
    leases = random_leases(seed, 260)
    ind = compute_indicators(leases, period="2025-S2")
    prot = protect_indicators(ind)
    # Some cells are secret and some are published, so the attack has material.
    assert prot["suppressed"].any() and (~prot["suppressed"]).any()
    check_no_small_counts(prot[["numerator", "denominator"]], threshold=T)
    assert attack(ind, prot) == []
    # The attack itself does find cells when nothing is suppressed but the primaries.
    naive = ind.copy()
    for col in ("numerator", "denominator"):
        small = naive[col].between(1, T - 1)
        naive[col] = naive[col].astype("Float64").mask(small)
    assert attack(ind, naive) != []


@pytest.mark.parametrize("seed", [4, 5])
def test_shares_and_tests_hidden_with_their_counts(seed):
    ind = compute_indicators(random_leases(seed, 200), period="2025-S2")
    prot = protect_indicators(ind)
    for col in ("share", "ci_low", "ci_high", "p_value_vs_target"):
        assert prot.loc[prot["suppressed"], col].isna().all()
        small_den = ind["denominator"].between(1, T - 1)
        assert prot.loc[small_den, col].isna().all()
    assert (prot.loc[prot["suppressed"], "status"] == "non_diffuse").all()
    assert (prot.loc[~prot["suppressed"], "status"] == ind.loc[~prot["suppressed"], "status"]).all()
    # Published counts are the true counts.
    pub = prot["numerator"].notna()
    assert (prot.loc[pub, "numerator"] == ind.loc[pub, "numerator"]).all()
    assert tuple(prot.columns) == tuple(ind.columns)


def test_trend_table_semesters_protected_against_rolling_differences():
    leases = random_leases(6, 300)
    tr = trend_table(leases)
    prot = protect_indicators(tr)
    check_no_small_counts(prot[["numerator", "denominator"]], threshold=T)
    # rolling(P) - semester(P) = semester(P - 1), all three in the table.
    key = prot.set_index(["id", "window", "period"])
    orig = tr.set_index(["id", "window", "period"])
    for (id_, win, per), row in key.iterrows():
        if win != "rolling_12m":
            continue
        year, half = int(per[:4]), int(per[-1])
        prev = f"{year}-S1" if half == 2 else f"{year - 1}-S2"
        for col in ("numerator", "denominator"):
            r, s, q = (
                row[col],
                key.loc[(id_, "semester", per), col],
                key.loc[(id_, "semester", prev), col],
            )
            published = [not pd.isna(v) for v in (r, s, q)]
            if sum(published) == 2:
                # the third one would follow: it must not be secret
                true = [
                    orig.loc[(id_, w, x), col]
                    for w, x in (("rolling_12m", per), ("semester", per), ("semester", prev))
                ]
                missing = true[published.index(False)]
                assert not 1 <= missing <= T - 1, (id_, per, col)

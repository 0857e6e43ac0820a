"""Legal CIA indicators on hand-built lease tables (every count written out below).

Reference values for the Wilson interval and the exact binomial test come from
R (``tests/reference/make_reference_indicators.R``, output pasted in ``R_REFERENCE``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from allocation_analysis.config import AnalysisConfig, Period
from allocation_analysis.errors import AnalysisError, UsageError
from allocation_analysis.indicators import (
    INDICATOR_COLUMNS,
    compute_indicators,
    exact_funnel_limit,
    funnel_data,
    sentence_fr,
    sentences_fr,
    trend_table,
)
from allocation_analysis.stats.rates import wilson_interval

NB = "\u202f"  # narrow no-break space of allocation_analysis.text


def lease(n, date, commune, bailleur, reservataire, *, qpv, q1, anru=False, prio=False, mut=False):
    return [
        {
            "date_bail": pd.Timestamp(date),
            "commune_logement": commune,
            "bailleur_siren": bailleur,
            "reservataire": reservataire,
            "logement_en_qpv": qpv,
            "q1": q1,
            "relogement_anru": anru,
            "prioritaire_ou_dalo": prio,
            "mutation": mut,
        }
    ] * n


def frame(*groups):
    rows = [r for g in groups for r in g]
    df = pd.DataFrame(rows)
    df["commune_logement"] = df["commune_logement"].astype("string")
    df["bailleur_siren"] = df["bailleur_siren"].astype("string")
    df["reservataire"] = df["reservataire"].astype("string")
    return df


@pytest.fixture(scope="module")
def leases() -> pd.DataFrame:
    """Leases around 2025-S2 (semester 2025-07-01..12-31, rolling 2025-01-01..12-31)."""
    return frame(
        # --- in the semester (2025-S2)
        lease(4, "2025-07-01", "59001", "B1", "action_logement", qpv=False, q1=True, prio=True),
        # ANRU rehousing outside QPV counts toward q1_hors_qpv; `etat` enters no prioritaires id
        lease(
            2,
            "2025-09-15",
            "59001",
            "B1",
            "etat",
            qpv=False,
            q1=False,
            anru=True,
            prio=True,
            mut=True,
        ),
        lease(6, "2025-12-31", "59002", "B2", "bailleur", qpv=False, q1=False),
        lease(3, "2025-10-01", "59002", "B2", "bailleur", qpv=True, q1=False, prio=True, mut=True),
        lease(1, "2025-11-02", "59001", "B1", "action_logement", qpv=True, q1=True),
        lease(1, "2025-08-01", "59002", "B1", "autre", qpv=True, q1=False, prio=True),
        # --- 2025-S1: rolling 12 months only (30 June belongs to S1)
        lease(2, "2025-06-30", "59001", "B1", "action_logement", qpv=False, q1=False),
        lease(
            3,
            "2025-01-01",
            "59003",
            "B2",
            "bailleur",
            qpv=True,
            q1=True,
            anru=True,
            prio=True,
            mut=True,
        ),
        # --- outside both windows
        lease(5, "2024-12-31", "59001", "B1", "collectivite", qpv=False, q1=True, prio=True),
        lease(1, "2026-01-01", "59001", "B1", "collectivite", qpv=False, q1=True, prio=True),
    )


@pytest.fixture(scope="module")
def ind(leases) -> pd.DataFrame:
    return compute_indicators(leases, period="2025-S2")


def get(ind, id_, window, scope="territory", value=None):
    sel = ind[(ind["id"] == id_) & (ind["window"] == window) & (ind["scope"] == scope)]
    sel = sel[sel["scope_value"].isna()] if value is None else sel[sel["scope_value"] == value]
    assert len(sel) == 1, (id_, window, scope, value, len(sel))
    return sel.iloc[0]


# (id, window, numerator, denominator), counted by hand from the fixture:
TERRITORY_EXPECTED = [
    # outside QPV in S2: 4 (Q1) + 2 (ANRU) + 6 (neither) = 12; numerator 4 + 2 = 6
    ("q1_hors_qpv", "semester", 6, 12),
    # + the two 30 June leases (neither Q1 nor ANRU)
    ("q1_hors_qpv", "rolling_12m", 6, 14),
    # in QPV in S2: 3 non-Q1 + 1 Q1 + 1 non-Q1 = 5; non-Q1 = 4
    ("non_q1_en_qpv", "semester", 4, 5),
    # + 3 Q1 ANRU leases of 1 January (ANRU does not make them non-Q1)
    ("non_q1_en_qpv", "rolling_12m", 4, 8),
    ("prioritaires_action_logement", "semester", 4, 5),
    ("prioritaires_action_logement", "rolling_12m", 4, 7),
    # no collectivite lease in either window (31/12/2024 and 01/01/2026 are outside)
    ("prioritaires_collectivite", "semester", 0, 0),
    ("prioritaires_collectivite", "rolling_12m", 0, 0),
    ("prioritaires_bailleur", "semester", 3, 9),
    ("prioritaires_bailleur", "rolling_12m", 6, 12),
]


@pytest.mark.parametrize(("id_", "window", "num", "den"), TERRITORY_EXPECTED)
def test_territory_counts_match_hand_counts(ind, id_, window, num, den):
    row = get(ind, id_, window)
    assert (row["numerator"], row["denominator"]) == (num, den)


BREAKDOWN_EXPECTED = [
    ("q1_hors_qpv", "semester", "commune", "59001", 6, 6),
    ("q1_hors_qpv", "semester", "commune", "59002", 0, 6),
    ("q1_hors_qpv", "semester", "commune", "59003", 0, 0),  # only leased in S1
    ("q1_hors_qpv", "rolling_12m", "commune", "59001", 6, 8),
    ("non_q1_en_qpv", "semester", "commune", "59001", 0, 1),
    ("non_q1_en_qpv", "semester", "commune", "59002", 4, 4),
    ("non_q1_en_qpv", "rolling_12m", "commune", "59003", 0, 3),
    ("q1_hors_qpv", "semester", "bailleur", "B1", 6, 6),
    ("q1_hors_qpv", "semester", "bailleur", "B2", 0, 6),
    ("q1_hors_qpv", "semester", "reservataire", "etat", 2, 2),
    ("q1_hors_qpv", "semester", "reservataire", "action_logement", 4, 4),
    ("q1_hors_qpv", "semester", "reservataire", "collectivite", 0, 0),
    ("q1_hors_qpv", "semester", "reservataire", "bailleur", 0, 6),
    ("q1_hors_qpv", "semester", "reservataire", "autre", 0, 0),
    ("q1_hors_qpv", "semester", "mutation", "premiere_attribution", 4, 10),
    ("q1_hors_qpv", "semester", "mutation", "mutation", 2, 2),
    ("non_q1_en_qpv", "semester", "mutation", "premiere_attribution", 1, 2),
    ("non_q1_en_qpv", "semester", "mutation", "mutation", 3, 3),
    ("prioritaires_bailleur", "rolling_12m", "commune", "59002", 3, 9),
    ("prioritaires_bailleur", "rolling_12m", "commune", "59003", 3, 3),
    ("prioritaires_bailleur", "rolling_12m", "commune", "59001", 0, 0),
    ("prioritaires_action_logement", "semester", "mutation", "premiere_attribution", 4, 5),
]


@pytest.mark.parametrize(("id_", "window", "scope", "value", "num", "den"), BREAKDOWN_EXPECTED)
def test_breakdowns_match_hand_counts(ind, id_, window, scope, value, num, den):
    row = get(ind, id_, window, scope, value)
    assert (row["numerator"], row["denominator"]) == (num, den)


def test_breakdowns_add_up_to_territory(ind):
    for (id_, window, scope), sub in ind[ind["scope"] != "territory"].groupby(
        ["id", "window", "scope"]
    ):
        tot = get(ind, id_, window)
        assert sub["numerator"].sum() == tot["numerator"], (id_, window, scope)
        assert sub["denominator"].sum() == tot["denominator"], (id_, window, scope)


def test_lease_on_30_june_is_s1_and_on_1_july_is_s2():
    df = frame(
        lease(1, "2025-06-30", "59001", "B1", "etat", qpv=False, q1=True),
        lease(1, "2025-07-01", "59001", "B1", "etat", qpv=False, q1=False),
    )
    s1 = get(compute_indicators(df, period="2025-S1"), "q1_hors_qpv", "semester")
    s2 = get(compute_indicators(df, period="2025-S2"), "q1_hors_qpv", "semester")
    assert (s1["numerator"], s1["denominator"]) == (1, 1)
    assert (s2["numerator"], s2["denominator"]) == (0, 1)


def test_rolling_window_is_previous_semester_plus_current(ind):
    row = get(ind, "q1_hors_qpv", "rolling_12m")
    assert row["window_start"] == pd.Timestamp("2025-01-01")
    assert row["window_end"] == pd.Timestamp("2025-12-31")
    df = frame(
        lease(1, "2024-06-30", "59001", "B1", "etat", qpv=False, q1=True),
        lease(1, "2024-07-01", "59001", "B1", "etat", qpv=False, q1=True),
        lease(1, "2025-06-30", "59001", "B1", "etat", qpv=False, q1=True),
    )
    r = get(compute_indicators(df, period="2025-S1"), "q1_hors_qpv", "rolling_12m")
    assert (r["window_start"], r["window_end"]) == (
        pd.Timestamp("2024-07-01"),
        pd.Timestamp("2025-06-30"),
    )
    assert r["denominator"] == 2


def test_reservataire_without_lease_gives_sans_objet_row_not_a_crash(ind):
    for window in ("semester", "rolling_12m"):
        row = get(ind, "prioritaires_collectivite", window)
        assert row["denominator"] == 0
        assert math.isnan(row["share"]) and math.isnan(row["ci_low"])
        assert math.isnan(row["p_value_vs_target"])
        assert row["status"] == "sans_objet"


def test_etat_and_autre_leases_enter_no_prioritaires_indicator(ind):
    # 2 etat + 1 autre prioritaire leases in S2: none of them is counted.
    total = sum(
        get(ind, f"prioritaires_{r}", "semester")["denominator"]
        for r in ("action_logement", "collectivite", "bailleur")
    )
    assert total == 5 + 0 + 9  # 14 of the 17 semester leases


def test_reservataire_scope_not_produced_for_prioritaires(ind):
    sel = ind[ind["id"].str.startswith("prioritaires") & (ind["scope"] == "reservataire")]
    assert sel.empty


def test_frame_has_documented_columns_and_dtypes(ind):
    assert tuple(ind.columns) == INDICATOR_COLUMNS
    assert str(ind["numerator"].dtype) == "Int64"
    assert str(ind["denominator"].dtype) == "Int64"
    assert ind["suppressed"].dtype == bool
    assert not ind["suppressed"].any()
    assert set(ind["period"]) == {"2025-S2"}
    assert set(ind["scope"]) == {"territory", "commune", "bailleur", "reservataire", "mutation"}


def test_targets_come_from_law_and_config(leases):
    cfg = AnalysisConfig(period=Period.parse("2025-S2"), target_non_q1_en_qpv=0.6)
    out = compute_indicators(leases, period="2025-S2", config=cfg)
    assert get(out, "q1_hors_qpv", "semester")["target"] == 0.25
    assert get(out, "non_q1_en_qpv", "semester")["target"] == 0.6
    assert get(out, "prioritaires_bailleur", "semester")["target"] == 0.25
    out2 = compute_indicators(leases, period="2025-S2", targets={"non_q1_en_qpv": 0.4})
    assert get(out2, "non_q1_en_qpv", "semester")["target"] == 0.4


def test_bad_arguments_are_refused_with_a_message(leases):
    with pytest.raises(UsageError, match="windows"):
        compute_indicators(leases, period="2025-S2", windows=("annee",))
    with pytest.raises(UsageError, match="scopes"):
        compute_indicators(leases, period="2025-S2", scopes=("iris",))
    with pytest.raises(AnalysisError, match="q1"):
        compute_indicators(leases.drop(columns="q1"), period="2025-S2")
    bad = leases.copy()
    bad["q1"] = bad["q1"].astype("boolean")
    bad.loc[0, "q1"] = pd.NA
    with pytest.raises(AnalysisError, match="manquante"):
        compute_indicators(bad, period="2025-S2")


def test_missing_relogement_anru_column_means_no_rehousing():
    df = frame(lease(3, "2025-08-01", "59001", "B1", "etat", qpv=False, q1=False, anru=True))
    with_col = get(compute_indicators(df, period="2025-S2"), "q1_hors_qpv", "semester")
    without = get(
        compute_indicators(df.drop(columns="relogement_anru"), period="2025-S2"),
        "q1_hors_qpv",
        "semester",
    )
    assert with_col["numerator"] == 3 and without["numerator"] == 0


# --------------------------------------------------------------------------- statistics vs R

# Output of tests/reference/make_reference_indicators.R (R 4.x):
# (x, n, p, prop.test(x, n, correct=FALSE)$conf.int, binom.test(x, n, p)$p.value)
R_REFERENCE = [
    (331, 1641, 0.25, 0.182998217596996, 0.22180764089473, 4.32880530448995e-06),
    (3, 12, 0.25, 0.0889416683940547, 0.532305334933566, 1),
    (0, 15, 0.25, 0, 0.203883301035849, 0.0306632993742824),
    (7, 10, 0.50, 0.396778147461145, 0.892208732593699, 0.34375),
    (15, 20, 0.50, 0.531299122381256, 0.888138298592334, 0.0413894653320313),
    (2, 4, 0.25, 0.15003898915215, 0.84996101084785, 0.26171875),
    (40, 200, 0.25, 0.150452009260981, 0.260855186565379, 0.120322060193177),
    (120, 400, 0.25, 0.257167671956197, 0.346637245777522, 0.0241774530919627),
]


@pytest.mark.parametrize(("x", "n", "p", "lo", "hi", "pv"), R_REFERENCE)
def test_wilson_interval_matches_r_prop_test(x, n, p, lo, hi, pv):
    low, high = wilson_interval(x, n)
    assert low == pytest.approx(lo, abs=1e-12)
    assert high == pytest.approx(hi, abs=1e-12)


@pytest.mark.parametrize(("x", "n", "p", "lo", "hi", "pv"), R_REFERENCE)
def test_indicator_row_matches_r_binom_test(x, n, p, lo, hi, pv):
    df = frame(
        lease(x, "2025-08-01", "59001", "B1", "etat", qpv=True, q1=False),
        lease(n - x, "2025-08-01", "59001", "B1", "etat", qpv=True, q1=True),
    )
    row = get(
        compute_indicators(df, period="2025-S2", targets={"non_q1_en_qpv": p}),
        "non_q1_en_qpv",
        "semester",
    )
    assert (row["numerator"], row["denominator"]) == (x, n)
    assert row["p_value_vs_target"] == pytest.approx(pv, rel=1e-9, abs=1e-15)
    assert row["ci_low"] == pytest.approx(lo, abs=1e-12)
    assert row["ci_high"] == pytest.approx(hi, abs=1e-12)
    # status: share >= target -> atteint; else by p < 0.05
    share = x / n
    expected = (
        "atteint"
        if share >= p
        else ("non_atteint_significatif" if pv < 0.05 else "non_atteint_non_significatif")
    )
    assert row["status"] == expected


def test_status_codes_on_known_cases():
    # 0/15 vs 25 %: p = 0.0307 (R) -> significant; 3/15: share 0.2, p = 0.77 -> not;
    # 3/12 exactly at 25 % -> atteint.
    cases = {(0, 15): "non_atteint_significatif", (3, 15): "non_atteint_non_significatif"}
    cases[(3, 12)] = "atteint"
    for (x, n), status in cases.items():
        df = frame(
            lease(x, "2025-08-01", "59001", "B1", "etat", qpv=False, q1=True),
            lease(n - x, "2025-08-01", "59001", "B1", "etat", qpv=False, q1=False),
        )
        assert (
            get(compute_indicators(df, period="2025-S2"), "q1_hors_qpv", "semester")["status"]
            == status
        )


def test_wilson_interval_hand_formula():
    # k = 6, n = 12, z = 1.959963984540054:
    # centre = (6 + z^2/2)/(12 + z^2) = 0.5, half = z/(12+z^2) * sqrt(6*6/12 + z^2/4)
    z = 1.959963984540054
    half = z / (12 + z * z) * math.sqrt(3 + z * z / 4)
    low, high = wilson_interval(6, 12)
    assert float(low) == pytest.approx(0.5 - half, abs=1e-14)
    assert float(high) == pytest.approx(0.5 + half, abs=1e-14)


# --------------------------------------------------------------------------- trend table


def test_trend_table_is_oldest_first_and_skips_half_empty_rolling(leases):
    tr = trend_table(leases)
    # Semesters holding a lease: 2024-S2, 2025-S1, 2025-S2, 2026-S1.
    assert list(dict.fromkeys(tr["period"])) == ["2024-S2", "2025-S1", "2025-S2", "2026-S1"]
    assert set(tr["scope"]) == {"territory"}
    first = tr[tr["period"] == "2024-S2"]
    assert set(first["window"]) == {"semester"}  # 2024-S1 has no lease
    later = tr[tr["period"] == "2025-S2"]
    assert set(later["window"]) == {"semester", "rolling_12m"}
    row = later[(later["id"] == "q1_hors_qpv") & (later["window"] == "rolling_12m")].iloc[0]
    assert (row["numerator"], row["denominator"]) == (6, 14)
    s1 = tr[(tr["period"] == "2025-S1") & (tr["id"] == "q1_hors_qpv")]
    # 2025-S1 semester: the 2 leases of 30 June; rolling adds the 5 leases of 2024-12-31 (Q1)
    assert s1[s1["window"] == "semester"][["numerator", "denominator"]].iloc[0].tolist() == [0, 2]
    assert s1[s1["window"] == "rolling_12m"][["numerator", "denominator"]].iloc[0].tolist() == [
        5,
        7,
    ]


# --------------------------------------------------------------------------- funnel


def _binom_cdf(r, n, p):
    return (
        sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(0, r + 1)) if r >= 0 else 0.0
    )


def _hand_limit(n, theta, prob):
    """Spiegelhalter (2005) appendix: smallest r with F(r) >= p, then interpolate."""
    r = 0
    while _binom_cdf(r, n, theta) < prob:
        r += 1
    f_r, f_rm1 = _binom_cdf(r, n, theta), _binom_cdf(r - 1, n, theta)
    alpha = (f_r - prob) / (f_r - f_rm1)
    return min(max((r - alpha) / n, 0.0), 1.0)


@pytest.mark.parametrize("n", [1, 5, 20, 57, 200])
@pytest.mark.parametrize("prob", [0.001, 0.025, 0.975, 0.999])
def test_funnel_limits_match_hand_computation(n, prob):
    assert float(exact_funnel_limit(n, 0.25, prob)) == pytest.approx(
        _hand_limit(n, 0.25, prob), abs=1e-12
    )


def test_funnel_limit_worked_example():
    # n = 20, theta = 0.25, p = 0.975: F(8) = 0.959075, F(9) = 0.986136 -> r = 9,
    # alpha = (0.986136 - 0.975)/(0.986136 - 0.959075) = 0.41151, limit = (9 - 0.41151)/20
    assert float(exact_funnel_limit(20, 0.25, 0.975)) == pytest.approx(0.429424, abs=2e-6)


def test_funnel_points_flag_units_outside_limits():
    df = frame(
        # commune A: 0/40 Q1 outside QPV (far below 25 %); B: 10/40 (on target)
        lease(40, "2025-08-01", "A", "B1", "etat", qpv=False, q1=False),
        lease(10, "2025-08-01", "B", "B1", "etat", qpv=False, q1=True),
        lease(30, "2025-08-01", "B", "B1", "etat", qpv=False, q1=False),
    )
    pts, lim = funnel_data(compute_indicators(df, period="2025-S2"), indicator_id="q1_hors_qpv")
    pts = pts.set_index("scope_value")
    assert bool(pts.loc["A", "outside_95"]) and bool(pts.loc["A", "outside_998"])
    assert not pts.loc["B", "outside_95"]
    assert (lim["lower_998"] <= lim["lower_95"]).all()
    assert (lim["upper_95"] <= lim["upper_998"]).all()
    assert lim["denominator"].min() == 1 and lim["denominator"].max() >= 44
    row = lim.set_index("denominator").loc[40]
    assert row["lower_95"] == pytest.approx(_hand_limit(40, 0.25, 0.025), abs=1e-12)


# --------------------------------------------------------------------------- sentences


def test_sentence_reproduces_the_report_example():
    df = frame(
        lease(331, "2025-08-01", "59350", "B1", "etat", qpv=False, q1=True),
        lease(1641 - 331, "2025-08-01", "59350", "B1", "etat", qpv=False, q1=False),
    )
    out = compute_indicators(df, period="2025-S2")
    (text,) = sentences_fr(out, window="semester", indicator_ids=["q1_hors_qpv"])
    assert text == (
        f"Au 2e semestre 2025, 20,2{NB}% des attributions hors QPV (331 sur 1{NB}641) "
        "sont allées à des ménages du 1er quartile ou relogés dans le cadre du "
        f"renouvellement urbain ; l'objectif légal est de 25{NB}% ; l'écart est significatif."
    )


def test_sentences_for_empty_and_suppressed_rows(ind):
    row = get(ind, "prioritaires_collectivite", "semester").copy()
    assert "aucune attribution" in sentence_fr(row)
    row = get(ind, "q1_hors_qpv", "rolling_12m").copy()
    assert sentence_fr(row).startswith("Sur les 12 mois du 1er janvier 2025 au 31 décembre 2025")
    row["numerator"], row["share"], row["suppressed"] = pd.NA, np.nan, True
    row["status"] = "non_diffuse"
    assert "non diffusé (secret statistique)" in sentence_fr(row)
    # a status released without the count (privacy.release_masked_statuses)
    row["status"] = "non_atteint"
    assert sentence_fr(row).endswith(
        "n'est pas diffusée (secret statistique) ; l'objectif légal de 25\u202f% n'est pas atteint."
    )
    row = get(ind, "q1_hors_qpv", "semester", "commune", "59001")
    assert ", dans la commune de Lille (59001)," in sentence_fr(row, names={"59001": "Lille"})


# --------------------------------------------------------------------------- text helpers


def test_french_number_formatting():
    from allocation_analysis.text import fmt_float, fmt_int, fmt_p, fmt_pct

    assert fmt_int(1641) == f"1{NB}641"
    assert fmt_int(1234567) == f"1{NB}234{NB}567"
    assert fmt_int(12) == "12"
    assert fmt_int(pd.NA) == "\u2014" and fmt_int(None, missing="") == ""
    assert fmt_pct(331 / 1641) == f"20,2{NB}%"
    assert fmt_pct(0.25, digits=0) == f"25{NB}%"
    assert fmt_pct(np.nan) == "\u2014"
    assert fmt_float(0.7234) == "0,72"
    assert fmt_float(-1234.5, digits=1) == f"\u22121{NB}234,5"
    assert fmt_float(-0.001) == "0,00"
    assert fmt_p(0.0321) == "p = 0,032"
    assert fmt_p(0.00004) == "p < 0,001"
    assert fmt_p(1.0) == "p = 1,000"

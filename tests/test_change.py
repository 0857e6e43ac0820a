"""Change since the previous semester and a year earlier, and trend, of every followed share."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from allocation_analysis import calibration, change, session, synth
from allocation_analysis.config import AnalysisConfig, Period

REFERENCE = Path(__file__).parent / "reference" / "r_reference_change.json"


def _counts(k: float, n: float) -> dict:
    return {"numerator": k, "denominator": n}


# --------------------------------------------------------------------------- the change test


def test_change_is_the_difference_with_newcombe_interval_and_pooled_z_test():
    """30/100 now, 20/100 before, by hand: difference 0.10; pooled share 0.25,
    standard error sqrt(0.25 × 0.75 × (1/100 + 1/100)) = 0.0612372, z = 1.632993,
    two-sided p = 2 (1 − Φ(1.632993)) = 0.102470. Wilson 95 % intervals
    [0.218949, 0.395849] and [0.133367, 0.288829]; Newcombe's hybrid score
    interval 0.10 − sqrt(0.081051² + 0.088829²) = −0.020249 and
    0.10 + sqrt(0.095849² + 0.066633²) = 0.216734."""
    got = change.share_change(_counts(30, 100), _counts(20, 100), alpha=0.05)
    assert got["change"] == pytest.approx(0.10)
    assert got["p_value"] == pytest.approx(0.102470, abs=1e-6)
    assert got["ci_low"] == pytest.approx(-0.020249, abs=1e-6)
    assert got["ci_high"] == pytest.approx(0.216734, abs=1e-6)


def test_a_fall_has_a_negative_change_and_an_interval_around_it():
    """45/150 now, 60/150 before: −0.10; pooled 0.35, z = −0.10 / sqrt(0.35 × 0.65
    × 2/150) = −1.815683, p = 0.069419; Wilson [0.232408, 0.377580] and
    [0.325043, 0.479951]; interval −0.10 ∓ … = [−0.204694, 0.007876]."""
    got = change.share_change(_counts(45, 150), _counts(60, 150), alpha=0.05)
    assert got["change"] == pytest.approx(-0.10)
    assert got["p_value"] == pytest.approx(0.069419, abs=1e-6)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((-0.204694, 0.007876), abs=1e-6)


@pytest.mark.parametrize(
    "case", json.loads(REFERENCE.read_text("utf-8"))["cases"], ids=lambda c: f"{c['x1']}/{c['n1']}"
)
def test_change_test_matches_r_prop_test_without_correction(case):
    got = change.share_change(
        _counts(case["x1"], case["n1"]), _counts(case["x2"], case["n2"]), alpha=0.05
    )
    assert got["change"] == pytest.approx(case["difference"], abs=1e-12)
    assert got["p_value"] == pytest.approx(case["p_value"], rel=1e-9)


@pytest.mark.parametrize("earlier", [None, _counts(pd.NA, 100), _counts(10, None), _counts(0, 0)])
def test_change_is_missing_without_both_counts(earlier):
    got = change.share_change(_counts(30, 100), earlier, alpha=0.05)
    assert all(math.isnan(v) for v in got.values())


# --------------------------------------------------------------------------- series


def _series(counts: dict[str, tuple[int, int]], key: str = "q1_hors_qpv") -> pd.DataFrame:
    return pd.DataFrame(
        [{"id": key, "period": p, "numerator": k, "denominator": n} for p, (k, n) in counts.items()]
    )


FLAT = {
    "2024-S1": (40, 200),
    "2024-S2": (50, 200),
    "2025-S1": (45, 210),
    "2025-S2": (60, 220),
}


def test_changes_use_the_previous_semester_and_the_same_semester_a_year_earlier():
    raw = _series(FLAT)
    out = change.changes_and_trends(raw, raw, keys=["id"], last="2025-S2", alpha=0.05).iloc[0]
    assert out["share"] == pytest.approx(60 / 220)
    assert out["change_vs_previous"] == pytest.approx(60 / 220 - 45 / 210)
    assert out["change_vs_year_before"] == pytest.approx(60 / 220 - 50 / 200)
    assert out["n_semestres"] == 4
    assert out["trend_conclusion"] in ("pas de tendance établie", "hausse au-delà du hasard")


def test_semesters_after_the_analysed_one_are_not_used():
    raw = _series({**FLAT, "2026-S1": (5, 200)})
    out = change.changes_and_trends(raw, raw, keys=["id"], last="2025-S2", alpha=0.05).iloc[0]
    assert out["n_semestres"] == 4
    assert out["share"] == pytest.approx(60 / 220)


def test_a_masked_count_makes_the_change_and_the_trend_not_calculable():
    """2025-S1 masked: the change since the previous semester would give its
    numerator back (its denominator is published elsewhere), and the trend rests
    on it; the change over a year (2024-S2) stays computable."""
    raw = _series(FLAT)
    published = raw.astype({"numerator": "Float64"}).copy()
    published.loc[published["period"] == "2025-S1", "numerator"] = pd.NA
    out = change.changes_and_trends(raw, published, keys=["id"], last="2025-S2", alpha=0.05)
    r = out.iloc[0]
    assert math.isnan(r["change_vs_previous"]) and math.isnan(r["p_value"])
    assert math.isnan(r["share_previous"])
    assert r["note_previous"] == change.NOT_COMPUTABLE_SECRET
    assert r["change_vs_year_before"] == pytest.approx(60 / 220 - 50 / 200)
    assert math.isnan(r["trend_p_value"]) and math.isnan(r["trend_slope"])
    assert r["trend_conclusion"] == change.NOT_COMPUTABLE_SECRET
    assert change.trend_entries(out.assign(scope="territory", scope_value=""))[0]["p_value"] is None


def test_a_suppressed_row_counts_as_masked_even_with_its_counts_shown():
    raw = _series(FLAT)
    published = raw.assign(suppressed=raw["period"] == "2025-S2")
    r = change.changes_and_trends(raw, published, keys=["id"], last="2025-S2", alpha=0.05).iloc[0]
    assert math.isnan(r["share"]) and math.isnan(r["change_vs_year_before"])


def test_trend_over_fewer_than_three_semesters_is_not_calculable_with_its_reason():
    raw = _series({"2025-S1": (45, 210), "2025-S2": (60, 220), "2024-S2": (0, 0)})
    r = change.changes_and_trends(raw, raw, keys=["id"], last="2025-S2", alpha=0.05).iloc[0]
    assert r["n_semestres"] == 2
    assert r["trend_conclusion"] == change.NOT_COMPUTABLE_FEW
    assert r["note_year"].startswith("non calculable : aucune attribution")


def test_trend_slope_is_the_log_odds_ratio_per_semester_of_a_binomial_glm():
    """Rising 41/210 … 81/240 over six consecutive semesters: slope and Wald
    p-value of R's glm (tests/reference/r_reference_trend.json, « rising »)."""
    ref = json.loads((REFERENCE.parent / "r_reference_trend.json").read_text("utf-8"))
    rising = ref["series"]["rising"]
    periods = ["2023-S1", "2023-S2", "2024-S1", "2024-S2", "2025-S1", "2025-S2"]
    x = [41, 52, 49, 63, 70, 81]
    n = [210, 225, 198, 230, 221, 240]
    raw = _series(dict(zip(periods, zip(x, n, strict=True), strict=True)))
    r = change.changes_and_trends(raw, raw, keys=["id"], last="2025-S2", alpha=0.05).iloc[0]
    assert r["trend_slope"] == pytest.approx(rising["slope"], rel=1e-6)
    assert r["trend_p_value"] == pytest.approx(rising["p_value"], rel=1e-5)
    assert r["trend_conclusion"] == "hausse au-delà du hasard"


def test_trend_p_values_are_adjusted_within_their_family():
    """Benjamini–Hochberg within each value of ``family``: two series in one
    family with p1 < p2 get min(2 p1, p2) and p2; a lone series keeps its p."""
    rows = []
    for k, (fam, shift) in enumerate([("a", 0.02), ("a", 0.0), ("b", 0.01)]):
        for i, p in enumerate(["2024-S1", "2024-S2", "2025-S1", "2025-S2"]):
            n = 300
            rows.append(
                {
                    "fam": fam,
                    "id": f"s{k}",
                    "period": p,
                    "numerator": int(n * (0.2 + shift * i)),
                    "denominator": n,
                }
            )
    raw = pd.DataFrame(rows)
    out = change.changes_and_trends(
        raw, raw, keys=["fam", "id"], last="2025-S2", alpha=0.05, family=["fam"]
    ).set_index("id")
    pa, pb = sorted(out.loc[["s0", "s1"], "trend_p_value"])
    adj = sorted(out.loc[["s0", "s1"], "trend_p_value_adjusted"])
    assert adj == pytest.approx([min(2 * pa, pb), pb])
    assert out.loc["s2", "trend_p_value_adjusted"] == pytest.approx(out.loc["s2", "trend_p_value"])


# --------------------------------------------------------------------------- access rates


def test_access_rate_secret_masks_the_small_cell_and_one_more_in_each_relation():
    """UE: 8 accesses out of 134 demands (8 < 11). Its row (demands = with +
    without access) would give it back from the other two cells, so the
    smallest other one (126 without access) is masked too; the accesses of the
    origin groups add up to the residence groups' total, so another origin
    group's accesses are masked (the smallest: hors UE's 37). The residence
    axis, without a small cell, is published whole."""
    raw = pd.DataFrame(
        {
            "axis": ["origin"] * 3 + ["residence"] * 2,
            "group": ["francaise", "ue", "hors_ue", "hors_qpv", "qpv"],
            "period": ["2024-S2"] * 5,
            "numerator": [128, 8, 37, 132, 41],
            "denominator": [1328, 134, 491, 1470, 483],
        }
    )
    pub = change.protect_access_rates(raw, threshold=11).set_index("group")
    assert pd.isna(pub.loc["ue", "numerator"]) and pub.loc["ue", "suppressed"]
    assert pd.isna(pub.loc["hors_ue", "numerator"])
    assert pub.loc["francaise", "numerator"] == 128
    assert pub.loc["qpv", "numerator"] == 41 and not pub.loc["qpv", "suppressed"]
    assert pub.loc["qpv", "share"] == pytest.approx(41 / 483)
    assert math.isnan(pub.loc["ue", "share"])


# --------------------------------------------------------------------------- generator


@pytest.fixture(scope="module")
def generated():
    ds = synth.generate(scale="small", seed=1)
    inputs = calibration.loaded_inputs(ds)
    config = AnalysisConfig(period=Period.parse("2025-S2"), siren_epci=inputs.siren_epci)
    frames = session.prepare(inputs, config)
    truth = pd.DataFrame(ds.truth["indicateurs"])
    return frames, config, truth


def _z_test(k1: float, n1: float, k2: float, n2: float) -> float:
    p = (k1 + k2) / (n1 + n2)
    z = (k1 / n1 - k2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return 2 * norm.sf(abs(z))


def test_reservataire_changes_follow_the_generators_own_counts(generated):
    """Per reservataire, the change since 2025-S1 and since 2024-S2 from the
    counts of truth.json (the generator's, not the toolkit's), tested here with
    the pooled two-proportion z test written out."""
    frames, config, truth = generated
    series = change.scope_indicator_series(
        frames["allocations"], config=config, scopes=("reservataire",)
    )
    out = change.indicator_changes(series, series, config=config)
    sem = truth[(truth["perimetre"] == "reservataire") & (truth["fenetre"] == "semestre")]
    counts = sem.set_index(["indicateur", "groupe", "periode"])[["numerateur", "denominateur"]]
    checked = 0
    for r in out.to_dict("records"):
        for earlier, col, p_col in (
            ("2025-S1", "change_vs_previous", "p_value"),
            ("2024-S2", "change_vs_year_before", "p_value_year"),
        ):
            a, b = (r["id"], r["scope_value"], "2025-S2"), (r["id"], r["scope_value"], earlier)
            if a not in counts.index or b not in counts.index:
                assert math.isnan(r[col])
                continue
            k1, n1 = counts.loc[a]
            k2, n2 = counts.loc[b]
            assert r[col] == pytest.approx(k1 / n1 - k2 / n2, abs=1e-12)
            if 0 < k1 + k2 < n1 + n2:
                assert r[p_col] == pytest.approx(_z_test(k1, n1, k2, n2), rel=1e-9)
                checked += 1
    assert checked >= 6


def test_planted_rising_share_is_found_as_a_trend_and_its_changes(generated):
    """The collectivités' leases to priority households made to rise from 15 % to
    64 % over the eight semesters (drawn with a fixed seed): the trend of
    ``prioritaires_collectivite`` is a rise beyond chance, the odds ratio per
    semester above 1; without the planting (same data) it is not."""
    frames, config, _ = generated
    alloc = frames["allocations"].copy()
    dates = pd.to_datetime(alloc["date_bail"])
    sem = 2 * (dates.dt.year - 2022) + (dates.dt.month > 6).astype(int)
    coll = (alloc["reservataire"] == "collectivite").to_numpy()
    rng = np.random.default_rng(7)
    planted = rng.random(len(alloc)) < 0.15 + 0.07 * sem.to_numpy()
    alloc.loc[coll, "prioritaire_ou_dalo"] = planted[coll]

    def territory(frame):
        s = change.scope_indicator_series(frame, config=config, scopes=("territory",))
        return change.indicator_changes(s, s, config=config).set_index("id")

    found = territory(alloc).loc["prioritaires_collectivite"]
    assert found["trend_conclusion"] == "hausse au-delà du hasard"
    assert found["trend_odds_ratio"] > 1.2
    assert found["trend_p_value_adjusted"] < 0.001
    assert found["change_vs_year_before"] > 0
    before = territory(frames["allocations"]).loc["prioritaires_collectivite"]
    assert before["trend_conclusion"] == "pas de tendance établie"


def test_access_rates_count_the_demands_active_and_served_in_each_semester(generated):
    """Recount of the 2025-S1 access rate of the hors UE group with plain pandas
    on the prepared demands (active: filed by 30 June, not closed nor served
    before 1 January; served: lease within the semester)."""
    frames, config, _ = generated
    d = frames["demandes"]
    series = change.access_rate_series(d, config=config, periods=["2025-S1", "2025-S2"])
    start, end = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-30")
    rad = pd.to_datetime(d["date_radiation"])
    bail = pd.to_datetime(d["date_bail"])
    active = (pd.to_datetime(d["date_depot"]) <= end) & ~(rad < start) & ~(bail < start)
    served = active & (bail >= start) & (bail <= end)
    hors_ue = d["nationalite"] == "hors_ue"
    row = series[(series["group"] == "hors_ue") & (series["period"] == "2025-S1")].iloc[0]
    assert row["denominator"] == int((active & hors_ue).sum())
    assert row["numerator"] == int((served & hors_ue).sum())
    assert set(series["period"]) == {"2025-S1", "2025-S2"}


# --------------------------------------------------------------------------- report


def _access_changes_frame() -> pd.DataFrame:
    rows = []
    for axis, group, per in (
        ("origin", "francaise", [(130, 1300), (128, 1330), (131, 1302), (142, 1259)]),
        ("origin", "hors_ue", [(36, 490), (37, 491), (36, 485), (90, 466)]),
    ):
        for p, (k, n) in zip(["2024-S1", "2024-S2", "2025-S1", "2025-S2"], per, strict=True):
            rows.append(
                {"axis": axis, "group": group, "period": p, "numerator": k, "denominator": n}
            )
    return pd.DataFrame(rows)


def test_access_sentence_names_only_the_groups_whose_change_is_beyond_chance():
    """hors UE: 36/485 then 90/466, +11.9 points (z test p < 0.001); the French
    households' +1.2 points (p = 0.29, R prop.test above) is not named."""
    raw = _access_changes_frame()
    cfg = AnalysisConfig(period=Period.parse("2025-S2"))
    table = change.access_changes(raw, raw, config=cfg)
    text = change.access_sentence_fr(table, alpha=0.05)
    assert "ménages de nationalité hors UE" in text
    assert "+11,9 points sur un semestre" in text
    assert "française" not in text
    quiet = change.access_changes(raw[raw["group"] == "francaise"], raw, config=cfg)
    assert change.access_sentence_fr(quiet, alpha=0.05) == ""


def test_changes_summary_counts_the_computed_changes_and_the_reasons_of_the_others():
    table = pd.DataFrame(
        {
            "change_vs_previous": [0.01, math.nan, math.nan, math.nan],
            "note_previous": [
                "",
                change.NOT_COMPUTABLE_SECRET,
                change.NOT_COMPUTABLE_SECRET,
                "non calculable : aucune attribution ou demande dans un des semestres",
            ],
            "trend_p_value": [0.2, math.nan, math.nan, math.nan],
        }
    )
    text = change.changes_summary_fr(table)
    assert text.startswith("4 séries (obligation × périmètre) : 1 évolution(s)")
    assert "2 (effectif d'un semestre sous le secret statistique)" in text
    assert "1 (aucune attribution ou demande dans un des semestres)" in text


def test_display_is_in_french_with_the_interval_level_and_the_reason_when_missing():
    raw = _series(FLAT).assign(scope="commune", scope_value="59350")
    published = raw.astype({"numerator": "Float64"})
    published.loc[published["period"] == "2024-S2", "numerator"] = pd.NA
    table = change.changes_and_trends(
        raw, published, keys=["id", "scope", "scope_value"], last="2025-S2", alpha=0.10
    )
    shown = change.changes_display(table, names={"59350": "Lille"}, alpha=0.10).iloc[0]
    assert shown["Périmètre"] == "Lille"
    assert shown["Évolution sur un semestre (IC 90 %)"].startswith(
        "+5,8 pt ("
    )  # 60/220 − 45/210 = 0.0584
    assert "secret statistique" in shown["Évolution sur un an (IC 90 %)"]
    assert change.changes_display(table, computed_only=True).shape[0] == 1


def test_access_rate_figure_has_one_panel_per_axis_and_names_a_hidden_group():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from allocation_analysis import figures

    raw = pd.concat(
        [
            _access_changes_frame(),
            pd.DataFrame(
                {
                    "axis": "origin",
                    "group": "ue",
                    "period": ["2025-S1", "2025-S2"],
                    "numerator": [5, 6],
                    "denominator": [130, 132],
                }
            ),
        ]
    )
    published = change.protect_access_rates(raw, threshold=11)
    fig = figures.access_rate_trend_plot(
        change.access_rate_trend_frame(published),
        title="Taux d'accès",
        source=change.figure_notes_fr("access", "Source : test"),
    )
    FigureCanvasAgg(fig).draw()
    origin, residence = fig.axes[:2]
    assert origin.get_title() == "Nationalité"
    names = [t.get_text() for t in origin.get_legend().get_texts()]
    assert "française (référence)" in names and any("UE" in n and "secret" in n for n in names)
    assert not [ln for ln in origin.lines if ln.get_gid() == "target"]
    footer = fig._supxlabel.get_text()
    assert footer.startswith("Champ : ") and "Lecture : " in footer and footer.endswith("test")


def test_access_rate_series_equals_the_generators_own_counts(generated):
    """truth.json → acces: demands active in each semester and allocated in it,
    by nationality and by residence in a QPV, counted by the generator from its
    own draws (not from the files the toolkit reads)."""
    frames, config, _ = generated
    truth = pd.DataFrame(synth.generate(scale="small", seed=1).truth["acces"])
    periods = sorted(truth["periode"].unique())
    series = change.access_rate_series(frames["demandes"], config=config, periods=periods)
    axis = {"origin": "nationalite", "residence": "residence_qpv"}
    got = series.assign(axe=series["axis"].map(axis)).set_index(["axe", "group", "period"])
    want = truth.set_index(["axe", "groupe", "periode"])
    common = want.index.intersection(got.index)
    assert len(common) == len(got) == 5 * len(periods)
    assert (got.loc[common, "denominator"] == want.loc[common, "demandes_actives"]).all()
    assert (got.loc[common, "numerator"] == want.loc[common, "demandes_satisfaites"]).all()


def test_a_trend_significant_only_before_adjustment_is_not_called_a_rise():
    """BH over two trends with p = 0.04 and 0.5: adjusted 2 × 0.04 = 0.08 and 0.5,
    so neither is « au-delà du hasard » at 5 %; a non-computed trend keeps its reason."""
    frame = pd.DataFrame(
        {
            "trend_p_value": [0.04, 0.5, math.nan],
            "trend_odds_ratio": [1.1, 0.9, math.nan],
            "trend_p_value_adjusted": math.nan,
            "trend_conclusion": [
                "hausse au-delà du hasard",
                "pas de tendance établie",
                change.NOT_COMPUTABLE_FEW,
            ],
        }
    )
    change.adjust_trend_family(frame, frame.index, 0.05)
    assert frame["trend_p_value_adjusted"].iloc[:2].tolist() == pytest.approx([0.08, 0.5])
    assert frame["trend_conclusion"].tolist() == [
        "pas de tendance établie",
        "pas de tendance établie",
        change.NOT_COMPUTABLE_FEW,
    ]
    change.adjust_trend_family(frame, frame.index, 0.10)
    assert frame["trend_conclusion"].iloc[0] == "hausse au-delà du hasard"

"""Délai anormalement long and pressure (tension): hand-built cases and a generated territory.

The counts of the generated territory are recomputed here with plain pandas
from the generator's raw CSV files (first-choice commune = first code of
``communes_souhaitees``, seniority with ``dateutil.relativedelta``), not with
the module under test.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pipeline_fixtures
import pytest
import yaml
from dateutil.relativedelta import relativedelta

from allocation_analysis import pressure, synth
from allocation_analysis.config import AnalysisConfig, Period, load_config_file
from allocation_analysis.errors import InputError

# Shared session fixtures (see tests/pipeline_fixtures.py): one planted run per session.
planted_dataset = pipeline_fixtures.planted_dataset
planted_run = pipeline_fixtures.planted_run
test_environment = pipeline_fixtures.test_environment

END_2025_S2 = "2025-12-31"
AXES = {
    "toutes les demandes en attente": "ensemble",
    "nationalité": "nationalite",
    "résidence en QPV": "residence_qpv",
}


# --------------------------------------------------------------------------- calendar months
@pytest.mark.parametrize(
    ("depot", "reference", "months"),
    [
        ("2022-12-31", "2025-12-31", 36),  # exactly three years
        ("2023-01-01", "2025-12-31", 35),  # one day short of 36 months
        ("2022-08-31", "2025-06-30", 34),  # 31 August + 34 months = 30 June (month's end)
        ("2022-06-30", "2025-06-30", 36),
        ("2025-06-15", "2025-06-30", 0),
        ("2020-02-29", "2021-02-28", 12),  # 29 February + 12 months = 28 February
    ],
)
def test_seniority_counts_whole_calendar_months_with_month_ends(depot, reference, months):
    got = pressure.seniority_months(pd.Series(pd.to_datetime([depot])), reference)
    assert got.tolist() == [months]


def test_seniority_short_of_the_day_of_the_month_inside_a_month():
    # 15 March to 14 June: 2 whole months (the third ends on 15 June)
    got = pressure.seniority_months(pd.Series(pd.to_datetime(["2025-03-15"])), "2025-06-14")
    assert got.tolist() == [2]


@pytest.mark.parametrize(
    ("depot", "reference", "months", "expected"),
    [
        ("2022-12-31", "2025-12-31", 36, False),  # exactly 36 months: not beyond
        ("2022-12-30", "2025-12-31", 36, True),  # 36 months and one day
        ("2022-08-31", "2025-06-30", 34, False),  # anniversary clipped to 30 June
        ("2022-08-31", "2025-06-30", 33, True),
        ("2023-01-01", "2025-12-31", 36, False),
    ],
)
def test_exceeds_delay_only_strictly_after_the_anniversary(depot, reference, months, expected):
    got = pressure.exceeds_delay(pd.Series(pd.to_datetime([depot])), reference, months)
    assert got.tolist() == [expected]


# --------------------------------------------------------------------------- threshold by typology
def _pending_frame() -> pd.DataFrame:
    """Five demands of the semester 2025-S2; the last one was allocated (not pending)."""
    return pd.DataFrame(
        {
            "date_depot": pd.to_datetime(
                ["2023-12-31", "2023-12-30", "2022-12-31", "2022-12-30", "2010-01-01"]
            ),
            "typologie_demandee": ["T1", "T1", "T4", "T4", "T1"],
            "evenement": [0, 0, 0, 0, 1],
        }
    )


def test_threshold_by_typology_applies_each_demand_its_own_months():
    cfg = AnalysisConfig(
        period=Period.parse("2025-S2"),
        delai_anormal_mois={"T1": 24, "T2": 30, "T3": 36, "T4": 36, "T5+": 48},
    )
    out = pressure.abnormal_delay_frame(_pending_frame(), config=cfg)
    # T1 filed 31/12/2023: exactly 24 months; 30/12/2023: beyond; T4 likewise at 36 months
    assert out["seuil_mois"].tolist() == [24, 24, 36, 36]
    assert out["anciennete_mois"].tolist() == [24, 24, 36, 36]
    assert out["delai_anormal"].tolist() == [0, 1, 0, 1]


def test_default_threshold_is_36_months_with_a_french_warning(caplog):
    cfg = AnalysisConfig(period=Period.parse("2025-S2"))
    with caplog.at_level("WARNING"):
        out = pressure.abnormal_delay_frame(_pending_frame(), config=cfg)
    assert out["delai_anormal"].tolist() == [0, 0, 0, 1]
    assert "arrêté préfectoral" in caplog.text
    assert "36 mois" in pressure.delay_threshold_text_fr(cfg)
    given = AnalysisConfig(period=Period.parse("2025-S2"), delai_anormal_mois=30)
    assert (
        pressure.delay_threshold_text_fr(given) == "Seuil retenu (arrêté du département) : 30 mois."
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"T1": 24}, "T2, T3, T4, T5+"),
        ({"T1": 24, "T2": 24, "T3": 24, "T4": 24, "T6": 24}, "Typologie inconnue « T6 »"),
        (0, "reçu « 0 »"),
        ("trois ans", "reçu « trois ans »"),
        (36.5, "nombre entier de mois"),
    ],
)
def test_bad_delai_anormal_mois_in_a_config_file_is_a_french_message(tmp_path, value, words):
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump({"delai_anormal_mois": value}, allow_unicode=True), "utf-8")
    with pytest.raises(InputError) as err:
        load_config_file(f)
    assert "delai_anormal_mois" in str(err.value) and str(f) in str(err.value)
    assert words in str(err.value)


def test_delai_anormal_mois_mapping_from_a_config_file_reaches_the_configuration(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("delai_anormal_mois: {T1: 24, T2: 30, t3: 36, T4: 42, T5+: 48}\n", "utf-8")
    opts = load_config_file(f)
    cfg = AnalysisConfig(period=Period.parse("2025-S2"), **opts)
    assert cfg.delai_anormal == {"T1": 24, "T2": 30, "T3": 36, "T4": 42, "T5+": 48}
    assert not cfg.delai_anormal_default


def test_abnormal_delay_table_hides_a_small_group_and_what_would_give_it_back():
    n_ue = 5  # five pending UE demands, all beyond the threshold
    frame = pd.DataFrame(
        {
            "nationalite": ["francaise"] * 40 + ["ue"] * n_ue + ["hors_ue"] * 30,
            "residence_qpv": ["hors_qpv"] * 50 + ["qpv"] * 25,
            "delai_anormal": [1] * 20 + [0] * 20 + [1] * n_ue + [1] * 12 + [0] * 18,
        }
    )
    t = pressure.abnormal_delay_table(frame, threshold=11)
    t = t.assign(axe=t["axe"].map(AXES), groupe=t["groupe"].fillna("ensemble"))
    t = t.set_index(["axe", "groupe"])
    assert pd.isna(t.loc[("nationalite", "ue"), "en_attente"])
    assert pd.isna(t.loc[("nationalite", "ue"), "part"])
    # UE = all - française - hors UE: one of those is hidden too, in each count column
    for col in ("en_attente", "delai_depasse"):
        others = [
            ("ensemble", "ensemble"),
            ("nationalite", "francaise"),
            ("nationalite", "hors_ue"),
        ]
        assert t.loc[others, col].isna().any(), col
        v = pd.to_numeric(t[col], errors="coerce").dropna()
        assert not ((v >= 1) & (v <= 10)).any()
    hand = {
        ("ensemble", "ensemble"): 37 / 75,
        ("nationalite", "francaise"): 20 / 40,
        ("nationalite", "hors_ue"): 12 / 30,
        ("residence_qpv", "hors_qpv"): 30 / 50,
        ("residence_qpv", "qpv"): 7 / 25,
    }
    shown = t["part"].dropna()
    assert len(shown) >= 2
    for key, share in shown.items():
        assert share == pytest.approx(hand[key])


# --------------------------------------------------------------------------- generated territory
@pytest.fixture(scope="module")
def territory(tmp_path_factory):
    folder = tmp_path_factory.mktemp("terr")
    synth.write_dataset(synth.generate(scale="tiny", seed=5), folder)
    return folder


@pytest.fixture(scope="module")
def session(territory, tmp_path_factory):
    from allocation_analysis.session import open_session

    cfg = yaml.safe_load((territory / "config.yaml").read_text("utf-8"))
    files = {
        k: str(territory / v)
        for k, v in cfg.items()
        if k in ("demandes", "attributions", "logements", "seuils", "communes", "qpv")
    }
    return open_session(
        period=cfg["period"],
        territory="demo",
        siren_epci=str(cfg["siren_epci"]),
        secret_threshold=1,  # nothing hidden: every count is compared
        delai_anormal_mois=36,
        output_dir=str(tmp_path_factory.mktemp("out")),
        **files,
    )


def _hand_pending(territory: Path, end: str) -> pd.DataFrame:
    """Demands pending on ``end``, recomputed from the raw CSV files."""
    d = pd.read_csv(territory / "demandes.csv", dtype=str)
    a = pd.read_csv(territory / "attributions.csv", dtype=str)
    first_lease = (
        a.assign(date_bail=pd.to_datetime(a["date_bail"])).groupby("num_unique")["date_bail"].min()
    )
    depot = pd.to_datetime(d["date_depot"])
    rad = pd.to_datetime(d["date_radiation"])
    bail = d["num_unique"].map(first_lease)
    closed = pd.concat([rad, bail], axis=1).min(axis=1)
    e = pd.Timestamp(end)
    pending = d[((depot <= e) & (closed.isna() | (closed > e))).to_numpy()].copy()
    first = pending["communes_souhaitees"].fillna("").str.split("|").str[0].str.strip()
    pending["choix1"] = first.where(first != "", pending["commune_residence"])
    end_date = e.date()
    pending["au_dela"] = [
        int(dt.date.fromisoformat(x) + relativedelta(months=36) < end_date)
        for x in pending["date_depot"]
    ]
    return pending


def test_abnormal_delay_counts_match_a_hand_recomputation_from_the_raw_files(territory, session):
    hand = _hand_pending(territory, END_2025_S2)
    frame = pressure.abnormal_delay_frame(session.access, config=session.config)
    table = pressure.abnormal_delay_table(frame, threshold=1)
    table = table.assign(axe=table["axe"].map(AXES), groupe=table["groupe"].fillna("ensemble"))
    table = table.set_index(["axe", "groupe"])
    assert table.loc[("ensemble", "ensemble"), "en_attente"] == len(hand)
    assert table.loc[("ensemble", "ensemble"), "delai_depasse"] == hand["au_dela"].sum()
    for nat, sub in hand.groupby("nationalite"):
        assert table.loc[("nationalite", nat), "en_attente"] == len(sub)
        assert table.loc[("nationalite", nat), "delai_depasse"] == sub["au_dela"].sum()
    tests = pressure.abnormal_delay_tests(frame, config=session.config).set_index(["id", "group"])
    share = hand.groupby("nationalite")["au_dela"].mean()
    assert tests.loc[("delai_anormal_origin_rates", "hors_ue"), "estimate"] == pytest.approx(
        share["hors_ue"] - share["francaise"]
    )
    adjusted = tests.loc[("delai_anormal_origin_logit", "hors_ue")]
    assert adjusted["estimate_name"] == "odds_ratio" and np.isfinite(adjusted["ame"])


def test_tension_counts_match_a_hand_recomputation_from_the_raw_files(territory, session):
    hand = _hand_pending(territory, END_2025_S2)
    dem = hand.groupby(["choix1", "typologie_demandee"]).size()
    a = pd.read_csv(territory / "attributions.csv", dtype=str)
    when = pd.to_datetime(a["date_bail"])
    year = a[((when >= "2025-01-01") & (when <= END_2025_S2)).to_numpy()]
    att = year.groupby(["commune_logement", "typologie"]).size()
    t = pressure.tension_table(session.access, session.allocations, config=session.config)
    cells = t[(t["commune"] != "ensemble") & (t["typologie"] != pressure.ALL_TYPOLOGIES)]
    got_dem = cells.set_index(["commune", "typologie"])["demandes"]
    got_att = cells.set_index(["commune", "typologie"])["attributions_12m"]
    assert got_dem[got_dem > 0].astype(int).sort_index().to_dict() == dem.sort_index().to_dict()
    assert got_att[got_att > 0].astype(int).sort_index().to_dict() == att.sort_index().to_dict()
    total = t[(t["commune"] == "ensemble") & (t["typologie"] == pressure.ALL_TYPOLOGIES)].iloc[0]
    assert total["demandes"] == len(hand) and total["attributions_12m"] == len(year)
    assert total["ratio"] == pytest.approx(len(hand) / len(year))


def test_published_tension_table_has_no_small_count(session):
    cfg = session.config.with_(secret_threshold=11)
    t = pressure.tension_table(session.access, session.allocations, config=cfg)
    for col in ("demandes", "attributions_12m"):
        v = pd.to_numeric(t[col], errors="coerce").dropna()
        assert not ((v >= 1) & (v <= 10)).any()
    hidden = t["demandes"].isna() | t["attributions_12m"].isna()
    assert t.loc[hidden.to_numpy(), "ratio"].isna().all()


def test_access_at_equal_pressure_reports_one_adjusted_comparison_per_group(session):
    res = pressure.access_equal_pressure_tests(
        session.access, session.allocations, config=session.config
    )
    assert sorted(zip(res["id"], res["group"], strict=True)) == [
        ("access_equal_pressure_origin_logit", "hors_ue"),
        ("access_equal_pressure_origin_logit", "ue"),
        ("access_equal_pressure_residence_logit", "qpv"),
    ]
    assert (res["estimate_name"] == "odds_ratio").all()
    assert np.isfinite(res["estimate"].astype(float)).all()


# --------------------------------------------------------------------------- tension, by hand
def _hand_tension_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Commune A: 40 pending T2, 30 pending T3; B: 25 pending T2; C: 12 pending T4 (2025-S2).

    Leases of 2025 (the rolling 12 months): A T2 20, A T3 12, B T2 5; five more
    A T2 leases of 2024 are outside the window; one A T2 demand was allocated in
    the semester (not pending).
    """
    pending = [("A", "T2")] * 40 + [("A", "T3")] * 30 + [("B", "T2")] * 25 + [("C", "T4")] * 12
    access = pd.DataFrame(
        {
            "commune_choix1": pd.array([c for c, _ in pending] + ["A"], dtype="string"),
            "typologie_demandee": pd.array([t for _, t in pending] + ["T2"], dtype="string"),
            "evenement": [0] * len(pending) + [1],
        }
    )
    leases = (
        [("A", "T2", "2025-03-01")] * 20
        + [("A", "T3", "2025-09-30")] * 12
        + [("B", "T2", "2025-12-31")] * 5
        + [("A", "T2", "2024-12-31")] * 5
    )
    allocations = pd.DataFrame(
        {
            "commune_logement": pd.array([c for c, _, _ in leases], dtype="string"),
            "typologie": pd.array([t for _, t, _ in leases], dtype="string"),
            "date_bail": pd.to_datetime([d for _, _, d in leases]),
        }
    )
    return access, allocations


def _cell(t: pd.DataFrame, commune: str, typ: str) -> pd.Series:
    return t[(t["commune"] == commune) & (t["typologie"] == typ)].iloc[0]


def test_tension_of_a_hand_built_territory_without_secret():
    access, allocations = _hand_tension_frames()
    cfg = AnalysisConfig(period=Period.parse("2025-S2"), secret_threshold=1)
    t = pressure.tension_table(access, allocations, config=cfg)
    every = pressure.ALL_TYPOLOGIES
    expected = {
        ("A", "T2"): (40, 20, 2.0),
        ("A", "T3"): (30, 12, 2.5),
        ("B", "T2"): (25, 5, 5.0),
        ("A", every): (70, 32, 70 / 32),
        ("B", every): (25, 5, 5.0),
        ("ensemble", "T2"): (65, 25, 2.6),
        ("ensemble", "T3"): (30, 12, 2.5),
        ("C", "T4"): (12, 0, np.nan),  # no lease: no ratio
        ("C", every): (12, 0, np.nan),
        ("ensemble", "T4"): (12, 0, np.nan),
        ("ensemble", every): (107, 37, 107 / 37),
    }
    assert len(t) == len(expected)  # only the cells with a pending demand or a lease
    for (commune, typ), (dem, att, ratio) in expected.items():
        row = _cell(t, commune, typ)
        assert (row["demandes"], row["attributions_12m"]) == (dem, att)
        assert row["ratio"] == pytest.approx(ratio, nan_ok=True)


def test_tension_hides_five_leases_and_every_way_back_to_them():
    access, allocations = _hand_tension_frames()
    cfg = AnalysisConfig(period=Period.parse("2025-S2"))
    t = pressure.tension_table(access, allocations, config=cfg)
    every = pressure.ALL_TYPOLOGIES
    assert pd.isna(_cell(t, "B", "T2")["attributions_12m"])
    assert np.isnan(_cell(t, "B", every)["ratio"])
    # 5 = territory T2 - A T2 = territory - A: one term of each difference is hidden
    assert pd.isna(_cell(t, "ensemble", "T2")["attributions_12m"]) or pd.isna(
        _cell(t, "A", "T2")["attributions_12m"]
    )
    assert pd.isna(_cell(t, "ensemble", every)["attributions_12m"]) or pd.isna(
        _cell(t, "A", every)["attributions_12m"]
    )
    for col in ("demandes", "attributions_12m"):
        v = pd.to_numeric(t[col], errors="coerce").dropna()
        assert not ((v >= 1) & (v <= 10)).any()


def _geo(codes: list[str]):
    import geopandas as gpd
    from shapely.geometry import box

    x0, y0 = 700_000, 7_060_000
    return gpd.GeoDataFrame(
        {"insee_com": codes, "nom": [f"Commune {c}" for c in codes]},
        geometry=[box(x0 + i * 2000, y0, x0 + (i + 1) * 2000, y0 + 2000) for i in range(4)],
        crs=2154,
    )


def test_tension_map_shows_published_communes_and_no_small_count():
    from allocation_analysis import figures, maps

    access, allocations = _hand_tension_frames()
    geo = _geo(["A", "B", "C", "D"])
    for threshold in (1, 11):
        cfg = AnalysisConfig(period=Period.parse("2025-S2"), secret_threshold=threshold)
        t = pressure.tension_table(access, allocations, config=cfg, communes=geo)
        rows = pressure.tension_map_frame(t)
        m = maps.tension_map(geo, rows, min_publishable_share=0.0)
        page = maps.render_map(m)
        fields = re.findall(r'"t_(?:num|den)": "([^"]*)"', page)
        counts = [int(f) for f in fields if f.isdigit()]
        fig = figures.tension_choropleth(geo, rows, min_publishable_share=0.0)
        assert "Champ :" in fig.get_supxlabel() and "Lecture :" in fig.get_supxlabel()
        if threshold == 1:
            assert m.publishable and "Champ :" in page and "Lecture :" in page
            # A: 70 demands, 32 leases; B: 25 and 5; C: 12 demands, no lease (hatched)
            assert sorted(counts) == [0, 5, 12, 25, 32, 70]
        else:
            assert [c for c in counts if 1 <= c <= 10] == []
            assert counts or maps.NOT_PUBLISHABLE_TITLE in page
    # A and B shown, C hatched: below a rule of three quarters, the map is a box
    cfg = AnalysisConfig(period=Period.parse("2025-S2"), secret_threshold=1)
    rows = pressure.tension_map_frame(pressure.tension_table(access, allocations, config=cfg))
    m = maps.tension_map(geo, rows, min_publishable_share=0.75)
    assert not m.publishable and maps.NOT_PUBLISHABLE_TITLE in maps.render_map(m)


def test_delai_anormal_mois_of_a_run_reaches_the_configuration_and_the_notebooks(
    territory, tmp_path
):
    from allocation_analysis import pipeline, session

    months = {"T1": 24, "T2": 30, "T3": 36, "T4": 42, "T5+": 48}
    opts = load_config_file(territory / "config.yaml")
    _, cfg, _ = pipeline.config_from_options({**opts, "delai_anormal_mois": months})
    assert cfg.delai_anormal == months and not cfg.delai_anormal_default
    assert pipeline._delai_parameter(cfg) == months  # the notebooks' parameter
    # the notebook side: open_session's parameters give the same configuration
    params = {"period": "2025-S2", "delai_anormal_mois": months}
    assert session._config_from(params).delai_anormal == months
    _, default, _ = pipeline.config_from_options(opts)
    assert default.delai_anormal == 36 and default.delai_anormal_default
    assert pipeline._delai_parameter(default) is None


@pytest.mark.slow
def test_a_run_publishes_the_delai_anormal_and_the_tension(planted_run):
    final = planted_run.final
    results = json.loads((final / "results.json").read_text("utf-8"))
    ids = {(t["id"], t["group"]) for t in results["tests"]}
    for axis, groups in (("origin", ("ue", "hors_ue")), ("residence", ("qpv",))):
        for g in groups:
            for method in ("rates", "logit"):
                assert (f"delai_anormal_{axis}_{method}", g) in ids
            assert (f"access_equal_pressure_{axis}_logit", g) in ids
    territory = [
        t
        for t in results["tension"]
        if t["commune"] == "ensemble" and t["typologie"] == pressure.ALL_TYPOLOGIES
    ]
    assert len(territory) == 1 and territory[0]["demandes"] > 0
    for name in ("delai_anormal", "delai_anormal_tests", "tension", "acces_tension_egale"):
        assert (final / "tables" / f"{name}.csv").is_file()
    assert (final / "maps" / "carte_tension.html").is_file()
    report = (final / "report.html").read_text("utf-8")
    assert "Délai anormalement long" in report and "Tension de la demande" in report
    assert "Seuil par défaut de 36" in report  # the planted run gives no arrêté


def test_abnormal_delay_display_is_french_with_the_run_level_and_hidden_cells():
    frame = pd.DataFrame(
        {
            "nationalite": ["francaise"] * 40 + ["ue"] * 5 + ["hors_ue"] * 30,
            "residence_qpv": ["hors_qpv"] * 50 + ["qpv"] * 25,
            "delai_anormal": [1] * 20 + [0] * 20 + [1] * 5 + [1] * 12 + [0] * 18,
        }
    )
    table = pressure.abnormal_delay_table(frame, threshold=11, alpha=0.10)
    shown = pressure.abnormal_delay_display(table, alpha=0.10)
    assert list(shown.columns)[-1] == "Part (IC 90 %)"
    assert shown["Groupe"].tolist() == [
        "Ensemble",
        "française",
        "UE",
        "hors UE",
        "hors QPV",
        "en QPV",
    ]
    ue = shown[shown["Groupe"] == "UE"].iloc[0]
    assert ue["Demandes en attente"] == "—" and ue["Part (IC 90 %)"] == "—"
    # française: 20 of 40; Wilson 90 % by hand: 0.5 ± 1.6449 × 0.081686 / 1.067642
    nb = "\u202f"
    assert shown.iloc[1]["Part (IC 90 %)"] == f"50,0{nb}% (37,4{nb}% à 62,6{nb}%)"


def test_sheet_names_of_the_new_tables_are_valid_excel_names():
    from allocation_analysis.labels import SHEET_FR

    for name in ("delai_anormal", "delai_anormal_tests", "tension", "acces_tension_egale"):
        sheet = SHEET_FR[name]
        assert len(sheet) <= 31 and not set(sheet) & set("[]:*?/\\"), sheet


def test_tension_table_names_the_communes_when_contours_are_given():
    access, allocations = _hand_tension_frames()
    cfg = AnalysisConfig(period=Period.parse("2025-S2"), secret_threshold=1)
    geo = _geo(["A", "B", "C", "D"])
    t = pressure.tension_table(access, allocations, config=cfg, communes=geo)
    assert list(t.columns[:3]) == ["commune", "nom", "typologie"]
    assert _cell(t, "B", "T2")["nom"] == "Commune B"
    assert _cell(t, "ensemble", pressure.ALL_TYPOLOGIES)["nom"] is None


def test_pressure_control_is_measured_before_the_semester_it_explains():
    # The control of the equal-pressure model must not be built from the
    # outcomes it explains (pending at the END of the semester = not housed in
    # it; leases of the semester = housed): it is the pressure at the START of
    # the semester, demands filed before it per lease of the 12 months before.
    access = pd.DataFrame(
        {
            "commune_choix1": pd.array(["A"] * 6 + ["B"] * 3, dtype="string"),
            "typologie_demandee": pd.array(["T2"] * 9, dtype="string"),
            "date_depot": pd.to_datetime(
                ["2024-01-10"] * 4 + ["2025-08-01"] * 2 + ["2023-05-05"] * 2 + ["2025-07-15"]
            ),
            "evenement": [1, 0, 0, 0, 1, 0, 1, 0, 0],
        }
    )
    leases = [("A", "T2", "2025-03-01")] * 3 + [("A", "T2", "2025-10-01")] * 7
    leases += [("B", "T2", "2024-09-01")]
    allocations = pd.DataFrame(
        {
            "commune_logement": pd.array([c for c, _, _ in leases], dtype="string"),
            "typologie": pd.array([t for _, t, _ in leases], dtype="string"),
            "date_bail": pd.to_datetime([d for _, _, d in leases]),
        }
    )
    got = pressure.pressure_at_start(access, allocations, Period.parse("2025-S2"))
    # A: 4 demands filed before 1 July 2025, 3 leases from 1 July 2024 to 30 June 2025
    # B: 2 demands filed before, 1 lease in the window
    a, b = np.log((4 + 1) / (3 + 1)), np.log((2 + 1) / (1 + 1))
    assert got.tolist() == pytest.approx([a] * 6 + [b] * 3)
    # changing the semester's outcomes does not move the control
    flipped = access.assign(evenement=1 - access["evenement"])
    assert pressure.pressure_at_start(flipped, allocations, Period.parse("2025-S2")).tolist() == (
        pytest.approx(got.tolist())
    )

"""Synthetic generator: determinism, contract, geography, thresholds, truth, planted effects."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

from allocation_analysis.errors import InputError, UsageError
from allocation_analysis.synth import (
    draw_replicates,
    generate,
    load_effects,
    synth_command,
    write_dataset,
)

DEMANDES_COLS = [
    "num_unique", "date_depot", "date_radiation", "motif_radiation", "nationalite",
    "commune_residence", "qpv_residence", "lon", "lat", "nb_personnes", "nb_adultes_sup",
    "nb_enfants_moins_14", "revenus_mensuels", "situation_logement", "prioritaire", "dalo",
    "typologie_demandee", "communes_souhaitees", "age_demandeur", "situation_professionnelle",
    "handicap",
]  # fmt: skip
ATTRIBUTIONS_COLS = [
    "num_unique", "date_bail", "rpls_id", "commune_logement", "qpv_logement", "bailleur_siren",
    "reservataire", "revenus_mensuels", "nb_personnes", "relogement_anru", "dalo", "prioritaire",
    "typologie", "loyer",
]  # fmt: skip
LOGEMENTS_COLS = [
    "rpls_id", "commune", "qpv", "lon", "lat", "nb_pieces", "typologie", "financement", "loyer",
    "annee_construction", "dpe", "bailleur_siren",
]  # fmt: skip
MOTIFS = {
    "attribution", "renonciation", "absence_reponse", "irrecevabilite", "non_renouvellement",
    "regroupement",
}  # fmt: skip
SITUATIONS = {
    "locataire_social", "locataire_prive", "heberge", "structure", "sans_logement",
    "proprietaire", "autre",
}  # fmt: skip
PRO = {
    "cdi", "cdd_interim", "independant", "chomage", "retraite", "etudiant", "sans_activite",
    "autre",
}  # fmt: skip
TYPO = {"T1", "T2", "T3", "T4", "T5+"}
BOOL_TEXT = {"true", "false"}


def _sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    assert synth_command(output=out, seed=1, scale="small", fmt="csv") == 0
    return out


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_files(small_dir: Path, tmp_path: Path) -> None:
    synth_command(output=tmp_path, seed=1, scale="small", fmt="csv")
    first, second = _sha(small_dir), _sha(tmp_path)
    assert set(first) == {
        "demandes.csv", "attributions.csv", "logements.csv", "seuils_q1.csv",
        "bailleurs.csv", "communes.geojson", "qpv.geojson", "truth.json", "effects.yaml",
        "config.yaml",
    }  # fmt: skip
    assert first == second


def test_different_seeds_give_different_data(small_dir: Path, tmp_path: Path) -> None:
    synth_command(output=tmp_path, seed=2, scale="small", fmt="csv")
    first, second = _sha(small_dir), _sha(tmp_path)
    for name in ("demandes.csv", "attributions.csv", "logements.csv", "truth.json"):
        assert first[name] != second[name]
    assert first["communes.geojson"] == second["communes.geojson"]  # the territory is fixed


def test_in_memory_dataset_writes_the_same_files_as_the_command(
    small_dir: Path, tmp_path: Path
) -> None:
    write_dataset(generate(scale="small", seed=1), tmp_path, fmt="csv")
    assert _sha(tmp_path) == _sha(small_dir)


# --------------------------------------------------------------------------- contract
def test_files_have_exactly_the_contract_columns(small_dir: Path) -> None:
    assert list(_read(small_dir, "demandes").columns) == DEMANDES_COLS
    assert list(_read(small_dir, "attributions").columns) == ATTRIBUTIONS_COLS
    assert list(_read(small_dir, "logements").columns) == LOGEMENTS_COLS
    assert list(_read(small_dir, "seuils_q1").columns) == ["annee", "siren_epci", "seuil_uc_annuel"]


def test_demandes_values_follow_the_contract(small_dir: Path) -> None:
    d = _read(small_dir, "demandes")
    assert 4_000 <= len(d) <= 6_000
    assert d["num_unique"].is_unique and d["num_unique"].str.fullmatch(r"0\d{14}").all()
    assert set(d["nationalite"]) == {"francaise", "ue", "hors_ue"}
    assert set(d["situation_logement"]) == SITUATIONS
    assert set(d["typologie_demandee"]) == TYPO
    assert set(d["situation_professionnelle"]) <= PRO
    for col in ("prioritaire", "dalo", "handicap"):
        assert set(d[col]) == BOOL_TEXT
    closed = d["date_radiation"] != ""
    assert ((d["motif_radiation"] != "") == closed).all()
    assert set(d.loc[closed, "motif_radiation"]) == MOTIFS  # every reason occurs
    depot = pd.to_datetime(d["date_depot"], format="%Y-%m-%d")
    rad = pd.to_datetime(d["date_radiation"].replace("", None), format="%Y-%m-%d")
    assert (rad[closed] >= depot[closed]).all()
    assert rad.max() <= pd.Timestamp("2025-12-31") and depot.min() >= pd.Timestamp("2012-01-01")
    assert (rad[closed].dt.strftime("%m-%d") != "12-31").all()
    n = d["nb_personnes"].astype(int)
    assert (n == 1 + d["nb_adultes_sup"].astype(int) + d["nb_enfants_moins_14"].astype(int)).all()
    assert (n >= 1).all() and (d["revenus_mensuels"].astype(float) >= 0).all()
    assert d["commune_residence"].str.fullmatch(r"99\d{3}").all()
    q = d["qpv_residence"]
    assert q[q != ""].str.fullmatch(r"(QP099\d{3}\|QN099\d{3})").all()
    wish = d["communes_souhaitees"].str.split("|")
    assert wish.map(lambda c: 1 <= len(c) == len(set(c)) <= 3).all()
    # resources lower on average for hors_ue applicants (raw vs adjusted differ)
    rev = d["revenus_mensuels"].astype(float)
    assert rev[d["nationalite"] == "hors_ue"].mean() < rev[d["nationalite"] == "francaise"].mean()


def test_attributions_and_logements_follow_the_contract(small_dir: Path) -> None:
    d = _read(small_dir, "demandes").set_index("num_unique")
    a = _read(small_dir, "attributions")
    lg = _read(small_dir, "logements").set_index("rpls_id")
    assert a["num_unique"].is_unique and a["num_unique"].isin(d.index).all()
    dd = d.loc[a["num_unique"]]
    assert (dd["motif_radiation"].to_numpy() == "attribution").all()
    assert (dd["date_radiation"].to_numpy() == a["date_bail"].to_numpy()).all()
    assert (d["motif_radiation"] == "attribution").sum() == len(a)
    assert a["rpls_id"].isin(lg.index).all()
    ll = lg.loc[a["rpls_id"]]
    assert (ll["commune"].to_numpy() == a["commune_logement"].to_numpy()).all()
    assert (ll["qpv"].to_numpy() == a["qpv_logement"].to_numpy()).all()
    assert (ll["typologie"].to_numpy() == dd["typologie_demandee"].to_numpy()).all()
    assert set(a["reservataire"]) == {
        "etat",
        "action_logement",
        "collectivite",
        "bailleur",
        "autre",
    }
    assert set(a["relogement_anru"]) == BOOL_TEXT
    assert set(a["dalo"]) == BOOL_TEXT | {""} and set(a["prioritaire"]) == BOOL_TEXT | {""}
    # updated resources for some leases, sometimes different from the demand's
    given = a["revenus_mensuels"] != ""
    assert 0.5 < given.mean() < 0.95
    diff = (
        a.loc[given, "revenus_mensuels"].astype(float).to_numpy()
        != dd.loc[given.to_numpy(), "revenus_mensuels"].astype(float).to_numpy()
    )
    assert diff.mean() > 0.5
    nb = a["nb_personnes"] != ""
    assert (
        a.loc[nb, "nb_personnes"].astype(int).to_numpy()
        != dd.loc[nb.to_numpy(), "nb_personnes"].astype(int).to_numpy()
    ).any()
    assert set(lg["financement"]) <= {"PLAI", "PLUS", "PLS", "PLI", "autre"}
    assert set(lg["dpe"]) <= set("ABCDEFG") and set(lg["typologie"]) == TYPO
    # higher share of social stock in QPV: QPV dwellings much denser than their area share
    assert (lg["qpv"] != "").mean() > 0.10
    codes = set("|".join(lg["qpv"]).split("|")) - {""}
    assert any(c.startswith("QP") for c in codes) and any(c.startswith("QN") for c in codes)
    # exited and new QPV areas exist: a QP code alone, a QN code alone
    assert (lg["qpv"].str.fullmatch(r"QP\d+")).any() and (lg["qpv"].str.fullmatch(r"QN\d+")).any()


def test_config_is_ready_for_run(small_dir: Path) -> None:
    cfg = yaml.safe_load((small_dir / "config.yaml").read_text(encoding="utf-8"))
    assert cfg == {
        "demandes": "demandes.csv",
        "attributions": "attributions.csv",
        "logements": "logements.csv",
        "seuils": "seuils_q1.csv",
        "communes": "communes.geojson",
        "qpv": "qpv.geojson",
        "period": "2025-S2",
        "territory": "demo",
        "siren_epci": "299999999",
        "bailleurs": "bailleurs.csv",
    }
    from allocation_analysis.config import load_config_file

    assert Path(load_config_file(small_dir / "config.yaml")["demandes"]).is_file()


def test_validate_accepts_small_files_with_zero_rejects(small_dir: Path) -> None:
    from allocation_analysis.config import InputPaths, load_config_file
    from allocation_analysis.io import load_inputs

    paths = InputPaths.from_mapping(load_config_file(small_dir / "config.yaml"))
    inputs = load_inputs(paths)
    for name, rejects in inputs.rejects.items():
        assert len(rejects) == 0, (name, rejects.head())
    assert len(inputs.demandes) == len(_read(small_dir, "demandes"))
    assert len(inputs.attributions) == len(_read(small_dir, "attributions"))


# --------------------------------------------------------------------------- geography
def test_qpv_lie_in_the_communes_and_some_span_two(small_dir: Path) -> None:
    com = gpd.read_file(small_dir / "communes.geojson").to_crs(2154)
    qpv = gpd.read_file(small_dir / "qpv.geojson").to_crs(2154)
    assert len(com) == 90 and com["insee_com"].str.fullmatch(r"99\d{3}").all()
    assert com["insee_com"].is_unique and com["nom"].is_unique
    q24 = qpv[qpv["code_quartier"].str.startswith("QN")]
    assert 20 <= len(q24) <= 30
    union = shapely.union_all(com.geometry.to_numpy())
    for geom in qpv.geometry:
        assert geom.difference(union).area < 1e-3 * geom.area
    spanning = 0
    for geom in q24.geometry:
        shares = com.geometry.intersection(geom).area / geom.area
        spanning += int((shares > 0.1).sum() >= 2)
    assert spanning >= 2
    doc = json.loads((small_dir / "communes.geojson").read_text(encoding="utf-8"))
    assert "fictif" in doc["description"]


def test_dwellings_and_residents_lie_in_their_polygons(small_dir: Path) -> None:
    com = gpd.read_file(small_dir / "communes.geojson").to_crs(2154).set_index("insee_com")
    qpv = gpd.read_file(small_dir / "qpv.geojson").to_crs(2154).set_index("code_quartier")
    lg = _read(small_dir, "logements").sample(500, random_state=0)
    pts = gpd.GeoSeries(
        gpd.points_from_xy(lg["lon"].astype(float), lg["lat"].astype(float)), crs=4326
    ).to_crs(2154)
    for p, c, q in zip(pts, lg["commune"], lg["qpv"], strict=True):
        assert com.geometry[c].buffer(1.0).contains(p)
        for code in filter(None, q.split("|")):
            assert qpv.geometry[code].buffer(1.0).contains(p)


# --------------------------------------------------------------------------- thresholds
def test_thresholds_follow_the_legal_rule(small_dir: Path) -> None:
    d = _read(small_dir, "demandes")
    s = _read(small_dir, "seuils_q1")
    depot = pd.to_datetime(d["date_depot"])
    rad = pd.to_datetime(d["date_radiation"].replace("", None))
    uc = 1 + 0.5 * d["nb_adultes_sup"].astype(int) + 0.3 * d["nb_enfants_moins_14"].astype(int)
    income = d["revenus_mensuels"].astype(float) * 12 / uc
    assert list(s["annee"].astype(int)) == [2022, 2023, 2024, 2025]
    assert set(s["siren_epci"]) == {"299999999"}
    for year, value in zip(s["annee"].astype(int), s["seuil_uc_annuel"].astype(float), strict=True):
        day = pd.Timestamp(year - 1, 12, 31)
        active = (depot <= day) & (rad.isna() | (rad > day))
        v = np.sort(income[active].to_numpy())
        highest_of_poorest_quarter = v[math.ceil(len(v) / 4) - 1]
        assert abs(value - highest_of_poorest_quarter) <= 0.5
        assert 0.24 <= (v <= value).mean() <= 0.27


# --------------------------------------------------------------------------- truth
def _legal_indicators_from_files(folder: Path) -> pd.DataFrame:
    """Territory-scope semester indicators recomputed from the written files."""
    d = _read(folder, "demandes").set_index("num_unique")
    a = _read(folder, "attributions")
    s = _read(folder, "seuils_q1")
    dd = d.loc[a["num_unique"]].reset_index()
    date = pd.to_datetime(a["date_bail"])
    nb_a = a["nb_personnes"].replace("", None).astype(float)
    nb_d = dd["nb_personnes"].astype(float)
    uc_d = 1 + 0.5 * dd["nb_adultes_sup"].astype(int) + 0.3 * dd["nb_enfants_moins_14"].astype(int)
    uc = np.where(nb_a.notna() & (nb_a != nb_d), 1 + 0.5 * (nb_a - 1), uc_d)
    rev = (
        a["revenus_mensuels"]
        .replace("", None)
        .astype(float)
        .fillna(dd["revenus_mensuels"].astype(float))
    )
    seuil = date.dt.year.map(
        dict(zip(s["annee"].astype(int), s["seuil_uc_annuel"].astype(float), strict=True))
    )
    q1 = rev * 12 / uc <= seuil
    prefix = np.where(date.dt.year >= 2024, "QN", "QP")
    in_qpv = pd.Series([p in c for p, c in zip(prefix, a["qpv_logement"], strict=True)])
    anru = a["relogement_anru"] == "true"
    prio_a = a["prioritaire"].replace("", None).fillna(dd["prioritaire"]) == "true"
    dalo_a = a["dalo"].replace("", None).fillna(dd["dalo"]) == "true"
    prio = prio_a | dalo_a
    sem = date.dt.year.astype(str) + np.where(date.dt.month <= 6, "-S1", "-S2")
    rows = []
    for label in sorted(sem.unique()):
        m = sem == label
        hq = m & ~in_qpv
        rows.append(("q1_hors_qpv", label, int((hq & (q1 | anru)).sum()), int(hq.sum())))
        eq = m & in_qpv
        rows.append(("non_q1_en_qpv", label, int((eq & ~q1).sum()), int(eq.sum())))
        for r in ("action_logement", "collectivite", "bailleur"):
            mr = m & (a["reservataire"] == r)
            rows.append((f"prioritaires_{r}", label, int((mr & prio).sum()), int(mr.sum())))
    return pd.DataFrame(rows, columns=["indicateur", "periode", "numerateur", "denominateur"])


def test_truth_legal_indicators_match_the_files(small_dir: Path) -> None:
    truth = json.loads((small_dir / "truth.json").read_text(encoding="utf-8"))
    t = pd.DataFrame(truth["indicateurs"])
    terr = t[(t["perimetre"] == "territoire") & (t["fenetre"] == "semestre")]
    expected = _legal_indicators_from_files(small_dir)
    got = terr[["indicateur", "periode", "numerateur", "denominateur"]]
    merged = expected.merge(got, on=["indicateur", "periode"], how="outer", suffixes=("", "_t"))
    assert len(merged) == 40
    assert (merged["numerateur"] == merged["numerateur_t"]).all()
    assert (merged["denominateur"] == merged["denominateur_t"]).all()
    # rolling 12 months = sum of the two semesters
    roll = t[(t["perimetre"] == "territoire") & (t["fenetre"] == "12_mois")]
    row = roll[(roll["indicateur"] == "q1_hors_qpv") & (roll["periode"] == "2025-S2")].iloc[0]
    e = expected[expected["indicateur"] == "q1_hors_qpv"].set_index("periode")
    assert (
        row["denominateur"] == e.loc["2025-S1", "denominateur"] + e.loc["2025-S2", "denominateur"]
    )
    assert row["numerateur"] == e.loc["2025-S1", "numerateur"] + e.loc["2025-S2", "numerateur"]
    # breakdowns add up to the territory
    for scope in ("reservataire", "commune", "mutation"):
        sub = t[(t["perimetre"] == scope) & (t["fenetre"] == "semestre")]
        total = sub.groupby(["indicateur", "periode"])[["numerateur", "denominateur"]].sum()
        ref = terr.set_index(["indicateur", "periode"])[["numerateur", "denominateur"]]
        assert total.loc[ref.index].equals(ref)
    assert truth["seed"] == 1 and truth["scale"] == "small" and truth["fictif"] is True
    assert "approximate" in truth and "waiting_time_hazard_ratio" in truth["approximate"]


# --------------------------------------------------------------------------- planted effects
def _access_frame_from_files(folder: Path) -> pd.DataFrame:
    """(demand, semester) frame rebuilt from the files with the generator's covariates."""
    d = _read(folder, "demandes")
    a = _read(folder, "attributions")
    depot = pd.to_datetime(d["date_depot"])
    rad = pd.to_datetime(d["date_radiation"].replace("", None))
    bail = d["num_unique"].map(
        dict(zip(a["num_unique"], pd.to_datetime(a["date_bail"]), strict=True))
    )
    uc = 1 + 0.5 * d["nb_adultes_sup"].astype(int) + 0.3 * d["nb_enfants_moins_14"].astype(int)
    base = pd.DataFrame(
        {
            "nat": d["nationalite"],
            "qpv": (d["qpv_residence"] != "").astype(int),
            "typ": d["typologie_demandee"],
            "prio": (d["prioritaire"] == "true").astype(int),
            "dalo": (d["dalo"] == "true").astype(int),
            "lrev": np.log(d["revenus_mensuels"].astype(float) * 12 / uc),
            "nbp": d["nb_personnes"].astype(int),
            "sit": d["situation_logement"],
        }
    )
    parts = []
    for year in range(2022, 2026):
        for start, end in ((f"{year}-01-01", f"{year}-06-30"), (f"{year}-07-01", f"{year}-12-31")):
            s, e = pd.Timestamp(start), pd.Timestamp(end)
            active = (depot <= e) & (rad.isna() | (rad >= s))
            f = base[active].copy()
            f["senior"] = ((s - depot[active]).dt.days.clip(lower=0)) / 365.25
            f["access"] = ((bail[active] >= s) & (bail[active] <= e)).astype(int)
            parts.append(f)
    return pd.concat(parts, ignore_index=True)


def test_logistic_regression_recovers_the_planted_access_odds_ratios(small_dir: Path) -> None:
    import statsmodels.formula.api as smf

    frame = _access_frame_from_files(small_dir)
    fit = smf.logit(
        "access ~ C(nat, Treatment('francaise')) + qpv + C(typ) + prio + dalo + lrev + senior"
        " + nbp + C(sit, Treatment('locataire_prive'))",
        data=frame,
    ).fit(disp=False)
    ci = fit.conf_int()
    planted = load_effects()["access"]
    for term, value in (
        ("C(nat, Treatment('francaise'))[T.hors_ue]", planted["nationalite"]["hors_ue"]),
        ("C(nat, Treatment('francaise'))[T.ue]", planted["nationalite"]["ue"]),
        ("qpv", planted["residence_qpv"]),
    ):
        lo, hi = ci.loc[term]
        assert lo <= math.log(value) <= hi, (term, lo, hi, math.log(value))


# --------------------------------------------------------------------------- formats and errors
def test_fr_csv_is_cp1252_semicolon_decimal_comma(tmp_path: Path) -> None:
    synth_command(output=tmp_path / "fr", seed=3, scale="tiny", fmt="fr-csv")
    synth_command(output=tmp_path / "en", seed=3, scale="tiny", fmt="csv")
    raw = (tmp_path / "fr" / "demandes.csv").read_bytes()
    text = raw.decode("cp1252")
    assert text.encode("cp1252") == raw
    header, first = text.splitlines()[:2]
    assert header.split(";")[:3] == ["num_unique", "date_depot", "date_radiation"]
    fields = first.split(";")
    assert len(fields) == len(DEMANDES_COLS)
    assert pd.to_datetime(fields[1], format="%d/%m/%Y") is not pd.NaT
    fr = pd.read_csv(
        tmp_path / "fr" / "demandes.csv",
        sep=";",
        dtype=str,
        keep_default_na=False,
        encoding="cp1252",
    )
    en = _read(tmp_path / "en", "demandes")
    assert fr["revenus_mensuels"].str.fullmatch(r"\d+,\d+").all()
    assert (fr["revenus_mensuels"].str.replace(",", ".") == en["revenus_mensuels"]).all()
    assert set(fr["prioritaire"]) == {"oui", "non"}
    assert (
        pd.to_datetime(fr["date_depot"], format="%d/%m/%Y") == pd.to_datetime(en["date_depot"])
    ).all()
    s = (tmp_path / "fr" / "seuils_q1.csv").read_text(encoding="cp1252")
    assert ";" in s and "," in s.splitlines()[1]


def test_parquet_format_writes_parquet_tables(tmp_path: Path) -> None:
    write_dataset(generate(scale="tiny", seed=4), tmp_path, fmt="parquet")
    d = pd.read_parquet(tmp_path / "demandes.parquet")
    assert list(d.columns) == DEMANDES_COLS
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["demandes"] == "demandes.parquet"


def test_null_effects_file_has_every_ratio_one() -> None:
    eff = load_effects("null")
    values = [*eff["access"]["nationalite"].values(), eff["access"]["residence_qpv"]]
    values += [*eff["placement_qpv"]["nationalite"].values(), eff["placement_qpv"]["residence_qpv"]]
    values.append(eff["placement_qpv"]["premier_quartile"])
    assert values == [1.0] * 7


def test_invalid_effects_and_options_raise_user_errors(tmp_path: Path) -> None:
    bad = tmp_path / "e.yaml"
    bad.write_text("access:\n  nationalite: {ue: -1, hors_ue: 0.7}\n", encoding="utf-8")
    with pytest.raises(InputError, match="access.nationalite.ue"):
        load_effects(bad)
    with pytest.raises(InputError):
        load_effects(tmp_path / "absent.yaml")
    with pytest.raises(UsageError):
        generate(scale="huge")
    with pytest.raises(UsageError):
        synth_command(output=tmp_path, fmt="xlsx")


def test_draw_replicates_yields_independent_datasets() -> None:
    reps = list(draw_replicates(3, scale="tiny", effects="null", seed=5))
    assert len(reps) == 3
    assert all(r.truth["effects"]["access"]["residence_qpv"] == 1.0 for r in reps)
    assert len({len(r.demandes) for r in reps} | {len(r.attributions) for r in reps}) > 1


def test_population_can_be_placed_on_real_communes(shared_geo: Path) -> None:
    ds = generate(scale="tiny", seed=1, communes=shared_geo / "mel_communes.geojson")
    real = gpd.read_file(shared_geo / "mel_communes.geojson")
    codes = set(real["insee_com"].astype(str))
    assert set(ds.logements["commune"]) <= codes
    assert set(ds.demandes["commune_residence"]) <= codes | {"99999"}
    assert (ds.logements["qpv"] != "").any()  # QPV areas drawn inside the real communes
    assert ds.truth["fictif"] is False


def test_validate_accepts_french_spreadsheet_export_with_zero_rejects(tmp_path: Path) -> None:
    from allocation_analysis.config import InputPaths, load_config_file
    from allocation_analysis.io import load_inputs

    synth_command(output=tmp_path, seed=6, scale="tiny", fmt="fr-csv")
    inputs = load_inputs(InputPaths.from_mapping(load_config_file(tmp_path / "config.yaml")))
    assert all(len(r) == 0 for r in inputs.rejects.values())
    assert len(inputs.attributions) == len(_read_fr(tmp_path, "attributions"))


def _read_fr(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", sep=";", dtype=str, encoding="cp1252")


def test_confounded_null_differs_by_group_but_plants_no_disparity() -> None:
    from allocation_analysis.synth import generate

    eff = load_effects("null_confounded")
    assert all(v == 1.0 for v in eff["access"]["nationalite"].values())
    assert eff["composition"]["seniority_years"]["hors_ue"] == 1.0
    ds = generate(scale="small", seed=4, effects="null_confounded")
    plain = generate(scale="small", seed=4, effects="null")
    dem = ds.demandes.assign(depot=pd.to_datetime(ds.demandes["date_depot"]))
    start = pd.Timestamp("2022-01-01")
    stock = dem[dem["depot"] < start]
    age = (start - stock["depot"]).dt.days.groupby(stock["nationalite"]).mean() / 365.25
    # demands of non-EU nationals pending at the start were filed more recently
    assert age["hors_ue"] < 0.6 * age["francaise"]
    first = ds.demandes["communes_souhaitees"].str.split("|").str[0]
    first_plain = plain.demandes["communes_souhaitees"].str.split("|").str[0]
    from allocation_analysis.synth import demo_territory

    w = demo_territory().communes.set_index("insee_com")["poids"]
    core = set(w.nlargest(10).index)
    share = first.isin(core).groupby(ds.demandes["nationalite"]).mean()
    share_plain = first_plain.isin(core).groupby(plain.demandes["nationalite"]).mean()
    assert share["hors_ue"] > share_plain["hors_ue"] + 0.2
    assert abs(share["francaise"] - share_plain["francaise"]) < 0.02
    assert ds.truth["effects"]["composition"]["commune_effect_sd"] == 0.5


def test_composition_block_is_checked(tmp_path: Path) -> None:
    bad = {
        "access": {"nationalite": {"ue": 1, "hors_ue": 1}, "residence_qpv": 1},
        "placement_qpv": {
            "nationalite": {"ue": 1, "hors_ue": 1},
            "residence_qpv": 1,
            "premier_quartile": 1,
        },
        "composition": {"first_choice_core": {"hors_ue": 1.5}},
    }
    with pytest.raises(InputError, match="first_choice_core.hors_ue"):
        load_effects(bad)


def test_landlord_names_file_names_every_landlord_of_the_allocations(small_dir: Path) -> None:
    names = pd.read_csv(small_dir / "bailleurs.csv", dtype=str)
    assert names.columns.tolist() == ["bailleur_siren", "nom"]
    assert names["bailleur_siren"].is_unique and names["nom"].str.endswith("(fictif)").all()
    att = pd.read_csv(small_dir / "attributions.csv", dtype=str)
    assert set(att["bailleur_siren"]) <= set(names["bailleur_siren"])

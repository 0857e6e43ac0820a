"""Indicators from input files: load → derive → compute_indicators.

Two families:

* hand-built files for the cases decided upstream (resources updated at
  allocation crossing the threshold, first quartile exactly at the threshold,
  threshold of the lease year, a 2015-list QPV leased in 2023 vs 2024, ANRU
  rehousing), every count written out below;
* the synthetic generator's ``truth.json`` indicators (computed by the generator
  from its own variables), reproduced exactly at ``small`` scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocation_analysis.config import AnalysisConfig, InputPaths, Period
from allocation_analysis.indicators import compute_indicators

derive = pytest.importorskip("allocation_analysis.derive")
io = pytest.importorskip("allocation_analysis.io")

KEY = b"indicators-end-to-end-test-key-0"
SIREN = "200093201"


def write_inputs(folder: Path) -> InputPaths:
    """Eight one-person households (1 UC: income per UC = monthly income × 12).

    Thresholds: 9 000 € (2023), 9 600 € (2024).

    ====  ==========  =======  ============  ===========  =========================
    id    lease       demand   allocation    QPV code     decided upstream
    ====  ==========  =======  ============  ===========  =========================
    a     2024-03-01  700      900           —            10 800 > 9 600: not Q1
    b     2024-03-02  900      780           —            9 360 ≤ 9 600: Q1
    c     2024-04-01  1000     800           —            9 600 = 9 600: Q1
    d     2023-12-31  1000     —             QP059001     2015 list in force: QPV
    e     2024-01-01  1000     —             QP059001     2015 list ended: not QPV
    f     2024-02-01  700      —             QN05901M     2024 list: QPV; 8 400: Q1
    g     2024-05-01  2000     —             —            ANRU rehousing
    h     2023-08-01  760      —             —            9 120 > 9 000 (2023): not Q1
    ====  ==========  =======  ============  ===========  =========================
    """
    rows = [
        ("a", "2024-03-01", 700, 900, ""),
        ("b", "2024-03-02", 900, 780, ""),
        ("c", "2024-04-01", 1000, 800, ""),
        ("d", "2023-12-31", 1000, None, "QP059001"),
        ("e", "2024-01-01", 1000, None, "QP059001"),
        ("f", "2024-02-01", 700, None, "QN05901M"),
        ("g", "2024-05-01", 2000, None, ""),
        ("h", "2023-08-01", 760, None, ""),
    ]
    dem = pd.DataFrame(
        {
            "num_unique": [f"0591223{r[0]}0001" for r in rows],
            "date_depot": "2022-01-15",
            "nationalite": "francaise",
            "commune_residence": "59350",
            "nb_personnes": 1,
            "nb_adultes_sup": 0,
            "nb_enfants_moins_14": 0,
            "revenus_mensuels": [r[2] for r in rows],
            "situation_logement": "locataire_prive",
            "prioritaire": "non",
            "dalo": "non",
            "typologie_demandee": "T2",
        }
    )
    att = pd.DataFrame(
        {
            "num_unique": [f"0591223{r[0]}0001" for r in rows],
            "date_bail": [r[1] for r in rows],
            "commune_logement": "59350",
            "qpv_logement": [r[4] for r in rows],
            "bailleur_siren": "123456789",
            "reservataire": "etat",
            "revenus_mensuels": ["" if r[3] is None else r[3] for r in rows],
            "relogement_anru": ["oui" if r[0] == "g" else "non" for r in rows],
        }
    )
    seu = pd.DataFrame(
        {"annee": [2023, 2024], "siren_epci": SIREN, "seuil_uc_annuel": [9000, 9600]}
    )
    dem.to_csv(folder / "demandes.csv", index=False)
    att.to_csv(folder / "attributions.csv", index=False)
    seu.to_csv(folder / "seuils_q1.csv", index=False)
    return InputPaths(
        demandes=folder / "demandes.csv",
        attributions=folder / "attributions.csv",
        seuils=folder / "seuils_q1.csv",
    )


@pytest.fixture(scope="module")
def hand_indicators(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("hand_inputs")
    paths = write_inputs(folder)
    period = Period.parse("2024-S1")
    inputs = io.load_inputs(paths, key=KEY, siren_epci=SIREN, period=period)
    cfg = AnalysisConfig(period=period, siren_epci=SIREN)
    allocations = derive.prepare_allocations(inputs, config=cfg)
    assert len(allocations) == 8
    return compute_indicators(allocations, period=period, config=cfg)


def row(ind, id_, window):
    sel = ind[(ind["id"] == id_) & (ind["window"] == window) & (ind["scope"] == "territory")]
    assert len(sel) == 1
    return int(sel["numerator"].iloc[0]), int(sel["denominator"].iloc[0])


def test_upstream_cases_semester(hand_indicators):
    # Semester 2024-S1, outside QPV: a, b, c, e, g; Q1 or ANRU: b, c (at the threshold), g.
    assert row(hand_indicators, "q1_hors_qpv", "semester") == (3, 5)
    # In QPV: f only (2024 list), and f is Q1.
    assert row(hand_indicators, "non_q1_en_qpv", "semester") == (0, 1)


def test_upstream_cases_rolling_12_months(hand_indicators):
    # + h (2023-08-01, outside QPV, above the 2023 threshold): 3 of 6.
    assert row(hand_indicators, "q1_hors_qpv", "rolling_12m") == (3, 6)
    # + d (2023-12-31, 2015-list QPV in force, not Q1): 1 of 2.
    assert row(hand_indicators, "non_q1_en_qpv", "rolling_12m") == (1, 2)


# --------------------------------------------------------------------------- synthetic truth

_WINDOW = {"semestre": "semester", "12_mois": "rolling_12m"}
_SCOPE = {"territoire": "territory", "commune": "commune", "reservataire": "reservataire"}
_SCOPE["mutation"] = "mutation"
_GROUP = {"ensemble": None, "premier_acces": "premiere_attribution"}


@pytest.mark.slow
def test_synthetic_truth_indicators_reproduced_exactly(tmp_path):
    synth = pytest.importorskip("allocation_analysis.synth")
    ds = synth.generate(scale="small", seed=11)
    folder = synth.write_dataset(ds, tmp_path / "synth")
    cfg_file = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    paths = InputPaths.from_mapping(cfg_file, base=folder)
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))["indicateurs"]
    inputs = io.load_inputs(paths, key=KEY, siren_epci=cfg_file["siren_epci"])
    cfg = AnalysisConfig(period=Period.parse(cfg_file["period"]), siren_epci=cfg_file["siren_epci"])
    allocations = derive.prepare_allocations(inputs, config=cfg)

    expected = {}
    for r in truth:
        scope = _SCOPE[r["perimetre"]]
        if scope == "reservataire" and r["indicateur"].startswith("prioritaires_"):
            continue  # not produced: would repeat the territory row (module docstring)
        value = _GROUP.get(r["groupe"], r["groupe"])
        key = (r["indicateur"], scope, value, _WINDOW[r["fenetre"]], r["periode"])
        expected[key] = (r["numerateur"], r["denominateur"])
    assert expected, "truth.json holds no indicator"

    got = {}
    periods = sorted({k[4] for k in expected})
    for label in periods:
        windows = tuple(sorted({k[3] for k in expected if k[4] == label}, reverse=True))
        ind = compute_indicators(
            allocations,
            period=label,
            config=cfg.with_(period=Period.parse(label)),
            windows=windows,
            scopes=("territory", "commune", "reservataire", "mutation"),
        )
        ind = ind[ind["denominator"] > 0]  # truth.json leaves out empty entries
        for r in ind.itertuples():
            value = None if pd.isna(r.scope_value) else r.scope_value
            got[(r.id, r.scope, value, r.window, r.period)] = (int(r.numerator), int(r.denominator))

    missing = sorted(set(expected) - set(got), key=str)[:5]
    extra = sorted(set(got) - set(expected), key=str)[:5]
    assert not missing and not extra, (missing, extra)
    wrong = [(k, expected[k], got[k]) for k in expected if expected[k] != got[k]]
    assert wrong == [], wrong[:5]
    assert len(expected) > 500

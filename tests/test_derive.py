"""Derived quantities against hand-computed cases (data-contract.md, "Derived quantities")."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from allocation_analysis.config import AnalysisConfig, Period, UCScale
from allocation_analysis.derive import (
    access_frame,
    annual_income_per_uc,
    consumption_units,
    first_quartile,
    in_window,
    period_window,
    prepare_allocations,
    prepare_demandes,
    qpv_in_force,
    semester_of,
    threshold_in_force,
)
from allocation_analysis.errors import InputError

D = pd.Timestamp
SIREN = "200093201"


# --------------------------------------------------------------------------- #
# builders of loaded tables (dtypes of docs/data-model.md §1)
# --------------------------------------------------------------------------- #
def demandes_frame(rows: list[dict]) -> pd.DataFrame:
    defaults = {
        "date_radiation": pd.NaT,
        "motif_radiation": pd.NA,
        "nationalite": "francaise",
        "commune_residence": "59350",
        "qpv_residence": pd.NA,
        "nb_personnes": 1,
        "nb_adultes_sup": 0,
        "nb_enfants_moins_14": 0,
        "revenus_mensuels": 1000.0,
        "situation_logement": "locataire_prive",
        "prioritaire": False,
        "dalo": False,
        "typologie_demandee": "T2",
        "communes_souhaitees": pd.NA,
    }
    df = pd.DataFrame([{**defaults, **r} for r in rows])
    return df.astype(
        {
            "demande_id": "string",
            "date_depot": "datetime64[ns]",
            "date_radiation": "datetime64[ns]",
            "motif_radiation": "string",
            "nationalite": "string",
            "commune_residence": "string",
            "qpv_residence": "string",
            "nb_personnes": "Int64",
            "nb_adultes_sup": "Int64",
            "nb_enfants_moins_14": "Int64",
            "revenus_mensuels": "float64",
            "situation_logement": "string",
            "prioritaire": bool,
            "dalo": bool,
            "typologie_demandee": "string",
            "communes_souhaitees": "string",
        }
    )


def attributions_frame(rows: list[dict]) -> pd.DataFrame:
    defaults = {
        "rpls_id": pd.NA,
        "commune_logement": "59350",
        "qpv_logement": pd.NA,
        "bailleur_siren": "123456789",
        "reservataire": "etat",
        "revenus_mensuels": np.nan,
        "nb_personnes": pd.NA,
        "relogement_anru": pd.NA,
        "dalo": pd.NA,
        "prioritaire": pd.NA,
        "typologie": "T2",
    }
    df = pd.DataFrame([{**defaults, **r} for r in rows])
    return df.astype(
        {
            "demande_id": "string",
            "date_bail": "datetime64[ns]",
            "rpls_id": "string",
            "commune_logement": "string",
            "qpv_logement": "string",
            "bailleur_siren": "string",
            "reservataire": "string",
            "revenus_mensuels": "float64",
            "nb_personnes": "Int64",
            "relogement_anru": "boolean",
            "dalo": "boolean",
            "prioritaire": "boolean",
            "typologie": "string",
        }
    )


def no_attributions() -> pd.DataFrame:
    return attributions_frame([{"demande_id": "x", "date_bail": D("2025-01-01")}]).iloc[0:0]


def seuils_frame(values: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "annee": pd.array(list(values), dtype="Int64"),
            "siren_epci": pd.array([SIREN] * len(values), dtype="string"),
            "seuil_uc_annuel": list(values.values()),
        }
    )


def inputs(demandes, attributions, *, seuils=None, logements=None, qpv=None, communes=None):
    return SimpleNamespace(
        demandes=demandes,
        attributions=attributions,
        logements=logements,
        seuils=seuils if seuils is not None else seuils_frame({2024: 6000.0, 2025: 6000.0}),
        communes=communes,
        qpv=qpv,
    )


def config(period: str = "2025-S1") -> AnalysisConfig:
    return AnalysisConfig(period=Period.parse(period), siren_epci=SIREN)


# --------------------------------------------------------------------------- #
# consumption units and income
# --------------------------------------------------------------------------- #
def test_uc_of_applicant_other_adult_and_two_children_is_2_1():
    # 1 (applicant) + 0.5 (other person 14+) + 2 × 0.3 (children) = 2.1
    uc, est = consumption_units(pd.Series([4]), pd.Series([1]), pd.Series([2]))
    assert uc.iloc[0] == pytest.approx(2.1)
    assert not est.iloc[0]


def test_uc_fallback_when_split_unknown_is_flagged():
    # 1 + 0.5 × (4 − 1) = 2.5
    uc, est = consumption_units(pd.Series([4]), pd.Series([pd.NA]), pd.Series([2]))
    assert uc.iloc[0] == pytest.approx(2.5)
    assert est.iloc[0]


def test_uc_fallback_when_split_inconsistent_with_household_size():
    # 1 + 1 + 1 = 3 persons declared in the split, but 4 in the household
    uc, est = consumption_units(pd.Series([4, 1]), pd.Series([1, 0]), pd.Series([1, 0]))
    assert uc.tolist() == pytest.approx([2.5, 1.0])
    assert est.tolist() == [True, False]


def test_uc_without_split_columns_uses_fallback():
    uc, est = consumption_units(pd.Series([1, 2, 3]))
    assert uc.tolist() == pytest.approx([1.0, 1.5, 2.0])
    assert est.all()


def test_uc_scale_is_a_parameter():
    # square-root-like alternative weights: 1 + 0.7 + 2 × 0.5 = 2.7
    scale = UCScale(first_adult=1.0, other_14_plus=0.7, child_under_14=0.5)
    uc, _ = consumption_units(pd.Series([4]), pd.Series([1]), pd.Series([2]), scale=scale)
    assert uc.iloc[0] == pytest.approx(2.7)


def test_uc_rejects_missing_household_size():
    with pytest.raises(InputError, match="Taille du ménage"):
        consumption_units(pd.Series([2, pd.NA], dtype="Int64"))


def test_annual_income_per_uc():
    # 1050 €/month × 12 = 12 600 €/year, / 2.1 UC = 6000 €/UC
    out = annual_income_per_uc(pd.Series([1050.0]), pd.Series([2.1]))
    assert out.iloc[0] == pytest.approx(6000.0)


# --------------------------------------------------------------------------- #
# first quartile
# --------------------------------------------------------------------------- #
def test_q1_boundary_equality_counts_as_q1():
    out = first_quartile(pd.Series([6000.0, 6000.01, 5999.99]), pd.Series([6000.0] * 3))
    assert out.tolist() == [True, False, True]


def test_q1_refuses_missing_income():
    with pytest.raises(ValueError):
        first_quartile(pd.Series([np.nan]), pd.Series([6000.0]))


def test_threshold_of_the_lease_year():
    seuils = seuils_frame({2024: 9000.0, 2025: 9500.0})
    dates = pd.Series([D("2024-12-31"), D("2025-01-01"), pd.NaT])
    out = threshold_in_force(seuils, dates, siren_epci=SIREN)
    assert out.iloc[0] == 9000.0
    assert out.iloc[1] == 9500.0
    assert math.isnan(out.iloc[2])


def test_threshold_missing_year_names_year_and_epci():
    seuils = seuils_frame({2024: 9000.0})
    with pytest.raises(InputError) as exc:
        threshold_in_force(seuils, pd.Series([D("2025-03-01")]), siren_epci=SIREN)
    assert "2025" in str(exc.value)
    assert SIREN in str(exc.value)


def test_threshold_of_another_epci_is_not_used():
    seuils = seuils_frame({2025: 9000.0})
    with pytest.raises(InputError, match="999999999"):
        threshold_in_force(seuils, pd.Series([D("2025-03-01")]), siren_epci="999999999")


# --------------------------------------------------------------------------- #
# periods and QPV lists
# --------------------------------------------------------------------------- #
def test_semester_edges():
    dates = pd.Series(
        [D("2025-01-01"), D("2025-06-30"), D("2025-07-01"), D("2025-12-31"), D("2026-01-01")]
    )
    assert semester_of(dates).tolist() == ["2025-S1", "2025-S1", "2025-S2", "2025-S2", "2026-S1"]


def test_semester_of_missing_date_is_na():
    assert semester_of(pd.Series([pd.NaT], dtype="datetime64[ns]")).isna().all()


def test_rolling_twelve_months_window():
    assert period_window("2025-S2", rolling=True) == (D("2025-01-01"), D("2025-12-31"))
    assert period_window("2025-S1", rolling=True) == (D("2024-07-01"), D("2025-06-30"))
    assert period_window("2025-S1") == (D("2025-01-01"), D("2025-06-30"))
    start, end = period_window("2025-S1", rolling=True)
    dates = pd.Series([D("2024-06-30"), D("2024-07-01"), D("2025-06-30"), D("2025-07-01"), pd.NaT])
    assert in_window(dates, start, end).tolist() == [False, True, True, False, False]


def test_in_window_accepts_dates():
    dates = pd.Series([D("2025-07-01")])
    assert in_window(dates, dt.date(2025, 7, 1), dt.date(2025, 12, 31)).tolist() == [True]


def test_qp_code_in_force_until_2023_and_qn_from_2024():
    codes = pd.Series(["QP059001", "QP059001", "QN05965M", "QN05965M", "QP059001|QN05965M", pd.NA])
    dates = pd.Series(
        [
            D("2023-12-31"),
            D("2024-01-01"),
            D("2023-12-31"),
            D("2024-01-01"),
            D("2024-01-01"),
            D("2024-01-01"),
        ]
    )
    assert qpv_in_force(codes, dates).tolist() == [True, False, False, True, True, False]


# --------------------------------------------------------------------------- #
# prepare_demandes
# --------------------------------------------------------------------------- #
def test_prepare_demandes_derived_columns():
    dem = demandes_frame(
        [
            {
                "demande_id": "a",
                "date_depot": D("2024-01-10"),
                "nb_personnes": 4,
                "nb_adultes_sup": 1,
                "nb_enfants_moins_14": 2,
                "revenus_mensuels": 1050.0,
                "situation_logement": "locataire_social",
                "communes_souhaitees": "59009|59350",
            },
            {
                "demande_id": "b",
                "date_depot": D("2024-01-10"),
                "nb_personnes": 4,
                "nb_adultes_sup": pd.NA,
                "nb_enfants_moins_14": pd.NA,
                "revenus_mensuels": 1250.0,
                "commune_residence": "59017",
            },
        ]
    )
    att = attributions_frame([{"demande_id": "a", "date_bail": D("2025-02-03")}])
    out = prepare_demandes(inputs(dem, att), config=config())
    a, b = out.iloc[0], out.iloc[1]
    assert a["uc"] == pytest.approx(2.1) and not a["uc_estimee"]
    # 1250 × 12 / 2.5 = 6000
    assert b["uc"] == pytest.approx(2.5) and b["uc_estimee"]
    assert a["revenu_annuel_uc"] == pytest.approx(6000.0)
    assert b["revenu_annuel_uc"] == pytest.approx(6000.0)
    assert out["mutation"].tolist() == [True, False]
    assert out["commune_choix1"].tolist() == ["59009", "59017"]
    assert a["date_bail"] == D("2025-02-03")
    assert pd.isna(b["date_bail"])
    assert out["residence_qpv"].tolist() == ["hors_qpv", "hors_qpv"]


def test_residence_qpv_uses_the_list_in_force_at_the_reference_date():
    dem = demandes_frame(
        [
            {"demande_id": "old", "date_depot": D("2023-01-10"), "qpv_residence": "QP059001"},
            {"demande_id": "new", "date_depot": D("2023-01-10"), "qpv_residence": "QN05965M"},
        ]
    )
    att = no_attributions()
    in_2023 = prepare_demandes(inputs(dem, att), config=config("2023-S2"))
    in_2025 = prepare_demandes(inputs(dem, att), config=config("2025-S1"))
    assert in_2023["residence_qpv"].tolist() == ["qpv", "hors_qpv"]
    assert in_2025["residence_qpv"].tolist() == ["hors_qpv", "qpv"]


def _square_qpv_around(lon: float, lat: float, code: str, half_side_m: float = 200.0):
    """A square QPV polygon (EPSG:2154) centred on the projection of (lon, lat)."""
    x, y = Transformer.from_crs(4326, 2154, always_xy=True).transform(lon, lat)
    square = shapely.box(x - half_side_m, y - half_side_m, x + half_side_m, y + half_side_m)
    return gpd.GeoDataFrame(
        {"code_qpv": [code], "nom_qpv": ["Test"], "liste": ["2024"]},
        geometry=[square],
        crs="EPSG:2154",
    )


def test_residence_qpv_from_coordinates_and_coordinates_dropped():
    qpv = _square_qpv_around(3.1, 50.6, "QN05965M")
    dem = demandes_frame(
        [
            {"demande_id": "in", "date_depot": D("2024-05-01")},
            {"demande_id": "out", "date_depot": D("2024-05-01")},
            {"demande_id": "unknown", "date_depot": D("2024-05-01")},
        ]
    )
    dem["lon"] = [3.1, 3.2, np.nan]  # 3.2° east is ~7 km away
    dem["lat"] = [50.6, 50.6, np.nan]
    att = no_attributions()
    out = prepare_demandes(inputs(dem, att, qpv=qpv), config=config("2025-S1"))
    assert out["qpv_residence"].tolist()[0] == "QN05965M"
    assert out["qpv_residence"].isna().tolist() == [False, True, True]
    assert out["residence_qpv"].tolist() == ["qpv", "hors_qpv", "hors_qpv"]
    assert "lon" not in out.columns and "lat" not in out.columns


# --------------------------------------------------------------------------- #
# prepare_allocations
# --------------------------------------------------------------------------- #
def _one_demand(**kw) -> pd.DataFrame:
    row = {
        "demande_id": "a",
        "date_depot": D("2024-01-10"),
        "nb_personnes": 4,
        "nb_adultes_sup": 1,
        "nb_enfants_moins_14": 2,
        "revenus_mensuels": 1000.0,
    }
    row.update(kw)
    return demandes_frame([row])


def test_allocation_income_crosses_threshold_compared_with_demand_income():
    # demand: 1000 × 12 / 2.1 = 5714.29 ≤ 6000 → Q1
    # allocation: 1100 × 12 / 2.1 = 6285.71 > 6000 → not Q1
    dem = _one_demand()
    att_with = attributions_frame(
        [{"demande_id": "a", "date_bail": D("2025-03-01"), "revenus_mensuels": 1100.0}]
    )
    att_without = attributions_frame([{"demande_id": "a", "date_bail": D("2025-03-01")}])
    with_income = prepare_allocations(inputs(dem, att_with), config=config()).iloc[0]
    without = prepare_allocations(inputs(dem, att_without), config=config()).iloc[0]
    assert with_income["revenus_attribution"] == 1100.0
    assert with_income["revenu_annuel_uc"] == pytest.approx(1100 * 12 / 2.1)
    assert not with_income["q1"]
    assert without["revenus_attribution"] == 1000.0
    assert without["revenu_annuel_uc"] == pytest.approx(1000 * 12 / 2.1)
    assert without["q1"]
    assert without["seuil_q1"] == 6000.0


def test_allocation_household_size_different_from_demand_uses_fallback():
    # demand: 4 persons (1 + 1 adult + 2 children) → 2.1 UC
    # allocation: 3 persons → fallback 1 + 0.5 × 2 = 2.0 UC, flagged
    dem = _one_demand()
    att = attributions_frame(
        [
            {"demande_id": "a", "date_bail": D("2025-03-01"), "nb_personnes": 3},
        ]
    )
    out = prepare_allocations(inputs(dem, att), config=config()).iloc[0]
    assert out["uc_attribution"] == pytest.approx(2.0)
    assert out["uc_estimee"]
    same = attributions_frame(
        [{"demande_id": "a", "date_bail": D("2025-03-01"), "nb_personnes": 4}]
    )
    out = prepare_allocations(inputs(dem, same), config=config()).iloc[0]
    assert out["uc_attribution"] == pytest.approx(2.1)
    assert not out["uc_estimee"]


def test_allocation_threshold_of_lease_year():
    # 1000 × 12 / 2.1 = 5714.29: Q1 under the 2024 threshold (6000), not under 2025's (5000)
    dem = demandes_frame(
        [
            {
                "demande_id": "a",
                "date_depot": D("2024-01-10"),
                "nb_personnes": 4,
                "nb_adultes_sup": 1,
                "nb_enfants_moins_14": 2,
            },
            {
                "demande_id": "b",
                "date_depot": D("2024-01-10"),
                "nb_personnes": 4,
                "nb_adultes_sup": 1,
                "nb_enfants_moins_14": 2,
            },
        ]
    )
    att = attributions_frame(
        [
            {"demande_id": "a", "date_bail": D("2024-12-31")},
            {"demande_id": "b", "date_bail": D("2025-01-01")},
        ]
    )
    seuils = seuils_frame({2024: 6000.0, 2025: 5000.0})
    out = prepare_allocations(inputs(dem, att, seuils=seuils), config=config())
    assert out["seuil_q1"].tolist() == [6000.0, 5000.0]
    assert out["q1"].tolist() == [True, False]
    assert out["semestre"].tolist() == ["2024-S2", "2025-S1"]


def test_allocation_statuses_fallback_to_demand_and_anru_missing_is_false():
    dem = demandes_frame(
        [
            {"demande_id": "a", "date_depot": D("2024-01-10"), "dalo": True, "prioritaire": False},
            {
                "demande_id": "b",
                "date_depot": D("2024-01-10"),
                "dalo": True,
                "prioritaire": True,
                "situation_logement": "locataire_social",
                "nationalite": "hors_ue",
            },
        ]
    )
    att = attributions_frame(
        [
            {"demande_id": "a", "date_bail": D("2025-03-01")},
            {
                "demande_id": "b",
                "date_bail": D("2025-03-01"),
                "dalo": False,
                "prioritaire": False,
                "relogement_anru": True,
            },
        ]
    )
    out = prepare_allocations(inputs(dem, att), config=config())
    assert out["dalo"].tolist() == [True, False]
    assert out["prioritaire"].tolist() == [False, False]
    assert out["prioritaire_ou_dalo"].tolist() == [True, False]
    assert out["relogement_anru"].tolist() == [False, True]
    assert out["mutation"].tolist() == [False, True]
    assert out["nationalite"].tolist() == ["francaise", "hors_ue"]
    assert out["relogement_anru"].dtype == bool


def test_dwelling_location_from_logements_when_rpls_id_given():
    dem = demandes_frame(
        [
            {"demande_id": "a", "date_depot": D("2023-01-10"), "qpv_residence": "QP059001"},
            {"demande_id": "b", "date_depot": D("2023-01-10")},
        ]
    )
    att = attributions_frame(
        [
            {
                "demande_id": "a",
                "date_bail": D("2023-12-31"),
                "rpls_id": "R1",
                "commune_logement": "59017",
            },
            {
                "demande_id": "b",
                "date_bail": D("2024-01-01"),
                "commune_logement": "59009",
                "qpv_logement": "QP059002",
            },
        ]
    )
    logements = pd.DataFrame(
        {
            "rpls_id": pd.array(["R1"], dtype="string"),
            "commune": pd.array(["59350"], dtype="string"),
            "qpv": pd.array(["QP059001|QN05965M"], dtype="string"),
            "typologie": pd.array(["T4"], dtype="string"),
        }
    )
    seuils = seuils_frame({2023: 6000.0, 2024: 6000.0})
    out = prepare_allocations(inputs(dem, att, logements=logements, seuils=seuils), config=config())
    assert out["commune_logement"].tolist() == ["59350", "59009"]
    assert out["qpv_logement"].tolist() == ["QP059001|QN05965M", "QP059002"]
    assert out["typologie"].tolist() == ["T4", "T2"]
    # lease of b on 2024-01-01: a QP code is no longer in force
    assert out["logement_en_qpv"].tolist() == [True, False]
    # residence of a: QP code in force on its lease date 2023-12-31
    assert out["residence_qpv"].tolist() == ["qpv", "hors_qpv"]


def test_allocation_for_unknown_demand_is_an_input_error():
    dem = _one_demand()
    att = attributions_frame([{"demande_id": "zzz", "date_bail": D("2025-03-01")}])
    with pytest.raises(InputError, match="demande absente"):
        prepare_allocations(inputs(dem, att), config=config())


# --------------------------------------------------------------------------- #
# access_frame
# --------------------------------------------------------------------------- #
def test_access_frame_membership_on_edge_dates_and_event_coding():
    # period 2025-S1: 2025-01-01 .. 2025-06-30
    dem = demandes_frame(
        [
            # filed on the last day of the semester: in, censored, 0 days
            {"demande_id": "filed_on_end", "date_depot": D("2025-06-30")},
            # closed (other motive) on the first day: in, event 2
            {
                "demande_id": "closed_on_start",
                "date_depot": D("2024-01-01"),
                "date_radiation": D("2025-01-01"),
                "motif_radiation": "renonciation",
            },
            # filed the day after: out
            {"demande_id": "filed_after", "date_depot": D("2025-07-01")},
            # closed the day before: out
            {
                "demande_id": "closed_before",
                "date_depot": D("2024-01-01"),
                "date_radiation": D("2024-12-31"),
                "motif_radiation": "non_renouvellement",
            },
            # allocated in the semester: event 1
            {
                "demande_id": "allocated",
                "date_depot": D("2024-10-01"),
                "date_radiation": D("2025-03-15"),
                "motif_radiation": "attribution",
            },
            # allocated after the semester: censored at its end
            {"demande_id": "allocated_later", "date_depot": D("2024-10-01")},
            # allocated before the semester (not yet closed in the extract): out
            {"demande_id": "allocated_before", "date_depot": D("2024-10-01")},
        ]
    )
    att = attributions_frame(
        [
            {"demande_id": "allocated", "date_bail": D("2025-03-15")},
            {"demande_id": "allocated_later", "date_bail": D("2025-08-01")},
            {"demande_id": "allocated_before", "date_bail": D("2024-12-31")},
        ]
    )
    prepared = prepare_demandes(inputs(dem, att), config=config())
    out = access_frame(prepared, Period.parse("2025-S1")).set_index("demande_id")
    assert sorted(out.index) == sorted(
        ["filed_on_end", "closed_on_start", "allocated", "allocated_later"]
    )
    assert out.loc["filed_on_end", "evenement"] == 0
    assert out.loc["filed_on_end", "duree_jours"] == 0
    assert out.loc["filed_on_end", "entree_jours"] == 0
    # 2024-01-01 → 2025-01-01: 366 days (2024 is a leap year)
    assert out.loc["closed_on_start", "evenement"] == 2
    assert out.loc["closed_on_start", "duree_jours"] == 366
    assert out.loc["closed_on_start", "entree_jours"] == 366
    assert not out.loc["closed_on_start", "access"]
    # 2024-10-01 → 2025-03-15: Oct 31 + Nov 30 + Dec 31 + Jan 31 + Feb 28 + 14 = 165
    assert out.loc["allocated", "evenement"] == 1
    assert out.loc["allocated", "access"]
    assert out.loc["allocated", "duree_jours"] == 165
    # 2024-10-01 → 2025-01-01: 31 + 30 + 31 = 92 days
    assert out.loc["allocated", "entree_jours"] == 92
    assert out.loc["allocated", "anciennete_annees"] == pytest.approx(92 / 365.25)
    # censored at 2025-06-30: 92 + 31 + 28 + 31 + 30 + 31 + 29 = 272
    assert out.loc["allocated_later", "evenement"] == 0
    assert out.loc["allocated_later", "duree_jours"] == 272
    assert not out.loc["allocated_later", "access"]
    # controls: log1p(1000 × 12 / 1)
    assert out.loc["allocated", "log_revenu_uc"] == pytest.approx(math.log(12001.0))
    assert (out["entree_jours"] <= out["duree_jours"]).all()
    # risk-set entry one day before the first observed day: a closing on the
    # semester's first day and a same-day closing stay in the risk set
    assert out.loc["closed_on_start", "entree_risque_jours"] == 365
    assert out.loc["filed_on_end", "entree_risque_jours"] == -1
    assert out.loc["allocated", "entree_risque_jours"] == 91
    assert (out["entree_risque_jours"] < out["duree_jours"]).all()


def test_access_frame_allocation_and_other_closing_same_day_counts_as_allocation():
    # lease and a closing of another motive both on 2025-03-15: an allocation;
    # a closing on 2025-03-14 before a lease on 2025-03-15: another exit
    dem = demandes_frame(
        [
            {
                "demande_id": "tie",
                "date_depot": D("2025-03-01"),
                "date_radiation": D("2025-03-15"),
                "motif_radiation": "renonciation",
            },
            {
                "demande_id": "before",
                "date_depot": D("2025-03-01"),
                "date_radiation": D("2025-03-14"),
                "motif_radiation": "renonciation",
            },
        ]
    )
    att = attributions_frame(
        [
            {"demande_id": "tie", "date_bail": D("2025-03-15")},
            {"demande_id": "before", "date_bail": D("2025-03-15")},
        ]
    )
    prepared = prepare_demandes(inputs(dem, att), config=config())
    out = access_frame(prepared, "2025-S1").set_index("demande_id")
    assert out.loc["tie", "evenement"] == 1 and out.loc["tie", "duree_jours"] == 14
    assert out.loc["before", "evenement"] == 2 and out.loc["before", "duree_jours"] == 13

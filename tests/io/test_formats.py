"""Round trips of every accepted format and quirk, checked against hand-written values."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    ATTRIBUTIONS_HEADER,
    ATTRIBUTIONS_ROWS,
    DEMANDES_HEADER,
    DEMANDES_ROWS,
    KEY_HEX,
    write_csv,
)

from allocation_analysis.io import load_table, read_table


def _hmac16(text: str) -> str:
    return hmac.new(bytes.fromhex(KEY_HEX), text.encode(), hashlib.sha256).hexdigest()[:16]


def test_french_spreadsheet_export_cp1252_semicolon_decimal_comma(valid_files):
    raw, info = read_table(valid_files["demandes"])
    assert (info.encoding, info.sep, info.format) == ("cp1252", ";", "csv")
    assert raw.loc[4, "commune_residence"] == "2A004"
    assert raw.loc[2, "num_unique"] == "059100001"  # leading zero kept

    res = load_table(valid_files["demandes"], "demandes")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (5, 5, 0)
    d = res.data.set_index("source_row")
    assert d.loc[2, "revenus_mensuels"] == pytest.approx(1234.56)  # "1 234,56"
    assert d.loc[4, "revenus_mensuels"] == pytest.approx(2100.5)
    assert d.loc[2, "lon"] == pytest.approx(3.0573)
    assert d.loc[2, "date_depot"] == pd.Timestamp("2022-01-15")  # 15/01/2022
    assert d.loc[3, "date_depot"] == pd.Timestamp("2023-03-02")  # ISO
    assert d.loc[3, "date_radiation"] == pd.Timestamp("2024-06-20")
    assert list(d["nationalite"]) == ["francaise", "hors_ue", "ue", "francaise", "hors_ue"]
    assert list(d["situation_logement"]) == [
        "locataire_prive",
        "heberge",
        "locataire_social",
        "sans_logement",
        "structure",
    ]
    assert list(d["typologie_demandee"]) == ["T3", "T1", "T5+", "T2", "T5+"]
    assert list(d["prioritaire"]) == [True, False, False, False, False]
    assert list(d["dalo"]) == [False, False, True, True, True]
    assert d["handicap"].tolist() == [False, pd.NA, pd.NA, True, pd.NA]
    assert d.loc[4, "commune_residence"] == "2A004"
    assert d.loc[2, "communes_souhaitees"] == "59350|59009"
    assert d.loc[3, "situation_professionnelle"] == "chomage"
    assert str(d["nb_personnes"].dtype) == "Int64"
    assert str(d["commune_residence"].dtype) == "string"
    assert d["prioritaire"].dtype == bool
    assert str(d["handicap"].dtype) == "boolean"


def test_num_unique_replaced_by_keyed_hash(valid_files):
    dem = load_table(valid_files["demandes"], "demandes").data
    att = load_table(valid_files["attributions"], "attributions").data
    assert "num_unique" not in dem.columns and "num_unique" not in att.columns
    assert dem.loc[0, "demande_id"] == _hmac16("059100001")
    assert att.loc[0, "demande_id"] == _hmac16("059100002")
    assert str(dem["demande_id"].dtype) == "string"


def test_utf8_with_bom_and_comma_separator(tmp_path):
    rows = [r.replace(",", ".") for r in DEMANDES_ROWS]
    p = write_csv(tmp_path / "d.csv", DEMANDES_HEADER, rows, encoding="utf-8-sig", sep=",")
    raw, info = read_table(p)
    assert info.encoding == "utf-8-sig" and info.sep == ","
    assert raw.columns[0] == "num_unique"  # no BOM glued to the first header
    res = load_table(p, "demandes")
    assert (res.n_read, res.n_accepted) == (5, 5)
    assert res.data.loc[0, "revenus_mensuels"] == pytest.approx(1234.56)  # "1 234.56"


def test_utf8_without_bom_tab_separator(tmp_path):
    p = write_csv(tmp_path / "d.tsv", DEMANDES_HEADER, DEMANDES_ROWS, encoding="utf-8", sep="\t")
    raw, info = read_table(p)
    assert (info.encoding, info.sep) == ("utf-8", "\t")
    assert raw.loc[3, "situation_logement"] == "hébergé"
    assert load_table(p, "demandes").n_accepted == 5


def test_declared_encoding_and_separator_are_used(tmp_path):
    p = write_csv(tmp_path / "d.csv", DEMANDES_HEADER, DEMANDES_ROWS, encoding="latin-1")
    raw, info = read_table(p, encoding="latin-1", sep=";")
    assert info.encoding == "latin-1"
    assert raw.loc[2, "nationalite"] == "Française"


def test_quoted_field_with_newline_is_rejected_line_by_line(tmp_path):
    # One record is one line: a quoted field spanning lines is not a thing in these
    # exports, so both lines of the record are rejected and later lines keep their number.
    p = tmp_path / "logements.csv"
    p.write_text(
        'rpls_id,commune,loyer\n"R0\n01","59350","310,5"\nR002,5935,400\nR003,59009,"1 000"\n',
        encoding="utf-8",
    )
    res = load_table(p, "logements")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (4, 1, 3)
    assert res.data["rpls_id"].tolist() == ["R003"]
    assert res.data["loyer"].tolist() == [1000.0]
    assert res.data["source_row"].tolist() == [5]
    assert res.rejects[["source_row", "rule", "value"]].values.tolist() == [
        [2, "enregistrement_multiligne", ""],
        [3, "enregistrement_multiligne", ""],
        [4, "code_insee", "5935"],
    ]
    assert "lignes 2 à 3" in res.rejects.loc[0, "message"]


def test_blank_lines_are_skipped_but_row_numbers_match_the_file(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("annee;siren_epci;seuil_uc_annuel\n2024;200093201;1\n\n2025;200093201;-1\n")
    res = load_table(p, "seuils_q1")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (2, 1, 1)
    assert res.rejects["source_row"].tolist() == [4]  # line 4 of the file


def test_xlsx_named_sheet_with_numbers_and_date_cells(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "notes"
    ws = wb.create_sheet("donnees")
    ws.append(DEMANDES_HEADER.split(";"))
    ws.append(
        ["059100001", dt.datetime(2022, 1, 15), None, None, "Française", 59350, None, 3.0573, 50.6292,
         3, 1, 1, 1234.56, "locataire privé", "oui", False, "T3", None, 34, None, None]
    )  # fmt: skip
    ws.append(
        ["059100009", "02/03/2023", None, None, "hors ue", "2A004", None, None, None,
         1, 0, 0, 850, "heberge", True, 0, "T1", None, None, None, None]
    )  # fmt: skip
    p = tmp_path / "demandes.xlsx"
    wb.save(p)
    raw, info = read_table(p, sheet="donnees")
    assert info.format == "xlsx"
    assert raw.loc[2, "commune_residence"] == "59350"  # number cell, no ".0"
    assert raw.loc[2, "date_depot"] == "2022-01-15"
    res = load_table(p, "demandes", sheet="donnees")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (2, 2, 0)
    d = res.data
    assert d["date_depot"].tolist() == [pd.Timestamp("2022-01-15"), pd.Timestamp("2023-03-02")]
    assert d["commune_residence"].tolist() == ["59350", "2A004"]
    assert d["prioritaire"].tolist() == [True, True]
    assert d["dalo"].tolist() == [False, False]
    assert d.loc[0, "revenus_mensuels"] == pytest.approx(1234.56)


def test_parquet_typed_columns_round_trip(tmp_path):
    df = pd.DataFrame(
        {
            "num_unique": ["059100001", "059100002"],
            "date_depot": pd.to_datetime(["2022-01-15", "2023-03-02"]),
            "nationalite": ["francaise", "Hors UE"],
            "commune_residence": ["59350", "2A004"],
            "nb_personnes": pd.array([3, 1], dtype="Int64"),
            "revenus_mensuels": [1234.56, 850.0],
            "situation_logement": ["heberge", "autre"],
            "prioritaire": [True, False],
            "dalo": [False, False],
            "typologie_demandee": ["T3", "T1"],
        }
    )
    p = tmp_path / "demandes.parquet"
    df.to_parquet(p)
    res = load_table(p, "demandes")
    assert (res.n_read, res.n_accepted) == (2, 2)
    d = res.data
    assert d["source_row"].tolist() == [2, 3]
    assert d["date_depot"].tolist() == list(df["date_depot"])
    assert d["nationalite"].tolist() == ["francaise", "hors_ue"]
    assert d["nb_personnes"].tolist() == [3, 1]
    assert d["prioritaire"].tolist() == [True, False]
    assert d.loc[0, "demande_id"] == _hmac16("059100001")
    # Optional columns absent from the file exist, all missing, with their dtype.
    assert d["date_radiation"].isna().all() and str(d["age_demandeur"].dtype) == "Int64"


def test_column_map_yaml_renames_columns_and_maps_values(tmp_path):
    header = DEMANDES_HEADER.replace("num_unique", "N° unique").replace(
        "nationalite", "Nationalité"
    )
    rows = [r.replace("Française", "1").replace("Hors UE", "3") for r in DEMANDES_ROWS[:2]]
    p = write_csv(tmp_path / "d.csv", header, rows)
    cmap = tmp_path / "map.yaml"
    cmap.write_text(
        'demandes:\n  columns:\n    "N° unique": num_unique\n    "Nationalité": nationalite\n'
        '  values:\n    nationalite:\n      "1": francaise\n      "3": hors_ue\n',
        encoding="utf-8",
    )
    res = load_table(p, "demandes", column_map=cmap)
    assert (res.n_read, res.n_accepted) == (2, 2)
    assert res.data["nationalite"].tolist() == ["francaise", "hors_ue"]


def test_example_column_map_is_valid():
    from allocation_analysis.io import load_column_map

    example = (
        Path(__file__).resolve().parents[2] / "allocation_analysis/data/column_map.example.yaml"
    )
    cmap = load_column_map(example)
    assert cmap.for_table("demandes").columns["Date de dépôt"] == "date_depot"
    assert cmap.for_table("demandes").values["nationalite"]["3"] == "hors_ue"


def test_headers_matched_ignoring_case_accents_and_spaces(tmp_path):
    header = DEMANDES_HEADER.replace("date_depot", "Date Dépôt").replace("dalo", " DALO ")
    p = write_csv(tmp_path / "d.csv", header, DEMANDES_ROWS)
    assert load_table(p, "demandes").n_accepted == 5


def test_attributions_and_optional_booleans(valid_files):
    res = load_table(valid_files["attributions"], "attributions")
    a = res.data
    assert a["reservataire"].tolist() == ["etat", "action_logement", "collectivite"]
    assert a["relogement_anru"].tolist() == [False, True, pd.NA]
    assert a.loc[0, "loyer"] == pytest.approx(310.2)
    assert a["date_bail"].tolist() == [
        pd.Timestamp("2024-06-15"),
        pd.Timestamp("2024-09-01"),
        pd.Timestamp("2024-03-03"),
    ]
    assert (res.n_read, res.n_accepted) == (len(ATTRIBUTIONS_ROWS), len(ATTRIBUTIONS_ROWS))
    assert ATTRIBUTIONS_HEADER.startswith("num_unique")

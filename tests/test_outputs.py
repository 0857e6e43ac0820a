"""Published-file writers: formula injection, determinism, NaN handling."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from allocation_analysis.outputs import escape_formula, write_csv, write_json, write_xlsx

INJECTIONS = [
    '=HYPERLINK("http://evil.example","clic")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "\tx",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_text_that_a_spreadsheet_would_execute_is_prefixed(text):
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize("value", [-3.5, 0, "commune", "59350", None])
def test_numbers_and_plain_text_are_unchanged(value):
    assert escape_formula(value) == value


def test_csv_cells_never_start_with_a_formula_character(tmp_path):
    frame = pd.DataFrame({"nom": INJECTIONS, "x": range(len(INJECTIONS))})
    path = write_csv(frame, tmp_path / "t.csv")
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for row in rows[1:]:
        assert row[0].startswith("'")
        assert row[1].lstrip("-").isdigit()


def test_xlsx_holds_injections_as_text_not_formulas(tmp_path):
    frame = pd.DataFrame({"nom": INJECTIONS, "share": [0.1] * len(INJECTIONS)})
    path = write_xlsx({"t": frame}, tmp_path / "t.xlsx")
    ws = load_workbook(path)["t"]
    values = [ws.cell(row=i, column=1).value for i in range(2, 2 + len(INJECTIONS))]
    types = [ws.cell(row=i, column=1).data_type for i in range(2, 2 + len(INJECTIONS))]
    assert values == ["'" + t for t in INJECTIONS]
    assert set(types) == {"s"}
    assert ws.cell(row=2, column=2).number_format == "0.0%"


def test_xlsx_is_byte_identical_for_identical_tables(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    p1 = write_xlsx({"t": frame}, tmp_path / "a.xlsx").read_bytes()
    p2 = write_xlsx({"t": frame}, tmp_path / "b.xlsx").read_bytes()
    assert p1 == p2


def test_json_writes_null_for_nan_and_numpy_scalars(tmp_path):
    path = write_json(
        {"a": np.float64("nan"), "b": np.int64(3), "c": [float("inf"), 1.5]}, tmp_path / "r.json"
    )
    assert json.loads(path.read_text()) == {"a": None, "b": 3, "c": [None, 1.5]}
    assert "NaN" not in path.read_text()


def test_negative_numbers_stay_numbers_and_plain_numbers_in_text_are_kept(tmp_path):
    frame = pd.DataFrame(
        {
            "x": [-3.5, 2.0],
            "n": pd.array([-1, 4], dtype="Int64"),
            "t": pd.array(["-5", "-2+3"], dtype="string"),
            "mix": pd.Series([-7, "=1+1"], dtype=object),
            "cat": pd.Categorical(["@SUM(A1)", "ok"]),
        }
    )
    path = write_csv(frame, tmp_path / "t.csv")
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    assert rows[1] == ["-3.5", "-1", "-5", "-7", "'@SUM(A1)"]
    assert rows[2] == ["2", "4", "'-2+3", "'=1+1", "ok"]
    ws = load_workbook(write_xlsx({"t": frame}, tmp_path / "t.xlsx"))["t"]
    assert ws.cell(row=2, column=1).value == -3.5 and ws.cell(row=2, column=1).data_type == "n"
    assert ws.cell(row=3, column=4).value == "'=1+1"
    assert ws.cell(row=2, column=5).value == "'@SUM(A1)"


def test_workbook_for_french_office_software(tmp_path):
    from allocation_analysis.labels import ALL_CODES

    tests = pd.DataFrame(
        {
            "id": ["access_origin_logit"],
            "group": ["hors_ue"],
            "reference": ["francaise"],
            "estimate_name": ["odds_ratio"],
            "estimate": [0.795],
            "ci_low": [0.61],
            "ci_high": [1.04],
            "p_adjusted": [0.0412],
            "n": [1125],
            "suppressed": [False],
        }
    )
    ind = pd.DataFrame(
        {"id": ["q1_hors_qpv"], "window": ["semester"], "share": [0.209], "ci_low": [0.15]}
    )
    long = "ecarts_communes_nationalite_hors_ue"
    wb = load_workbook(
        write_xlsx(
            {"tests": tests, "indicateurs": ind, long: ind},
            tmp_path / "t.xlsx",
            notice={"title": "Analyse — démonstration", "source": "Source : données fictives"},
        )
    )
    assert wb.sheetnames[0] == "Lisez-moi"
    assert all(len(n) <= 31 for n in wb.sheetnames)
    readme = " ".join(str(c.value) for row in wb["Lisez-moi"].iter_rows() for c in row)
    assert "secret statistique" in readme and "Source : données fictives" in readme
    ws = wb["Tests d'écart"]
    headers = [c.value for c in ws[1]]
    assert "IC bas" in headers and "ci_low" not in headers
    col = {h: i + 1 for i, h in enumerate(headers)}
    # an odds-ratio bound is a number with two decimals, not a percentage
    assert ws.cell(row=2, column=col["IC bas"]).number_format == "0.00"
    assert ws.cell(row=2, column=col["p ajustée"]).number_format == "0.000"
    assert ws.cell(row=2, column=col["Effectif"]).number_format == "0"
    assert ws.cell(row=2, column=col["Groupe"]).value == "ménages de nationalité hors UE"
    assert ws.auto_filter.ref
    wi = wb["Indicateurs légaux"]
    assert wi.cell(row=2, column=3).number_format == "0.0%"  # a share
    assert wi.cell(row=2, column=4).number_format == "0.0%"  # its interval
    for w in wb.worksheets[1:]:
        for row in w.iter_rows(min_row=2):
            for c in row:
                if isinstance(c.value, str) and c.column_letter != "A":
                    assert c.value not in ALL_CODES


def test_csv_for_french_excel_reads_back_with_semicolon_decimal_comma_and_bom(tmp_path):
    from allocation_analysis.labels import ALL_CODES
    from allocation_analysis.outputs import write_csv_excel

    frame = pd.DataFrame(
        {
            "id": ["access_origin_logit", "access_origin_logit"],
            "group": ["hors_ue", "ue"],
            "estimate": [0.795, 1.2],
            "p_adjusted": [0.0412, 0.5],
            "n": [1125, 40],
            "suppressed": [False, True],
        }
    )
    path = write_csv_excel(frame, tmp_path / "tests.csv")
    raw = path.read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf"  # UTF-8 byte-order mark
    assert "0,795;0,0412;1125;non" in raw.decode("utf-8-sig")
    back = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")
    assert back.loc[0, "Estimation"] == pytest.approx(0.795)
    assert back.loc[0, "Effectif"] == 1125
    assert back.loc[0, "Groupe"] == "ménages de nationalité hors UE"
    assert back.loc[1, "Masqué (secret)"] == "oui"
    internal = set(frame.columns)
    assert not [h for h in back.columns if h in internal or h in ALL_CODES]


def test_landlord_names_are_put_next_to_their_siren_and_only_there():
    from allocation_analysis.outputs import with_landlord_names

    ind = pd.DataFrame(
        {
            "id": ["q1_hors_qpv"] * 4,
            "scope": ["territory", "bailleur", "bailleur", "commune"],
            "scope_value": ["", "399000011", "399000029", "59350"],
            "share": [0.2, 0.3, 0.1, 0.25],
        }
    )
    named = with_landlord_names(ind, {"399000011": "Habitat des Deux Rives"})
    assert list(named.columns) == ["id", "scope", "scope_value", "nom_bailleur", "share"]
    assert named["nom_bailleur"].tolist() == ["", "Habitat des Deux Rives", "", ""]
    assert named["scope_value"].tolist() == ind["scope_value"].tolist()
    flat = pd.DataFrame({"bailleur_siren": ["399000011"], "n": [12]})
    assert with_landlord_names(flat, {"399000011": "X"}).columns.tolist() == [
        "bailleur_siren",
        "nom_bailleur",
        "n",
    ]
    assert with_landlord_names(ind, {}) is ind  # no names: the table is unchanged


def test_scope_bailleur_reads_par_bailleur_and_text_booleans_read_oui_non(tmp_path):
    from allocation_analysis.outputs import write_csv_excel

    # as read back from tables/*.csv: every cell is text
    ind = pd.DataFrame(
        {
            "scope": ["territory", "bailleur"],
            "scope_value": ["", "399000011"],
            "suppressed": ["False", "True"],
        }
    )
    back = pd.read_csv(
        write_csv_excel(ind, tmp_path / "i.csv"),
        sep=";",
        decimal=",",
        encoding="utf-8-sig",
        dtype=str,
        keep_default_na=False,
    )
    assert back["Périmètre"].tolist() == ["ensemble du territoire", "par bailleur"]
    assert back["Masqué (secret)"].tolist() == ["non", "oui"]


def test_crossed_groups_are_written_in_words_not_as_codes(tmp_path):
    from allocation_analysis.outputs import write_csv_excel

    tests = pd.DataFrame({"group": ["hors_ue|qpv", "ue"], "reference": ["francaise|hors_qpv"] * 2})
    back = pd.read_csv(
        write_csv_excel(tests, tmp_path / "t.csv"), sep=";", decimal=",", encoding="utf-8-sig"
    )
    assert back["Groupe"].tolist() == [
        "ménages de nationalité hors UE résidant en QPV",
        "ménages ressortissants de l'UE",
    ]
    assert back["Référence"].iloc[0] == "ménages de nationalité française résidant hors QPV"

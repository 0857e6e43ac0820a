"""Rows never vanish, a bad row never blames another file, nothing personal leaks.

Each test writes its file by hand, so the expected accounting (rows read,
accepted, rejected, and which line) is known independently of the code.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    ATTRIBUTIONS_HEADER,
    ATTRIBUTIONS_ROWS,
    DEMANDES_HEADER,
    DEMANDES_ROWS,
    LOGEMENTS_HEADER,
    LOGEMENTS_ROWS,
    SEUILS_HEADER,
    SEUILS_ROWS,
    write_csv,
)

from allocation_analysis.config import InputPaths
from allocation_analysis.errors import InputError
from allocation_analysis.io import load_inputs, load_table, read_table

COMMENT_HEADER = ATTRIBUTIONS_HEADER + ";commentaire"


def allocation(i: int, comment: str = "") -> str:
    """A valid allocation row with a free-text comment (a column outside the contract)."""
    return f"0591{i:05d};15/06/2024;;59350;;123456789;etat;;;;;;;;{comment}"


def write_allocations(tmp_path: Path, rows: list[str]) -> Path:
    return write_csv(tmp_path / "attributions.csv", COMMENT_HEADER, rows)


# ------------------------------------------------------------ 1. rows must not vanish


def test_stray_quote_in_free_text_does_not_swallow_the_following_lines(tmp_path):
    # 1 430 allocations; line 101 (row index 99) opens a quote it never closes, the
    # legitimately quoted comment of line 159 closes it: lines 101-159 used to be read as
    # one record (1 372 rows read, all accepted, exit 0).
    rows = [allocation(i) for i in range(1430)]
    rows[99] = allocation(99, '"trop cher, refus probable')
    rows[157] = allocation(157, '"logement calme"')
    rows[300] = allocation(300).replace("15/06/2024", "31/02/2024")  # a known bad row after
    res = load_table(write_allocations(tmp_path, rows), "attributions")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (1430, 1428, 2)
    rej = res.rejects
    assert rej[["source_row", "rule"]].values.tolist() == [
        [101, "guillemet_non_ferme"],
        [302, "type_date"],
    ]
    assert "ligne 101" in rej.loc[0, "message"] and "159" in rej.loc[0, "message"]
    assert rej.loc[0, "value"] == ""  # free text is never shown
    # every accepted row keeps the number of its physical line
    assert res.data["source_row"].tolist() == [r for r in range(2, 1432) if r not in (101, 302)]


def test_unclosed_quote_running_to_the_end_of_the_file(tmp_path):
    rows = [allocation(i) for i in range(50)]
    rows[9] = allocation(9, '"jamais fermé')
    res = load_table(write_allocations(tmp_path, rows), "attributions")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (50, 49, 1)
    assert res.rejects[["source_row", "rule"]].values.tolist() == [[11, "guillemet_non_ferme"]]
    assert res.data["source_row"].tolist() == [r for r in range(2, 52) if r != 11]


def test_several_stray_quotes_and_ragged_rows_keep_their_line_numbers(tmp_path):
    rows = [allocation(i) for i in range(30)]
    rows[2] = allocation(2, '"a')  # line 4 opens, line 8 closes
    rows[6] = allocation(6, '"b"')
    rows[7] = allocation(7) + ";en trop"  # ragged, inside the swallowed lines
    rows[10] = allocation(10, '"c')  # line 12 opens, line 14 reopens (not closed after)
    rows[12] = allocation(12, '"d')
    rows[20] = ""  # a blank line is not a record
    res = load_table(write_allocations(tmp_path, rows), "attributions")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (29, 25, 4)
    assert res.rejects[["source_row", "rule"]].values.tolist() == [
        [4, "guillemet_non_ferme"],
        [9, "nombre_de_champs"],
        [12, "guillemet_non_ferme"],
        [14, "guillemet_non_ferme"],
    ]
    expected = [r for r in range(2, 32) if r not in (4, 9, 12, 14, 22)]
    assert res.data["source_row"].tolist() == expected


def test_crlf_file_with_stray_quote(tmp_path):
    rows = [allocation(i) for i in range(10)]
    rows[3] = allocation(3, '"x')
    rows[6] = allocation(6, '"y"')
    p = write_allocations(tmp_path, rows)
    assert b"\r\n" in p.read_bytes()
    res = load_table(p, "attributions")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (10, 9, 1)
    assert res.rejects["source_row"].tolist() == [5]
    assert res.data.loc[res.data["source_row"] == 8, "reservataire"].tolist() == ["etat"]


# ------------------------------------- 2. a bad demand row does not blame the allocations


def _inputs(tmp_path: Path, dem: list[str], *, att=ATTRIBUTIONS_ROWS) -> InputPaths:
    return InputPaths(
        demandes=write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, dem),
        attributions=write_csv(tmp_path / "attributions.csv", ATTRIBUTIONS_HEADER, att),
        logements=write_csv(tmp_path / "logements.csv", LOGEMENTS_HEADER, LOGEMENTS_ROWS),
        seuils=write_csv(tmp_path / "seuils.csv", SEUILS_HEADER, SEUILS_ROWS),
    )


BAD_DEMAND_ROWS = {
    # demand 059100002 (line 3) is the one of allocation line 2
    "extra_separator": DEMANDES_ROWS[1].replace("hébergé", "hébergé;chez un tiers"),
    "mixed_separators": DEMANDES_ROWS[1].replace(";", ","),
    "unclosed_quote": DEMANDES_ROWS[1].replace(";T1;", ';"T1;'),
}


@pytest.mark.parametrize("case", list(BAD_DEMAND_ROWS), ids=list(BAD_DEMAND_ROWS))
def test_allocation_of_an_unreadable_demand_row_is_a_reject(tmp_path, case):
    dem = [DEMANDES_ROWS[0], BAD_DEMAND_ROWS[case], *DEMANDES_ROWS[2:]]
    inputs = load_inputs(_inputs(tmp_path, dem))
    d = inputs.report.tables["demandes"]
    assert (d.read, d.accepted, d.rejected) == (5, 4, 1)
    assert inputs.rejects["demandes"]["source_row"].tolist() == [3]
    a = inputs.report.tables["attributions"]
    assert (a.read, a.accepted, a.rejected) == (3, 2, 1)
    r = inputs.rejects["attributions"]
    assert r[["source_row", "rule", "value"]].values.tolist() == [
        [2, "demande_rejetee", "(masqué)"]
    ]


def _xlsx(path: Path, header: str, rows: list[list[object]]) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.append(header.split(";"))
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def _demand_cells(row: str) -> list[object]:
    return [v if v != "" else None for v in row.split(";")]


def test_xlsx_identifier_typed_as_a_number_rejects_that_demand_and_its_allocation(tmp_path):
    cells = [_demand_cells(r) for r in DEMANDES_ROWS]
    cells[1][0] = 59100002  # leading zero lost: the allocation of line 2 points to it
    cells[2][0] = 59100003.0  # a float cell: "59100003", never "59100003.0"
    paths = _inputs(tmp_path, DEMANDES_ROWS)
    paths = InputPaths(**{**paths.__dict__, "demandes": _xlsx(tmp_path / "d.xlsx",
                                                             DEMANDES_HEADER, cells)})  # fmt: skip
    raw, _ = read_table(paths.demandes)
    assert raw.loc[4, "num_unique"] == "59100003"
    inputs = load_inputs(paths)
    rd = inputs.rejects["demandes"]
    assert rd[["source_row", "column", "rule", "value"]].values.tolist() == [
        [3, "num_unique", "identifiant_numerique", "(masqué)"],
        [4, "num_unique", "identifiant_numerique", "(masqué)"],
    ]
    assert "texte" in rd.loc[0, "message"]
    ra = inputs.rejects["attributions"]
    assert ra[["source_row", "rule"]].values.tolist() == [
        [2, "demande_rejetee"],
        [4, "demande_rejetee"],
    ]
    a = inputs.report.tables["attributions"]
    assert (a.read, a.accepted, a.rejected) == (3, 1, 2)


def test_parquet_identifier_column_typed_as_integer_is_refused_naming_the_real_cause(tmp_path):
    df = pd.read_csv(
        write_csv(tmp_path / "d.csv", DEMANDES_HEADER, DEMANDES_ROWS), sep=";", dtype=str,
        encoding="cp1252", keep_default_na=False,
    )  # fmt: skip
    df["num_unique"] = df["num_unique"].astype("int64")
    p = tmp_path / "demandes.parquet"
    df.to_parquet(p)
    raw, _ = read_table(p)
    assert raw.loc[2, "num_unique"] == "59100001"  # digits, no ".0"
    paths = InputPaths(**{**_inputs(tmp_path, DEMANDES_ROWS).__dict__, "demandes": p})
    with pytest.raises(InputError) as exc:
        load_inputs(paths)
    e = exc.value
    assert e.file.endswith("demandes.parquet") and e.column == "num_unique"
    assert e.rule == "identifiant_numerique"
    assert "nombre" in str(e) and "texte" in str(e) and "059100001" not in str(e)
    assert "59100001" not in str(e)


# ------------------------------------------------ 4. no personal value in rejects


def test_identifier_typed_into_the_income_column_is_not_written_to_rejects(tmp_path):
    from allocation_analysis.io.schemas import PERSONAL_COLUMNS, is_personal

    cols = DEMANDES_HEADER.split(";")
    row = DEMANDES_ROWS[1].split(";")
    row[cols.index("revenus_mensuels")] = "059100777"  # shifted column: an id as income
    row[cols.index("age_demandeur")] = "1234,56"  # and an income as age
    bad = ";".join(row).replace("059100002", "059100008")
    res = load_table(
        write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, [*DEMANDES_ROWS, bad]), "demandes"
    )
    text = res.rejects.to_csv()
    assert "059100777" not in text and "1234" not in text and "059100008" not in text
    assert set(res.rejects["column"]) == {"age_demandeur"}
    assert set(res.rejects["value"]) == {"(masqué)"}
    assert {"num_unique", "revenus_mensuels", "lon", "lat", "age_demandeur"} <= PERSONAL_COLUMNS
    assert is_personal("revenu_fiscal") and is_personal("id_offre") and is_personal("commentaire")
    assert not is_personal("commune_residence") and not is_personal("nationalite")


# ------------------------------------------------- 3. NUL bytes, devices, future dates


def test_nul_byte_inside_a_field_rejects_the_row(tmp_path):
    # far from the start of the file, so that it is not taken for a binary file
    rows = [allocation(i) for i in range(2000)]
    rows[1500] = allocation(1500).replace(";;;;;;;;", ";2.93\x003557;;;;;;;", 1)
    p = write_allocations(tmp_path, rows)
    assert p.read_bytes().index(b"\x00") > 65536
    res = load_table(p, "attributions")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (2000, 1999, 1)
    r = res.rejects[res.rejects["rule"] == "caractere_nul"]
    assert r[["source_row", "column", "value"]].values.tolist() == [
        [1502, "revenus_mensuels", "(masqué)"]
    ]
    assert 2.93 not in res.data["revenus_mensuels"].tolist()


def test_single_nul_byte_near_the_start_is_a_row_reject_not_a_binary_file(tmp_path):
    rows = [allocation(i) for i in range(5)]
    rows[1] = rows[1].replace("etat", "et\x00at")
    res = load_table(write_allocations(tmp_path, rows), "attributions")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (5, 4, 1)
    r = res.rejects[res.rejects["rule"] == "caractere_nul"].iloc[0]
    assert (r["source_row"], r["column"]) == (3, "reservataire")
    assert "\x00" not in res.rejects.to_csv()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fifo_or_device_is_refused_before_opening(tmp_path, kind):
    import os

    if kind == "fifo":
        target = tmp_path / "demandes.csv"
        os.mkfifo(target)
    else:
        target = Path("/dev/zero")
    with pytest.raises(InputError, match="fichier ordinaire") as exc:
        load_table(target, "demandes")  # would block (FIFO) or never end (device)
    assert str(target) in str(exc.value)
    from allocation_analysis.io import load_column_map

    with pytest.raises(InputError, match="fichier ordinaire"):
        load_column_map(target)


def test_dates_after_the_extract_date_are_rejected(tmp_path):
    import datetime as dt

    dem = [
        *DEMANDES_ROWS[:4],
        DEMANDES_ROWS[4].replace("05/05/2023", "05/05/2099"),
        demand_row("059100006", "12/12/2024"),
    ]
    p = write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, dem)
    res = load_table(p, "demandes")  # default: today
    assert (res.n_read, res.n_accepted, res.n_rejected) == (6, 5, 1)
    assert res.rejects[["source_row", "column", "rule", "value"]].values.tolist() == [
        [6, "date_depot", "date_future", "05/05/2099"]
    ]
    res = load_table(p, "demandes", extract_date=dt.date(2024, 6, 30))
    # line 3 was closed on 20/06/2024, before the extract: accepted
    assert res.rejects[["source_row", "rule"]].values.tolist() == [
        [6, "date_future"],
        [7, "date_future"],
    ]
    assert "30/06/2024" in res.rejects["message"].iloc[0]


def demand_row(num: str, date_depot: str) -> str:
    fields = DEMANDES_ROWS[0].split(";")
    fields[0], fields[1] = num, date_depot
    return ";".join(fields)


def test_headerless_export_never_echoes_the_first_data_row(tmp_path):
    p = tmp_path / "demandes.csv"
    p.write_bytes(("\r\n".join(DEMANDES_ROWS) + "\r\n").encode("cp1252"))
    with pytest.raises(InputError) as exc:
        load_table(p, "demandes")
    text = str(exc.value)
    assert "21 colonne" in text and "en-tête" in text and "demandes.csv" in text
    for value in ("059100001", "1 234,56", "15/01/2022", "3,0573"):
        assert value not in text
    assert exc.value.column is None


def test_headerless_export_with_another_separator_never_echoes_the_row(tmp_path):
    p = tmp_path / "demandes.csv"
    p.write_text("\n".join(r.replace(";", "|") for r in DEMANDES_ROWS), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_table(p, "demandes")
    assert "059100001" not in str(exc.value) and "Française" not in str(exc.value)

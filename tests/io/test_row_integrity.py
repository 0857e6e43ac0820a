"""Rows never vanish, a bad row never blames another file, nothing personal leaks.

Each test writes its file by hand, so the expected accounting (rows read,
accepted, rejected, and which line) is known independently of the code.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ATTRIBUTIONS_HEADER, write_csv

from allocation_analysis.io import load_table

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

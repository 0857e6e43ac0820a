"""report.pdf: printed to A4 by headless Chromium when there is one; without a browser
the run's last step still succeeds, says why in French and records it in the manifest."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from allocation_analysis import pipeline
from allocation_analysis.config import AnalysisConfig, InputPaths, Period
from allocation_analysis.pdf import BROWSER_ENV, find_browser, print_to_pdf

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _require_browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but Chromium is not installed (Debian package chromium)")
        pytest.skip("Chromium not installed (Debian package chromium)")
    return found


# A table as wide as the report's tests table: twelve columns of long French words.
WIDE_COLUMNS = 12
LONG_WORD = "ressortissants"


def _table_cell(columns: int) -> nbformat.NotebookNode:
    head = "".join(f"<th>Colonne{i}</th>" for i in range(columns))
    row = "".join(f"<td>ménages {LONG_WORD} vérification</td>" for _ in range(columns))
    html = f"<table><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>"
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html})]
    return cell


def _assembled(tmp_path: Path) -> tuple[Path, dict]:
    """The run's last step on a two-part notebook (each part starts a printed page)."""
    tmp = tmp_path / "run"
    (tmp / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Synthèse\n\nObjectif atteint sur le territoire."),
        nbformat.v4.new_markdown_cell(
            "# Indicateurs légaux\n\nAttributions hors QPV : [carte](maps/carte.html)."
        ),
        _table_cell(WIDE_COLUMNS),
    ]
    path = tmp / "notebooks" / "00_synthese.ipynb"
    nbformat.write(nb, str(path))
    config = AnalysisConfig(period=Period.parse("2025-S2"), territory="essai")
    manifest = pipeline._assemble(
        tmp, config, {}, InputPaths(), [path], dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    return tmp, manifest


def test_browser_lookup_pointed_to_nothing_finds_none(monkeypatch):
    monkeypatch.setenv(BROWSER_ENV, "")
    assert find_browser() is None
    monkeypatch.setenv(BROWSER_ENV, "/nonexistent/chromium")
    assert find_browser() is None


def test_without_a_browser_the_report_is_written_and_the_pdf_skipped_in_french(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(BROWSER_ENV, "")
    with caplog.at_level(logging.WARNING, logger="allocation_analysis"):
        tmp, manifest = _assembled(tmp_path)
    assert (tmp / "report.html").is_file()
    assert not (tmp / "report.pdf").exists()
    assert manifest["pdf"]["produced"] is False
    assert "navigateur" in manifest["pdf"]["reason"]
    assert "report.pdf" not in manifest["outputs"]
    assert any("Rapport PDF non produit" in r.getMessage() for r in caplog.records)


def test_a_browser_that_fails_leaves_no_partial_pdf(tmp_path, monkeypatch):
    monkeypatch.setenv(BROWSER_ENV, shutil.which("false") or "/bin/false")
    html = tmp_path / "r.html"
    html.write_text("<html><body>x</body></html>", encoding="utf-8")
    outcome = print_to_pdf(html, tmp_path / "r.pdf")
    assert outcome.produced is False and "code 1" in outcome.reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_with_chromium_the_run_writes_an_a4_pdf_of_several_pages(tmp_path, monkeypatch):
    _require_browser()
    monkeypatch.delenv(BROWSER_ENV, raising=False)
    tmp, manifest = _assembled(tmp_path)
    pdf = tmp / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # the link to a map points to the published folder, not to the run's temporary one
    assert b"/URI (maps/carte.html)" in pdf.read_bytes() and b"file:" not in pdf.read_bytes()
    assert _xref_points_to_objects(pdf.read_bytes())
    assert manifest["pdf"] == {"produced": True, "browser": "chromium"}
    assert "report.pdf" in manifest["outputs"]
    if shutil.which("pdfinfo") and shutil.which("pdftotext"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = int(next(ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:")))
        # each part of the report starts a page; the wide table gets a landscape page
        assert pages == 3
        sizes = subprocess.run(
            ["pdfinfo", "-f", "1", "-l", "3", str(pdf)], capture_output=True, text=True
        ).stdout
        sizes = [ln.split(":", 1)[1].split("pts")[0].split() for ln in sizes.splitlines()
                 if ln.startswith("Page") and "size" in ln]  # fmt: skip
        portrait, landscape = ["594.96", "x", "841.92"], ["841.92", "x", "594.96"]
        assert sizes == [portrait, portrait, landscape]  # A4 in points
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "Objectif atteint sur le territoire" in text
        assert "Page 1 / 3" in text  # page numbers of the print stylesheet
        assert "Colonne11" in text  # the last column is printed
        # no word is cut inside: every cell's long word is printed whole
        assert text.count(LONG_WORD) == WIDE_COLUMNS
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy2(pdf, ARTIFACTS / "report-print-sample.pdf")


def test_pdf_dates_are_fixed_without_moving_a_byte(tmp_path):
    # two prints differ only by these dates (the slow reproducibility test compares two
    # whole runs); fixing them keeps every cross-reference offset of the file valid
    from allocation_analysis.pdf import _fix_dates

    body = (
        b"%PDF-1.4\n1 0 obj\n<</Creator (Chromium)\n/CreationDate (D:20261207052507+00'00')"
        b"\n/ModDate (D:20261207052508+00'00')>>\nendobj\n"
    )
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(body)
    _fix_dates(pdf)
    fixed = pdf.read_bytes()
    assert len(fixed) == len(body)
    assert b"/CreationDate (D:20000101000000+00'00')" in fixed
    assert b"/ModDate (D:20000101000000+00'00')" in fixed
    assert b"2026" not in fixed


def _tiny_pdf(link: bytes) -> bytes:
    """A PDF with a link annotation and a classic cross-reference table, as Chromium writes."""
    objects = [
        b"<</Type /Catalog /Pages 2 0 R>>",
        b"<</Type /Annot /Subtype /Link /A <</S /URI\n/URI (" + link + b")>>>>",
        b"<</S /URI\n/URI (https://www.legifrance.gouv.fr)>>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for k, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<</Size 4 /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % xref
    return out


def _xref_points_to_objects(data: bytes) -> bool:
    """Every in-use entry of the cross-reference table starts its own object."""
    import re

    xref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    lines = data[xref:].split(b"\n")
    assert lines[0] == b"xref"
    first, count = map(int, lines[1].split())
    entries = lines[2 : 2 + count]
    return all(
        data[int(e[:10]) :].startswith(b"%d 0 obj" % (first + k))
        for k, e in enumerate(entries)
        if e[17:18] == b"n"
    )


def test_links_to_the_runs_maps_become_relative_wherever_the_run_is(tmp_path):
    from allocation_analysis.pdf import _relative_links

    printed = []
    for name in (".tmp-2025-S2-ab12", ".tmp-2025-S2-a-much-longer-name"):
        run = tmp_path / name
        run.mkdir()
        pdf = run / "report.pdf"
        pdf.write_bytes(_tiny_pdf(f"{run.as_uri()}/maps/carte_tension.html".encode()))
        assert _xref_points_to_objects(pdf.read_bytes())
        _relative_links(pdf, run)
        printed.append(pdf.read_bytes())
    fixed = printed[0]
    assert b"/URI (maps/carte_tension.html)" in fixed and b"file:" not in fixed
    assert b"/URI (https://www.legifrance.gouv.fr)" in fixed  # other links untouched
    assert _xref_points_to_objects(fixed)
    assert printed[0] == printed[1]  # the same bytes wherever the run's folder was

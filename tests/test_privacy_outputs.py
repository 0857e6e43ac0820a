"""No identifier leaves: planted ids, their pseudonyms and household coordinates are
absent from every byte of every file the pipeline writes (published folder, failed
folder, run.log), including the members of the XLSX archive."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pipeline_fixtures
import pytest

from allocation_analysis.privacy import pseudonymise

# Shared session fixtures (see tests/pipeline_fixtures.py).
killed_then_rerun = pipeline_fixtures.killed_then_rerun
planted_dataset = pipeline_fixtures.planted_dataset
planted_run = pipeline_fixtures.planted_run
test_environment = pipeline_fixtures.test_environment

pytestmark = pytest.mark.slow

_HEX_RUN = re.compile(rb"[0-9a-fA-F]{16,}")
_NUMBER = re.compile(rb"-?\d+[.,]\d+")


def _payloads(path: Path) -> list[tuple[str, bytes]]:
    """The file's bytes, plus the decompressed members when it is a zip (XLSX)."""
    data = path.read_bytes()
    out = [(str(path), data)]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            out += [(f"{path}!{n}", z.read(n)) for n in z.namelist()]
    return out


def _renderings(text: str) -> set[str]:
    """How a coordinate may be printed: as read, by repr, with 6 to 8 decimals, French comma."""
    v = float(text)
    forms = {text, repr(v), str(v)} | {f"{v:.{d}f}" for d in (6, 7, 8)}
    return forms | {f.replace(".", ",") for f in forms}


def _leaks(files: list[Path], raw_ids: list[str], pseudonyms: set[str], coords: set[str]):
    found = []
    needle = pipeline_fixtures.ID_PREFIX.lower().encode()
    for f in files:
        for name, data in _payloads(f):
            low = data.lower()
            if pipeline_fixtures.TEST_KEY_HEX.encode() in low:
                found.append((name, "key"))
            if needle in low:
                found.append((name, "num_unique"))
            for run in _HEX_RUN.findall(low):
                s = run.decode()
                if any(s[i : i + 16] in pseudonyms for i in range(len(s) - 15)):
                    found.append((name, f"pseudonym {s[:16]}"))
                    break
            for tok in _NUMBER.findall(data):
                if tok.decode() in coords:
                    found.append((name, f"coordinate {tok.decode()}"))
                    break
    return found


@pytest.fixture(scope="module")
def needles(planted_dataset):
    ds = planted_dataset
    pseudonyms = set(pseudonymise(pd.Series(ds.raw_ids), ds.key).str.lower())
    coords: set[str] = set()
    for c in ds.coordinates:
        coords |= _renderings(c)
    return ds.raw_ids, pseudonyms, coords


def _files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file())


def test_planted_identifiers_are_really_in_the_inputs(planted_dataset, needles):
    # The scan below is meaningful only if the needles are findable where they are.
    raw_ids, _, coords = needles
    files = [planted_dataset.folder / "demandes.csv", planted_dataset.folder / "attributions.csv"]
    found = _leaks(files, raw_ids, set(), coords)
    assert {kind.split()[0] for _, kind in found} == {"num_unique", "coordinate"}


def test_scanner_finds_a_pseudonym_and_a_rounded_coordinate(tmp_path, needles):
    raw_ids, pseudonyms, coords = needles
    lat = next(c for c in coords if c.count(".") == 1 and len(c.split(".")[1]) == 6)
    probe = tmp_path / "probe.json"
    probe.write_text(f'{{"id": "{sorted(pseudonyms)[0].upper()}", "y": {lat}}}')
    kinds = {k.split()[0] for _, k in _leaks([probe], raw_ids, pseudonyms, coords)}
    assert kinds == {"pseudonym", "coordinate"}


def test_published_output_holds_no_identifier_pseudonym_or_coordinate(planted_run, needles):
    files = _files(planted_run.final)
    names = {str(f.relative_to(planted_run.final)) for f in files}
    # The scan covers the report, notebooks, maps, tables, json, log and rejects.
    assert {"report.html", "results.json", "manifest.json", "run.log", "tables.xlsx"} <= names
    assert any(n.startswith("maps/") for n in names)
    assert any(n.startswith("notebooks/") for n in names)
    assert "rejects/demandes.csv" in names
    assert _leaks(files, *needles) == []


def test_rejects_name_rows_and_rules_only(planted_run):
    rej = pd.read_csv(planted_run.final / "rejects" / "demandes.csv", dtype=str)
    assert len(rej) == 2
    assert rej["source_row"].str.fullmatch(r"\d+").all()
    assert set(rej["column"]) == {"nationalite", "lat"}
    lat_value = rej.loc[rej["column"] == "lat", "value"].iloc[0]
    assert "95" not in lat_value  # coordinate masked
    # The formula planted in a text field is escaped, never written as a live formula.
    nat_value = rej.loc[rej["column"] == "nationalite", "value"].iloc[0]
    assert not nat_value.startswith(("=", "+", "-", "@"))


def test_working_data_is_deleted_before_publication(planted_run):
    leftovers = [
        p.name for p in planted_run.final.parent.iterdir() if p.name.startswith((".tmp-", ".old-"))
    ]
    assert leftovers == []
    assert not (planted_run.final / "_work").exists()
    assert not list(planted_run.final.rglob("*.parquet"))


def test_failed_run_folder_holds_no_identifier(killed_then_rerun, needles):
    assert killed_then_rerun.failed_dirs, "the killed run kept no failed folder"
    files = [f for d in killed_then_rerun.failed_dirs for f in _files(d)]
    assert any(f.name == "run.log" for f in files)
    assert _leaks(files, *needles) == []

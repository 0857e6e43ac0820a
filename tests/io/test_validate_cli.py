"""``allocation-analysis validate`` on a French spreadsheet export: counts and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from conftest import (
    ATTRIBUTIONS_HEADER,
    ATTRIBUTIONS_ROWS,
    DEMANDES_HEADER,
    DEMANDES_ROWS,
    KEY_HEX,
    write_csv,
)

from allocation_analysis.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _args(files: dict[str, Path], *extra: str) -> list[str]:
    out = ["validate"]
    for name in ("demandes", "attributions", "logements", "seuils"):
        if name in files:
            out += [f"--{name}", str(files[name])]
    return [*out, *extra]


def test_valid_export_exits_0_with_exact_counts(valid_files, capsys):
    code = main(_args(valid_files, "--period", "2024-S2"))
    out = capsys.readouterr().out
    assert code == 0
    assert "demandes (" in out and "5 lignes lues, 5 acceptées, 0 rejetées" in out
    assert "3 lignes lues, 3 acceptées, 0 rejetées" in out
    assert "Fichiers d'entrée utilisables." in out


def test_export_with_bad_rows_exits_0_reports_counts_and_writes_rejects(
    valid_files, tmp_path, capsys
):
    rows = [
        *DEMANDES_ROWS,
        DEMANDES_ROWS[0].replace("059100001", "059100006").replace("1 234,56", "-12"),
        DEMANDES_ROWS[0].replace("059100001", "059100007").replace("15/01/2022", "32/01/2022"),
        DEMANDES_ROWS[1],  # duplicate of row 3
    ]
    files = dict(valid_files)
    files["demandes"] = write_csv(tmp_path / "dem_bad.csv", DEMANDES_HEADER, rows)
    rej_dir = tmp_path / "rejets"
    code = main([*_args(files, "--period", "2024-S2"), "--rejects", str(rej_dir)])
    out = capsys.readouterr().out
    assert code == 0
    assert "8 lignes lues, 5 acceptées, 3 rejetées" in out
    assert "ligne 7 : revenus_mensuels" in out
    rej = pd.read_csv(rej_dir / "demandes.csv", dtype=str)
    assert rej["source_row"].tolist() == ["7", "8", "9"]
    assert rej["rule"].tolist() == ["minimum", "type_date", "doublon"]
    text = (rej_dir / "demandes.csv").read_text(encoding="utf-8")
    assert "059100" not in text  # no identifier in the rejects
    assert (rej_dir / "attributions.csv").exists()


def test_all_rows_rejected_exits_1(valid_files, tmp_path, capsys):
    files = dict(valid_files)
    bad = [r.replace("123456789", "12345").replace("987654321", "98765") for r in ATTRIBUTIONS_ROWS]
    files["attributions"] = write_csv(tmp_path / "att_bad.csv", ATTRIBUTIONS_HEADER, bad)
    assert main(_args(files)) == 1
    out = capsys.readouterr().out
    assert "3 lignes lues, 0 acceptées, 3 rejetées" in out
    assert "aucune ligne acceptée dans attributions" in out


def test_file_level_error_exits_1_with_message_naming_the_file(valid_files, tmp_path, capsys):
    files = dict(valid_files)
    att = [*ATTRIBUTIONS_ROWS, ATTRIBUTIONS_ROWS[0].replace("059100002", "059188888")]
    files["attributions"] = write_csv(tmp_path / "att_ref.csv", ATTRIBUTIONS_HEADER, att)
    assert main(_args(files)) == 1
    err = capsys.readouterr().err
    assert "demande absente" in err and "att_ref.csv" in err and "lignes 5" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(valid_files, capsys):
    assert main(_args(valid_files, "--period", "2024-S3")) == 2
    assert "Période invalide" in capsys.readouterr().err
    files = {k: v for k, v in valid_files.items() if k != "demandes"}
    assert main(_args(files)) == 2
    assert "--demandes" in capsys.readouterr().err


def test_config_file_and_column_map(valid_files, tmp_path, capsys):
    header = DEMANDES_HEADER.replace("date_depot", "Date de dépôt")
    dem = write_csv(tmp_path / "export.csv", header, DEMANDES_ROWS)
    cmap = tmp_path / "map.yaml"
    cmap.write_text('demandes:\n  columns:\n    "Date de dépôt": date_depot\n', encoding="utf-8")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"demandes: {dem.name}\nattributions: {valid_files['attributions']}\n"
        f"seuils: {valid_files['seuils']}\ncolumn_map: map.yaml\nperiod: 2024-S1\n",
        encoding="utf-8",
    )
    assert main(["validate", "--config", str(cfg)]) == 0
    assert "5 lignes lues, 5 acceptées, 0 rejetées" in capsys.readouterr().out


def test_real_subprocess_on_cp1252_export(valid_files):
    env = {**os.environ, "ALLOCATION_ANALYSIS_KEY": KEY_HEX, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "allocation_analysis",
            *_args(valid_files, "--siren-epci", "200093201"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "5 lignes lues, 5 acceptées, 0 rejetées" in proc.stdout


def test_rejects_written_by_validate_are_formula_escaped(valid_files, tmp_path, capsys):
    rows = [
        *DEMANDES_ROWS,
        DEMANDES_ROWS[0].replace("059100001", "059100006").replace("QP059001", '=HYPERLINK("x")'),
        DEMANDES_ROWS[0].replace("059100001", "059100007").replace("QP059001", "@SUM(A1)"),
    ]
    files = dict(valid_files)
    files["demandes"] = write_csv(tmp_path / "dem_bad.csv", DEMANDES_HEADER, rows)
    rej_dir = tmp_path / "rejets"
    assert main([*_args(files, "--period", "2024-S2"), "--rejects", str(rej_dir)]) == 0
    rej = pd.read_csv(rej_dir / "demandes.csv", dtype=str, keep_default_na=False)
    assert rej["value"].tolist() == ['\'=HYPERLINK("x")', "'@SUM(A1)"]
    assert rej["source_row"].tolist() == ["7", "8"]


def test_validate_passes_the_extract_date_to_the_loader(valid_files, capsys):
    from allocation_analysis.io import validate_command

    options = {name: str(path) for name, path in valid_files.items()}
    # leases of 2024-09-01 and filings after 2024-06-30 become future dates
    assert validate_command({**options, "extract_date": "2024-06-30"}) == 0
    out = capsys.readouterr().out
    assert "date_future" in out

"""Command-line usage: exit codes and French messages, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from allocation_analysis.cli import main


def test_no_command_is_usage_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "erreur d'utilisation" in capsys.readouterr().err


def test_unknown_flag_is_usage_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--nope"])
    assert exc.value.code == 2


def test_run_without_inputs_names_the_missing_flags(capsys, tmp_path):
    code = main(["run", "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--demandes" in err and "--attributions" in err and "--seuils" in err


def test_run_with_bad_period_is_usage_error(capsys, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    code = main(
        [
            "run",
            "--demandes",
            str(f),
            "--attributions",
            str(f),
            "--seuils",
            str(f),
            "--period",
            "2025-S9",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "Période invalide" in capsys.readouterr().err


def test_territory_with_path_traversal_is_refused(capsys, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    code = main(
        [
            "run",
            "--demandes",
            str(f),
            "--attributions",
            str(f),
            "--seuils",
            str(f),
            "--territory",
            "../../etc",
            "--period",
            "2025-S2",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "territoire invalide" in capsys.readouterr().err


def test_missing_config_file_is_usage_error(capsys, tmp_path):
    code = main(["validate", "--config", str(tmp_path / "absent.yaml")])
    assert code == 2
    assert "introuvable" in capsys.readouterr().err


def test_python_dash_m_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "allocation_analysis", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for cmd in ("demo", "run", "validate", "synth", "fetch-geo", "batch"):
        assert cmd in out.stdout


def test_demo_output_pointing_at_a_file_is_an_input_error(capsys, tmp_path):
    target = tmp_path / "sortie.txt"
    target.write_text("x", encoding="utf-8")
    assert main(["demo", "--scale", "tiny", "--output", str(target)]) == 1
    err = capsys.readouterr().err
    assert "est un fichier, pas un dossier" in err and "Traceback" not in err

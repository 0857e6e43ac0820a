"""``run`` and ``validate`` accept and refuse the same inputs, with the same period.

The notebooks are not executed here (a copy stands for the executed notebook):
what is tested is everything ``run`` does before and around them — options,
period, loading and checking the inputs, preparing the frames, publishing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from allocation_analysis import pipeline, synth
from allocation_analysis.cli import main

KEY_HEX = "4d" * 32
EPCI = "299999999"
FILES = ("demandes", "attributions", "logements", "seuils")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("agree_inputs")
    synth.write_dataset(synth.generate(scale="tiny", seed=2), folder)
    return folder


@pytest.fixture(autouse=True)
def _no_notebook_execution(monkeypatch, tmp_path):
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY_HEX)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config_home"))
    monkeypatch.delenv("ALLOCATION_ANALYSIS_KEY_FILE", raising=False)
    monkeypatch.setattr(pipeline, "ensure_kernel", lambda: "python3")
    monkeypatch.setattr(
        pipeline,
        "execute_notebook",
        lambda src, dst, parameters, *, kernel, timeout: shutil.copyfile(src, dst),
    )


def _args(command: str, files: dict[str, Path], *extra: str) -> list[str]:
    out = [command]
    for name in FILES:
        out += [f"--{name}", str(files[name])]
    return [*out, *extra]


def _files(dataset: Path, tmp_path: Path, seuils: pd.DataFrame | None = None) -> dict[str, Path]:
    files = {
        "demandes": dataset / "demandes.csv",
        "attributions": dataset / "attributions.csv",
        "logements": dataset / "logements.csv",
        "seuils": dataset / "seuils_q1.csv",
    }
    if seuils is not None:
        files["seuils"] = tmp_path / "seuils.csv"
        seuils.to_csv(files["seuils"], index=False)
    return files


def _thresholds(dataset: Path) -> pd.DataFrame:
    return pd.read_csv(dataset / "seuils_q1.csv", dtype=str)


def _both(files, tmp_path, capsys, *extra) -> tuple[int, int, str]:
    v = main(_args("validate", files, *extra))
    r = main(_args("run", files, *extra, "--output", str(tmp_path / "out")))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return v, r, err


def test_several_epcis_with_siren_epci_are_accepted_by_both(dataset, tmp_path, capsys):
    seu = _thresholds(dataset)
    other = seu.assign(siren_epci="200093201", seuil_uc_annuel="9999")
    files = _files(dataset, tmp_path, pd.concat([seu, other]))
    v, r, err = _both(files, tmp_path, capsys, "--period", "2025-S2", "--siren-epci", EPCI)
    assert (v, r) == (0, 0), err
    assert (tmp_path / "out" / "territoire" / "2025-S2" / "report.html").is_file()


def test_thresholds_of_the_period_years_only_are_accepted_by_both(dataset, tmp_path, capsys):
    seu = _thresholds(dataset)
    files = _files(dataset, tmp_path, seu[seu["annee"] == "2025"])  # 2025-S1 and 2025-S2
    v, r, err = _both(files, tmp_path, capsys, "--period", "2025-S2")
    assert (v, r) == (0, 0), err


def test_a_missing_year_of_the_period_is_refused_by_both(dataset, tmp_path, capsys):
    seu = _thresholds(dataset)
    files = _files(dataset, tmp_path, seu[seu["annee"] == "2024"])
    v, r, err = _both(files, tmp_path, capsys, "--period", "2025-S2")
    assert (v, r) == (1, 1)
    assert "2025" in err


def test_auto_is_the_last_complete_semester_covered_by_the_data(dataset, tmp_path, capsys):
    files = _files(dataset, tmp_path)
    assert pd.read_csv(files["attributions"])["date_bail"].max() <= "2025-12-31"
    assert main(_args("validate", files, "--period", "auto")) == 0
    assert "Période : 2025-S2" in capsys.readouterr().out
    code = main(_args("run", files, "--period", "auto", "--output", str(tmp_path / "out")))
    assert code == 0, capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out" / "territoire").iterdir() if p.is_dir()] == [
        "2025-S2"
    ]


@pytest.mark.parametrize("period", ["2026-S1", "2021-S2"])
def test_explicit_period_outside_the_data_is_an_input_error_naming_its_dates(
    dataset, tmp_path, capsys, period
):
    files = _files(dataset, tmp_path)
    first = pd.read_csv(files["attributions"])["date_bail"].min()
    v, r, err = _both(files, tmp_path, capsys, "--period", period)
    assert (v, r) == (1, 1)
    assert err.count(f"La période {period}") == 2
    day = f"{first[8:10]}/{first[5:7]}/{first[:4]}"
    assert f"baux signés du {day} au" in err
    assert not (tmp_path / "out" / "territoire" / period).exists()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("demandes:\n  columns: [num_unique, date_depot]\n", "« columns »"),
        ("demandes:\n  values: [nationalite]\n", "« values »"),
        ("demandes:\n  values:\n    nationalite: [francaise, ue]\n", "colonne « nationalite »"),
        ("demandes:\n  - columns: {}\n", "Section « demandes »"),
    ],
)
def test_column_map_of_the_wrong_shape_is_a_french_input_error(
    dataset, tmp_path, capsys, text, where
):
    cmap = tmp_path / "map.yaml"
    cmap.write_text(text, encoding="utf-8")
    files = _files(dataset, tmp_path)
    extra = ("--period", "2025-S2", "--column-map", str(cmap))
    v, r, err = _both(files, tmp_path, capsys, *extra)
    assert (v, r) == (1, 1)
    assert where in err and "map.yaml" in err


@pytest.mark.parametrize(
    ("line", "word"),
    [
        ("secret_threshold: abc", "secret_threshold"),
        ("alpha: beaucoup", "alpha"),
        ("seed: [1, 2]", "seed"),
        ("territory: {a: 1}", "territory"),
    ],
)
def test_configuration_value_of_the_wrong_type_is_a_french_input_error(
    dataset, tmp_path, capsys, line, word
):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"{line}\nperiod: 2025-S2\n", encoding="utf-8")
    files = _files(dataset, tmp_path)
    for command in ("run", "validate"):
        extra = ("--output", str(tmp_path / "out")) if command == "run" else ()
        assert main([*_args(command, files, "--config", str(cfg)), *extra]) == 1
        err = capsys.readouterr().err
        assert word in err and "run.yaml" in err and "Traceback" not in err


def test_output_pointing_at_a_file_is_a_clear_input_error(dataset, tmp_path, capsys):
    target = tmp_path / "un_fichier.txt"
    target.write_text("x", encoding="utf-8")
    files = _files(dataset, tmp_path)
    for out in (target, target / "sous_dossier"):
        code = main(_args("run", files, "--period", "2025-S2", "--output", str(out)))
        err = capsys.readouterr().err
        assert code == 1
        assert "est un fichier, pas un dossier" in err and "--output" in err


def test_rejects_pointing_at_a_file_is_a_clear_input_error(dataset, tmp_path, capsys):
    target = tmp_path / "rejets.csv"
    target.write_text("x", encoding="utf-8")
    files = _files(dataset, tmp_path)
    code = main(_args("validate", files, "--rejects", str(target)))
    err = capsys.readouterr().err
    assert code == 1
    assert "est un fichier, pas un dossier" in err and "--rejects" in err

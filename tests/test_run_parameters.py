"""One list of run parameters: configuration keys, CLI flags, open_session, notebooks."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

from allocation_analysis import cli, config, session

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("0*.ipynb"))

INPUT_FILES = {
    "demandes",
    "attributions",
    "logements",
    "seuils",
    "communes",
    "qpv",
    "column_map",
    "propositions",
    "bailleurs",
}
ANALYSIS = {
    "period",
    "territory",
    "siren_epci",
    "alpha",
    "secret_threshold",
    "seed",
    "target_non_q1_en_qpv",
    "delai_anormal_mois",
}
SESSION_ARGUMENTS = INPUT_FILES | ANALYSIS | {"output_dir", "language", "work_dir"}


def _flags(command: str) -> set[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {a.dest for a in sub.choices[command]._actions if a.dest not in ("help", "config")}


def _parameter_cell_names(path: Path) -> set[str]:
    nb = json.loads(path.read_text("utf-8"))
    cells = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1, path.name
    src = cells[0]["source"]
    tree = ast.parse(src if isinstance(src, str) else "".join(src))
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}


def test_configuration_keys_are_the_run_parameters():
    assert set(config.RUN_KEYS) == INPUT_FILES | ANALYSIS | {"output", "scale"}
    assert tuple(p.name for p in config.RUN_PARAMETERS) == config.RUN_KEYS


def test_run_flags_are_the_run_parameters_but_the_demo_scale():
    assert _flags("run") == INPUT_FILES | ANALYSIS | {"output"}


def test_validate_flags_are_the_files_period_territory_and_epci():
    assert _flags("validate") == INPUT_FILES | {"period", "territory", "siren_epci", "rejects"}


def test_open_session_takes_every_session_parameter():
    assert set(inspect.signature(session.open_session).parameters) == SESSION_ARGUMENTS
    declared = {p.session for p in config.RUN_PARAMETERS if p.session}
    assert declared | set(config.SESSION_ONLY_PARAMETERS) == SESSION_ARGUMENTS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_report_notebook_parameter_cell_matches_open_session(path):
    assert _parameter_cell_names(path) == SESSION_ARGUMENTS


def _open_session_keywords(path: Path) -> dict[str, str]:
    nb = json.loads(path.read_text("utf-8"))
    calls = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open_session":
                calls.append(node)
    assert len(calls) == 1, path.name
    return {k.arg: ast.unparse(k.value) for k in calls[0].keywords}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_report_notebook_passes_every_parameter_to_open_session(path):
    # a parameter set in the cell but not passed on would be silently ignored
    assert _open_session_keywords(path) == {name: name for name in SESSION_ARGUMENTS}

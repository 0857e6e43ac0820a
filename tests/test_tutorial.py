"""The library tutorial notebook runs as stored and stays out of the report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "notebooks" / "tutoriel_bibliotheque.ipynb"


def test_tutorial_is_not_a_notebook_of_the_report():
    from allocation_analysis.pipeline import NOTEBOOKS

    assert TUTORIAL.name not in NOTEBOOKS


def test_tutorial_is_stored_without_outputs_with_cell_ids_and_one_parameters_cell():
    nb = json.loads(TUTORIAL.read_text("utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "allocation-analysis"
    assert all(c.get("id") for c in nb["cells"])
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None


def _text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        data = out.get("data", {})
        parts.append("".join(data.get("text/html", "")))
        parts.append("".join(data.get("text/plain", "")))
    return "\n".join(parts)


def test_tutorial_runs_all_and_shows_french_results(tmp_path, monkeypatch):
    import papermill as pm

    from allocation_analysis.pipeline import ensure_kernel

    # the kernel imports this checkout, whichever copy the environment installed
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    executed = tmp_path / "tutoriel.ipynb"
    pm.execute_notebook(
        str(TUTORIAL),
        str(executed),
        kernel_name=ensure_kernel(),
        cwd=str(tmp_path),
        progress_bar=False,
        execution_timeout=120,
    )
    cells = json.loads(executed.read_text("utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    shown = "\n".join(_text(c) for c in code)
    assert "hors UE comparé à française" in shown  # rates, as a French table
    assert "Rapport de cotes" in shown  # logit
    assert "Médiane" in shown  # Kaplan–Meier display
    assert "Indice de dissimilarité" in shown
    assert "L'argument" in shown and "absente des données" in shown  # the French error
    for drawing in ("figures.km_plot", "figures.forest_plot"):
        figure = [c for c in code if drawing in "".join(c["source"])]
        assert any("image/png" in out.get("data", {}) for out in figure[0]["outputs"]), drawing
    assert not list(tmp_path.glob("outputs")), "the tutorial writes nothing next to itself"


@pytest.fixture(autouse=True)
def _pseudonymisation_key(monkeypatch):
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", "5e" * 32)

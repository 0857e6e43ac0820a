"""End to end: a French spreadsheet export in the contract, through ``allocation-analysis run``.

One pipeline run per module (slow: three notebooks). Expected values come from the
generator's own ``truth.json`` (computed independently of the indicators module)
and from the planted effects, never from the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from openpyxl import load_workbook

from allocation_analysis import synth
from allocation_analysis.cli import main
from allocation_analysis.outputs import sha256_file
from allocation_analysis.pipeline import NOTEBOOKS, notebooks_dir

pytestmark = pytest.mark.slow

STRONG = {
    "access": {"nationalite": {"ue": 1.0, "hors_ue": 0.35}, "residence_qpv": 1.0},
    "placement_qpv": {
        "nationalite": {"ue": 1.0, "hors_ue": 4.0},
        "residence_qpv": 1.0,
        "premier_quartile": 1.0,
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("ALLOCATION_ANALYSIS_KEY", "ab" * 32)
    base = tmp_path_factory.mktemp("e2e")
    ds = synth.generate(scale="small", seed=7, effects=STRONG)
    data = synth.write_dataset(ds, base / "data", fmt="fr-csv")
    cfg = data / "config.yaml"
    out = base / "out"
    code = main(["run", "--config", str(cfg), "--output", str(out), "--territory", "essai"])
    final = out / "essai" / ds.config["period"]
    yield {
        "code": code,
        "final": final,
        "truth": ds.truth,
        "data": data,
        "period": ds.config["period"],
    }
    mp.undo()


def _expected_notebooks(run) -> list[str]:
    """Every notebook, the process one only when the data set has propositions."""
    has = (run["data"] / "propositions.csv").is_file()
    return [nb for nb in NOTEBOOKS if has or nb != "04_processus.ipynb"]


def test_run_exits_zero_and_writes_the_output_contract(run):
    assert run["code"] == 0
    final: Path = run["final"]
    for name in ("report.html", "results.json", "manifest.json", "tables.xlsx", "run.log"):
        assert (final / name).is_file(), name
    assert sorted(p.name for p in (final / "notebooks").glob("*.ipynb")) == sorted(
        _expected_notebooks(run)
    )
    assert list((final / "maps").glob("*.html")) and list((final / "figures").glob("*.png"))
    assert list((final / "tables").glob("*.csv"))
    # nothing private or temporary is left behind
    assert not (final / "_work").exists() and not (final / "_parts").exists()
    assert not list(final.parent.glob(".tmp-*"))


def test_french_export_is_read_without_rejects(run):
    manifest = json.loads((run["final"] / "manifest.json").read_text())
    for row in manifest["row_counts"]:
        assert row["read"] == row["accepted"] + row["rejected"]
        assert row["rejected"] == 0


def test_indicators_match_the_generators_independent_counts(run):
    results = json.loads((run["final"] / "results.json").read_text())
    window = {"semester": "semestre", "rolling_12m": "12_mois"}
    truth = {
        (t["indicateur"], window_key, t["numerateur"], t["denominateur"])
        for t in run["truth"]["indicateurs"]
        for window_key, fr in window.items()
        if t["perimetre"] == "territoire" and t["periode"] == run["period"] and t["fenetre"] == fr
    }
    published = [i for i in results["indicators"] if i["scope"] == "territory"]
    assert len(published) == 10  # 5 indicators × 2 windows
    checked = 0
    for ind in published:
        match = [t for t in truth if t[0] == ind["id"] and t[1] == ind["window"]]
        assert len(match) == 1
        _, _, num, den = match[0]
        if ind["numerator"] is not None:
            assert ind["numerator"] == num
            checked += 1
        if ind["denominator"] is not None:
            assert ind["denominator"] == den
            checked += 1
        if not ind["suppressed"]:
            assert ind["share"] == pytest.approx(num / den)
    assert checked >= 10


def test_planted_effect_is_found_and_null_effect_is_not(run):
    tests = json.loads((run["final"] / "results.json").read_text())["tests"]
    by = {(t["id"], t["group"]): t for t in tests}
    planted = by[("access_origin_logit", "hors_ue")]
    assert planted["p_adjusted"] < 0.05
    assert planted["ci_low"] <= 0.35 <= planted["ci_high"]
    assert planted["estimate"] < 1
    null = by[("access_origin_logit", "ue")]
    assert null["p_adjusted"] >= 0.05
    steering = by[("placement_origin_logit", "hors_ue")]
    # 20 leases to hors_ue households in the semester at this scale: direction only
    assert steering["estimate"] is not None and steering["estimate"] > 1


def test_results_json_has_every_required_test(run):
    tests = json.loads((run["final"] / "results.json").read_text())["tests"]
    ids = {(t["id"], t["group_var"], t["group"], t["reference"]) for t in tests}
    for method in ("rates", "cmh", "logit", "fairlie"):
        for g in ("ue", "hors_ue"):
            assert (f"access_origin_{method}", "nationalite", g, "francaise") in ids
        assert (f"access_residence_{method}", "residence_qpv", "qpv", "hors_qpv") in ids
    for method in ("logrank", "cox"):
        assert (f"waiting_time_origin_{method}", "nationalite", "hors_ue", "francaise") in ids
        assert (f"waiting_time_residence_{method}", "residence_qpv", "qpv", "hors_qpv") in ids
    assert ("placement_origin_logit", "nationalite", "hors_ue", "francaise") in ids
    assert ("placement_residence_logit", "residence_qpv", "qpv", "hors_qpv") in ids
    assert ("placement_origin_dissimilarity", "nationalite", "hors_ue", "francaise") in ids
    for extra in ("access_origin_profiles", "access_origin_ipw", "access_residence_ipw"):
        assert any(t["id"] == extra for t in tests)
    p = [t["p_value"] for t in tests if t["p_value"] is not None]
    assert all(0 <= x <= 1 for x in p)
    assert all(t["p_adjusted"] is None or t["p_adjusted"] >= t["p_value"] for t in tests)


def test_report_is_french_has_no_code_and_loads_nothing_from_the_network(run):
    html = (run["final"] / "report.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in html
    assert "Indicateurs légaux" in html and "Écarts d'accès" in html
    # markdown cells render inside jp-InputArea; code cells would bring highlighted source
    assert "highlight hl-ipython3" not in html and 'class="jp-InputPrompt' not in html
    assert "open_session(" not in html and "from allocation_analysis" not in html
    assert not re.search(r"<script[^>]+src=[\"']https?://", html)
    assert not re.search(r"<link[^>]+href=[\"']https?://", html)
    assert "data:image/png;base64" in html  # figures embedded


def test_every_figure_of_the_report_has_a_french_alternative_text(run):
    html = (run["final"] / "report.html").read_text(encoding="utf-8")
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert imgs
    for tag in imgs:
        alt = re.search(r'\balt="([^"]*)"', tag)
        assert alt and alt.group(1).strip(), tag[:120]
        assert "No description" not in alt.group(1)


def test_manifest_records_input_hashes_parameters_and_versions(run):
    manifest = json.loads((run["final"] / "manifest.json").read_text())
    assert manifest["inputs"]["demandes"]["sha256"] == sha256_file(run["data"] / "demandes.csv")
    assert manifest["parameters"]["secret_threshold"] == 11
    assert "pandas" in manifest["packages"] and "statsmodels" in manifest["packages"]
    assert set(manifest["timings_seconds"]) >= {
        "validation",
        "derive",
        "report",
        *_expected_notebooks(run),
    }


def test_xlsx_has_one_sheet_per_published_table(run):
    final = run["final"]
    from allocation_analysis.labels import SHEET_FR

    sheets = set(load_workbook(final / "tables.xlsx", read_only=True).sheetnames)
    csvs = {SHEET_FR.get(p.stem, p.stem)[:31] for p in (final / "tables").glob("*.csv")}
    assert sheets == csvs | {"Lisez-moi"}
    ind = pd.read_csv(final / "tables" / "indicateurs.csv")
    assert {"id", "scope", "numerator", "denominator", "share", "suppressed"} <= set(ind.columns)


def test_run_prints_the_pdf_when_chromium_is_there(run):
    import os
    import shutil

    manifest = json.loads((run["final"] / "manifest.json").read_text())
    has_browser = bool(shutil.which("chromium") or shutil.which("chromium-browser"))
    if not has_browser and os.environ.get("REQUIRE_BROWSER") != "1":
        assert manifest["pdf"]["produced"] is False
        pytest.skip("Chromium not installed: the run recorded that the PDF was not produced")
    pdf = run["final"] / "report.pdf"
    assert manifest["pdf"]["produced"] is True and "report.pdf" in manifest["outputs"]
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000


def test_tables_for_french_excel_name_the_landlords_and_match_the_machine_tables(run):
    final = run["final"]
    assert sorted(p.name for p in (final / "tables_excel").glob("*.csv")) == sorted(
        p.name for p in (final / "tables").glob("*.csv")
    )
    machine = pd.read_csv(final / "tables" / "indicateurs.csv", dtype={"scope_value": str})
    excel = pd.read_csv(
        final / "tables_excel" / "indicateurs.csv",
        sep=";",
        decimal=",",
        encoding="utf-8-sig",
        dtype={"Valeur du périmètre": str},
    )
    assert len(excel) == len(machine)
    assert excel["Part"].tolist() == pytest.approx(machine["share"].tolist(), nan_ok=True)
    landlords = excel[excel["Périmètre"] == "par bailleur"]
    # the synthetic landlords' names, written by the generator in bailleurs.csv
    names = dict(zip(synth.BAILLEURS, synth.BAILLEURS_NOMS, strict=True))
    assert len(landlords) > 0
    assert (landlords["Nom du bailleur"] == landlords["Valeur du périmètre"].map(names)).all()
    headers = [c.value for c in load_workbook(final / "tables.xlsx")["Indicateurs légaux"][1]]
    assert headers.index("Nom du bailleur") == headers.index("Valeur du périmètre") + 1


def test_notebooks_are_stored_without_outputs_with_one_parameters_cell():
    for name in NOTEBOOKS:
        nb = nbformat.read(notebooks_dir() / name, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, name
        for c in nb.cells:
            if c.cell_type == "code":
                assert not c.outputs and c.execution_count is None, name


def test_demo_with_a_relative_output_folder_as_make_demo_runs_it(tmp_path, monkeypatch):
    """``make demo`` passes ``--output outputs``: a path relative to the caller's folder."""
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", "cd" * 32)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--output", "outputs"]) == 0
    final = tmp_path / "outputs" / "demo" / "2025-S2"
    assert (final / "report.html").is_file() and (final / "results.json").is_file()
    assert not list((tmp_path / "outputs" / "demo").glob("failed-*"))

"""``allocation-analysis batch``: territories × periods in parallel, failures isolated.

Each successful task runs the whole pipeline (three notebooks), so these tests
are marked slow. Two small synthetic territories and one territory whose
applications file is missing are run with local processes (through
:func:`batch_command`, as the command line does) and on a Dask
``LocalCluster`` started by the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocation_analysis import batch, synth

pytestmark = pytest.mark.slow

PERIOD = "2025-S2"
KEY = "0" * 64


@pytest.fixture(scope="module")
def territories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic territories (different seeds) written in the input contract."""
    root = tmp_path_factory.mktemp("batch-data")
    for name, seed in (("nord", 3), ("sud", 4)):
        ds = synth.generate(scale="tiny", seed=seed)
        synth.write_dataset(ds, root / name)
    return root


def _run_entry(root: Path, territory: str, folder: str) -> dict:
    cfg = yaml.safe_load((root / folder / "config.yaml").read_text(encoding="utf-8"))
    files = ("demandes", "attributions", "logements", "seuils", "communes", "qpv")
    entry = {k: f"{folder}/{cfg[k]}" for k in files}
    entry.update(territory=territory, siren_epci=cfg["siren_epci"], periods=[PERIOD])
    return entry


def _write_config(root: Path, output: str) -> Path:
    broken = _run_entry(root, "sans_demandes", "sud")
    broken["demandes"] = "sud/absent.csv"  # missing file: this territory must fail alone
    config = {
        "output": output,
        "runs": [_run_entry(root, "nord", "nord"), broken, _run_entry(root, "sud", "sud")],
    }
    path = root / f"batch_{output}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _check_summary(summary: pd.DataFrame, output: Path) -> None:
    # one row per (territory, period), sorted by territory
    assert summary["territory"].tolist() == ["nord", "sans_demandes", "sud"]
    assert summary["period"].tolist() == [PERIOD] * 3
    assert summary["status"].tolist() == ["ok", "échec", "ok"]
    failed = summary.iloc[1]
    assert "absent.csv" in failed["error"]
    assert pd.isna(failed["output"]) or not failed["output"]
    assert not (output / "sans_demandes" / PERIOD).exists()
    for i in (0, 2):
        row = summary.iloc[i]
        assert pd.isna(row["error"]) or not row["error"]
        assert float(row["seconds"]) > 0
        final = Path(row["output"])
        assert final == output / row["territory"] / PERIOD
        assert (final / "report.html").is_file()
        results = json.loads((final / "results.json").read_text(encoding="utf-8"))
        assert results["territory"] == row["territory"]
        assert results["period"] == PERIOD
        # each task published its own folder atomically: no temporary folder left
        assert not list((output / row["territory"]).glob(".tmp-*"))


def test_batch_local_processes_isolates_a_failing_territory(
    territories: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY)
    config = _write_config(territories, "out_local")
    code = batch.batch_command(config=str(config), workers=2)
    assert code == 3  # one task failed: exit code of a failed analysis
    output = territories / "out_local"
    summary = pd.read_csv(output / "batch_summary.csv")
    _check_summary(summary, output)
    printed = capsys.readouterr().out
    assert "sans_demandes" in printed and "batch_summary.csv" in printed
    # the comparison of the two successful territories, beside their folders
    page = output / "comparaison" / "comparaison.html"
    assert str(page) in printed
    compared = pd.read_csv(output / "comparaison" / "comparaison_tests.csv")
    assert sorted(compared["territory"].unique()) == ["nord", "sud"]


def test_batch_on_dask_local_cluster_isolates_a_failing_territory(
    territories: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY)  # inherited by the worker process
    config = _write_config(territories, "out_dask")
    tasks, output = batch.plan_tasks(config)
    assert len(tasks) == 3
    with distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        summary = batch.run_batch(tasks, scheduler=cluster.scheduler_address)
    _check_summary(summary, output)

"""Many territories × periods: ``allocation-analysis batch --config FILE.yaml``.

Configuration::

    output: outputs                 # common output root
    defaults:                       # keys shared by every run (as in `run --config`)
      seuils: seuils_q1.csv
    runs:
      - territory: mel
        demandes: mel/demandes.csv
        attributions: mel/attributions.csv
        communes: mel/communes.geojson
        periods: [2025-S1, 2025-S2]
      - territory: autre
        ...

Each (territory, period) is one task running :func:`allocation_analysis.pipeline.run_analysis`
in its own process, writing its own atomic output folder. Tasks run in local
processes by default, or on a Dask distributed cluster when a scheduler address
is given. One failing task never stops the others; a summary table of every run
is printed and written to ``<output>/batch_summary.csv``, and the comparison
of the successful runs (one table and one figure per legal indicator and per
primary test, :mod:`allocation_analysis.comparison`) to
``<output>/comparaison/comparaison.html``.
"""

from __future__ import annotations

import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from allocation_analysis.config import RUN_KEYS, RUN_PARAMETERS
from allocation_analysis.errors import AllocationAnalysisError, UsageError
from allocation_analysis.threads import SINGLE_THREAD_ENV

__all__ = ["SINGLE_THREAD_ENV", "batch_command", "plan_tasks", "run_batch", "run_task"]

log = logging.getLogger(__name__)


def plan_tasks(config_path: str | Path) -> tuple[list[dict[str, Any]], Path]:
    """Expand a batch configuration into one option dict per (territory, period)."""
    import yaml

    p = Path(config_path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"Configuration de lot illisible : {p} ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("runs"), list) or not raw["runs"]:
        raise UsageError(f"{p} : une liste « runs » d'au moins un territoire est attendue.")
    base = p.resolve().parent
    output = Path(str(raw.get("output", "outputs")))
    output = output if output.is_absolute() else base / output
    defaults = raw.get("defaults") or {}
    tasks = []
    for i, run in enumerate(raw["runs"], start=1):
        if not isinstance(run, dict):
            raise UsageError(f"{p} : l'entrée n° {i} de « runs » doit être un dictionnaire.")
        merged = {**defaults, **run}
        periods = merged.pop("periods", None) or [merged.pop("period", "auto")]
        merged.pop("period", None)
        unknown = sorted(set(merged) - set(RUN_KEYS))
        if unknown:
            raise UsageError(
                f"{p} : clé(s) inconnue(s) dans l'entrée n° {i} : {', '.join(unknown)}."
            )
        for key in (p.name for p in RUN_PARAMETERS if p.path):
            if merged.get(key):
                q = Path(str(merged[key]))
                merged[key] = str(q if q.is_absolute() else base / q)
        for period in periods:
            tasks.append({**merged, "period": str(period), "output": str(output)})
    return tasks, output


def run_task(options: dict[str, Any]) -> dict[str, Any]:
    """Run one (territory, period); never raises: the outcome is in the returned row.

    The kernels it starts inherit :data:`SINGLE_THREAD_ENV` (values already
    set in the environment are kept).
    """
    import os

    from allocation_analysis.pipeline import config_from_options, run_analysis

    for name, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(name, value)

    t0 = time.perf_counter()
    row = {
        "territory": options.get("territory"),
        "period": options.get("period"),
        "status": "ok",
        "seconds": None,
        "output": None,
        "error": None,
    }
    try:
        paths, config, output = config_from_options(options)
        row["period"] = config.period.label
        row["output"] = str(run_analysis(paths, config, output))
    except AllocationAnalysisError as exc:
        row["status"], row["error"] = "échec", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - one task's failure must not stop the batch
        row["status"], row["error"] = "échec", f"{type(exc).__name__}: {exc}"
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def run_batch(
    tasks: list[dict[str, Any]], *, scheduler: str | None = None, workers: int = 2
) -> pd.DataFrame:
    """Run tasks in local processes, or on a Dask cluster at ``scheduler``; return the summary."""
    rows: list[dict[str, Any]] = []
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            futures = client.map(run_task, tasks, pure=False)
            rows = client.gather(futures)
    else:
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            futs = [pool.submit(run_task, t) for t in tasks]
            for fut in as_completed(futs):
                rows.append(fut.result())
    summary = pd.DataFrame(
        rows, columns=["territory", "period", "status", "seconds", "output", "error"]
    )
    return summary.sort_values(["territory", "period"], kind="stable").reset_index(drop=True)


def batch_command(*, config: str, scheduler: str | None = None, workers: int = 2) -> int:
    """``allocation-analysis batch``: exit 0 when every task succeeded, 3 otherwise."""
    tasks, output = plan_tasks(config)
    log.info("%d exécution(s) planifiée(s)", len(tasks))
    summary = run_batch(tasks, scheduler=scheduler, workers=workers)
    output.mkdir(parents=True, exist_ok=True)
    from allocation_analysis.outputs import write_csv

    write_csv(summary, output / "batch_summary.csv")
    from allocation_analysis.comparison import write_comparison

    page = write_comparison(summary, output)
    sys.stdout.write(summary.drop(columns=["output"]).to_string(index=False) + "\n")
    sys.stdout.write(f"Résumé : {output / 'batch_summary.csv'}\n")
    if page is not None:
        sys.stdout.write(f"Comparaison des territoires : {page}\n")
    return 0 if (summary["status"] == "ok").all() else 3

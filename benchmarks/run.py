"""Benchmarks at synthetic scales: ``make bench`` (``SCALE=small|mel|national|all``).

Prints a table (scale, rows, step, wall seconds, peak RSS) and writes it as JSON to
``benchmarks/results/bench_<scale>.json``. Reported, not asserted: CI never fails
on timing noise.

Steps: synthetic generation, load + validate, derive, indicators, each family of
tests (rates/CMH, logit, survival, decomposition, segregation), maps, and the
end-to-end ``run`` (notebook execution and report) at small and mel scale.
Peak RSS is sampled every 50 ms over the benchmark process and its children
(notebook kernels included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


class _RSS:
    """Peak resident memory of this process and its children while a step runs."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _total(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            time.sleep(0.05)

    def __enter__(self):
        self.peak = self._total()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._total())


ROWS: list[dict] = []


@contextmanager
def step(scale: str, name: str, rows: int | None = None):
    with _RSS() as rss:
        t0 = time.perf_counter()
        box: dict = {}
        yield box
        wall = time.perf_counter() - t0
    ROWS.append(
        {
            "scale": scale,
            "rows": box.get("rows", rows),
            "step": name,
            "wall_s": round(wall, 3),
            "peak_rss_mib": round(rss.peak / 2**20, 1),
        }
    )
    r = ROWS[-1]
    print(
        f"{r['scale']:<9} {str(r['rows']):>9} {r['step']:<34} {r['wall_s']:>9.2f} {r['peak_rss_mib']:>10.1f}",
        flush=True,
    )


def bench_scale(scale: str, *, end_to_end: bool, seed: int = 1) -> None:
    from allocation_analysis import analysis, indicators, stats, synth
    from allocation_analysis.config import InputPaths
    from allocation_analysis.io import load_inputs
    from allocation_analysis.pipeline import config_from_options, run_analysis
    from allocation_analysis.session import prepare

    os.environ.setdefault("ALLOCATION_ANALYSIS_KEY", "00" * 32)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{scale}-"))
    data = tmp / "data"
    with step(scale, "synth (generate + write)") as box:
        ds = synth.generate(scale=scale, seed=seed)
        synth.write_dataset(ds, data)
        box["rows"] = len(ds.demandes) + len(ds.attributions)
    options = {
        k: (
            str(data / v)
            if k in {"demandes", "attributions", "logements", "seuils", "communes", "qpv"}
            else v
        )
        for k, v in ds.config.items()
    }
    options["output"] = str(tmp / "out")
    paths, config, output = config_from_options(options)
    del ds
    with step(scale, "load + validate") as box:
        inputs = load_inputs(InputPaths.from_mapping(options))
        box["rows"] = len(inputs.demandes) + len(inputs.attributions)
    with step(scale, "derive") as box:
        frames = prepare(inputs, config)
        box["rows"] = len(frames["access"])
    acc = frames["access"]
    alloc = frames["allocations"]
    sem = alloc[
        (alloc["date_bail"] >= str(config.period.start))
        & (alloc["date_bail"] <= str(config.period.end))
    ]
    with step(scale, "indicators (all scopes, 2 windows)", len(alloc)):
        indicators.compute_indicators(alloc, period=config.period, config=config)
    sub = acc[acc["nationalite"].isin(["francaise", "hors_ue"])].assign(
        _evt=lambda d: (d["evenement"] == 1).astype(int),
        strate=lambda d: d["typologie_demandee"].astype(str) + "|" + d["prioritaire"].astype(str),
    )
    common = {"group": "nationalite", "reference": "francaise", "compared": "hors_ue"}
    with step(scale, "tests: rates + CMH", len(sub)):
        stats.compare_rates(sub, outcome="access", **common)
        stats.cmh(sub, outcome="access", strata="strate", **common)
    with step(scale, "tests: adjusted logit (access)", len(sub)):
        stats.logit_disparity(
            sub,
            outcome="access",
            controls=analysis.ACCESS_CONTROLS,
            cluster=analysis.CLUSTER,
            **common,
        )
    with step(scale, "tests: placement logit", len(sem)):
        s2 = sem[sem["nationalite"].isin(["francaise", "hors_ue"])]
        stats.logit_disparity(
            s2, outcome="logement_en_qpv", controls=analysis.PLACEMENT_CONTROLS, **common
        )
    with step(scale, "tests: log-rank + Cox", len(sub)):
        stats.logrank(sub, duration="duree_jours", event="_evt", group="nationalite")
        stats.cox(
            sub,
            duration="duree_jours",
            event="_evt",
            controls=analysis.ACCESS_CONTROLS,
            cluster=analysis.CLUSTER,
            entry="entree_jours",
            **common,
        )
    if scale != "national":
        with step(scale, "tests: Fairlie (100 bootstrap)", len(sub)):
            stats.fairlie(
                sub,
                outcome="access",
                controls=analysis.ACCESS_CONTROLS,
                n_boot=100,
                random_state=1,
                **common,
            )
        with step(scale, "tests: dissimilarity (999 perm.)", len(sem)):
            stats.dissimilarity(
                sem,
                group="nationalite",
                unit="commune_logement",
                reference="francaise",
                compared="hors_ue",
                n_permutations=999,
                random_state=1,
            )
    if end_to_end:
        with step(scale, "run end to end (3 notebooks, report)") as box:
            final = run_analysis(paths, config, output)
            box["rows"] = len(inputs.demandes) + len(inputs.attributions)
        manifest = json.loads((final / "manifest.json").read_text())
        for name, secs in manifest["timings_seconds"].items():
            ROWS.append(
                {
                    "scale": scale,
                    "rows": None,
                    "step": f"  within run: {name}",
                    "wall_s": secs,
                    "peak_rss_mib": None,
                }
            )
            print(f"{scale:<9} {'':>9} {'  within run: ' + name:<34} {secs:>9.2f}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="small", help="small, mel, national, or all (small+mel)")
    parser.add_argument("--no-run", action="store_true", help="skip the end-to-end run")
    args = parser.parse_args(argv)
    scales = ["small", "mel"] if args.scale == "all" else [args.scale]
    print(
        f"machine: {platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    print(f"{'scale':<9} {'rows':>9} {'step':<34} {'wall s':>9} {'peak MiB':>10}")
    for scale in scales:
        bench_scale(scale, end_to_end=(scale != "national") and not args.no_run)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_{args.scale}.json"
    path.write_text(
        json.dumps(
            {
                "machine": {"cores": psutil.cpu_count(), "python": platform.python_version()},
                "rows": ROWS,
            },
            indent=2,
        )
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()

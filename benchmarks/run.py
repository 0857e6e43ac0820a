"""Benchmarks at synthetic scales: ``make bench`` (``SCALE=small|mel|national|all``).

Prints a table (scale, rows, step, wall seconds, peak RSS) and writes it as JSON to
``benchmarks/results/bench_<scale>.json``. Reported, not asserted: CI never fails
on timing noise.

Steps at ``small`` and ``mel``: synthetic generation, load + validate, derive,
indicators, each family of tests (rates/CMH, logit, survival, decomposition,
segregation), the whole ``disparity_tests`` of the report, segregation
permutation inference against the ``segregation`` package's
``SingleValueTest`` (same data, same number of permutations), maps, the
notebook kernel start and papermill overhead, and the end-to-end ``run``
(three notebooks, report) with its internal steps.

``national`` (on demand): the data set is streamed to disk by the generator,
then load + validate, derive, indicators, the adjusted access and placement
logits and log-rank + Cox for origin and residence, and spatial assignment of
1 M points to communes and QPV. The cost per row is compared with the last
``mel`` results found in ``benchmarks/results/`` (slope and log-log elasticity).

Peak RSS is sampled every 50 ms over the benchmark process and its children
(notebook kernels included).

``--data DIR`` reuses the data set in ``DIR`` when it holds a ``config.yaml``
(the national one takes about ten minutes of CPU to generate), otherwise
generates it there and keeps it: ``python -m benchmarks.run --scale national
--data /tmp/national``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

log = logging.getLogger("benchmarks")


class _RSS:
    """Peak resident memory of this process and its children while a step runs."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _total(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            with suppress(psutil.Error):
                total += child.memory_info().rss
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


def _record(scale: str, rows, name: str, wall, rss_mib, note: str | None = None) -> None:
    ROWS.append(
        {
            "scale": scale,
            "rows": rows,
            "step": name,
            "wall_s": None if wall is None else round(wall, 3),
            "peak_rss_mib": None if rss_mib is None else round(rss_mib, 1),
            **({"note": note} if note else {}),
        }
    )
    w = "" if wall is None else f"{wall:9.2f}"
    m = "" if rss_mib is None else f"{rss_mib:10.1f}"
    print(
        f"{scale:<9} {'' if rows is None else rows:>9} {name:<40} {w:>9} {m:>10}"
        + (f"  {note}" if note else ""),
        flush=True,
    )


@contextmanager
def step(scale: str, name: str, rows: int | None = None):
    """Time a step; a failing step is recorded as such and the benchmark goes on."""
    box: dict = {}
    err = None
    with _RSS() as rss:
        t0 = time.perf_counter()
        try:
            yield box
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
            err = (
                f"ÉCHEC {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
            )
        wall = time.perf_counter() - t0
    _record(scale, box.get("rows", rows), name, wall, rss.peak / 2**20, err or box.get("note"))


class _StepLog(logging.Handler):
    """Timestamps of the pipeline's « Étape i/n » messages (timings even when a run fails)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.marks: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith("Étape"):
            self.marks.append((msg.split(":", 1)[-1].strip(), time.perf_counter()))


def _segregation_competitor(sem: pd.DataFrame, n_perm: int, scale: str) -> None:
    """Our permutation test and ``segregation.SingleValueTest`` on the same unit counts."""
    from allocation_analysis import stats

    sub = sem[sem["nationalite"].isin(["francaise", "hors_ue"]) & sem["commune_logement"].notna()]
    t_ours = 0.0
    for index, name in (("dissimilarity", "D"), ("isolation", "isolation"), ("theil_h", "theil_h")):
        with step(scale, f"segregation: ours {name} ({n_perm} perm.)", len(sub)) as box:
            t0 = time.perf_counter()
            res = getattr(stats, index)(
                sub,
                group="nationalite",
                unit="commune_logement",
                reference="francaise",
                compared="hors_ue",
                n_permutations=n_perm,
                random_state=1,
            )
            box["note"] = f"{name}={res.estimate:.4f} p={res.p_value:.4f}"
            if index == "dissimilarity":
                t_ours = time.perf_counter() - t0
    try:
        from segregation.inference import SingleValueTest
        from segregation.singlegroup import Dissim
    except ImportError:
        _record(scale, None, "segregation: package SingleValueTest", None, None, "non installé")
        return
    counts = (
        sub.assign(a=(sub["nationalite"] == "hors_ue").astype(int))
        .groupby("commune_logement", observed=True)["a"]
        .agg(["sum", "size"])
        .rename(columns={"sum": "a", "size": "t"})
        .reset_index()
    )
    with step(scale, f"segregation: package ({n_perm} perm., 1 job)", len(sub)) as box:
        t0 = time.perf_counter()
        seg = Dissim(counts, group_pop_var="a", total_pop_var="t")
        test = SingleValueTest(
            seg,
            iterations_under_null=n_perm,
            null_approach="person_permutation",
            two_tailed=False,
            n_jobs=1,
        )
        t_pkg = time.perf_counter() - t0
        box["note"] = (
            f"D={seg.statistic:.4f} p={test.p_value:.4f}; ours {t_pkg / t_ours:.0f}x faster"
        )
    ROWS[-1]["speedup"] = round(t_pkg / t_ours, 1)


def _geo_points(scale: str, data: Path, n: int = 1_000_000, seed: int = 1) -> None:
    """Spatial assignment of ``n`` random points to communes and to QPV."""
    from allocation_analysis.io.geo import assign_points, load_communes, load_qpv, to_wgs84

    communes = load_communes(next(data.glob("communes*")))
    qpv = load_qpv(next(data.glob("qpv*")))
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = to_wgs84(communes).total_bounds
    lon = rng.uniform(minx, maxx, n)
    lat = rng.uniform(miny, maxy, n)
    lon[rng.random(n) < 0.01] = np.nan
    with step(scale, "geo: 1M points -> communes + QPV", n) as box:
        c = assign_points(lon, lat, communes, code_column="insee_com")
        q = assign_points(lon, lat, qpv, code_column="code_qpv")
        box["note"] = (
            f"{len(communes)} communes, {len(qpv)} QPV; "
            f"{int(c.notna().sum())} / {int(q.notna().sum())} assigned"
        )


def _kernel_overhead(scale: str) -> None:
    """One kernel start + a one-cell notebook through papermill, and the library import."""
    import subprocess
    import sys

    import nbformat

    from allocation_analysis.pipeline import ensure_kernel, execute_notebook

    with step(scale, "import allocation_analysis (fresh process)"):
        subprocess.run(
            [sys.executable, "-c", "import allocation_analysis.analysis, allocation_analysis.maps"],
            check=True,
        )
    tmp = Path(tempfile.mkdtemp(prefix="bench-nb-"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x + 1"),
    ]
    nbformat.write(nb, tmp / "empty.ipynb")
    kernel = ensure_kernel()
    with step(scale, "papermill: kernel start + 1 cell"):
        execute_notebook(
            tmp / "empty.ipynb", tmp / "out.ipynb", {"x": 2}, kernel=kernel, timeout=60
        )
    shutil.rmtree(tmp, ignore_errors=True)


def _tests(scale: str, acc: pd.DataFrame, sem: pd.DataFrame, *, heavy: bool) -> None:
    from allocation_analysis import analysis, stats

    for g in analysis.GROUPINGS:
        cmp = g.compared[-1]
        sub = acc[acc[g.column].isin([g.reference, cmp])].assign(
            _evt=lambda d: (d["evenement"] == 1).astype(int),
            strate=lambda d: (
                d["typologie_demandee"].astype(str) + "|" + d["prioritaire"].astype(str)
            ),
        )
        s2 = sem[sem[g.column].isin([g.reference, cmp])].assign(
            logement_en_qpv=lambda d: d["logement_en_qpv"].astype(bool)
        )
        common = {"group": g.column, "reference": g.reference, "compared": cmp}
        k = g.key
        with step(scale, f"tests {k}: rates + CMH", len(sub)):
            stats.compare_rates(sub, outcome="access", **common)
            stats.cmh(sub, outcome="access", strata="strate", **common)
        with step(scale, f"tests {k}: adjusted logit (access)", len(sub)):
            stats.logit_disparity(
                sub,
                outcome="access",
                controls=analysis.ACCESS_CONTROLS,
                cluster=analysis.CLUSTER,
                **common,
            )
        with step(scale, f"tests {k}: placement logit", len(s2)):
            stats.logit_disparity(
                s2, outcome="logement_en_qpv", controls=analysis.PLACEMENT_CONTROLS, **common
            )
        with step(scale, f"tests {k}: log-rank + Cox", len(sub)):
            stats.logrank(
                sub,
                duration="duree_jours",
                event="_evt",
                group=g.column,
                entry=analysis.WAITING_TIME_ENTRY,
            )
            stats.cox(
                sub,
                duration="duree_jours",
                event="_evt",
                controls=analysis.ACCESS_CONTROLS,
                cluster=analysis.CLUSTER,
                entry=analysis.WAITING_TIME_ENTRY,
                **common,
            )
        if heavy:
            with step(scale, f"tests {k}: Fairlie (analytic SE)", len(sub)):
                stats.fairlie(
                    sub,
                    outcome="access",
                    controls=analysis.ACCESS_CONTROLS,
                    random_state=1,
                    **common,
                )


def bench_scale(
    scale: str, *, end_to_end: bool, seed: int = 1, data_dir: Path | None = None
) -> None:
    from allocation_analysis import analysis, indicators
    from allocation_analysis.config import InputPaths
    from allocation_analysis.io import load_inputs
    from allocation_analysis.pipeline import config_from_options, run_analysis
    from allocation_analysis.session import prepare

    os.environ.setdefault("ALLOCATION_ANALYSIS_KEY", "00" * 32)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{scale}-"))
    data = tmp / "data"
    national = scale == "national"
    if data_dir is not None and (data_dir / "config.yaml").exists():
        data = data_dir  # reuse a data set generated earlier (never deleted here)
        print(f"{scale:<9} {'':>9} synth: data set reused from {data}", flush=True)
    else:
        if data_dir is not None:
            data = data_dir
        _synth(scale, data, seed)
    from allocation_analysis.config import load_config_file

    options = load_config_file(data / "config.yaml")  # input paths made absolute
    options["output"] = str(tmp / "out")
    paths, config, output = config_from_options(options)
    inputs = None
    with step(scale, "load + validate") as box:
        inputs = load_inputs(InputPaths.from_mapping(options))
        box["rows"] = len(inputs.demandes) + len(inputs.attributions)
    n_input = len(inputs.demandes) + len(inputs.attributions)
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
    from allocation_analysis.threads import single_thread

    with single_thread():  # as the report runs them
        _tests(scale, acc, sem, heavy=not national)
    if national:
        _geo_points(scale, data)
    else:
        with step(scale, "disparity_tests (as in notebook 03)", len(acc)):
            analysis.disparity_tests(acc, sem, config=config)
        _segregation_competitor(sem, 999, scale)
        _maps(scale, frames, inputs, config)
        _kernel_overhead(scale)
    del frames, acc, alloc, sem
    if end_to_end:
        _end_to_end(scale, paths, config, output, n_input, run_analysis)
    shutil.rmtree(tmp, ignore_errors=True)


def _synth(scale: str, data: Path, seed: int) -> None:
    from allocation_analysis import synth

    with step(scale, "synth (generate + write)") as box:
        if scale == "national":
            synth.synth_command(output=data, seed=seed, scale=scale, fmt="csv")
            truth = json.loads((data / "truth.json").read_text())
            box["rows"] = truth["counts"]["demandes"] + truth["counts"]["attributions"]
        else:
            ds = synth.generate(scale=scale, seed=seed)
            synth.write_dataset(ds, data)
            box["rows"] = len(ds.demandes) + len(ds.attributions)
            del ds


def _maps(scale, frames, inputs, config) -> None:
    """Maps of notebook 02: folium map saved self-contained, and the static choropleth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from allocation_analysis import figures, indicators, maps

    if inputs.communes is None:
        return
    ind = indicators.compute_indicators(frames["allocations"], period=config.period, config=config)
    tmp = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    with step(scale, "maps: folium (2 indicators, saved)") as box:
        size = 0
        for ind_id in ("q1_hors_qpv", "non_q1_en_qpv"):
            m = maps.indicator_map(inputs.communes, ind, indicator_id=ind_id, qpv=inputs.qpv)
            m.save(str(tmp / f"{ind_id}.html"))
            size += (tmp / f"{ind_id}.html").stat().st_size
        box["note"] = f"{size / 1e6:.1f} MB html"
    with step(scale, "maps: static choropleth (2, PNG)"):
        for ind_id in ("q1_hors_qpv", "non_q1_en_qpv"):
            fig = figures.indicator_choropleth(
                inputs.communes, ind, indicator_id=ind_id, qpv=inputs.qpv
            )
            fig.savefig(tmp / f"{ind_id}.png", dpi=150)
            plt.close(fig)
    shutil.rmtree(tmp, ignore_errors=True)


def _end_to_end(scale, paths, config, output, n_input, run_analysis) -> None:
    handler = _StepLog()
    plog = logging.getLogger("allocation_analysis.pipeline")
    old_level = plog.level
    plog.setLevel(logging.INFO)
    plog.addHandler(handler)
    plog.propagate = False
    try:
        with step(scale, "run end to end (3 notebooks, report)", n_input) as box:
            t0 = time.perf_counter()
            try:
                final = run_analysis(paths, config, output)
            finally:
                box["t_end"] = time.perf_counter()
                box["t0"] = t0
    finally:
        plog.removeHandler(handler)
        plog.setLevel(old_level)
        plog.propagate = True
    marks = handler.marks + [("fin", box["t_end"])]
    for (name, t), (_, t_next) in zip(marks[:-1], marks[1:], strict=True):
        _record(scale, None, f"  within run: {name[:28]}", t_next - t, None)
    if ROWS[-len(marks)]["step"].startswith("run end") and "note" not in ROWS[-len(marks)]:
        manifest = json.loads((Path(final) / "manifest.json").read_text())
        log.debug("manifest timings %s", manifest.get("timings_seconds"))


def _slopes() -> list[dict]:
    """Cost per row between mel and national for the steps timed at both scales."""
    runs = {}
    for s in ("mel", "all", "national"):
        f = RESULTS / f"bench_{s}.json"
        if f.exists():
            for r in json.loads(f.read_text())["rows"]:
                if r["scale"] in ("mel", "national") and r["rows"] and r["wall_s"]:
                    runs.setdefault(r["step"], {})[r["scale"]] = r
    for r in ROWS:
        if r["scale"] in ("mel", "national") and r["rows"] and r["wall_s"]:
            runs.setdefault(r["step"], {})[r["scale"]] = r
    out = []
    for name, by in runs.items():
        if {"mel", "national"} <= set(by):
            m, n = by["mel"], by["national"]
            if n["rows"] == m["rows"]:
                continue
            slope = (n["wall_s"] - m["wall_s"]) / (n["rows"] - m["rows"]) * 1e6
            elast = math.log(n["wall_s"] / m["wall_s"]) / math.log(n["rows"] / m["rows"])
            out.append(
                {
                    "step": name,
                    "rows_mel": m["rows"],
                    "rows_national": n["rows"],
                    "wall_mel": m["wall_s"],
                    "wall_national": n["wall_s"],
                    "s_per_million_rows": round(slope, 2),
                    "elasticity": round(elast, 2),
                }
            )
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", help="small, mel, national, or all (small+mel)")
    parser.add_argument("--no-run", action="store_true", help="skip the end-to-end run")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data set folder: reused when it holds a config.yaml, else generated there "
        "(and kept); one scale only",
    )
    parser.add_argument(
        "--max-memory-gib",
        type=float,
        default=None,
        help="address-space limit of the benchmark process (default: 16 for national)",
    )
    args = parser.parse_args(argv)
    if args.max_memory_gib is None and args.scale == "national":
        args.max_memory_gib = 16.0
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")  # the competitor's progress bar
    scales = ["small", "mel"] if args.scale == "all" else [args.scale]
    if args.data is not None and len(scales) > 1:
        parser.error("--data applies to one scale (small, mel or national)")
    machine = {
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
        "load_average_1_5_15": [round(x, 1) for x in psutil.getloadavg()],
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    print(
        f"machine: {machine['machine']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, load average {machine['load_average_1_5_15']}"
    )
    print(f"{'scale':<9} {'rows':>9} {'step':<40} {'wall s':>9} {'peak MiB':>10}")
    if args.max_memory_gib:
        # a step that would exhaust the machine fails with MemoryError (recorded as ÉCHEC)
        # instead of waking the OOM killer on a shared machine
        import resource

        limit = int(args.max_memory_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        machine["address_space_limit_gib"] = args.max_memory_gib
    t0 = time.perf_counter()
    for scale in scales:
        bench_scale(
            scale,
            end_to_end=(scale != "national") and not args.no_run,
            data_dir=args.data,
        )
    slopes = _slopes()
    if slopes:
        print("\ncost vs rows, mel -> national (s per million rows; elasticity 1 = linear)")
        for s in slopes:
            print(
                f"  {s['step']:<40} {s['wall_mel']:>8.2f} s -> {s['wall_national']:>8.2f} s  "
                f"{s['s_per_million_rows']:>8.2f} s/M rows  elasticity {s['elasticity']:.2f}"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_{args.scale}.json"
    machine["load_average_at_end"] = [round(x, 1) for x in psutil.getloadavg()]
    path.write_text(
        json.dumps(
            {
                "machine": machine,
                "total_s": round(time.perf_counter() - t0, 1),
                "rows": ROWS,
                "slopes_mel_national": slopes,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()

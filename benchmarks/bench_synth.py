"""Timing of the synthetic generator (``python benchmarks/bench_synth.py [scale ...]``).

Prints, for each scale, the time to generate in memory, the time to write the
files (CSV), the row counts, the peak resident memory of the process, and the
time per replicate of :func:`allocation_analysis.synth.draw_replicates` at
``tiny``. ``national`` is streamed to disk block by block with
:func:`allocation_analysis.synth.synth_command`.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from allocation_analysis.synth import (
    demo_territory,
    draw_replicates,
    generate,
    synth_command,
    write_dataset,
)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_scale(scale: str, seed: int = 1) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if scale == "national":
            t0 = time.perf_counter()
            synth_command(output=tmp, seed=seed, scale=scale, fmt="csv")
            t = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
            print(
                f"{scale:9s} generate+write (streamed) {t:7.1f} s  files {size:8.0f} MB  "
                f"peak RSS {_peak_rss_mb():7.0f} MB"
            )
            return
        t0 = time.perf_counter()
        ds = generate(scale=scale, seed=seed)
        t1 = time.perf_counter()
        write_dataset(ds, tmp, fmt="csv")
        t2 = time.perf_counter()
    n_sem = ds.attributions.groupby(
        ds.attributions["date_bail"].dt.year * 2 + (ds.attributions["date_bail"].dt.month > 6)
    ).size()
    print(
        f"{scale:9s} generate {t1 - t0:6.2f} s  write {t2 - t1:6.2f} s  "
        f"demandes {len(ds.demandes):8d}  attributions {len(ds.attributions):7d} "
        f"(per semester {n_sem.mean():7.0f})  logements {len(ds.logements):7d}  "
        f"peak RSS {_peak_rss_mb():6.0f} MB"
    )


def bench_replicates(n: int = 20) -> None:
    demo_territory()
    t0 = time.perf_counter()
    for _ in draw_replicates(n, scale="tiny", effects="null", seed=7):
        pass
    print(
        f"draw_replicates tiny: {(time.perf_counter() - t0) / n:.3f} s per replicate ({n} replicates)"
    )


if __name__ == "__main__":
    scales = sys.argv[1:] or ["small", "mel"]
    t0 = time.perf_counter()
    demo_territory()
    print(f"territory (built once, cached) {time.perf_counter() - t0:.2f} s")
    for s in scales:
        bench_scale(s)
    bench_replicates()

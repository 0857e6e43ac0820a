"""Cost of the allocation-process inputs (``python benchmarks/bench_propositions.py [scale]``).

For one scale (default ``mel``), generates the same territory without and with
propositions (:func:`allocation_analysis.synth.generate`), writes both as CSV,
then times, for each, the input steps of a run: load + validate
(:func:`allocation_analysis.io.load_inputs`) and the derived frames
(:func:`allocation_analysis.session.prepare`). Prints rows and wall seconds;
the ratio with/without is the input part of the 1.5× budget of a run with
propositions.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main(scale: str = "mel") -> None:
    from allocation_analysis.config import AnalysisConfig, InputPaths, Period, load_config_file
    from allocation_analysis.io import load_inputs
    from allocation_analysis.session import prepare
    from allocation_analysis.synth import generate, write_dataset

    os.environ.setdefault("ALLOCATION_ANALYSIS_KEY", "ab" * 32)
    times: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for with_props in (False, True):
            tag = "avec" if with_props else "sans"
            t0 = time.perf_counter()
            ds = generate(scale=scale, seed=1, propositions=with_props)
            t1 = time.perf_counter()
            folder = Path(tmp) / tag
            write_dataset(ds, folder)
            cfg = load_config_file(folder / "config.yaml")
            paths = InputPaths.from_mapping(cfg)
            t2 = time.perf_counter()
            inputs = load_inputs(paths, siren_epci=cfg["siren_epci"])
            t3 = time.perf_counter()
            config = AnalysisConfig(
                period=Period.parse(cfg["period"]), siren_epci=cfg["siren_epci"]
            )
            frames = prepare(inputs, config)
            t4 = time.perf_counter()
            n_prop = 0 if ds.propositions is None else len(ds.propositions)
            times[tag] = {"generate": t1 - t0, "load": t3 - t2, "prepare": t4 - t3}
            print(
                f"{scale} {tag:4s} propositions {n_prop:7d}  generate {t1 - t0:6.2f} s  "
                f"load+validate {t3 - t2:6.2f} s  prepare {t4 - t3:6.2f} s  "
                f"({len(frames['demandes'])} demandes, {len(frames['allocations'])} baux)"
            )
    for step in ("generate", "load", "prepare"):
        print(f"ratio {step}: {times['avec'][step] / times['sans'][step]:.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])

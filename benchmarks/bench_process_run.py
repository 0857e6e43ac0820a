"""End-to-end cost of a run with propositions: ``python -m benchmarks.bench_process_run [scale]``.

Generates one territory (default scale ``mel``, seed 1) with the allocation
process (:func:`allocation_analysis.synth.generate` with ``propositions=True``,
about three candidates per recorded vacancy), writes it as CSV, then runs the
whole pipeline (:func:`allocation_analysis.pipeline.run_analysis`: load,
validation, every notebook, report) twice on the same files: once without the
``propositions`` key (chapter 4 is skipped) and once with it. Prints the wall
seconds of both runs, their per-step timings from ``manifest.json`` and their
ratio; the budget of the issue is a ratio of at most 1.5. Reported, not
asserted (the machine's load changes the numbers).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(scale: str = "mel") -> dict[str, float]:
    from allocation_analysis import pipeline
    from allocation_analysis.config import load_config_file
    from allocation_analysis.synth import generate, write_dataset

    os.environ.setdefault("ALLOCATION_ANALYSIS_KEY", "ab" * 32)
    wall: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ds = generate(scale=scale, seed=1, propositions=True)
        data = write_dataset(ds, Path(tmp) / "donnees")
        n_com = ds.propositions["id_offre"].nunique()
        n_let = int((ds.propositions["reponse_demandeur"] == "acceptation").sum())
        print(
            f"{scale}: {len(ds.propositions)} propositions, {n_com} commissions "
            f"({len(ds.propositions) / n_com:.2f} candidats par commission), {n_let} baux "
            f"attribués en commission ({len(ds.propositions) / n_let:.2f} candidats par bail), "
            f"généré en {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        cfg = load_config_file(Path(data) / "config.yaml")
        for tag in ("sans", "avec"):
            options = dict(cfg)  # load_config_file made the input paths absolute
            if tag == "sans":
                options.pop("propositions", None)
            options["output"] = str(Path(tmp) / f"sortie_{tag}")
            options["territory"] = f"bench_{tag}"
            paths, config, out = pipeline.config_from_options(options)
            t1 = time.perf_counter()
            final = pipeline.run_analysis(paths, config, out)
            wall[tag] = time.perf_counter() - t1
            steps = json.loads((final / "manifest.json").read_text("utf-8"))["timings_seconds"]
            detail = ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
            print(f"{tag} propositions: {wall[tag]:.1f} s ({detail})", flush=True)
    print(f"ratio avec/sans: {wall['avec'] / wall['sans']:.2f}")
    return wall


if __name__ == "__main__":
    main(*sys.argv[1:2])

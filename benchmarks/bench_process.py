"""Cost of the process analysis (chapter 4) at a synthetic scale: ``python -m benchmarks.bench_process``.

The generated territory has no propositions yet at the time of writing, so
this benchmark builds them from the generated leases of the semester: each
lease is a vacancy (``id_offre``) examined with its leaseholder and two other
active demands of the same first-choice commune (about three candidates per
vacancy, as in the MEL), the leaseholder ranked first and accepting; the
demands get a cotation score with two criteria. It times each step of
``notebooks/04_processus.ipynb`` (frames, funnel and secret, per-stage models
and cotation audit) and prints them with the active demands and candidates.
Reported, not asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _propositions(acc: pd.DataFrame, sem: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    by_commune = {
        c: g["demande_id"].to_numpy() for c, g in acc.groupby("commune_choix1", observed=True)
    }
    everyone = acc["demande_id"].to_numpy()
    rows = []
    for k, lease in enumerate(sem.itertuples(index=False)):
        pool = by_commune.get(lease.commune_logement, everyone)
        others = rng.choice(pool, size=2, replace=len(pool) < 2)
        date = pd.Timestamp(lease.date_bail) - pd.Timedelta(days=int(rng.integers(5, 40)))
        base = {
            "id_offre": f"O{k}",
            "date_cal": date,
            "commune_logement": lease.commune_logement,
            "qpv_logement": lease.qpv_logement,
            "bailleur_siren": "123456789",
            "reservataire": "bailleur",
        }
        rows.append(
            {
                **base,
                "demande_id": lease.demande_id,
                "decision_cal": "attribution",
                "rang": 1,
                "reponse_demandeur": "acceptation",
            }
        )
        for j, d in enumerate(others, start=2):
            fav = rng.random() < 0.7
            rows.append(
                {
                    **base,
                    "demande_id": d,
                    "decision_cal": "attribution" if fav else "non_attribution",
                    "rang": j if fav else None,
                    "reponse_demandeur": None,
                }
            )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    from allocation_analysis import process, synth
    from allocation_analysis.config import InputPaths
    from allocation_analysis.io import load_inputs
    from allocation_analysis.pipeline import config_from_options
    from allocation_analysis.session import prepare
    from allocation_analysis.threads import single_thread

    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="mel")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    os.environ.setdefault("ALLOCATION_ANALYSIS_KEY", "00" * 32)
    data = Path(tempfile.mkdtemp(prefix="bench-process-"))
    synth.write_dataset(synth.generate(scale=args.scale, seed=args.seed), data)
    from allocation_analysis.config import load_config_file

    options = load_config_file(data / "config.yaml")  # input paths made absolute
    options["output"] = str(data / "out")
    _, config, _ = config_from_options(options)
    frames = prepare(load_inputs(InputPaths.from_mapping(options)), config)
    acc, alloc = frames["access"], frames["allocations"]
    p = config.period
    sem = alloc[(alloc["date_bail"] >= str(p.start)) & (alloc["date_bail"] <= str(p.end))]
    rng = np.random.default_rng(args.seed)
    a = np.round(np.minimum(acc["anciennete_annees"].to_numpy(float), 10) * 10, 2)
    b = rng.integers(0, 50, len(acc)).astype(float)
    acc = acc.assign(cotation_anciennete=a, cotation_situation=b, score_cotation=a + b)
    props = _propositions(acc, sem, args.seed)
    print(
        f"{args.scale}: {len(acc)} demandes actives, {len(sem)} baux du semestre, "
        f"{len(props)} candidatures ({len(props) / max(len(sem), 1):.2f} par logement)"
    )
    times = {}
    with single_thread():
        t = time.perf_counter()
        cands = process.candidacies(props, acc, alloc, p)
        frame = process.process_frame(acc, cands, props)
        times["frames"] = time.perf_counter() - t
        t = time.perf_counter()
        process.funnel_tables(frame, threshold=config.secret_threshold, alpha=config.alpha)
        times["funnel + secret"] = time.perf_counter() - t
        t = time.perf_counter()
        records, _ = process.process_tests(frame, cands, config=config)
        process.tests_table(records, config=config)
        times["stage models + cotation audit"] = time.perf_counter() - t
    for k, v in times.items():
        print(f"  {k:<32} {v:8.2f} s")
    print(f"  {'total':<32} {sum(times.values()):8.2f} s")


if __name__ == "__main__":
    main()

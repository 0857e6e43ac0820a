"""Coverage and size of the per-stage tests on the generator's allocation process.

``python -m benchmarks.calibration_process_synth --effects processus --reps 50``
draws territories with :func:`allocation_analysis.synth.generate`
(``propositions=True``, scale ``demo`` by default, seeds ``seed * 1000 + r``),
loads them in memory (:func:`allocation_analysis.calibration.loaded_inputs`),
and runs the report's per-stage tests of the demonstration semester
(:func:`allocation_analysis.process.process_tests`, restricted to the four
outcomes below). For each test and group it prints the rejection rate at
α = 0.05 and the coverage of the 95 % interval of the planted value (the
``estimands`` of ``truth.json["processus"]``):

* ``designation`` (adjusted logit): the designation odds ratio of the
  effects, a ratio of draw weights, which the semester logit recovers only
  approximately;
* ``cal_favourable`` (conditional logit by ``id_offre``): the ``decision_cal``
  odds ratio, exact;
* ``refusal`` (logit among the offers, with the dwelling's QPV status and its
  interaction): the ``refus`` odds ratio of the group, exact;
* ``cal_first_equal_score`` (conditional logit of ranked first on the score):
  1, exact (the ranking follows the grid equally for every group).

With ``--effects processus_null`` (no stage effect, composition differences
between the groups) every planted value is 1 and the rejection rate is the
size. ``--workers 2`` spreads the draws over two processes. ``--json FILE``
writes every replicate's estimates. Reported, not asserted (docs/calibration.md).
"""

from __future__ import annotations

import argparse
import json
import math
from concurrent.futures import ProcessPoolExecutor


def one(scale: str, seed: int, effects: str) -> list[dict]:
    """The four tests of one draw (:func:`allocation_analysis.calibration.process_stage_records`)."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from allocation_analysis import calibration, synth

    ds = synth.generate(scale=scale, seed=seed, effects=effects, propositions=True)
    return [{"seed": seed, **r} for r in calibration.process_stage_records(ds)]


def summarise(rows: list[dict]) -> list[dict]:
    """Rejection rate and coverage per test and group (NaN results left out, counted)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    out = []
    for (tid, group), g in df.groupby(["id", "group"], sort=False):
        ok = g["p_value"].notna() & g["ci_low"].notna()
        k = g[ok]
        rej = float((k["p_value"] < 0.05).mean())
        cov = float(((k["ci_low"] <= k["planted"]) & (k["planted"] <= k["ci_high"])).mean())
        n = int(ok.sum())
        out.append(
            {
                "id": tid,
                "group": group,
                "planted": float(g["planted"].iloc[0]),
                "computed": n,
                "draws": len(g),
                "rejection": rej,
                "coverage": cov,
                "mc_half_width_0.95": 1.96 * math.sqrt(0.95 * 0.05 / max(n, 1)),
                "median_estimate": float(k["estimate"].median()),
            }
        )
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--effects", default="processus")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--scale", default="demo")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    seeds = [args.seed * 1000 + r for r in range(args.reps)]
    rows: list[dict] = []
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(one, args.scale, s, args.effects) for s in seeds]
        for f in futures:
            rows.extend(f.result())
    table = summarise(rows)
    print(f"effects {args.effects}, scale {args.scale}, {args.reps} draws, seeds {seeds[0]}…")
    for t in table:
        print(
            f"  {t['id']:<40} {t['group']:<8} planted {t['planted']:.2f}  "
            f"median {t['median_estimate']:.3f}  rejection {t['rejection']:.3f}  "
            f"coverage {t['coverage']:.3f} (± {t['mc_half_width_0.95']:.3f})  "
            f"{t['computed']}/{t['draws']} computed"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"args": vars(args), "summary": table, "replicates": rows}, fh, indent=1)
    return table


if __name__ == "__main__":
    main()

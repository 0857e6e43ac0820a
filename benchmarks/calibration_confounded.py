"""Size of every test of the report's plan in a confounded null world.

Population: ``synth.generate(scale="mel", seed=0, effects="null_confounded")``
(no planted disparity; groups that differ in filing dates, incomes,
typologies and first-choice communes; access correlated within communes).
Replicates are plain subsamples (``null="none"``) of 2 000 demands and 1 500
leases. Prints a Markdown table (rate, Wilson 95 % interval, valid
replicates) for ``docs/calibration.md``.

    .venv/bin/python -m benchmarks.calibration_confounded --replicates 1000
"""

from __future__ import annotations

import argparse
import time

from allocation_analysis import analysis, calibration, synth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    pop = calibration.build_population(
        synth.generate(scale="mel", seed=0, effects="null_confounded")
    )
    table = calibration.rejection_rates(
        pop, calibration.TEST_IDS, null="none", n_replicates=args.replicates, seed=args.seed
    )
    family = {t.id: t.family for t in analysis.TEST_PLAN}
    print("| test | group | family | valid | rate [95 % CI] |\n|---|---|---|---|---|")
    for r in table.to_dict("records"):
        print(
            f"| {r['test_id']} | {r['group']} | {family.get(r['test_id'], '')} | "
            f"{r['valid']} | {r['rate']:.3f} [{r['rate_ci_low']:.3f}, {r['rate_ci_high']:.3f}] |"
        )
    print(f"\n{args.replicates} replicates, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Size, power and coverage of the per-stage tests of the process chapter.

``python -m benchmarks.calibration_process [--reps 200]`` draws territories
from a small candidate mechanism in which the hors UE applicants differ in
composition (longer seniority, more priority households) and seniority and
priority drive designation, the commission's decision and the ranking:

* under the null no stage depends on the group, so the adjusted tests (the
  designation logit with the controls, the conditional logits within
  ``id_offre``) must reject about 5 % of the time, while the raw designation
  rate comparison is confounded;
* under the alternative, designation odds of hors UE applicants are
  multiplied by 0.6 and their odds of being ranked first (multinomial logit
  among the favourable candidates of one dwelling, the conditional logit's
  own model) by 0.5: power, and coverage of the 95 % interval of the ranked
  first conditional odds ratio.

Reported, not asserted (docs/calibration.md).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

CONTROLS = ["prioritaire", "anciennete_annees"]


def draw(
    rng: np.random.Generator,
    *,
    or_designation: float,
    or_first: float,
    n: int = 3000,
    n_offers: int = 600,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    hu = rng.random(n) < 0.3
    anc = rng.exponential(np.where(hu, 3.0, 2.0))
    prio = (rng.random(n) < np.where(hu, 0.3, 0.15)).astype(float)
    demands = pd.DataFrame(
        {
            "demande_id": np.arange(n),
            "nationalite": np.where(hu, "hors_ue", "francaise"),
            "prioritaire": prio,
            "anciennete_annees": anc,
        }
    )
    w = np.exp(0.3 * np.minimum(anc, 8) + 0.8 * prio) * np.where(hu, or_designation, 1.0)
    rows = []
    for k in range(n_offers):
        cand = rng.choice(n, size=3, replace=False, p=w / w.sum())
        fav = rng.random(3) < 1 / (1 + np.exp(-(1.2 + 0.6 * prio[cand])))
        idx = np.flatnonzero(fav)
        first = -1
        if len(idx):
            u = np.exp(0.3 * np.minimum(anc[cand[idx]], 8)) * np.where(hu[cand[idx]], or_first, 1.0)
            first = int(idx[rng.choice(len(idx), p=u / u.sum())])
        for i in range(3):
            rows.append(
                {
                    "demande_id": int(cand[i]),
                    "id_offre": k,
                    "favourable": bool(fav[i]),
                    "ranked_first": i == first,
                }
            )
    c = pd.DataFrame(rows).merge(demands, on="demande_id")
    demands["designated"] = demands["demande_id"].isin(c["demande_id"])
    return demands, c


def one(rng, **effects) -> dict[str, tuple[float, float, float]]:
    from allocation_analysis import stats

    d, c = draw(rng, **effects)
    g = dict(group="nationalite", reference="francaise", compared="hors_ue")
    out = {}
    r = stats.compare_rates(d, outcome="designated", **g)
    out["designation raw rates"] = (r.p_value, r.ci_low, r.ci_high)
    r = stats.logit_disparity(d, outcome="designated", controls=CONTROLS, **g)
    out["designation adjusted logit"] = (r.p_value, r.ci_low, r.ci_high)
    r = stats.conditional_logit_disparity(
        c, outcome="favourable", strata="id_offre", controls=CONTROLS, **g
    )
    out["CAL decision clogit"] = (r.p_value, r.ci_low, r.ci_high)
    fav = c[c["favourable"]]
    r = stats.conditional_logit_disparity(
        fav, outcome="ranked_first", strata="id_offre", controls=CONTROLS, **g
    )
    out["ranked first clogit"] = (r.p_value, r.ci_low, r.ci_high)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    for name, effects, truth in (
        ("null", {"or_designation": 1.0, "or_first": 1.0}, 1.0),
        ("alternative", {"or_designation": 0.6, "or_first": 0.5}, 0.5),
    ):
        rng = np.random.default_rng(args.seed)
        res: dict[str, list] = {}
        for _ in range(args.reps):
            for k, v in one(rng, **effects).items():
                res.setdefault(k, []).append(v)
        print(f"{name} ({args.reps} draws)")
        for k, v in res.items():
            a = np.array(v, dtype=float)
            ok = ~np.isnan(a[:, 0])
            rej = float((a[ok, 0] < 0.05).mean())
            se = math.sqrt(rej * (1 - rej) / ok.sum())
            line = f"  {k:<28} rejection {rej:.3f} (± {1.96 * se:.3f}), {ok.sum()} computed"
            if k == "ranked first clogit":
                cov = float(((a[ok, 1] <= truth) & (truth <= a[ok, 2])).mean())
                line += f", coverage of OR {truth}: {cov:.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()

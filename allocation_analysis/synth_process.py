"""The allocation process of the synthetic territory: cotation grid and commissions.

Used by :mod:`allocation_analysis.synth` when a data set is generated with
``propositions=True``. Every draw comes from its own random generator
(``SeedSequence([seed, block, 17])``), so the demands, allocations and
dwellings of a data set, and its ``truth.json`` apart from the ``processus``
entry, are those of the same seed without propositions.

Cotation grid
-------------
Each demand gets the points of five criteria, computed from the generator's
own variables at the demand's reference date (its closing date, or the end of
the data, 31/12/2025), and their total ``score_cotation`` (points rounded to
the hundredth, the total is the sum of the rounded criteria):

- ``cotation_anciennete``: 2.5 points per year of seniority, at most 10 years;
- ``cotation_sans_logement``: 30 points without housing or in a structure,
  15 points when housed by a third party;
- ``cotation_handicap``: 10 points when an adapted dwelling is needed;
- ``cotation_prioritaire``: 40 points for a DALO household, 25 for another
  priority household;
- ``cotation_ressources``: 10 points below 9 000 € of annual income per UC.

Mechanism of one vacancy
------------------------
The vacancies are the dwellings of the leases the access model produced (the
allocations are unchanged); a share :data:`P_UNRECORDED` of them has no
recorded proposition (leases without a proposition). For each other vacancy:

1. *Commission date*: 7 to 45 days before the lease (possibly in the
   previous semester), not before the lessee's filing nor before 01/01/2022.
2. *Designation*: besides the future lessee, the reservataire designates 0, 1
   or 2 other candidates (probabilities 0.25, 0.45, 0.30; fewer when ten
   weighted draws find no other candidate active on the date) among the demands
   of the same requested typology active on the commission date, drawn with
   weights ``exp(log OR_score × score / 10 + log OR_nat + log OR_qpv · qpv)``
   (``processus.designation`` and ``processus.score_designation``).
3. *Commission decision*: the lessee gets a favourable decision
   (``attribution``, 10 % ``attribution_sous_condition``); another candidate
   a favourable one with probability ``expit(logit 0.75 + log OR_nat + log
   OR_qpv · qpv)`` (``processus.decision_cal``), else ``non_attribution``
   (85 %) or ``irrecevabilite``.
4. *Answers*: each other favourable candidate would refuse the dwelling with
   probability ``expit(logit 0.35 + log OR_nat + log OR_qpv · qpv + log
   OR_logement · dwelling in QPV)`` (``processus.refus``), a quarter of these
   by not answering (``sans_reponse``).
5. *Ranks and offers*: the refusing candidates are ranked first (in random
   order) and offered the dwelling in turn; the lessee comes next and accepts;
   the candidates who would have accepted are ranked after the lessee and are
   never offered the dwelling (no answer).

The odds ratios of steps 2 to 4 are the parameters of the draws of the
candidates other than the lessee, whose path is fixed by the access model;
the comparisons the toolkit makes include the lessees, so they recover the
direction of the planted effects, not their exact size. The counts of the
``processus`` entry of ``truth.json`` are exact.

References
----------
.. [1] Code de la construction et de l'habitation, art. L441-2-8 (cotation
   grid of the demands, loi n° 2018-1021 ELAN, art. 111) and R441-3
   (decisions of the allocation commission).
.. [2] Loi n° 2014-366 ALUR, art. 97 (recording of the designation, the
   commission's decision and the applicant's answer in the SNE).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COTATION_CRITERIA",
    "P_UNRECORDED",
    "STAGES",
    "cotation_frame",
    "process_block",
    "stage_records",
]

P_UNRECORDED = 0.05
"""Share of the vacancies whose propositions are not recorded."""
COTATION_CRITERIA = (
    "cotation_anciennete",
    "cotation_sans_logement",
    "cotation_handicap",
    "cotation_prioritaire",
    "cotation_ressources",
)
STAGES = ("designees", "favorables", "proposees", "acceptees", "baux")
"""The nested stages of methods §5, as counted in ``truth.json``."""

_END = np.datetime64("2025-12-31")
_P_EXTRA = np.array([0.25, 0.45, 0.30])  # 0, 1 or 2 other candidates
_DRAWS = 10  # weighted draws per vacancy, of which the first valid distinct ones are kept
_MOTIFS = np.array(
    [
        "localisation",
        "typologie_surface",
        "loyer_charges",
        "etat_logement",
        "environnement",
        "autre",
    ]
)
_P_MOTIFS = np.array([0.30, 0.15, 0.15, 0.15, 0.15, 0.10])


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def cotation_frame(
    h: Mapping[str, np.ndarray],
    depot: np.ndarray,
    radiation: np.ndarray,
    situations: np.ndarray,
) -> pd.DataFrame:
    """Points of each criterion and ``score_cotation`` of every demand of a block.

    Parameters
    ----------
    h : mapping
        Household variables of the generator (``sit``, ``handicap``,
        ``dalo``, ``prioritaire``, ``revenus``, ``uc``).
    depot, radiation : ndarray of datetime64[D]
        Filing and closing dates (``NaT`` while active).
    situations : ndarray of str
        Codes of ``h["sit"]``.

    Returns
    -------
    pandas.DataFrame
        ``score_cotation`` then the :data:`COTATION_CRITERIA`, float points.
    """
    ref = np.where(np.isnat(radiation), _END, radiation)
    years = (ref - depot).astype(np.int64) / 365.25
    sit = situations[h["sit"]]
    crit = {
        "cotation_anciennete": np.round(2.5 * np.clip(years, 0.0, 10.0), 2),
        "cotation_sans_logement": np.select(
            [np.isin(sit, ["sans_logement", "structure"]), sit == "heberge"], [30.0, 15.0], 0.0
        ),
        "cotation_handicap": np.where(h["handicap"], 10.0, 0.0),
        "cotation_prioritaire": np.where(h["dalo"], 40.0, np.where(h["prioritaire"], 25.0, 0.0)),
        "cotation_ressources": np.where(h["revenus"] * 12.0 / h["uc"] < 9000.0, 10.0, 0.0),
    }
    total = np.round(np.sum([crit[c] for c in COTATION_CRITERIA], axis=0), 2)
    return pd.DataFrame({"score_cotation": total, **crit})


def _log_or(block: Mapping[str, Any], nat: np.ndarray, qpv: np.ndarray) -> np.ndarray:
    by_nat = np.log([1.0, block["nationalite"]["ue"], block["nationalite"]["hors_ue"]])
    return by_nat[nat] + math.log(block["residence_qpv"]) * qpv


def process_block(
    *,
    seed: int,
    block: int,
    h: Mapping[str, np.ndarray],
    depot: np.ndarray,
    radiation: np.ndarray,
    alloc_sem: np.ndarray,
    score: np.ndarray,
    nums: np.ndarray,
    attributions: pd.DataFrame,
    in_qpv: np.ndarray,
    semesters: list[tuple[str, np.datetime64, np.datetime64]],
    eff: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Propositions of one block and its exact per-stage counts.

    Parameters
    ----------
    seed, block : int
        Seed of the data set and block number.
    h, depot, radiation, alloc_sem
        The block's demands (generator variables).
    score : ndarray
        ``score_cotation`` of each demand.
    nums : ndarray of str
        ``num_unique`` of each demand.
    attributions : pandas.DataFrame
        The block's leases (contract columns), in the generator's order: row
        ``j`` is the lease of the ``j``-th allocated demand sorted by closing
        date then index.
    in_qpv : ndarray of bool
        Each lease's dwelling lies in a QPV (list in force on the lease date).
    semesters : list
        ``(label, start, end)`` of the simulated semesters.
    eff : mapping
        The ``processus`` block of the effects.

    Returns
    -------
    propositions : pandas.DataFrame
        Contract columns (``num_unique`` in clear).
    counts : pandas.DataFrame
        Per semester, comparison and group: ``actives`` and the
        :data:`STAGES` counts, plus ``baux_sans_proposition``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, block, 17]))
    n = len(depot)
    idx = np.flatnonzero(alloc_sem >= 0)
    idx = idx[np.lexsort((idx, radiation[idx]))]
    m = len(idx)
    lease = radiation[idx]
    sem_of_lease = alloc_sem[idx]
    starts = np.array([s for _, s, _ in semesters])
    recorded = rng.random(m) >= P_UNRECORDED
    back = rng.integers(7, 46, m)
    cal = np.maximum.reduce([lease - back, np.full(m, starts[0]), depot[idx]])
    sem_of_cal = np.searchsorted(starts, cal, side="right") - 1
    k_extra = rng.choice(3, size=m, p=_P_EXTRA)
    nat, qpv, typ = h["nat"], h["qpv_res"].astype(bool), h["typ"]
    des_eff = eff["designation"]
    log_w = math.log(eff["score_designation"]) * score / 10.0 + _log_or(des_eff, nat, qpv)
    weight = np.exp(log_w - log_w.max()) if n else log_w

    # candidates: for each (semester, typology) pool, weighted draws with replacement
    cand_of: list[list[int]] = [[] for _ in range(m)]
    active_end = np.where(np.isnat(radiation), np.datetime64("2100-01-01"), radiation)
    for s, (_, start, end) in enumerate(semesters):
        in_sem = (depot <= end) & (active_end >= start)
        for t in np.unique(typ):
            vac = np.flatnonzero(recorded & (sem_of_cal == s) & (typ[idx] == t) & (k_extra > 0))
            if not len(vac):
                continue
            pool = np.flatnonzero(in_sem & (typ == t))
            cum = np.cumsum(weight[pool])
            u = rng.random((len(vac), _DRAWS)) * cum[-1]
            drawn = pool[np.minimum(np.searchsorted(cum, u, side="right"), len(pool) - 1)]
            c = cal[vac][:, None]
            ok = (depot[drawn] <= c) & (active_end[drawn] > c) & (drawn != idx[vac][:, None])
            for r, v in enumerate(vac):
                chosen: list[int] = []
                for i, good in zip(drawn[r], ok[r], strict=True):
                    if good and i not in chosen:
                        chosen.append(int(i))
                        if len(chosen) == k_extra[v]:
                            break
                cand_of[v] = chosen

    # one row per candidate: the lessee first, then the others
    vac_rows = np.flatnonzero(recorded)
    n_other = np.array([len(cand_of[v]) for v in vac_rows], dtype=np.int64)
    v_of = np.concatenate([vac_rows, np.repeat(vac_rows, n_other)]).astype(np.int64)
    who = np.concatenate(
        [idx[vac_rows], np.array([i for v in vac_rows for i in cand_of[v]], dtype=np.int64)]
    )
    lessee = np.zeros(len(who), dtype=bool)
    lessee[: len(vac_rows)] = True
    k = len(who)

    dec_eff, ref_eff = eff["decision_cal"], eff["refus"]
    p_fav = _expit(_logit(0.75) + _log_or(dec_eff, nat[who], qpv[who]))
    favourable = lessee | (rng.random(k) < p_fav)
    conditional = rng.random(k) < 0.10
    irrecevable = rng.random(k) < 0.15
    decision = np.where(
        favourable,
        np.where(conditional, "attribution_sous_condition", "attribution"),
        np.where(irrecevable, "irrecevabilite", "non_attribution"),
    ).astype(object)
    p_ref = _expit(
        _logit(0.35)
        + _log_or(ref_eff, nat[who], qpv[who])
        + math.log(ref_eff["logement_qpv"]) * in_qpv[v_of]
    )
    refuses = favourable & ~lessee & (rng.random(k) < p_ref)
    silent = rng.random(k) < 0.25
    motif_draw = _MOTIFS[rng.choice(len(_MOTIFS), size=k, p=_P_MOTIFS)]
    order_key = rng.random(k)

    # ranks: refusing candidates first (random order), the lessee, then the others
    group = np.where(refuses, 0, np.where(lessee, 1, 2))
    rank = np.zeros(k, dtype=np.int64)
    sort = np.lexsort((order_key, group, v_of))
    fav_sorted = favourable[sort]
    v_sorted = v_of[sort]
    pos = np.cumsum(fav_sorted)
    first = np.r_[True, v_sorted[1:] != v_sorted[:-1]]
    base = np.maximum.accumulate(np.where(first, pos - fav_sorted, 0))
    rank[sort] = np.where(fav_sorted, pos - base, 0)
    answer = np.where(
        lessee, "acceptation", np.where(refuses, np.where(silent, "sans_reponse", "refus"), "")
    ).astype(object)
    motif = np.where(answer == "refus", motif_draw, "").astype(object)

    att = attributions.iloc[v_of]
    props = pd.DataFrame(
        {
            "num_unique": nums[who],
            "id_offre": [f"OF{block:02d}{v:07d}" for v in v_of],
            "date_cal": pd.to_datetime(cal[v_of]),
            "rpls_id": att["rpls_id"].to_numpy(),
            "commune_logement": att["commune_logement"].to_numpy(),
            "qpv_logement": att["qpv_logement"].to_numpy(),
            "bailleur_siren": att["bailleur_siren"].to_numpy(),
            "reservataire": att["reservataire"].to_numpy(),
            "decision_cal": decision,
            "rang": pd.array(np.where(rank > 0, rank, 0), dtype="Int64"),
            "reponse_demandeur": answer,
            "motif_refus": motif,
        }
    )
    props.loc[rank == 0, "rang"] = pd.NA
    for col in ("reponse_demandeur", "motif_refus"):
        props.loc[props[col] == "", col] = None
    props = props.sort_values(["date_cal", "id_offre"], kind="stable").reset_index(drop=True)

    # exact counts: each demand active in a semester, at its furthest stage there
    sem_cal = sem_of_cal[v_of]
    furthest = np.full((len(semesters), n), -1, dtype=np.int64)
    # stage reached: 0 designated, 1 favourable, 2 offered (refused or no answer),
    # 4 accepted and signed (the lessee); no candidate accepts without signing here
    level = np.where(lessee, 4, np.where(answer != "", 2, np.where(favourable, 1, 0)))
    np.maximum.at(furthest, (sem_cal, who), level)
    rows = []
    for s, (label, start, end) in enumerate(semesters):
        active = (depot <= end) & (active_end >= start)
        lv = furthest[s]
        for comp, groups in (
            ("nationalite", [("francaise", nat == 0), ("ue", nat == 1), ("hors_ue", nat == 2)]),
            ("residence", [("qpv", qpv), ("hors_qpv", ~qpv)]),
        ):
            for g, mask in groups:
                sel = active & mask
                rec: dict[str, Any] = {"periode": label, "comparaison": comp, "groupe": g}
                rec["actives"] = int(sel.sum())
                for j, stage in enumerate(STAGES):
                    rec[stage] = int(np.sum(sel & (lv >= j)))
                rec["baux_sans_proposition"] = int(
                    np.sum(~recorded & (sem_of_lease == s) & mask[idx])
                )
                rows.append(rec)
    return props, pd.DataFrame(rows)


def stage_records(counts: pd.DataFrame) -> list[dict[str, Any]]:
    """Sum the per-block counts into the records of ``truth.json`` (``processus.etapes``)."""
    keys = ["periode", "comparaison", "groupe"]
    cols = ["actives", *STAGES, "baux_sans_proposition"]
    total = counts.groupby(keys, sort=False)[cols].sum().reset_index()
    return [
        {**{k: str(r[k]) for k in keys}, **{c: int(r[c]) for c in cols}}
        for r in total.to_dict("records")
    ]

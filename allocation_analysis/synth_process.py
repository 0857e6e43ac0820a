"""The allocation process of the synthetic territory: cotation grid and commissions.

Used by :mod:`allocation_analysis.synth` when a data set is generated with
``propositions=True``. Every draw of the process comes from its own random
generator (``SeedSequence([seed, block, 17])``). The access model still draws
*when* a dwelling is let (the vacancies: dwelling, date, reservataire, in the
same typology as the access model's lessee); the process draws *to whom*. So
the dwellings, the income thresholds, the filing dates and the household
variables are those of the same seed without propositions, while the leases,
the closing dates and the truth of the indicators follow the process. A data
set generated without propositions is unchanged, byte for byte.

Cotation grid
-------------
Each demand gets the points of five criteria, computed from the generator's
own variables at the demand's reference date (the closing date the access
model drew, before the process, or the end of the data, 31/12/2025: one score
per demand, the one the process uses), and their total ``score_cotation`` (points rounded to
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
A share :data:`P_UNRECORDED` of the vacancies has no recorded proposition:
the access model's lessee signs the lease (a lease without a proposition),
and these lessees take part in no commission. The access model's lessees of
the other vacancies lose that lease and compete again like every active
demand. The recorded vacancies are taken in the order of their first
commission; each goes through at most three commissions (rounds) until a
candidate accepts:

1. *Commission dates*: the first 7 to 45 days before the lease (not before
   01/01/2022), the next ones evenly spread before the lease.
2. *Designation*: the reservataire designates 1, 2 or 3 candidates
   (probabilities 0.10, 0.25, 0.65) among the demands of the vacancy's
   typology active on the commission date that have not signed a lease in
   the process, by weighted draws without replacement with weights
   ``exp(log OR_score × score / 10 + log OR_nat + log OR_qpv · qpv)``
   (``processus.designation`` and ``processus.score_designation``).
3. *Commission decision*: every candidate gets a favourable decision
   (``attribution``, 10 % ``attribution_sous_condition``) with probability
   ``expit(logit 0.75 + log OR_nat + log OR_qpv · qpv)``
   (``processus.decision_cal``), else ``non_attribution`` (85 %) or
   ``irrecevabilite``; independently of the other candidates.
4. *Ranks*: the favourable candidates are ranked by a Plackett–Luce draw on
   the grid's weights ``exp(log OR_score × score / 10)`` (the same for every
   group).
5. *Offers and answers*: the dwelling is offered down the ranks; each
   offered candidate refuses with probability ``expit(logit 0.35 + log
   OR_nat + log OR_qpv · qpv + log OR_logement · dwelling in QPV)``
   (``processus.refus``; a quarter of the refusals are ``sans_reponse``),
   independently of the others. The first who accepts signs the lease on the
   vacancy's date; the candidates ranked after are not offered it. When no
   one accepts, the next round begins; after three rounds the dwelling stays
   empty (no lease).

What is planted
---------------
Every candidate's path is drawn, so the planted odds ratios are the true
conditional effects of the data (the ``estimands`` entry of
``truth.json["processus"]``):

- ``decision_cal``: odds ratio of a favourable decision among the candidates
  of one commission (a conditional logit stratified by ``id_offre``);
- ``refus``: odds ratios of refusing (``refus`` or ``sans_reponse``) an
  offered dwelling, by group and for a dwelling in a QPV (the group × QPV
  dwelling interaction is 1): a logit among the offers;
- ranked first among the favourable candidates of one commission: a
  conditional logit with ``log(score_designation) / 10`` per point of score
  and a group odds ratio of 1;
- ``designation``: ratio of the weights of one draw among the demands of the
  typology active on the commission date (a rate ratio at equal score); the
  semester logit of designation recovers it only approximately (its odds
  ratio is further from 1 when designation is frequent).

The access and placement odds ratios of the effects are not exact
parameters of a data set with propositions (the process decides who is
housed). The counts of the ``processus`` entry of ``truth.json`` are exact.

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
_P_CANDIDATES = np.array([0.10, 0.25, 0.65])  # 1, 2 or 3 candidates per commission
_ROUNDS = 3  # commissions per vacancy at most, until a candidate accepts
_DRAWS = 24  # weighted draws per vacancy, of which the first valid distinct ones are kept
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
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Propositions of one block, its exact per-stage counts and the resulting leases.

    Parameters
    ----------
    seed, block : int
        Seed of the data set and block number.
    h, depot, radiation, alloc_sem
        The block's demands as the access model left them (generator
        variables); its leases are the vacancies.
    score : ndarray
        ``score_cotation`` of each demand.
    nums : ndarray of str
        ``num_unique`` of each demand.
    attributions : pandas.DataFrame
        The access model's leases (contract columns), in the generator's
        order: row ``j`` is the vacancy of the ``j``-th allocated demand
        sorted by closing date then index.
    in_qpv : ndarray of bool
        Each vacancy's dwelling lies in a QPV (list in force on the lease date).
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
    final : dict of ndarray
        The demands after the process: ``radiation`` and ``alloc_sem``;
        ``moved``, the access model's lessees of the recorded vacancies (their
        lease is given again by the process); ``lessee``, per vacancy, the
        demand that signs its lease (``-1`` when no candidate accepted it).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, block, 17]))
    n = len(depot)
    idx = np.flatnonzero(alloc_sem >= 0)
    idx = idx[np.lexsort((idx, radiation[idx]))]
    m = len(idx)
    lease = radiation[idx]
    sem_of_lease = alloc_sem[idx]
    starts = np.array([s for _, s, _ in semesters])
    far = np.datetime64("2100-01-01")
    recorded = rng.random(m) >= P_UNRECORDED
    back = rng.integers(7, 46, m)
    cal0 = np.maximum(lease - back, starts[0])
    # commission dates of the rounds, evenly spread before the lease
    gap = np.maximum((lease - cal0).astype(np.int64) // _ROUNDS, 1)
    cal = cal0[:, None] + (gap[:, None] * np.arange(_ROUNDS)).astype("timedelta64[D]")
    cal = np.minimum(cal, (lease - np.timedelta64(1, "D"))[:, None])
    sem_of_cal = np.searchsorted(starts, cal0, side="right") - 1
    k_cand = 1 + rng.choice(3, size=(m, _ROUNDS), p=_P_CANDIDATES)
    nat, qpv, typ = h["nat"], h["qpv_res"].astype(bool), h["typ"]
    # the access model's lessees compete again for the vacancies: active until the
    # end unless the process gives them a lease; those of unrecorded vacancies keep it
    end0 = np.where(np.isnat(radiation) | (alloc_sem >= 0), far, radiation)
    won = np.zeros(n, dtype=bool)
    won[idx[~recorded]] = True
    des_eff = eff["designation"]
    grid = math.log(eff["score_designation"]) / 10.0
    log_w = grid * score + _log_or(des_eff, nat, qpv)
    weight = np.exp(log_w - log_w.max()) if n else log_w

    # weighted draws with replacement in each (semester, typology) pool
    drawn = np.full((m, _DRAWS), -1, dtype=np.int64)
    for s, (_, start, end) in enumerate(semesters):
        in_sem = (depot <= end) & (end0 >= start) & ~won
        for t in np.unique(typ):
            vac = np.flatnonzero(recorded & (sem_of_cal == s) & (typ[idx] == t))
            pool = np.flatnonzero(in_sem & (typ == t))
            if not len(vac) or not len(pool):
                continue
            cum = np.cumsum(weight[pool])
            u = rng.random((len(vac), _DRAWS)) * cum[-1]
            drawn[vac] = pool[np.minimum(np.searchsorted(cum, u, side="right"), len(pool) - 1)]

    dec_eff, ref_eff = eff["decision_cal"], eff["refus"]
    p_fav = _expit(_logit(0.75) + _log_or(dec_eff, nat, qpv))
    log_odds_ref = _logit(0.35) + _log_or(ref_eff, nat, qpv)
    qpv_ref = math.log(ref_eff["logement_qpv"])
    u_fav, u_cond, u_irr, u_ref, u_sil = (rng.random((m, _ROUNDS, 3)) for _ in range(5))
    gumbel = rng.gumbel(size=(m, _ROUNDS, 3))
    motif_draw = _MOTIFS[rng.choice(len(_MOTIFS), size=(m, _ROUNDS, 3), p=_P_MOTIFS)]

    cols: dict[str, list] = {
        k: [] for k in ("who", "v", "r", "decision", "rank", "answer", "motif", "level")
    }
    lessee = np.where(recorded, -1, idx)
    end_dyn = end0.copy()
    for v in np.flatnonzero(recorded)[np.argsort(cal0[recorded], kind="stable")]:
        used: set[int] = set()
        pos = 0
        for r in range(_ROUNDS):
            c = cal[v, r]
            chosen: list[int] = []
            while len(chosen) < k_cand[v, r] and pos < _DRAWS:
                i = int(drawn[v, pos])
                pos += 1
                if i >= 0 and i not in used and not won[i] and depot[i] <= c < end_dyn[i]:
                    chosen.append(i)
                    used.add(i)
            if not chosen:
                continue
            ch = np.array(chosen)
            q = len(ch)
            fav = u_fav[v, r, :q] < p_fav[ch]
            # ranking of the favourable candidates: Plackett-Luce on the grid's weights
            key = np.where(fav, grid * score[ch] + gumbel[v, r, :q], -np.inf)
            order = np.argsort(-key, kind="stable")[: int(fav.sum())]
            rank = np.zeros(q, dtype=np.int64)
            rank[order] = np.arange(1, len(order) + 1)
            refuse = u_ref[v, r, :q] < _expit(log_odds_ref[ch] + qpv_ref * in_qpv[v])
            answer = np.full(q, "", dtype=object)
            winner = -1
            for o in order:  # offers down the ranks until an acceptance
                if refuse[o]:
                    answer[o] = "sans_reponse" if u_sil[v, r, o] < 0.25 else "refus"
                else:
                    answer[o] = "acceptation"
                    winner = int(o)
                    break
            decision = np.where(
                fav,
                np.where(u_cond[v, r, :q] < 0.10, "attribution_sous_condition", "attribution"),
                np.where(u_irr[v, r, :q] < 0.15, "irrecevabilite", "non_attribution"),
            )
            level = np.where(answer == "acceptation", 4, np.where(answer != "", 2, 0))
            level = np.where(fav & (level == 0), 1, level)
            cols["who"].extend(ch.tolist())
            cols["v"].extend([v] * q)
            cols["r"].extend([r] * q)
            cols["decision"].extend(decision.tolist())
            cols["rank"].extend(rank.tolist())
            cols["answer"].extend(answer.tolist())
            cols["motif"].extend(np.where(answer == "refus", motif_draw[v, r, :q], "").tolist())
            cols["level"].extend(level.tolist())
            if winner >= 0:
                w = int(ch[winner])
                lessee[v] = w
                won[w] = True
                end_dyn[w] = lease[v]
                break

    who = np.array(cols["who"], dtype=np.int64)
    v_of = np.array(cols["v"], dtype=np.int64)
    r_of = np.array(cols["r"], dtype=np.int64)
    rank = np.array(cols["rank"], dtype=np.int64)
    att = attributions.iloc[v_of]
    props = pd.DataFrame(
        {
            "num_unique": nums[who],
            "id_offre": [f"OF{block:02d}{v:07d}{r}" for v, r in zip(v_of, r_of, strict=True)],
            "date_cal": pd.to_datetime(cal[v_of, r_of]),
            "rpls_id": att["rpls_id"].to_numpy(),
            "commune_logement": att["commune_logement"].to_numpy(),
            "qpv_logement": att["qpv_logement"].to_numpy(),
            "bailleur_siren": att["bailleur_siren"].to_numpy(),
            "reservataire": att["reservataire"].to_numpy(),
            "decision_cal": np.array(cols["decision"], dtype=object),
            "rang": pd.array(rank, dtype="Int64"),
            "reponse_demandeur": np.array(cols["answer"], dtype=object),
            "motif_refus": np.array(cols["motif"], dtype=object),
        }
    )
    props.loc[rank == 0, "rang"] = pd.NA
    for col in ("reponse_demandeur", "motif_refus"):
        props.loc[props[col] == "", col] = None
    props = props.sort_values(["date_cal", "id_offre"], kind="stable").reset_index(drop=True)

    # the demands after the process
    rad, sem = radiation.copy(), alloc_sem.copy()
    moved = idx[recorded]
    rad[moved] = np.datetime64("NaT")
    sem[moved] = -1
    got = lessee >= 0
    rad[lessee[got]] = lease[got]
    sem[lessee[got]] = sem_of_lease[got]
    final = {"radiation": rad, "alloc_sem": sem, "lessee": lessee, "moved": moved}

    # exact counts: each demand active in a semester, at its furthest stage there
    active_end = np.where(np.isnat(rad), far, rad)
    sem_cal = np.searchsorted(starts, cal[v_of, r_of], side="right") - 1
    furthest = np.full((len(semesters), n), -1, dtype=np.int64)
    level = np.array(cols["level"], dtype=np.int64)
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
    return props, pd.DataFrame(rows), final


def stage_records(counts: pd.DataFrame) -> list[dict[str, Any]]:
    """Sum the per-block counts into the records of ``truth.json`` (``processus.etapes``)."""
    keys = ["periode", "comparaison", "groupe"]
    cols = ["actives", *STAGES, "baux_sans_proposition"]
    total = counts.groupby(keys, sort=False)[cols].sum().reset_index()
    return [
        {**{k: str(r[k]) for k in keys}, **{c: int(r[c]) for c in cols}}
        for r in total.to_dict("records")
    ]

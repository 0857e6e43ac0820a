"""Small random territories with propositions, local to the process tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIOD = "2025-S1"


def random_process(
    n: int = 1500,
    *,
    seed: int = 0,
    designation_or_hors_ue: float = 1.0,
    offer_or_hors_ue: float = 1.0,
    n_offers: int = 300,
    accept_qpv_hors_ue: float = 0.7,
) -> dict[str, pd.DataFrame]:
    """Active demands, propositions and leases drawn from a simple mechanism.

    Each offer draws 3 candidates among the active demands, with weights
    ``designation_or_hors_ue`` for hors UE applicants; the commission is
    favourable with probability 0.8; the favourable candidates are ranked at
    random with odds ``offer_or_hors_ue`` for hors UE of being ranked first
    (offered); the first accepts with probability 0.7, a lease follows 30 days
    later (with probability ``accept_qpv_hors_ue`` for a hors UE candidate
    offered a dwelling in a QPV); the next favourable candidate is offered
    after a refusal.
    """
    rng = np.random.default_rng(seed)
    nat = rng.choice(["francaise", "ue", "hors_ue"], size=n, p=[0.6, 0.15, 0.25])
    qpv = rng.choice(["qpv", "hors_qpv"], size=n, p=[0.3, 0.7])
    ids = [f"{i:016x}" for i in range(n)]
    crit_a = rng.integers(0, 40, n).astype(float)
    crit_b = rng.integers(0, 30, n).astype(float)
    access = pd.DataFrame(
        {
            "demande_id": pd.array(ids, dtype="string"),
            "nationalite": nat,
            "residence_qpv": qpv,
            "commune_choix1": rng.choice([f"59{k:03d}" for k in range(8)], size=n),
            "typologie_demandee": rng.choice(["T1", "T2", "T3", "T4"], size=n),
            "prioritaire": rng.random(n) < 0.2,
            "dalo": rng.random(n) < 0.05,
            "log_revenu_uc": np.log1p(rng.gamma(4, 3000, n)),
            "anciennete_annees": rng.exponential(2, n),
            "nb_personnes": rng.integers(1, 6, n),
            "situation_logement": rng.choice(["heberge", "locataire_prive"], size=n),
            "score_cotation": crit_a + crit_b,
            "cotation_anciennete": crit_a,
            "cotation_sans_logement": crit_b,
        }
    )
    w = np.where(nat == "hors_ue", designation_or_hors_ue, 1.0)
    rows, leases = [], []
    dates = pd.date_range("2025-01-10", "2025-06-10", freq="D")
    for k in range(n_offers):
        cand = rng.choice(n, size=3, replace=False, p=w / w.sum())
        date = dates[rng.integers(len(dates))]
        commune = f"59{rng.integers(8):03d}"
        in_qpv = rng.random() < 0.3
        fav = rng.random(3) < 0.8
        order = [int(i) for i in np.flatnonzero(fav)]
        # ranking: Plackett–Luce with odds offer_or_hors_ue for hors UE
        ranked = []
        pool = list(order)
        while pool:
            ww = np.array([offer_or_hors_ue if nat[cand[i]] == "hors_ue" else 1.0 for i in pool])
            j = rng.choice(len(pool), p=ww / ww.sum())
            ranked.append(pool.pop(j))
        answers = {}
        for i in ranked:
            p_acc = accept_qpv_hors_ue if in_qpv and nat[cand[i]] == "hors_ue" else 0.7
            a = "acceptation" if rng.random() < p_acc else rng.choice(["refus", "sans_reponse"])
            answers[i] = a
            if a == "acceptation":
                leases.append((ids[cand[i]], date + pd.Timedelta(days=30), commune))
                break
        for i in range(3):
            rows.append(
                {
                    "demande_id": ids[cand[i]],
                    "id_offre": f"O{k:05d}",
                    "date_cal": date,
                    "commune_logement": commune,
                    "qpv_logement": "QN05901M" if in_qpv else None,
                    "bailleur_siren": "123456789",
                    "reservataire": "bailleur",
                    "decision_cal": ("attribution" if fav[i] else "non_attribution"),
                    "rang": (ranked.index(i) + 1) if i in ranked else None,
                    "reponse_demandeur": answers.get(i),
                    "motif_refus": None,
                }
            )
    props = pd.DataFrame(rows)
    props["rang"] = props["rang"].astype("Int64")
    alloc = pd.DataFrame(leases, columns=["demande_id", "date_bail", "commune_logement"])
    leased = set(alloc.loc[alloc["date_bail"] <= "2025-06-30", "demande_id"])
    access["access"] = access["demande_id"].isin(leased).to_numpy()
    return {"access": access, "propositions": props, "allocations": alloc}

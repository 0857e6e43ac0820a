"""French narrative of the disparity tests: labels, sentences and display tables.

The report explains every number in a plain French sentence (Aequitas style)
generated from the results table of :func:`allocation_analysis.analysis.results_frame`.
Nothing here computes a statistic: it only words and formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from allocation_analysis.text import MISSING, fmt_float, fmt_int, fmt_p, fmt_pct, is_missing

__all__ = [
    "GROUP_FR",
    "METHOD_FR",
    "OUTCOME_FR",
    "frame_fr",
    "test_sentence_fr",
    "tests_sentences_fr",
    "tests_table_fr",
]

GROUP_FR: dict[str, str] = {
    "francaise": "ménages de nationalité française",
    "ue": "ménages ressortissants de l'UE",
    "hors_ue": "ménages de nationalité hors UE",
    "qpv": "ménages résidant en QPV",
    "hors_qpv": "ménages résidant hors QPV",
}

OUTCOME_FR: dict[str, str] = {
    "access": "Accès (attribution dans le semestre)",
    "waiting_time": "Délai d'attente",
    "placement": "Attribution d'un logement en QPV",
}

METHOD_FR: dict[str, str] = {
    "rates": "taux bruts",
    "cmh": "Mantel–Haenszel (stratifié)",
    "logit": "régression logistique ajustée",
    "fairlie": "décomposition de Fairlie",
    "logrank": "test du log-rank",
    "cox": "modèle de Cox ajusté",
    "dissimilarity": "indice de dissimilarité",
    "ipw": "pondération par score de propension",
    "profiles": "profils types (gradient boosting)",
}

_ESTIMATE_FR: dict[str, str] = {
    "odds_ratio": "rapport de cotes",
    "hazard_ratio": "rapport de risques instantanés",
    "rate_difference": "écart de taux",
    "unexplained_gap": "part inexpliquée de l'écart de taux",
    "mean_profile_probability_difference": "écart moyen de probabilité (profils types)",
    "dissimilarity": "indice de dissimilarité",
}

_DIFFERENCES = {"rate_difference", "unexplained_gap", "mean_profile_probability_difference"}


def _method_key(test_id: str) -> str:
    return test_id.rsplit("_", 1)[-1]


def _fmt_estimate(name: str, value: Any) -> str:
    if is_missing(value):
        return MISSING
    if name in _DIFFERENCES:
        pts = 100 * float(value)
        return f"{'+' if pts > 0 else ''}{fmt_float(pts, digits=1)} points"
    return fmt_float(value, digits=2)


def _significant(rec: Mapping[str, Any], alpha: float) -> bool | None:
    p = rec.get("p_adjusted")
    if is_missing(p):
        return None
    return float(p) < alpha


def test_sentence_fr(rec: Mapping[str, Any], *, alpha: float = 0.05) -> str:
    """One French sentence for one row of the results table.

    Examples
    --------
    >>> rec = {"id": "access_origin_logit", "outcome": "access", "group": "hors_ue",
    ...        "reference": "francaise", "estimate_name": "odds_ratio", "estimate": 0.72,
    ...        "ci_low": 0.6, "ci_high": 0.86, "p_adjusted": 0.001, "suppressed": False,
    ...        "warnings": [], "statistic": 12.0}
    >>> print(test_sentence_fr(rec))  # doctest: +NORMALIZE_WHITESPACE
    Accès (attribution dans le semestre), régression logistique ajustée : ménages de nationalité
    hors UE comparés aux ménages de nationalité française — rapport de cotes 0,72 (IC 95 % :
    0,60 à 0,86) ; p ajustée = 0,001 ; l'écart est significatif après correction pour tests
    multiples.
    """
    what = OUTCOME_FR.get(rec["outcome"], rec["outcome"])
    method = METHOD_FR.get(_method_key(rec["id"]), rec.get("method", ""))
    grp = GROUP_FR.get(rec["group"], rec["group"])
    ref = GROUP_FR.get(rec["reference"], rec["reference"])
    head = f"{what}, {method} : {grp} comparés aux {ref}"
    if rec.get("suppressed"):
        return f"{head} — résultat non diffusé (effectif inférieur au seuil de secret statistique)."
    name = rec.get("estimate_name") or ""
    sig = _significant(rec, alpha)
    if sig is None:
        why = "; ".join(rec.get("warnings") or []) or "p-valeur indisponible"
        return f"{head} — pas de conclusion ({why})."
    verdict = (
        "l'écart est significatif après correction pour tests multiples"
        if sig
        else "l'écart n'est pas significatif après correction pour tests multiples"
    )
    p_txt = fmt_p(rec.get("p_adjusted")).replace("p ", "p ajustée ", 1)
    if is_missing(rec.get("estimate")) or not name:
        stat = rec.get("statistic")
        stat_txt = f"khi-deux {fmt_float(stat, digits=2)}" if not is_missing(stat) else "test"
        return f"{head} — {stat_txt} ; {p_txt} ; {verdict}."
    label = _ESTIMATE_FR.get(name, name)
    ci = ""
    if not is_missing(rec.get("ci_low")) and not is_missing(rec.get("ci_high")):
        ci = (
            f" (IC 95 % : {_fmt_estimate(name, rec['ci_low'])} à "
            f"{_fmt_estimate(name, rec['ci_high'])})"
        )
    return f"{head} — {label} {_fmt_estimate(name, rec['estimate'])}{ci} ; {p_txt} ; {verdict}."


def tests_sentences_fr(frame: pd.DataFrame, *, alpha: float = 0.05) -> list[str]:
    """French sentences, one per row of the results table, in the table's order."""
    return [test_sentence_fr(rec, alpha=alpha) for rec in frame.to_dict(orient="records")]


def tests_table_fr(frame: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The results table as the working group reads it (French labels and numbers)."""
    rows = []
    for rec in frame.to_dict(orient="records"):
        name = rec.get("estimate_name") or ""
        sig = _significant(rec, alpha)
        rows.append(
            {
                "Question": OUTCOME_FR.get(rec["outcome"], rec["outcome"]),
                "Groupe comparé": GROUP_FR.get(rec["group"], rec["group"]),
                "Référence": GROUP_FR.get(rec["reference"], rec["reference"]),
                "Méthode": METHOD_FR.get(_method_key(rec["id"]), rec["id"]),
                "Estimation": (
                    "non diffusé"
                    if rec.get("suppressed")
                    else f"{_ESTIMATE_FR.get(name, name)} {_fmt_estimate(name, rec.get('estimate'))}"
                    if name
                    else MISSING
                ),
                "IC 95 %": (
                    f"{_fmt_estimate(name, rec.get('ci_low'))} – {_fmt_estimate(name, rec.get('ci_high'))}"
                    if name and not is_missing(rec.get("ci_low"))
                    else MISSING
                ),
                "p ajustée": fmt_p(rec.get("p_adjusted")),
                "Conclusion": MISSING
                if sig is None
                else ("écart significatif" if sig else "non significatif"),
                "n": fmt_int(rec.get("n")),
            }
        )
    return pd.DataFrame(rows)


def frame_fr(
    frame: pd.DataFrame,
    *,
    percent: tuple[str, ...] = (),
    integers: tuple[str, ...] = (),
    decimals: Mapping[str, int] | None = None,
    rename: Mapping[str, str] | None = None,
    missing: str = MISSING,
) -> pd.DataFrame:
    """Format a published table for display: French numbers, masked cells shown as such."""
    out = frame.copy()
    for col in out.columns:
        if col in percent:
            out[col] = [fmt_pct(v, missing=missing) for v in out[col]]
        elif col in integers:
            out[col] = [fmt_int(v, missing=missing) for v in out[col]]
        elif decimals and col in decimals:
            out[col] = [fmt_float(v, digits=decimals[col], missing=missing) for v in out[col]]
        else:
            out[col] = [missing if is_missing(v) else v for v in out[col]]
    if rename:
        out = out.rename(columns=dict(rename))
    return out

"""French narrative of the disparity tests: labels, sentences and display tables.

The report explains every number in a plain French sentence (Aequitas style)
generated from the results table of :func:`allocation_analysis.analysis.results_frame`.
Nothing here computes a statistic: it only words and formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from allocation_analysis.labels import ESTIMATE_LABELS_FR as _ESTIMATE_FR
from allocation_analysis.labels import FAMILY_FR, GROUP_FR, METHOD_FR, OUTCOME_FR
from allocation_analysis.text import MISSING, fmt_float, fmt_int, fmt_p, fmt_pct, is_missing

__all__ = [
    "FAMILY_FR",
    "GROUP_FR",
    "METHOD_FR",
    "OUTCOME_FR",
    "ci_label_fr",
    "fmt_level_fr",
    "frame_fr",
    "test_sentence_fr",
    "tests_note_fr",
    "tests_sentences_fr",
    "tests_table_fr",
]

_DIFFERENCES = {"rate_difference", "unexplained_gap", "mean_profile_probability_difference"}

ADJUSTED_CI_COLUMN = "IC ajusté pour tests multiples"
NOT_ADJUSTED = "sans objet"


def fmt_level_fr(level: Any) -> str:
    """A confidence level in French: ``0.95`` → ``"95 %"``, ``0.99444`` → ``"99,4 %"``."""
    if is_missing(level):
        return MISSING
    txt = fmt_float(100 * float(level), digits=1)
    return (txt[:-2] if txt.endswith(",0") else txt) + " %"


def ci_label_fr(alpha: float) -> str:
    """Label of an interval at level ``1 - alpha``: ``0.10`` → ``"IC 90 %"``."""
    return f"IC {fmt_level_fr(1 - float(alpha))}"


def _rec_alpha(rec: Mapping[str, Any], default: float) -> float:
    a = rec.get("alpha")
    return default if is_missing(a) else float(a)


def _frame_alpha(frame: pd.DataFrame, default: float) -> float:
    if "alpha" not in frame.columns:
        return default
    levels = pd.to_numeric(frame["alpha"], errors="coerce").dropna().unique()
    if len(levels) > 1:
        raise ValueError(f"Intervalles de niveaux différents dans un même tableau : {levels}.")
    return float(levels[0]) if len(levels) else default


def _adjusted_ci(rec: Mapping[str, Any], name: str) -> str | None:
    """``"a à b"`` of the interval adjusted for multiple testing, None without one."""
    lo, hi = rec.get("ci_low_adjusted"), rec.get("ci_high_adjusted")
    if not name or is_missing(lo) or is_missing(hi):
        return None
    return f"{_fmt_estimate(name, lo)} à {_fmt_estimate(name, hi)}"


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

    The interval is the row's ``1 - alpha`` interval (``alpha`` of the row,
    else the ``alpha`` argument), not adjusted; a primary test adds its
    interval adjusted for multiple testing (``ci_low_adjusted``,
    ``ci_high_adjusted``) with its level.

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
    if rec.get("family") == "robustesse":
        verdict += " (vérifications de robustesse, corrigées entre elles)"
    p_txt = fmt_p(rec.get("p_adjusted")).replace("p ", "p ajustée ", 1)
    if is_missing(rec.get("estimate")) or not name:
        stat = rec.get("statistic")
        stat_txt = f"khi-deux {fmt_float(stat, digits=2)}" if not is_missing(stat) else "test"
        return f"{head} — {stat_txt} ; {p_txt} ; {verdict}."
    label = _ESTIMATE_FR.get(name, name)
    ci = ""
    if not is_missing(rec.get("ci_low")) and not is_missing(rec.get("ci_high")):
        adj = _adjusted_ci(rec, name)
        adj_txt = (
            f" ; {ADJUSTED_CI_COLUMN}, {fmt_level_fr(rec.get('ci_level_adjusted'))} : {adj}"
            if adj
            else ""
        )
        ci = (
            f" ({ci_label_fr(_rec_alpha(rec, alpha))} : {_fmt_estimate(name, rec['ci_low'])} à "
            f"{_fmt_estimate(name, rec['ci_high'])}{adj_txt})"
        )
    return f"{head} — {label} {_fmt_estimate(name, rec['estimate'])}{ci} ; {p_txt} ; {verdict}."


def tests_sentences_fr(frame: pd.DataFrame, *, alpha: float = 0.05) -> list[str]:
    """French sentences, one per row of the results table, in the table's order."""
    return [test_sentence_fr(rec, alpha=alpha) for rec in frame.to_dict(orient="records")]


def tests_table_fr(frame: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The results table as the working group reads it (French labels and numbers).

    Columns say which interval is shown: « IC 95 % (non ajusté) » (the level
    follows the rows' ``alpha``) is each test's own interval, taken alone;
    « IC ajusté pour tests multiples » is, for the primary tests only, the
    interval consistent with their adjusted p-values, with its level.
    « Famille » tells a primary test from a robustness check (adjusted within
    its own family), « Test » whether the p-value is two-sided or one-sided.
    :func:`tests_note_fr` explains the table in a paragraph.
    """
    ci_col = f"{ci_label_fr(_frame_alpha(frame, alpha))} (non ajusté)"
    rows = []
    for rec in frame.to_dict(orient="records"):
        name = rec.get("estimate_name") or ""
        sig = _significant(rec, alpha)
        suppressed = bool(rec.get("suppressed"))
        adj = _adjusted_ci(rec, name)
        if rec.get("family") != "principal":
            adj_txt = NOT_ADJUSTED
        elif suppressed or adj is None:
            adj_txt = MISSING
        else:
            adj_txt = f"{adj.replace(' à ', ' – ')} (IC {fmt_level_fr(rec['ci_level_adjusted'])})"
        rows.append(
            {
                "Famille": FAMILY_FR.get(rec.get("family") or "", MISSING),
                "Question": OUTCOME_FR.get(rec["outcome"], rec["outcome"]),
                "Groupe comparé": GROUP_FR.get(rec["group"], rec["group"]),
                "Référence": GROUP_FR.get(rec["reference"], rec["reference"]),
                "Méthode": METHOD_FR.get(_method_key(rec["id"]), rec["id"]),
                "Estimation": (
                    "non diffusé"
                    if suppressed
                    else f"{_ESTIMATE_FR.get(name, name)} {_fmt_estimate(name, rec.get('estimate'))}"
                    if name
                    else MISSING
                ),
                ci_col: (
                    f"{_fmt_estimate(name, rec.get('ci_low'))} – {_fmt_estimate(name, rec.get('ci_high'))}"
                    if name and not is_missing(rec.get("ci_low"))
                    else MISSING
                ),
                ADJUSTED_CI_COLUMN: adj_txt,
                "p ajustée": fmt_p(rec.get("p_adjusted")),
                "Test": rec.get("sided") or MISSING,
                "Conclusion": MISSING
                if sig is None
                else ("écart significatif" if sig else "non significatif"),
                "n": fmt_int(rec.get("n")),
            }
        )
    return pd.DataFrame(rows)


def tests_note_fr(frame: pd.DataFrame, *, alpha: float = 0.05) -> str:
    """A French paragraph telling how to read :func:`tests_table_fr`.

    Names the two families, the correction, the level of the adjusted
    intervals of the primary tests and the sidedness of the p-values.
    """
    ci = ci_label_fr(_frame_alpha(frame, alpha))
    fam = frame["family"] if "family" in frame.columns else pd.Series(dtype=object)
    n_primary = int((fam == "principal").sum())
    levels = (
        pd.to_numeric(frame.get("ci_level_adjusted"), errors="coerce").dropna().unique()
        if "ci_level_adjusted" in frame.columns
        else []
    )
    level_txt = f"au niveau {fmt_level_fr(levels[0])}, " if len(levels) == 1 else ""
    one_sided = "sided" in frame.columns and (frame["sided"] == "unilatéral").any()
    parts = [
        f"Les {fmt_int(n_primary)} tests principaux, un par question (accès, délai, lieu "
        "d'attribution) et par comparaison, ont été choisis avant l'analyse ; ils sont "
        "présentés en tête et corrigés ensemble pour tests multiples (méthode de "
        "Benjamini–Hochberg).",
        "Les autres méthodes sont des vérifications de robustesse : elles sont corrigées "
        "entre elles, à part, si bien qu'en ajouter ou en retirer ne change pas les "
        "résultats principaux.",
        f"La colonne « {ci} (non ajusté) » donne l'intervalle de confiance de chaque test "
        "pris isolément.",
        f"Pour les tests principaux, la colonne « {ADJUSTED_CI_COLUMN} » donne un "
        f"intervalle élargi, {level_txt}cohérent avec la p-valeur ajustée : il exclut la "
        "valeur 1 (aucun écart) exactement quand l'écart est significatif après correction.",
        "Toutes les p-valeurs sont bilatérales (un écart dans un sens ou dans l'autre)"
        + (
            ", sauf celles de l'indice de dissimilarité, unilatérales (la question est "
            "seulement de savoir si la répartition est plus inégale que le hasard)."
            if one_sided
            else "."
        ),
    ]
    return " ".join(parts)


def frame_fr(
    frame: pd.DataFrame,
    *,
    percent: tuple[str, ...] = (),
    integers: tuple[str, ...] = (),
    decimals: Mapping[str, int] | None = None,
    rename: Mapping[str, str] | None = None,
    missing: str = MISSING,
    codes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Format a published table for display: French numbers, masked cells shown as such.

    ``codes`` maps a column holding codes to the kind of their French label
    (:func:`allocation_analysis.labels.label`), e.g. ``{"groupe": "group_short"}``.
    """
    from allocation_analysis.labels import label

    out = frame.copy()
    for col in out.columns:
        if codes and col in codes:
            out[col] = [missing if is_missing(v) else label(v, codes[col]) for v in out[col]]
        elif col in percent:
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

"""French narrative of the disparity tests: labels, sentences and display tables.

The report explains every number in a plain French sentence (Aequitas style)
generated from the results table of :func:`allocation_analysis.plan.results_frame`.
Nothing here computes a statistic: it only words and formats.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from allocation_analysis.labels import ESTIMATE_LABELS_FR as _ESTIMATE_FR
from allocation_analysis.labels import (
    FAMILY_FR,
    GROUP_FR,
    INDICATOR_LABELS_FR,
    METHOD_FR,
    OUTCOME_FR,
    group_label,
)
from allocation_analysis.labels import TABLE_FR as _TABLE_FR
from allocation_analysis.text import (
    MISSING,
    fmt_float,
    fmt_int,
    fmt_p,
    fmt_pct,
    fmt_points,
    is_missing,
)

if TYPE_CHECKING:
    from allocation_analysis.stats._result import ResultSet, TestResult

__all__ = [
    "FAMILY_FR",
    "GROUP_FR",
    "METHOD_FR",
    "OUTCOME_FR",
    "ci_label_fr",
    "fmt_level_fr",
    "frame_fr",
    "indicator_display",
    "overview_text_fr",
    "result_html_fr",
    "result_label_fr",
    "result_sentence_fr",
    "result_summary_fr",
    "test_sentence_fr",
    "tests_note_fr",
    "tests_sentences_fr",
    "tests_table_fr",
    "validation_text_fr",
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
    """The method at the end of a test id (``score_origin_mean_difference`` → ``mean_difference``)."""
    for key in sorted(METHOD_FR, key=len, reverse=True):
        if test_id.endswith(f"_{key}"):
            return key
    return test_id.rsplit("_", 1)[-1]


def _fmt_estimate(name: str, value: Any) -> str:
    if is_missing(value):
        return MISSING
    if name in _DIFFERENCES:
        return fmt_points(value)
    return fmt_float(value, digits=2)


def _significant(rec: Mapping[str, Any], alpha: float) -> bool | None:
    p = rec.get("p_adjusted")
    if is_missing(p):
        return None
    return float(p) < alpha


def test_sentence_fr(rec: Mapping[str, Any] | TestResult, *, alpha: float = 0.05) -> str:
    """One French sentence for one row of the results table, or for one test result.

    A :class:`~allocation_analysis.stats.TestResult` (the direct output of a
    test of :mod:`allocation_analysis.stats`) is worded by
    :func:`result_sentence_fr`, with its own, unadjusted p-value.

    For a row of the results table, the interval is the row's ``1 - alpha`` interval (``alpha`` of the row,
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
    if not isinstance(rec, Mapping):
        return result_sentence_fr(rec, alpha=alpha)
    what = OUTCOME_FR.get(rec["outcome"], rec["outcome"])
    method = METHOD_FR.get(_method_key(rec["id"]), rec.get("method", ""))
    grp = group_label(rec["group"])
    ref = group_label(rec["reference"])
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
                "Groupe comparé": group_label(rec["group"]),
                "Référence": group_label(rec["reference"]),
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


# --------------------------------------------------------------------------- one result
def _group_fr(code: str) -> str:
    return group_label(code, short=True)


def _comparison_fr(res: TestResult) -> str:
    """« hors UE comparé à française », or the list of groups of a k-sample method."""
    if res.compared is not None and res.estimate_name:
        return f"{_group_fr(res.compared)} comparé à {_group_fr(res.reference or '')}"
    return ", ".join(_group_fr(g) for g in res.groups) or MISSING


def _estimate_label_fr(name: str) -> str:
    return _ESTIMATE_FR.get(name, name.replace("_", " "))


def _ci_fr(res: TestResult, sep: str = " à ") -> str | None:
    if is_missing(res.ci_low) or is_missing(res.ci_high):
        return None
    name = res.estimate_name
    return f"{_fmt_estimate(name, res.ci_low)}{sep}{_fmt_estimate(name, res.ci_high)}"


def _p_value_fr(p: Any) -> str:
    """A p-value without its « p = » (``"0,031"``, ``"< 0,001"``) for a labelled cell."""
    return fmt_p(p, prefix=False)


def _df_fr(df: float) -> str:
    return fmt_float(df, digits=0 if float(df).is_integer() else 1)


def _medians_fr(res: TestResult) -> list[tuple[str, str, str, str]]:
    """``(group, median, interval, counts)`` per group of a Kaplan–Meier result."""
    medians = res.details.get("medians") if res.details else None
    if not isinstance(medians, pd.DataFrame) or medians.empty:
        return []
    out = []
    for rec in medians.to_dict(orient="records"):
        med = rec.get("median")
        lo, hi = rec.get("median_low"), rec.get("median_high")
        out.append(
            (
                _group_fr(str(rec["group"])),
                "non atteinte" if is_missing(med) else fmt_float(med, digits=1),
                f"{fmt_float(lo, digits=1, missing='?')} à "
                f"{fmt_float(hi, digits=1, missing='non atteinte')}",
                f"{fmt_int(rec.get('n'))} observations, {fmt_int(rec.get('events'))} événements",
            )
        )
    return out


def _result_rows_fr(res: TestResult) -> list[tuple[str, str]]:
    """The labelled values of a result, in reading order (French labels and numbers)."""
    rows = [("Méthode", res.method), ("Groupes", _comparison_fr(res))]
    if res.estimate_name and not is_missing(res.estimate):
        label = _estimate_label_fr(res.estimate_name)
        rows.append((label[0].upper() + label[1:], _fmt_estimate(res.estimate_name, res.estimate)))
        ci = _ci_fr(res)
        if ci:
            rows.append((ci_label_fr(res.alpha), ci))
    if not is_missing(res.statistic):
        stat = fmt_float(res.statistic, digits=2)
        if not is_missing(res.df):
            stat += f" ({_df_fr(res.df)} ddl)"
        rows.append(("Statistique", stat))
    if not is_missing(res.p_value):
        rows.append(("p-valeur", _p_value_fr(res.p_value)))
    rows.append(("Effectif", fmt_int(res.n)))
    return rows


def result_label_fr(res: TestResult) -> str:
    """Short French label of a result: « hors UE comparé à française (méthode) ».

    Parameters
    ----------
    res : TestResult
        A result of :mod:`allocation_analysis.stats`.

    Returns
    -------
    str
        The groups compared and, in parentheses, the start of the method (up to
        its first comma), for a row of a table or of a forest plot.
    """
    method = res.method.split(",", 1)[0].split(" (", 1)[0].strip()
    return f"{_comparison_fr(res)} ({method})" if method else _comparison_fr(res)


def result_summary_fr(res: TestResult | ResultSet) -> str:
    """A plain-text French summary of a test result (decimal commas, French labels).

    Parameters
    ----------
    res : TestResult or ResultSet
        The output of a test of :mod:`allocation_analysis.stats`; a
        :class:`~allocation_analysis.stats.ResultSet` gives one block per comparison.

    Returns
    -------
    str
        Several lines: method, groups, estimate and interval, statistic and
        p-value (not adjusted for multiple testing), number of observations, the
        medians of a Kaplan–Meier result, the warnings.

    See Also
    --------
    result_sentence_fr : the same result in one sentence.
    """
    if not hasattr(res, "estimate_name"):
        return "\n\n".join(result_summary_fr(r) for r in res)
    lines = [f"{k} : {v}" for k, v in _result_rows_fr(res)]
    medians = _medians_fr(res)
    if medians:
        lines.append(f"Médianes ({ci_label_fr(res.alpha)}) :")
        lines += [f"  {g} : {m} ({ci}) — {c}" for g, m, ci, c in medians]
    if res.warnings:
        lines.append("Avertissements :")
        lines += [f"  - {w}" for w in res.warnings]
    return "\n".join(lines)


def result_html_fr(res: TestResult | ResultSet) -> str:
    """HTML display of a test result with French labels and numbers (JupyterLab).

    Parameters
    ----------
    res : TestResult or ResultSet
        A :class:`~allocation_analysis.stats.ResultSet` is shown as one table
        row per comparison.

    Returns
    -------
    str
        An HTML fragment.
    """
    esc = html.escape
    if not hasattr(res, "estimate_name"):
        results = list(res)
        if not results:
            return "<div>Aucun résultat.</div>"
        ci_head = ci_label_fr(results[0].alpha)
        head = ["Groupes", "Estimation", ci_head, "p-valeur", "Effectif", "Avertissements"]
        body = []
        for r in results:
            est = (
                f"{_estimate_label_fr(r.estimate_name)} {_fmt_estimate(r.estimate_name, r.estimate)}"
                if r.estimate_name
                else MISSING
            )
            cells = [
                _comparison_fr(r),
                est,
                _ci_fr(r) or MISSING,
                _p_value_fr(r.p_value),
                fmt_int(r.n),
                fmt_int(len(r.warnings)),
            ]
            body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        th = "".join(f"<th>{esc(h)}</th>" for h in head)
        return (
            f"<div><strong>{esc(results[0].method)}</strong>"
            f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )
    rows = "".join(
        f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(v)}</td></tr>"
        for k, v in _result_rows_fr(res)
    )
    medians = _medians_fr(res)
    med_html = ""
    if medians:
        cells = "".join(
            f"<tr><td>{esc(g)}</td><td>{esc(m)}</td><td>{esc(ci)}</td><td>{esc(c)}</td></tr>"
            for g, m, ci, c in medians
        )
        med_html = (
            "<table><thead><tr><th>Groupe</th><th>Médiane</th>"
            f"<th>{esc(ci_label_fr(res.alpha))}</th><th>Effectifs</th></tr></thead>"
            f"<tbody>{cells}</tbody></table>"
        )
    warn = "".join(f"<li>{esc(w)}</li>" for w in res.warnings)
    warn_html = f"<p>Avertissements :</p><ul>{warn}</ul>" if warn else ""
    return f"<div><table>{rows}</table>{med_html}{warn_html}</div>"


def result_sentence_fr(
    res: TestResult | ResultSet, *, alpha: float | None = None, outcome: str | None = None
) -> str:
    """The plain-language French sentence of a test result, as the report words it.

    Parameters
    ----------
    res : TestResult or ResultSet
        The output of a test of :mod:`allocation_analysis.stats`; a
        :class:`~allocation_analysis.stats.ResultSet` gives one sentence per comparison.
    alpha : float, optional
        Significance level of the conclusion (default: the result's own ``alpha``).
        The p-value is the test's own, not adjusted for multiple testing.
    outcome : str, optional
        Code of the question (``"access"``, ``"waiting_time"`` …) put at the head
        of the sentence with its French label.

    Returns
    -------
    str

    Examples
    --------
    >>> from allocation_analysis.stats import TestResult
    >>> r = TestResult(name="cmh", method="Mantel–Haenszel", estimate=0.72,
    ...                estimate_name="odds_ratio", ci_low=0.6, ci_high=0.86,
    ...                p_value=0.001, n=1200, groups=("francaise", "hors_ue"))
    >>> print(result_sentence_fr(r, outcome="access"))  # doctest: +NORMALIZE_WHITESPACE
    Accès (attribution dans le semestre) : hors UE comparé à française — rapport de cotes
    0,72 (IC 95 % : 0,60 à 0,86) ; p = 0,001 ; l'écart est significatif au seuil de 5 %
    (test pris isolément, sans correction pour tests multiples).
    """
    if not hasattr(res, "estimate_name"):
        return " ".join(result_sentence_fr(r, alpha=alpha, outcome=outcome) for r in res)
    level = res.alpha if alpha is None else float(alpha)
    head = _comparison_fr(res)
    if outcome:
        head = f"{OUTCOME_FR.get(outcome, outcome)} : {head}"
    medians = _medians_fr(res)
    if medians:
        parts = ", ".join(f"{g} {m} ({ci_label_fr(res.alpha)} : {ci})" for g, m, ci, _c in medians)
        return f"{head} — durée médiane : {parts}."
    if is_missing(res.p_value):
        why = "; ".join(res.warnings) or "p-valeur indisponible"
        return f"{head} — pas de conclusion ({why})."
    sig = float(res.p_value) < level
    verb = "est" if sig else "n'est pas"
    verdict = (
        f"l'écart {verb} significatif au seuil de {fmt_level_fr(level)} "
        "(test pris isolément, sans correction pour tests multiples)"
    )
    p_txt = fmt_p(res.p_value)
    if res.estimate_name and not is_missing(res.estimate):
        ci = _ci_fr(res)
        ci_txt = f" ({ci_label_fr(res.alpha)} : {ci})" if ci else ""
        est = _fmt_estimate(res.estimate_name, res.estimate)
        return (
            f"{head} — {_estimate_label_fr(res.estimate_name)} {est}{ci_txt} ; {p_txt} ; {verdict}."
        )
    stat = (
        "" if is_missing(res.statistic) else f"statistique {fmt_float(res.statistic, digits=2)} ; "
    )
    return f"{head} — {stat}{p_txt} ; {verdict}."


# --------------------------------------------------------------------------- report texts
def validation_text_fr(validation: dict, *, threshold: int) -> str:
    """One French paragraph on the input check.

    Numbers are those of :func:`allocation_analysis.tables.validation_tables` (same masking): a masked
    count reads « nombre non diffusé (secret statistique) », whatever the
    reason it is masked, so the sentence tells no more than the table.
    """
    from allocation_analysis.tables import validation_tables

    table = validation_tables(validation, threshold=threshold)["controle_lignes"]
    parts = []
    for rec in table.to_dict(orient="records"):
        name = _TABLE_FR.get(rec.get("table"), rec.get("table"))

        def word(v: Any, what: str) -> str:
            if is_missing(v):
                return f"nombre de lignes {what} non diffusé (secret statistique)"
            return f"aucune {what[:-1]}" if int(v) == 0 else f"{fmt_int(int(v))} {what}"

        read = rec.get("lues")
        read_txt = (
            "nombre de lignes lues non diffusé (secret statistique)"
            if is_missing(read)
            else f"{fmt_int(int(read))} lignes lues"
        )
        parts.append(f"{name} : {read_txt}, {word(rec.get('rejetees'), 'rejetées')}")
    if not parts:
        return "Aucun fichier contrôlé."
    return "Contrôle des fichiers — " + " ; ".join(parts) + "."


def overview_text_fr(population: pd.DataFrame, period) -> str:  # noqa: ANN001
    """One French sentence on the size of the semester's population."""
    nat = population[population["axe"] == "nationalité"]
    total_active = nat["demandes_actives"].sum(skipna=True)
    total_alloc = nat["attributions_semestre"].sum(skipna=True)
    return (
        f"Au {period.label_fr}, {fmt_int(total_active)} demandes étaient actives à un moment du "
        f"semestre et {fmt_int(total_alloc)} baux ont été signés (totaux hors cellules masquées)."
    )


def indicator_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A French, rounded view of indicator rows for the report."""
    from allocation_analysis.labels import STATUS_LABELS_FR, label

    rows = []
    for rec in frame.to_dict(orient="records"):
        rows.append(
            {
                "Indicateur": INDICATOR_LABELS_FR.get(rec["id"], rec["id"]),
                "Fenêtre": label(rec["window"], "window"),
                "Numérateur": fmt_int(rec["numerator"]),
                "Dénominateur": fmt_int(rec["denominator"]),
                "Part": fmt_pct(rec["share"]),
                "IC 95 %": f"{fmt_pct(rec['ci_low'])} – {fmt_pct(rec['ci_high'])}",
                "Objectif": fmt_pct(rec["target"], digits=0),
                "Statut": STATUS_LABELS_FR.get(rec["status"], rec["status"]),
            }
        )
    return pd.DataFrame(rows)

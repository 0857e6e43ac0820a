"""The synthesis page of the report: the legal obligations at a glance and the main findings.

What the working group reads first: for every legal indicator of the
territory, over the semester and the rolling 12 months, whether the objective
is met, how far the share is from it, and how it changed since the previous
semester and since the same semester a year earlier (with whether the change
is beyond chance); then the main disparity findings, one plain sentence each.

Choices made here (documented for reviewers):

- **A masked count never hides compliance.** When a numerator is below the
  secret threshold but the denominator is published, the share is not
  published, but whether the objective is met is, and how far below it the
  share lies (:data:`allocation_analysis.indicators.SHORTFALL_BANDS`):
  "nettement en dessous" (more than 10 points below), "en dessous" (5 to 10),
  "légèrement en dessous" (less than 5). Each says only that the count lies in
  an interval, never the count, and is said only when the audit of the whole
  publication finds that no count can be recovered from it
  (:func:`allocation_analysis.privacy.release_masked_statuses`): a narrow band
  (« légèrement en dessous » on 20 leases is exactly 4) becomes a plain
  "objectif non atteint", or nothing. The table reads the report's published
  indicator tables, so it repeats their secret and never re-solves it. When the
  denominator itself is below the threshold the status is "non diffusé".
- **Changes.** Difference of the two shares in percentage points, Newcombe's
  hybrid score interval and the score (Pearson chi-square) test of equal
  proportions between the two semesters (R ``prop.test(correct = FALSE)``);
  the two periods' leases are different households, so the samples are
  independent, except for the rolling 12 months, which share a semester with
  the window a semester earlier (that comparison is not made: the 12-month
  change is against the 12 months ending a year earlier, which do not
  overlap). A change is published only when both shares are.
- **Main findings.** The primary tests of the report
  (:data:`allocation_analysis.analysis.TEST_PLAN`, family ``principal``) that
  are significant after the Benjamini–Hochberg adjustment, largest effects
  first, at most :data:`MAX_FINDINGS`, each in one sentence with the
  direction, the size in words and the adjusted interval; a sentence says so
  when none is.

References
----------
.. [1] Newcombe, R. G. (1998). Interval estimation for the difference between
   independent proportions: comparison of eleven methods. *Statistics in
   Medicine* 17(8), 873–890.
.. [2] Code de la construction et de l'habitation, art. L441-1.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import AnalysisConfig
from allocation_analysis.labels import FICTIONAL_TERRITORIES, INDICATOR_LABELS_FR, label
from allocation_analysis.text import MISSING, fmt_date, fmt_float, fmt_int, fmt_pct

__all__ = [
    "DISTANCE_FR",
    "access_change_sentence_fr",
    "methods_annex_fr",
    "FICTIONAL_TERRITORIES",
    "cover_fr",
    "MAX_FINDINGS",
    "finding_sentence_fr",
    "findings_fr",
    "obligations_display",
    "obligations_table",
    "process_sentence_fr",
]

MAX_FINDINGS = 5
"""Most findings listed on the synthesis page."""

DISTANCE_FR: dict[str, str] = {
    "non_atteint_nettement": "nettement en dessous de l'objectif",
    "non_atteint_en_dessous": "en dessous de l'objectif",
    "non_atteint_legerement": "légèrement en dessous de l'objectif",
}
"""Words of each band of :data:`allocation_analysis.indicators.SHORTFALL_BANDS`."""

_LIGHT = {"atteint": "✔", "non_atteint": "✘", "non_diffuse": "–", "sans_objet": "–"}
"""Marks of the obligation results (DejaVu Sans has them: they print, unlike emoji)."""


def _distance_fr(share: float, target: float) -> str:
    from allocation_analysis.indicators import shortfall_band

    code = shortfall_band(share, target)
    return "objectif atteint" if code is None else DISTANCE_FR[code]


def _change(
    cur: Mapping[str, Any], old: Mapping[str, Any] | None, *, alpha: float
) -> dict[str, Any]:
    """Difference of shares between two periods (:func:`allocation_analysis.change.share_change`)."""
    from allocation_analysis.change import share_change

    res = share_change(cur, old, alpha=alpha)
    return {
        "change": res["change"],
        "change_ci_low": res["ci_low"],
        "change_ci_high": res["ci_high"],
        "change_p_value": res["p_value"],
    }


def obligations_table(
    allocations: pd.DataFrame,
    *,
    config: AnalysisConfig,
    published: pd.DataFrame | Sequence[pd.DataFrame | None] | None = None,
) -> pd.DataFrame:
    """The legal obligations of the territory for the semester and the 12 months.

    Parameters
    ----------
    allocations : DataFrame
        Prepared allocations (:func:`allocation_analysis.derive.prepare_allocations`),
        all periods of the extract; used only when ``published`` is not given.
    config : AnalysisConfig
        Period, targets, alpha and secret threshold.
    published : DataFrame or sequence of DataFrame, optional
        The report's published indicator tables (``indicateurs`` and
        ``tendance``, as written by notebook 02; missing ones given as None):
        their territory rows of the analysed semester, the previous one and
        the one a year earlier. By default (or when none is given) the same
        publication is computed here
        (:func:`allocation_analysis.change.publish_indicator_tables`).

    Returns
    -------
    DataFrame
        One row per indicator and window (``semester``, ``rolling_12m``):
        ``id``, ``window``, ``denominator`` (published or NA), ``share``
        (published or NaN), ``target``, ``status`` (``atteint``,
        ``non_atteint``, ``non_diffuse``, ``sans_objet``; the status the
        publication released when only the numerator is masked), ``distance``
        (words; "" when a masked share may only say that the objective is not
        met), and for ``previous`` (the previous semester; for the 12 months
        the 12 months ending a year earlier) and ``year_before`` (the same
        semester a year earlier; for the 12 months, the same): ``*_share``,
        ``*_change``, ``*_change_ci_low``, ``*_change_ci_high``,
        ``*_change_p_value`` (NaN when either share is not published).
    """
    from allocation_analysis.indicators import NOT_MET_STATUSES

    if published is not None and not isinstance(published, pd.DataFrame):
        frames = [f for f in published if f is not None]
        published = pd.concat(frames, ignore_index=True) if frames else None
    if published is None:
        from allocation_analysis import change

        tables = change.publish_indicator_tables(allocations, config=config)
        published = pd.concat(
            [tables["indicators_published"], tables["trend_published"]], ignore_index=True
        )
    pub = published[published["scope"].astype(str) == "territory"].copy()
    pub["period"] = pub["period"].astype(str)
    pub = pub.drop_duplicates(["id", "window", "period"]).set_index(["id", "window", "period"])
    p = config.period
    year_before = p.previous().previous()
    periods = {"previous": p.previous(), "year_before": year_before}
    rows = []
    for (ind_id, window, per), pc in pub.iterrows():
        if per != str(p):
            continue
        den, share, code = pc["denominator"], pc["share"], str(pc["status"])
        target = float(pc["target"])
        if not pd.isna(den) and int(den) == 0:
            status, distance = "sans_objet", "aucune attribution"
        elif not pd.isna(share):
            status = "atteint" if float(share) >= target else "non_atteint"
            distance = _distance_fr(float(share), target)
        elif code == "atteint":  # released without the count
            status, distance = "atteint", "objectif atteint"
        elif code in NOT_MET_STATUSES:
            status, distance = "non_atteint", DISTANCE_FR.get(code, "")
        else:
            status, distance = "non_diffuse", "non diffusé (secret statistique)"
        row: dict[str, Any] = {
            "id": ind_id,
            "window": window,
            "denominator": den,
            "share": share,
            "target": target,
            "status": status,
            "distance": distance,
        }
        for key in ("previous", "year_before"):
            old_period = periods[key if window == "semester" else "year_before"]
            old_key = (ind_id, window, str(old_period))
            prev = pub.loc[old_key] if old_key in pub.index else None
            row[f"{key}_share"] = prev["share"] if prev is not None else math.nan
            ch = _change(pc, prev, alpha=config.alpha)
            row.update({f"{key}_{k}": v for k, v in ch.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _change_fr(share: float, change: float, p_value: float, *, alpha: float) -> str:
    """« −5,5 pt, au-delà du hasard »: the change in points and whether it is beyond chance."""
    if pd.isna(share):
        return MISSING
    if pd.isna(change):
        return "non diffusable (secret)"
    pts = fmt_float(100 * change, digits=1)
    sign = "+" if change > 0 else ""
    beyond = "au-delà du hasard" if p_value < alpha else "dans les limites du hasard"
    return f"{sign}{pts} pt, {beyond}"


def obligations_display(table: pd.DataFrame, *, config: AnalysisConfig) -> pd.DataFrame:
    """The synthesis table in French: one row per obligation and window.

    « Sur 6 mois » is the change since the previous semester (semester rows
    only: the 12-month windows of two consecutive semesters share six months),
    « Sur un an » the change since the same window one year earlier.
    """
    out = []
    for rec in table.to_dict(orient="records"):
        status = rec["status"]
        share = rec["share"]
        if status in ("atteint", "non_atteint"):
            shown = fmt_pct(share) if not pd.isna(share) else "part non diffusée (secret)"
            verdict = "Objectif atteint" if status == "atteint" else "Objectif non atteint"
            verdict = f"{_LIGHT[status]} {verdict}"
            if status == "non_atteint" and rec["distance"]:
                distance = str(rec["distance"]).removesuffix(" de l'objectif")
                verdict += f" ({distance})"
        else:
            shown = MISSING
            verdict = f"{_LIGHT[status]} {rec['distance'].capitalize()}"
        semester = rec["window"] == "semester"
        six_months = (
            _change_fr(
                rec["previous_share"],
                rec["previous_change"],
                rec["previous_change_p_value"],
                alpha=config.alpha,
            )
            if semester
            else MISSING
        )
        year = _change_fr(
            rec["year_before_share"],
            rec["year_before_change"],
            rec["year_before_change_p_value"],
            alpha=config.alpha,
        )
        out.append(
            {
                "Obligation": INDICATOR_LABELS_FR.get(rec["id"], label(rec["id"])),
                "Période": label(rec["window"], "window"),
                "Attributions": fmt_int(rec["denominator"]),
                "Part": shown,
                "Objectif": fmt_pct(rec["target"], digits=0),
                "Résultat": verdict,
                "Sur 6 mois": six_months,
                "Sur un an": year,
            }
        )
    return pd.DataFrame(out)


_OUTCOME_PHRASE = {
    "access": "d'obtenir un logement dans le semestre",
    "placement": "de se voir attribuer un logement situé en QPV",
}


PERCENT_WORDING_RANGE = (0.67, 1.5)
"""Odds ratios put into words as « environ x % de chances en plus / en moins ».

An odds ratio is close to the ratio of the probabilities only when it is near 1
or the outcome is rare (access in a semester, about one demand in ten). Beyond
this range the percentage would overstate the gap in probability, above all for
a common outcome such as a QPV placement: only the direction is put into words
(« nettement plus / moins de chances ») and the ratio stays in the parentheses."""


def _percent_words(ratio: float) -> str:
    """0.70 → « environ 30 % de chances en moins »; 2.4 → « nettement plus de chances »."""
    low, high = PERCENT_WORDING_RANGE
    if ratio < low:
        return "nettement moins de chances"
    if ratio > high:
        return "nettement plus de chances"
    pct = round(abs(ratio - 1) * 100)
    return f"environ {pct} % de chances en {'moins' if ratio < 1 else 'plus'}"


"""Run names of the built-in synthetic territory: their report carries a banner."""


def cover_fr(
    config: AnalysisConfig,
    allocations: pd.DataFrame,
    demandes: pd.DataFrame | None = None,
    *,
    produced: dt.date | None = None,
) -> str:
    """The cover lines of the report (Markdown): what, where, when, from what data.

    Parameters
    ----------
    config : AnalysisConfig
        Territory and period.
    allocations : DataFrame
        Prepared allocations (their last lease date is the extract's end).
    demandes : DataFrame, optional
        Prepared demands (their last filing date, when given).
    produced : date, optional
        Production date (default today).

    Returns
    -------
    str
        A title line, a « DONNÉES FICTIVES » banner for the built-in territory,
        the production date and version, the extract dates and a true source
        line.
    """
    from allocation_analysis import __version__
    from allocation_analysis.labels import territory_label

    produced = produced or dt.date.today()
    fictional = config.territory in FICTIONAL_TERRITORIES
    lines = [
        f"**Analyse semestrielle des attributions de logements sociaux — "
        f"{territory_label(config.territory)} — {config.period.label_fr}**",
        "",
    ]
    if fictional:
        lines += [
            "> **DONNÉES FICTIVES.** Ce rapport de démonstration porte sur un territoire et "
            "une population inventés par l'outil, avec des écarts introduits volontairement : "
            "il ne décrit aucun territoire réel.",
            "",
        ]
    dates = []
    last = pd.to_datetime(allocations.get("date_bail"), errors="coerce").max()
    if pd.notna(last):
        dates.append(f"baux signés jusqu'au {fmt_date(last)}")
    if demandes is not None and "date_depot" in demandes:
        last_d = pd.to_datetime(demandes["date_depot"], errors="coerce").max()
        if pd.notna(last_d):
            dates.append(f"demandes déposées jusqu'au {fmt_date(last_d)}")
    source = (
        "données fictives générées par allocation_analysis (territoire de démonstration)"
        if fictional
        else "système national d'enregistrement des demandes (SNE) : demandes et "
        "attributions ; répertoire des logements locatifs des bailleurs sociaux (RPLS) : "
        "logements"
    )
    lines += [
        f"Produit le {fmt_date(produced)} avec allocation_analysis {__version__}."
        + (f" Données : {', '.join(dates)}." if dates else ""),
        "",
        f"Source : {source}.",
    ]
    return "\n".join(lines)


def finding_sentence_fr(rec: Mapping[str, Any], *, alpha: float) -> str:
    """One plain-language sentence for a primary test (a ratio, adjusted).

    Examples
    --------
    >>> rec = {"outcome": "access", "group": "hors_ue", "reference": "francaise",
    ...        "estimate_name": "odds_ratio", "estimate": 0.70, "p_adjusted": 0.002,
    ...        "ci_low_adjusted": 0.58, "ci_high_adjusted": 0.84}
    >>> print(finding_sentence_fr(rec, alpha=0.05))  # doctest: +NORMALIZE_WHITESPACE
    À situation comparable, les ménages de nationalité hors UE ont environ 30 % de
    chances en moins d'obtenir un logement dans le semestre que les ménages de
    nationalité française (rapport de cotes 0,70 ; fourchette compatible avec les
    données, corrigée pour tests multiples : de 0,58 à 0,84).
    """
    grp = label(rec["group"], "group")
    ref = label(rec["reference"], "group")
    est = float(rec["estimate"])
    lo, hi = rec.get("ci_low_adjusted"), rec.get("ci_high_adjusted")
    rng = ""
    if lo is not None and hi is not None and not (pd.isna(lo) or pd.isna(hi)):
        rng = (
            f" ; fourchette compatible avec les données, corrigée pour tests multiples : "
            f"de {fmt_float(lo)} à {fmt_float(hi)}"
        )
    if rec["outcome"] == "waiting_time":
        speed = "plus lent" if est < 1 else "plus rapide"
        pct = round(abs(est - 1) * 100)
        body = (
            f"À situation comparable, les demandes des {grp} aboutissent à un rythme environ "
            f"{pct} % {speed} que celles des {ref} (rapport de risques {fmt_float(est)}{rng})."
        )
    else:
        what = _OUTCOME_PHRASE.get(rec["outcome"], label(rec["outcome"], "outcome"))
        body = (
            f"À situation comparable, les {grp} ont {_percent_words(est)} "
            f"{what} que les {ref} (rapport de cotes {fmt_float(est)}{rng})."
        )
    return body


def findings_fr(tests: pd.DataFrame, *, alpha: float) -> list[str]:
    """The main disparity findings, one sentence each (primary tests only).

    Parameters
    ----------
    tests : DataFrame
        :func:`allocation_analysis.analysis.results_frame` of the run.
    alpha : float
        Level of the adjusted p-values.

    Returns
    -------
    list of str
        At most :data:`MAX_FINDINGS` sentences, largest effects first, then a
        sentence on what such a gap means; one sentence saying that no gap is
        established when none is significant.
    """
    from allocation_analysis import analysis

    prim = tests[(tests["family"] == analysis.PRINCIPAL) & tests["estimate"].notna()]
    sig = prim[prim["p_adjusted"] < alpha].copy()
    if sig.empty:
        n = len(prim)
        return [
            f"Aucun des {fmt_int(n)} tests principaux ne met en évidence d'écart au-delà du "
            "hasard après correction pour tests multiples. Cela ne prouve pas l'absence "
            "d'écart : les effectifs du semestre peuvent être trop faibles pour le détecter."
        ]
    size = np.abs(np.log(sig["estimate"].astype(float).clip(lower=1e-12)))
    sig = sig.iloc[np.argsort(-size.to_numpy(), kind="stable")].head(MAX_FINDINGS)
    out = [finding_sentence_fr(rec, alpha=alpha) for rec in sig.to_dict("records")]
    out.append(
        "Ces écarts sont établis au-delà du hasard, après correction pour tests multiples. "
        "Un écart statistique est une alerte qui indique où regarder, pas une preuve de "
        "discrimination : il peut tenir à des différences que les données ne décrivent pas."
    )
    return out


def methods_annex_fr() -> str:
    """The methods annex and glossary of the report (Markdown), from the test plan.

    Each model's adjustment variables are listed as the plan
    (:data:`allocation_analysis.analysis.TEST_PLAN`) runs them, so that the
    report never claims more than the models hold comparable.
    """
    from allocation_analysis import analysis
    from allocation_analysis.labels import (
        FAMILY_FR,
        GLOSSARY_FR,
        METHOD_FR,
        OUTCOME_FR,
        VARIABLE_FR,
    )

    seen: dict[tuple[str, str], Any] = {}
    for t in analysis.TEST_PLAN:
        seen.setdefault((t.outcome, t.method), t)
    lines = ["## Annexe : méthodes", ""]
    for (outcome, method), t in seen.items():
        parts = []
        if t.controls:
            names = ", ".join(VARIABLE_FR.get(c, c) for c in t.controls)
            parts.append(f"à {names} comparables")
        if t.strata:
            parts.append(f"par strate ({VARIABLE_FR.get(t.strata, t.strata)})")
        if t.cluster:
            parts.append(f"erreurs types robustes par {VARIABLE_FR.get(t.cluster, t.cluster)}")
        if t.entry:
            parts.append("demandes déposées avant le semestre observées à partir de son début")
        what = " ; ".join(parts) if parts else "sans ajustement (écart brut)"
        lines.append(
            f"- **{OUTCOME_FR.get(outcome, outcome)} — {METHOD_FR.get(method, method)}** "
            f"({FAMILY_FR.get(t.family, t.family)}) : {what}."
        )
    lines += ["", "## Glossaire", ""]
    lines += [f"- **{term}** : {text}" for term, text in GLOSSARY_FR]
    return "\n".join(lines)


def findings_or_pending_fr(tests: pd.DataFrame | None, *, alpha: float) -> list[str]:
    """The main findings, or a sentence saying the tests have not been run yet.

    ``tests`` is the published tests table (``tables/tests.csv``), None when the
    disparities notebook has not run (an interactive session).
    """
    if tests is None:
        return [
            "Les résultats des tests ne sont pas encore disponibles : exécutez d'abord le "
            "carnet « 3. Écarts d'accès »."
        ]
    return findings_fr(tests, alpha=alpha)


def access_change_sentence_fr(changes: pd.DataFrame | None, *, alpha: float) -> str:
    """The access-rate changes beyond chance, for the synthesis page, or "".

    Parameters
    ----------
    changes : DataFrame or None
        The published ``tables/evolution_acces.csv``
        (:func:`allocation_analysis.change.access_changes`), or None when
        notebook 02 did not write it.
    alpha : float
        Threshold of the tests.

    Returns
    -------
    str
        :func:`allocation_analysis.change.access_sentence_fr`: empty when no
        change nor trend of an access rate is beyond chance.
    """
    from allocation_analysis.change import access_sentence_fr

    if changes is None or changes.empty:
        return ""
    return access_sentence_fr(changes.fillna({"note_previous": "", "note_year": ""}), alpha=alpha)


def trend_sentence_fr(trends: pd.DataFrame | None) -> str:
    """One sentence on the obligations whose share has moved beyond chance over the
    semesters of the data (published ``tables/tendance_tests.csv``), or "" without it."""
    if trends is None or trends.empty:
        return ""
    from allocation_analysis.config import Period

    computed = trends[~trends["conclusion"].str.startswith("non calculable")]
    if computed.empty:
        return "La tendance des obligations n'est pas calculable sur les données disponibles."
    since = Period.parse(str(computed["premier_semestre"].min())).label_fr
    moved = computed[computed["conclusion"].str.contains("au-delà du hasard")]
    if moved.empty:
        return (
            f"Depuis le {since}, aucune tendance au-delà du hasard n'est établie pour les "
            "obligations dont la tendance est calculable."
        )
    names = [label(r["id"], "indicator") for r in moved.to_dict(orient="records")]
    parts = [
        f"{name[:1].lower()}{name[1:]} ({r['conclusion']})"
        for name, r in zip(names, moved.to_dict(orient="records"), strict=True)
    ]
    return f"Depuis le {since}, évolution régulière des parts : {' ; '.join(parts)}."


def process_sentence_fr(gaps: pd.DataFrame | None) -> str:
    """Where the gap in access arises along the allocation process, in plain words.

    Parameters
    ----------
    gaps : DataFrame or None
        The published table ``tables/processus_ecart.csv`` of the process
        notebook (:func:`allocation_analysis.process.funnel_tables`,
        ``"ecart"``), None when the territory gave no propositions.

    Returns
    -------
    str
        For each comparison whose split is published, the stage with the
        largest share of the gap in the raw rate of leases through the
        commissions of the semester (« l'écart se forme surtout à la
        désignation des candidats »), with that share; "" without the table.
        The shares are those of the logarithm of the ratio of the rates
        (docs/methods.md), descriptive, not tests. When the interval of the
        overall ratio (``log_rate_ratio_ci_low`` / ``_ci_high`` of the overall
        row, when the table has them) contains 1, the gap is said not to be
        established and its split is not put into words. When a share exceeds 100 %
        in absolute value (stages pulling in opposite directions around a
        small overall gap), the sentence says so and names the stage with the
        largest gap in its own rate instead.
    """
    from allocation_analysis.labels import STAGE_WHERE_FR, group_label

    if gaps is None or gaps.empty:
        return ""
    parts = []
    for (grp, ref), sub in gaps.groupby(["group", "reference"], sort=False):
        sub = sub.set_index("stage")
        overall = pd.to_numeric(sub["log_rate_ratio"], errors="coerce").get("lease_overall")
        shares = pd.to_numeric(sub["gap_share"], errors="coerce").reindex(list(STAGE_WHERE_FR))
        who = f"{group_label(grp)} comparés aux {group_label(ref)}"
        if overall is None or not math.isfinite(overall) or shares.isna().all():
            continue
        ratio = math.exp(overall)
        if abs(overall) < 1e-12:
            parts.append(f"pour les {who}, pas d'écart de taux de bail par les commissions")
            continue
        bounds = [
            pd.to_numeric(sub.get(col), errors="coerce").get("lease_overall")
            if col in sub
            else None
            for col in ("log_rate_ratio_ci_low", "log_rate_ratio_ci_high")
        ]
        if all(b is not None and math.isfinite(b) for b in bounds) and bounds[0] <= 0 <= bounds[1]:
            parts.append(
                f"pour les {who}, l'écart de taux de bail par les commissions n'est pas établi "
                f"(rapport des taux {fmt_float(ratio, digits=2)}, intervalle de "
                f"{fmt_float(math.exp(bounds[0]), digits=2)} à "
                f"{fmt_float(math.exp(bounds[1]), digits=2)}) : sa répartition entre les étapes "
                "n'est pas interprétée"
            )
            continue
        where = shares.idxmax()
        direction = "moins" if overall < 0 else "plus"
        head = (
            f"pour les {who}, les demandes aboutissent {direction} souvent à un bail par "
            f"les commissions du semestre (rapport des taux {fmt_float(ratio, digits=2)})"
        )
        if shares.abs().max() > 1:
            # stages pull in opposite directions: the shares of a small overall gap
            # exceed 100 % and would mislead; name the stage of the largest gap instead
            logs = pd.to_numeric(sub["log_rate_ratio"], errors="coerce").reindex(shares.index)
            big = logs.abs().idxmax()
            parts.append(
                f"{head}, mais des écarts de sens contraires se compensent d'une étape à "
                f"l'autre ; le plus marqué se situe {STAGE_WHERE_FR[big]} (rapport des taux de "
                f"passage {fmt_float(math.exp(logs[big]), digits=2)})"
            )
            continue
        parts.append(
            f"{head} et l'écart se forme surtout {STAGE_WHERE_FR[where]} "
            f"({fmt_pct(shares[where], digits=0)} de l'écart)"
        )
    if not parts:
        return (
            "Processus d'attribution : la répartition de l'écart entre les étapes n'est pas "
            "diffusée (secret statistique)."
        )
    text = " ; ".join(parts)
    return f"Processus d'attribution : {text}."

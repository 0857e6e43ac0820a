"""Change since the previous semester, since a year earlier, and trend over the semesters.

One computation serves every share the report follows over time: the legal
indicators (territory on the synthesis page, and per commune, landlord and
reservataire in the tables of notebook 02) and the access rate of each origin
and residence group (share of the demands active in the semester that obtained
a lease in it).

Choices made here (documented for reviewers, see ``docs/methods.md`` §9):

- **Change.** Difference of the two shares (current minus earlier), in
  proportion, with Newcombe's hybrid score interval (method 10 of Newcombe,
  1998) and the score test of equal proportions (Pearson chi-square without
  continuity correction, the square of the pooled two-proportion z statistic;
  R ``prop.test(c(x1, x2), c(n1, n2), correct = FALSE)``), computed by
  :func:`allocation_analysis.stats.compare_counts`. The two semesters are
  treated as independent samples: the leases of two semesters are different
  households; the demands active in two semesters partly overlap (a demand
  waiting a year is active in both, and one served in the earlier semester
  is no longer active in the later one). This dependence is not modelled and
  its effect on the level of the access-rate test has not been measured: the
  access-rate changes are read as descriptive.
- **Trend.** Over the semesters of the data up to the analysed one,
  :func:`allocation_analysis.stats.trend_test`: logistic regression of the
  share on the semester index, slope as an odds ratio per semester (Wald
  interval and test), Cochran–Armitage as its score form. Fewer than three
  semesters with a non-zero denominator: « non calculable ».
- **Statistical secret.** A change or a trend is computed only from counts
  that are published: when a count of one of the semesters it uses is masked,
  it is « non calculable » with that reason. A difference of two shares whose
  denominators are published gives a masked numerator back when the other
  share is published; a trend fitted on a masked semester would rest on an
  unpublished count.
- **Multiple tests.** The trend tests of the five territory obligations form
  one family (Benjamini–Hochberg, :func:`adjust_trend_family`);
  each per-scope table (communes, landlords, reservataires, access rates by
  group) is exploratory and adjusted within itself, per indicator or per
  axis. The change tests are descriptive (one per share and comparison,
  unadjusted), as on the synthesis page.

References
----------
.. [1] Newcombe, R. G. (1998). Interval estimation for the difference between
   independent proportions: comparison of eleven methods. *Statistics in
   Medicine* 17(8), 873–890.
.. [2] Armitage, P. (1955). Tests for linear trends in proportions and
   frequencies. *Biometrics* 11(3), 375–386.
.. [3] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery
   rate. *Journal of the Royal Statistical Society B* 57(1), 289–300.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import AnalysisConfig, Period
from allocation_analysis.labels import label

logger = logging.getLogger(__name__)

__all__ = [
    "CHANGE_COLUMNS",
    "NOT_COMPUTABLE_FEW",
    "NOT_COMPUTABLE_SECRET",
    "access_changes",
    "access_rate_series",
    "access_rate_trend_frame",
    "adjust_trend_family",
    "access_sentence_fr",
    "changes_and_trends",
    "changes_display",
    "changes_summary_fr",
    "figure_notes_fr",
    "indicator_changes",
    "protect_access_rates",
    "protect_publication",
    "release_publication_statuses",
    "publish_indicator_tables",
    "omitted_scopes_fr",
    "SERIES_SCOPES",
    "scope_indicator_series",
    "semester_trend",
    "share_change",
    "trend_entries",
]

NOT_COMPUTABLE_SECRET = "non calculable : effectif d'un semestre sous le secret statistique"
"""Reason given when a count the change or trend would use is masked."""

NOT_COMPUTABLE_FEW = "non calculable : moins de trois semestres de données"
"""Reason given for a trend over fewer than three semesters."""

CHANGE_COLUMNS: tuple[str, ...] = (
    "share",
    "share_previous",
    "change_vs_previous",
    "ci_low",
    "ci_high",
    "p_value",
    "note_previous",
    "share_year_before",
    "change_vs_year_before",
    "ci_low_year",
    "ci_high_year",
    "p_value_year",
    "note_year",
    "premier_semestre",
    "n_semestres",
    "trend_slope",
    "trend_odds_ratio",
    "trend_ci_low",
    "trend_ci_high",
    "trend_p_value",
    "trend_p_value_adjusted",
    "trend_conclusion",
)
"""Columns added by :func:`changes_and_trends` after the key columns."""


# --------------------------------------------------------------------------- the two tests


def share_change(
    current: Mapping[str, Any] | None,
    earlier: Mapping[str, Any] | None,
    *,
    alpha: float,
) -> dict[str, float]:
    """Difference of a share between two semesters, with interval and score test.

    Parameters
    ----------
    current, earlier : mapping or None
        ``numerator`` and ``denominator`` of each semester (missing or ``None``:
        not available or masked).
    alpha : float
        The interval has level ``1 - alpha``.

    Returns
    -------
    dict
        ``change`` (current share minus earlier share, in proportion),
        ``ci_low``, ``ci_high`` (Newcombe's hybrid score interval) and
        ``p_value`` (score test, R ``prop.test(correct = FALSE)``); all NaN
        when a count is missing or a denominator is 0.

    References
    ----------
    .. [1] Newcombe, R. G. (1998). *Statistics in Medicine* 17(8), 873–890.
    """
    from allocation_analysis.stats import compare_counts

    nan = math.nan
    empty = {"change": nan, "ci_low": nan, "ci_high": nan, "p_value": nan}
    if current is None or earlier is None:
        return empty
    vals = [
        current.get("numerator"),
        current.get("denominator"),
        earlier.get("numerator"),
        earlier.get("denominator"),
    ]
    if any(v is None or pd.isna(v) for v in vals):
        return empty
    x1, n1, x2, n2 = (float(v) for v in vals)
    if min(n1, n2) <= 0:
        return empty
    res = compare_counts(x1, n1, x2, n2, alpha=alpha)
    return {
        "change": res["difference"],
        "ci_low": res["ci_low"],
        "ci_high": res["ci_high"],
        "p_value": res["p_value"],
    }


def _index(periods: Sequence[Period]) -> list[int]:
    """Semester index from the first period (consecutive semesters differ by 1)."""
    first = periods[0]
    return [2 * (p.year - first.year) + p.half - first.half for p in periods]


def semester_trend(
    periods: Sequence[Period | str],
    events: Sequence[float],
    totals: Sequence[float],
    *,
    alpha: float,
) -> dict[str, Any]:
    """Trend of a share over semesters (logistic regression on the semester index).

    Parameters
    ----------
    periods : sequence of Period or str
        The semesters, in any order (a missing semester leaves a gap in the
        index).
    events, totals : sequence of float
        Numerator and denominator of each semester; semesters with a
        denominator of 0 carry no information and are left out.
    alpha : float
        The interval has level ``1 - alpha``.

    Returns
    -------
    dict
        ``n_semestres``, ``premier_semestre``, ``dernier_semestre``,
        ``trend_slope`` (log odds ratio per semester), ``trend_odds_ratio``,
        ``trend_ci_low``, ``trend_ci_high`` (Wald interval of the odds ratio),
        ``trend_p_value`` (Wald), ``p_value_cochran_armitage`` and
        ``trend_conclusion`` (French: « hausse au-delà du hasard », « baisse
        au-delà du hasard », « pas de tendance établie » or « non
        calculable : … »).

    References
    ----------
    .. [1] Armitage, P. (1955). *Biometrics* 11(3), 375–386.
    """
    from allocation_analysis import stats

    ps = [Period.parse(p) for p in periods]
    frame = pd.DataFrame(
        {
            "p": ps,
            "events": np.asarray(events, dtype=float),
            "totals": np.asarray(totals, dtype=float),
        }
    )
    frame = frame[frame["totals"] > 0]
    frame = frame.iloc[np.argsort([p.label for p in frame["p"]], kind="stable")]
    nan = math.nan
    rec: dict[str, Any] = {
        "n_semestres": len(frame),
        "premier_semestre": frame["p"].iloc[0].label if len(frame) else None,
        "dernier_semestre": frame["p"].iloc[-1].label if len(frame) else None,
        "trend_slope": nan,
        "trend_odds_ratio": nan,
        "trend_ci_low": nan,
        "trend_ci_high": nan,
        "trend_p_value": nan,
        "p_value_cochran_armitage": nan,
    }
    if len(frame) < 3:
        rec["trend_conclusion"] = NOT_COMPUTABLE_FEW
        return rec
    counts = pd.DataFrame(
        {
            "events": frame["events"].to_numpy(),
            "totals": frame["totals"].to_numpy(),
            "index": _index(list(frame["p"])),
        }
    )
    res = stats.trend_test(counts, alpha=alpha)
    ca = res.details.get("cochran_armitage", {})
    rec.update(
        trend_slope=res.details.get("slope", nan),
        trend_odds_ratio=res.estimate,
        trend_ci_low=res.ci_low,
        trend_ci_high=res.ci_high,
        trend_p_value=res.p_value,
        p_value_cochran_armitage=ca.get("p_value", nan),
    )
    if math.isnan(res.p_value):
        reason = res.warnings[0] if res.warnings else "estimation impossible"
        rec["trend_conclusion"] = f"non calculable : {reason}"
    elif res.p_value < alpha:
        up = res.estimate > 1
        rec["trend_conclusion"] = "hausse au-delà du hasard" if up else "baisse au-delà du hasard"
    else:
        rec["trend_conclusion"] = "pas de tendance établie"
    return rec


# --------------------------------------------------------------------------- series of shares


def changes_and_trends(
    raw: pd.DataFrame,
    published: pd.DataFrame,
    *,
    keys: Sequence[str],
    last: Period | str,
    alpha: float,
    family: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Change since the previous semester and a year earlier, and trend, of each series.

    Parameters
    ----------
    raw : DataFrame
        One row per series (``keys``) and semester: ``period`` (``"2025-S2"``),
        ``numerator``, ``denominator`` (true counts).
    published : DataFrame
        The same rows after disclosure control: a masked count is ``<NA>`` (or
        the row has ``suppressed`` true). A row absent from ``published`` is
        taken as published.
    keys : sequence of str
        Columns identifying a series (e.g. ``id, scope, scope_value``).
    last : Period or str
        The analysed semester: changes end there, the trend uses the semesters
        up to it.
    alpha : float
        Level of the intervals and of the conclusions.
    family : sequence of str, optional
        Key columns within which the trend p-values are adjusted
        (Benjamini–Hochberg); by default the whole frame is one family. The
        conclusion of a trend (« hausse / baisse au-delà du hasard ») follows
        the adjusted p-value.

    Returns
    -------
    DataFrame
        One row per series: ``keys``, ``period`` (the analysed semester) and
        :data:`CHANGE_COLUMNS`. The shares are those of published rows only
        (NaN otherwise). ``note_previous`` / ``note_year`` say why a change is
        missing (« non calculable : … »), empty when it is given.
    """
    last = Period.parse(last)
    keys = list(keys)
    prev, year = last.previous(), last.previous().previous()

    def key_of(df: pd.DataFrame) -> list[tuple]:
        cols = [df[k].astype(object).tolist() for k in [*keys, "period"]]
        return list(zip(*cols, strict=True))

    hidden: dict[tuple, bool] = {}
    if len(published):
        sup = (
            published["suppressed"].fillna(False).astype(bool).to_numpy()
            if "suppressed" in published
            else np.zeros(len(published), bool)
        )
        na = published[["numerator", "denominator"]].isna().any(axis=1).to_numpy()
        hidden = dict(zip(key_of(published), sup | na, strict=True))
    series: dict[tuple, dict[str, tuple[float, float]]] = {}
    if len(raw):
        nums = pd.to_numeric(raw["numerator"]).to_numpy(float)
        dens = pd.to_numeric(raw["denominator"]).to_numpy(float)
        for k, x, n in zip(key_of(raw), nums, dens, strict=True):
            if Period.parse(k[-1]) <= last:
                series.setdefault(k[:-1], {})[str(k[-1])] = (x, n)
    out = []
    nan = math.nan
    for key, by_period in series.items():

        def masked(label: str, key: tuple = key) -> bool:
            return hidden.get((*key, label), False)

        def share(label: str, by_period: dict = by_period) -> float:
            r = by_period.get(label)
            if r is None or masked(label) or r[1] <= 0:
                return nan
            return r[0] / r[1]

        rec: dict[str, Any] = dict(zip(keys, key, strict=True))
        rec["period"] = last.label
        rec["share"] = share(last.label)
        for earlier, suffix, note in ((prev, "", "note_previous"), (year, "_year", "note_year")):
            cur, old = by_period.get(last.label), by_period.get(earlier.label)
            name_share = "share_previous" if suffix == "" else "share_year_before"
            name_change = "change_vs_previous" if suffix == "" else "change_vs_year_before"
            rec[name_share] = share(earlier.label)
            ch = share_change(None, None, alpha=alpha)
            if cur is None or old is None or min(cur[1], old[1]) <= 0:
                rec[note] = "non calculable : aucune attribution ou demande dans un des semestres"
            elif masked(last.label) or masked(earlier.label):
                rec[note] = NOT_COMPUTABLE_SECRET
            else:
                ch = share_change(
                    {"numerator": cur[0], "denominator": cur[1]},
                    {"numerator": old[0], "denominator": old[1]},
                    alpha=alpha,
                )
                rec[note] = ""
            rec[name_change] = ch["change"]
            rec[f"ci_low{suffix}"] = ch["ci_low"]
            rec[f"ci_high{suffix}"] = ch["ci_high"]
            rec[f"p_value{suffix}"] = ch["p_value"]
        used = {lab: v for lab, v in by_period.items() if v[1] > 0}
        labels = list(used)
        if len(used) >= 3 and any(masked(lab) for lab in labels):
            tr = semester_trend([], [], [], alpha=alpha)
            tr.update(
                n_semestres=len(used),
                premier_semestre=min(labels),
                dernier_semestre=max(labels),
                trend_conclusion=NOT_COMPUTABLE_SECRET,
            )
        else:
            tr = semester_trend(
                labels,
                [used[lab][0] for lab in labels],
                [used[lab][1] for lab in labels],
                alpha=alpha,
            )
        rec.update(tr)
        out.append(rec)
    cols = [*keys, "period", *CHANGE_COLUMNS, "dernier_semestre", "p_value_cochran_armitage"]
    frame = pd.DataFrame(out, columns=cols)
    frame["trend_p_value_adjusted"] = math.nan
    if len(frame):
        fam = list(family) if family else None
        parts = frame.groupby(fam, sort=False, dropna=False) if fam else [(None, frame)]
        for _, part in parts:
            adjust_trend_family(frame, part.index, alpha)
    return frame


def adjust_trend_family(frame: pd.DataFrame, index: pd.Index, alpha: float) -> None:
    """Benjamini–Hochberg adjustment of the trend p-values of one family, in place.

    Parameters
    ----------
    frame : DataFrame
        Columns ``trend_p_value``, ``trend_odds_ratio``,
        ``trend_p_value_adjusted`` (written) and ``trend_conclusion``
        (rewritten for the computed trends: « pas de tendance établie » when
        the adjusted p-value is not below ``alpha``).
    index : Index
        Rows of the family.
    alpha : float
        Threshold of the conclusions.

    References
    ----------
    .. [1] Benjamini, Y. and Hochberg, Y. (1995). *Journal of the Royal
       Statistical Society B* 57(1), 289–300.
    """
    from allocation_analysis.stats import adjust_pvalues

    p = frame.loc[index, "trend_p_value"].astype(float)
    if not p.notna().any():
        return
    adj = pd.Series(adjust_pvalues(p, method="fdr_bh"), index=index, dtype=float)
    frame.loc[index, "trend_p_value_adjusted"] = adj
    done = adj.notna()
    up = frame.loc[index, "trend_odds_ratio"].astype(float) > 1
    words = np.where(
        adj >= alpha,
        "pas de tendance établie",
        np.where(up, "hausse au-delà du hasard", "baisse au-delà du hasard"),
    )
    frame.loc[index[done.to_numpy()], "trend_conclusion"] = words[done.to_numpy()]


# --------------------------------------------------------------------------- legal indicators


def scope_indicator_series(
    allocations: pd.DataFrame,
    *,
    config: AnalysisConfig,
    scopes: Sequence[str] = ("territory", "commune", "bailleur", "reservataire"),
    periods: Sequence[Period | str] | None = None,
) -> pd.DataFrame:
    """Semester indicators per commune, landlord and reservataire, for every semester.

    Parameters
    ----------
    allocations : DataFrame
        Prepared allocations (all periods of the extract).
    config : AnalysisConfig
        Analysed semester (the last one), targets and ``alpha``.
    scopes : sequence of str
        Scopes of :func:`allocation_analysis.indicators.compute_indicators`.
    periods : sequence, optional
        Semesters; by default every semester holding a lease up to the
        analysed one.

    Returns
    -------
    DataFrame
        Columns of :data:`allocation_analysis.indicators.INDICATOR_COLUMNS`,
        window ``semester`` only, oldest semester first.
    """
    from allocation_analysis import indicators

    if periods is None:
        periods = [p for p in _periods_with_leases(allocations) if p <= Period.parse(config.period)]
    frames = [
        indicators.compute_indicators(
            allocations,
            period=Period.parse(p),
            config=config.with_(period=Period.parse(p)),
            windows=("semester",),
            scopes=tuple(scopes),
        )
        for p in periods
    ]
    if not frames:
        return indicators.compute_indicators(
            allocations.iloc[:0], period=config.period, config=config, windows=("semester",)
        )
    return pd.concat(frames, ignore_index=True)


def _periods_with_leases(allocations: pd.DataFrame) -> list[Period]:
    dates = pd.to_datetime(allocations["date_bail"]).dropna()
    labels = {f"{d.year}-S{1 if d.month <= 6 else 2}" for d in dates.dt.date.unique()}
    return sorted(Period.parse(x) for x in labels)


def protect_publication(
    *tables: pd.DataFrame, threshold: int, bounds: bool = True
) -> list[pd.DataFrame]:
    """Disclosure control of indicator tables published together, solved once.

    The tables of notebook 02 (the semester's indicators, the territory trend
    table, the series per commune, landlord and reservataire) share rows and
    are tied by relations across them (12 months = semester + previous
    semester; communes add up to the territory). They are protected as one
    problem: :func:`allocation_analysis.privacy.protect_indicators` on their
    union (each row once), then each table takes its rows back, so that a
    count is masked in every table holding it and no table publishes a count
    that another table's secondary suppression relies on.

    Parameters
    ----------
    *tables : DataFrame
        Indicator frames (:data:`allocation_analysis.indicators.INDICATOR_COLUMNS`).
    threshold : int
        Counts from 1 to ``threshold - 1`` are never published.

    Returns
    -------
    list of DataFrame
        The published version of each table, rows and order unchanged.
    """
    from allocation_analysis import privacy

    union, rows_of = _publication_union(tables)
    published = privacy.protect_indicators(union, threshold=threshold, bounds=bounds)
    return [published.iloc[rows].reset_index(drop=True) for rows in rows_of]


def _publication_union(
    tables: Sequence[pd.DataFrame],
) -> tuple[pd.DataFrame, list[list[int]]]:
    """The union of indicator tables (each row once) and, per table, its rows' positions in it."""
    keys = ["id", "scope", "scope_value", "window", "period"]

    def key_frame(df: pd.DataFrame) -> pd.DataFrame:
        k = df[keys].astype(object)
        k["scope_value"] = k["scope_value"].where(df["scope_value"].notna(), "")
        return k.astype(str)

    union = pd.concat(tables, ignore_index=True)
    first = ~key_frame(union).duplicated()
    union = union[first.to_numpy()].reset_index(drop=True)
    lookup = dict(zip(map(tuple, key_frame(union).to_numpy()), range(len(union)), strict=True))
    return union, [[lookup[k] for k in map(tuple, key_frame(t).to_numpy())] for t in tables]


def release_publication_statuses(
    raw: Sequence[pd.DataFrame],
    published: Sequence[pd.DataFrame],
    *,
    threshold: int,
    period: str,
) -> list[pd.DataFrame]:
    """Say whether the objective is met where the secret masks a share of ``period``.

    :func:`allocation_analysis.privacy.release_masked_statuses` on the union
    of the tables published together (the same union as
    :func:`protect_publication`, so the audit sees every relation between
    them): the rows of the analysed semester whose numerator is masked but
    whose denominator is published get ``status`` ``atteint`` or
    ``non_atteint`` when no count can be recovered from it; the territory
    rows, read on the synthesis page, say how far below the target
    (:data:`allocation_analysis.indicators.SHORTFALL_BANDS`) when that too is
    safe.

    Parameters
    ----------
    raw, published : sequences of DataFrame
        The tables before and after :func:`protect_publication`, same order.
    threshold : int
        Secret threshold.
    period : str
        The analysed semester (``2025-S2``): only its rows are released.

    Returns
    -------
    list of DataFrame
        ``published`` with the released statuses.
    """
    from allocation_analysis import privacy

    union_raw, rows_of = _publication_union(raw)
    union_pub = pd.concat([p.set_axis(r) for p, r in zip(published, rows_of, strict=True)])
    union_pub = union_pub[~union_pub.index.duplicated()].sort_index()
    from allocation_analysis.indicators import SHORTFALL_BANDS

    released = privacy.release_masked_statuses(
        union_raw,
        union_pub,
        threshold=threshold,
        eligible=(union_raw["period"].astype(str) == str(period)).to_numpy(),
        bands=SHORTFALL_BANDS,
        banded=(union_raw["scope"] == "territory").to_numpy(),
    )
    out = []
    for p, rows in zip(published, rows_of, strict=True):
        status = released.iloc[rows].to_numpy()
        q = p.copy()
        q["status"] = q["status"].astype("string").where(pd.isna(status), status)
        out.append(q)
    return out


SERIES_SCOPES: tuple[str, ...] = ("commune", "bailleur", "reservataire")
"""Breakdowns followed over the semesters, in the order they are given up (last first)."""


def publish_indicator_tables(
    allocations: pd.DataFrame,
    *,
    config: AnalysisConfig,
    scopes: Sequence[str] = SERIES_SCOPES,
) -> dict[str, Any]:
    """The indicator tables of notebook 02 and their statistical secret, as one publication.

    The semester's indicators, the territory trend table and the semester
    series per breakdown (``scopes``) are protected together
    (:func:`protect_publication`). The past semesters of a breakdown add
    relations (12 months − semester of the indicators table; breakdown =
    territory), and the secondary suppression they call for can reach a
    count of the territory. The territory's obligations come first: when the
    series would mask a territory count that the indicators and trend tables
    publish on their own, the last breakdown of ``scopes`` is left out of the
    series and the publication solved again, until no territory count is
    lost; the breakdowns left out are named (``omitted``) for the report.

    Parameters
    ----------
    allocations : DataFrame
        Prepared allocations (all periods).
    config : AnalysisConfig
        Analysed semester, targets, ``alpha`` and ``secret_threshold``.
    scopes : sequence of str
        Breakdowns of the series, most wanted first.

    Returns
    -------
    dict
        ``indicators``, ``trend`` and ``series`` (raw frames), their
        published versions ``indicators_published``, ``trend_published`` and
        ``series_published``, and ``omitted`` (tuple of the breakdowns left
        out).
    """
    from allocation_analysis import indicators

    thr = config.secret_threshold
    ind = indicators.compute_indicators(allocations, period=config.period, config=config)
    trend = indicators.trend_table(allocations, config=config)

    def territory_hidden(frame: pd.DataFrame) -> set[tuple]:
        t = frame[frame["scope"] == "territory"]
        hid = t[["numerator", "denominator"]].isna().any(axis=1)
        return set(map(tuple, t.loc[hid, ["id", "window", "period"]].astype(str).to_numpy()))

    base_ind, base_trend = protect_publication(ind, trend, threshold=thr, bounds=False)
    reference = territory_hidden(base_ind) | territory_hidden(base_trend)
    kept = list(scopes)
    omitted: list[str] = []
    # Trial solves without the (slower) bounds check choose the breakdowns; the
    # publication chosen is then solved once more, in full, and checked again.
    bounds = False
    while True:
        series = scope_indicator_series(allocations, config=config, scopes=("territory", *kept))
        # with the territory rows only, the series repeats rows of the trend table
        pub_ind, pub_trend, pub_series = protect_publication(
            ind, trend, series, threshold=thr, bounds=bounds
        )
        lost = (territory_hidden(pub_ind) | territory_hidden(pub_trend)) - reference
        if not lost or not kept:
            if bounds:
                break
            bounds = True
            continue
        omitted.insert(0, kept.pop())
        logger.warning(
            "Évolutions %s non publiées : leur secret statistique masquerait un effectif "
            "du territoire.",
            label(omitted[0], "scope"),
        )
    pub_ind, pub_trend, pub_series = release_publication_statuses(
        (ind, trend, series), (pub_ind, pub_trend, pub_series), threshold=thr, period=config.period
    )
    return {
        "indicators": ind,
        "trend": trend,
        "series": series,
        "indicators_published": pub_ind,
        "trend_published": pub_trend,
        "series_published": pub_series,
        "omitted": tuple(omitted),
    }


def omitted_scopes_fr(omitted: Sequence[str]) -> str:
    """A French note naming the breakdowns left out of the series, or "" when none is."""
    if not omitted:
        return ""
    names = " et ".join(label(s, "scope") for s in omitted)
    text = (
        f"Les évolutions {names} ne sont pas publiées pour ce semestre : le secret "
        "statistique de leurs semestres passés aurait obligé à masquer un effectif du "
        "territoire."
    )
    if "reservataire" in omitted:
        text += (
            " L'obligation de chaque réservataire (attributions aux ménages prioritaires "
            "ou DALO) reste suivie au niveau du territoire."
        )
    return text


def indicator_changes(
    raw: pd.DataFrame,
    published: pd.DataFrame,
    *,
    config: AnalysisConfig,
) -> pd.DataFrame:
    """Change and trend of every legal indicator, per scope value, over the semesters.

    Parameters
    ----------
    raw : DataFrame
        :func:`allocation_analysis.indicators.trend_table` or
        :func:`scope_indicator_series` (true counts); only ``semester`` rows
        are used.
    published : DataFrame
        The same after disclosure control.
    config : AnalysisConfig
        Analysed semester and ``alpha``.

    Returns
    -------
    DataFrame
        :func:`changes_and_trends` with keys ``id``, ``scope``, ``scope_value``:
        trend p-values adjusted per indicator and scope (the territory
        obligations are one family).
    """

    def sem(df: pd.DataFrame) -> pd.DataFrame:
        d = df[df["window"] == "semester"].copy()
        d["scope_value"] = d["scope_value"].astype(object).where(d["scope_value"].notna(), "")
        return d

    keys = ["id", "scope", "scope_value"]
    out = changes_and_trends(
        sem(raw),
        sem(published),
        keys=keys,
        last=config.period,
        alpha=config.alpha,
        family=["scope"],
    )
    if len(out):
        # per-scope tables: one family per indicator within the scope
        for _, part in out[out["scope"] != "territory"].groupby(["scope", "id"], sort=False):
            adjust_trend_family(out, part.index, config.alpha)
    return out


# --------------------------------------------------------------------------- access rates


def access_rate_series(
    demandes: pd.DataFrame,
    *,
    config: AnalysisConfig,
    periods: Sequence[Period | str],
) -> pd.DataFrame:
    """Access rate of each origin and residence group, semester by semester.

    Parameters
    ----------
    demandes : DataFrame
        Prepared demands (:func:`allocation_analysis.derive.prepare_demandes`).
    config : AnalysisConfig
        Used for nothing but the analysed semester (periods after it are
        dropped).
    periods : sequence of Period or str
        The semesters (e.g. those holding a lease).

    Returns
    -------
    DataFrame
        ``axis`` (``origin`` / ``residence``), ``group``, ``period``,
        ``numerator`` (demands active in the semester with a lease signed in
        it), ``denominator`` (demands active in the semester), the definition
        of :func:`allocation_analysis.derive.access_frame`.
    """
    from allocation_analysis import derive
    from allocation_analysis.analysis import GROUPINGS

    rows = []
    for p in sorted(Period.parse(x) for x in periods):
        if p > Period.parse(config.period):
            continue
        acc = derive.access_frame(demandes, p)
        for g in GROUPINGS:
            act = acc.groupby(g.column, observed=True).size()
            got = acc.groupby(g.column, observed=True)["access"].sum()
            for level in (g.reference, *g.compared):
                rows.append(
                    {
                        "axis": g.key,
                        "group": level,
                        "period": p.label,
                        "numerator": int(got.get(level, 0)),
                        "denominator": int(act.get(level, 0)),
                    }
                )
    out = pd.DataFrame(rows, columns=["axis", "group", "period", "numerator", "denominator"])
    return out.astype({"numerator": "int64", "denominator": "int64"})


def protect_access_rates(series: pd.DataFrame, *, threshold: int) -> pd.DataFrame:
    """Statistical secret of the access-rate series.

    Each row is one relation (demands = with a lease + without); the groups
    of an axis in a semester add up to the axis's total. Counts from 1 to
    ``threshold - 1`` are masked, and whenever a relation has exactly one
    masked cell the smallest other positive cell is masked too, until no
    relation has a single unknown.

    Returns
    -------
    DataFrame
        A copy with ``numerator`` and ``denominator`` as ``Float64`` (masked:
        ``<NA>``) and ``share`` (NaN when masked or when the denominator is 0).
    """
    out = series.reset_index(drop=True).copy()
    num = pd.to_numeric(out["numerator"]).to_numpy(float)
    den = pd.to_numeric(out["denominator"]).to_numpy(float)
    vals = np.column_stack([den, num, den - num])  # total, with, without
    hide = (vals >= 1) & (vals <= threshold - 1)

    def second(cells: list[tuple[int, int]]) -> bool:
        hidden = [c for c in cells if hide[c]]
        if len(hidden) != 1:
            return False
        cand = [c for c in cells if not hide[c] and vals[c] > 0]
        if not cand:
            return False
        hide[min(cand, key=lambda c: (vals[c], c))] = True
        return True

    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            changed |= second([(i, 0), (i, 1), (i, 2)])
        for _, part in out.groupby(["axis", "period"], sort=False):
            for col in range(3):
                changed |= second([(i, col) for i in part.index])
    masked = hide.any(axis=1)
    out["numerator"] = pd.array(num, dtype="Float64")
    out["denominator"] = pd.array(den, dtype="Float64")
    out.loc[hide[:, 1] | hide[:, 2], "numerator"] = pd.NA
    out.loc[hide[:, 0], "denominator"] = pd.NA
    out["suppressed"] = masked
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    out["share"] = np.where(masked, np.nan, share)
    return out


def access_changes(
    raw: pd.DataFrame, published: pd.DataFrame, *, config: AnalysisConfig
) -> pd.DataFrame:
    """:func:`changes_and_trends` of the access rates (keys ``axis``, ``group``).

    Trend p-values are adjusted per axis (origin: three groups; residence: two).
    """
    return changes_and_trends(
        raw,
        published,
        keys=["axis", "group"],
        last=config.period,
        alpha=config.alpha,
        family=["axis"],
    )


def access_rate_trend_frame(published: pd.DataFrame) -> pd.DataFrame:
    """Published access rates in the long form of :func:`allocation_analysis.figures.trend_plot`.

    Returns
    -------
    DataFrame
        ``id`` (the axis, ``acces_origin`` / ``acces_residence``), ``scope_value``
        (the group), ``period``, ``share``, ``ci_low``, ``ci_high`` (Wilson),
        ``denominator``.
    """
    from allocation_analysis.indicators import wilson_interval

    d = published.copy()
    lo, hi = [], []
    for k, n, masked in zip(d["numerator"], d["denominator"], d["suppressed"], strict=True):
        if masked or pd.isna(k) or pd.isna(n) or n <= 0:
            lo.append(math.nan)
            hi.append(math.nan)
        else:
            a, b = wilson_interval(int(k), int(n))
            lo.append(float(a))
            hi.append(float(b))
    d["ci_low"], d["ci_high"] = lo, hi
    return d


# --------------------------------------------------------------------------- report

FIGURE_NOTES_FR: dict[str, tuple[str, str]] = {
    "indicators": (
        "Champ : baux signés dans chaque semestre sur le territoire ; part de chaque "
        "obligation légale (art. L441-1 du CCH).",
        "Lecture : chaque point est la part du semestre, la bande autour son intervalle "
        "de confiance à 95 % ; la ligne pointillée est l'objectif, tracée une fois par "
        "valeur. Un semestre sous le secret statistique n'est pas tracé.",
    ),
    "access": (
        "Champ : demandes actives à un moment du semestre (déposées avant sa fin, ni "
        "radiées ni satisfaites avant son début), par nationalité et par résidence en QPV.",
        "Lecture : chaque point est la part des demandes actives du groupe qui ont obtenu "
        "un logement dans le semestre, la bande autour son intervalle de confiance à 95 % "
        "(Wilson) ; le groupe de référence est en noir.",
    ),
}
"""« Champ » and « Lecture » lines of the two trend figures."""


def figure_notes_fr(kind: str, source: str | None) -> str:
    """The lines under a trend figure: « Champ », « Lecture », then the source.

    Parameters
    ----------
    kind : {"indicators", "access"}
        The figure.
    source : str or None
        Source line of the run (``Session.source``).

    Returns
    -------
    str
    """
    from allocation_analysis.labels import wrap_label

    champ, lecture = FIGURE_NOTES_FR[kind]
    return "\n".join(
        [wrap_label(champ, 130), wrap_label(lecture, 130), *([source] if source else [])]
    )


def trend_entries(*frames: pd.DataFrame) -> list[dict[str, Any]]:
    """Entries of ``results.json`` → ``trend`` (``docs/methods.md`` §9).

    Parameters
    ----------
    *frames : DataFrame
        :func:`indicator_changes` and :func:`access_changes` results.

    Returns
    -------
    list of dict
        ``id`` (indicator id, or ``acces_<group>`` for an access rate),
        ``scope`` (``territory``, ``commune``, ``bailleur``, ``reservataire``,
        ``origin``, ``residence``), ``scope_value`` (the commune, landlord,
        reservataire; ``None`` for the territory and the access rates),
        ``period``, ``change_vs_previous``, ``ci_low``, ``ci_high``,
        ``p_value``, ``change_vs_year_before``, ``ci_low_year``,
        ``ci_high_year``, ``p_value_year``, ``trend_slope`` (log odds ratio per
        semester), ``trend_odds_ratio``, ``trend_ci_low``, ``trend_ci_high``,
        ``trend_p_value``, ``trend_p_value_adjusted``, ``n_semestres``,
        ``conclusion`` (French, about the trend); and, as the territory entries
        of earlier versions had them, ``premier_semestre``,
        ``dernier_semestre``, ``rapport_cotes_par_semestre`` (=
        ``trend_odds_ratio``) and ``p_value_cochran_armitage``. Missing values
        are ``None``.
    """

    def num(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    out = []
    for frame in frames:
        for r in frame.to_dict("records"):
            if "axis" in r:
                ident, scope, value = f"acces_{r['group']}", r["axis"], None
            else:
                ident, scope = r["id"], r["scope"]
                value = r["scope_value"] if r["scope_value"] not in ("", None) else None
            out.append(
                {
                    "id": ident,
                    "scope": scope,
                    "scope_value": value,
                    "period": r["period"],
                    "change_vs_previous": num(r["change_vs_previous"]),
                    "ci_low": num(r["ci_low"]),
                    "ci_high": num(r["ci_high"]),
                    "p_value": num(r["p_value"]),
                    "change_vs_year_before": num(r["change_vs_year_before"]),
                    "ci_low_year": num(r["ci_low_year"]),
                    "ci_high_year": num(r["ci_high_year"]),
                    "p_value_year": num(r["p_value_year"]),
                    "trend_slope": num(r["trend_slope"]),
                    "trend_odds_ratio": num(r["trend_odds_ratio"]),
                    "trend_ci_low": num(r["trend_ci_low"]),
                    "trend_ci_high": num(r["trend_ci_high"]),
                    "trend_p_value": num(r["trend_p_value"]),
                    "trend_p_value_adjusted": num(r["trend_p_value_adjusted"]),
                    "n_semestres": int(r["n_semestres"]),
                    "premier_semestre": r["premier_semestre"],
                    "dernier_semestre": r["dernier_semestre"],
                    "rapport_cotes_par_semestre": num(r["trend_odds_ratio"]),
                    "p_value_cochran_armitage": num(r["p_value_cochran_armitage"]),
                    "conclusion": r["trend_conclusion"],
                }
            )
    return out


def _change_cell(change: float, lo: float, hi: float, p: float, note: str) -> str:
    from allocation_analysis.text import fmt_float, fmt_p

    if pd.isna(change):
        return note.replace("non calculable : ", "non calculable (") + ")" if note else "—"
    sign = "+" if change > 0 else ""
    return (
        f"{sign}{fmt_float(100 * change, digits=1)} pt "
        f"({fmt_float(100 * lo, digits=1)} à {fmt_float(100 * hi, digits=1)} ; {fmt_p(p)})"
    )


def changes_display(
    table: pd.DataFrame,
    *,
    names: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    computed_only: bool = False,
) -> pd.DataFrame:
    """A French view of :func:`indicator_changes` or :func:`access_changes`.

    Parameters
    ----------
    table : DataFrame
        One of the two results.
    names : mapping, optional
        Display names of the scope values (commune INSEE code → name).
    alpha : float
        Level of the intervals (named in the column headers).
    computed_only : bool
        Keep only the rows where a change or the trend is computed (the
        report's view of the long per-commune table; the workbook holds all).

    Returns
    -------
    DataFrame
        Columns « Indicateur » or « Groupe », « Périmètre » (indicators),
        « Part », « Évolution sur un semestre (IC) », « Évolution sur un an
        (IC) », « Tendance (rapport de cotes par semestre) », « p ajustée
        (tendance) », « Conclusion ».
    """
    from allocation_analysis.labels import label
    from allocation_analysis.text import MISSING, fmt_float, fmt_p, fmt_pct

    level = f"IC {fmt_float(100 * (1 - alpha), digits=0)} %"
    if computed_only:
        cols = ["change_vs_previous", "change_vs_year_before", "trend_p_value"]
        table = table[table[cols].notna().any(axis=1)]
    rows = []
    for r in table.to_dict("records"):
        row: dict[str, str] = {}
        if "axis" in r:
            row["Groupe"] = label(r["group"])
        else:
            row["Indicateur"] = label(r["id"], "indicator")
            value = r["scope_value"]
            if r["scope"] == "territory":
                row["Périmètre"] = "territoire"
            elif r["scope"] == "reservataire":
                row["Périmètre"] = label(value, "reservataire")
            else:
                row["Périmètre"] = (names or {}).get(value, str(value))
        ok = not pd.isna(r["trend_p_value"])
        row.update(
            {
                "Part": fmt_pct(r["share"]),
                f"Évolution sur un semestre ({level})": _change_cell(
                    r["change_vs_previous"],
                    r["ci_low"],
                    r["ci_high"],
                    r["p_value"],
                    r["note_previous"],
                ),
                f"Évolution sur un an ({level})": _change_cell(
                    r["change_vs_year_before"],
                    r["ci_low_year"],
                    r["ci_high_year"],
                    r["p_value_year"],
                    r["note_year"],
                ),
                "Tendance (rapport de cotes par semestre)": (
                    f"{fmt_float(r['trend_odds_ratio'], digits=3)} "
                    f"({fmt_float(r['trend_ci_low'], digits=3)} – "
                    f"{fmt_float(r['trend_ci_high'], digits=3)})"
                    if ok
                    else MISSING
                ),
                "p ajustée (tendance)": fmt_p(r["trend_p_value_adjusted"]) if ok else MISSING,
                "Conclusion": r["trend_conclusion"],
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def changes_summary_fr(table: pd.DataFrame) -> str:
    """How many changes of a per-scope table are computed, and why the others are not.

    Parameters
    ----------
    table : DataFrame
        :func:`indicator_changes` rows (one scope or several).

    Returns
    -------
    str
        E.g. « 450 séries (obligation × périmètre) : 12 évolutions sur un semestre
        calculées ; non calculables : 320 (effectif d'un semestre sous le secret
        statistique), 118 (aucune attribution ou demande dans un des semestres). »
    """
    from allocation_analysis.text import fmt_int

    n = len(table)
    if n == 0:
        return "Aucune série à suivre."
    done = int(table["change_vs_previous"].notna().sum())
    trends = int(table["trend_p_value"].notna().sum())
    reasons = table.loc[table["change_vs_previous"].isna(), "note_previous"].fillna("")
    counts = reasons[reasons != ""].str.replace("non calculable : ", "", regex=False)
    why = " ; ".join(f"{fmt_int(k)} ({r})" for r, k in counts.value_counts().items())
    text = (
        f"{fmt_int(n)} séries (obligation × périmètre) : {fmt_int(done)} évolution(s) sur un "
        f"semestre et {fmt_int(trends)} tendance(s) calculée(s)"
    )
    return text + (f" ; évolutions non calculables : {why}." if why else ".")


def access_sentence_fr(table: pd.DataFrame, *, alpha: float) -> str:
    """One sentence on the access-rate changes beyond chance, or "" when there is none.

    Parameters
    ----------
    table : DataFrame
        :func:`access_changes`.
    alpha : float
        Threshold of the unadjusted change tests (descriptive) and of the
        adjusted trend tests.

    Returns
    -------
    str
        E.g. « Taux d'accès en évolution au-delà du hasard : ménages de
        nationalité hors UE, −2,1 points sur un semestre (…) ».
    """
    from allocation_analysis.labels import label
    from allocation_analysis.text import fmt_float, fmt_pct

    parts = []
    for r in table.to_dict("records"):
        bits = []
        for col, p_col, words in (
            ("change_vs_previous", "p_value", "sur un semestre"),
            ("change_vs_year_before", "p_value_year", "sur un an"),
        ):
            ch, p = r[col], r[p_col]
            if not pd.isna(ch) and not pd.isna(p) and p < alpha:
                sign = "+" if ch > 0 else "−"
                bits.append(f"{sign}{fmt_float(abs(100 * ch), digits=1)} points {words}")
        adj = r["trend_p_value_adjusted"]
        if not pd.isna(adj) and adj < alpha:
            bits.append(f"{r['trend_conclusion']} sur les semestres des données")
        if bits:
            parts.append(f"{label(r['group'])} ({fmt_pct(r['share'])}) : {', '.join(bits)}")
    if not parts:
        return ""
    return "Taux d'accès en évolution au-delà du hasard — " + " ; ".join(parts) + "."

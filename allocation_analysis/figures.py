"""Static figures (matplotlib) for the printed report: maps, funnel, forest, survival, trends.

Every function draws frames computed elsewhere and returns a
:class:`matplotlib.figure.Figure`; :func:`save_figure` writes it as a 300 dpi PNG.
Labels are in French with French number formatting (``24,8 %``, decimal comma);
palettes are colour-blind-safe (Okabe–Ito for categories, ColorBrewer PuOr for
diverging choropleths, the same classes as the interactive maps).

References
----------
.. [1] Okabe, M. & Ito, K. (2008). *Color Universal Design (CUD): how to make
   figures and presentations that are friendly to colorblind people.*
.. [2] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
   performance. *Statistics in Medicine*, 24(8), 1185-1202.
.. [3] Lewis, S. & Clarke, M. (2001). Forest plots: trying to see the wood and
   the trees. *BMJ*, 322(7300), 1479-1480.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: must precede pyplot

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # noqa: E402

from allocation_analysis.errors import UsageError  # noqa: E402
from allocation_analysis.labels import (  # noqa: E402
    GROUP_FR,
    UnknownCodeError,
    label,
    test_label,
    wrap_label,
)
from allocation_analysis.maps import (  # noqa: E402
    DEFAULT_SOURCE,
    MIN_PUBLISHABLE_SHARE,
    NO_DATA_LABEL,
    NOT_PUBLISHABLE_TITLE,
    STATUS_MAP_NOTE,
    SUPPRESSED_LABEL,
    TENSION_CHAMP_FR,
    TENSION_LECTURE_FR,
    _not_publishable_detail,
    _period_label_of,
    _publishable,
    _require_columns,
    _select_indicator,
    _subtitle,
    diverging_classes,
    indicator_layer,
    status_classes,
    tension_classes,
    tension_shown_rows,
)
from allocation_analysis.narrative import fmt_level_fr  # noqa: E402
from allocation_analysis.stats._result import TestResult  # noqa: E402
from allocation_analysis.text import fmt_float, fmt_int, fmt_pct  # noqa: E402

__all__ = [
    "OKABE_ITO",
    "decimal_formatter",
    "forest_plot",
    "funnel_plot",
    "indicator_choropleth",
    "km_plot",
    "percent_formatter",
    "process_funnel_plot",
    "save_figure",
    "tension_choropleth",
    "trend_plot",
    "access_rate_trend_plot",
]

logger = logging.getLogger(__name__)

#: Okabe–Ito qualitative palette (black omitted), safe for colour-vision deficiencies.
OKABE_ITO: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#F0E442",
)
_HATCH_FACE = "#d9d9d9"
_HATCH_EDGE = "#636363"
_TARGET_COLOUR = "#333333"


# --------------------------------------------------------------------------- formatters
def percent_formatter(decimals: int = 1) -> FuncFormatter:
    """Axis formatter for shares in [0, 1]: ``0.248`` → ``"24,8 %"``.

    Parameters
    ----------
    decimals : int
        Decimals after the comma.

    Returns
    -------
    matplotlib.ticker.FuncFormatter
    """
    return FuncFormatter(lambda x, _pos=None: fmt_pct(x, digits=decimals))


def decimal_formatter(decimals: int = 1) -> FuncFormatter:
    """Axis formatter with a decimal comma: ``1.5`` → ``"1,5"``, ``-2`` → ``"−2,0"``."""
    return FuncFormatter(lambda x, _pos=None: fmt_float(x, digits=decimals))


def _new_figure(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    return fig, ax


def _title(ax: Axes, title: str, subtitle: str = "") -> None:
    ax.set_title(f"{title}\n{subtitle}" if subtitle else title)


def _code_label(code: object, kind: str) -> str:
    """Catalogue label of ``code``; an unknown code is kept, with a warning."""
    try:
        return label(code, kind)
    except UnknownCodeError:
        logger.warning("code sans libellé dans le catalogue : %s", code)
        return str(code)


def _not_publishable_figure(
    title: str,
    subtitle: str,
    reason: str,
    n_shown: int,
    n_data: int,
    source: str | None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> Figure:
    """A figure holding only the « carte non publiable » notice."""
    fig, ax = _new_figure((8.0, 3.0))
    ax.set_axis_off()
    _title(ax, title, subtitle)
    detail = wrap_label(
        _not_publishable_detail(n_shown, n_data, min_publishable_share or MIN_PUBLISHABLE_SHARE),
        80,
    )
    ax.text(
        0.5,
        0.5,
        f"{NOT_PUBLISHABLE_TITLE} : {reason}\n{detail}",
        ha="center",
        va="center",
        fontsize=11,
        wrap=True,
        bbox={"boxstyle": "round,pad=0.8", "facecolor": "white", "edgecolor": "#b35806"},
        transform=ax.transAxes,
    )
    _source(fig, source)
    return fig


def _source(fig: Figure, source: str | None) -> None:
    if source:
        # supxlabel takes part in the constrained layout, so it never overlaps the axes.
        fig.supxlabel(source, x=0.01, ha="left", fontsize=7, color="#444444")


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 300) -> Path:
    """Write ``fig`` as a PNG (300 dpi by default); parent folders are created.

    Parameters
    ----------
    fig : Figure
        Figure returned by a function of this module.
    path : str or Path
        Output file.
    dpi : int
        Resolution.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # tight bounding box: long French titles and outside legends are never clipped
    fig.savefig(
        path,
        dpi=dpi,
        format="png",
        metadata={"Software": None},
        bbox_inches="tight",
        pad_inches=0.15,
    )
    logger.info("figure écrite : %s", path)
    return path


# --------------------------------------------------------------------------- choropleths
def _plot_choropleth(
    ax: Axes,
    communes: gpd.GeoDataFrame,
    values: pd.Series,
    hidden: pd.Series,
    present: pd.Series,
    classes,
    *,
    outline: pd.Series | None = None,
    qpv: gpd.GeoDataFrame | None = None,
    centre_label: str | None = None,
) -> list:
    geo = communes.to_crs(2154)
    handles = []
    shown = present & ~hidden
    colours = [classes.colour(v) for v in values[shown]]
    if shown.any():
        geo[shown.to_numpy()].plot(ax=ax, color=colours, edgecolor="#555555", linewidth=0.3)
    if hidden.any():
        geo[hidden.to_numpy()].plot(
            ax=ax, facecolor=_HATCH_FACE, edgecolor=_HATCH_EDGE, hatch="////", linewidth=0.3
        )
    if (~present).any():
        geo[(~present).to_numpy()].plot(
            ax=ax, facecolor="white", edgecolor="#999999", linewidth=0.3
        )
    if outline is not None and outline.any():
        geo[outline.to_numpy()].plot(ax=ax, facecolor="none", edgecolor="black", linewidth=2.2)
    items = list(zip(reversed(classes.colours), reversed(classes.labels), strict=True))
    for k, (colour, text) in enumerate(items):
        if centre_label and k == len(items) // 2:
            handles.append(Line2D([], [], color="none", label=centre_label))
        handles.append(Patch(facecolor=colour, edgecolor="#555555", label=text))
    if hidden.any():
        handles.append(
            Patch(
                facecolor=_HATCH_FACE, edgecolor=_HATCH_EDGE, hatch="////", label=SUPPRESSED_LABEL
            )
        )
    if (~present).any():
        handles.append(Patch(facecolor="white", edgecolor="#999999", label=NO_DATA_LABEL))
    if qpv is not None and len(qpv):
        qpv.to_crs(2154).boundary.plot(ax=ax, color="black", linewidth=0.7, linestyle="--")
        handles.append(
            Line2D([], [], color="black", linewidth=0.7, ls="--", label="périmètre QPV (tirets)")
        )
    ax.set_axis_off()
    ax.set_aspect("equal")
    return handles


def indicator_choropleth(
    communes: gpd.GeoDataFrame,
    indicators: pd.DataFrame,
    *,
    indicator_id: str,
    window: str = "semester",
    period: str | None = None,
    qpv: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    source: str = DEFAULT_SOURCE,
    min_denominator: int | None = None,
    period_label: str | None = None,
    territory_label: str | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> Figure:
    """Static counterpart of :func:`allocation_analysis.maps.indicator_map`.

    Same classes and colours (ColorBrewer PuOr centred on the target), suppressed or
    insufficient communes hatched grey, QPV perimeters dashed, and the same
    publishability rule (:data:`allocation_analysis.maps.MIN_PUBLISHABLE_SHARE`):
    below it the figure only says « Carte non publiable ».

    Parameters
    ----------
    communes : GeoDataFrame
        Columns ``insee_com``, ``nom``, ``geometry``.
    indicators : DataFrame
        Indicator frame (see :func:`allocation_analysis.maps.indicator_map`).
    indicator_id, window, period : str
        Selection of the rows drawn.
    qpv : GeoDataFrame, optional
        QPV perimeters.
    title : str, optional
        Figure title (default: the French title of the indicator).
    source : str
        Source line at the bottom.
    min_denominator : int, optional
        Denominators below this value are shown as insufficient.
    period_label, territory_label : str, optional
        Period (default: from the rows' ``period``) and territory under the title.
    min_publishable_share : float
        Publishability rule.

    Returns
    -------
    Figure

    References
    ----------
    .. [1] Brewer, C. A., Hatchard, G. W. & Harrower, M. A. (2003). ColorBrewer in
       print. *Cartography and Geographic Information Science*, 30(1), 5-32.
    """
    rows = _select_indicator(indicators, indicator_id=indicator_id, window=window, period=period)
    target = float(pd.to_numeric(rows["target"], errors="coerce").dropna().iloc[0])
    _require_columns(communes, ["insee_com", "nom", "geometry"], argument="communes")
    geo = communes[["insee_com", "nom", "geometry"]].copy()
    geo["insee_com"] = geo["insee_com"].astype(str)
    merged = geo.merge(rows, how="left", left_on="insee_com", right_on="scope_value")
    layer = indicator_layer(
        merged, min_denominator=min_denominator, min_publishable_share=min_publishable_share
    )
    present, hidden = layer.has_row, layer.hidden
    by_status = layer.mode == "status"
    title = wrap_label(title or label(indicator_id, "indicator"), 72)
    window_text = label(window, "window") if window != "semester" else None
    subtitle = _subtitle(
        period_label=_period_label_of(rows, period_label),
        territory_label=territory_label,
        extra=", ".join(
            x for x in (window_text, "objectif atteint ou non" if by_status else None) if x
        )
        or None,
    )
    if layer.mode is None:
        return _not_publishable_figure(
            title,
            subtitle,
            "trop peu d'attributions par commune sur la période",
            layer.n_shown,
            layer.n_data,
            source,
            min_publishable_share,
        )
    target_text = fmt_pct(target, digits=0)
    if by_status:
        classes = status_classes(target_text)
    else:
        classes = diverging_classes(layer.values[present & ~hidden], centre=target, fmt=fmt_pct)
    fig, ax = _new_figure((8.0, 7.0))
    handles = _plot_choropleth(
        ax,
        merged,
        layer.values,
        hidden,
        present,
        classes,
        qpv=qpv,
        centre_label=None if by_status else f"— objectif : {target_text} —",
    )
    ax.legend(
        handles=handles,
        title=f"Objectif ({target_text}) atteint ou non"
        if by_status
        else f"Part (objectif : {target_text})",
        loc="lower left",
        bbox_to_anchor=(1.0, 0.0),
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
    _title(ax, title, subtitle)
    _source(fig, "\n".join([wrap_label(STATUS_MAP_NOTE, 130), source]) if by_status else source)
    return fig


def tension_choropleth(
    communes: gpd.GeoDataFrame,
    tension: pd.DataFrame,
    *,
    qpv: gpd.GeoDataFrame | None = None,
    title: str = "Tension de la demande par commune",
    source: str = DEFAULT_SOURCE,
    period_label: str | None = None,
    territory_label: str | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> Figure:
    """Static counterpart of :func:`allocation_analysis.maps.tension_map`.

    Same classes, colours, hatching of unpublished communes and publishability
    rule; the « Champ » and « Lecture » lines above the source line.

    Parameters
    ----------
    communes : GeoDataFrame
        Columns ``insee_com``, ``nom``, ``geometry``.
    tension : DataFrame
        :func:`allocation_analysis.pressure.tension_map_frame`.
    qpv : GeoDataFrame, optional
        QPV perimeters.
    title, source : str
        Title and source line.
    period_label, territory_label : str, optional
        Shown under the title.
    min_publishable_share : float
        Publishability rule.

    Returns
    -------
    Figure

    References
    ----------
    .. [1] Brewer, C. A., Hatchard, G. W. & Harrower, M. A. (2003). ColorBrewer in
       print. *Cartography and Geographic Information Science*, 30(1), 5-32.
    """
    geo = communes[["insee_com", "nom", "geometry"]].copy()
    geo["insee_com"] = geo["insee_com"].astype(str)
    merged, present, hidden = tension_shown_rows(geo, tension)
    subtitle = _subtitle(period_label=period_label, territory_label=territory_label)
    footer = "\n".join(
        [wrap_label(TENSION_CHAMP_FR, 130), wrap_label(TENSION_LECTURE_FR, 130), source]
    )
    ok, n_shown, n_data = _publishable(present, hidden, min_publishable_share)
    if not ok:
        return _not_publishable_figure(
            title,
            subtitle,
            "trop peu de demandes ou d'attributions par commune",
            n_shown,
            n_data,
            footer,
            min_publishable_share,
        )
    ratio = pd.to_numeric(merged["ratio"], errors="coerce").astype(float)
    fig, ax = _new_figure((8.0, 7.5))
    handles = _plot_choropleth(ax, merged, ratio, hidden, present, tension_classes(), qpv=qpv)
    ax.legend(
        handles=handles,
        title="Demandes en attente\npar attribution",
        loc="lower left",
        bbox_to_anchor=(1.0, 0.0),
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
    _title(ax, title, subtitle)
    _source(fig, footer)
    return fig


def funnel_plot(
    points: pd.DataFrame,
    limits: pd.DataFrame,
    *,
    target: float,
    title: str,
    label: str = "scope_value",
    annotate: bool = True,
    source: str | None = DEFAULT_SOURCE,
) -> Figure:
    """Funnel plot of shares against their denominator around a target.

    The control limits are given (computed by the statistics module); this
    function only draws them [2]_.

    Parameters
    ----------
    points : DataFrame
        Columns ``scope_value, denominator, share``.
    limits : DataFrame
        Columns ``denominator, lower_95, upper_95, lower_998, upper_998``.
    target : float
        Target share (horizontal line).
    title : str
        Figure title.
    label : str
        Column naming each point (annotated when outside the 99,8 % limits).
    annotate : bool
        Annotate the points outside the 99,8 % limits.
    source : str, optional
        Source line.

    Returns
    -------
    Figure

    References
    ----------
    .. [2] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
       performance. *Statistics in Medicine*, 24(8), 1185-1202.
    """
    _require_columns(points, ["scope_value", "denominator", "share"], argument="points")
    _require_columns(
        limits,
        ["denominator", "lower_95", "upper_95", "lower_998", "upper_998"],
        argument="limits",
    )
    lim = limits.sort_values("denominator")
    fig, ax = _new_figure((7.5, 5.0))
    ax.plot(
        lim["denominator"], lim["lower_95"], color="#0072B2", ls="--", lw=1, label="limites à 95 %"
    )
    ax.plot(lim["denominator"], lim["upper_95"], color="#0072B2", ls="--", lw=1)
    ax.plot(
        lim["denominator"],
        lim["lower_998"],
        color="#D55E00",
        ls=":",
        lw=1.2,
        label="limites à 99,8 %",
    )
    ax.plot(lim["denominator"], lim["upper_998"], color="#D55E00", ls=":", lw=1.2)
    ax.axhline(target, color="black", lw=1, label=f"objectif ({fmt_pct(target, digits=0)})")
    pts = points.dropna(subset=["denominator", "share"])
    n_hidden = len(points) - len(pts)
    if len(pts):
        ax.scatter(
            pts["denominator"], pts["share"], s=18, color="#333333", zorder=3, label="communes"
        )
    if n_hidden:
        note = (
            "aucune commune diffusable (secret statistique) : seules les limites sont tracées"
            if not len(pts)
            else f"{fmt_int(n_hidden)} commune(s) non diffusée(s) (secret statistique)"
        )
        ax.annotate(
            note,
            (0.5, 0.02),
            xycoords="axes fraction",
            ha="center",
            va="bottom",
            fontsize=8,
            color="#444444",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#bbbbbb"},
        )
    if annotate and len(pts):
        lo = np.interp(pts["denominator"], lim["denominator"], lim["lower_998"])
        hi = np.interp(pts["denominator"], lim["denominator"], lim["upper_998"])
        outside = (pts["share"].to_numpy() < lo) | (pts["share"].to_numpy() > hi)
        for _, r in pts[outside].iterrows():
            ax.annotate(
                str(r[label]),
                (r["denominator"], r["share"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.yaxis.set_major_formatter(percent_formatter(0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p=None: fmt_float(x, digits=0)))
    ax.set_xlabel("Dénominateur (nombre d'attributions)")
    ax.set_ylabel("Part")
    ax.set_ylim(bottom=max(0.0, ax.get_ylim()[0]))
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    _source(fig, source)
    return fig


# --------------------------------------------------------------------------- forest
def _forest_labels(data: pd.DataFrame) -> list[str]:
    """Row labels: from the catalogue when the codes are given, else the ``label`` column."""
    if {"outcome", "group", "reference"}.issubset(data.columns):
        # the method code ends the test id (``results.json`` spells the method out)
        if "id" in data.columns:
            methods = data["id"].astype(str).str.rsplit("_", n=1).str[-1]
        elif "method" in data.columns:
            methods = data["method"]
        else:
            methods = pd.Series([None] * len(data), index=data.index)
        out = []
        for (_, r), method in zip(data.iterrows(), methods, strict=True):
            try:
                head = test_label(r["outcome"], r["group"], r["reference"])
                tail = test_label(r["outcome"], r["group"], r["reference"], method)[len(head) :]
                out.append(f"{head}\n{tail.strip()}" if tail.strip() else head)
            except UnknownCodeError:
                logger.warning("test sans libellé dans le catalogue : %s", r.to_dict())
                out.append(str(r.get("label", r["outcome"])))
        return out
    return data["label"].astype(str).tolist()


_RATIOS = ("odds_ratio", "hazard_ratio", "odds_ratio_per_period")
"""Estimates drawn on the log axis of :func:`forest_plot`."""


def _results_frame(results: TestResult | Sequence[TestResult]) -> tuple[pd.DataFrame, str]:
    """Rows of :func:`forest_plot` from test results, and the label of their ratio."""
    from allocation_analysis.narrative import result_label_fr

    items = [results] if isinstance(results, TestResult) else list(results)
    if not items:
        raise UsageError("« results » est vide : aucun résultat à tracer.")
    names = {r.estimate_name for r in items}
    if len(names) != 1 or not names <= set(_RATIOS):
        raise UsageError(
            "« results » : le graphique en forêt trace des rapports (de cotes ou de risques) "
            f"d'une seule sorte ; reçu : {', '.join(sorted(n or '(aucun)' for n in names))}."
        )
    frame = pd.DataFrame(
        {
            "label": [result_label_fr(r) for r in items],
            "estimate": [r.estimate for r in items],
            "ci_low": [r.ci_low for r in items],
            "ci_high": [r.ci_high for r in items],
            "p_adjusted": [r.p_value for r in items],
        }
    )
    name = label(names.pop(), "estimate")
    return frame, f"{name[0].upper()}{name[1:]} (échelle logarithmique)"


_LOG_TICKS = (1, 0.5, 2, 0.2, 5, 0.1, 10, 20, 0.8, 1.25, 1.5, 0.7, 3, 0.6, 0.9, 4, 0.4, 0.3)
"""Tick values of the ratio axes, most telling first (1 = no gap, then round ratios)."""

_MIN_TICK_GAP_IN = 0.55
"""Least distance between two tick values on a ratio axis (inches): « 0,60 » is about
0.35 in wide at the axis font size."""


def _axes_width_in(ax: Axes) -> float:
    """Width of the axes in inches."""
    return float(ax.get_position().width * ax.figure.get_figwidth())


def _log_ticks(low: float, high: float, width_in: float) -> list[float]:
    """Ticks of a log-scale ratio axis on ``[low, high]`` that never overprint.

    Candidates are taken in the order of :data:`_LOG_TICKS` and kept when at
    least :data:`_MIN_TICK_GAP_IN` from every tick already kept; 1 is always
    kept when it is in range.
    """
    span = math.log(high / low)
    kept: list[float] = []
    for t in _LOG_TICKS:
        if not low <= t <= high:
            continue
        x = width_in * math.log(t / low) / span
        if all(abs(x - width_in * math.log(k / low) / span) >= _MIN_TICK_GAP_IN for k in kept):
            kept.append(t)
    return sorted(kept)


def forest_plot(
    results: pd.DataFrame | TestResult | Sequence[TestResult],
    *,
    title: str,
    xlabel: str | None = None,
    alpha: float = 0.05,
    source: str | None = DEFAULT_SOURCE,
    wrap: int = 38,
) -> Figure:
    """Forest plot of ratios (odds or hazard) with confidence intervals, log scale.

    Row labels are wrapped on spaces and the figure grows with the number of
    rows and of lines per label, so that no two labels overprint.

    Parameters
    ----------
    results : DataFrame, TestResult, ResultSet or sequence of TestResult
        A DataFrame with columns ``estimate, ci_low, ci_high, p_adjusted`` (ratios
        ≥ 0) and either ``outcome, group, reference`` (codes, with ``id`` or a
        ``method`` code), labelled from :mod:`allocation_analysis.labels`, or a
        ready-made French ``label``. Or the results of tests of
        :mod:`allocation_analysis.stats` estimating the same kind of ratio (odds
        or hazard ratios), one row per comparison, labelled « hors UE comparé à
        française (method) »; their own p-values (not adjusted) mark the rows.
    title : str
        Figure title.
    xlabel : str, optional
        Axis label; by default « Rapport de cotes (échelle logarithmique) », or the
        name of the results' ratio (e.g. « Rapport de risques instantanés »).
    alpha : float
        Level applied to ``p_adjusted`` (or to the p-values of results): significant
        rows are drawn filled.
    source : str, optional
        Source line.
    wrap : int
        Maximum length of a line of a row label, in characters.

    Returns
    -------
    Figure
        A ratio that is not estimable (0 or infinite, as with no event in a
        group or a complete separation, or missing) is drawn as the text « non
        calculable » on its row, and a bound of 0 or infinity as « intervalle
        non calculable », instead of stopping the report.

    Raises
    ------
    UsageError
        A negative value: the column does not hold ratios.

    References
    ----------
    .. [3] Lewis, S. & Clarke, M. (2001). Forest plots: trying to see the wood and
       the trees. *BMJ*, 322(7300), 1479-1480.
    """
    if not isinstance(results, pd.DataFrame):
        results, ratio_label = _results_frame(results)
        xlabel = xlabel or ratio_label
    xlabel = xlabel or "Rapport de cotes (échelle logarithmique)"
    _require_columns(results, ["estimate", "ci_low", "ci_high", "p_adjusted"], argument="results")
    data = results.reset_index(drop=True)
    if "label" not in data.columns and not {"outcome", "group", "reference"}.issubset(data.columns):
        raise UsageError(
            "« results » : il faut une colonne « label » ou les colonnes « outcome », "
            "« group » et « reference »."
        )
    values = data[["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float)
    if np.any(values[~np.isnan(values)] < 0):
        raise UsageError(
            "« results » : les rapports et leurs bornes doivent être strictement positifs."
        )
    # 0 or infinity (no event in a group, separation) cannot sit on a log axis
    drawable = np.isfinite(values) & (values > 0)
    estimable = drawable[:, 0]
    has_interval = estimable & drawable[:, 1] & drawable[:, 2]
    if not estimable.all():
        logger.warning(
            "graphique en forêt : %d rapport(s) non calculable(s) indiqué(s) comme tel(s)",
            int((~estimable).sum()),
        )
    names = [
        "\n".join(wrap_label(part, wrap) for part in t.split("\n")) for t in _forest_labels(data)
    ]
    n = len(data)
    lines = max((t.count("\n") + 1 for t in names), default=1)
    row_height = 0.2 + 0.17 * lines  # inches: the label's lines plus a gap
    fig, ax = _new_figure((8.0, 1.9 + row_height * max(n, 1)))
    y = np.arange(n)[::-1]
    signif = pd.to_numeric(data["p_adjusted"], errors="coerce") < alpha
    rows = zip(y, data.iterrows(), signif, estimable, has_interval, strict=True)
    for yi, (_, r), s, ok, with_ci in rows:
        if not ok:
            ax.annotate(
                "non calculable",
                (1.01, yi),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=8,
                style="italic",
            )
            continue
        if with_ci:
            ax.plot([r["ci_low"], r["ci_high"]], [yi, yi], color="#0072B2", lw=1.5)
        ax.plot(
            r["estimate"],
            yi,
            marker="s",
            ms=6,
            color="#0072B2",
            markerfacecolor="#0072B2" if s else "white",
        )
        interval = (
            f"[{fmt_float(r['ci_low'], digits=2)} ; {fmt_float(r['ci_high'], digits=2)}]"
            if with_ci
            else "[intervalle non calculable]"
        )
        text = f"{fmt_float(r['estimate'], digits=2)} {interval}"
        ax.annotate(text, (1.01, yi), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    shown = np.where(drawable, values, np.nan)
    lo = np.nanmin(shown) if drawable.any() else 0.5
    hi = np.nanmax(shown) if drawable.any() else 2.0
    lo, hi = min(lo, 0.9), max(hi, 1.1)
    ax.set_xlim(lo / 1.15, hi * 1.15)
    ax.xaxis.set_major_locator(FixedLocator(_log_ticks(lo / 1.15, hi * 1.15, _axes_width_in(ax))))
    ax.xaxis.set_major_formatter(decimal_formatter(2))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=9, linespacing=1.1)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    handles = [
        Line2D(
            [],
            [],
            marker="s",
            color="#0072B2",
            ls="",
            label=f"significatif (p ajustée < {fmt_float(alpha, digits=2)})",
        ),
        Line2D(
            [],
            [],
            marker="s",
            color="#0072B2",
            markerfacecolor="white",
            ls="",
            label="non significatif",
        ),
        Line2D([], [], color="black", lw=1, label="1 : aucun écart"),
    ]
    fig.legend(handles=handles, fontsize=8, frameon=False, loc="outside upper center", ncols=3)
    _source(fig, source)
    return fig


# --------------------------------------------------------------------------- Kaplan–Meier
_KM_COLUMNS = {"surv": "survival", "lower": "ci_low", "upper": "ci_high"}
"""Columns of :func:`allocation_analysis.stats.kaplan_meier` curves → columns drawn."""


def km_plot(
    curves: Mapping[str, pd.DataFrame] | TestResult,
    *,
    title: str = "Courbes de Kaplan–Meier",
    xlabel: str = "Jours depuis le dépôt de la demande",
    ylabel: str = "Part des demandes sans attribution",
    source: str | None = DEFAULT_SOURCE,
) -> Figure:
    """Kaplan–Meier curves by group, with their pointwise confidence bands.

    Parameters
    ----------
    curves : TestResult or mapping str → DataFrame
        The result of :func:`allocation_analysis.stats.kaplan_meier` (its
        ``details["curves"]`` are drawn, with its interval level), or for each
        group a step function already estimated, with columns ``time, survival,
        ci_low, ci_high`` (as :func:`allocation_analysis.analysis.km_curves`
        publishes them) or ``time, surv, lower, upper`` (as
        :func:`~allocation_analysis.stats.kaplan_meier` estimates them).
    title, xlabel, ylabel : str
        Labels.
    source : str, optional
        Source line.

    Returns
    -------
    Figure

    References
    ----------
    .. [1] Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from
       incomplete observations. *JASA*, 53(282), 457-481.
    """
    level = 0.95
    if isinstance(curves, TestResult):
        if "curves" not in curves.details:
            raise UsageError(
                f"km_plot attend le résultat de stats.kaplan_meier, reçu celui de « {curves.name} »."
            )
        level = 1 - curves.alpha
        curves = curves.details["curves"]
    if not curves:
        raise UsageError("« curves » est vide : aucune courbe à tracer.")
    fig, ax = _new_figure((7.5, 5.0))
    for k, (group, frame) in enumerate(curves.items()):
        frame = frame.rename(columns=_KM_COLUMNS)
        _require_columns(
            frame, ["time", "survival", "ci_low", "ci_high"], argument=f"curves[{group!r}]"
        )
        f = frame.sort_values("time")
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        name = label(group, "group") if str(group) in GROUP_FR else str(group)
        ax.step(f["time"], f["survival"], where="post", color=colour, lw=1.6, label=name)
        ax.fill_between(
            f["time"], f["ci_low"], f["ci_high"], step="post", color=colour, alpha=0.18, lw=0
        )
    ax.fill_between(
        [],
        [],
        [],
        color="#999999",
        alpha=0.3,
        lw=0,
        label=f"intervalle de confiance à {fmt_level_fr(level)}",
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(percent_formatter(0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p=None: fmt_float(x, digits=0)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    _source(fig, source)
    return fig


# --------------------------------------------------------------------------- trend
def _semester_tick(period: str) -> str:
    """``"2025-S2"`` → ``"2e sem.\\n2025"`` (other texts unchanged)."""
    year, _, half = str(period).partition("-S")
    if not (year.isdigit() and half in ("1", "2")):
        return str(period)
    return f"{'1er' if half == '1' else '2e'} sem.\n{year}"


def trend_plot(
    frame: pd.DataFrame,
    *,
    title: str,
    labels: Mapping[str, str] | None = None,
    source: str | None = DEFAULT_SOURCE,
) -> Figure:
    """Indicators across semesters with their confidence intervals and targets.

    Each distinct target is drawn once, as a grey dashed line labelled with its
    value and the indicators it applies to; the legend sits below the axes so
    that it never hides a line. Indicators with no published value (all
    suppressed) are not drawn and are named in a note.

    Parameters
    ----------
    frame : DataFrame
        Columns ``period, id, share, ci_low, ci_high, target``; one line per ``id``.
    title : str
        Figure title.
    labels : mapping, optional
        Display name of each indicator id (default: the short names of
        :mod:`allocation_analysis.labels`).
    source : str, optional
        Source line.

    Returns
    -------
    Figure
    """
    _require_columns(
        frame, ["period", "id", "share", "ci_low", "ci_high", "target"], argument="frame"
    )
    labels = dict(labels or {})

    def name_of(ind: object) -> str:
        return labels.get(str(ind)) or _code_label(ind, "indicator_short")

    periods = sorted(frame["period"].astype(str).unique())
    xpos = {p: i for i, p in enumerate(periods)}
    fig, ax = _new_figure((7.5, 5.0))
    targets: dict[float, list[str]] = {}
    hidden: list[str] = []
    k = 0
    for ind, f in frame.groupby("id", sort=False):
        name = name_of(ind)
        share = pd.to_numeric(f["share"], errors="coerce")
        if share.notna().sum() == 0:
            hidden.append(name)
            continue
        f = f.assign(x=f["period"].astype(str).map(xpos)).sort_values("x")
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        k += 1
        own = pd.to_numeric(f["target"], errors="coerce").dropna().unique()
        shown = f"{name} (objectif {fmt_pct(own[0], digits=0)})" if len(own) == 1 else name
        ax.plot(f["x"], f["share"], marker="o", color=colour, lw=1.6, label=shown)
        ax.fill_between(
            f["x"],
            pd.to_numeric(f["ci_low"], errors="coerce"),
            pd.to_numeric(f["ci_high"], errors="coerce"),
            color=colour,
            alpha=0.18,
            lw=0,
        )
        for t in own:
            targets.setdefault(round(float(t), 6), []).append(name)
    for t in sorted(targets):
        ax.axhline(t, color=_TARGET_COLOUR, ls="--", lw=1, gid="target", zorder=1)
        ax.annotate(
            f"objectif {fmt_pct(t, digits=0)}",
            (1.0, t),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=_TARGET_COLOUR,
        )
    if targets:
        ax.plot(
            [], [], color=_TARGET_COLOUR, ls="--", lw=1, label="objectif légal ou fixé par la CIA"
        )
    ax.set_xticks(range(len(periods)))
    ax.set_xticklabels([_semester_tick(p) for p in periods])
    ax.yaxis.set_major_formatter(percent_formatter(0))
    top = max([0.0, *targets, *pd.to_numeric(frame["ci_high"], errors="coerce").dropna()])
    ax.set_ylim(0, max(0.1, top * 1.12))
    ax.set_xlabel("Semestre")
    ax.set_ylabel("Part")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if hidden:
        ax.plot(
            [],
            [],
            color="none",
            label=wrap_label("non diffusés (secret statistique) : " + " ; ".join(hidden), 70),
        )
    # outside the axes (above them, as on the forest plot): the legend never hides a line
    handles = ax.get_legend_handles_labels()[0]
    if k:
        handles.insert(
            k, Patch(facecolor="#999999", alpha=0.3, lw=0, label="intervalle de confiance à 95 %")
        )
    fig.legend(handles=handles, fontsize=8, frameon=False, loc="outside upper center", ncols=2)
    _source(fig, source)
    return fig


def access_rate_trend_plot(
    frame: pd.DataFrame,
    *,
    title: str,
    source: str | None = DEFAULT_SOURCE,
) -> Figure:
    """Access rate of each group across semesters, one panel per axis (origin, residence).

    Small multiples sharing the vertical scale: in each panel one line per
    group with its confidence band, the reference group in black. A group
    whose rate is never published (statistical secret) is not drawn and is
    named in the panel. Access rates have no legal target: no target line.

    Parameters
    ----------
    frame : DataFrame
        Columns ``axis`` (``origin``/``residence``), ``group``, ``period``,
        ``share``, ``ci_low``, ``ci_high``
        (:func:`allocation_analysis.change.access_rate_trend_frame`).
    title : str
        Figure title.
    source : str, optional
        Lines under the figure (« Champ », « Lecture », source).

    Returns
    -------
    Figure
    """
    from allocation_analysis.analysis import GROUPINGS

    _require_columns(
        frame, ["axis", "group", "period", "share", "ci_low", "ci_high"], argument="frame"
    )
    periods = sorted(frame["period"].astype(str).unique())
    xpos = {p: i for i, p in enumerate(periods)}
    fig = Figure(figsize=(9.0, 4.6), layout="constrained")
    axes = fig.subplots(1, len(GROUPINGS), sharey=True, squeeze=False)[0]
    top = pd.to_numeric(frame["ci_high"], errors="coerce").max()
    top = 0.1 if pd.isna(top) else max(0.1, float(top) * 1.12)
    for ax, g in zip(axes, GROUPINGS, strict=True):
        sub = frame[frame["axis"] == g.key]
        hidden = []
        for k, level in enumerate((g.reference, *g.compared)):
            f = sub[sub["group"] == level].assign(x=lambda d: d["period"].astype(str).map(xpos))
            f = f.sort_values("x")
            name = _code_label(level, "group_short")
            if pd.to_numeric(f["share"], errors="coerce").notna().sum() == 0:
                hidden.append(name)
                continue
            colour = "#000000" if level == g.reference else OKABE_ITO[(k - 1) % len(OKABE_ITO)]
            shown = f"{name} (référence)" if level == g.reference else name
            ax.plot(f["x"], f["share"], marker="o", color=colour, lw=1.6, label=shown)
            ax.fill_between(
                f["x"],
                pd.to_numeric(f["ci_low"], errors="coerce"),
                pd.to_numeric(f["ci_high"], errors="coerce"),
                color=colour,
                alpha=0.15,
                lw=0,
            )
        if hidden:
            ax.plot(
                [],
                [],
                color="none",
                label=wrap_label("non diffusé (secret statistique) : " + " ; ".join(hidden), 40),
            )
        axis_name = _code_label(g.column, "group_var")
        ax.set_title(axis_name[:1].upper() + axis_name[1:], fontsize=10)
        ax.set_xticks(range(len(periods)))
        ax.set_xticklabels([_semester_tick(p) for p in periods], fontsize=7)
        ax.yaxis.set_major_formatter(percent_formatter(0))
        ax.set_ylim(0, top)
        ax.set_xlabel("Semestre")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, frameon=False, loc="lower left")
    axes[0].set_ylabel("Taux d'accès dans le semestre")
    fig.suptitle(title)
    _source(fig, source)
    return fig


# --------------------------------------------------------------------------- process
def process_funnel_plot(
    stages: pd.DataFrame,
    *,
    group_var: str,
    title: str,
    source: str | None = DEFAULT_SOURCE,
) -> Figure:
    """Conditional rate of each stage of the allocation process, by group (stages × groups).

    Parameters
    ----------
    stages : DataFrame
        The published funnel table of
        :func:`allocation_analysis.process.funnel_tables` (``"etapes"``):
        ``group_var``, ``group``, ``stage``, ``rate``, ``rate_ci_low``,
        ``rate_ci_high``, after the statistical secret.
    group_var : str
        The comparison axis drawn (``nationalite`` or ``residence_qpv``).
    title : str
        Figure title.
    source : str, optional
        Source line.

    Returns
    -------
    Figure
        One group of bars per stage (designation over the active demands, then
        each stage over the previous one), one bar per group with its 95 %
        Wilson interval; a withheld rate is a hatched empty bar marked
        « n.d. » (statistical secret).
    """
    from allocation_analysis.process import STAGES

    _require_columns(
        stages,
        ["group_var", "group", "stage", "rate", "rate_ci_low", "rate_ci_high"],
        argument="stages",
    )
    data = stages[(stages["group_var"] == group_var) & stages["stage"].isin(STAGES)]
    levels = list(dict.fromkeys(data["group"].astype(str)))
    fig, ax = _new_figure((8.0, 4.8))
    width = 0.8 / max(len(levels), 1)
    x = np.arange(len(STAGES))
    for k, level in enumerate(levels):
        sub = data[data["group"].astype(str) == level].set_index("stage").reindex(list(STAGES))
        rate = pd.to_numeric(sub["rate"], errors="coerce").to_numpy(float)
        lo = pd.to_numeric(sub["rate_ci_low"], errors="coerce").to_numpy(float)
        hi = pd.to_numeric(sub["rate_ci_high"], errors="coerce").to_numpy(float)
        pos = x - 0.4 + width * (k + 0.5)
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        shown = ~np.isnan(rate)
        ax.bar(
            pos[shown],
            rate[shown],
            width * 0.95,
            color=colour,
            label=_code_label(level, "group_short"),
        )
        ax.errorbar(
            pos[shown],
            rate[shown],
            # clipped at 0: a Wilson bound equals a rate of 0 or 1 up to rounding
            yerr=np.clip([rate[shown] - lo[shown], hi[shown] - rate[shown]], 0, None),
            fmt="none",
            ecolor="#333333",
            lw=0.8,
            capsize=2,
        )
        for p in pos[~shown]:
            ax.bar(p, 0.05, width * 0.95, facecolor="none", edgecolor=_HATCH_EDGE, hatch="///")
            ax.annotate("n.d.", (p, 0.06), ha="center", fontsize=7, color=_HATCH_EDGE)
    ax.set_xticks(x)
    ax.set_xticklabels([wrap_label(_code_label(s, "stage"), 16) for s in STAGES])
    ax.yaxis.set_major_formatter(percent_formatter(0))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Taux de passage depuis l'étape précédente")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    handles = ax.get_legend_handles_labels()[0]
    if (pd.to_numeric(data["rate"], errors="coerce").isna()).any():
        handles.append(
            Patch(
                facecolor="none",
                edgecolor=_HATCH_EDGE,
                hatch="///",
                label="n.d. : non diffusé (secret statistique)",
            )
        )
    fig.legend(
        handles=handles,
        fontsize=8,
        frameon=False,
        loc="outside upper center",
        ncols=min(4, len(handles)),
    )
    _source(fig, source)
    return fig

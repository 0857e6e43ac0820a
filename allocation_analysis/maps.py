"""Interactive maps (folium) of indicators, disparities and placement, for the working group.

Maps draw frames that other modules computed: they never compute indicators or
statistics. Every map is built the same way:

* commune polygons reprojected to EPSG:2154, simplified as a coverage (shared
  borders stay shared) with a tolerance in metres, then reprojected to WGS 84
  and snapped to a grid of ``10**-5`` degree (about one metre);
* a classed, colour-blind-safe palette (ColorBrewer PuOr centred on the target
  or on zero, BuPu for shares), grey hatching for suppressed values;
* when too few communes can be shown (:data:`MIN_PUBLISHABLE_SHARE`), no
  choropleth but a box « Carte non publiable : … » over the commune outlines;
* a title with the period and the territory (also the page's ``<title>``), a
  legend, a source line, a metric scale bar and a layer control;
* every code a reader could see (groups, indicators, windows, statuses) is
  labelled from :mod:`allocation_analysis.labels`, and numbers are written by
  :mod:`allocation_analysis.text`;
* no basemap by default, and Leaflet inlined from the ``XStatic-Leaflet``
  package, so that :func:`save_map` writes a page that renders with no network.

References
----------
.. [1] Brewer, C. A., Hatchard, G. W. & Harrower, M. A. (2003). ColorBrewer in
   print: a catalog of color schemes for maps. *Cartography and Geographic
   Information Science*, 30(1), 5-32.
.. [2] Okabe, M. & Ito, K. (2008). *Color Universal Design (CUD): how to make
   figures and presentations that are friendly to colorblind people.*
"""

from __future__ import annotations

import base64
import html
import importlib.resources
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from allocation_analysis.config import Period
from allocation_analysis.errors import AnalysisError, UsageError
from allocation_analysis.indicators import NOT_MET_STATUSES
from allocation_analysis.labels import (
    INDICATOR_COUNTS_FR,
    REAL_SOURCE_FR,
    SECRET_FR,
    STATUS_LABELS_FR,
    UnknownCodeError,
    comparison_label,
    label,
)
from allocation_analysis.text import (
    MISSING,
    fmt_float,
    fmt_int,
    fmt_p,
    fmt_pct,
    fmt_points,
    is_missing,
)

__all__ = [
    "DEFAULT_SOURCE",
    "DEFAULT_TOLERANCE_M",
    "MIN_PUBLISHABLE_SHARE",
    "NOT_PUBLISHABLE_TITLE",
    "SUPPRESSED_LABEL",
    "IndicatorLayer",
    "STATUS_MAP_NOTE",
    "disparity_map",
    "indicator_layer",
    "indicator_map",
    "map_window",
    "placement_map",
    "save_map",
    "status_classes",
    "tension_classes",
    "tension_map",
    "tension_shown_rows",
]

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = REAL_SOURCE_FR
"""Default source line printed on every map."""

DEFAULT_TOLERANCE_M = 30.0
"""Default simplification tolerance, in metres (EPSG:2154)."""

COORDINATE_GRID_DEG = 1e-5
"""Grid (degrees) on which WGS 84 coordinates are snapped: about 1 m."""

SUPPRESSED_LABEL = "secret statistique / effectif insuffisant"
NO_DATA_LABEL = "aucune donnée"

#: ColorBrewer PuOr, 8 classes without its two palest: orange below the centre,
#: purple above, and the two classes either side of the centre clearly distinct.
DIVERGING_COLOURS: tuple[str, ...] = (
    "#b35806",
    "#e08214",
    "#fdb863",
    "#b2abd2",
    "#8073ac",
    "#542788",
)
#: ColorBrewer BuPu, 5 classes, for shares without a centre.
SEQUENTIAL_COLOURS: tuple[str, ...] = ("#edf8fb", "#b3cde3", "#8c96c6", "#8856a7", "#810f7c")
SEQUENTIAL_BREAKS: tuple[float, ...] = (0.10, 0.20, 0.30, 0.50)

HATCH_ID = "aa-hatch"
HATCH_FILL = f"url(#{HATCH_ID})"
SUPPRESSED_CLASS = "aa-suppressed"
BORDER_COLOUR = "#555555"
QPV_COLOUR = "#000000"
QPV_PANE = "aa-qpv"
NO_DATA_FILL = "#ffffff"

SIGNIFICANT_COLOUR = "#000000"
SIGNIFICANT_WEIGHT = 4.0
QPV_WEIGHT = 1.5
QPV_DASH = "6 4"

STATUS_LABELS: dict[str, str] = STATUS_LABELS_FR
"""Status wordings (from :mod:`allocation_analysis.labels`)."""

MIN_PUBLISHABLE_SHARE = 0.5
"""Publishability rule of a commune map.

A map is drawn only when at least this share of the communes that have data
(a row in the frame drawn) can be shown, i.e. are not masked by statistical
secrecy or an insufficient count. Below it, the map would be mostly hatching
and would tell the reader nothing: the functions of this module then return a
map holding only the commune outlines and an explicit box
« Carte non publiable : … » (:data:`NOT_PUBLISHABLE_TITLE`). A map with no
publishable commune at all is never drawn.
"""

NOT_PUBLISHABLE_TITLE = "Carte non publiable"
"""Heading of the box that replaces a map with too few publishable communes."""

_NICE_STEPS = (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5)
_POINT_LEVEL_COLUMNS = frozenset(
    {
        "geometry",
        "x",
        "y",
        "lat",
        "lon",
        "lng",
        "latitude",
        "longitude",
        "demande_id",
        "num_unique",
        "logement_id",
        "adresse",
    }
)


# --------------------------------------------------------------------------- classes
@dataclass(frozen=True)
class ColourClasses:
    """A classed colour scale: ``len(colours) == len(breaks) + 1``.

    Class ``i`` holds the values ``v`` with ``breaks[i-1] <= v < breaks[i]``.
    """

    breaks: tuple[float, ...]
    colours: tuple[str, ...]
    labels: tuple[str, ...]

    def colour(self, value: float) -> str:
        """Colour of ``value``."""
        return self.colours[int(np.searchsorted(self.breaks, value, side="right"))]


def _nice_step(max_abs: float, n_half: int) -> float:
    needed = max_abs / n_half
    for step in _NICE_STEPS:
        if step >= needed - 1e-12:
            return step
    return _NICE_STEPS[-1]


def diverging_classes(
    values: Sequence[float] | np.ndarray,
    *,
    centre: float,
    fmt: Callable[[float], str],
) -> ColourClasses:
    """Six classes of equal width centred on ``centre`` (three below, three above).

    The width is the smallest "nice" step (1, 2, 2.5, 5, 10, 20, 25 or 50 points)
    such that three steps cover the largest distance to the centre; values beyond
    fall in the outer classes.

    Parameters
    ----------
    values : array-like of float
        Values to show (missing values ignored).
    centre : float
        Value at the boundary between the two hues (target, or zero for gaps).
    fmt : callable
        Formats a break for the legend; called as ``fmt(value, digits=0)`` when every
        break is a whole percentage, so that legends read « 25 % », not « 25,0 % ».

    Returns
    -------
    ColourClasses
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    max_abs = float(np.max(np.abs(arr - centre))) if arr.size else 0.0
    step = _nice_step(max_abs, 3)
    breaks = tuple(centre + k * step for k in (-2, -1, 0, 1, 2))
    # whole percentages or points are written without decimals (« 25 % », « +10 points »)
    whole = all(abs(100 * b - round(100 * b)) < 1e-9 for b in breaks)

    def f(value: float) -> str:
        if not whole:
            return fmt(value)
        try:
            return fmt(value, digits=0)
        except TypeError:  # a formatter without a digits argument
            return fmt(value)

    labels = (
        f"moins de {f(breaks[0])}",
        f"de {f(breaks[0])} à moins de {f(breaks[1])}",
        f"de {f(breaks[1])} à moins de {f(breaks[2])}",
        f"de {f(breaks[2])} à moins de {f(breaks[3])}",
        f"de {f(breaks[3])} à moins de {f(breaks[4])}",
        f"{f(breaks[4])} ou plus",
    )
    return ColourClasses(breaks=breaks, colours=DIVERGING_COLOURS, labels=labels)


def sequential_share_classes() -> ColourClasses:
    """Fixed classes for a share (0 – 10 – 20 – 30 – 50 – 100 %), the same on every layer."""
    b = SEQUENTIAL_BREAKS
    labels = (
        f"moins de {fmt_pct(b[0], digits=0)}",
        *(
            f"de {fmt_pct(lo, digits=0)} à moins de {fmt_pct(hi, digits=0)}"
            for lo, hi in zip(b, b[1:], strict=False)
        ),
        f"{fmt_pct(b[-1], digits=0)} ou plus",
    )
    return ColourClasses(breaks=b, colours=SEQUENTIAL_COLOURS, labels=labels)


# --------------------------------------------------------------------------- validation
def _require_columns(frame: pd.DataFrame, columns: Sequence[str], *, argument: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise UsageError(f"« {argument} » doit être un DataFrame (reçu {type(frame).__name__}).")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(
            f"« {argument} » : colonne(s) manquante(s) {', '.join(missing)} "
            f"(colonnes attendues : {', '.join(columns)})."
        )


def _to_bool(series: pd.Series) -> pd.Series:
    return series.astype("boolean").fillna(False).astype(bool)


# --------------------------------------------------------------------------- geometry
def simplify_for_web(
    frame: gpd.GeoDataFrame,
    *,
    tolerance: float = DEFAULT_TOLERANCE_M,
    grid: float = COORDINATE_GRID_DEG,
) -> gpd.GeoDataFrame:
    """Simplify polygons in EPSG:2154 and return them in WGS 84 on a coarse grid.

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons with a CRS.
    tolerance : float
        Simplification tolerance in metres (0 = none). The polygons are
        simplified as a coverage, so shared borders stay shared (no gaps or
        overlaps appear between neighbouring communes).
    grid : float
        Coordinates are snapped to this grid, in degrees (1e-5 ≈ 1 m).

    Returns
    -------
    GeoDataFrame
        Same rows and columns, EPSG:4326.
    """
    if frame.crs is None:
        raise UsageError("La géométrie n'a pas de système de coordonnées (CRS) déclaré.")
    if tolerance < 0:
        raise UsageError(f"« tolerance » doit être ≥ 0 (reçu {tolerance}).")
    out = frame.to_crs(2154)
    if tolerance > 0 and len(out):
        try:
            geoms = out.geometry.simplify_coverage(tolerance)
        except Exception:  # invalid coverage: fall back to per-polygon simplification
            logger.warning(
                "simplification en couverture impossible : simplification polygone par polygone"
            )
            geoms = out.geometry.simplify(tolerance, preserve_topology=True)
        out = out.set_geometry(geoms)
    out = out.to_crs(4326)
    if grid > 0:
        out = out.set_geometry(shapely.set_precision(out.geometry.values, grid))
    return out


def _feature_collection(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> dict:
    data = json.loads(frame[[*columns, "geometry"]].to_json(na="null", drop_id=True))
    return data


def _prepare_communes(communes: gpd.GeoDataFrame, *, tolerance: float) -> gpd.GeoDataFrame:
    _require_columns(communes, ["insee_com", "nom", "geometry"], argument="communes")
    if not isinstance(communes, gpd.GeoDataFrame):
        raise UsageError("« communes » doit être un GeoDataFrame.")
    out = communes[["insee_com", "nom", "geometry"]].copy()
    out["insee_com"] = out["insee_com"].astype(str)
    if out["insee_com"].duplicated().any():
        dup = out.loc[out["insee_com"].duplicated(), "insee_com"].iloc[0]
        raise UsageError(f"« communes » : le code commune {dup} apparaît plusieurs fois.")
    return simplify_for_web(out, tolerance=tolerance)


# --------------------------------------------------------------------------- map elements
def _asset_text(name: str) -> str:
    return (
        importlib.resources.files("allocation_analysis").joinpath("assets", name).read_text("utf-8")
    )


def _leaflet_sources() -> tuple[str, str]:
    """Leaflet JS and CSS from the ``XStatic-Leaflet`` package, images as data URIs."""
    try:
        import xstatic.pkg.leaflet as xleaflet
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise AnalysisError(
            "Le paquet XStatic-Leaflet est requis pour écrire des cartes autonomes "
            "(pip install XStatic-Leaflet)."
        ) from exc
    base = Path(xleaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text("utf-8")
    css = (base / "leaflet.css").read_text("utf-8")

    def inline(match: re.Match[str]) -> str:
        path = base / match.group(1)
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{payload})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    js = js.replace("//# sourceMappingURL=leaflet.js.map", "")
    return js, css


class _InlineAssets(Element):
    """Leaflet and the map stylesheet written inside the page's ``<head>``."""

    def __init__(self) -> None:
        super().__init__()
        js, css = _leaflet_sources()
        # "</script" cannot occur inside an inline script.
        js = js.replace("</script", "<\\/script")
        self._html = (
            f"<style>{css}</style>\n<style>{_asset_text('maps.css')}</style>\n<script>{js}</script>"
        )

    def render(self, **kwargs: Any) -> str:
        return self._html


class _HatchDefs(MacroElement):
    """An SVG pattern (grey with dark diagonal lines) referenced by ``fill="url(#aa-hatch)"``."""

    _template = Template(
        """
{% macro html(this, kwargs) %}
<svg width="0" height="0" style="position:absolute" aria-hidden="true">
  <defs>
    <pattern id="{{ this.hatch_id }}" patternUnits="userSpaceOnUse" width="6" height="6"
             patternTransform="rotate(45)">
      <rect width="6" height="6" fill="#bdbdbd"></rect>
      <line x1="0" y1="0" x2="0" y2="6" stroke="#636363" stroke-width="2.5"></line>
    </pattern>
  </defs>
</svg>
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "HatchDefs"
        self.hatch_id = HATCH_ID


class _HtmlControl(MacroElement):
    """A Leaflet control holding a fixed piece of HTML (legend, source line)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
{{ this.get_name() }}.onAdd = function (map) {
    var div = L.DomUtil.create('div', {{ this.css_class|tojson }});
    div.innerHTML = {{ this.content|tojson }};
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
};
{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self, content: str, *, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.content = content
        self.position = position
        self.css_class = css_class


class _Title(MacroElement):
    """The map title, centred at the top of the map container."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function () {
    var div = L.DomUtil.create('div', 'aa-title');
    var head = L.DomUtil.create('div', 'aa-title-main', div);
    head.textContent = {{ this.text|tojson }};
    {% if this.subtitle %}
    var sub = L.DomUtil.create('div', 'aa-subtitle', div);
    sub.textContent = {{ this.subtitle|tojson }};
    {% endif %}
    {{ this._parent.get_name() }}.getContainer().appendChild(div);
})();
{% endmacro %}
"""
    )

    def __init__(self, text: str, subtitle: str = "") -> None:
        super().__init__()
        self._name = "Title"
        self.text = text
        self.subtitle = subtitle


class _CentreBox(MacroElement):
    """A box of HTML centred on the map container (the « carte non publiable » notice)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function () {
    var div = L.DomUtil.create('div', 'aa-unpublishable');
    div.setAttribute('role', 'note');
    div.innerHTML = {{ this.content|tojson }};
    {{ this._parent.get_name() }}.getContainer().appendChild(div);
})();
{% endmacro %}
"""
    )

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "CentreBox"
        self.content = content


class _MetricScale(MacroElement):
    """Metric scale bar (kilometres and metres only)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
L.control.scale({imperial: false, metric: true, position: 'bottomleft'})
    .addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


def _legend_html(
    heading: str,
    classes: ColourClasses | None,
    *,
    suppressed: bool = True,
    no_data: bool = False,
    qpv: bool = False,
    significant: bool = False,
    centre_label: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    rows = [f"<h4>{html.escape(heading)}</h4>"]
    if classes is not None:
        items = list(zip(reversed(classes.colours), reversed(classes.labels), strict=True))
        half = len(items) // 2
        for k, (colour, text) in enumerate(items):
            if centre_label and k == half:
                rows.append(f'<div class="aa-centre">{html.escape(centre_label)}</div>')
            rows.append(
                f'<div class="aa-item"><span class="aa-swatch" style="background:{colour}"></span>'
                f"{html.escape(text)}</div>"
            )
    if suppressed:
        rows.append(
            '<div class="aa-item aa-item-suppressed"><span class="aa-swatch aa-swatch-hatch"></span>'
            f"{html.escape(SUPPRESSED_LABEL)}</div>"
        )
    if no_data:
        rows.append(
            '<div class="aa-item"><span class="aa-swatch aa-swatch-nodata"></span>'
            f"{html.escape(NO_DATA_LABEL)}</div>"
        )
    if significant:
        rows.append(
            '<div class="aa-item"><span class="aa-swatch aa-swatch-signif"></span>'
            "écart significatif après correction pour tests multiples (contour épais)</div>"
        )
    if qpv:
        rows.append(
            '<div class="aa-item"><span class="aa-swatch aa-swatch-qpv"></span>'
            "périmètre QPV (tirets)</div>"
        )
    for note in notes:
        rows.append(f'<div class="aa-note">{html.escape(note)}</div>')
    return "\n".join(rows)


def _subtitle(
    *, period_label: str | None, territory_label: str | None, extra: str | None = None
) -> str:
    parts = [p for p in (territory_label, period_label, extra) if p]
    return " — ".join(parts)


def _base_map(
    bounds: np.ndarray,
    *,
    title: str,
    source: str,
    tiles: str | folium.TileLayer | None,
    tiles_attr: str | None,
    subtitle: str = "",
) -> folium.Map:
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=10,
        tiles=None,
        control_scale=False,
        zoomSnap=0.25,
        attributionControl=tiles is not None,
    )
    # Leaflet is inlined (see _InlineAssets): no CDN link, no jQuery/Bootstrap/Font Awesome.
    m.default_js = []
    m.default_css = []
    root = m.get_root()
    root.header.add_child(_InlineAssets(), name="aa_inline_assets")
    # branca writes the page title unescaped
    root.title = html.escape(f"{title} — {subtitle}" if subtitle else title)
    m.add_child(_HatchDefs())
    if tiles is not None:
        if isinstance(tiles, folium.TileLayer):
            m.add_child(tiles)
        else:
            folium.TileLayer(tiles, attr=tiles_attr, name="Fond de carte", overlay=False).add_to(m)
    # Leave room for the title (top) and the legend (bottom right).
    m.fit_bounds(
        [[miny, minx], [maxy, maxx]], padding_top_left=(20, 70), padding_bottom_right=(330, 20)
    )
    m.add_child(_Title(title, subtitle))
    m.add_child(_MetricScale())
    m.add_child(_HtmlControl(html.escape(source), position="bottomright", css_class="aa-source"))
    m.publishable = True
    return m


def _publishable(has_row: pd.Series, hidden: pd.Series, min_share: float) -> tuple[bool, int, int]:
    """Apply :data:`MIN_PUBLISHABLE_SHARE`: ``(publishable, n_shown, n_with_data)``."""
    n_data = int(has_row.sum())
    n_shown = int((has_row & ~hidden).sum())
    ok = n_shown > 0 and n_shown >= min_share * n_data
    return ok, n_shown, n_data


def _not_publishable_detail(n_shown: int, n_data: int, min_share: float) -> str:
    """The sentence explaining why a commune map is not published."""
    floor = fmt_pct(min_share, digits=0)
    if n_data == 0:
        detail = "Aucune commune n'a de données sur la période."
    elif n_shown == 0:
        detail = (
            f"Aucune des {fmt_int(n_data)} communes ayant des données n'a assez d'effectifs "
            "pour être diffusée sans rompre le secret statistique."
        )
    else:
        verb = "a" if n_shown == 1 else "ont"
        detail = (
            f"{'Seule' if n_shown == 1 else 'Seules'} {fmt_int(n_shown)} "
            f"{'commune' if n_shown == 1 else 'communes'} sur {fmt_int(n_data)} {verb} assez "
            "d'effectifs pour être diffusées sans rompre le secret statistique ; la carte "
            f"n'est publiée qu'à partir de {floor} des communes ayant des données."
        )
    return detail


def _not_publishable_map(
    web: gpd.GeoDataFrame,
    *,
    title: str,
    subtitle: str,
    source: str,
    reason: str,
    n_shown: int,
    n_data: int,
    min_share: float,
) -> folium.Map:
    """Commune outlines only, under a box saying why the map is not published."""
    m = _base_map(
        web.total_bounds, title=title, source=source, tiles=None, tiles_attr=None, subtitle=subtitle
    )
    folium.GeoJson(
        _feature_collection(web, ["nom"]),
        name="Contours des communes",
        style_function=lambda _f: {
            "fill": False,
            "color": "#bbbbbb",
            "weight": 0.8,
            "className": "aa-outline",
        },
        control=False,
    ).add_to(m)
    detail = _not_publishable_detail(n_shown, n_data, min_share)
    box = (
        f'<div class="aa-unpublishable-head">{html.escape(NOT_PUBLISHABLE_TITLE)} : '
        f"{html.escape(reason)}</div>"
        f"<p>{html.escape(detail)}</p>"
        "<p>Les résultats pour l'ensemble du territoire figurent dans le rapport.</p>"
    )
    m.add_child(_CentreBox(box))
    m.publishable = False
    return m


def _add_qpv(m: folium.Map, qpv: gpd.GeoDataFrame | None, *, tolerance: float) -> bool:
    if qpv is None:
        return False
    _require_columns(qpv, ["code_qpv", "nom_qpv", "geometry"], argument="qpv")
    if not isinstance(qpv, gpd.GeoDataFrame):
        raise UsageError("« qpv » doit être un GeoDataFrame.")
    if len(qpv) == 0:
        return False
    web = simplify_for_web(qpv[["code_qpv", "nom_qpv", "geometry"]].copy(), tolerance=tolerance / 3)
    m.add_child(folium.map.CustomPane(QPV_PANE, z_index=450, pointer_events=False))
    folium.GeoJson(
        _feature_collection(web, ["code_qpv", "nom_qpv"]),
        name="Quartiers prioritaires (QPV)",
        style_function=lambda _f: {
            "color": QPV_COLOUR,
            "weight": QPV_WEIGHT,
            "fill": False,
            "dashArray": QPV_DASH,
        },
        overlay=True,
        control=True,
        pane=QPV_PANE,
    ).add_to(m)
    return True


def _tooltip(fields: Sequence[str], aliases: Sequence[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(
        fields=list(fields),
        aliases=list(aliases),
        labels=True,
        sticky=True,
        class_name="aa-tooltip",
    )


def _style(
    fill: str, *, suppressed: bool, weight: float = 0.8, colour: str = BORDER_COLOUR
) -> dict:
    if suppressed:
        return {
            "fillColor": HATCH_FILL,
            "fillOpacity": 1.0,
            "color": "#444444",
            "weight": weight,
            "className": SUPPRESSED_CLASS,
        }
    return {
        "fillColor": fill,
        "fillOpacity": 0.85,
        "color": colour,
        "weight": weight,
        "className": "aa-area",
    }


def _no_data_style() -> dict:
    return {
        "fillColor": NO_DATA_FILL,
        "fillOpacity": 1.0,
        "color": "#999999",
        "weight": 0.6,
        "className": "aa-nodata",
    }


_HIGHLIGHT = {"weight": 3, "color": "#000000"}


def _finish(m: folium.Map, legend: str) -> folium.Map:
    m.add_child(_HtmlControl(legend, position="bottomright", css_class="aa-legend"))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


# --------------------------------------------------------------------------- public maps
_INDICATOR_COLUMNS = (
    "id",
    "scope",
    "scope_value",
    "window",
    "numerator",
    "denominator",
    "share",
    "ci_low",
    "ci_high",
    "target",
    "status",
    "suppressed",
)


def _select_indicator(
    indicators: pd.DataFrame,
    *,
    indicator_id: str,
    window: str,
    period: str | None,
) -> pd.DataFrame:
    _require_columns(indicators, _INDICATOR_COLUMNS, argument="indicators")
    rows = indicators[(indicators["id"] == indicator_id) & (indicators["scope"] == "commune")]
    if rows.empty:
        known = sorted(indicators["id"].dropna().astype(str).unique())
        raise UsageError(
            f"Indicateur « {indicator_id} » absent à l'échelle des communes "
            f"(indicateurs disponibles : {', '.join(known) or 'aucun'})."
        )
    windows = sorted(rows["window"].dropna().astype(str).unique())
    rows = rows[rows["window"] == window]
    if rows.empty:
        raise UsageError(
            f"Fenêtre « {window} » absente pour l'indicateur « {indicator_id} » "
            f"(valeurs permises : {', '.join(windows)})."
        )
    if "period" in rows.columns:
        periods = sorted(rows["period"].dropna().astype(str).unique())
        if period is not None:
            rows = rows[rows["period"].astype(str) == str(period)]
            if rows.empty:
                raise UsageError(
                    f"Période « {period} » absente (valeurs permises : {', '.join(periods)})."
                )
        elif len(periods) > 1:
            raise UsageError(
                f"Plusieurs périodes dans « indicators » ({', '.join(periods)}) : "
                "précisez « period »."
            )
    rows = rows.assign(scope_value=rows["scope_value"].astype(str))
    if rows["scope_value"].duplicated().any():
        dup = rows.loc[rows["scope_value"].duplicated(), "scope_value"].iloc[0]
        raise UsageError(f"« indicators » : plusieurs lignes pour la commune {dup}.")
    return rows


def _shown_rows(
    rows: pd.DataFrame, denominator: pd.Series, min_denominator: int | None
) -> tuple[pd.Series, pd.Series]:
    """Communes with data, and those of them whose value is not shown.

    A commune with a row whose denominator is 0 has nothing to show (the
    indicator is « sans objet » there, e.g. no lease in QPV): it is not a
    commune with data whose value is hidden.
    """
    denominator = pd.to_numeric(denominator, errors="coerce").astype(float)  # <NA> → NaN
    has_row = rows["scope_value"].notna() & ~(denominator == 0)
    share = pd.to_numeric(rows["share"], errors="coerce").astype(float)
    hidden = has_row & (_to_bool(rows["suppressed"]) | share.isna())
    if min_denominator is not None:
        hidden |= has_row & (denominator.fillna(0) < min_denominator)
    return has_row, hidden


STATUS_MAP_NOTE = (
    "La part n'est pas diffusée dans la plupart des communes (secret statistique) : "
    "la carte indique seulement si l'objectif est atteint."
)
"""Note of a map of the objective met / not met (:func:`indicator_layer`)."""


def status_classes(target_text: str) -> ColourClasses:
    """The two classes of a map of the objective met or not (values 0 / 1)."""
    return ColourClasses(
        breaks=(0.5,),
        colours=(DIVERGING_COLOURS[1], DIVERGING_COLOURS[4]),
        labels=(
            f"objectif non atteint (part inférieure à {target_text})",
            f"objectif atteint (part d'au moins {target_text})",
        ),
    )


@dataclass(frozen=True)
class IndicatorLayer:
    """What a commune map of a legal indicator shows (:func:`indicator_layer`).

    ``mode`` is ``"share"`` (the share, on classes centred on the target),
    ``"status"`` (objective met or not: 1 / 0) or ``None`` (not publishable);
    ``values`` the value drawn per row, ``has_row`` the communes with data,
    ``hidden`` those of them not shown.
    """

    mode: str | None
    values: pd.Series
    has_row: pd.Series
    hidden: pd.Series
    n_shown: int
    n_data: int


def indicator_layer(
    rows: pd.DataFrame,
    *,
    min_denominator: int | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> IndicatorLayer:
    """Choose what a commune map of an indicator can show, by the publishability rule.

    The share when enough communes publish it (:data:`MIN_PUBLISHABLE_SHARE`);
    else whether the objective is met, when enough communes say so — the
    statistical secret masks most shares of a thin territory, but a status is
    released without the count where no count can be recovered from it
    (:func:`allocation_analysis.privacy.release_masked_statuses`); else nothing
    (the « carte non publiable » box).

    Parameters
    ----------
    rows : DataFrame
        Indicator rows, one per commune (``share``, ``status``, ``suppressed``,
        ``denominator``, ``scope_value``); communes without a row may be
        present with missing values.
    min_denominator, min_publishable_share
        As :func:`indicator_map`.

    Returns
    -------
    IndicatorLayer
    """
    denominator = pd.to_numeric(rows["denominator"], errors="coerce")
    has_row, hidden = _shown_rows(rows, denominator, min_denominator)
    ok, n_shown, n_data = _publishable(has_row, hidden, min_publishable_share)
    share = pd.to_numeric(rows["share"], errors="coerce").astype(float)
    if ok:
        return IndicatorLayer("share", share, has_row, hidden, n_shown, n_data)
    status = rows["status"].astype("string").fillna("")
    met = pd.Series(np.nan, index=rows.index)
    met[status == "atteint"] = 1.0
    met[status.isin(NOT_MET_STATUSES)] = 0.0
    # a status without its published denominator is not one released by the secret
    hidden_status = has_row & (met.isna() | denominator.isna())
    if min_denominator is not None:
        hidden_status |= has_row & (denominator.fillna(0) < min_denominator)
    ok_s, n_shown_s, _ = _publishable(has_row, hidden_status, min_publishable_share)
    if ok_s:
        return IndicatorLayer("status", met, has_row, hidden_status, n_shown_s, n_data)
    return IndicatorLayer(None, share, has_row, hidden, n_shown, n_data)


def map_window(
    indicators: pd.DataFrame,
    *,
    indicator_id: str,
    period: str | None = None,
    min_denominator: int | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> str:
    """The window on which to map an indicator by commune.

    The semester when its map of shares is publishable
    (:data:`MIN_PUBLISHABLE_SHARE`), else the rolling 12 months when theirs is
    — twice the leases, so fewer communes under the statistical secret; the
    map's title then names the window —, else the first window whose map of
    the objective met or not is publishable (:func:`indicator_layer`), else
    the semester (its map is the « carte non publiable » box).

    Parameters
    ----------
    indicators : DataFrame
        Published indicators (both windows, commune scope).
    indicator_id : str
    period : str, optional
    min_denominator, min_publishable_share
        As :func:`indicator_map`.

    Returns
    -------
    {"semester", "rolling_12m"}
    """
    layers = {}
    for window in ("semester", "rolling_12m"):
        if window not in set(indicators["window"].astype(str)):
            continue
        rows = _select_indicator(
            indicators, indicator_id=indicator_id, window=window, period=period
        )
        layers[window] = indicator_layer(
            rows, min_denominator=min_denominator, min_publishable_share=min_publishable_share
        ).mode
    for mode in ("share", "status"):
        for window, shown in layers.items():
            if shown == mode:
                return window
    return "semester"


def _period_label_of(rows: pd.DataFrame, period_label: str | None) -> str | None:
    """The period label given, or the one of the rows' single ``period``."""
    if period_label or "period" not in rows.columns:
        return period_label
    periods = rows["period"].dropna().astype(str).unique()
    if len(periods) != 1:
        return None
    try:
        return Period.parse(periods[0]).label_fr
    except Exception:  # not a semester code: shown as given
        return str(periods[0])


def _commune_text(merged: pd.DataFrame) -> list[str]:
    return [
        f"{html.escape(str(n))} ({c})"
        for n, c in zip(merged["nom"], merged["insee_com"], strict=True)
    ]


def _group_label(code: Any, labels: Mapping[str, str], *, kind: str = "group") -> str:
    """Label of a group: ``labels`` first, then the catalogue (a warning if unknown)."""
    if str(code) in labels:
        return labels[str(code)]
    try:
        return label(code, kind)
    except UnknownCodeError:
        logger.warning("groupe sans libellé dans le catalogue : %s", code)
        return str(code)


def _commune_layer_map(
    web: gpd.GeoDataFrame,
    columns: Sequence[str],
    *,
    fields: Sequence[str],
    aliases: Sequence[str],
    qpv: gpd.GeoDataFrame | None,
    tolerance: float,
    **base: Any,
) -> tuple[folium.Map, bool]:
    """A map of one layer of communes (``web`` with its ``columns`` of properties).

    The base map (``base``: title, source, tiles, subtitle), the communes styled
    by their ``aa_state`` / ``aa_fill`` with a tooltip of ``fields`` named
    ``aliases``, and the QPV outlines; returns the map and whether QPV were drawn.
    """
    m = _base_map(web.total_bounds, **base)
    folium.GeoJson(
        _feature_collection(web, list(columns)),
        name="Communes",
        style_function=_state_style,
        highlight_function=lambda _f: _HIGHLIGHT,
        tooltip=_tooltip(fields, aliases),
    ).add_to(m)
    return m, _add_qpv(m, qpv, tolerance=tolerance)


def indicator_map(
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
    tiles: str | folium.TileLayer | None = None,
    tiles_attr: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE_M,
    period_label: str | None = None,
    territory_label: str | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> folium.Map:
    """Commune choropleth of a legal indicator, on a palette centred on its target.

    Communes below the target are orange, at or above it purple (ColorBrewer
    PuOr [1]_, readable with the common colour-vision deficiencies). Communes whose
    value is suppressed (statistical secrecy) or whose denominator is too small are
    grey and hatched, and labelled « secret statistique / effectif insuffisant ».
    QPV perimeters are drawn on top as dashed lines. When fewer than
    ``min_publishable_share`` of the communes with data can be shown, no
    choropleth is drawn: the map holds the commune outlines and a box
    « Carte non publiable : … » (see :data:`MIN_PUBLISHABLE_SHARE`).

    Parameters
    ----------
    communes : GeoDataFrame
        Columns ``insee_com``, ``nom``, ``geometry`` (any CRS; EPSG:2154 expected).
    indicators : DataFrame
        Indicator frame (columns ``id, scope, scope_value, window, period, numerator,
        denominator, share, ci_low, ci_high, target, p_value_vs_target, status,
        suppressed``); only rows with ``scope == "commune"`` are drawn.
    indicator_id : str
        Indicator to draw (``id`` column).
    window : {"semester", "rolling_12m"}
        Time window.
    period : str, optional
        Period to draw when the frame holds several.
    qpv : GeoDataFrame, optional
        QPV perimeters (``code_qpv``, ``nom_qpv``, ``geometry``), outlined on top.
    title : str, optional
        Map title (default: the French title of the indicator).
    source : str
        Source line shown at the bottom of the map.
    min_denominator : int, optional
        Denominators below this value are shown as insufficient, in addition to
        the rows flagged ``suppressed``.
    tiles : str or folium.TileLayer, optional
        Basemap for online use (none by default: the map works offline).
    tiles_attr : str, optional
        Attribution of ``tiles`` when it is a URL template.
    tolerance : float
        Simplification tolerance in metres.
    period_label : str, optional
        Period shown under the title and in the page title (default: the
        French label of the rows' ``period``, e.g. « 2e semestre 2025 »).
    territory_label : str, optional
        Territory shown under the title and in the page title.
    min_publishable_share : float
        Publishability rule (default :data:`MIN_PUBLISHABLE_SHARE`); 0 draws
        the map whenever one commune can be shown.

    Returns
    -------
    folium.Map
        With an attribute ``publishable`` (False when the box replaces the map).

    References
    ----------
    .. [1] Brewer, C. A., Hatchard, G. W. & Harrower, M. A. (2003). ColorBrewer in
       print. *Cartography and Geographic Information Science*, 30(1), 5-32.
    """
    rows = _select_indicator(indicators, indicator_id=indicator_id, window=window, period=period)
    targets = pd.to_numeric(rows["target"], errors="coerce").dropna().unique()
    if len(targets) == 0:
        raise UsageError(f"L'indicateur « {indicator_id} » n'a pas d'objectif (colonne target).")
    if len(targets) > 1:
        raise UsageError(f"L'indicateur « {indicator_id} » a plusieurs objectifs différents.")
    target = float(targets[0])
    target_text = fmt_pct(target, digits=0 if round(target * 100) == target * 100 else 1)

    web = _prepare_communes(communes, tolerance=tolerance)
    merged = web.merge(rows, how="left", left_on="insee_com", right_on="scope_value")
    layer = indicator_layer(
        merged, min_denominator=min_denominator, min_publishable_share=min_publishable_share
    )
    has_row, hidden = layer.has_row, layer.hidden
    by_status = layer.mode == "status"

    title = title or label(indicator_id, "indicator")
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
        return _not_publishable_map(
            web,
            title=title,
            subtitle=subtitle,
            source=source,
            reason="trop peu d'attributions par commune sur la période",
            n_shown=layer.n_shown,
            n_data=layer.n_data,
            min_share=min_publishable_share,
        )
    if by_status:
        classes = status_classes(target_text)
    else:
        classes = diverging_classes(layer.values[has_row & ~hidden], centre=target, fmt=fmt_pct)
    den_text, num_text = INDICATOR_COUNTS_FR.get(indicator_id, ("Dénominateur", "dont numérateur"))

    props = pd.DataFrame(index=merged.index)
    props["t_commune"] = _commune_text(merged)
    props["t_den"] = MISSING
    props["t_num"] = MISSING
    props["t_share"] = MISSING
    props["t_target"] = target_text
    props["t_status"] = NO_DATA_LABEL
    props["aa_state"] = "nodata"
    props["aa_fill"] = NO_DATA_FILL
    for i in merged.index[has_row]:
        r = merged.loc[i]
        if hidden[i]:
            props.loc[i, "t_status"] = SUPPRESSED_LABEL
            props.loc[i, "aa_state"] = "suppressed"
            continue
        if not is_missing(r["denominator"]):
            props.loc[i, "t_den"] = fmt_int(r["denominator"])
        if is_missing(r["share"]):
            props.loc[i, "t_num"] = SECRET_FR
            props.loc[i, "t_share"] = SECRET_FR
        else:
            props.loc[i, "t_num"] = fmt_int(r["numerator"])
            share_text = fmt_pct(r["share"])
            if not (is_missing(r["ci_low"]) or is_missing(r["ci_high"])):
                share_text += f" (IC 95 % : {fmt_pct(r['ci_low'])} – {fmt_pct(r['ci_high'])})"
            props.loc[i, "t_share"] = share_text
        status = r["status"]
        props.loc[i, "t_status"] = (
            MISSING if is_missing(status) else _group_label(status, {}, kind="status")
        )
        props.loc[i, "aa_state"] = "value"
        props.loc[i, "aa_fill"] = classes.colour(float(layer.values[i]))
    m, has_qpv = _commune_layer_map(
        web.join(props),
        props.columns,
        fields=["t_commune", "t_den", "t_num", "t_share", "t_target", "t_status"],
        aliases=[
            "Commune",
            den_text,
            num_text,
            "Part",
            "Objectif",
            "Statut vis-à-vis de l'objectif",
        ],
        qpv=qpv,
        tolerance=tolerance,
        title=title,
        source=source,
        tiles=tiles,
        tiles_attr=tiles_attr,
        subtitle=subtitle,
    )
    if by_status:
        heading = f"Objectif ({target_text}) atteint ou non"
        notes = [STATUS_MAP_NOTE]
    else:
        heading = f"Part (objectif : {target_text})"
        notes = ["orange : sous l'objectif ; violet : objectif atteint ou dépassé"]
    legend = _legend_html(
        heading,
        classes,
        suppressed=bool(hidden.any()),
        no_data=bool((~has_row).any()),
        qpv=has_qpv,
        centre_label=None if by_status else f"objectif : {target_text}",
        notes=notes,
    )
    return _finish(m, legend)


TENSION_BREAKS: tuple[float, ...] = (2.0, 4.0, 6.0, 10.0)
"""Class limits of the pressure maps (pending demands per lease of the last 12 months)."""

TENSION_CHAMP_FR = (
    "Champ : demandes en attente le dernier jour du semestre, par commune demandée en premier "
    "choix ; attributions (baux signés) des 12 derniers mois, par commune du logement."
)
TENSION_LECTURE_FR = (
    "Lecture : une tension de 4 signifie 4 demandes en attente pour une attribution sur "
    "un an dans la commune."
)


def tension_classes() -> ColourClasses:
    """Fixed classes of the pressure maps (the same on every territory and semester)."""
    b = TENSION_BREAKS

    def f(v: float) -> str:
        return fmt_float(v, digits=0)

    labels = (
        f"moins de {f(b[0])}",
        *(f"de {f(lo)} à moins de {f(hi)}" for lo, hi in zip(b, b[1:], strict=False)),
        f"{f(b[-1])} ou plus",
    )
    return ColourClasses(breaks=b, colours=SEQUENTIAL_COLOURS, labels=labels)


def tension_shown_rows(
    communes: gpd.GeoDataFrame, tension: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Merge of the communes with their pressure rows; communes with data, and hidden ones.

    A commune with data has pending demands or leases (at least one published or
    hidden count); it is hidden when its ratio is not published (secret, or no
    lease over the 12 months: the ratio is then not defined).
    """
    _require_columns(
        tension, ["commune", "demandes", "attributions_12m", "ratio"], argument="tension"
    )
    _require_columns(communes, ["insee_com", "nom", "geometry"], argument="communes")
    # the contours give the names: a ``nom`` column of the table is not merged twice
    rows = tension.drop(columns=["nom"], errors="ignore")
    rows = rows.assign(commune=rows["commune"].astype(str))
    merged = communes.merge(rows, how="left", left_on="insee_com", right_on="commune")
    dem = pd.to_numeric(merged["demandes"], errors="coerce").astype(float)
    att = pd.to_numeric(merged["attributions_12m"], errors="coerce").astype(float)
    ratio = pd.to_numeric(merged["ratio"], errors="coerce").astype(float)
    has_row = merged["commune"].notna() & ~((dem == 0) & (att == 0))
    hidden = has_row & ratio.isna()
    return merged, has_row, hidden


def tension_map(
    communes: gpd.GeoDataFrame,
    tension: pd.DataFrame,
    *,
    qpv: gpd.GeoDataFrame | None = None,
    title: str = "Tension de la demande par commune",
    source: str = DEFAULT_SOURCE,
    tiles: str | folium.TileLayer | None = None,
    tiles_attr: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE_M,
    period_label: str | None = None,
    territory_label: str | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> folium.Map:
    """Commune choropleth of the pressure: pending demands per lease of the last 12 months.

    Fixed sequential classes (:func:`tension_classes`, ColorBrewer BuPu [1]_);
    communes whose ratio is not published (statistical secret, or no lease
    over the 12 months) are grey and hatched; « Champ » and « Lecture » lines
    in the legend, the source line at the bottom; the same publishability rule
    as the other commune maps (:data:`MIN_PUBLISHABLE_SHARE`).

    Parameters
    ----------
    communes : GeoDataFrame
        Columns ``insee_com``, ``nom``, ``geometry``.
    tension : DataFrame
        One published row per commune, all typologies together
        (:func:`allocation_analysis.pressure.tension_map_frame`): ``commune``,
        ``demandes``, ``attributions_12m``, ``ratio``.
    qpv : GeoDataFrame, optional
        QPV perimeters, outlined on top.
    title, source : str
        Title and source line.
    tiles, tiles_attr : optional
        Basemap for online use (none by default).
    tolerance : float
        Simplification tolerance in metres.
    period_label, territory_label : str, optional
        Shown under the title.
    min_publishable_share : float
        Publishability rule.

    Returns
    -------
    folium.Map
        With an attribute ``publishable``.

    References
    ----------
    .. [1] Brewer, C. A., Hatchard, G. W. & Harrower, M. A. (2003). ColorBrewer in
       print. *Cartography and Geographic Information Science*, 30(1), 5-32.
    """
    web = _prepare_communes(communes, tolerance=tolerance)
    merged, has_row, hidden = tension_shown_rows(web, tension)
    subtitle = _subtitle(period_label=period_label, territory_label=territory_label)
    ok, n_shown, n_data = _publishable(has_row, hidden, min_publishable_share)
    if not ok:
        return _not_publishable_map(
            web,
            title=title,
            subtitle=subtitle,
            source=source,
            reason="trop peu de demandes ou d'attributions par commune",
            n_shown=n_shown,
            n_data=n_data,
            min_share=min_publishable_share,
        )
    classes = tension_classes()
    props = pd.DataFrame(index=merged.index)
    props["t_commune"] = _commune_text(merged)
    props["t_num"] = MISSING
    props["t_den"] = MISSING
    props["t_ratio"] = MISSING
    props["aa_state"] = "nodata"
    props["aa_fill"] = NO_DATA_FILL
    for i in merged.index[has_row]:
        r = merged.loc[i]
        for col, key in (("demandes", "t_num"), ("attributions_12m", "t_den")):
            if not is_missing(r[col]):
                props.loc[i, key] = fmt_int(r[col])
        if hidden[i]:
            props.loc[i, "aa_state"] = "suppressed"
            continue
        props.loc[i, "t_ratio"] = fmt_float(float(r["ratio"]), digits=1)
        props.loc[i, "aa_state"] = "value"
        props.loc[i, "aa_fill"] = classes.colour(float(r["ratio"]))
    m, has_qpv = _commune_layer_map(
        merged[["insee_com", "nom", "geometry"]].join(props),
        props.columns,
        fields=["t_commune", "t_num", "t_den", "t_ratio"],
        aliases=[
            "Commune",
            "Demandes en attente (1er choix)",
            "Attributions sur 12 mois",
            "Demandes par attribution",
        ],
        qpv=qpv,
        tolerance=tolerance,
        title=title,
        source=source,
        tiles=tiles,
        tiles_attr=tiles_attr,
        subtitle=subtitle,
    )
    legend = _legend_html(
        "Demandes en attente par attribution",
        classes,
        suppressed=bool(hidden.any()),
        no_data=bool((~has_row).any()),
        qpv=has_qpv,
        notes=[TENSION_CHAMP_FR, TENSION_LECTURE_FR],
    )
    return _finish(m, legend)


def _state_style(feature: Mapping[str, Any]) -> dict:
    props = feature["properties"]
    state = props.get("aa_state")
    if state == "suppressed":
        return _style("", suppressed=True)
    if state == "nodata":
        return _no_data_style()
    if props.get("aa_significant"):
        return _style(
            props["aa_fill"],
            suppressed=False,
            weight=SIGNIFICANT_WEIGHT,
            colour=SIGNIFICANT_COLOUR,
        )
    return _style(props["aa_fill"], suppressed=False)


_GAP_COLUMNS = ("insee_com", "estimate", "ci_low", "ci_high", "p_adjusted", "n", "suppressed")


def disparity_map(
    communes: gpd.GeoDataFrame,
    gaps: pd.DataFrame,
    *,
    title: str | None = None,
    comparison: str | None = None,
    alpha: float = 0.05,
    qpv: gpd.GeoDataFrame | None = None,
    source: str = DEFAULT_SOURCE,
    tiles: str | folium.TileLayer | None = None,
    tiles_attr: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE_M,
    group: str | None = None,
    reference: str | None = None,
    period_label: str | None = None,
    territory_label: str | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> folium.Map:
    """Per-commune gap in access rate between two groups, centred on zero.

    The estimate is a difference of two rates (proportions), drawn in percentage
    points on ColorBrewer PuOr (orange: the compared group has the lower rate,
    purple: the higher). Communes whose adjusted p-value (``p_adjusted``, already
    corrected for multiple testing by the statistics module) is below ``alpha``
    get a thick solid outline; QPV perimeters are thin dashed lines. The rule of
    :data:`MIN_PUBLISHABLE_SHARE` applies as in :func:`indicator_map`.

    Parameters
    ----------
    communes : GeoDataFrame
        Columns ``insee_com``, ``nom``, ``geometry``.
    gaps : DataFrame
        Columns ``insee_com, estimate, ci_low, ci_high, p_adjusted, n, suppressed``
        (``n``: demands of the two groups together). Optional columns
        ``rate_group`` and ``rate_reference`` (each group's rate) and
        ``n_group`` and ``n_reference`` (each group's demands) are shown in
        the tooltip when present.
    title : str, optional
        Map title (default: « Écart de taux d'accès : <groupe> / <référence> »).
    comparison : str, optional
        What the gap compares, shown in the legend (default: built from
        ``group`` and ``reference``).
    alpha : float
        Significance level applied to ``p_adjusted``.
    qpv : GeoDataFrame, optional
        QPV perimeters drawn on top.
    source : str
        Source line.
    tiles, tiles_attr : optional
        Basemap for online use.
    tolerance : float
        Simplification tolerance in metres.
    group, reference : str, optional
        Codes of the compared and reference groups (``"hors_ue"``,
        ``"francaise"``…), labelled from :mod:`allocation_analysis.labels` in
        the title, legend and tooltips.
    period_label, territory_label : str, optional
        Period and territory shown under the title and in the page title.
    min_publishable_share : float
        Publishability rule (default :data:`MIN_PUBLISHABLE_SHARE`).

    Returns
    -------
    folium.Map
        With an attribute ``publishable``.

    References
    ----------
    .. [1] Brewer, C. A., Hatchard, G. W. & Harrower, M. A. (2003). ColorBrewer in
       print. *Cartography and Geographic Information Science*, 30(1), 5-32.
    """
    _require_columns(gaps, _GAP_COLUMNS, argument="gaps")
    if not 0 < alpha < 1:
        raise UsageError(f"« alpha » doit être compris entre 0 et 1 (reçu {alpha}).")
    gaps = gaps.assign(insee_com=gaps["insee_com"].astype(str))
    if gaps["insee_com"].duplicated().any():
        dup = gaps.loc[gaps["insee_com"].duplicated(), "insee_com"].iloc[0]
        raise UsageError(f"« gaps » : plusieurs lignes pour la commune {dup}.")
    g_long = _group_label(group, {}) if group else "groupe comparé"
    r_long = _group_label(reference, {}) if reference else "groupe de référence"
    g_short = _group_label(group, {}, kind="group_short") if group else "groupe comparé"
    r_short = _group_label(reference, {}, kind="group_short") if reference else "référence"
    if comparison is None and group and reference:
        comparison = comparison_label(group, reference)
    if title is None:
        title = "Écart de taux d'accès" + (f" : {comparison}" if comparison else "")
    subtitle = _subtitle(period_label=period_label, territory_label=territory_label)

    web = _prepare_communes(communes, tolerance=tolerance)
    merged = web.merge(gaps, how="left", on="insee_com", indicator="_merge")
    has_row = merged["_merge"] == "both"
    estimate = pd.to_numeric(merged["estimate"], errors="coerce")
    hidden = has_row & (_to_bool(merged["suppressed"]) | estimate.isna())
    ok, n_shown, n_data = _publishable(has_row, hidden, min_publishable_share)
    if not ok:
        return _not_publishable_map(
            web,
            title=title,
            subtitle=subtitle,
            source=source,
            reason="trop peu de demandes par commune sur la période",
            n_shown=n_shown,
            n_data=n_data,
            min_share=min_publishable_share,
        )
    p_adj = pd.to_numeric(merged["p_adjusted"], errors="coerce")
    significant = has_row & ~hidden & (p_adj < alpha)
    classes = diverging_classes(estimate[has_row & ~hidden], centre=0.0, fmt=fmt_points)

    fields = ["t_commune", "t_estimate", "t_ci", "t_p"]
    aliases = [
        "Commune",
        f"Écart de taux d'accès ({comparison})" if comparison else "Écart de taux d'accès",
        "IC 95 %",
        "p ajustée",
    ]
    extra = [
        ("rate_group", f"Taux d'accès des {g_long}", fmt_pct),
        ("rate_reference", f"Taux d'accès des {r_long}", fmt_pct),
        ("n_group", f"Demandes des {g_long}", fmt_int),
        ("n_reference", f"Demandes des {r_long}", fmt_int),
    ]
    extra = [e for e in extra if e[0] in merged.columns]
    props = pd.DataFrame(index=merged.index)
    props["t_commune"] = _commune_text(merged)
    for col in ("t_estimate", "t_ci", "t_p", "t_n"):
        props[col] = MISSING
    for col, _alias, _fmt in extra:
        props[f"t_{col}"] = MISSING
    props["t_signif"] = NO_DATA_LABEL
    props["aa_state"] = "nodata"
    props["aa_fill"] = NO_DATA_FILL
    props["aa_significant"] = significant.to_numpy()
    for i in merged.index[has_row]:
        r = merged.loc[i]
        if hidden[i]:
            props.loc[i, "t_signif"] = SUPPRESSED_LABEL
            props.loc[i, "aa_state"] = "suppressed"
            continue
        props.loc[i, "t_estimate"] = fmt_points(r["estimate"])
        if not (is_missing(r["ci_low"]) or is_missing(r["ci_high"])):
            props.loc[i, "t_ci"] = f"{fmt_points(r['ci_low'])} ; {fmt_points(r['ci_high'])}"
        props.loc[i, "t_p"] = fmt_p(r["p_adjusted"], prefix=False)
        props.loc[i, "t_n"] = fmt_int(r["n"]) if not is_missing(r["n"]) else MISSING
        for col, _alias, fmt in extra:
            if not is_missing(r[col]):
                props.loc[i, f"t_{col}"] = fmt(r[col])
        props.loc[i, "t_signif"] = (
            "écart significatif" if significant[i] else "écart non significatif"
        )
        props.loc[i, "aa_state"] = "value"
        props.loc[i, "aa_fill"] = classes.colour(float(r["estimate"]))
    fields += [f"t_{col}" for col, _a, _f in extra] + ["t_n", "t_signif"]
    aliases += [alias for _c, alias, _f in extra]
    aliases += [
        f"Demandes des deux groupes ({g_short} et {r_short})",
        f"Significativité (seuil {fmt_float(alpha, digits=2)})",
    ]
    m, has_qpv = _commune_layer_map(
        web.join(props),
        props.columns,
        fields=fields,
        aliases=aliases,
        qpv=qpv,
        tolerance=tolerance,
        title=title,
        source=source,
        tiles=tiles,
        tiles_attr=tiles_attr,
        subtitle=subtitle,
    )
    notes = [
        f"taux d'accès « {g_short} » moins taux « {r_short} », en points de pourcentage",
        f"orange : taux plus faible pour « {g_short} » ; violet : plus élevé",
    ]
    legend = _legend_html(
        "Écart de taux d'accès",
        classes,
        suppressed=bool(hidden.any()),
        no_data=bool((~has_row).any()),
        qpv=has_qpv,
        significant=True,
        centre_label="aucun écart",
        notes=notes,
    )
    return _finish(m, legend)


_PLACEMENT_COLUMNS = ("insee_com", "group", "n", "share_qpv", "suppressed")


def _check_placement_frame(placement: pd.DataFrame) -> pd.DataFrame:
    if isinstance(placement, gpd.GeoDataFrame):
        raise UsageError(
            "« placement » doit être un tableau agrégé par commune et par groupe, "
            "sans géométrie : la carte ne représente jamais un point par ménage."
        )
    _require_columns(placement, _PLACEMENT_COLUMNS, argument="placement")
    point_cols = sorted(_POINT_LEVEL_COLUMNS.intersection(c.lower() for c in placement.columns))
    if point_cols:
        raise UsageError(
            f"« placement » contient des colonnes de niveau ménage ou de coordonnées "
            f"({', '.join(point_cols)}) : agrégez par commune et par groupe avant de cartographier."
        )
    frame = placement.assign(insee_com=placement["insee_com"].astype(str))
    if frame.duplicated(["insee_com", "group"]).any():
        raise UsageError(
            "« placement » contient plusieurs lignes pour un même couple (commune, groupe) : "
            "la carte attend une ligne agrégée par commune et par groupe, jamais une par ménage."
        )
    return frame


def placement_map(
    communes: gpd.GeoDataFrame,
    placement: pd.DataFrame,
    *,
    qpv: gpd.GeoDataFrame | None = None,
    title: str = "Part des attributions en QPV, par groupe d'origine",
    group_labels: Mapping[str, str] | None = None,
    source: str = DEFAULT_SOURCE,
    tiles: str | folium.TileLayer | None = None,
    tiles_attr: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE_M,
    period_label: str | None = None,
    territory_label: str | None = None,
    min_publishable_share: float = MIN_PUBLISHABLE_SHARE,
) -> folium.Map:
    """Share of allocations located in a QPV, by origin group, per commune.

    One layer per group (radio buttons in the layer control), all on the same
    fixed classes so that layers compare; the tooltip of a commune gives the
    share of every group, so that the groups compare without switching layers.
    The frame must be aggregated (one row per commune and group); a
    household-level or point frame is refused. A group whose layer would fail
    the rule of :data:`MIN_PUBLISHABLE_SHARE` gets no layer (it is named in the
    legend); when no group passes, the box « Carte non publiable » replaces the
    map.

    Parameters
    ----------
    communes : GeoDataFrame
        Columns ``insee_com``, ``nom``, ``geometry``.
    placement : DataFrame
        Columns ``insee_com, group, n, share_qpv, suppressed``, one row per
        (commune, group). A GeoDataFrame, coordinates or household identifiers are
        refused.
    qpv : GeoDataFrame, optional
        QPV perimeters drawn on top.
    title : str
        Map title.
    group_labels : mapping, optional
        Display name of each group (default: from :mod:`allocation_analysis.labels`).
    source : str
        Source line.
    tiles, tiles_attr : optional
        Basemap for online use.
    tolerance : float
        Simplification tolerance in metres.
    period_label, territory_label : str, optional
        Period and territory shown under the title and in the page title.
    min_publishable_share : float
        Publishability rule (default :data:`MIN_PUBLISHABLE_SHARE`).

    Returns
    -------
    folium.Map
        With an attribute ``publishable``.
    """
    frame = _check_placement_frame(placement)
    groups = list(pd.unique(frame["group"].dropna()))
    if not groups:
        raise UsageError("« placement » ne contient aucun groupe.")
    names = {str(g): _group_label(g, dict(group_labels or {})) for g in groups}
    classes = sequential_share_classes()
    web = _prepare_communes(communes, tolerance=tolerance)
    subtitle = _subtitle(period_label=period_label, territory_label=territory_label)

    # One merged frame per group, and the groups that pass the publishability rule.
    layers: dict[Any, tuple[pd.DataFrame, pd.Series, pd.Series]] = {}
    refused: list[str] = []
    best = (0, 0)
    for group in groups:
        merged = web.merge(
            frame[frame["group"] == group], how="left", on="insee_com", indicator="_merge"
        )
        has_row = merged["_merge"] == "both"
        share = pd.to_numeric(merged["share_qpv"], errors="coerce")
        hidden = has_row & (_to_bool(merged["suppressed"]) | share.isna())
        ok, n_shown, n_data = _publishable(has_row, hidden, min_publishable_share)
        if ok:
            layers[group] = (merged, has_row, hidden)
        else:
            refused.append(names[str(group)])
            best = max(best, (n_shown, n_data))
    if not layers:
        return _not_publishable_map(
            web,
            title=title,
            subtitle=subtitle,
            source=source,
            reason="trop peu d'attributions par commune sur la période",
            n_shown=best[0],
            n_data=best[1],
            min_share=min_publishable_share,
        )

    # Tooltip lines shared by every layer: each published group's share in the commune.
    shares_text: dict[Any, list[str]] = {}
    counts_text: dict[Any, list[str]] = {}
    for group, (merged, has_row, hidden) in layers.items():
        shares_text[group] = [
            (SUPPRESSED_LABEL if hidden[i] else fmt_pct(merged.loc[i, "share_qpv"]))
            if has_row[i]
            else NO_DATA_LABEL
            for i in merged.index
        ]
        counts_text[group] = [
            fmt_int(merged.loc[i, "n"])
            if has_row[i] and not hidden[i] and not is_missing(merged.loc[i, "n"])
            else MISSING
            for i in merged.index
        ]

    m = _base_map(
        web.total_bounds,
        title=title,
        source=source,
        tiles=tiles,
        tiles_attr=tiles_attr,
        subtitle=subtitle,
    )
    any_missing = any(bool((~h).any()) for _m, h, _x in layers.values())
    any_hidden = any(bool(x.any()) for _m, _h, x in layers.values())
    for k, (group, (merged, has_row, hidden)) in enumerate(layers.items()):
        name = names[str(group)]
        props = pd.DataFrame(index=merged.index)
        props["t_commune"] = _commune_text(merged)
        props["t_n"] = counts_text[group]
        props["t_share"] = shares_text[group]
        others = [g for g in layers if g != group]
        for j, other in enumerate(others):
            props[f"t_other{j}"] = shares_text[other]
        props["aa_state"] = [
            ("suppressed" if hidden[i] else "value") if has_row[i] else "nodata"
            for i in merged.index
        ]
        props["aa_fill"] = [
            classes.colour(float(merged.loc[i, "share_qpv"]))
            if has_row[i] and not hidden[i]
            else NO_DATA_FILL
            for i in merged.index
        ]
        layer = web[["geometry"]].join(props)
        fields = ["t_commune", "t_n", "t_share"] + [f"t_other{j}" for j in range(len(others))]
        aliases = [
            "Commune",
            f"Attributions aux {name}",
            f"Part en QPV des attributions aux {name}",
            *(f"Part en QPV pour les {names[str(o)]}" for o in others),
        ]
        folium.GeoJson(
            _feature_collection(layer, list(props.columns)),
            name=name,
            overlay=False,
            show=k == 0,
            style_function=_state_style,
            highlight_function=lambda _f: _HIGHLIGHT,
            tooltip=_tooltip(fields, aliases),
        ).add_to(m)
    has_qpv = _add_qpv(m, qpv, tolerance=tolerance)
    notes = ["un calque par groupe (sélecteur en haut à droite)"]
    if refused:
        notes.append("non publiés (trop peu d'attributions par commune) : " + ", ".join(refused))
    legend = _legend_html(
        "Part des attributions en QPV",
        classes,
        suppressed=any_hidden,
        no_data=any_missing,
        qpv=has_qpv,
        notes=notes,
    )
    return _finish(m, legend)


# --------------------------------------------------------------------------- output
_EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


def external_resources(page: str) -> list[str]:
    """URLs of scripts and stylesheets that ``page`` would fetch from the network."""
    found = re.findall(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)", page, flags=re.IGNORECASE)
    for tag in re.findall(r"<link\b[^>]*>", page, flags=re.IGNORECASE):
        href = re.search(r"\bhref\s*=\s*[\"']([^\"']+)", tag, flags=re.IGNORECASE)
        if href:
            found.append(href.group(1))
    found += re.findall(r"@import\s+(?:url\()?[\"']?([^\"')\s;]+)", page, flags=re.IGNORECASE)
    return [u for u in found if _EXTERNAL.match(u)]


def _strip_cdn(element: Any) -> None:
    if hasattr(element, "default_js"):
        element.default_js = []
    if hasattr(element, "default_css"):
        element.default_css = []
    for child in getattr(element, "_children", {}).values():
        _strip_cdn(child)


def _stable_ids(element: Any, counter: list[int] | None = None) -> None:
    """Number every element of a page in tree order, in place of folium's random ids.

    branca gives each element 16 random bytes as id, and the id is written in the
    page (JavaScript variable names, ``div`` ids): the same map would give a
    different file at every run. Renumbering in the order of the tree (children
    in insertion order) makes the page a function of the map alone. Children
    registered under their element's name are re-keyed with the new name, and a text
    attribute made from the old id (a layer's default ``layer_name``) takes the new one.
    """
    counter = [0] if counter is None else counter
    old_id, new_id = element._id, f"{counter[0]:032x}"
    element._id = new_id
    counter[0] += 1
    for attr, value in list(vars(element).items()):
        # e.g. a layer's default ``layer_name``, made from the id at construction
        if isinstance(value, str) and old_id in value:
            setattr(element, attr, value.replace(old_id, new_id))
    children = getattr(element, "_children", None)
    if not children:
        return
    renamed = type(children)()
    for key, child in children.items():
        old = child.get_name()
        _stable_ids(child, counter)
        renamed[child.get_name() if key == old else key] = child
    element._children = renamed


def render_map(m: folium.Map) -> str:
    """The self-contained HTML page of ``m`` (no script or stylesheet fetched remotely).

    Element ids are numbered in tree order (:func:`_stable_ids`): the same map
    gives the same bytes at every run.
    """
    _strip_cdn(m)
    root = m.get_root()
    if "aa_inline_assets" not in root.header._children:
        root.header.add_child(_InlineAssets(), name="aa_inline_assets")
    _stable_ids(root)
    page = root.render()
    page = page.replace("<html>", '<html lang="fr">', 1)
    remote = external_resources(page)
    if remote:
        raise AnalysisError(
            "La carte fait encore appel à des ressources en ligne : " + ", ".join(remote)
        )
    return page


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write ``m`` as one self-contained HTML file that renders with no network.

    Leaflet's script and stylesheet (from the ``XStatic-Leaflet`` package) and the
    map's own styles are inlined; folium's CDN links (jQuery, Bootstrap, Font
    Awesome, awesome-markers) are removed, as the maps use none of them.

    Parameters
    ----------
    m : folium.Map
        A map built by this module (or any folium map using plain Leaflet only).
    path : str or Path
        Output file (``.html``); parent folders are created.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    page = render_map(m)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    logger.info("carte écrite : %s (%d octets)", path, path.stat().st_size)
    return path

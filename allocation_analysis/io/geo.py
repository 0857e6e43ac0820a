"""Commune and QPV layers: reading, CRS handling, geometry repair, point assignment.

Every layer is returned in Lambert-93 (EPSG:2154), the projection in which all
geometric computation is done; :func:`to_wgs84` and :func:`simplify_for_web`
give the EPSG:4326 version used by web maps.

Layers
------
- communes → columns ``insee_com`` (pandas ``string``, 5 characters), ``nom``,
  ``geometry``;
- QPV → ``code_qpv``, ``nom_qpv``, ``liste`` (``"2015"`` for ``QP…`` codes,
  ``"2024"`` for ``QN…`` codes), ``geometry``.

Rejected features
-----------------
Features that cannot be used (missing or malformed code, empty geometry,
geometry that is not polygonal or cannot be repaired) are removed from the
layer and recorded in ``gdf.attrs["rejects"]`` as a list of records; the
function :func:`geometry_rejects` turns them into a DataFrame with the columns
of the validation rejects table (``table, source_row, column, value, rule,
message``), where ``source_row`` is the feature number (1-based). A warning is
logged whenever a feature is rejected or a geometry repaired, so nothing is
dropped silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from allocation_analysis.errors import InputError
from allocation_analysis.text import fmt_num

__all__ = [
    "COMMUNE_CODE_COLUMNS",
    "COMMUNE_NAME_COLUMNS",
    "LAMBERT93",
    "QPV_CODE_COLUMNS",
    "QPV_NAME_COLUMNS",
    "WGS84",
    "assign_points",
    "geometry_rejects",
    "load_communes",
    "load_qpv",
    "simplify_for_web",
    "to_wgs84",
]

logger = logging.getLogger(__name__)

LAMBERT93 = "EPSG:2154"
WGS84 = "EPSG:4326"

#: Accepted spellings of the INSEE code column of a commune layer, by priority
#: (compared case-insensitively).
COMMUNE_CODE_COLUMNS: tuple[str, ...] = (
    "insee_com",
    "code_insee",
    "codgeo",
    "code_commune",
    "insee",
    "inseecom",
    "depcom",
    "code",
    "com",
)
#: Accepted spellings of the name column of a commune layer.
COMMUNE_NAME_COLUMNS: tuple[str, ...] = (
    "nom",
    "nom_com",
    "nom_commune",
    "libgeo",
    "libelle",
    "lib_com",
    "name",
)
#: Accepted spellings of the code column of a QPV layer (2015 and 2024 lists).
QPV_CODE_COLUMNS: tuple[str, ...] = (
    "code_qp",
    "code_quartier",
    "code_qpv",
    "code",
)
#: Accepted spellings of the name column of a QPV layer.
QPV_NAME_COLUMNS: tuple[str, ...] = (
    "nom_qp",
    "nom_quartier",
    "nom_qpv",
    "nom",
    "libelle",
)

_INSEE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_QPV_RE = re.compile(r"^Q[PN][0-9A-Z]{5,7}$")

# Coordinate extents used to guess a missing CRS. The Lambert-93 box is the
# projected area of use of EPSG:2154 (metropolitan France), slightly widened.
_LONLAT_BOX = (-180.0, -90.0, 180.0, 90.0)
_LAMBERT93_BOX = (0.0, 6_000_000.0, 1_300_000.0, 7_200_000.0)
_GEOJSON_SUFFIXES = {".geojson", ".json"}


# --------------------------------------------------------------------------- #
# reading
# --------------------------------------------------------------------------- #
def load_communes(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a commune layer (GeoJSON, GeoPackage or shapefile).

    Parameters
    ----------
    path : str or Path
        The file.
    layer : str, optional
        Layer name inside a multi-layer file (GeoPackage); first layer by default.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``insee_com`` (pandas ``string``, 5 characters), ``nom``
        (``string``), ``geometry`` (polygonal), in EPSG:2154. Rejected features
        are listed in ``attrs["rejects"]`` (see :func:`geometry_rejects`).

    Raises
    ------
    InputError
        When the file cannot be read, has no code column among
        :data:`COMMUNE_CODE_COLUMNS`, has no usable CRS, or no usable feature.
    """
    path = Path(path)
    raw = _read_layer(path, layer=layer)
    code_col = _find_column(raw, COMMUNE_CODE_COLUMNS, path, what="code INSEE de commune")
    name_col = _find_column(raw, COMMUNE_NAME_COLUMNS, path, what="nom", required=False)
    codes = _normalise_insee(raw[code_col])
    names = (
        raw[name_col].astype("string").str.strip()
        if name_col
        else pd.Series(pd.NA, index=raw.index, dtype="string")
    )
    rejects: list[dict[str, Any]] = []
    bad_code = codes.isna() | ~codes.fillna("").str.match(_INSEE_RE)
    for i in np.flatnonzero(bad_code.to_numpy()):
        rejects.append(
            _reject(
                "communes",
                i,
                code_col,
                raw[code_col].iloc[i],
                "code_insee_invalide",
                "code INSEE manquant ou mal formé (attendu 5 caractères, ex. 59350 ou 2A004)",
            )
        )
    gdf = gpd.GeoDataFrame(
        {"insee_com": codes.astype("string"), "nom": names},
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
        index=raw.index,
    )
    keep = ~bad_code.to_numpy()
    gdf = _finish(gdf, keep, rejects, path, code_col="insee_com", table="communes")
    return gdf


def load_qpv(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a QPV layer: the 2015 list, the 2024 list, or both.

    Parameters
    ----------
    path : str or Path
        The file (GeoJSON, GeoPackage or shapefile), in any defined CRS
        (usually EPSG:4326 or EPSG:2154).
    layer : str, optional
        Layer name inside a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code_qpv`` (``string``), ``nom_qpv`` (``string``), ``liste``
        (``"2015"`` for ``QP…`` codes, ``"2024"`` for ``QN…`` codes),
        ``geometry``, in EPSG:2154. Rejected features are listed in
        ``attrs["rejects"]``.

    Raises
    ------
    InputError
        When the file cannot be read, has no code column among
        :data:`QPV_CODE_COLUMNS`, has no usable CRS, or no usable feature.

    Notes
    -----
    The 2015 list (``CODE_QP``, ``NOM_QP``, ``COMMUNE_QP``) is in force until
    2023-12-31, the 2024 list (``code_quartier``, ``nom_quartier``) from
    2024-01-01; the list is read from the code prefix, not from the column name.
    """
    path = Path(path)
    raw = _read_layer(path, layer=layer)
    code_col = _find_column(raw, QPV_CODE_COLUMNS, path, what="code QPV")
    name_col = _find_column(raw, QPV_NAME_COLUMNS, path, what="nom", required=False)
    codes = raw[code_col].astype("string").str.strip().str.upper()
    names = (
        raw[name_col].astype("string").str.strip()
        if name_col
        else pd.Series(pd.NA, index=raw.index, dtype="string")
    )
    rejects: list[dict[str, Any]] = []
    bad_code = codes.isna() | ~codes.fillna("").str.match(_QPV_RE)
    for i in np.flatnonzero(bad_code.to_numpy()):
        rejects.append(
            _reject(
                "qpv",
                i,
                code_col,
                raw[code_col].iloc[i],
                "code_qpv_invalide",
                "code QPV manquant ou mal formé (attendu QP… pour la liste 2015, "
                "QN… pour la liste 2024)",
            )
        )
    liste = pd.Series(
        np.where(codes.fillna("").str.startswith("QN"), "2024", "2015"),
        index=raw.index,
        dtype="string",
    )
    gdf = gpd.GeoDataFrame(
        {"code_qpv": codes, "nom_qpv": names, "liste": liste},
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
        index=raw.index,
    )
    keep = ~bad_code.to_numpy()
    return _finish(gdf, keep, rejects, path, code_col="code_qpv", table="qpv")


def geometry_rejects(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """The features rejected when a layer was loaded.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A layer returned by :func:`load_communes` or :func:`load_qpv`.

    Returns
    -------
    pandas.DataFrame
        Columns ``table, source_row, column, value, rule, message``;
        ``source_row`` is the 1-based feature number in the file. Empty when
        nothing was rejected.
    """
    cols = ["table", "source_row", "column", "value", "rule", "message"]
    records = gdf.attrs.get("rejects", [])
    out = pd.DataFrame.from_records(list(records), columns=cols)
    return out.astype({"source_row": "Int64"}) if len(out) else out


def _read_layer(path: Path, *, layer: str | None) -> gpd.GeoDataFrame:
    from allocation_analysis.io.readers import check_regular_file

    if not path.exists():
        raise InputError("Fichier géographique introuvable.", file=str(path))
    check_regular_file(path, directory_ok=True)  # a FIFO or a device would block the reader
    try:
        kwargs = {"layer": layer} if layer is not None else {}
        raw = gpd.read_file(path, **kwargs)
    except Exception as exc:  # pyogrio raises several unrelated error types
        raise InputError(
            f"Fichier géographique illisible (GeoJSON, GeoPackage ou shapefile attendu) : {exc}",
            file=str(path),
        ) from None
    if not isinstance(raw, gpd.GeoDataFrame) or raw.geometry.name not in raw.columns:
        raise InputError("Le fichier ne contient pas de géométries.", file=str(path))
    if len(raw) == 0:
        raise InputError("La couche géographique est vide.", file=str(path))
    raw = raw.reset_index(drop=True)
    return _ensure_crs(raw, path)


def _find_column(
    raw: pd.DataFrame,
    candidates: Sequence[str],
    path: Path,
    *,
    what: str,
    required: bool = True,
) -> str | None:
    by_lower: dict[str, str] = {}
    for c in raw.columns:
        if c == raw.geometry.name:
            continue
        by_lower.setdefault(str(c).strip().lower(), c)
    for cand in candidates:
        if cand in by_lower:
            return by_lower[cand]
    if not required:
        return None
    found = [str(c) for c in raw.columns if c != raw.geometry.name]
    raise InputError(
        f"Colonne de {what} introuvable. Noms acceptés : {', '.join(candidates)} "
        f"(toute casse) ; colonnes présentes : {', '.join(found) or 'aucune'}.",
        file=str(path),
        column=candidates[0],
        rule="colonne_manquante",
    )


def _normalise_insee(values: pd.Series) -> pd.Series:
    """INSEE codes as 5-character strings (``59009.0`` → ``59009``, ``1001`` → ``01001``)."""
    s = values.astype("string").str.strip().str.upper()
    s = s.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    short = s.str.fullmatch(r"\d{4}").fillna(False)
    return s.mask(short, s.str.zfill(5))


def _in_box(bounds: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return bool(minx >= box[0] and miny >= box[1] and maxx <= box[2] and maxy <= box[3])


def _ensure_crs(raw: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Give the layer a CRS: declared, GeoJSON default (WGS84), or an unambiguous guess."""
    geoms = raw.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bounds = (
        np.asarray(shapely.total_bounds(geoms[present])) if present.any() else np.full(4, np.nan)
    )
    finite = bool(np.isfinite(bounds).all())
    fits_lonlat = finite and _in_box(bounds, _LONLAT_BOX)
    fits_l93 = finite and _in_box(bounds, _LAMBERT93_BOX)
    crs = raw.crs
    if crs is None and path.suffix.lower() in _GEOJSON_SUFFIXES:
        # RFC 7946: GeoJSON coordinates are WGS84 longitude/latitude.
        crs = CRS.from_user_input(WGS84)
    if crs is not None and CRS.from_user_input(crs).is_geographic and finite and not fits_lonlat:
        # A declared (or default) geographic CRS with projected coordinates:
        # a common export mistake (Lambert-93 written without its CRS).
        if fits_l93:
            logger.warning(
                "%s : coordonnées hors des bornes longitude/latitude alors que le SCR "
                "déclaré est géographique ; coordonnées interprétées en Lambert-93 (EPSG:2154).",
                path,
            )
            return raw.set_crs(LAMBERT93, allow_override=True)
        raise InputError(
            "Coordonnées incompatibles avec le système de coordonnées déclaré "
            f"({CRS.from_user_input(crs).to_string()}) : étendue {_fmt_bounds(bounds)}.",
            file=str(path),
            column="geometry",
            rule="scr_incoherent",
        )
    if crs is not None:
        return raw.set_crs(crs, allow_override=True) if raw.crs is None else raw
    if fits_lonlat and not fits_l93:
        logger.warning(
            "%s : aucun système de coordonnées défini ; coordonnées interprétées en "
            "longitude/latitude WGS84 (EPSG:4326) d'après leur étendue.",
            path,
        )
        return raw.set_crs(WGS84)
    if fits_l93 and not fits_lonlat:
        logger.warning(
            "%s : aucun système de coordonnées défini ; coordonnées interprétées en "
            "Lambert-93 (EPSG:2154) d'après leur étendue.",
            path,
        )
        return raw.set_crs(LAMBERT93)
    raise InputError(
        "Système de coordonnées sans définition, et l'étendue des coordonnées "
        f"({_fmt_bounds(bounds)}) ne permet de reconnaître ni longitude/latitude WGS84 "
        "ni Lambert-93. Ajoutez la définition du système (fichier .prj) ou exportez "
        "en EPSG:4326 ou EPSG:2154.",
        file=str(path),
        column="geometry",
        rule="scr_sans_definition",
    )


def _fmt_bounds(bounds: np.ndarray) -> str:
    if not np.isfinite(bounds).all():
        return "indéterminée"
    x0, y0, x1, y1 = (fmt_num(b) for b in bounds)
    return f"x {x0} à {x1}, y {y0} à {y1}"


def _reject(
    table: str, pos: int, column: str, value: Any, rule: str, message: str
) -> dict[str, Any]:
    return {
        "table": table,
        "source_row": int(pos) + 1,
        "column": str(column),
        "value": None if value is None or (np.ndim(value) == 0 and pd.isna(value)) else str(value),
        "rule": rule,
        "message": message,
    }


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygonal part of a geometry (``None`` when there is none)."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.GeometryCollection):
        parts: list[shapely.Polygon] = []
        for g in geom.geoms:
            p = _polygonal_part(g)
            if p is None:
                continue
            parts.extend(p.geoms if isinstance(p, shapely.MultiPolygon) else [p])
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return None


def _finish(
    gdf: gpd.GeoDataFrame,
    keep: np.ndarray,
    rejects: list[dict[str, Any]],
    path: Path,
    *,
    code_col: str,
    table: str,
) -> gpd.GeoDataFrame:
    """Repair or reject geometries, reproject to Lambert-93, attach the rejects."""
    geoms = gdf.geometry.to_numpy().copy()
    keep = keep.copy()
    n_repaired = 0
    for i, geom in enumerate(geoms):
        if not keep[i]:
            continue
        code = gdf[code_col].iloc[i]
        if geom is None or shapely.is_empty(geom):
            keep[i] = False
            rejects.append(
                _reject(table, i, "geometry", code, "geometrie_vide", "géométrie absente ou vide")
            )
            continue
        if not isinstance(
            geom, shapely.Polygon | shapely.MultiPolygon | shapely.GeometryCollection
        ):
            keep[i] = False
            rejects.append(
                _reject(
                    table,
                    i,
                    "geometry",
                    code,
                    "geometrie_non_surfacique",
                    f"géométrie de type {geom.geom_type}, polygone attendu",
                )
            )
            continue
        if shapely.is_valid(geom) and isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
            continue
        fixed = _polygonal_part(shapely.make_valid(geom))
        if fixed is None or fixed.area == 0:
            keep[i] = False
            rejects.append(
                _reject(
                    table,
                    i,
                    "geometry",
                    code,
                    "geometrie_irreparable",
                    f"géométrie invalide ({shapely.is_valid_reason(geom)}) sans partie "
                    "surfacique après réparation",
                )
            )
            continue
        geoms[i] = fixed
        n_repaired += 1
    if n_repaired:
        logger.warning("%s : %d géométrie(s) invalide(s) réparée(s).", path, n_repaired)
    out = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    out = out.loc[keep].reset_index(drop=True)
    if rejects:
        logger.warning("%s : %d entité(s) rejetée(s).", path, len(rejects))
    if len(out) == 0:
        raise InputError(
            "Aucune entité utilisable dans la couche géographique "
            f"({len(rejects)} rejetée(s) ; première raison : {rejects[0]['message']}).",
            file=str(path),
            column=rejects[0]["column"] if rejects else None,
            rule="couche_inutilisable",
        )
    out = out.to_crs(LAMBERT93)
    out.attrs["rejects"] = sorted(rejects, key=lambda r: r["source_row"])
    out.attrs["source"] = str(path)
    out.attrs["n_repaired"] = n_repaired
    return out


# --------------------------------------------------------------------------- #
# point assignment
# --------------------------------------------------------------------------- #
_TO_L93 = None


def _transformer() -> Transformer:
    global _TO_L93
    if _TO_L93 is None:
        _TO_L93 = Transformer.from_crs(WGS84, LAMBERT93, always_xy=True)
    return _TO_L93


def _as_float(values: Iterable[float] | pd.Series) -> np.ndarray:
    """Coordinates as a float array, missing or unparsable values as NaN."""
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if not pd.api.types.is_numeric_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    return s.to_numpy(dtype=float, na_value=np.nan)


def _points_in_polygons(
    x: np.ndarray, y: np.ndarray, polygons: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All (point, polygon) pairs with the point strictly inside the polygon.

    Points are indexed by sorting on x (a sweep index): for each polygon, the
    points of its x-range are found by binary search, filtered on its y-range,
    then tested exactly against the prepared polygon. This avoids building one
    geometry object per point, the dominant cost of a tree query for a
    million points against a territory's few hundred polygons.
    """
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    geoms = np.array(polygons, dtype=object)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    shapely.prepare(geoms[valid])
    bounds = shapely.bounds(geoms)
    pts_out: list[np.ndarray] = []
    polys_out: list[np.ndarray] = []
    for j in np.flatnonzero(valid):
        minx, miny, maxx, maxy = bounds[j]
        lo = int(np.searchsorted(xs, minx, side="left"))
        hi = int(np.searchsorted(xs, maxx, side="right"))
        if hi <= lo:
            continue
        cand = lo + np.flatnonzero((ys[lo:hi] >= miny) & (ys[lo:hi] <= maxy))
        if cand.size == 0:
            continue
        inside = cand[shapely.contains_xy(geoms[j], xs[cand], ys[cand])]
        if inside.size:
            pts_out.append(order[inside])
            polys_out.append(np.full(inside.size, j, dtype=np.intp))
    if not pts_out:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    return np.concatenate(pts_out), np.concatenate(polys_out)


def assign_points(
    lon: Iterable[float] | pd.Series,
    lat: Iterable[float] | pd.Series,
    polygons: gpd.GeoDataFrame,
    *,
    code_column: str,
) -> pd.Series:
    """Code of the polygon containing each point (point-in-polygon with a spatial index).

    Parameters
    ----------
    lon, lat : array-like of float
        Coordinates in WGS84 (EPSG:4326), same length. Missing or non-finite
        values give ``<NA>``.
    polygons : geopandas.GeoDataFrame
        The polygons, in any defined CRS (reprojected to EPSG:2154 if needed).
    code_column : str
        Column of ``polygons`` holding the code to return.

    Returns
    -------
    pandas.Series
        Pandas ``string`` Series aligned on ``lon`` (its index when it is a
        Series): the code of the polygon that contains the point, several codes
        joined by ``|`` (sorted) when the point lies in several polygons (for
        instance overlapping QPV of the 2015 and 2024 lists), ``<NA>`` when none.

    Notes
    -----
    Points are projected to Lambert-93 and indexed by sorting on x; each
    polygon's bounding box selects candidate points by binary search, and the
    candidates are tested exactly against the prepared polygon
    (:func:`shapely.contains_xy`). This is equivalent to a ``within`` query of a
    spatial tree and about five times faster for a million points, as no point
    geometry is built. A point lying exactly on a boundary is not inside, and
    gets ``<NA>`` unless it is strictly inside another polygon.
    """
    if code_column not in polygons.columns:
        raise KeyError(code_column)
    if polygons.crs is None:
        raise ValueError("polygons has no CRS")
    index = lon.index if isinstance(lon, pd.Series) else None
    x = _as_float(lon)
    y = _as_float(lat)
    if x.shape != y.shape:
        raise ValueError("lon and lat must have the same length")
    n = x.shape[0]
    result = np.full(n, None, dtype=object)
    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    poly = (
        polygons
        if CRS.from_user_input(polygons.crs).equals(LAMBERT93)
        else polygons.to_crs(LAMBERT93)
    )
    poly_codes = poly[code_column].astype("string").to_numpy(dtype=object, na_value=None)
    if ok.any() and len(poly):
        px, py = _transformer().transform(x[ok], y[ok])
        pt_idx, poly_idx = _points_in_polygons(
            np.asarray(px, dtype=float), np.asarray(py, dtype=float), poly.geometry.to_numpy()
        )
        codes = poly_codes[poly_idx]
        has_code = np.array([c is not None for c in codes], dtype=bool)
        pt_idx, codes = pt_idx[has_code], codes[has_code]
        orig = np.flatnonzero(ok)[pt_idx]
        counts = np.bincount(orig, minlength=n)
        single = counts[orig] == 1
        result[orig[single]] = codes[single]
        if (~single).any():
            multi = pd.Series(codes[~single], index=orig[~single])
            joined = multi.groupby(level=0).agg(lambda s: "|".join(sorted(set(s))))
            result[joined.index.to_numpy()] = joined.to_numpy()
    return pd.Series(result, index=index, dtype="string")


# --------------------------------------------------------------------------- #
# web output
# --------------------------------------------------------------------------- #
def to_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer reprojected to WGS84 longitude/latitude (EPSG:4326), for web maps."""
    if gdf.crs is None:
        raise ValueError("the layer has no CRS")
    return gdf.to_crs(WGS84)


def simplify_for_web(
    gdf: gpd.GeoDataFrame, *, tolerance_m: float = 10.0, decimals: int = 6
) -> gpd.GeoDataFrame:
    """A lighter WGS84 copy of a polygon layer for web maps.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A polygon layer with a defined CRS.
    tolerance_m : float, default 10
        Douglas–Peucker tolerance in metres, applied in Lambert-93.
    decimals : int, default 6
        Decimal places kept on longitudes/latitudes (6 ≈ 0.1 m).

    Returns
    -------
    geopandas.GeoDataFrame
        Same rows and attributes, in EPSG:4326. When the polygons form a valid
        coverage (no overlaps, like communes), shared edges are simplified
        together so that no gap or overlap appears between neighbours;
        otherwise every polygon is simplified on its own, preserving topology.

    References
    ----------
    .. [1] Douglas, D. H. and Peucker, T. K. (1973). Algorithms for the
       reduction of the number of points required to represent a digitized line
       or its caricature. *Cartographica* 10(2), 112–122.
    """
    if gdf.crs is None:
        raise ValueError("the layer has no CRS")
    if tolerance_m < 0:
        raise ValueError("tolerance_m must be >= 0")
    l93 = gdf.to_crs(LAMBERT93)
    geoms = l93.geometry.to_numpy()
    simplified = None
    if tolerance_m > 0 and hasattr(shapely, "coverage_simplify") and len(geoms) > 1:
        try:
            if bool(shapely.coverage_is_valid(geoms)):
                simplified = shapely.coverage_simplify(geoms, tolerance_m)
        except shapely.errors.GEOSException:  # pragma: no cover - depends on GEOS
            simplified = None
    if simplified is None:
        simplified = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
    out = l93.set_geometry(gpd.GeoSeries(simplified, index=l93.index, crs=LAMBERT93)).to_crs(WGS84)
    rounded = shapely.set_precision(out.geometry.to_numpy(), 10.0**-decimals)
    return out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs=WGS84))

"""Download and cache the official geography of a territory (network needed).

- Commune contours of an EPCI from the French State's public geo API
  (``/epcis/{siren}/communes?format=geojson&geometry=contour``).
- QPV perimeters (2015 or 2024 list) from the national open-data portal: the
  dataset's metadata is read through the portal's API and its GeoJSON resource
  downloaded, then cut to the EPCI's communes.

Files land in ``data_raw/geo/`` (``communes_<siren>.geojson``,
``qpv_<list>_<siren>.geojson``) and are reused on the next call (cache) unless
``force=True``. Base addresses can be changed with the environment variables
``ALLOCATION_ANALYSIS_GEO_API`` and ``ALLOCATION_ANALYSIS_OPENDATA_API`` (tests
point them at a local server).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from allocation_analysis.errors import InputError, UsageError

__all__ = ["fetch_geo", "fetch_geo_command"]

log = logging.getLogger(__name__)

GEO_API = "https://geo.api.gouv.fr"
OPENDATA_API = "https://www.data.gouv.fr/api/1"
QPV_DATASETS = {
    "2015": "quartiers-prioritaires-de-la-politique-de-la-ville-qpv",
    "2024": "quartier-prioritaire-de-la-politique-de-la-ville-qpv-2024",
}
_TIMEOUT = 60


def _get(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "allocation-analysis"})
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as resp:  # noqa: S310 - https/http only
            return resp.read()
    except urllib.error.HTTPError as exc:
        raise InputError(f"Téléchargement refusé ({exc.code}) : {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"Téléchargement impossible ({reason}) : {url}") from None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _qpv_resource_url(api: str, qpv_list: str) -> str:
    meta = json.loads(_get(f"{api}/datasets/{QPV_DATASETS[qpv_list]}/"))
    resources = meta.get("resources", [])
    for res in resources:
        fmt = str(res.get("format", "")).lower()
        url = str(res.get("url", ""))
        if fmt == "geojson" or url.lower().endswith(".geojson"):
            return url
    raise InputError(
        f"Aucune ressource GeoJSON dans le jeu de données QPV {qpv_list} ({QPV_DATASETS[qpv_list]})."
    )


def fetch_geo(
    *, epci: str, qpv_list: str = "2024", output: str | Path = "data_raw/geo", force: bool = False
) -> dict[str, Path]:
    """Download (or reuse) the commune and QPV layers of an EPCI.

    Parameters
    ----------
    epci : str
        SIREN of the EPCI (9 digits), e.g. ``"200093201"`` for the MEL.
    qpv_list : {"2015", "2024"}
        Which QPV list to fetch.
    output : str or Path
        Cache folder.
    force : bool
        Download again even when cached.

    Returns
    -------
    dict
        ``{"communes": path, "qpv": path}``.
    """
    import geopandas as gpd

    if not re.fullmatch(r"\d{9}", str(epci)):
        raise UsageError(f"SIREN d'EPCI invalide : « {epci} » (9 chiffres attendus).")
    if qpv_list not in QPV_DATASETS:
        raise UsageError(f"Liste QPV invalide : {qpv_list} (valeurs permises : 2015, 2024).")
    geo_api = os.environ.get("ALLOCATION_ANALYSIS_GEO_API", GEO_API).rstrip("/")
    data_api = os.environ.get("ALLOCATION_ANALYSIS_OPENDATA_API", OPENDATA_API).rstrip("/")
    out = Path(output)
    communes_path = out / f"communes_{epci}.geojson"
    qpv_path = out / f"qpv_{qpv_list}_{epci}.geojson"

    if force or not communes_path.exists():
        log.info("Téléchargement des contours des communes de l'EPCI %s…", epci)
        data = _get(f"{geo_api}/epcis/{epci}/communes?format=geojson&geometry=contour")
        try:
            communes = gpd.read_file(data.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - any parse failure is a bad download
            raise InputError(
                f"Réponse illisible pour les communes de l'EPCI {epci} : {exc}"
            ) from None
        if communes.empty:
            raise InputError(f"Aucune commune renvoyée pour l'EPCI {epci}.")
        _write(communes_path, data)
    else:
        log.info("Communes déjà en cache : %s", communes_path)

    if force or not qpv_path.exists():
        url = _qpv_resource_url(data_api, qpv_list)
        log.info("Téléchargement des périmètres QPV %s…", qpv_list)
        raw = _get(url)
        try:
            qpv = gpd.read_file(raw.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"Fichier QPV illisible ({url}) : {exc}") from None
        communes = gpd.read_file(communes_path)
        if qpv.crs is None:
            qpv = qpv.set_crs(4326)
        qpv = qpv.to_crs(communes.crs or 4326)
        keep = qpv.intersects(communes.union_all())
        qpv = qpv[keep]
        _write(qpv_path, qpv.to_json(drop_id=True).encode("utf-8"))
    else:
        log.info("QPV déjà en cache : %s", qpv_path)
    return {"communes": communes_path, "qpv": qpv_path}


def fetch_geo_command(*, epci: str, qpv_list: str, output: str) -> int:
    """``allocation-analysis fetch-geo``."""
    paths = fetch_geo(epci=epci, qpv_list=qpv_list, output=output)
    sys.stdout.write(f"Communes : {paths['communes']}\nQPV : {paths['qpv']}\n")
    return 0

"""Synthetic territory and population with planted disparities.

The generator writes a data set in the input contract (``demandes``,
``attributions``, ``logements``, ``seuils_q1``, commune and QPV layers) for a
fictional metropolis, the "Métropole de démonstration", with effects planted
from a YAML file so that the statistics can be checked against a known truth.

Model
-----
The simulation runs over eight semesters, 2022-S1 to 2025-S2.

*Access.* For every semester and every demand active at some time in it, the
demand is allocated a dwelling during the semester with probability

.. math::

    \\operatorname{expit}(\\beta_0 + \\beta^\\top x + \\log OR_{nat} + \\log OR_{qpv})

where ``x`` holds the access controls (requested typology, ``prioritaire``,
``dalo``, log annual income per UC of the demand, seniority in years at the
semester start — 0 for demands filed during it —, household size, housing
situation), ``OR_nat`` the planted odds ratio of the applicant's nationality
and ``OR_qpv`` that of living in a QPV. Independently, a demand that is not
allocated is closed for another reason with a fixed probability per semester.
The access odds ratios are therefore *exact* parameters of a discrete-time
logistic model on the (demand, semester) frame. The hazard ratio of waiting
time they imply is only *approximately* equal to the odds ratio (close when
allocation is rare in a semester, about 9 % here).

*Placement.* Given an allocation, the dwelling lies in a QPV (list in force on
the lease date) with probability ``expit(γ0 + γ'z + log OR_nat + log OR_qpv +
log OR_q1 · q1)`` with controls ``z`` (typology, priority at allocation,
reservataire); ``q1`` is the legal first-quartile status at allocation. These
are exact parameters of the placement model.

*Legal indicators.* ``truth.json`` holds the exact numerators and denominators
of the legal CIA indicators, computed here from the generator's own variables
(never from :mod:`allocation_analysis.indicators` or ``derive``).

*Access counts.* ``truth.json`` → ``acces`` holds, per semester and per
nationality and residence group, the demands active at some time in the
semester (filed by its last day, not closed before its first) and those
allocated in it, counted from the generator's own draws: the denominators and
numerators of the access rates followed over time
(:mod:`allocation_analysis.change`).

Conventions that remove ambiguity: a demand is *active on day D* when
``date_depot <= D`` and it has no closing date or ``date_radiation > D``; no
closing (allocation or other) happens on the first or last day of a semester,
and no filing on the last day, so every reasonable convention agrees.

The territory is the same for every seed (built from a fixed seed, as a real
metropolis would be); ``seed`` drives the population, the stock and the flow.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity
from shapely.geometry import MultiPoint, Point, Polygon

from allocation_analysis.errors import InputError, UsageError
from allocation_analysis.text import fmt_num

__all__ = [
    "SCALES",
    "SynthDataset",
    "draw_replicates",
    "generate",
    "load_effects",
    "synth_command",
    "write_dataset",
]

logger = logging.getLogger(__name__)

TERRITORY_LABEL = "Métropole de démonstration (territoire fictif)"
SIREN_EPCI = "299999999"
TERRITORY_SEED = 2024
FIRST_YEAR, LAST_YEAR = 2022, 2025
DEMO_PERIOD = "2025-S2"
CRS_L93 = "EPSG:2154"
CENTER = (700_000.0, 7_060_000.0)

NATIONALITES = np.array(["francaise", "ue", "hors_ue"])
TYPOLOGIES = np.array(["T1", "T2", "T3", "T4", "T5+"])
SITUATIONS = np.array(
    [
        "locataire_social",
        "locataire_prive",
        "heberge",
        "structure",
        "sans_logement",
        "proprietaire",
        "autre",
    ]
)
SITUATIONS_PRO = np.array(
    [
        "cdi",
        "cdd_interim",
        "independant",
        "chomage",
        "retraite",
        "etudiant",
        "sans_activite",
        "autre",
    ]
)
MOTIFS_AUTRES = np.array(
    ["renonciation", "absence_reponse", "irrecevabilite", "non_renouvellement", "regroupement"]
)
RESERVATAIRES = np.array(["etat", "action_logement", "collectivite", "bailleur", "autre"])
FINANCEMENTS = np.array(["PLAI", "PLUS", "PLS", "PLI", "autre"])
DPE = np.array(list("ABCDEFG"))
BAILLEURS = np.array(
    ["399000011", "399000029", "399000037", "399000045", "399000052", "399000060", "399000078"]
)

#: Fictional names of the synthetic landlords (file ``bailleurs.csv``), in the order of
#: :data:`BAILLEURS`. Invented: they name no real organisation.
BAILLEURS_NOMS = (
    "Habitat des Deux Rives (fictif)",
    "Logis du Val de Marque (fictif)",
    "Toits Partagés Métropole (fictif)",
    "Résidences de l'Escaut (fictif)",
    "Foyer des Flandres (fictif)",
    "Cités du Mélantois (fictif)",
    "Maisons de la Lys (fictif)",
)

#: Sizes of the scales: initial active demands, dwellings and independent blocks.
SCALES: dict[str, dict[str, int]] = {
    "tiny": {"n_active": 600, "n_dwellings": 2_500, "blocks": 1},
    "small": {"n_active": 1_800, "n_dwellings": 8_000, "blocks": 1},
    # the default of ``allocation-analysis demo``: large enough for the planted
    # disparities of origin and residence to be detected by the primary tests
    "demo": {"n_active": 12_500, "n_dwellings": 35_000, "blocks": 1},
    "mel": {"n_active": 60_000, "n_dwellings": 130_000, "blocks": 1},
    "national": {"n_active": 60_000, "n_dwellings": 130_000, "blocks": 37},
}

#: Coefficients of the access model (log-odds per semester), besides the planted effects.
ACCESS_COEFS: dict[str, Any] = {
    "intercept": -4.2,
    "log_revenu_uc": 0.20,
    "anciennete_annees": 0.12,
    "nb_personnes": -0.08,
    "prioritaire": 0.70,
    "dalo": 1.10,
    "typologie_demandee": {"T1": 0.0, "T2": 0.10, "T3": 0.0, "T4": -0.20, "T5+": -0.50},
    "situation_logement": {
        "locataire_social": -0.30,
        "locataire_prive": 0.0,
        "heberge": 0.15,
        "structure": 0.30,
        "sans_logement": 0.40,
        "proprietaire": -0.70,
        "autre": 0.0,
    },
}
#: Coefficients of the placement model (log-odds that the dwelling is in a QPV).
PLACEMENT_COEFS: dict[str, Any] = {
    "intercept": -1.6,
    "typologie": {"T1": -0.20, "T2": 0.0, "T3": 0.10, "T4": 0.20, "T5+": 0.20},
    "prioritaire_ou_dalo": 0.30,
    "reservataire": {
        "etat": 0.20,
        "action_logement": -0.10,
        "collectivite": 0.0,
        "bailleur": 0.10,
        "autre": 0.0,
    },
}
#: Probability per semester that a demand not allocated is closed for another reason.
P_OTHER_CLOSING = 0.11
_MOTIF_P = np.array([0.20, 0.15, 0.10, 0.45, 0.10])
_FILINGS_PER_SEMESTER = 0.19  # × initial active demands, keeps the stock roughly steady


# --------------------------------------------------------------------------- effects
def _default_effects_path(name: str = "effects_default.yaml") -> Path:
    return Path(str(resources.files("allocation_analysis").joinpath("data", name)))


def load_effects(effects: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read and check the planted effects.

    Parameters
    ----------
    effects : str, Path, mapping or None
        A YAML file, an already parsed mapping, ``"null"``,
        ``"null_confounded"``, ``"processus"``, ``"processus_null"`` or
        ``"default"`` for the packaged files, or ``None`` for
        ``effects_default.yaml``.

    Returns
    -------
    dict
        ``{"access": {"nationalite": {"ue", "hors_ue"}, "residence_qpv"},
        "placement_qpv": {… , "premier_quartile"}}`` of positive odds ratios,
        plus ``"processus"`` when the file has that block (odds ratios of the
        stages ``designation``, ``decision_cal`` and ``refus`` by
        ``nationalite`` and ``residence_qpv``, ``refus.logement_qpv`` and
        ``score_designation``, per 10 points of score; see
        :mod:`allocation_analysis.synth_process`) and ``"composition"``.

    Raises
    ------
    InputError
        When the file cannot be read or a value is missing or not a positive number.
    """
    import yaml

    if effects is None or effects == "default":
        effects = _default_effects_path()
    elif effects == "null":
        effects = _default_effects_path("effects_null.yaml")
    elif effects == "null_confounded":
        effects = _default_effects_path("effects_null_confounded.yaml")
    elif effects == "processus":
        effects = _default_effects_path("effects_processus.yaml")
    elif effects == "processus_null":
        effects = _default_effects_path("effects_processus_null.yaml")
    if isinstance(effects, Mapping):
        raw: Any = dict(effects)
        where = "effets fournis"
    else:
        p = Path(effects)
        where = str(p)
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("Fichier des effets introuvable.", file=where) from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(f"Fichier des effets illisible ({exc}).", file=where) from None
    if not isinstance(raw, dict):
        raise InputError("Le fichier des effets doit contenir des paires clé: valeur.", file=where)

    def ratio(block: str, *keys: str) -> float:
        node: Any = raw.get(block)
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        try:
            value = float(node)
        except (TypeError, ValueError):
            value = float("nan")
        if not (math.isfinite(value) and value > 0):
            raise InputError(
                f"Effet « {block}.{'.'.join(keys)} » manquant ou invalide ({node!r}) : "
                "un rapport de cotes strictement positif est attendu.",
                file=where,
            )
        return value

    out: dict[str, Any] = {}
    for block in ("access", "placement_qpv"):
        out[block] = {
            "nationalite": {g: ratio(block, "nationalite", g) for g in ("ue", "hors_ue")},
            "residence_qpv": ratio(block, "residence_qpv"),
        }
    out["placement_qpv"]["premier_quartile"] = ratio("placement_qpv", "premier_quartile")
    if raw.get("processus") is not None:
        out["processus"] = {
            stage: {
                "nationalite": {
                    g: ratio("processus", stage, "nationalite", g) for g in ("ue", "hors_ue")
                },
                "residence_qpv": ratio("processus", stage, "residence_qpv"),
            }
            for stage in ("designation", "decision_cal", "refus")
        }
        out["processus"]["refus"]["logement_qpv"] = ratio("processus", "refus", "logement_qpv")
        out["processus"]["score_designation"] = ratio("processus", "score_designation")
    if raw.get("composition") is not None:
        out["composition"] = _composition(raw["composition"], where)
    return out


_GROUPS = ("francaise", "ue", "hors_ue")


def _composition(raw: Any, where: str) -> dict[str, Any]:
    """Check the optional ``composition`` block of an effects file.

    Keys (all optional; absent = the generator's usual population):
    ``seniority_years`` (group → mean seniority in years of the demands
    already pending when the simulation starts, default 2.3 for every
    group), ``first_choice_core`` (group → probability that the household's
    first-choice commune is one of the ten most populous communes, drawn in
    proportion to their population, instead of the usual choice), and
    ``commune_effect_sd`` (standard deviation of a first-choice commune effect
    on the access log-odds, the same for every group: larger communes are
    tighter, with correlation −0.7 between the effect and the standardised
    log population).
    """
    if not isinstance(raw, dict):
        raise InputError(
            "Le bloc « composition » doit contenir des paires clé: valeur.", file=where
        )

    def number(value: Any, key: str, *, low: float, high: float) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if not (math.isfinite(v) and low <= v <= high):
            raise InputError(
                f"Valeur « composition.{key} » invalide ({value!r}) : un nombre entre "
                f"{fmt_num(low)} et {fmt_num(high)} est attendu.",
                file=where,
            )
        return v

    def by_group(key: str, default: float, *, low: float, high: float) -> dict[str, float]:
        node = raw.get(key) or {}
        if not isinstance(node, dict):
            raise InputError(
                f"« composition.{key} » : une valeur par groupe est attendue.", file=where
            )
        return {g: number(node.get(g, default), f"{key}.{g}", low=low, high=high) for g in _GROUPS}

    return {
        "seniority_years": by_group("seniority_years", 2.3, low=0.05, high=20.0),
        "first_choice_core": by_group("first_choice_core", 0.0, low=0.0, high=1.0),
        "commune_effect_sd": number(
            raw.get("commune_effect_sd", 0.0), "commune_effect_sd", low=0.0, high=3.0
        ),
    }


# --------------------------------------------------------------------------- territory
@dataclass(frozen=True, eq=False)
class Territory:
    """Geography used by the generator (EPSG:2154).

    ``communes``: ``insee_com``, ``nom``, ``poids`` (share of population),
    ``geometry``. ``units``: one row per QPV area with ``code_2015`` and
    ``code_2024`` (either may be empty), ``nom``, ``geometry``.
    """

    communes: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    outside_codes: tuple[str, ...]
    label: str
    fictional: bool


_ROOTS_A = [
    "Mar", "Ber", "Wam", "Hal", "Lom", "Ros", "Cro", "Ven", "Bou", "Fla", "Sec", "Ann",
    "Her", "Lys", "Tour", "Mons", "Wat", "Ron", "Cap", "Fré", "Gon", "Vil", "Sau", "Quen",
]  # fmt: skip
_ROOTS_B = [
    "court", "ville", "bec", "ghem", "lin", "chin", "noy", "mont", "lers", "quin", "bourg",
    "val", "ries", "ghien", "hem", "nes", "roy", "champ", "zeele", "mesnil",
]  # fmt: skip
_SUFFIXES = [
    "",
    "",
    "",
    "",
    "-sur-Deûle",
    "-en-Pévèle",
    "-lez-Démoville",
    "-le-Grand",
    "-Sainte-Anne",
]
_QUARTIERS = [
    "Les Hauts-Champs", "Le Pont-Rouge", "La Briqueterie", "Les Oliveaux", "Le Nouveau Mons",
    "La Bourgogne", "Les Aviateurs", "Le Faubourg", "Les Trois-Ponts", "La Lionderie",
    "Le Blanc-Riez", "Les Marronniers", "La Mousserie", "Le Triolo", "Les Épis",
    "La Pépinière", "Le Colombier", "Les Acacias", "La Cité Nouvelle", "Le Moulin",
    "Les Glycines", "La Résidence du Parc", "Le Bas-Chemin", "Les Tilleuls", "La Verrerie",
    "Le Quartier Gare", "Les Peupliers", "La Chênaie",
]  # fmt: skip


@functools.lru_cache(maxsize=2)
def demo_territory(n_communes: int = 90, n_qpv: int = 26) -> Territory:
    """Build the fictional "Métropole de démonstration" (always the same).

    Communes are a Voronoi tessellation of seeded points (denser near the
    centre) clipped to an irregular outline around (700 000, 7 060 000) in
    Lambert-93; QPV are irregular ellipses inside the densest communes, four of
    them straddling the boundary of two communes. Codes are in the fictional
    département ``99``.
    """
    rng = np.random.default_rng(TERRITORY_SEED)
    cx, cy = CENTER
    theta = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    radius = 16_000 * (1 + 0.15 * np.sin(3 * theta + 0.7) + 0.08 * np.cos(5 * theta))
    outline = Polygon(np.c_[cx + radius * np.cos(theta), cy + 0.85 * radius * np.sin(theta)])

    pts: list[tuple[float, float]] = [(cx, cy)]
    minx, miny, maxx, maxy = outline.bounds
    while len(pts) < n_communes:
        if len(pts) < 28:
            x, y = cx + rng.normal(0, 3_500), cy + rng.normal(0, 3_000)
        else:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        d_center = math.hypot(x - cx, y - cy)
        min_d = 1_100 + 0.12 * d_center
        if not outline.contains(Point(x, y)):
            continue
        if all(math.hypot(x - px, y - py) >= min_d for px, py in pts):
            pts.append((x, y))
    cells = shapely.voronoi_polygons(MultiPoint(pts), extend_to=outline.buffer(5_000))
    polys: list[Any] = [None] * len(pts)
    for cell in cells.geoms:
        for i, (x, y) in enumerate(pts):
            if polys[i] is None and cell.contains(Point(x, y)):
                polys[i] = cell.intersection(outline)
                break
    names = [a + b for a in _ROOTS_A for b in _ROOTS_B]
    order = rng.permutation(len(names))
    chosen = ["Démoville"] + [names[i] for i in order[: len(pts) - 1]]
    suffix = rng.choice(len(_SUFFIXES), size=len(pts))
    noms = [chosen[0]] + [chosen[i] + _SUFFIXES[suffix[i]] for i in range(1, len(pts))]
    dist = np.array([math.hypot(x - cx, y - cy) for x, y in pts])
    area = np.array([p.area for p in polys])
    density = np.exp(-dist / 5_000.0)
    poids = density * area
    poids = poids / poids.sum()
    # codes ordered by distance to the centre (99001 = Démoville)
    rank = np.argsort(dist, kind="stable")
    communes = gpd.GeoDataFrame(
        {
            "insee_com": [f"99{k + 1:03d}" for k in range(len(pts))],
            "nom": [noms[i] for i in rank],
            "poids": poids[rank],
            "geometry": [polys[i] for i in rank],
        },
        crs=CRS_L93,
    )

    # QPV areas inside the densest communes; four straddle a boundary
    core = list(range(min(22, len(pts))))
    units: list[Any] = []
    n_span = 4
    attempts = 0
    while len(units) < n_qpv and attempts < 5_000:
        attempts += 1
        spanning = len(units) < n_span
        if spanning:
            i, j = rng.choice(core[:12], size=2, replace=False)
            edge = communes.geometry.iloc[i].boundary.intersection(
                communes.geometry.iloc[j].boundary
            )
            if edge.length < 800:
                continue
            centre = edge.interpolate(rng.uniform(0.3, 0.7), normalized=True)
            host = communes.geometry.iloc[i].union(communes.geometry.iloc[j])
        else:
            i = int(rng.choice(core))
            host = communes.geometry.iloc[i].buffer(-150)
            if host.is_empty:
                continue
            b = host.bounds
            centre = Point(rng.uniform(b[0], b[2]), rng.uniform(b[1], b[3]))
            if not host.contains(centre):
                continue
        a, bb = rng.uniform(300, 650), rng.uniform(200, 450)
        shape = affinity.rotate(
            affinity.scale(centre.buffer(1.0, quad_segs=8), a, bb), rng.uniform(0, 180)
        )
        shape = shape.intersection(host).intersection(outline)
        if shape.area < 0.6 * math.pi * a * bb or any(shape.distance(u) < 120 for u in units):
            continue
        if spanning:
            parts = [shape.intersection(communes.geometry.iloc[k]).area for k in (i, j)]
            if min(parts) < 0.2 * shape.area:
                continue
        units.append(shape)
    n = len(units)
    code_2015 = [f"QP099{k + 1:03d}" for k in range(n)]
    code_2024 = [f"QN099{k + 1:03d}" for k in range(n)]
    for k in (n - 1, n - 2, n - 3):  # new in 2024
        code_2015[k] = ""
    for k in (n - 4, n - 5, n - 6):  # left the list in 2024
        code_2024[k] = ""
    unit_gdf = gpd.GeoDataFrame(
        {
            "code_2015": code_2015,
            "code_2024": code_2024,
            "nom": [_QUARTIERS[k % len(_QUARTIERS)] for k in range(n)],
            "geometry": units,
        },
        crs=CRS_L93,
    )
    outside = tuple(f"99{k:03d}" for k in range(201, 211))
    return Territory(communes, unit_gdf, outside, TERRITORY_LABEL, True)


def territory_from_files(communes: str | Path, qpv: str | Path | None = None) -> Territory:
    """Real geography given by the user (population placed on it).

    Communes and QPV are read with :mod:`allocation_analysis.io.geo`. Each QPV
    feature is its own area (its code belongs to one list). Without a QPV file,
    synthetic QPV areas are drawn in the largest communes.
    """
    from allocation_analysis.io.geo import load_communes, load_qpv

    com = load_communes(communes).to_crs(CRS_L93).reset_index(drop=True)
    com = com.sort_values("insee_com", kind="stable").reset_index(drop=True)
    area = com.geometry.area.to_numpy()
    w = np.sqrt(area)
    com = gpd.GeoDataFrame(
        {
            "insee_com": com["insee_com"].astype(str),
            "nom": com["nom"].astype(str),
            "poids": w / w.sum(),
            "geometry": com.geometry.to_numpy(),
        },
        crs=CRS_L93,
    )
    if qpv is not None:
        q = load_qpv(qpv).to_crs(CRS_L93).sort_values("code_qpv", kind="stable")
        codes = q["code_qpv"].astype(str).to_numpy()
        units = gpd.GeoDataFrame(
            {
                "code_2015": np.where(np.char.startswith(codes.astype(str), "QP"), codes, ""),
                "code_2024": np.where(np.char.startswith(codes.astype(str), "QN"), codes, ""),
                "nom": q["nom_qpv"].fillna("").astype(str).to_numpy(),
                "geometry": q.geometry.to_numpy(),
            },
            crs=CRS_L93,
        )
    else:
        rng = np.random.default_rng(TERRITORY_SEED)
        big = np.argsort(-area, kind="stable")[: min(15, len(com))]
        geoms, c15, c24 = [], [], []
        for k, i in enumerate(big):
            c = com.geometry.iloc[i].representative_point()
            shape = affinity.scale(c.buffer(1.0), rng.uniform(300, 600), rng.uniform(200, 400))
            geoms.append(shape.intersection(com.geometry.iloc[i]))
            c15.append(f"QP099{k + 1:03d}")
            c24.append(f"QN099{k + 1:03d}")
        units = gpd.GeoDataFrame(
            {"code_2015": c15, "code_2024": c24, "nom": [_QUARTIERS[k] for k in range(len(geoms))]},
            geometry=geoms,
            crs=CRS_L93,
        )
    return Territory(com, units, ("99999",), "territoire fourni par l'utilisateur", False)


@dataclass(frozen=True, eq=False)
class _Pieces:
    """Polygons partitioning the territory: commune × (QPV area or outside QPV)."""

    geoms: list[Any]
    commune: np.ndarray  # index of the commune
    unit: np.ndarray  # index of the QPV area, -1 outside
    area: np.ndarray


@functools.lru_cache(maxsize=4)
def _pieces(terr: Territory) -> _Pieces:
    union = shapely.union_all(terr.units.geometry.to_numpy())
    geoms, com, unit = [], [], []
    for c, cg in enumerate(terr.communes.geometry):
        outside = cg.difference(union)
        if outside.area > 0:
            geoms.append(outside)
            com.append(c)
            unit.append(-1)
        for u, ug in enumerate(terr.units.geometry):
            if ug.intersects(cg):
                inter = ug.intersection(cg)
                if inter.area > 1.0:
                    geoms.append(inter)
                    com.append(c)
                    unit.append(u)
    for g in geoms:
        shapely.prepare(g)
    return _Pieces(geoms, np.array(com), np.array(unit), np.array([g.area for g in geoms]))


def _sample_in_pieces(
    rng: np.random.Generator, pieces: _Pieces, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside ``pieces.geoms[which[i]]`` (rejection sampling)."""
    x = np.empty(len(which))
    y = np.empty(len(which))
    for p in np.unique(which):
        idx = np.flatnonzero(which == p)
        g = pieces.geoms[p]
        b = g.bounds
        got = 0
        while got < len(idx):
            m = max(16, int(2.5 * (len(idx) - got) * (b[2] - b[0]) * (b[3] - b[1]) / g.area))
            xs = rng.uniform(b[0], b[2], m)
            ys = rng.uniform(b[1], b[3], m)
            ok = shapely.contains_xy(g, xs, ys)
            xs, ys = xs[ok], ys[ok]
            take = min(len(xs), len(idx) - got)
            x[idx[got : got + take]] = xs[:take]
            y[idx[got : got + take]] = ys[:take]
            got += take
    return x, y


@functools.lru_cache(maxsize=1)
def _to_wgs84():
    from pyproj import Transformer

    return Transformer.from_crs(CRS_L93, "EPSG:4326", always_xy=True)


# --------------------------------------------------------------------------- time
def _semesters() -> list[tuple[str, np.datetime64, np.datetime64]]:
    out = []
    for y in range(FIRST_YEAR, LAST_YEAR + 1):
        out.append((f"{y}-S1", np.datetime64(f"{y}-01-01"), np.datetime64(f"{y}-06-30")))
        out.append((f"{y}-S2", np.datetime64(f"{y}-07-01"), np.datetime64(f"{y}-12-31")))
    return out


def _uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform integer day in [lo, hi] (datetime64[D] arrays, lo <= hi)."""
    span = (hi - lo).astype(np.int64) + 1
    return lo + np.floor(rng.random(len(span)) * span).astype(np.int64)


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------- households
def _draw_households(
    rng: np.random.Generator, n: int, terr: Territory, pieces: _Pieces
) -> dict[str, np.ndarray]:
    """Draw ``n`` applicant households (attributes fixed over the demand's life)."""
    nat = rng.choice(3, size=n, p=[0.70, 0.07, 0.23])
    outside = rng.random(n) < 0.05
    p_qpv = np.array([0.16, 0.26, 0.45])[nat]
    qpv_res = (rng.random(n) < p_qpv) & ~outside
    # residence location: QPV residents in areas present in both lists (or the 2024 list)
    has15 = terr.units["code_2015"].to_numpy() != ""
    has24 = terr.units["code_2024"].to_numpy() != ""
    stable = has15 & has24
    if not stable.any():  # real geography: one list per feature
        stable = has24 if has24.any() else has15
    qpv_pieces = np.flatnonzero((pieces.unit >= 0) & stable[np.maximum(pieces.unit, 0)])
    out_pieces = np.flatnonzero(pieces.unit < 0)
    wq = pieces.area[qpv_pieces] / pieces.area[qpv_pieces].sum()
    w_com = terr.communes["poids"].to_numpy()
    wo = w_com[pieces.commune[out_pieces]] * pieces.area[out_pieces]
    # area share of each piece inside its commune
    com_area = np.bincount(pieces.commune[out_pieces], weights=pieces.area[out_pieces])
    wo = wo / com_area[pieces.commune[out_pieces]]
    wo = wo / wo.sum()
    piece = np.full(n, -1)
    piece[qpv_res] = qpv_pieces[rng.choice(len(qpv_pieces), size=int(qpv_res.sum()), p=wq)]
    inside_out = ~qpv_res & ~outside
    piece[inside_out] = out_pieces[rng.choice(len(out_pieces), size=int(inside_out.sum()), p=wo)]
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    has = piece >= 0
    x[has], y[has] = _sample_in_pieces(rng, pieces, piece[has])
    commune = np.empty(n, dtype=object)
    codes = terr.communes["insee_com"].to_numpy()
    commune[has] = codes[pieces.commune[piece[has]]]
    commune[outside] = np.asarray(terr.outside_codes, dtype=object)[
        rng.integers(0, len(terr.outside_codes), int(outside.sum()))
    ]
    unit = np.where(has, pieces.unit[np.maximum(piece, 0)], -1)

    adults = rng.choice(3, size=n, p=[0.55, 0.33, 0.12])
    kids = np.minimum(rng.poisson(np.array([0.7, 0.9, 1.25])[nat]), 6)
    nbp = 1 + adults + kids
    uc = 1.0 + 0.5 * adults + 0.3 * kids
    u = rng.random(n)
    typ = np.select(
        [nbp == 1, nbp == 2, nbp == 3, nbp == 4, nbp == 5],
        [
            np.where(u < 0.45, 0, 1),
            np.where(u < 0.7, 1, 2),
            np.where(u < 0.8, 2, 3),
            np.where(u < 0.3, 2, 3),
            np.where(u < 0.5, 3, 4),
        ],
        4,
    )
    sit = rng.choice(len(SITUATIONS), size=n, p=[0.28, 0.25, 0.22, 0.07, 0.05, 0.03, 0.10])
    mu = np.log(1_050.0) - 0.30 * (nat == 2) - 0.12 * (nat == 1) - 0.15 * qpv_res
    mu = mu - 0.25 * np.isin(sit, [3, 4]) + 0.10 * (sit == 5)
    per_uc = np.maximum(np.exp(rng.normal(mu, 0.5)), 150.0)
    revenus = np.round(per_uc * uc)
    dalo = rng.random(n) < 0.025
    prio = (rng.random(n) < (0.06 + 0.10 * np.isin(sit, [3, 4]))) | (dalo & (rng.random(n) < 0.7))
    age = np.clip(np.round(rng.normal(42, 14, n)), 18, 92).astype(np.int64)
    pro = rng.choice(
        len(SITUATIONS_PRO), size=n, p=[0.28, 0.16, 0.04, 0.17, 0.10, 0.04, 0.16, 0.05]
    )
    pro = np.where(age >= 65, 4, pro)
    handicap = rng.random(n) < 0.06
    # desired communes: 1–3 distinct, first = residence with probability 0.55
    k = 1 + rng.binomial(2, 0.5, n)
    cand = rng.choice(len(codes), size=(n, 3), p=w_com)
    first_res = (rng.random(n) < 0.55) & has
    res_idx = np.where(has, pieces.commune[np.maximum(piece, 0)], 0)
    cand[:, 0] = np.where(first_res, res_idx, cand[:, 0])
    souhaits = []
    for row, kk in zip(cand.tolist(), k.tolist(), strict=True):
        seen: list[int] = []
        for c in row[:kk]:
            if c not in seen:
                seen.append(c)
        souhaits.append("|".join(codes[c] for c in seen))
    return {
        "nat": nat,
        "qpv_res": qpv_res,
        "unit": unit,
        "x": x,
        "y": y,
        "commune_residence": commune,
        "nb_adultes_sup": adults,
        "nb_enfants_moins_14": kids,
        "nb_personnes": nbp,
        "uc": uc,
        "typ": typ,
        "sit": sit,
        "revenus": revenus,
        "prioritaire": prio,
        "dalo": dalo,
        "age": age,
        "pro": pro,
        "handicap": handicap,
        "souhaits": np.array(souhaits, dtype=object),
        "commune_choix1": cand[:, 0],
    }


def _unit_codes(terr: Territory, unit: np.ndarray) -> np.ndarray:
    """``QP…|QN…`` code strings of QPV areas (empty outside)."""
    c15 = terr.units["code_2015"].to_numpy().astype(str)
    c24 = terr.units["code_2024"].to_numpy().astype(str)
    joined = np.array(
        ["|".join(c for c in (a, b) if c) for a, b in zip(c15, c24, strict=True)] + [""],
        dtype=object,
    )
    return joined[np.where(unit >= 0, unit, len(c15))]


# --------------------------------------------------------------------------- stage A: demands
@dataclass
class _Demands:
    h: dict[str, np.ndarray]
    depot: np.ndarray
    radiation: np.ndarray  # NaT when active at the end
    motif: np.ndarray  # object, "" when active
    alloc_sem: np.ndarray  # semester index of the allocation, -1 if none
    offset: int  # global index of the first demand of the block
    block: int


def _access_lp(
    h: Mapping[str, np.ndarray], seniority: np.ndarray, eff: Mapping[str, Any]
) -> np.ndarray:
    c = ACCESS_COEFS
    lp = (
        c["intercept"]
        + c["log_revenu_uc"] * np.log(h["revenus"] * 12.0 / h["uc"])
        + c["anciennete_annees"] * seniority
        + c["nb_personnes"] * h["nb_personnes"]
        + c["prioritaire"] * h["prioritaire"]
        + c["dalo"] * h["dalo"]
        + np.array([c["typologie_demandee"][t] for t in TYPOLOGIES])[h["typ"]]
        + np.array([c["situation_logement"][s] for s in SITUATIONS])[h["sit"]]
    )
    acc = eff["access"]
    log_or_nat = np.log([1.0, acc["nationalite"]["ue"], acc["nationalite"]["hors_ue"]])
    return lp + log_or_nat[h["nat"]] + math.log(acc["residence_qpv"]) * h["qpv_res"]


def _stage_a(
    seed: int, block: int, sizes: Mapping[str, int], terr: Territory, eff: Mapping[str, Any]
) -> _Demands:
    """Demands, filings and closings of one block (no dependence on thresholds)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, block, 1]))
    pieces = _pieces(terr)
    sems = _semesters()
    n0 = sizes["n_active"]
    n_fil = rng.poisson(_FILINGS_PER_SEMESTER * n0, size=len(sems))
    n = n0 + int(n_fil.sum())
    h = _draw_households(rng, n, terr, pieces)
    comp = eff.get("composition")
    start0 = np.datetime64(f"{FIRST_YEAR}-01-01")
    scale = 2.3 * 365.25
    if comp is not None:
        scale = np.array([comp["seniority_years"][g] for g in _GROUPS])[h["nat"][:n0]] * 365.25
    seniority_days = np.minimum(np.ceil(rng.exponential(scale, n0)), 10 * 365).astype(np.int64)
    commune_lp = _composition_effects(seed, block, h, terr, comp)
    depot = np.empty(n, dtype="datetime64[D]")
    depot[:n0] = start0 - np.maximum(seniority_days, 1)
    pos = n0
    for s, (_, start, end) in enumerate(sems):
        m = int(n_fil[s])
        depot[pos : pos + m] = _uniform_days(
            rng, np.full(m, start), np.full(m, end - np.timedelta64(1, "D"))
        )
        pos += m
    radiation = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    motif = np.full(n, "", dtype=object)
    alloc_sem = np.full(n, -1, dtype=np.int64)
    closed = np.zeros(n, dtype=bool)
    for s, (_, start, end) in enumerate(sems):
        at_risk = np.flatnonzero(~closed & (depot <= end - np.timedelta64(1, "D")))
        sen = np.maximum((start - depot[at_risk]).astype(np.int64), 0) / 365.25
        hs = {k: v[at_risk] for k, v in h.items() if k != "souhaits"}
        p = _expit(_access_lp(hs, sen, eff) + commune_lp[at_risk])
        alloc = rng.random(len(at_risk)) < p
        other = (rng.random(len(at_risk)) < P_OTHER_CLOSING) & ~alloc
        lo = np.maximum(start + np.timedelta64(1, "D"), depot[at_risk])
        day = _uniform_days(rng, lo, np.full(len(at_risk), end - np.timedelta64(1, "D")))
        mot = MOTIFS_AUTRES[rng.choice(len(MOTIFS_AUTRES), size=len(at_risk), p=_MOTIF_P)]
        # non-renewal: on the filing anniversary when it falls in the window
        years = np.arange(start.astype("datetime64[Y]").astype(int) + 1970 - 1, 2027)
        ann = depot[at_risk].astype("datetime64[D]")
        md = (ann - ann.astype("datetime64[Y]")).astype(np.int64)
        best = day.copy()
        for yr in years:
            cand = np.datetime64(f"{yr}-01-01") + md
            ok = (cand >= lo) & (cand <= end - np.timedelta64(1, "D")) & (cand > depot[at_risk])
            best = np.where(ok & (mot == "non_renouvellement"), cand, best)
        day = np.where(other, best, day)
        idx_a = at_risk[alloc]
        radiation[idx_a] = day[alloc]
        motif[idx_a] = "attribution"
        alloc_sem[idx_a] = s
        idx_o = at_risk[other]
        radiation[idx_o] = day[other]
        motif[idx_o] = mot[other]
        closed[idx_a] = True
        closed[idx_o] = True
    return _Demands(h, depot, radiation, motif, alloc_sem, 0, block)


def _composition_effects(
    seed: int,
    block: int,
    h: dict[str, np.ndarray],
    terr: Territory,
    comp: Mapping[str, Any] | None,
) -> np.ndarray:
    """Apply the ``composition`` block: first choices moved to the core communes,
    and the first-choice commune effect on the access log-odds of each demand.

    Draws come from their own generators, so a data set without a
    ``composition`` block is identical to the usual one.
    """
    n = h["nat"].size
    if comp is None:
        return np.zeros(n)
    w = terr.communes["poids"].to_numpy(dtype=float)
    codes = terr.communes["insee_com"].to_numpy()
    rng = np.random.default_rng(np.random.SeedSequence([seed, block, 7]))
    p_core = np.array([comp["first_choice_core"][g] for g in _GROUPS])[h["nat"]]
    move = rng.random(n) < p_core
    if move.any():
        core = np.argsort(-w, kind="stable")[:10]
        new = core[rng.choice(core.size, size=int(move.sum()), p=w[core] / w[core].sum())]
        h["commune_choix1"] = h["commune_choix1"].copy()
        h["commune_choix1"][move] = new
        souhaits = h["souhaits"].copy()
        for i, c in zip(np.flatnonzero(move).tolist(), new.tolist(), strict=True):
            rest = [x for x in str(souhaits[i]).split("|")[1:] if x != codes[c]]
            souhaits[i] = "|".join([codes[c], *rest])
        h["souhaits"] = souhaits
    sd = comp["commune_effect_sd"]
    if sd == 0:
        return np.zeros(n)
    # one effect per commune for the whole territory (the same in every block)
    rng_t = np.random.default_rng(np.random.SeedSequence([seed, 8]))
    z = np.log(w)
    z = (z - z.mean()) / (z.std() if z.std() > 0 else 1.0)
    effect = sd * (-0.7 * z + math.sqrt(1 - 0.49) * rng_t.standard_normal(w.size))
    return effect[h["commune_choix1"]]


def _active_income_uc(d: _Demands, day: np.datetime64) -> np.ndarray:
    active = (d.depot <= day) & (np.isnat(d.radiation) | (d.radiation > day))
    return (d.h["revenus"][active] * 12.0) / d.h["uc"][active]


def _threshold(values: np.ndarray) -> float:
    """Highest annual income per UC of the poorest quarter, rounded to the euro.

    With ``n`` values sorted ascending, the poorest quarter is the first
    ``ceil(n / 4)`` of them.
    """
    v = np.sort(values)
    k = math.ceil(len(v) / 4)
    return float(np.round(v[k - 1]))


# --------------------------------------------------------------------------- stock
def _stock(seed: int, block: int, sizes: Mapping[str, int], terr: Territory) -> pd.DataFrame:
    rng = np.random.default_rng(np.random.SeedSequence([seed, block, 2]))
    pieces = _pieces(terr)
    n = sizes["n_dwellings"]
    w_com = terr.communes["poids"].to_numpy()
    com_area = np.bincount(pieces.commune, weights=pieces.area, minlength=len(w_com))
    qpv_area = np.bincount(
        pieces.commune[pieces.unit >= 0],
        weights=pieces.area[pieces.unit >= 0],
        minlength=len(w_com),
    )
    share = qpv_area / com_area
    frac_qpv = np.where(share > 0, np.minimum(0.8, 0.15 + 5.0 * share), 0.0)
    # weight of each piece: commune weight × (QPV fraction split by area, or the rest)
    wp = np.where(
        pieces.unit >= 0,
        w_com[pieces.commune]
        * frac_qpv[pieces.commune]
        * pieces.area
        / np.maximum(qpv_area[pieces.commune], 1e-9),
        w_com[pieces.commune] * (1 - frac_qpv[pieces.commune]),
    )
    wp = wp / wp.sum()
    piece = rng.choice(len(wp), size=n, p=wp)
    x, y = _sample_in_pieces(rng, pieces, piece)
    unit = pieces.unit[piece]
    in_qpv = unit >= 0
    typ = rng.choice(5, size=n, p=[0.10, 0.22, 0.36, 0.24, 0.08])
    nb_pieces = np.where(typ == 4, 5 + (rng.random(n) < 0.3), typ + 1)
    fin = np.where(
        in_qpv,
        rng.choice(5, size=n, p=[0.12, 0.78, 0.05, 0.01, 0.04]),
        rng.choice(5, size=n, p=[0.14, 0.60, 0.16, 0.06, 0.04]),
    )
    surface = np.array([30, 47, 65, 80, 95])[typ] * rng.uniform(0.85, 1.15, n)
    rate = np.array([5.6, 6.3, 8.9, 10.5, 6.5])[fin]
    loyer = np.round(surface * rate * rng.uniform(0.9, 1.1, n), 2)
    annee = np.where(in_qpv, rng.integers(1955, 1985, n), rng.integers(1950, 2025, n))
    dpe = np.clip(np.round(rng.normal(3.2, 1.2, n) + 0.5 * in_qpv), 0, 6).astype(int)
    com_idx = pieces.commune[piece]
    landlord = (com_idx * 3 + rng.choice(3, size=n, p=[0.6, 0.3, 0.1])) % len(BAILLEURS)
    lon, lat = _to_wgs84().transform(x, y)
    rpls = np.char.add(f"RPLS99{block:03d}", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    codes = terr.communes["insee_com"].to_numpy()
    return pd.DataFrame(
        {
            "rpls_id": rpls.astype(object),
            "commune": codes[com_idx],
            "qpv": _unit_codes(terr, unit),
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "nb_pieces": nb_pieces.astype(np.int64),
            "typologie": TYPOLOGIES[typ],
            "financement": FINANCEMENTS[fin],
            "loyer": loyer,
            "annee_construction": annee.astype(np.int64),
            "dpe": DPE[dpe],
            "bailleur_siren": BAILLEURS[landlord],
            "_unit": unit,
            "_typ": typ,
            "_com": com_idx,
        }
    )


# --------------------------------------------------------------------------- stage B: allocations
def _stage_b(
    seed: int,
    d: _Demands,
    stock: pd.DataFrame,
    thresholds: Mapping[int, float],
    terr: Territory,
    eff: Mapping[str, Any],
    slots: Mapping[str, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Allocation rows (contract) and the internal frame used for the truth.

    ``slots`` (the allocation process) fixes, for each lease in the order of
    the rows, its dwelling (row of ``stock``), QPV status and reservataire
    (index in :data:`RESERVATAIRES`) instead of drawing them for the lessee.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, d.block, 3]))
    h = d.h
    idx = np.flatnonzero(d.alloc_sem >= 0)
    idx = idx[np.lexsort((idx, d.radiation[idx]))]
    m = len(idx)
    date = d.radiation[idx]
    year = date.astype("datetime64[Y]").astype(int) + 1970
    nb_dem = h["nb_personnes"][idx]
    changed = rng.random(m) < 0.06
    nb_alloc = np.where(
        changed, np.maximum(1, nb_dem + np.where(rng.random(m) < 0.6, 1, -1)), nb_dem
    )
    nb_given = changed | (rng.random(m) < 0.5)
    changed = nb_given & (nb_alloc != nb_dem)
    uc_alloc = np.where(changed, 1.0 + 0.5 * (nb_alloc - 1), h["uc"][idx])
    rev_dem = h["revenus"][idx]
    rev_alloc = np.round(rev_dem * np.exp(rng.normal(0.02, 0.15, m)))
    rev_given = rng.random(m) < 0.75
    rev_eff = np.where(rev_given, rev_alloc, rev_dem)
    seuil = np.array([thresholds[int(yv)] for yv in year]) if m else np.zeros(0)
    q1 = (rev_eff * 12.0) / uc_alloc <= seuil
    prio_alloc = h["prioritaire"][idx] | (rng.random(m) < 0.04)
    dalo_alloc = h["dalo"][idx].copy()
    status_given = rng.random(m) < 0.8
    prio_eff = np.where(
        status_given, prio_alloc | dalo_alloc, h["prioritaire"][idx] | h["dalo"][idx]
    )
    p_res = np.where(
        prio_eff[:, None],
        np.array([0.45, 0.15, 0.15, 0.20, 0.05]),
        np.array([0.12, 0.33, 0.22, 0.28, 0.05]),
    )
    cum = np.cumsum(p_res, axis=1)
    res = np.minimum((rng.random(m)[:, None] > cum).sum(axis=1), 4)
    anru = rng.random(m) < np.where(h["qpv_res"][idx], 0.06, 0.01)
    # placement model
    pc, pe = PLACEMENT_COEFS, eff["placement_qpv"]
    typ = h["typ"][idx]
    lp = (
        pc["intercept"]
        + np.array([pc["typologie"][t] for t in TYPOLOGIES])[typ]
        + pc["prioritaire_ou_dalo"] * prio_eff
        + np.array([pc["reservataire"][r] for r in RESERVATAIRES])[res]
        + np.log([1.0, pe["nationalite"]["ue"], pe["nationalite"]["hors_ue"]])[h["nat"][idx]]
        + math.log(pe["residence_qpv"]) * h["qpv_res"][idx]
        + math.log(pe["premier_quartile"]) * q1
    )
    in_qpv = rng.random(m) < _expit(lp)
    # dwelling: same typology, QPV status under the list in force on the lease date
    unit = stock["_unit"].to_numpy()
    c15 = terr.units["code_2015"].to_numpy() != ""
    c24 = terr.units["code_2024"].to_numpy() != ""
    q15 = (unit >= 0) & c15[np.maximum(unit, 0)]
    q24 = (unit >= 0) & c24[np.maximum(unit, 0)]
    s_typ = stock["_typ"].to_numpy()
    s_com = stock["_com"].to_numpy()
    list24 = year >= 2024
    n_com = len(terr.communes)
    dwelling = np.empty(m, dtype=np.int64)
    choice1 = h["commune_choix1"][idx]
    prefer = rng.random(m) < 0.5
    u1 = rng.random(m)
    u2 = rng.random(m)
    for is24 in (False, True):
        flag = q24 if is24 else q15
        key = (flag.astype(np.int64) * 5 + s_typ) * n_com + s_com
        order = np.argsort(key, kind="stable")
        ks = key[order]
        sel = list24 == is24
        k_broad_lo = (in_qpv[sel].astype(np.int64) * 5 + typ[sel]) * n_com
        lo_b = np.searchsorted(ks, k_broad_lo, "left")
        hi_b = np.searchsorted(ks, k_broad_lo + n_com, "left")
        if np.any(hi_b <= lo_b):
            raise AssertionError("empty dwelling pool")  # pragma: no cover - sizes prevent it
        k_fine = k_broad_lo + choice1[sel]
        lo_f = np.searchsorted(ks, k_fine, "left")
        hi_f = np.searchsorted(ks, k_fine, "right")
        use_f = prefer[sel] & (hi_f > lo_f)
        lo = np.where(use_f, lo_f, lo_b)
        hi = np.where(use_f, hi_f, hi_b)
        pick = lo + np.floor(np.where(use_f, u1[sel], u2[sel]) * (hi - lo)).astype(np.int64)
        dwelling[sel] = order[pick]
    if slots is not None:
        dwelling, in_qpv, res = slots["dwelling"], slots["in_qpv"], slots["reservataire"]
    stock_cols = stock[["rpls_id", "commune", "qpv", "bailleur_siren", "typologie", "loyer"]].iloc[
        dwelling
    ]

    nums = _num_unique(d, idx)
    prio_col = pd.array(prio_alloc, dtype="boolean")
    dalo_col = pd.array(dalo_alloc, dtype="boolean")
    prio_col[~status_given] = pd.NA
    dalo_col[~status_given] = pd.NA
    attributions = pd.DataFrame(
        {
            "num_unique": nums,
            "date_bail": pd.to_datetime(date),
            "rpls_id": stock_cols["rpls_id"].to_numpy(),
            "commune_logement": stock_cols["commune"].to_numpy(),
            "qpv_logement": stock_cols["qpv"].to_numpy(),
            "bailleur_siren": stock_cols["bailleur_siren"].to_numpy(),
            "reservataire": RESERVATAIRES[res],
            "revenus_mensuels": np.where(rev_given, rev_alloc, np.nan),
            "nb_personnes": pd.array(np.where(nb_given, nb_alloc, 0), dtype="Int64"),
            "relogement_anru": anru,
            "dalo": dalo_col,
            "prioritaire": prio_col,
            "typologie": stock_cols["typologie"].to_numpy(),
            "loyer": stock_cols["loyer"].to_numpy(),
        }
    )
    attributions.loc[~nb_given, "nb_personnes"] = pd.NA
    internal = pd.DataFrame(
        {
            "sem": d.alloc_sem[idx],
            "in_qpv": in_qpv,
            "q1": q1,
            "anru": anru,
            "prio": prio_eff,
            "reservataire": RESERVATAIRES[res],
            "commune": stock_cols["commune"].to_numpy(),
            "mutation": SITUATIONS[h["sit"][idx]] == "locataire_social",
            "nat": h["nat"][idx],
            "qpv_res": h["qpv_res"][idx],
        }
    )
    # consistency: the QPV status drawn is the one the dwelling's codes give
    codes = stock_cols["qpv"].to_numpy().astype(str)
    prefix = np.where(list24, "QN", "QP")
    derived = np.array([p in c for p, c in zip(prefix, codes, strict=True)], dtype=bool)
    if not np.array_equal(derived, in_qpv):  # pragma: no cover - internal invariant
        raise AssertionError("QPV status of the dwelling differs from the drawn placement")
    return attributions, internal


def _num_unique(d: _Demands, idx: np.ndarray) -> np.ndarray:
    yy = (d.depot[idx].astype("datetime64[Y]").astype(int) + 1970) % 100
    a = np.char.zfill(yy.astype(str), 2)
    b = np.char.zfill((idx + 1).astype(str), 8)
    return np.char.add(np.char.add(f"099{d.block:02d}", a), b).astype(object)


def _demandes_frame(d: _Demands, terr: Territory) -> pd.DataFrame:
    h = d.h
    n = len(d.depot)
    idx = np.arange(n)
    lon, lat = _to_wgs84().transform(h["x"], h["y"])
    motif = d.motif.copy()
    motif[motif == ""] = None
    return pd.DataFrame(
        {
            "num_unique": _num_unique(d, idx),
            "date_depot": pd.to_datetime(d.depot),
            "date_radiation": pd.to_datetime(d.radiation),
            "motif_radiation": motif,
            "nationalite": NATIONALITES[h["nat"]],
            "commune_residence": h["commune_residence"],
            "qpv_residence": _unit_codes(terr, h["unit"]),
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "nb_personnes": h["nb_personnes"].astype(np.int64),
            "nb_adultes_sup": h["nb_adultes_sup"].astype(np.int64),
            "nb_enfants_moins_14": h["nb_enfants_moins_14"].astype(np.int64),
            "revenus_mensuels": h["revenus"].astype(float),
            "situation_logement": SITUATIONS[h["sit"]],
            "prioritaire": h["prioritaire"],
            "dalo": h["dalo"],
            "typologie_demandee": TYPOLOGIES[h["typ"]],
            "communes_souhaitees": h["souhaits"],
            "age_demandeur": h["age"],
            "situation_professionnelle": SITUATIONS_PRO[h["pro"]],
            "handicap": h["handicap"],
        }
    )


# --------------------------------------------------------------------------- truth
def _indicator_counts(internal: pd.DataFrame) -> pd.DataFrame:
    """Numerators and denominators of the legal indicators per semester and scope.

    Columns ``indicateur, perimetre, groupe, sem, k, n`` (``k`` numerator,
    ``n`` denominator); additive over blocks and over semesters.
    """
    f = internal
    in_qpv = f["in_qpv"].to_numpy(bool)
    q1 = f["q1"].to_numpy(bool)
    anru = f["anru"].to_numpy(bool)
    prio = f["prio"].to_numpy(bool)
    res = f["reservataire"].to_numpy().astype(str)
    sem = f["sem"].to_numpy(np.int64)
    base = {
        "q1_hors_qpv": (~in_qpv, ~in_qpv & (q1 | anru)),
        "non_q1_en_qpv": (in_qpv, in_qpv & ~q1),
    }
    for r in ("action_logement", "collectivite", "bailleur"):
        base[f"prioritaires_{r}"] = (res == r, (res == r) & prio)
    scopes = {
        "territoire": np.full(len(f), "ensemble"),
        "reservataire": res,
        "commune": f["commune"].to_numpy().astype(str),
        "mutation": np.where(f["mutation"].to_numpy(bool), "mutation", "premier_acces"),
    }
    n_sem = len(_semesters())
    parts = []
    for scope, group in scopes.items():
        labels, inv = np.unique(group, return_inverse=True)
        key = inv * n_sem + sem
        size = len(labels) * n_sem
        for ind, (den, num) in base.items():
            n = np.bincount(key, weights=den, minlength=size).astype(np.int64)
            k = np.bincount(key, weights=num, minlength=size).astype(np.int64)
            parts.append(
                pd.DataFrame(
                    {
                        "indicateur": ind,
                        "perimetre": scope,
                        "groupe": np.repeat(labels, n_sem),
                        "sem": np.tile(np.arange(n_sem), len(labels)),
                        "k": k,
                        "n": n,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _access_counts(d: _Demands) -> pd.DataFrame:
    """Demands active in each semester and those allocated in it, by group (one block).

    Active in semester ``s``: filed by its last day and not closed before its
    first day (``derive.access_frame``); allocated: the generator's own
    allocation semester. Columns ``axe, groupe, sem, actives, acces``;
    additive over blocks.
    """
    nat = NATIONALITES[d.h["nat"]].astype(str)
    res = np.where(d.h["qpv_res"], "qpv", "hors_qpv")
    rows = []
    for s, (_, start, end) in enumerate(_semesters()):
        active = (d.depot <= end) & ~(d.radiation < start)
        got = active & (d.alloc_sem == s)
        for axe, values in (("nationalite", nat), ("residence_qpv", res)):
            for g in np.unique(values):
                m = values == g
                rows.append(
                    {
                        "axe": axe,
                        "groupe": str(g),
                        "sem": s,
                        "actives": int((active & m).sum()),
                        "acces": int((got & m).sum()),
                    }
                )
    return pd.DataFrame(rows)


def _access_records(counts: Sequence[pd.DataFrame]) -> list[dict[str, Any]]:
    """Records for ``truth.json`` → ``acces``: per semester, axis and group."""
    if not counts:
        return []
    c = pd.concat(counts).groupby(["axe", "groupe", "sem"], sort=True)[["actives", "acces"]].sum()
    sems = _semesters()
    return [
        {
            "axe": axe,
            "groupe": groupe,
            "periode": sems[int(sem)][0],
            "demandes_actives": int(r["actives"]),
            "demandes_satisfaites": int(r["acces"]),
        }
        for (axe, groupe, sem), r in c.iterrows()
        if r["actives"] > 0
    ]


def _indicator_records(counts: pd.DataFrame) -> list[dict[str, Any]]:
    """Records for ``truth.json``: per semester and per rolling 12 months.

    The rolling window ending with semester ``s`` adds ``s`` and ``s - 1``; it
    is reported from the second semester of the data on. Entries with a zero
    denominator are left out.
    """
    sems = _semesters()
    n_sem = len(sems)
    keys = ["indicateur", "perimetre", "groupe"]
    c = counts.groupby([*keys, "sem"], sort=True)[["k", "n"]].sum()
    full = c.unstack("sem", fill_value=0).reindex(columns=range(n_sem), level=1, fill_value=0)
    k = full["k"].reindex(columns=range(n_sem), fill_value=0).to_numpy()
    n = full["n"].reindex(columns=range(n_sem), fill_value=0).to_numpy()
    idx = full.index.to_frame(index=False)
    k12 = k.copy()
    n12 = n.copy()
    k12[:, 1:] += k[:, :-1]
    n12[:, 1:] += n[:, :-1]
    out: list[dict[str, Any]] = []
    ind, per, grp = (idx[col].astype(str).tolist() for col in keys)
    for fenetre, kk, nn, first in (("semestre", k, n, 0), ("12_mois", k12, n12, 1)):
        for i in range(len(ind)):
            for s in range(first, n_sem):
                if nn[i, s] > 0:
                    out.append(
                        {
                            "indicateur": ind[i],
                            "periode": sems[s][0],
                            "fenetre": fenetre,
                            "perimetre": per[i],
                            "groupe": grp[i],
                            "numerateur": int(kk[i, s]),
                            "denominateur": int(nn[i, s]),
                        }
                    )
    return out


def _truth(
    *,
    seed: int,
    scale: str,
    eff: Mapping[str, Any],
    terr: Territory,
    thresholds: Mapping[int, float],
    counts: Mapping[str, int],
    indicator_counts: pd.DataFrame,
    access_counts: Sequence[pd.DataFrame] = (),
) -> dict[str, Any]:
    return {
        "territoire": terr.label,
        "fictif": terr.fictional,
        "seed": seed,
        "scale": scale,
        "periode_demo": DEMO_PERIOD,
        "siren_epci": SIREN_EPCI,
        "effects": eff,
        "exact": {
            "access.nationalite": "exact odds ratio of the semester-level access logistic model",
            "access.residence_qpv": "exact odds ratio of the semester-level access logistic model",
            "placement_qpv.nationalite": "exact odds ratio of the placement logistic model",
            "placement_qpv.residence_qpv": "exact odds ratio of the placement logistic model",
            "placement_qpv.premier_quartile": "exact odds ratio of the placement logistic model",
            "indicateurs": "exact counts of the generated data",
            "acces": "exact counts of the generated data: demands active in each semester "
            "(filed by its last day, not closed before its first) and allocated in it, by "
            "nationality and by residence in a QPV",
            "seuils_q1": "exact (legal rule applied to the generated demands)",
        },
        "approximate": {
            "waiting_time_hazard_ratio": {
                "value": {
                    "ue": eff["access"]["nationalite"]["ue"],
                    "hors_ue": eff["access"]["nationalite"]["hors_ue"],
                    "residence_qpv": eff["access"]["residence_qpv"],
                },
                "note": (
                    "Hazard ratios of waiting time are only approximately the access odds "
                    "ratios: the model is a discrete-time logistic model per semester, and "
                    "OR ≈ HR only when allocation in a semester is rare (about 9 % here)."
                ),
            }
        },
        "access_model": {
            "unit": "demand × semester, for demands active at some time in the semester",
            "outcome": "allocated (lease signed) during the semester",
            "coefficients": ACCESS_COEFS,
            "covariates": {
                "log_revenu_uc": "log(revenus_mensuels × 12 / uc) of the demand, uc from its composition",
                "anciennete_annees": "max(0, semester start − date_depot in days) / 365.25",
                "nb_personnes": "demand's household size",
                "typologie_demandee": "reference T1",
                "situation_logement": "reference locataire_prive",
            },
            "p_other_closing": P_OTHER_CLOSING,
        },
        "placement_model": {
            "unit": "allocation",
            "outcome": "dwelling in a QPV of the list in force on the lease date",
            "coefficients": PLACEMENT_COEFS,
            "q1": "legal first-quartile status at allocation",
        },
        "conventions": {
            "active_on_day": "date_depot <= D and (no date_radiation or date_radiation > D)",
            "threshold": "sorted incomes per UC of demands active on 31 Dec Y-1; value number ceil(n/4), rounded to the euro",
        },
        "seuils_q1": {str(y): v for y, v in sorted(thresholds.items())},
        "counts": dict(counts),
        "indicateurs": _indicator_records(indicator_counts),
        "acces": _access_records(access_counts),
    }


# --------------------------------------------------------------------------- public API
@dataclass
class SynthDataset:
    """A synthetic data set in the input contract, with its truth.

    Attributes
    ----------
    demandes, attributions, logements, seuils_q1 : pandas.DataFrame
        Contract columns (raw form: ``num_unique``, contract enumerations).
    communes, qpv : geopandas.GeoDataFrame
        EPSG:2154; communes ``insee_com``, ``nom``; QPV ``code_quartier``,
        ``nom_quartier``, ``liste`` (one feature per code: areas in both lists
        appear twice).
    truth : dict
        Planted parameters, seed, counts, thresholds and exact legal indicators.
    config : dict
        Content of ``config.yaml``.
    internal : pandas.DataFrame
        Per allocation, the generator's own variables (``sem``, ``in_qpv``,
        ``q1``, ``anru``, ``prio``, ``nat``, ``qpv_res`` …), for calibration studies.
    propositions : pandas.DataFrame or None
        Candidates examined by the commissions (contract columns), when the
        data set was generated with ``propositions=True``; ``demandes`` then
        carries the cotation columns.
    """

    demandes: pd.DataFrame
    attributions: pd.DataFrame
    logements: pd.DataFrame
    seuils_q1: pd.DataFrame
    communes: gpd.GeoDataFrame
    qpv: gpd.GeoDataFrame
    truth: dict[str, Any]
    config: dict[str, Any]
    internal: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    propositions: pd.DataFrame | None = None

    def run_options(self, folder: str | Path) -> dict[str, Any]:
        """Run options of the data set written to ``folder`` (:func:`write_dataset`).

        The keys of ``config.yaml`` with every input file made an absolute path
        inside ``folder`` (as ``run --config`` resolves them against the
        configuration file), ready for
        :func:`allocation_analysis.pipeline.config_from_options`.
        """
        from allocation_analysis.config import RUN_PARAMETERS

        paths = {p.name for p in RUN_PARAMETERS if p.path}
        base = Path(folder)
        return {k: (str(base / v) if k in paths and v else v) for k, v in self.config.items()}


def _check_scale(scale: str) -> dict[str, int]:
    if scale not in SCALES:
        raise UsageError(f"Échelle inconnue : « {scale} ». Valeurs permises : {', '.join(SCALES)}.")
    return SCALES[scale]


def _layers(terr: Territory) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    communes = terr.communes[["insee_com", "nom", "geometry"]].copy()
    rows = []
    for u in terr.units.itertuples(index=False):
        for code, liste in ((u.code_2015, "2015"), (u.code_2024, "2024")):
            if code:
                rows.append(
                    {
                        "code_quartier": code,
                        "nom_quartier": u.nom,
                        "liste": liste,
                        "geometry": u.geometry,
                    }
                )
    qpv = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_L93)
    return communes, qpv


def _config(
    fmt: str = "csv", *, propositions: bool = False, landlords: bool = False
) -> dict[str, Any]:
    ext = "parquet" if fmt == "parquet" else "csv"
    out = {
        "demandes": f"demandes.{ext}",
        "attributions": f"attributions.{ext}",
        "logements": f"logements.{ext}",
        "seuils": f"seuils_q1.{ext}",
        "communes": "communes.geojson",
        "qpv": "qpv.geojson",
        "period": DEMO_PERIOD,
        "territory": "demo",
        "siren_epci": SIREN_EPCI,
    }
    if propositions:
        out["propositions"] = f"propositions.{ext}"
    if landlords:
        out["bailleurs"] = f"bailleurs.{ext}"
    return out


def _write_landlords(out: Path, fmt: str) -> None:
    """Write ``bailleurs`` (SIREN, fictional name) in the data set's format."""
    ext = "parquet" if fmt == "parquet" else "csv"
    names = pd.DataFrame({"bailleur_siren": BAILLEURS, "nom": list(BAILLEURS_NOMS)})
    _write_table(names, out / f"bailleurs.{ext}", fmt)


def _process_effects(eff: dict[str, Any]) -> dict[str, Any]:
    """The effects with a ``processus`` block (the packaged one when it is absent)."""
    if "processus" in eff:
        return eff
    return {**eff, "processus": load_effects("processus")["processus"]}


def _with_process(
    seed: int,
    d: _Demands,
    terr: Territory,
    stock: pd.DataFrame,
    thresholds: Mapping[int, float],
    attributions: pd.DataFrame,
    internal: pd.DataFrame,
    eff: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The block after the allocation process.

    The access model's leases are the vacancies; the process
    (:func:`allocation_analysis.synth_process.process_block`) decides who signs
    each recorded one. Returns the demands with their cotation, the leases and
    their internal frame (each on the vacancy's dwelling, reservataire and
    date), the propositions and the stage counts.
    """
    from allocation_analysis import synth_process

    cot = synth_process.cotation_frame(d.h, d.depot, d.radiation, SITUATIONS)
    nums = _num_unique(d, np.arange(len(d.depot)))
    props, counts, final = synth_process.process_block(
        seed=seed,
        block=d.block,
        h=d.h,
        depot=d.depot,
        radiation=d.radiation,
        alloc_sem=d.alloc_sem,
        score=cot["score_cotation"].to_numpy(),
        nums=nums,
        attributions=attributions,
        in_qpv=internal["in_qpv"].to_numpy(bool),
        semesters=_semesters(),
        eff=eff["processus"],
    )
    motif = d.motif.copy()
    motif[final["moved"]] = ""
    lessee = final["lessee"]
    motif[lessee[lessee >= 0]] = "attribution"
    after = replace(d, radiation=final["radiation"], motif=motif, alloc_sem=final["alloc_sem"])
    # each lease keeps its vacancy's dwelling, QPV status and reservataire
    slot = np.full(len(d.depot), -1, dtype=np.int64)
    slot[lessee[lessee >= 0]] = np.flatnonzero(lessee >= 0)
    idx = np.flatnonzero(after.alloc_sem >= 0)
    idx = idx[np.lexsort((idx, after.radiation[idx]))]
    j = slot[idx]
    res_code = {r: k for k, r in enumerate(RESERVATAIRES)}
    slots = {
        "dwelling": pd.Index(stock["rpls_id"]).get_indexer(attributions["rpls_id"])[j],
        "in_qpv": internal["in_qpv"].to_numpy(bool)[j],
        "reservataire": np.array([res_code[r] for r in attributions["reservataire"]])[j],
    }
    leases, internal_after = _stage_b(seed, after, stock, thresholds, terr, eff, slots=slots)
    demandes = pd.concat([_demandes_frame(after, terr), cot], axis=1)
    return demandes, leases, internal_after, props, counts


def _add_process_truth(
    truth: dict, eff: Mapping[str, Any], counts: list[pd.DataFrame], n_props: int
) -> None:
    """Add the ``processus`` entry; the access and placement odds ratios stop being exact."""
    truth["processus"] = _process_truth(eff, counts, n_props)
    for key in [k for k in truth["exact"] if k.startswith(("access.", "placement_qpv."))]:
        del truth["exact"][key]
    truth["exact"]["processus"] = "see processus.exact and processus.estimands"


def _process_truth(eff: Mapping[str, Any], counts: list[pd.DataFrame], n_props: int) -> dict:
    from allocation_analysis import synth_process

    return {
        "effects": eff["processus"],
        "n_propositions": int(n_props),
        "etapes": synth_process.stage_records(pd.concat(counts, ignore_index=True)),
        "conventions": {
            "unit": "demand active at some time in the semester of the commission "
            "(date_depot <= end and no date_radiation or date_radiation >= start)",
            "stages": "furthest stage reached over the commissions held in the semester: "
            "designees (at least one row), favorables (attribution or "
            "attribution_sous_condition), proposees (reponse_demandeur set), acceptees "
            "(acceptation), baux (lease signed on the accepted offer)",
            "groups": "nationalite of the demand; residence = the generator's QPV flag of "
            "the demand's residence",
            "baux_sans_proposition": "leases of the semester whose vacancy has no recorded "
            "proposition, by the lessee's group",
        },
        "exact": "counts, and the odds ratios of estimands (see allocation_analysis.synth_process)",
        "estimands": {
            "decision_cal": "odds ratios of a favourable decision among the candidates of one "
            "commission: conditional logit stratified by id_offre",
            "refus": "odds ratios of refusing an offered dwelling (refus or sans_reponse), by "
            "group and for a dwelling in a QPV (logement_qpv); group x QPV dwelling "
            "interaction 1: logit among the offers",
            "rang": "ranked first among the favourable candidates of one commission: "
            "conditional logit, log(score_designation) / 10 per point of score_cotation, "
            "group odds ratio 1",
            "designation": "ratio of the weights of one draw among the demands of the "
            "typology active on the commission date, at equal score (a rate ratio); the "
            "semester logit of designation recovers it only approximately",
            "access_placement": "the access and placement odds ratios of the effects are not "
            "exact parameters of a data set with propositions (the process decides who "
            "is housed)",
        },
    }


def _blocks(
    *, seed: int, sizes: Mapping[str, int], terr: Territory, eff: Mapping[str, Any]
) -> tuple[dict[int, float], Iterator[tuple[_Demands, pd.DataFrame, pd.DataFrame, pd.DataFrame]]]:
    """Thresholds (first pass), then an iterator over the blocks (second pass)."""
    n_blocks = sizes["blocks"]
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    cache: dict[int, _Demands] = {}
    incomes: dict[int, list[np.ndarray]] = {y: [] for y in years}
    for b in range(n_blocks):
        d = _stage_a(seed, b, sizes, terr, eff)
        for y in years:
            incomes[y].append(_active_income_uc(d, np.datetime64(f"{y - 1}-12-31")))
        if n_blocks == 1:
            cache[b] = d
    thresholds = {y: _threshold(np.concatenate(incomes[y])) for y in years}

    def it() -> Iterator[tuple[_Demands, pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
        for b in range(n_blocks):
            d = cache.pop(b) if b in cache else _stage_a(seed, b, sizes, terr, eff)
            stock = _stock(seed, b, sizes, terr)
            attributions, internal = _stage_b(seed, d, stock, thresholds, terr, eff)
            yield d, stock, attributions, internal

    return thresholds, it()


def _seuils_frame(thresholds: Mapping[int, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "annee": np.array(sorted(thresholds), dtype=np.int64),
            "siren_epci": SIREN_EPCI,
            "seuil_uc_annuel": [thresholds[y] for y in sorted(thresholds)],
        }
    )


def _territory(communes: str | Path | None, qpv: str | Path | None) -> Territory:
    if communes is None and qpv is None:
        return demo_territory()
    if communes is None:
        raise UsageError("--qpv demande aussi --communes (les communes où placer la population).")
    return territory_from_files(communes, qpv)


def generate(
    *,
    scale: str = "small",
    seed: int = 0,
    effects: str | Path | Mapping[str, Any] | None = None,
    communes: str | Path | None = None,
    qpv: str | Path | None = None,
    propositions: bool = False,
) -> SynthDataset:
    """Generate a synthetic data set in memory.

    Parameters
    ----------
    scale : {"tiny", "small", "demo", "mel", "national"}
        Size (see :data:`SCALES`). ``national`` is better written with
        :func:`synth_command`, which streams it to disk block by block.
    seed : int
        Seed of every random draw; same seed ⇒ same data.
    effects : path, mapping, "default", "null" or None
        Planted effects (:func:`load_effects`).
    communes, qpv : path, optional
        Real geography on which to place the population instead of the
        fictional metropolis.
    propositions : bool
        Also generate the allocation process (:mod:`allocation_analysis.synth_process`):
        the ``propositions`` table, the cotation columns of ``demandes`` and
        the exact per-stage counts in ``truth["processus"]``. Off by default:
        every other table and truth entry is the same either way. The stage
        effects are the ``processus`` block of ``effects`` (the packaged
        ``effects_processus.yaml`` block when it has none).

    Returns
    -------
    SynthDataset

    References
    ----------
    .. [1] Code de la construction et de l'habitation, art. L441-1 (first-quartile
       rules, as amended by loi n° 2017-86 Égalité et Citoyenneté, art. 70).
    .. [2] Allison, P. D. (1982). Discrete-time methods for the analysis of event
       histories. Sociological Methodology, 13, 61–98.
    """
    sizes = _check_scale(scale)
    eff = load_effects(effects)
    if propositions:
        eff = _process_effects(eff)
    terr = _territory(communes, qpv)
    thresholds, blocks = _blocks(seed=int(seed), sizes=sizes, terr=terr, eff=eff)
    dem, att, log, internals, counts, access = [], [], [], [], [], []
    props, stage_counts = [], []
    for d, stock, attributions, internal in blocks:
        if propositions:
            dem_b, attributions, internal, props_b, counts_b = _with_process(
                int(seed), d, terr, stock, thresholds, attributions, internal, eff
            )
            dem.append(dem_b)
            props.append(props_b)
            stage_counts.append(counts_b)
        else:
            dem.append(_demandes_frame(d, terr))
        att.append(attributions)
        log.append(stock.drop(columns=["_unit", "_typ", "_com"]))
        internals.append(internal)
        counts.append(_indicator_counts(internal))
        access.append(_access_counts(d))
    demandes = pd.concat(dem, ignore_index=True)
    attributions = pd.concat(att, ignore_index=True)
    logements = pd.concat(log, ignore_index=True)
    com_layer, qpv_layer = _layers(terr)
    n = {
        "demandes": len(demandes),
        "attributions": len(attributions),
        "logements": len(logements),
        "communes": len(com_layer),
        "qpv_features": len(qpv_layer),
    }
    truth = _truth(
        seed=int(seed),
        scale=scale,
        eff=eff,
        terr=terr,
        thresholds=thresholds,
        counts=n,
        indicator_counts=pd.concat(counts, ignore_index=True),
        access_counts=access,
    )
    prop_frame = pd.concat(props, ignore_index=True) if propositions else None
    if prop_frame is not None:
        truth["counts"]["propositions"] = len(prop_frame)
        _add_process_truth(truth, eff, stage_counts, len(prop_frame))
    return SynthDataset(
        demandes=demandes,
        attributions=attributions,
        logements=logements,
        seuils_q1=_seuils_frame(thresholds),
        communes=com_layer,
        qpv=qpv_layer,
        truth=truth,
        config=_config(propositions=propositions),
        internal=pd.concat(internals, ignore_index=True),
        propositions=prop_frame,
    )


def draw_replicates(
    n: int,
    *,
    scale: str = "tiny",
    effects: str | Path | Mapping[str, Any] | None = None,
    seed: int = 0,
    propositions: bool = False,
) -> Iterator[SynthDataset]:
    """Yield ``n`` independent in-memory data sets (calibration studies).

    Replicate ``r`` uses the seed ``seed * 1_000_003 + r``; the territory is
    shared. Intended for size (``effects="null"``) and power studies.
    """
    if n < 0:
        raise UsageError(f"Nombre de réplications invalide : {n}.")
    eff = load_effects(effects)
    for r in range(int(n)):
        yield generate(
            scale=scale, seed=int(seed) * 1_000_003 + r, effects=eff, propositions=propositions
        )


# --------------------------------------------------------------------------- writing
_FLOAT_DECIMALS = {"lon": 6, "lat": 6}


def _format_frame(df: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """Dates and booleans as a CSV export shows them (``csv`` or French ``fr-csv``).

    Numbers stay numeric (floats rounded: 6 decimals for coordinates, 2
    otherwise); the CSV writer prints them, with a decimal comma for ``fr-csv``.
    """
    fr = fmt == "fr-csv"
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            iso = pd.Series(
                np.datetime_as_string(s.to_numpy().astype("datetime64[D]")), index=s.index
            )
            txt = iso.str[8:10] + "/" + iso.str[5:7] + "/" + iso.str[0:4] if fr else iso
            out[col] = txt.where(s.notna(), "")
        elif pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
            yes, no = ("oui", "non") if fr else ("true", "false")
            out[col] = s.map({True: yes, False: no}).astype(object).where(s.notna(), "")
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.round(_FLOAT_DECIMALS.get(col, 2))
        else:
            out[col] = s
    return pd.DataFrame(out, columns=df.columns)


def _write_table(
    df: pd.DataFrame, path: Path, fmt: str, *, header: bool = True, mode: str = "w"
) -> None:
    if fmt == "parquet":
        df.to_parquet(path, index=False)
        return
    fr = fmt == "fr-csv"
    text = _format_frame(df, fmt).to_csv(
        index=False,
        sep=";" if fr else ",",
        decimal="," if fr else ".",
        na_rep="",
        lineterminator="\n",
        header=header,
    )
    with open(path, mode, encoding="cp1252" if fr else "utf-8", newline="") as fh:
        fh.write(text)


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], float):
            return [round(v, 6) for v in obj]
        return [_round_coords(o) for o in obj]
    return obj


def _write_geojson(
    gdf: gpd.GeoDataFrame, path: Path, props: list[str], name: str, description: str
) -> None:
    wgs = gdf.to_crs("EPSG:4326")
    feats = []
    for row in wgs.itertuples(index=False):
        geom = shapely.geometry.mapping(row.geometry)
        geom = {
            "type": geom["type"],
            "coordinates": _round_coords(json.loads(json.dumps(geom["coordinates"]))),
        }
        feats.append(
            {"type": "Feature", "properties": {p: getattr(row, p) for p in props}, "geometry": geom}
        )
    doc = {"type": "FeatureCollection", "name": name, "description": description, "features": feats}
    path.write_text(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )


def _write_common(
    output: Path,
    *,
    com: gpd.GeoDataFrame,
    qpv: gpd.GeoDataFrame,
    truth: dict,
    eff: dict,
    config: dict,
    label: str,
) -> None:
    import yaml

    _write_geojson(com, output / "communes.geojson", ["insee_com", "nom"], "communes", label)
    _write_geojson(
        qpv, output / "qpv.geojson", ["code_quartier", "nom_quartier", "liste"], "qpv", label
    )
    (output / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )
    (output / "effects.yaml").write_text(
        yaml.safe_dump(eff, allow_unicode=True, sort_keys=True), encoding="utf-8"
    )
    (output / "config.yaml").write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


def _check_fmt(fmt: str) -> None:
    if fmt not in ("csv", "fr-csv", "parquet"):
        raise UsageError(f"Format inconnu : « {fmt} ». Valeurs permises : csv, fr-csv, parquet.")


def write_dataset(ds: SynthDataset, output: str | Path, *, fmt: str = "csv") -> Path:
    """Write a data set: tables, GeoJSON (WGS84), ``truth.json``, ``effects.yaml``, ``config.yaml``.

    Parameters
    ----------
    ds : SynthDataset
    output : path
        Folder (created if needed).
    fmt : {"csv", "fr-csv", "parquet"}
        ``fr-csv``: Windows-1252, ``;`` separator, decimal comma, ``DD/MM/YYYY``
        dates, ``oui``/``non`` booleans.

    Returns
    -------
    Path
        The output folder. Besides the tables it holds ``bailleurs`` (the
        synthetic landlords' SIREN and fictional names, optional input
        ``--bailleurs``).
    """
    _check_fmt(fmt)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    ext = "parquet" if fmt == "parquet" else "csv"
    for name in ("demandes", "attributions", "logements", "seuils_q1"):
        _write_table(getattr(ds, name), out / f"{name}.{ext}", fmt)
    if ds.propositions is not None:
        _write_table(ds.propositions, out / f"propositions.{ext}", fmt)
    _write_landlords(out, fmt)
    config = _config(fmt, propositions=ds.propositions is not None, landlords=True)
    ds.config = config
    _write_common(
        out,
        com=ds.communes,
        qpv=ds.qpv,
        truth=ds.truth,
        eff=ds.truth["effects"],
        config=config,
        label=ds.truth["territoire"],
    )
    return out


def _stream_to_disk(
    *,
    output: Path,
    seed: int,
    scale: str,
    eff: dict,
    fmt: str,
    terr: Territory,
    propositions: bool = False,
) -> dict[str, Any]:
    """Generate block by block and append to the files (bounded memory)."""
    sizes = _check_scale(scale)
    if propositions:
        eff = _process_effects(eff)
    thresholds, blocks = _blocks(seed=seed, sizes=sizes, terr=terr, eff=eff)
    ext = "parquet" if fmt == "parquet" else "csv"
    writers: dict[str, Any] = {}
    n = {"demandes": 0, "attributions": 0, "logements": 0}
    if propositions:
        n["propositions"] = 0
    counts, stage_counts, access = [], [], []
    try:
        for b, (d, stock, attributions, internal) in enumerate(blocks):
            frames = {
                "demandes": None,
                "attributions": attributions,
                "logements": stock.drop(columns=["_unit", "_typ", "_com"]),
            }
            if propositions:
                (
                    frames["demandes"],
                    frames["attributions"],
                    internal,
                    frames["propositions"],
                    counts_b,
                ) = _with_process(seed, d, terr, stock, thresholds, attributions, internal, eff)
                stage_counts.append(counts_b)
            else:
                frames["demandes"] = _demandes_frame(d, terr)
            for name, df in frames.items():
                n[name] += len(df)
                path = output / f"{name}.{ext}"
                if fmt == "parquet":
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(df, preserve_index=False)
                    if name not in writers:
                        writers[name] = pq.ParquetWriter(path, table.schema)
                    writers[name].write_table(table.cast(writers[name].schema))
                else:
                    _write_table(df, path, fmt, header=b == 0, mode="w" if b == 0 else "a")
            counts.append(_indicator_counts(internal))
            access.append(_access_counts(d))
            logger.info("bloc %d/%d écrit", b + 1, sizes["blocks"])
    finally:
        for w in writers.values():
            w.close()
    _write_table(_seuils_frame(thresholds), output / f"seuils_q1.{ext}", fmt)
    com, qpv = _layers(terr)
    n.update({"communes": len(com), "qpv_features": len(qpv)})
    truth = _truth(
        seed=seed,
        scale=scale,
        eff=eff,
        terr=terr,
        thresholds=thresholds,
        counts=n,
        indicator_counts=pd.concat(counts, ignore_index=True),
        access_counts=access,
    )
    if propositions:
        _add_process_truth(truth, eff, stage_counts, n["propositions"])
    _write_landlords(output, fmt)
    _write_common(
        output,
        com=com,
        qpv=qpv,
        truth=truth,
        eff=eff,
        config=_config(fmt, propositions=propositions, landlords=True),
        label=terr.label,
    )
    return truth


def synth_command(
    *,
    output: str | Path,
    seed: int = 1,
    scale: str = "small",
    effects: str | Path | None = None,
    fmt: str = "csv",
    communes: str | Path | None = None,
    qpv: str | Path | None = None,
    propositions: bool = False,
) -> int:
    """``allocation-analysis synth``: write a synthetic data set; returns 0.

    With ``propositions`` the allocation process is generated too (see
    :func:`generate`).

    Raises
    ------
    UsageError
        Unknown scale or format, ``--qpv`` without ``--communes``.
    InputError
        Unreadable effects or geography files.
    """
    _check_fmt(fmt)
    _check_scale(scale)
    eff = load_effects(effects)
    terr = _territory(communes, qpv)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    truth = _stream_to_disk(
        output=out,
        seed=int(seed),
        scale=scale,
        eff=eff,
        fmt=fmt,
        terr=terr,
        propositions=propositions,
    )
    logger.info(
        "Jeu synthétique écrit dans %s : %d demandes, %d attributions, %d logements.",
        out,
        truth["counts"]["demandes"],
        truth["counts"]["attributions"],
        truth["counts"]["logements"],
    )
    if propositions:
        logger.info("… et %d propositions (CAL).", truth["counts"]["propositions"])
    return 0

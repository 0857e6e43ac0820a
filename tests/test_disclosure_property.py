"""Statistical secret, property-based: on any small territory, no published count in
[1, threshold - 1], no share on such a denominator, and no secret cell recoverable by
differencing (territory vs communes, first access + mutation, semester vs rolling
year). Then the same rules on every table and map of a real pipeline output."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pipeline_fixtures
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from test_privacy_disclosure import attack  # independent SVD differencing attacker

from allocation_analysis import maps
from allocation_analysis.indicators import RESERVATAIRES, compute_indicators
from allocation_analysis.privacy import protect_indicators

# Shared session fixtures (see tests/pipeline_fixtures.py).
planted_dataset = pipeline_fixtures.planted_dataset
planted_run = pipeline_fixtures.planted_run
test_environment = pipeline_fixtures.test_environment

T = 11
_SHARES = ("share", "ci_low", "ci_high", "p_value_vs_target")

# Skewed draws (one big commune, most leases in the semester): the territory then has
# a few published cells next to small ones, the case where differencing bites.
lease = st.fixed_dictionaries(
    {
        # 2024-07-01 + day: 365..548 is the 2025-S2 semester, earlier days the rolling year
        "day": st.one_of(st.integers(365, 548), st.integers(0, 548)),
        "commune": st.sampled_from(["59001"] * 6 + ["59002"] * 2 + ["59003"]),
        "bailleur": st.sampled_from(["111111111"] * 3 + ["222222222"]),
        "reservataire": st.sampled_from(list(RESERVATAIRES)),
        "qpv": st.sampled_from([False, False, True]),
        "q1": st.sampled_from([False, False, False, True]),
        "anru": st.sampled_from([False] * 9 + [True]),
        "prio": st.booleans(),
        "mutation": st.sampled_from([False, False, True]),
    }
)


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date_bail": pd.Timestamp("2024-07-01")
            + pd.to_timedelta([r["day"] for r in rows], unit="D"),
            "commune_logement": pd.array([r["commune"] for r in rows], dtype="string"),
            "bailleur_siren": pd.array([r["bailleur"] for r in rows], dtype="string"),
            "reservataire": pd.array([r["reservataire"] for r in rows], dtype="string"),
            "logement_en_qpv": np.array([r["qpv"] for r in rows], dtype=bool),
            "q1": np.array([r["q1"] for r in rows], dtype=bool),
            "relogement_anru": np.array([r["anru"] for r in rows], dtype=bool),
            "prioritaire_ou_dalo": np.array([r["prio"] for r in rows], dtype=bool),
            "mutation": np.array([r["mutation"] for r in rows], dtype=bool),
        }
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lease, min_size=60, max_size=150))
def test_small_territories_never_publish_or_leak_a_small_count(rows):
    ind = compute_indicators(_frame(rows), period="2025-S2")
    pub = protect_indicators(ind, threshold=T)
    for col in ("numerator", "denominator"):
        v = pd.to_numeric(pub[col], errors="coerce")
        assert not v.between(1, T - 1).any(), f"small {col} published"
        shown = v.notna()
        # Published counts are true counts.
        assert (v[shown] == ind.loc[shown, col].astype(float)).all()
    small_den = ind["denominator"].astype(float).between(1, T - 1)
    hidden_counts = pub["numerator"].isna() | pub["denominator"].isna()
    for col in _SHARES:
        assert pub.loc[small_den | hidden_counts, col].isna().all(), f"{col} on a secret row"
    # Complement (denominator - numerator) small while both are published: also a leak.
    both = pub["numerator"].notna() & pub["denominator"].notna()
    comp = (pub["denominator"] - pub["numerator"])[both].astype(float)
    assert not comp.between(1, T - 1).any()
    assert attack(ind, pub, threshold=T) == []


# --------------------------------------------------------------------------- real output

_COUNT_COLUMNS = {
    "numerator",
    "denominator",
    "n",
    "demandes_actives",
    "demandes_satisfaites",
    "attributions_semestre",
    "lues",
    "acceptees",
    "rejetees",
    "lignes",
    "en_attente",
    "delai_depasse",
    "demandes",
    "attributions_12m",
}
_MAP_COUNT = re.compile(r'"t_(?:n|num|den|count|numerator|denominator)": "([^"]*)"')
"""Tooltip fields of the maps that carry counts (indicator maps: ``t_num``, ``t_den``;
disparity and placement maps: ``t_n``; tension map: ``t_num`` demands, ``t_den`` leases)."""


def _map_counts(page: str) -> list[int]:
    """Every integer written in a count field of a map page's tooltips."""
    values = []
    for field in _MAP_COUNT.findall(page):
        field = json.loads(f'"{field}"')
        values += [
            int(x.replace("\u202f", "").replace("\u00a0", "").replace(" ", ""))
            for x in re.findall(r"\d[\d\u202f\u00a0 ]*", field)
        ]
    return values


@pytest.mark.slow
def test_published_tables_hold_no_small_count(planted_run):
    tables = sorted((planted_run.final / "tables").glob("*.csv"))
    assert tables
    seen = 0
    bad = []
    for f in tables:
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        for col in _COUNT_COLUMNS & set(df.columns):
            v = pd.to_numeric(df[col].replace("", None), errors="coerce")
            seen += int(v.notna().sum())
            if v.between(1, T - 1).any():
                bad.append((f.name, col, sorted(v[v.between(1, T - 1)].unique())))
    assert seen > 0
    assert bad == []


@pytest.mark.slow
def test_published_maps_hold_no_small_count(planted_run):
    """Every map of a run is either a « carte non publiable » box or carries only
    counts outside [1, T - 1] in its tooltips (the small planted territory mostly
    yields boxes; :func:`test_small_territory_maps_never_show_a_small_count` covers
    drawn maps)."""
    maps_ = sorted((planted_run.final / "maps").glob("*.html"))
    assert maps_
    values = []
    for f in maps_:
        page = f.read_text("utf-8")
        counts = _map_counts(page)
        if not counts:
            assert maps.NOT_PUBLISHABLE_TITLE in page, f"{f.name}: neither counts nor a box"
        values += counts
    assert [v for v in values if 1 <= v <= T - 1] == []


def _communes_geo(codes: list[str]) -> gpd.GeoDataFrame:
    x0, y0 = 700_000, 7_060_000
    return gpd.GeoDataFrame(
        {"insee_com": codes, "nom": [f"Commune {c}" for c in codes]},
        geometry=[
            box(x0 + i * 2000, y0, x0 + (i + 1) * 2000, y0 + 2000) for i in range(len(codes))
        ],
        crs=2154,
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lease, min_size=60, max_size=150))
def test_small_territory_maps_never_show_a_small_count(rows):
    """The published indicators drawn as maps (every indicator, both windows): the
    tooltips never hold a count in [1, T - 1], and the count pattern does find the
    counts of the communes that are drawn."""
    ind = compute_indicators(_frame(rows), period="2025-S2")
    pub = protect_indicators(ind, threshold=T)
    geo = _communes_geo(["59001", "59002", "59003"])
    shown = pub[(pub["scope"] == "commune") & pub["numerator"].notna()]
    for (indicator, window), _rows in pub[pub["scope"] == "commune"].groupby(["id", "window"]):
        page = maps.render_map(
            maps.indicator_map(geo, pub, indicator_id=indicator, window=window, min_denominator=T)
        )
        counts = _map_counts(page)
        assert [v for v in counts if 1 <= v <= T - 1] == []
        drawn = shown[(shown["id"] == indicator) & (shown["window"] == window)]
        if maps.NOT_PUBLISHABLE_TITLE not in page and len(drawn):
            assert counts, "no count found in a drawn map: the pattern no longer matches"

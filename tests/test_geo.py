"""Geography: real MEL communes and Occitanie QPV perimeters, CRS, spellings, repair."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from allocation_analysis.errors import InputError
from allocation_analysis.io.geo import (
    assign_points,
    geometry_rejects,
    load_communes,
    load_qpv,
    simplify_for_web,
    to_wgs84,
)

L93 = "EPSG:2154"


# --------------------------------------------------------------------------- #
# real layers
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def mel_path(shared_geo: Path) -> Path:
    return shared_geo / "mel_communes.geojson"


@pytest.fixture(scope="module")
def qpv_path(shared_geo: Path) -> Path:
    return shared_geo / "occitanie_qpv_2015.geojson"


def _probe_points(raw: gpd.GeoDataFrame, code_col: str, k: int = 8):
    """Representative points of k valid polygons of the raw file and their own code."""
    valid = raw[raw.geometry.is_valid].iloc[:: max(1, len(raw) // k)].head(k)
    pts = valid.geometry.representative_point()
    return pts.x.to_numpy(), pts.y.to_numpy(), valid[code_col].tolist()


def test_mel_communes_load_in_lambert93(mel_path):
    communes = load_communes(mel_path)
    assert len(communes) == 95
    assert communes.crs.to_epsg() == 2154
    assert list(communes.columns) == ["insee_com", "nom", "geometry"]
    assert communes["insee_com"].dtype == "string"
    assert communes["insee_com"].str.fullmatch(r"\d{5}").all()
    assert "59350" in set(communes["insee_com"])  # Lille
    assert communes.is_valid.all()
    assert geometry_rejects(communes).empty


def test_occitanie_qpv_2015_load_and_repair(qpv_path):
    raw = gpd.read_file(qpv_path)
    n_invalid = int((~raw.is_valid).sum())
    qpv = load_qpv(qpv_path)
    assert len(qpv) == 105
    assert qpv.crs.to_epsg() == 2154
    assert list(qpv.columns) == ["code_qpv", "nom_qpv", "liste", "geometry"]
    assert (qpv["liste"] == "2015").all()
    assert qpv.is_valid.all()
    assert qpv.attrs["n_repaired"] == n_invalid > 0
    assert set(qpv["code_qpv"]) == set(raw["code_qp"])


def test_point_in_commune_on_real_shapes(mel_path):
    raw = gpd.read_file(mel_path)
    lon, lat, expected = _probe_points(raw, "insee_com")
    communes = load_communes(mel_path)
    got = assign_points(lon, lat, communes, code_column="insee_com")
    assert got.tolist() == expected


def test_point_in_qpv_on_real_shapes_and_far_points(qpv_path):
    raw = gpd.read_file(qpv_path)
    lon, lat, expected = _probe_points(raw, "code_qp")
    qpv = load_qpv(qpv_path)
    # far outside: Paris, Lille, the Gulf of Guinea, and missing coordinates
    lon = np.r_[lon, 2.35, 3.06, 0.0, np.nan]
    lat = np.r_[lat, 48.85, 50.63, 0.0, 43.6]
    got = assign_points(lon, lat, qpv, code_column="code_qpv")
    assert got.iloc[: len(expected)].tolist() == expected
    assert got.iloc[len(expected) :].isna().all()


def test_same_layer_in_lambert93_file_gives_same_assignment(qpv_path, tmp_path):
    raw = gpd.read_file(qpv_path)
    lon, lat, expected = _probe_points(raw, "code_qp")
    for name in ("qpv_l93.gpkg", "qpv_l93.geojson"):
        out = tmp_path / name
        raw.to_crs(L93).to_file(out)
        reread = gpd.read_file(out)
        assert reread.crs.to_epsg() == 2154
        qpv = load_qpv(out)
        assert len(qpv) == 105
        got = assign_points(lon, lat, qpv, code_column="code_qpv")
        assert got.tolist() == expected


def _rename_properties(src: Path, dst: Path, mapping: dict[str, str], code_prefix=None) -> None:
    data = json.loads(src.read_text(encoding="utf-8"))
    for feat in data["features"]:
        props = feat["properties"]
        feat["properties"] = {mapping.get(k, k): v for k, v in props.items()}
        if code_prefix:
            code_key = mapping.get("code_qp", "code_qp")
            feat["properties"][code_key] = code_prefix + feat["properties"][code_key][2:]
    dst.write_text(json.dumps(data), encoding="utf-8")


def test_qpv_2024_spelling_loads_the_same(qpv_path, tmp_path):
    dst = tmp_path / "qpv_2024_spelling.geojson"
    _rename_properties(qpv_path, dst, {"code_qp": "code_quartier", "nom_qp": "nom_quartier"})
    a = load_qpv(qpv_path)
    b = load_qpv(dst)
    assert b["code_qpv"].tolist() == a["code_qpv"].tolist()
    assert b["nom_qpv"].tolist() == a["nom_qpv"].tolist()
    assert b.geometry.geom_equals_exact(a.geometry, tolerance=1e-6).all()


def test_qpv_2024_codes_are_tagged_2024_list(qpv_path, tmp_path):
    dst = tmp_path / "qpv_2024.geojson"
    _rename_properties(qpv_path, dst, {"code_qp": "code", "nom_qp": "nom"}, code_prefix="QN")
    qpv = load_qpv(dst)
    assert (qpv["liste"] == "2024").all()
    assert qpv["code_qpv"].str.startswith("QN").all()


def test_qpv_2015_upper_case_spelling(qpv_path, tmp_path):
    dst = tmp_path / "qpv_upper.geojson"
    _rename_properties(
        qpv_path, dst, {"code_qp": "CODE_QP", "nom_qp": "NOM_QP", "commune_qp": "COMMUNE_QP"}
    )
    qpv = load_qpv(dst)
    assert len(qpv) == 105
    assert qpv["code_qpv"].str.startswith("QP").all()


@pytest.mark.parametrize(
    ("code_name", "name_name"),
    [("INSEE_COM", "NOM_COM"), ("codgeo", "libgeo"), ("code", "nom"), ("code_insee", "NOM")],
)
def test_commune_code_and_name_spellings(mel_path, tmp_path, code_name, name_name):
    dst = tmp_path / "communes.geojson"
    _rename_properties(mel_path, dst, {"insee_com": code_name, "nom": name_name})
    communes = load_communes(dst)
    raw = gpd.read_file(mel_path)
    assert communes["insee_com"].tolist() == raw["insee_com"].tolist()
    assert communes["nom"].tolist() == raw["nom"].tolist()


# --------------------------------------------------------------------------- #
# synthetic layers (hand-built geometry)
# --------------------------------------------------------------------------- #
def _write(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    gdf.to_file(path)
    return path


def test_bow_tie_polygon_is_repaired(tmp_path):
    # Self-intersecting "bow tie" over a 100 m × 100 m square: two triangles of
    # 100 × 50 / 2 = 2500 m² each, 5000 m² in total once repaired.
    x0, y0 = 700_000.0, 7_050_000.0
    bow_tie = shapely.Polygon(
        [(x0, y0), (x0 + 100, y0 + 100), (x0 + 100, y0), (x0, y0 + 100), (x0, y0)]
    )
    assert not bow_tie.is_valid
    square = shapely.box(x0 + 500, y0, x0 + 600, y0 + 100)
    layer = gpd.GeoDataFrame(
        {"code_qp": ["QP059001", "QP059002"], "nom_qp": ["A", "B"]},
        geometry=[bow_tie, square],
        crs=L93,
    )
    qpv = load_qpv(_write(layer, tmp_path / "bowtie.gpkg"))
    assert len(qpv) == 2
    assert qpv.is_valid.all()
    assert qpv.geometry.iloc[0].area == pytest.approx(5000.0)
    assert qpv.attrs["n_repaired"] == 1
    assert geometry_rejects(qpv).empty


def test_unrepairable_and_empty_geometries_are_rejected_with_reason(tmp_path):
    x0, y0 = 700_000.0, 7_050_000.0
    flat = shapely.Polygon([(x0, y0), (x0 + 100, y0), (x0 + 200, y0), (x0, y0)])  # no area
    square = shapely.box(x0 + 500, y0, x0 + 600, y0 + 100)
    layer = gpd.GeoDataFrame(
        {"insee_com": ["59001", "59002", "59003", "abc"], "nom": ["a", "b", "c", "d"]},
        geometry=[flat, square, shapely.Polygon(), square],
        crs=L93,
    )
    communes = load_communes(_write(layer, tmp_path / "bad.gpkg"))
    assert communes["insee_com"].tolist() == ["59002"]
    rejects = geometry_rejects(communes)
    assert rejects["source_row"].tolist() == [1, 3, 4]
    assert rejects["rule"].tolist() == [
        "geometrie_irreparable",
        "geometrie_vide",
        "code_insee_invalide",
    ]
    assert list(rejects.columns) == ["table", "source_row", "column", "value", "rule", "message"]


def test_numeric_insee_codes_become_five_character_strings(tmp_path):
    x0, y0 = 700_000.0, 7_050_000.0
    layer = gpd.GeoDataFrame(
        {"codgeo": [59009.0, 1001.0], "nom": ["Villeneuve-d'Ascq", "L'Abergement"]},
        geometry=[
            shapely.box(x0, y0, x0 + 10, y0 + 10),
            shapely.box(x0 + 20, y0, x0 + 30, y0 + 10),
        ],
        crs=L93,
    )
    communes = load_communes(_write(layer, tmp_path / "num.gpkg"))
    assert communes["insee_com"].tolist() == ["59009", "01001"]


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_layer_without_crs_and_ambiguous_coordinates_is_an_input_error(tmp_path):
    # local coordinates in metres: neither longitude/latitude nor Lambert-93
    layer = gpd.GeoDataFrame(
        {"code_qp": ["QP059001"], "nom_qp": ["A"]},
        geometry=[shapely.box(1_000, 1_000, 2_000, 2_000)],
        crs=None,
    )
    path = _write(layer, tmp_path / "nocrs.shp")
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(InputError) as exc:
        load_qpv(path)
    assert "sans définition" in exc.value.message
    assert exc.value.file == str(path)
    assert exc.value.column == "geometry"


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_layer_without_crs_in_lambert93_range_is_guessed_and_logged(tmp_path, caplog):
    x0, y0 = 704_000.0, 7_059_000.0
    layer = gpd.GeoDataFrame(
        {"code_qp": ["QP059001"], "nom_qp": ["A"]},
        geometry=[shapely.box(x0, y0, x0 + 100, y0 + 100)],
        crs=None,
    )
    with caplog.at_level(logging.WARNING, logger="allocation_analysis.io.geo"):
        qpv = load_qpv(_write(layer, tmp_path / "l93_nocrs.shp"))
    assert qpv.crs.to_epsg() == 2154
    assert qpv.geometry.iloc[0].equals(shapely.box(x0, y0, x0 + 100, y0 + 100))
    assert "Lambert-93" in caplog.text


def test_geojson_without_crs_member_is_wgs84(tmp_path):
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code_quartier": "QN05965M", "nom_quartier": "A"},
                "geometry": shapely.geometry.mapping(shapely.box(3.10, 50.60, 3.11, 50.61)),
            }
        ],
    }
    path = tmp_path / "plain.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    qpv = load_qpv(path)
    assert qpv["liste"].tolist() == ["2024"]
    got = assign_points([3.105, 3.2], [50.605, 50.605], qpv, code_column="code_qpv")
    assert got.tolist()[0] == "QN05965M"
    assert pd.isna(got.iloc[1])


def test_missing_code_column_names_accepted_spellings(tmp_path):
    layer = gpd.GeoDataFrame(
        {"identifiant": ["x"]}, geometry=[shapely.box(3.1, 50.6, 3.2, 50.7)], crs="EPSG:4326"
    )
    with pytest.raises(InputError) as exc:
        load_communes(_write(layer, tmp_path / "nocode.gpkg"))
    assert "insee_com" in str(exc.value) and "identifiant" in str(exc.value)


def test_unreadable_file_is_an_input_error(tmp_path):
    path = tmp_path / "garbage.geojson"
    path.write_bytes(b"\x00\x01 not geojson")
    with pytest.raises(InputError, match="illisible"):
        load_qpv(path)


def test_overlapping_polygons_give_joined_codes_and_index_is_kept():
    x0, y0 = 704_000.0, 7_059_000.0
    layer = gpd.GeoDataFrame(
        {"code_qpv": ["QP059001", "QN05965M"]},
        geometry=[
            shapely.box(x0, y0, x0 + 1000, y0 + 1000),
            shapely.box(x0 + 500, y0, x0 + 1500, y0 + 1000),
        ],
        crs=L93,
    )
    wgs = gpd.GeoSeries(
        shapely.points([x0 + 250, x0 + 750, x0 + 1250], [y0 + 500] * 3), crs=L93
    ).to_crs(4326)
    lon = pd.Series(wgs.x.to_numpy(), index=[10, 20, 30])
    lat = pd.Series(wgs.y.to_numpy(), index=[10, 20, 30])
    got = assign_points(lon, lat, layer, code_column="code_qpv")
    assert got.index.tolist() == [10, 20, 30]
    assert got.tolist() == ["QP059001", "QN05965M|QP059001", "QN05965M"]


def test_web_helpers_return_wgs84(mel_path):
    communes = load_communes(mel_path)
    assert to_wgs84(communes).crs.to_epsg() == 4326
    web = simplify_for_web(communes, tolerance_m=50)
    assert web.crs.to_epsg() == 4326
    assert len(web) == len(communes)
    assert web.is_valid.all()
    n_before = shapely.get_num_coordinates(communes.geometry.to_numpy()).sum()
    n_after = shapely.get_num_coordinates(web.geometry.to_numpy()).sum()
    assert n_after < n_before
    # simplification at 50 m keeps each commune's area within 5 %
    ratio = web.to_crs(L93).area.to_numpy() / communes.area.to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.05)


def test_assignment_agrees_with_geopandas_sjoin_on_random_points(mel_path):
    # independent implementation: geopandas.sjoin with the "within" predicate
    communes = load_communes(mel_path)
    rng = np.random.default_rng(12345)
    minx, miny, maxx, maxy = to_wgs84(communes).total_bounds
    lon = rng.uniform(minx, maxx, 20_000)
    lat = rng.uniform(miny, maxy, 20_000)
    got = assign_points(lon, lat, communes, code_column="insee_com")
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(L93)
    joined = gpd.sjoin(pts, communes, predicate="within", how="left")
    expected = joined.groupby(level=0)["insee_com"].agg(
        lambda s: "|".join(sorted(set(s.dropna()))) or None
    )
    assert got.notna().sum() > 5_000
    assert got.fillna("").tolist() == expected.fillna("").tolist()

"""Structural tests of the interactive maps: offline page, styles, tooltips, refusals."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from allocation_analysis import labels, maps
from allocation_analysis.errors import UsageError
from allocation_analysis.text import fmt_pct

# ColorBrewer PuOr, 6 classes (colorbrewer2.org): orange side then purple side.
# ColorBrewer PuOr, 8 classes without the two palest (colorbrewer2.org): orange side,
# then purple side; the two classes either side of the target stay clearly distinct.
PUOR_6_ORANGE = {"#b35806", "#e08214", "#fdb863"}
PUOR_6_PURPLE = {"#b2abd2", "#8073ac", "#542788"}


class _Resources(HTMLParser):
    """Collects script sources, stylesheet links and inline script bodies."""

    def __init__(self) -> None:
        super().__init__()
        self.script_src: list[str] = []
        self.links: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.script_src.append(attrs["src"])
            self.inline_scripts.append("")
        if tag == "link" and attrs.get("href"):
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts[-1] += data


def _unescape_js(page: str) -> str:
    """Undo the ``\\uXXXX`` escapes of JSON embedded in scripts, to search the visible text.

    Narrow no-break spaces (French thousands and ``%``) are read as plain spaces.
    """
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    return text.replace("\u202f", " ")


def _parse(page: str) -> _Resources:
    parser = _Resources()
    parser.feed(page)
    return parser


@pytest.fixture
def four_communes() -> gpd.GeoDataFrame:
    """Four adjacent 2 km squares in EPSG:2154 (near Lille)."""
    x0, y0 = 700_000, 7_060_000
    geoms = [box(x0 + i * 2000, y0, x0 + (i + 1) * 2000, y0 + 2000) for i in range(4)]
    return gpd.GeoDataFrame(
        {"insee_com": ["59001", "59002", "59003", "59004"], "nom": ["Aa", "Bé", "Cé'd", "Dd"]},
        geometry=geoms,
        crs=2154,
    )


@pytest.fixture
def indicator_frame() -> pd.DataFrame:
    """59001: 31/125 = 0.248 (below 25 %); 59002: 60/200 = 0.30; 59003 suppressed; 59004 absent."""
    return pd.DataFrame(
        {
            "id": ["q1_hors_qpv"] * 3,
            "scope": ["commune"] * 3,
            "scope_value": ["59001", "59002", "59003"],
            "window": ["semester"] * 3,
            "period": ["2025-S2"] * 3,
            "numerator": [31, 60, 3],
            "denominator": [125, 200, 7],
            "share": [0.248, 0.30, 3 / 7],
            "ci_low": [0.176, 0.238, 0.10],
            "ci_high": [0.332, 0.368, 0.82],
            "target": [0.25] * 3,
            "p_value_vs_target": [0.96, 0.1, np.nan],
            "status": ["non_atteint_non_significatif", "atteint", "sans_objet"],
            "suppressed": [False, False, True],
        }
    )


def _geojson_layers(m):
    import folium

    return [c for c in m._children.values() if isinstance(c, folium.GeoJson)]


def _styles_by_commune(layer) -> dict[str, dict]:
    out = {}
    for feature in layer.data["features"]:
        code = feature["properties"]["t_commune"].split("(")[-1].rstrip(")")
        out[code] = layer.style_function(feature)
    return out


def test_diverging_classes_are_centred_on_the_target():
    # Largest distance to 0.25 is 0.05; 0.05 / 3 = 0.0167 → nice step 0.02.
    classes = maps.diverging_classes([0.20, 0.30, 0.248], centre=0.25, fmt=fmt_pct)
    assert classes.breaks == pytest.approx((0.21, 0.23, 0.25, 0.27, 0.29))
    assert classes.colour(0.248) in PUOR_6_ORANGE
    assert classes.colour(0.25) in PUOR_6_PURPLE
    assert classes.colour(0.20) == "#b35806"
    assert classes.colour(0.30) == "#542788"
    assert classes.labels[0] == "moins de 21\u202f%"  # whole percentages: no decimals
    assert classes.labels[-1] == "29\u202f% ou plus"


def test_saved_page_has_no_external_script_or_stylesheet(four_communes, indicator_frame, tmp_path):
    m = maps.indicator_map(four_communes, indicator_frame, indicator_id="q1_hors_qpv")
    path = maps.save_map(m, tmp_path / "carte.html")
    page = path.read_text("utf-8")
    parsed = _parse(page)
    assert parsed.script_src == []
    assert all(not href.lower().startswith(("http:", "https:", "//")) for href in parsed.links)
    assert "@import" not in page
    # Leaflet itself is inline (its licence header and its global), then the map is built.
    scripts = "\n".join(parsed.inline_scripts)
    assert "Leaflet 1.9.3" in scripts
    assert "L.map(" in scripts
    assert "leaflet-control-layers" in page  # Leaflet CSS inlined
    for cdn in ("jquery", "bootstrap", "font-awesome", "fontawesome", "awesome-markers"):
        assert cdn not in " ".join(parsed.script_src + parsed.links).lower()
    assert "url(images/" not in page  # Leaflet images are data URIs


def test_no_basemap_by_default_and_optional_tiles(four_communes, indicator_frame):
    import folium

    m = maps.indicator_map(four_communes, indicator_frame, indicator_id="q1_hors_qpv")
    assert not [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    online = maps.indicator_map(
        four_communes,
        indicator_frame,
        indicator_id="q1_hors_qpv",
        tiles="https://tile.example.org/{z}/{x}/{y}.png",
        tiles_attr="exemple",
    )
    assert [c for c in online._children.values() if isinstance(c, folium.TileLayer)]


def test_tooltips_and_legend_are_french(four_communes, indicator_frame):
    m = maps.indicator_map(
        four_communes, indicator_frame, indicator_id="q1_hors_qpv", title="Q1 hors QPV"
    )
    page = _unescape_js(maps.render_map(m))
    for text in (
        "Attributions hors QPV",  # of whom the denominator is
        "dont ménages du 1er quartile ou relogés (ANRU)",  # and the numerator
        "IC 95 %",
        "Statut vis-à-vis de l'objectif",
        "secret statistique / effectif insuffisant",
        "objectif non atteint, écart non significatif",
        "objectif atteint",
        "24,8 % (IC 95 % : 17,6 % – 33,2 %)",  # 31 / 125
        "Part (objectif : 25 %)",
        "Source : SNE, RPLS",
        "Q1 hors QPV",
    ):
        assert text in page, text
    # The suppressed commune discloses neither its counts nor its share.
    (layer,) = _geojson_layers(m)
    props = {f["properties"]["t_commune"]: f["properties"] for f in layer.data["features"]}
    hidden = props["Cé&#x27;d (59003)"]
    assert hidden["t_num"] == "—" and hidden["t_den"] == "—" and hidden["t_share"] == "—"
    assert hidden["t_status"] == "secret statistique / effectif insuffisant"


def test_hatching_applies_exactly_to_suppressed_communes(four_communes, indicator_frame):
    m = maps.indicator_map(four_communes, indicator_frame, indicator_id="q1_hors_qpv")
    (layer,) = _geojson_layers(m)
    styles = _styles_by_commune(layer)
    hatched = {code for code, s in styles.items() if s["fillColor"] == "url(#aa-hatch)"}
    assert hatched == {"59003"}
    assert styles["59003"]["className"] == "aa-suppressed"
    assert not styles["59003"].get("dashArray")  # dashes are the QPV outline's
    assert styles["59001"]["fillColor"] in PUOR_6_ORANGE  # 24,8 % < 25 %
    assert styles["59002"]["fillColor"] in PUOR_6_PURPLE  # 30 % ≥ 25 %
    assert styles["59004"]["fillColor"] == "#ffffff"  # no row: no data, not hatched


def test_small_denominators_are_hatched_too(four_communes, indicator_frame):
    m = maps.indicator_map(
        four_communes,
        indicator_frame,
        indicator_id="q1_hors_qpv",
        min_denominator=150,
        min_publishable_share=0.0,  # one commune of three shown: drawn only when asked
    )
    (layer,) = _geojson_layers(m)
    hatched = {
        c for c, s in _styles_by_commune(layer).items() if s["fillColor"] == "url(#aa-hatch)"
    }
    assert hatched == {"59001", "59003"}  # 125 < 150 and the suppressed one


def test_qpv_outlines_are_drawn_on_top(four_communes, indicator_frame):
    qpv = gpd.GeoDataFrame(
        {"code_qpv": ["QN05901M"], "nom_qpv": ["Quartier"], "liste": ["2024"]},
        geometry=[box(700_500, 7_060_500, 701_500, 7_061_500)],
        crs=2154,
    )
    m = maps.indicator_map(four_communes, indicator_frame, indicator_id="q1_hors_qpv", qpv=qpv)
    layers = _geojson_layers(m)
    assert [layer.layer_name for layer in layers] == ["Communes", "Quartiers prioritaires (QPV)"]
    qpv_style = layers[1].style_function(layers[1].data["features"][0])
    assert qpv_style["fill"] is False
    assert "périmètre QPV" in _unescape_js(maps.render_map(m))


def test_unknown_indicator_is_refused_in_french(four_communes, indicator_frame):
    with pytest.raises(UsageError, match="absent"):
        maps.indicator_map(four_communes, indicator_frame, indicator_id="inconnu")


def _gaps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "insee_com": ["59001", "59002", "59003", "59004"],
            "estimate": [-0.08, 0.02, -0.01, 0.05],
            "ci_low": [-0.12, -0.03, -0.05, 0.0],
            "ci_high": [-0.04, 0.07, 0.03, 0.1],
            "p_adjusted": [0.003, 0.4, 0.01, 0.2],
            "n": [400, 350, 8, 300],
            "suppressed": [False, False, True, False],
        }
    )


def test_disparity_map_outlines_significant_communes_only(four_communes):
    m = maps.disparity_map(four_communes, _gaps(), title="Écart hors UE − française")
    (layer,) = _geojson_layers(m)
    styles = _styles_by_commune(layer)
    thick = {c for c, s in styles.items() if s["weight"] >= 3}
    # 59003 has p = 0.01 but is suppressed: it is hatched, not outlined.
    assert thick == {"59001"}
    assert styles["59003"]["fillColor"] == "url(#aa-hatch)"
    assert styles["59001"]["fillColor"] in PUOR_6_ORANGE
    assert styles["59004"]["fillColor"] in PUOR_6_PURPLE
    page = _unescape_js(maps.render_map(m))
    assert "−8,0 points" in page
    assert "écart significatif après correction pour tests multiples" in page


def _placement() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "insee_com": ["59001", "59002", "59001", "59002"],
            "group": ["francaise", "francaise", "hors_ue", "hors_ue"],
            "n": [120, 80, 40, 5],
            "share_qpv": [0.15, 0.35, 0.55, 0.4],
            "suppressed": [False, False, False, True],
        }
    )


def test_placement_map_has_one_layer_per_group(four_communes):
    m = maps.placement_map(
        four_communes, _placement(), group_labels={"francaise": "Française", "hors_ue": "Hors UE"}
    )
    layers = _geojson_layers(m)
    assert [layer.layer_name for layer in layers] == ["Française", "Hors UE"]
    assert [layer.overlay for layer in layers] == [False, False]  # radio buttons
    hors_ue = _styles_by_commune(layers[1])
    assert {c for c, s in hors_ue.items() if s["fillColor"] == "url(#aa-hatch)"} == {"59002"}
    assert hors_ue["59001"]["fillColor"] == "#810f7c"  # 55 % ≥ 50 %: darkest BuPu class
    assert "Part en QPV" in _unescape_js(maps.render_map(m))


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(
            gpd.GeoDataFrame(
                {
                    "insee_com": ["59001"],
                    "group": ["x"],
                    "n": [1],
                    "share_qpv": [1.0],
                    "suppressed": [False],
                },
                geometry=[Point(700_100, 7_060_100)],
                crs=2154,
            ),
            id="points-geodataframe",
        ),
        pytest.param(
            pd.DataFrame(
                {
                    "insee_com": ["59001"],
                    "group": ["x"],
                    "n": [1],
                    "share_qpv": [1.0],
                    "suppressed": [False],
                    "demande_id": ["0123456789abcdef"],
                }
            ),
            id="household-identifier",
        ),
        pytest.param(
            pd.DataFrame(
                {
                    "insee_com": ["59001", "59001"],
                    "group": ["x", "x"],
                    "n": [1, 1],
                    "share_qpv": [1.0, 0.0],
                    "suppressed": [False, False],
                }
            ),
            id="one-row-per-household",
        ),
        pytest.param(
            pd.DataFrame(
                {
                    "insee_com": ["59001"],
                    "group": ["x"],
                    "n": [1],
                    "share_qpv": [1.0],
                    "suppressed": [False],
                    "lat": [50.6],
                    "lon": [3.06],
                }
            ),
            id="coordinates",
        ),
    ],
)
def test_placement_map_refuses_point_level_data(four_communes, bad):
    with pytest.raises(UsageError, match="placement"):
        maps.placement_map(four_communes, bad)


def _mel(shared_geo) -> gpd.GeoDataFrame:
    g = gpd.read_file(shared_geo / "mel_communes.geojson")
    return g[["insee_com", "nom", "geometry"]].to_crs(2154)


def test_simplification_keeps_shared_borders(shared_geo):
    mel = _mel(shared_geo)
    web = maps.simplify_for_web(mel, tolerance=maps.DEFAULT_TOLERANCE_M)
    assert web.crs.to_epsg() == 4326
    assert web.geometry.is_valid.all()
    metric = web.to_crs(2154)
    # A coverage simplification neither opens gaps nor creates overlaps: areas add up.
    total = metric.area.sum()
    union = metric.union_all().area
    assert abs(total - union) / union < 1e-3
    assert abs(union - mel.union_all().area) / mel.union_all().area < 5e-3


def test_map_file_is_small_on_the_mel_geometry(shared_geo, tmp_path):
    mel = _mel(shared_geo)
    rng = np.random.default_rng(7)
    den = rng.integers(20, 300, len(mel))
    share = rng.uniform(0.1, 0.4, len(mel))
    ind = pd.DataFrame(
        {
            "id": "q1_hors_qpv",
            "scope": "commune",
            "scope_value": mel["insee_com"],
            "window": "semester",
            "period": "2025-S2",
            "numerator": np.round(den * share),
            "denominator": den,
            "share": share,
            "ci_low": share - 0.05,
            "ci_high": share + 0.05,
            "target": 0.25,
            "p_value_vs_target": 0.5,
            "status": "atteint",
            "suppressed": den < 30,
        }
    )
    path = maps.save_map(
        maps.indicator_map(mel, ind, indicator_id="q1_hors_qpv"), tmp_path / "mel.html"
    )
    assert len(mel) == 95
    assert path.stat().st_size < 2 * 1024 * 1024


# --------------------------------------------------------------------------- reader text
def _script_strings(page: str) -> list[str]:
    """Every string literal of the page's own scripts (Leaflet's library excluded)."""
    out = []
    for body in _parse(page).inline_scripts:
        if "Leaflet" in body[:2000] and "L.version" in body or len(body) > 200_000:
            continue  # the inlined library
        for literal in re.findall(r'"(?:[^"\\]|\\.)*"', body):
            try:
                out.append(json.loads(literal))
            except ValueError:
                continue
    return out


def _reader_text(page: str) -> str:
    """What a reader can see: the page without tags, scripts and styles, plus the
    texts the map's scripts put on screen (title, legend, tooltips, layer names)."""
    static = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    texts = [static, *_script_strings(page)]
    stripped = [html.unescape(re.sub(r"<[^>]+>", " ", t)) for t in texts]
    return "\n".join(stripped)


def _codes_to_check() -> set[str]:
    """Codes that are not themselves words of the French wording (« commune »…)."""
    words = set()
    for table in labels.CATALOGUE.values():
        for text in table.values():
            words |= set(re.findall(r"[\w']+", text))
    return {c for c in labels.ALL_CODES if "_" in c or c not in words}


def _assert_no_code(page: str) -> None:
    text = _reader_text(page)
    found = sorted(
        c for c in _codes_to_check() if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text)
    )
    assert not found, found


def _page_title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page, flags=re.S)
    assert match, "no <title>"
    return html.unescape(match.group(1)).replace("\u202f", " ")


def test_the_code_check_finds_codes():
    assert "hors_ue" in _codes_to_check() and "qpv" in _codes_to_check()
    assert "commune" not in _codes_to_check()  # also a French word of the labels
    with pytest.raises(AssertionError, match="hors_ue"):
        _assert_no_code('<div>écart hors_ue</div><script>var a = "x";</script>')


def test_indicator_map_shows_no_code_and_titles_the_page(four_communes, indicator_frame):
    m = maps.indicator_map(
        four_communes, indicator_frame, indicator_id="q1_hors_qpv", territory_label="MEL"
    )
    page = maps.render_map(m)
    _assert_no_code(page)
    title = _page_title(page)
    assert labels.INDICATOR_LABELS_FR["q1_hors_qpv"] in title
    assert "MEL" in title and "2e semestre 2025" in title
    assert "2e semestre 2025" in _unescape_js(page)  # visible under the map title
    assert m.publishable


def test_rolling_window_is_named_in_french(four_communes, indicator_frame):
    frame = indicator_frame.assign(window="rolling_12m")
    m = maps.indicator_map(four_communes, frame, indicator_id="q1_hors_qpv", window="rolling_12m")
    page = maps.render_map(m)
    _assert_no_code(page)
    assert "12 mois glissants" in _page_title(page)


def test_disparity_map_labels_groups_and_gives_both_rates(four_communes):
    gaps = _gaps().assign(
        rate_group=[0.20, 0.30, np.nan, 0.35], rate_reference=[0.28, 0.28, np.nan, 0.30]
    )
    m = maps.disparity_map(
        four_communes,
        gaps,
        group="hors_ue",
        reference="francaise",
        period_label="2e semestre 2025",
        territory_label="MEL",
    )
    page = maps.render_map(m)
    _assert_no_code(page)
    text = _unescape_js(page)
    for expected in (
        "Écart de taux d'accès : hors UE / française",
        "Taux d'accès des ménages de nationalité hors UE",
        "Taux d'accès des ménages de nationalité française",
        "20,0 %",
        "28,0 %",
        "Demandes des deux groupes (hors UE et française)",
        "aucun écart",
    ):
        assert expected in text, expected
    assert "MEL — 2e semestre 2025" in _page_title(page)


def test_significance_and_qpv_outline_are_drawn_differently(four_communes):
    qpv = gpd.GeoDataFrame(
        {"code_qpv": ["QN05901M"], "nom_qpv": ["Quartier"]},
        geometry=[box(700_500, 7_060_500, 701_500, 7_061_500)],
        crs=2154,
    )
    m = maps.disparity_map(four_communes, _gaps(), title="Écart", qpv=qpv)
    communes_layer, qpv_layer = _geojson_layers(m)
    significant = _styles_by_commune(communes_layer)["59001"]
    outline = qpv_layer.style_function(qpv_layer.data["features"][0])
    assert outline["dashArray"] and not significant.get("dashArray")
    assert significant["weight"] >= 2 * outline["weight"]


def test_placement_map_labels_groups_from_the_catalogue(four_communes):
    m = maps.placement_map(four_communes, _placement(), period_label="2e semestre 2025")
    layers = _geojson_layers(m)
    assert [layer.layer_name for layer in layers] == [
        labels.GROUP_FR["francaise"],
        labels.GROUP_FR["hors_ue"],
    ]
    page = maps.render_map(m)
    _assert_no_code(page)
    text = _unescape_js(page)
    # each layer's tooltip gives the other group's share too
    assert "Part en QPV pour les ménages de nationalité hors UE" in text
    assert "Attributions aux ménages de nationalité française" in text
    assert "2e semestre 2025" in _page_title(page)


def _mostly_masked(four_communes) -> pd.DataFrame:
    """Eight communes with data, one publishable: the rest is secret."""
    return pd.DataFrame(
        {
            "id": ["q1_hors_qpv"] * 4,
            "scope": ["commune"] * 4,
            "scope_value": ["59001", "59002", "59003", "59004"],
            "window": ["semester"] * 4,
            "period": ["2025-S2"] * 4,
            "numerator": [31, np.nan, np.nan, np.nan],
            "denominator": [125, np.nan, np.nan, np.nan],
            "share": [0.248, np.nan, np.nan, np.nan],
            "ci_low": [0.176, np.nan, np.nan, np.nan],
            "ci_high": [0.332, np.nan, np.nan, np.nan],
            "target": [0.25] * 4,
            "p_value_vs_target": [0.96, np.nan, np.nan, np.nan],
            "status": ["non_atteint_non_significatif"] + ["non_diffuse"] * 3,
            "suppressed": [False, True, True, True],
        }
    )


def _box_text(page: str) -> str:
    return " ".join(_reader_text(page).split())


def test_mostly_masked_indicator_map_is_replaced_by_a_box(four_communes):
    m = maps.indicator_map(four_communes, _mostly_masked(four_communes), indicator_id="q1_hors_qpv")
    assert m.publishable is False
    page = maps.render_map(m)
    text = _box_text(page)
    assert "Carte non publiable : trop peu d'attributions par commune sur la période" in text
    assert "Seule 1 commune sur 4" in text
    _assert_no_code(page)
    # no hatching drawn, no colour class: only the commune outlines
    (layer,) = _geojson_layers(m)
    assert all("fillColor" not in layer.style_function(f) for f in layer.data["features"])
    assert '"aa-legend"' not in page  # no legend control
    assert labels.INDICATOR_LABELS_FR["q1_hors_qpv"] in _page_title(page)


def test_half_publishable_map_is_drawn(four_communes, indicator_frame):
    frame = _mostly_masked(four_communes)
    frame.loc[1, ["numerator", "denominator", "share", "ci_low", "ci_high"]] = [
        60,
        200,
        0.3,
        0.24,
        0.37,
    ]
    frame.loc[1, ["status", "suppressed"]] = ["atteint", False]
    m = maps.indicator_map(four_communes, frame, indicator_id="q1_hors_qpv")
    assert m.publishable  # 2 of 4: at the threshold of MIN_PUBLISHABLE_SHARE
    assert "Carte non publiable" not in maps.render_map(m)


def test_mostly_masked_disparity_and_placement_maps_are_replaced(four_communes):
    gaps = _gaps().assign(suppressed=[False, True, True, True])
    m = maps.disparity_map(four_communes, gaps, group="hors_ue", reference="francaise")
    assert m.publishable is False
    assert "trop peu de demandes par commune" in _box_text(maps.render_map(m))
    placement = _placement().assign(suppressed=[True, True, True, True])
    m = maps.placement_map(four_communes, placement)
    assert m.publishable is False
    assert "Carte non publiable" in _box_text(maps.render_map(m))


def test_placement_group_with_too_few_communes_gets_no_layer(four_communes):
    placement = _placement().assign(suppressed=[False, False, True, True])
    m = maps.placement_map(four_communes, placement)
    assert [layer.layer_name for layer in _geojson_layers(m)] == [labels.GROUP_FR["francaise"]]
    assert "non publiés (trop peu d'attributions par commune) : ménages de nationalité hors UE" in (
        _reader_text(maps.render_map(m))
    )


# --------------------------------------------------------------------------- window of the map
def _two_windows(four_communes) -> pd.DataFrame:
    """Semester: 1 of 4 communes publishable; 12 months: 3 of 4; 59004 has no lease at
    all in QPV (denominator 0) in either window."""
    sem = _mostly_masked(four_communes)
    sem.loc[3, ["numerator", "denominator", "status", "suppressed"]] = [0, 0, "sans_objet", False]
    year = sem.copy()
    year["window"] = "rolling_12m"
    year.loc[1, ["numerator", "denominator", "share", "status", "suppressed"]] = [
        40,
        160,
        0.25,
        "atteint",
        False,
    ]
    year.loc[2, ["numerator", "denominator", "share", "status", "suppressed"]] = [
        30,
        100,
        0.30,
        "atteint",
        False,
    ]
    return pd.concat([sem, year], ignore_index=True)


def test_thin_semester_is_mapped_over_the_rolling_twelve_months(four_communes):
    frame = _two_windows(four_communes)
    assert maps.map_window(frame, indicator_id="q1_hors_qpv") == "rolling_12m"
    m = maps.indicator_map(four_communes, frame, indicator_id="q1_hors_qpv", window="rolling_12m")
    assert m.publishable
    assert "12 mois glissants" in _page_title(maps.render_map(m))


def test_publishable_semester_keeps_the_semester_map(four_communes, indicator_frame):
    assert maps.map_window(indicator_frame, indicator_id="q1_hors_qpv") == "semester"


def test_communes_without_any_lease_do_not_count_as_communes_with_data(four_communes):
    frame = _two_windows(four_communes)
    frame = frame[frame["window"] == "semester"]
    page = maps.render_map(maps.indicator_map(four_communes, frame, indicator_id="q1_hors_qpv"))
    # 59004 (denominator 0) is « sans objet », not a commune whose data are hidden
    assert "Seule 1 commune sur 3" in _box_text(page)


def test_map_window_and_map_accept_the_published_nullable_counts(four_communes):
    """protect_indicators publishes counts as nullable integers with <NA> for masked
    cells: the shown-rows rule must not fail on them (it did at mel scale)."""
    frame = _two_windows(four_communes)
    for col in ("numerator", "denominator"):
        frame[col] = frame[col].astype("Int64")
    assert maps.map_window(frame, indicator_id="q1_hors_qpv") == "rolling_12m"
    assert maps.indicator_map(four_communes, frame, indicator_id="q1_hors_qpv").publishable is False


def test_masked_shares_with_released_statuses_map_whether_the_objective_is_met(four_communes):
    # One share published; two masked shares whose status was released with their
    # denominator (privacy.release_masked_statuses); one masked without a status.
    frame = _mostly_masked(four_communes)
    frame.loc[1, ["denominator", "status"]] = [40, "non_atteint"]
    frame.loc[2, ["denominator", "status"]] = [22, "atteint"]
    m = maps.indicator_map(four_communes, frame, indicator_id="q1_hors_qpv")
    assert m.publishable  # 3 of 4 communes say whether the objective is met
    page = maps.render_map(m)
    text = _box_text(page)
    assert "objectif atteint ou non" in _page_title(page) or "objectif atteint ou non" in text
    assert "objectif non atteint (part inférieure à 25" in text
    assert "objectif atteint (part d'au moins 25" in text
    assert maps.STATUS_MAP_NOTE in text
    _assert_no_code(page)
    (layer, *_) = _geojson_layers(m)
    styles = _styles_by_commune(layer)
    below, met = maps.DIVERGING_COLOURS[1], maps.DIVERGING_COLOURS[4]
    # 24,8 % published and below the target, the two released statuses, one secret
    assert styles["59001"]["fillColor"] == below
    assert styles["59002"]["fillColor"] == below
    assert styles["59003"]["fillColor"] == met
    assert styles["59004"]["className"] == maps.SUPPRESSED_CLASS
    # the masked count stays masked in the tooltip
    props = {
        f["properties"]["t_commune"].split("(")[-1].rstrip(")"): f["properties"]
        for f in layer.data["features"]
    }
    assert props["59002"]["t_num"] == labels.SECRET_FR
    assert props["59002"]["t_den"] == "40"
    assert maps.map_window(frame, indicator_id="q1_hors_qpv") == "semester"


def test_a_status_without_its_denominator_is_not_mapped(four_communes):
    frame = _mostly_masked(four_communes)
    frame.loc[1:3, "status"] = "atteint"  # no published denominator: not a released status
    m = maps.indicator_map(four_communes, frame, indicator_id="q1_hors_qpv")
    assert m.publishable is False

"""Render every map in headless Chromium with the network blocked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from allocation_analysis import maps

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _missing_browser_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"Chromium not found at {CHROMIUM} (Debian package 'chromium')"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing_browser_reason()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path, screenshot: str) -> dict:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    failed: list[str] = []
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=10_000)
    result = {
        "leaflet": page.evaluate("typeof window.L !== 'undefined' && typeof L.map === 'function'"),
        "containers": page.locator(".leaflet-container").count(),
        "paths": page.locator(".leaflet-overlay-pane path").count(),
        "suppressed_paths": page.locator("path.aa-suppressed").count(),
        "legend_visible": page.locator(".aa-legend").is_visible(),
        "title_visible": page.locator(".aa-title").is_visible(),
        "scale_visible": page.locator(".leaflet-control-scale").is_visible(),
        "layers_visible": page.locator(".leaflet-control-layers").is_visible(),
        "hatch_fill": page.evaluate(
            "Array.from(document.querySelectorAll('path.aa-suppressed'))"
            ".every(p => p.getAttribute('fill') === 'url(#aa-hatch)')"
        ),
        "errors": errors,
        "failed": failed,
        "blocked": blocked,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot))
    context.close()
    return result


def _indicators(codes, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(codes)
    den = rng.integers(0, 250, n)
    share = rng.uniform(0.05, 0.45, n)
    return pd.DataFrame(
        {
            "id": "q1_hors_qpv",
            "scope": "commune",
            "scope_value": list(codes),
            "window": "semester",
            "period": "2025-S2",
            "numerator": np.round(den * share),
            "denominator": den,
            "share": share,
            "ci_low": share - 0.04,
            "ci_high": share + 0.04,
            "target": 0.25,
            "p_value_vs_target": 0.2,
            "status": np.where(share >= 0.25, "atteint", "non_atteint_significatif"),
            "suppressed": den < 11,
        }
    )


def _gaps(codes, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(codes)
    nn = rng.integers(0, 400, n)
    return pd.DataFrame(
        {
            "insee_com": list(codes),
            "estimate": rng.normal(0, 0.05, n),
            "ci_low": -0.1,
            "ci_high": 0.1,
            "p_adjusted": rng.uniform(0, 0.3, n),
            "n": nn,
            "suppressed": nn < 11,
        }
    )


def _placement(codes, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for group in ("francaise", "ue", "hors_ue"):
        nn = rng.integers(0, 200, len(codes))
        frames.append(
            pd.DataFrame(
                {
                    "insee_com": list(codes),
                    "group": group,
                    "n": nn,
                    "share_qpv": rng.uniform(0, 0.7, len(codes)),
                    "suppressed": nn < 11,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _grid_territory() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A small synthetic territory: 5 × 4 communes of 3 km and two QPV."""
    x0, y0 = 690_000, 7_050_000
    geoms, codes, names = [], [], []
    for i in range(5):
        for j in range(4):
            geoms.append(
                box(x0 + i * 3000, y0 + j * 3000, x0 + (i + 1) * 3000, y0 + (j + 1) * 3000)
            )
            codes.append(f"59{100 + 4 * i + j:03d}")
            names.append(f"Commune {4 * i + j + 1}")
    communes = gpd.GeoDataFrame({"insee_com": codes, "nom": names}, geometry=geoms, crs=2154)
    qpv = gpd.GeoDataFrame(
        {"code_qpv": ["QN05901M", "QN05902M"], "nom_qpv": ["Nord", "Sud"], "liste": "2024"},
        geometry=[
            box(693_500, 7_053_500, 695_000, 7_055_000),
            box(700_500, 7_056_500, 701_800, 7_058_000),
        ],
        crs=2154,
    )
    return communes, qpv


def _mel(shared_geo) -> gpd.GeoDataFrame:
    g = gpd.read_file(shared_geo / "mel_communes.geojson")
    return g[["insee_com", "nom", "geometry"]].to_crs(2154)


def _check_all_maps(browser, communes, qpv, tmp_path: Path, tag: str) -> None:
    codes = communes["insee_com"]
    built = {
        "indicateur": maps.indicator_map(
            communes,
            _indicators(codes, 1),
            indicator_id="q1_hors_qpv",
            qpv=qpv,
            title="Q1 hors QPV",
        ),
        "disparite": maps.disparity_map(
            communes, _gaps(codes, 2), title="Écart hors UE − française", qpv=qpv
        ),
        "placement": maps.placement_map(communes, _placement(codes, 3), qpv=qpv),
    }
    expected_hidden = {
        "indicateur": int(_indicators(codes, 1)["suppressed"].sum()),
        "disparite": int(_gaps(codes, 2)["suppressed"].sum()),
        "placement": int(_placement(codes, 3).query("group == 'francaise'")["suppressed"].sum()),
    }
    for name, m in built.items():
        path = maps.save_map(m, tmp_path / f"{tag}_{name}.html")
        r = _open(browser, path, f"map_{tag}_{name}.png")
        assert r["leaflet"], name
        assert r["containers"] == 1, name
        assert r["paths"] >= len(communes), (name, r["paths"])
        assert r["suppressed_paths"] == expected_hidden[name], name
        assert r["hatch_fill"], name
        assert r["legend_visible"] and r["title_visible"], name
        assert r["scale_visible"] and r["layers_visible"], name
        assert r["errors"] == [], (name, r["errors"])
        assert r["failed"] == [] and r["blocked"] == [], (name, r["failed"], r["blocked"])


def test_synthetic_maps_render_offline(browser, tmp_path):
    communes, qpv = _grid_territory()
    _check_all_maps(browser, communes, qpv, tmp_path, "synthetique")


@pytest.mark.slow
def test_mel_maps_render_offline(browser, shared_geo, tmp_path):
    mel = _mel(shared_geo)
    # Two QPV-like perimeters drawn by hand inside the first communes (shapes only).
    qpv = gpd.GeoDataFrame(
        {"code_qpv": ["QN05999M", "QN05998M"], "nom_qpv": ["A", "B"], "liste": "2024"},
        geometry=list(mel.geometry.iloc[:2].centroid.buffer(500)),
        crs=2154,
    )
    _check_all_maps(browser, mel, qpv, tmp_path, "mel")


def _visible_text(browser, path: Path, screenshot: str, hover: bool = True) -> dict:
    """The page's visible text (``innerText``), with a commune's tooltip open."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort(),
    )
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=10_000)
    tooltip = ""
    if hover:
        page.locator("path.aa-area").first.hover(force=True)
        page.wait_for_selector(".aa-tooltip", timeout=5_000)
        tooltip = page.locator(".aa-tooltip").inner_text()
    out = {
        "text": page.evaluate("document.body.innerText"),
        "tooltip": tooltip,
        "title": page.title(),
        "box_visible": page.locator(".aa-unpublishable").count() > 0
        and page.locator(".aa-unpublishable").is_visible(),
        "legend": page.locator(".aa-legend").count(),
        "suppressed_paths": page.locator("path.aa-suppressed").count(),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot))
    context.close()
    return out


def _codes_in(text: str) -> list[str]:
    import re

    from allocation_analysis import labels

    words = set()
    for table in labels.CATALOGUE.values():
        for wording in table.values():
            words |= set(re.findall(r"[\w']+", wording))
    codes = {c for c in labels.ALL_CODES if "_" in c or c not in words}
    return sorted(c for c in codes if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text))


def test_visible_text_and_tooltips_show_no_code(browser, tmp_path):
    communes, qpv = _grid_territory()
    codes = communes["insee_com"]
    built = {
        "indicateur": maps.indicator_map(
            communes, _indicators(codes, 1), indicator_id="q1_hors_qpv", qpv=qpv
        ),
        "disparite": maps.disparity_map(
            communes, _gaps(codes, 2), group="hors_ue", reference="francaise", qpv=qpv
        ),
        "placement": maps.placement_map(communes, _placement(codes, 3), qpv=qpv),
    }
    for name, m in built.items():
        path = maps.save_map(m, tmp_path / f"texte_{name}.html")
        r = _visible_text(browser, path, f"texte_{name}.png")
        assert r["tooltip"], name
        assert _codes_in(r["text"] + "\n" + r["tooltip"] + "\n" + r["title"]) == [], name


def test_non_publishable_box_is_shown_instead_of_hatching(browser, tmp_path):
    communes, _qpv = _grid_territory()
    frame = _indicators(communes["insee_com"], 1).assign(suppressed=True)
    frame.loc[frame.index[:3], "suppressed"] = False  # 3 of 20 publishable
    # as the secret leaves them: no share, no status (none released)
    frame.loc[frame["suppressed"], ["share", "status"]] = [np.nan, "non_diffuse"]
    m = maps.indicator_map(
        communes, frame, indicator_id="q1_hors_qpv", territory_label="Territoire test"
    )
    r = _visible_text(browser, maps.save_map(m, tmp_path / "non_publiable.html"), "np.png", False)
    assert r["box_visible"]
    assert "Carte non publiable : trop peu d'attributions par commune sur la période" in r["text"]
    assert r["suppressed_paths"] == 0 and r["legend"] == 0
    assert "Territoire test" in r["title"] and "2e semestre 2025" in r["title"]

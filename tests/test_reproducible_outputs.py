"""Two runs of the tiny demo into two folders publish the same bytes.

The only fields allowed to differ are the timing fields of ``manifest.json``
declared in :data:`allocation_analysis.pipeline.MANIFEST_TIMING_FIELDS`
(``started_utc``, ``finished_utc``, ``timings_seconds``). Everything else — maps,
executed notebooks, report, tables, figures, ``run.log``, the synthetic inputs —
must be byte-identical.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from allocation_analysis import pipeline

pytestmark = pytest.mark.slow

KEY_HEX = "3c" * 32


@pytest.fixture(scope="module")
def two_demo_runs(tmp_path_factory) -> tuple[Path, Path, list[float]]:
    home = tmp_path_factory.mktemp("config_home")
    seconds = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLOCATION_ANALYSIS_KEY", KEY_HEX)
        mp.setenv("XDG_CONFIG_HOME", str(home))
        mp.delenv("ALLOCATION_ANALYSIS_KEY_FILE", raising=False)
        roots = []
        for name in ("premier", "second"):
            root = tmp_path_factory.mktemp(name)
            t0 = time.perf_counter()
            assert pipeline.demo_command(output=str(root), seed=1, scale="tiny") == 0
            seconds.append(time.perf_counter() - t0)
            roots.append(root)
    return roots[0], roots[1], seconds


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()
    }


def _manifest_without_timings(data: bytes) -> dict:
    manifest = json.loads(data)
    assert set(pipeline.MANIFEST_TIMING_FIELDS) <= set(manifest)
    assert manifest["timing_fields"] == list(pipeline.MANIFEST_TIMING_FIELDS)
    for key in pipeline.MANIFEST_TIMING_FIELDS:
        manifest.pop(key)
    return manifest


def test_every_output_file_is_byte_identical_except_manifest_timings(two_demo_runs):
    first, second, _ = two_demo_runs
    a, b = _files(first), _files(second)
    assert sorted(a) == sorted(b)
    manifests = [k for k in a if k.endswith("manifest.json")]
    assert manifests, "no manifest.json published"
    assert any(k.endswith(".html") and "/maps/" in k for k in a), "no map published"
    differing = sorted(k for k in a if a[k] != b[k] and k not in manifests)
    assert differing == []
    for k in manifests:
        assert _manifest_without_timings(a[k]) == _manifest_without_timings(b[k])


def test_published_files_hold_no_absolute_path_and_no_clock_time(two_demo_runs):
    first, _, _ = two_demo_runs
    final = next(first.glob("demo/20*-S*"))
    log = (final / "run.log").read_text("utf-8")
    assert str(first) not in log
    assert not any(line[:4].isdigit() for line in log.splitlines())  # no "2026-12-02 07:43…"
    for nb in (final / "notebooks").glob("*.ipynb"):
        text = nb.read_text("utf-8")
        assert str(first) not in text, nb.name
        assert "start_time" not in text and "end_time" not in text, nb.name


def test_map_page_is_a_function_of_the_map_alone():
    import geopandas as gpd
    from shapely.geometry import box

    from allocation_analysis import maps

    communes = gpd.GeoDataFrame(
        {"code_insee": ["99001", "99002"], "nom": ["Aval", "Amont"]},
        geometry=[box(3.0, 50.0, 3.1, 50.1), box(3.1, 50.0, 3.2, 50.1)],
        crs="EPSG:4326",
    )

    def page() -> str:
        import folium

        m = folium.Map(location=[50.05, 3.1], zoom_start=11, tiles=None)
        folium.GeoJson(communes.to_json(), tooltip=folium.GeoJsonTooltip(["nom"])).add_to(m)
        folium.LayerControl().add_to(m)
        return maps.render_map(m)

    assert page() == page()

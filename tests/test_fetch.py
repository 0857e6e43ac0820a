"""fetch-geo against a local HTTP server serving files in the official formats."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import geopandas as gpd
import pytest

from allocation_analysis.errors import InputError, UsageError
from allocation_analysis.io.fetch import fetch_geo


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        self.hits.append(self.path)
        body = self.routes.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(shared_geo: Path, monkeypatch):
    occ = gpd.read_file(shared_geo / "occitanie_qpv_2015.geojson")
    # A stand-in "EPCI": the area around the QPV of département 31 (real perimeters).
    dep31 = occ[occ["code_departement"].astype(str) == "31"]
    area = gpd.GeoDataFrame(
        {"code": ["31999"], "nom": ["Zone test"]},
        geometry=[dep31.to_crs(2154).union_all().buffer(50).convex_hull],
        crs=2154,
    ).to_crs(4326)
    routes = {
        "/epcis/200093201/communes?format=geojson&geometry=contour": (
            shared_geo / "mel_communes.geojson"
        ).read_bytes(),
        "/epcis/243100518/communes?format=geojson&geometry=contour": area.to_json().encode(),
        "/api/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/": None,
        "/files/qpv2015.geojson": (shared_geo / "occitanie_qpv_2015.geojson").read_bytes(),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    routes["/api/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/"] = json.dumps(
        {
            "resources": [
                {"format": "csv", "url": f"{base}/files/x.csv"},
                {"format": "geojson", "url": f"{base}/files/qpv2015.geojson"},
            ]
        }
    ).encode()
    _Handler.routes = routes
    _Handler.hits = []
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    monkeypatch.setenv("ALLOCATION_ANALYSIS_GEO_API", base)
    monkeypatch.setenv("ALLOCATION_ANALYSIS_OPENDATA_API", f"{base}/api")
    yield {"base": base, "dep31": dep31}
    httpd.shutdown()


def test_communes_of_the_mel_are_downloaded_and_cached(server, tmp_path):
    paths = fetch_geo(epci="200093201", qpv_list="2015", output=tmp_path)
    communes = gpd.read_file(paths["communes"])
    assert len(communes) == 95
    # No Occitanie QPV lies in the MEL: the cut keeps none.
    assert len(gpd.read_file(paths["qpv"])) == 0
    n_hits = len(_Handler.hits)
    fetch_geo(epci="200093201", qpv_list="2015", output=tmp_path)
    assert len(_Handler.hits) == n_hits  # second call served from the cache


def test_qpv_perimeters_are_cut_to_the_epci(server, tmp_path):
    paths = fetch_geo(epci="243100518", qpv_list="2015", output=tmp_path)
    qpv = gpd.read_file(paths["qpv"])
    assert set(server["dep31"]["code_qp"]) <= set(qpv["code_qp"])
    assert len(qpv) < 105


def test_unknown_epci_is_a_clear_error(server, tmp_path):
    with pytest.raises(InputError, match="refusé"):
        fetch_geo(epci="123456789", qpv_list="2015", output=tmp_path)


def test_malformed_siren_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="9 chiffres"):
        fetch_geo(epci="2000", output=tmp_path)

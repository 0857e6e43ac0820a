"""Time point-in-polygon assignment: 1 M points to communes and to QPV.

Usage::

    python benchmarks/bench_geo.py COMMUNES_FILE QPV_FILE [--n 1000000] [--seed 1]

Points are drawn uniformly in the bounding box of each layer (WGS84),
with 1 % missing coordinates. Prints the time of each step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from allocation_analysis.io.geo import assign_points, load_communes, load_qpv, to_wgs84


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("communes")
    parser.add_argument("qpv")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    t0 = time.perf_counter()
    communes = load_communes(args.communes)
    qpv = load_qpv(args.qpv)
    t_load = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed)

    def draw(layer):
        minx, miny, maxx, maxy = to_wgs84(layer).total_bounds
        lon = rng.uniform(minx, maxx, args.n)
        lat = rng.uniform(miny, maxy, args.n)
        lon[rng.random(args.n) < 0.01] = np.nan
        return lon, lat

    lon, lat = draw(communes)
    t0 = time.perf_counter()
    com = assign_points(lon, lat, communes, code_column="insee_com")
    t_com = time.perf_counter() - t0
    lon, lat = draw(qpv)
    t0 = time.perf_counter()
    q = assign_points(lon, lat, qpv, code_column="code_qpv")
    t_qpv = time.perf_counter() - t0

    print(f"layers: {len(communes)} communes, {len(qpv)} QPV, loaded in {t_load:.2f} s")
    print(f"{args.n} points -> communes: {t_com:.2f} s ({com.notna().sum()} assigned)")
    print(f"{args.n} points -> QPV:      {t_qpv:.2f} s ({q.notna().sum()} assigned)")
    print(f"total assignment: {t_com + t_qpv:.2f} s")


if __name__ == "__main__":
    main()

"""locate(): single-point and bulk throughput over 10k and 100k cells, next to raw shapely (an STRtree
over the same polygons, queried the same way) measured in the same run.

The cells are a regular lattice of squares under one parent, inserted directly with bulk_create: this
measures lookup, not import (imports have their own benchmarks)."""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import shapely
from django.db import transaction

from benchmarks.harness import Report
from gridgov.territory import locate as locating
from gridgov.territory import services
from gridgov.territory.models import Node

SINGLE_POINTS = 20_000
BULK_POINTS = 200_000


def _lattice(scheme, grid_level, parent, n: int, origin=(114.0, 22.5), size=0.001) -> list[shapely.Polygon]:
    side = math.ceil(math.sqrt(n))
    polys, rows = [], []
    today = dt.date.today()
    for i in range(n):
        x0 = origin[0] + (i % side) * size
        y0 = origin[1] + (i // side) * size
        poly = shapely.box(x0, y0, x0 + size, y0 + size)
        polys.append(poly)
        rows.append(Node(scheme=scheme, level=grid_level, parent=parent, code=f"B{n}-{i}", name=f"cell {i}",
                         geometry={"type": "Polygon", "coordinates": [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size],
                                                                       [x0, y0 + size], [x0, y0]]]},
                         area_m2=size * size * 1e10, centroid_lon=x0 + size / 2, centroid_lat=y0 + size / 2,
                         valid_from=today, path=""))
    with transaction.atomic():
        Node.objects.bulk_create(rows, batch_size=5000)
        services.territory_version_bump()
    return polys


def _run_size(report: Report, n: int) -> None:
    scheme = services.scheme_create(key=f"bench-locate-{n}", name_zh="定位基准", levels=[
        {"key": "root", "name_zh": "区"},
        {"key": "grid", "name_zh": "网格", "is_grid": True, "code_digits": 3},
    ])
    root_level, grid_level = scheme.levels.order_by("depth")
    side = math.ceil(math.sqrt(n)) * 0.001
    root = services.node_create(level=root_level, name="root", code=f"ROOT{n}")
    polys = _lattice(scheme, grid_level, root, n)
    rng = np.random.default_rng(42)
    lons = 114.0 + rng.random(BULK_POINTS) * side
    full_rows = (n // math.ceil(math.sqrt(n))) * 0.001
    lats = 22.5 + rng.random(BULK_POINTS) * full_rows * 0.999

    # build
    locating.index_clear()
    start = time.perf_counter()
    locating.spatial_index(scheme=scheme)
    ours_build = time.perf_counter() - start
    start = time.perf_counter()
    raw_tree = shapely.STRtree(polys)
    shapely.prepare(np.array(polys, dtype=object))
    raw_build = time.perf_counter() - start
    report.add(f"index build, {n:,} cells", ours_build * 1000, "ms", baseline_name="raw STRtree build",
               baseline_value=raw_build * 1000, note="ours reads the polygons from the database")

    # single points
    k = SINGLE_POINTS
    start = time.perf_counter()
    for i in range(k):
        locating.locate_id(lons[i], lats[i], scheme=scheme)
    ours_single = k / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(k):
        raw_tree.query(shapely.Point(lons[i], lats[i]), predicate="intersects")
    raw_single = k / (time.perf_counter() - start)
    report.add(f"locate single point, {n:,} cells", ours_single, "points/s", baseline_name="raw shapely query",
               baseline_value=raw_single, note="ours checks the territory version in the database on every call")
    from django.test import override_settings

    with override_settings(TERRITORY_INDEX_RECHECK_SECONDS=1.0):
        start = time.perf_counter()
        for i in range(k):
            locating.locate_id(lons[i], lats[i], scheme=scheme)
        ours_window = k / (time.perf_counter() - start)
    report.add(f"locate single point, {n:,} cells, recheck every 1 s", ours_window, "points/s",
               baseline_name="raw shapely query", baseline_value=raw_single,
               note="TERRITORY_INDEX_RECHECK_SECONDS=1: edits elsewhere seen within a second")

    # bulk
    start = time.perf_counter()
    ids = locating.locate_many(lons, lats, scheme=scheme)
    ours_bulk = BULK_POINTS / (time.perf_counter() - start)
    start = time.perf_counter()
    raw_tree.query(shapely.points(lons, lats), predicate="intersects")
    raw_bulk = BULK_POINTS / (time.perf_counter() - start)
    report.add(f"locate bulk, {n:,} cells", ours_bulk, "points/s", baseline_name="raw shapely bulk query",
               baseline_value=raw_bulk)
    missing = int((ids < 0).sum())
    assert missing == 0, f"{missing} benchmark points found no cell"


def run(report: Report) -> None:
    for n in (10_000, 100_000):
        _run_size(report, n)

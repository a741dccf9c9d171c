"""Boundary polygons: parsing GeoJSON, checking it, areas in m², and relations between cells.

Coordinates are longitude/latitude in WGS-84 or CGCS2000 (they differ by centimetres, far below
what grid boundaries resolve). Areas use a cylindrical equal-area projection centred on the shape,
exact enough for cells of a few km (error well under 0.1 %).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import shapely
from django.utils.translation import gettext
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import explain_validity

EARTH_RADIUS_M = 6_371_008.8
COORD_DECIMALS = 7  # ~1 cm
POLYGON_TYPES = ("Polygon", "MultiPolygon")


class GeometryError(ValueError):
    """A boundary that cannot be used; the message says why, in words a user can act on."""


def parse_geometry(value: Any) -> Polygon | MultiPolygon:
    """GeoJSON geometry (dict or JSON text; a Feature is accepted) → valid shapely (Multi)Polygon.

    Raises GeometryError naming the problem: wrong type, coordinates out of range, fewer than three
    distinct points, self-intersection (with the place), empty area."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise GeometryError(f"not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(value, dict):
        raise GeometryError("a GeoJSON geometry object is required")
    if value.get("type") == "Feature":
        value = value.get("geometry") or {}
    gtype = value.get("type")
    if gtype not in POLYGON_TYPES:
        raise GeometryError(f"geometry type must be Polygon or MultiPolygon, got {gtype!r}")
    vertices, limit = vertex_count(value), max_vertices()
    if vertices > limit:
        # counted before shapely builds anything: a million-vertex polygon costs nothing to refuse
        raise GeometryError(gettext("the polygon has %(n)d vertices; a cell may have at most %(max)d "
                                    "(TERRITORY_MAX_VERTICES): simplify it and import it again")
                            % {"n": vertices, "max": limit})
    try:
        geom = shape(value)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise GeometryError(f"malformed {gtype} coordinates: {exc}") from exc
    if geom.is_empty:
        raise GeometryError("the polygon is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise GeometryError(
            f"coordinates out of range (lon {minx:.6f}..{maxx:.6f}, lat {miny:.6f}..{maxy:.6f}); "
            "expected longitude/latitude in degrees (WGS-84/CGCS2000), longitude first"
        )
    if not geom.is_valid:
        raise GeometryError(f"invalid polygon: {explain_validity(geom)}")
    if geom.area <= 0:
        raise GeometryError("the polygon has no area")
    return geom


def max_vertices() -> int:
    """The most vertices one cell polygon may have (all rings and parts), TERRITORY_MAX_VERTICES."""
    from django.conf import settings

    return int(getattr(settings, "TERRITORY_MAX_VERTICES", 20_000))


def vertex_count(geometry: dict) -> int:
    """Vertices of a GeoJSON Polygon / MultiPolygon as written (every ring, every part), without building it;
    0 for coordinates of the wrong shape (shapely then says what is wrong)."""
    coords = geometry.get("coordinates")
    polygons = [coords] if geometry.get("type") == "Polygon" else coords
    if not isinstance(polygons, list):
        return 0
    total = 0
    for polygon in polygons:
        if isinstance(polygon, list):
            total += sum(len(ring) for ring in polygon if isinstance(ring, list))
    return total


def to_geojson(geom) -> dict:
    """shapely geometry → GeoJSON dict with coordinates rounded to ~1 cm."""
    rounded = shapely.set_precision(geom, 10 ** -COORD_DECIMALS) if geom is not None else None
    if rounded is None or rounded.is_empty:
        rounded = geom
    # one canonical form (start vertex, exterior counter-clockwise as RFC 7946 says) so that
    # parse → to_geojson is stable and stored geometries can be compared
    rounded = shapely.orient_polygons(shapely.normalize(rounded), exterior_cw=False)
    return _round_coords(mapping(rounded))


def _round_coords(obj):
    if isinstance(obj, dict):
        return {key: _round_coords(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        if obj and isinstance(obj[0], int | float):
            return [round(float(v), COORD_DECIMALS) for v in obj]
        return [_round_coords(v) for v in obj]
    return obj


def area_m2(geom) -> float:
    """Area in m² by a cylindrical equal-area projection with its standard parallel at the shape."""
    if geom is None or geom.is_empty:
        return 0.0
    lat0 = math.radians((geom.bounds[1] + geom.bounds[3]) / 2)
    cos0 = math.cos(lat0) or 1e-12
    projected = shapely.transform(geom, _equal_area_transform(cos0))
    return float(projected.area)


def _equal_area_transform(cos0: float):
    import numpy as np

    def transform(coords):
        out = np.empty_like(coords)
        out[:, 0] = EARTH_RADIUS_M * np.radians(coords[:, 0]) * cos0
        out[:, 1] = EARTH_RADIUS_M * np.sin(np.radians(coords[:, 1])) / cos0
        return out

    return transform


def degrees2_to_m2(area_deg2: float, lat: float) -> float:
    """Rough conversion of an area in square degrees near latitude `lat` to m² (for slivers)."""
    metres_per_degree = EARTH_RADIUS_M * math.pi / 180
    return area_deg2 * metres_per_degree * metres_per_degree * math.cos(math.radians(lat))


@dataclass(frozen=True)
class Measures:
    area_m2: float
    centroid_lon: float
    centroid_lat: float
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def measure(geom) -> Measures:
    """Area, a representative centroid (inside the shape) and the bounding box."""
    centroid = geom.centroid
    if not geom.contains(centroid):
        centroid = geom.representative_point()
    minx, miny, maxx, maxy = geom.bounds
    return Measures(
        area_m2=round(area_m2(geom), 2),
        centroid_lon=round(centroid.x, COORD_DECIMALS),
        centroid_lat=round(centroid.y, COORD_DECIMALS),
        min_lon=minx,
        min_lat=miny,
        max_lon=maxx,
        max_lat=maxy,
    )


def outside_area_m2(child, parent) -> float:
    """How much of `child` (m²) lies outside `parent`."""
    diff = child.difference(parent)
    return area_m2(diff) if not diff.is_empty else 0.0


def overlap_area_m2(a, b) -> float:
    inter = a.intersection(b)
    return area_m2(inter) if not inter.is_empty else 0.0


def reading_order(points: list[tuple[float, float]], row_height: float | None = None) -> list[int]:
    """Indices of `points` (lon, lat) in reading order: rows from north to south, west to east in a row.

    Points whose latitude lies within `row_height` (degrees) of the first point of the current row
    belong to that row; by default half the median spacing of the latitudes."""
    if not points:
        return []
    order = sorted(range(len(points)), key=lambda i: (-points[i][1], points[i][0]))
    if row_height is None:
        lats = sorted({round(p[1], 9) for p in points}, reverse=True)
        gaps = sorted(a - b for a, b in itertools.pairwise(lats) if a - b > 0)
        row_height = (gaps[len(gaps) // 2] / 2) if gaps else 0.0
        spread = (max(p[1] for p in points) - min(p[1] for p in points))
        if len(points) > 1 and spread > 0:
            # a row is at least 1/(2·√n) of the spread, so jittered centroids of one row stay together
            row_height = max(row_height, spread / (2 * math.sqrt(len(points))))
    rows: list[list[int]] = []
    row_top = None
    for i in order:
        lat = points[i][1]
        if row_top is None or row_top - lat > row_height:
            rows.append([])
            row_top = lat
        rows[-1].append(i)
    return [i for row in rows for i in sorted(row, key=lambda j: points[j][0])]

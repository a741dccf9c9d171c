"""Which cell is this point in? `locate(lon, lat)` → the deepest active node whose polygon holds it.

Each process keeps one shapely 2 STRtree per scheme (and one over all schemes) of the active nodes
with polygons, prepared for fast predicates. Before using it, the process compares the territory
version it was built at with `TerritoryVersion` in the database (every structural or geometric
change bumps it in the writing transaction), so an edit made by another process is seen on the
next call. The version is read with the settings' counters of `core.versioned`, in one statement, once
per request. `TERRITORY_INDEX_RECHECK_SECONDS` > 0 trades that for fewer queries. The node rows that
`locate` answers are cached too, until any node is written (the NODES counter, bumped by trigger).

Ties: a point on a shared edge, or in an overlap of siblings, goes to the deepest node, then to the
older node (the lowest id: created first) — deterministic, so a retried report lands in the same cell,
and a newcomer drawn over its sibling (a grid map imported later, a polygon edited in) never captures
the points the older cell already held, however small or detailed it is. The import reports every such
overlap (`gridmaps`, "Overlaps between siblings"); the rule is written down in docs/architecture.md.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from gridgov.core import versioned
from gridgov.territory.models import LevelScheme, Node, TerritoryVersion

NOT_FOUND = -1


@dataclass(frozen=True)
class SpatialIndex:
    version: int
    tree: shapely.STRtree
    node_ids: np.ndarray  # int64, aligned with the tree's geometries
    depths: np.ndarray  # level depth; deeper wins
    areas: np.ndarray  # m² (kept for callers; ties are decided by depth, then age)

    def __len__(self) -> int:
        return len(self.node_ids)


_indexes: dict[int | None, SpatialIndex] = {}
_lock = threading.Lock()
_last_check: dict[int | None, tuple[float, int]] = {}


TERRITORY = "TERRITORY"  # the name of the territory version among the counters of core.versioned
versioned.version_source_register(
    TERRITORY, TerritoryVersion._meta.db_table,
    f"SELECT '{TERRITORY}', value FROM {TerritoryVersion._meta.db_table} WHERE id = 1")  # noqa: S608 (constant)


def territory_version() -> int:
    """The current territory version in the database (0 before any change), read with the counters of
    `core.versioned` (raw SQL, one statement; once per request inside a request)."""
    return versioned.version(TERRITORY)


def _build(scheme_id: int | None, version: int) -> SpatialIndex:
    qs = Node.objects.current().exclude(geometry=None)
    if scheme_id is not None:
        qs = qs.filter(scheme_id=scheme_id)
    rows = qs.values_list("id", "geometry", "level__depth", "area_m2").order_by("id")
    ids, texts, depths, areas = [], [], [], []
    for node_id, geometry, depth, area in rows.iterator(chunk_size=5000):
        ids.append(node_id)
        texts.append(geometry if isinstance(geometry, str) else json.dumps(geometry))
        depths.append(depth)
        areas.append(area if area is not None else math.inf)
    geoms = shapely.from_geojson(np.array(texts, dtype=object)) if texts else np.array([], dtype=object)
    shapely.prepare(geoms)
    return SpatialIndex(
        version=version,
        tree=shapely.STRtree(geoms),
        node_ids=np.array(ids, dtype=np.int64),
        depths=np.array(depths, dtype=np.int64),
        areas=np.array(areas, dtype=np.float64),
    )


def spatial_index(*, scheme: LevelScheme | int | None = None) -> SpatialIndex:
    """The process's index for `scheme` (None = all schemes), rebuilt if the territory changed."""
    scheme_id = scheme.pk if isinstance(scheme, LevelScheme) else scheme
    recheck = settings.TERRITORY_INDEX_RECHECK_SECONDS
    now = time.monotonic()
    index = _indexes.get(scheme_id)
    checked = _last_check.get(scheme_id)
    if index is not None and recheck > 0 and checked and now - checked[0] < recheck and checked[1] == index.version:
        return index
    version = territory_version()
    _last_check[scheme_id] = (now, version)
    if index is not None and index.version == version:
        return index
    if connection.in_atomic_block:
        # Inside a transaction the rows read may still be rolled back while the version number is
        # later reused by another commit: build for this call only, never cache.
        return _build(scheme_id, version)
    with _lock:
        index = _indexes.get(scheme_id)
        if index is None or index.version != version:
            index = _build(scheme_id, version)
            _indexes[scheme_id] = index
    return index


def index_clear() -> None:
    """Forget every cached index (tests, or after restoring a database)."""
    with _lock:
        _indexes.clear()
        _last_check.clear()


def check_point(lon: float, lat: float) -> tuple[float, float]:
    """Validate a longitude/latitude pair; ValueError names the bad coordinate."""
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise ValueError(_("longitude and latitude must be numbers (decimal degrees)")) from exc
    if not math.isfinite(lon_f) or not -180 <= lon_f <= 180:
        raise ValueError(_("the longitude must be between -180 and 180, not %(value)s") % {"value": lon})
    if not math.isfinite(lat_f) or not -90 <= lat_f <= 90:
        raise ValueError(_("the latitude must be between -90 and 90, not %(value)s") % {"value": lat})
    return lon_f, lat_f


def _pick(index: SpatialIndex, candidates: np.ndarray) -> int:
    if candidates.size == 0:
        return NOT_FOUND
    if candidates.size == 1:
        return int(index.node_ids[candidates[0]])
    order = np.lexsort((index.node_ids[candidates], -index.depths[candidates]))
    return int(index.node_ids[candidates[order[0]]])


def locate_id(lon: float, lat: float, *, scheme: LevelScheme | int | None = None) -> int | None:
    """Id of the deepest active node containing (lon, lat), or None when no cell holds the point."""
    lon_f, lat_f = check_point(lon, lat)
    index = spatial_index(scheme=scheme)
    if not len(index):
        return None
    found = _pick(index, index.tree.query(shapely.Point(lon_f, lat_f), predicate="intersects"))
    return None if found == NOT_FOUND else found


NODE_CACHE_LIMIT = 20_000  # node rows kept per process (without their polygons)


def locate(lon: float, lat: float, *, scheme: LevelScheme | int | None = None) -> Node | None:
    """The deepest active node containing (lon, lat), or None when the point is outside every cell. The row
    (with its level and scheme; its polygon loaded only when read) is cached per process until a node,
    level or scheme is written: shared, read-only."""
    with versioned.versions_pinned():  # one read of the counters for the index and the row
        node_id = locate_id(lon, lat, scheme=scheme)
        if node_id is None:
            return None
        return versioned.versioned_get(
            (versioned.NODES, versioned.SCHEME), node_id, limit=NODE_CACHE_LIMIT,
            build=lambda: Node.objects.select_related("level", "scheme").defer("geometry").filter(pk=node_id).first())


def cell_resolve(*, scheme: LevelScheme, node: Node | str | int | None = None, lon=None, lat=None,
                 node_field: str = "node", point_field: str = "location",
                 coordinates_field: str = "location") -> Node | None:
    """THE rule of which cell a record or report names: `node` (a Node, its code or its id) must be a cell
    of `scheme` still in force; with a point as well, the point must lie in that cell and the deepest cell
    holding it is returned. Without `node`, the cell whose polygon holds (lon, lat). None when neither is
    given: the caller then has its own fallback (the house a record belongs to, a known address) and its
    own words for "say where".

    Errors are ValidationErrors keyed by the caller's field names: `node_field` for the cell named,
    `point_field` for a point outside, `coordinates_field` for coordinates that are not a point."""
    if node not in (None, ""):
        if not isinstance(node, Node):
            key = str(node)
            node = (Node.objects.filter(scheme=scheme, code=key).first()
                    or (Node.objects.filter(scheme=scheme, pk=int(key)).first() if key.isdigit() and len(key) <= 18
                        else None))
            if node is None:
                raise ValidationError({node_field: _("unknown cell %(code)s") % {"code": key}})
        if node.scheme_id != scheme.pk:
            raise ValidationError({node_field: _("the cell belongs to another level scheme")})
        if node.valid_to is not None:
            raise ValidationError({node_field: _("the cell %(code)s is retired") % {"code": node.code or node.name}})
        if lon is None or lat is None:
            return node
        found = _point_cell(scheme, lon, lat, coordinates_field)
        if found is None or not found.path.startswith(node.path):
            raise ValidationError({point_field: _("the point (%(lon).6f, %(lat).6f) lies outside cell %(code)s")
                                   % {"lon": float(lon), "lat": float(lat), "code": node.code}})
        return found
    if lon is None or lat is None:
        return None
    found = _point_cell(scheme, lon, lat, coordinates_field)
    if found is None:
        raise ValidationError({point_field: _("the point (%(lon).6f, %(lat).6f) lies outside every cell")
                               % {"lon": float(lon), "lat": float(lat)}})
    return found


def _point_cell(scheme: LevelScheme, lon, lat, field: str) -> Node | None:
    try:
        return locate(lon, lat, scheme=scheme)
    except ValueError as exc:  # check_point's words: not numbers, or out of range
        raise ValidationError({field: str(exc)}) from None


def locate_many(lons, lats, *, scheme: LevelScheme | int | None = None) -> np.ndarray:
    """Vectorised `locate_id` for arrays of points: an int64 array of node ids, -1 where outside."""
    lons = np.asarray(lons, dtype=np.float64)
    lats = np.asarray(lats, dtype=np.float64)
    if lons.shape != lats.shape or lons.ndim != 1:
        raise ValueError("lons and lats must be one-dimensional arrays of the same length")
    bad = ~np.isfinite(lons) | ~np.isfinite(lats) | (np.abs(lons) > 180) | (np.abs(lats) > 90)
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(f"point {first}: lon/lat out of range ({lons[first]}, {lats[first]})")
    result = np.full(lons.shape, NOT_FOUND, dtype=np.int64)
    index = spatial_index(scheme=scheme)
    if not len(index) or not lons.size:
        return result
    points = shapely.points(lons, lats)
    point_idx, geom_idx = index.tree.query(points, predicate="intersects")
    if point_idx.size == 0:
        return result
    # best candidate per point: deepest, then oldest (lowest id)
    order = np.lexsort((index.node_ids[geom_idx], -index.depths[geom_idx], point_idx))
    point_sorted = point_idx[order]
    first = np.ones(point_sorted.size, dtype=bool)
    first[1:] = point_sorted[1:] != point_sorted[:-1]
    winners = order[first]
    result[point_idx[winners]] = index.node_ids[geom_idx[winners]]
    return result

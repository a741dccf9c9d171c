"""Checks of polygons: one polygon's validity (with the place it breaks), and `gridmap_validate` of what is
stored: invalid polygons, children sticking out of their parent, overlaps between siblings and gaps inside
a parent (the last two are warnings; points in an overlap stay in the older cell, see `locate`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import shapely
from django.utils.translation import gettext as _
from shapely.geometry import shape
from shapely.validation import explain_validity

from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.gridmaps.report import GridMapReport, RowResult
from gridgov.territory.models import LevelScheme, Node

VALIDITY_PLACE = re.compile(r"^(?P<reason>[^\[]*)\[(?P<x>[-+0-9.eE]+)\s+(?P<y>[-+0-9.eE]+)")


def polygon_parse(value) -> tuple[Any, dict[str, Any] | None]:
    """A valid 2-D (Multi)Polygon, or the problem: message, reason and place (from explain_validity)."""
    try:
        return shapely.force_2d(geo.parse_geometry(value)), None
    except geo.GeometryError as exc:
        problem: dict[str, Any] = {"message": str(exc), "reason": str(exc), "location": None}
    try:
        raw = shape(value)
        text = "" if raw.is_empty or raw.is_valid else explain_validity(raw)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.GEOSException):
        text = ""
    match = VALIDITY_PLACE.match(text)
    if match:
        problem["reason"] = match.group("reason").strip()
        problem["location"] = [float(match.group("x")), float(match.group("y"))]
    return None, problem



def check_sibling_groups(report: GridMapReport, *, scheme: LevelScheme, groups: Iterable[tuple[int, int]],
                          rows_by_node: dict[int, RowResult] | None = None) -> None:
    """Overlaps between siblings (same parent, same level) and gaps inside their parent, as warnings."""
    rows_by_node = rows_by_node or {}
    groups = sorted(set(groups))
    if not groups:
        return
    parent_ids = {p for p, _level in groups}
    parents = {n.pk: n for n in Node.objects.filter(pk__in=parent_ids)}
    children: dict[tuple[int, int], list[Node]] = {}
    for child in (Node.objects.current().filter(scheme=scheme, parent_id__in=parent_ids, geometry__isnull=False)
                  .select_related("level").order_by("code", "pk")):
        children.setdefault((child.parent_id, child.level_id), []).append(child)
    for key in groups:
        parent = parents.get(key[0])
        siblings, geoms = [], []
        for child in children.get(key, []):
            try:
                geoms.append(geo.parse_geometry(child.geometry))
            except geo.GeometryError:
                continue
            siblings.append(child)
        if not siblings or parent is None:
            continue
        _check_overlaps(report, parent, siblings, geoms, rows_by_node)
        _check_gaps(report, parent, siblings, geoms)


def _check_overlaps(report, parent: Node, siblings: list[Node], geoms: list, rows_by_node) -> None:
    if len(siblings) < 2:
        return
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        a, b = siblings[i], siblings[j]
        row_a, row_b = rows_by_node.get(a.pk), rows_by_node.get(b.pk)
        if rows_by_node and row_a is None and row_b is None:
            continue  # an old overlap between two nodes the file did not touch
        area = geo.overlap_area_m2(geoms[i], geoms[j])
        if area <= services.area_tolerance_m2(geoms[i] if geoms[i].area < geoms[j].area else geoms[j]):
            continue
        rows = sorted(r.row for r in (row_a, row_b) if r is not None)
        report.overlaps.append({
            "parent_code": parent.code, "parent_name": parent.name, "level": a.level.key,
            "a": {"code": a.code, "name": a.name}, "b": {"code": b.code, "name": b.name},
            "rows": rows, "area_m2": round(area, 1),
        })
        older = a if a.pk < b.pk else b
        report.overlaps[-1]["keeps_points"] = {"code": older.code, "name": older.name}
        for r, other in ((row_a, b), (row_b, a)):
            if r is not None:
                r.warnings.append(_("overlaps %(code)s %(name)s by %(area).0f m²; points in the overlap stay in the "
                                    "older cell %(older)s") % {"code": other.code, "name": other.name, "area": area,
                                                               "older": older.code or older.name})


def _check_gaps(report, parent: Node, siblings: list[Node], geoms: list) -> None:
    if not parent.geometry:
        return
    try:
        parent_geom = geo.parse_geometry(parent.geometry)
    except geo.GeometryError:
        return
    gap = parent_geom.difference(shapely.union_all(geoms))
    if gap.is_empty:
        return
    tolerance = services.area_tolerance_m2(parent_geom)
    for part in getattr(gap, "geoms", [gap]):
        if part.geom_type != "Polygon":
            continue
        area = geo.area_m2(part)
        if area > tolerance:
            report.gaps.append({
                "parent_code": parent.code, "parent_name": parent.name, "level": siblings[0].level.key,
                "area_m2": round(area, 1), "bbox": [round(v, geo.COORD_DECIMALS) for v in part.bounds],
            })


def gridmap_validate(*, scheme: LevelScheme, root: Node | None = None) -> GridMapReport:
    """Check the stored polygons of `scheme` (or of `root`'s subtree): invalid polygons, children sticking
    out of their parent, overlaps between siblings, gaps inside parents. Reads only."""
    report = GridMapReport(scheme=scheme.key, kind="validate", mode="", committed=False)
    qs = Node.objects.current().filter(scheme=scheme).select_related("level", "parent")
    if root is not None:
        qs = qs.filter(path__startswith=root.path)
    nodes = list(qs.order_by("path"))
    geoms: dict[int, Any] = {}
    for node in nodes:
        if not node.geometry:
            continue
        try:
            geoms[node.pk] = geo.parse_geometry(node.geometry)
        except geo.GeometryError as exc:
            _geom, problem = polygon_parse(node.geometry)
            report.invalid_polygons.append({"row": None, "code": node.code, "name": node.name,
                                            **(problem or {"message": str(exc), "reason": str(exc),
                                                           "location": None})})
    for node in nodes:
        parent = node.parent
        if node.pk not in geoms or parent is None or not parent.geometry:
            continue
        parent_geom = geoms.get(parent.pk)
        if parent_geom is None:
            try:
                parent_geom = geo.parse_geometry(parent.geometry)
            except geo.GeometryError:
                continue
        outside = geo.outside_area_m2(geoms[node.pk], parent_geom)
        if outside > services.area_tolerance_m2(geoms[node.pk]):
            report.outside_parent.append({"row": None, "code": node.code, "name": node.name,
                                          "parent_code": parent.code, "parent_name": parent.name,
                                          "area_m2": round(outside, 1)})
    groups = {(n.parent_id, n.level_id) for n in nodes if n.parent_id and n.pk in geoms}
    check_sibling_groups(report, scheme=scheme, groups=groups)
    return report

"""`gridmap_export`: the tree's polygons as a GeoJSON FeatureCollection, now or as of a past date, with the
import's property names, so the file re-imports to the same tree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.models import Level, LevelScheme, Node
from gridgov.territory.selectors import node_versions_as_of


def gridmap_export(*, scheme: LevelScheme, root: Node | None = None, levels: Sequence[Level | str] | None = None,
                   as_of: dt.date | None = None) -> dict[str, Any]:
    """The nodes of `scheme` (the subtree of `root`, at `levels`) as a GeoJSON FeatureCollection, as they
    are now or as they stood on `as_of`. Properties use the import's names, so the file re-imports to
    the same tree: code, name, level, level_name, parent_code, node_type, management_class, area_m2,
    attributes."""
    level_ids = {services.level_resolve(scheme=scheme, value=lv).pk for lv in levels} if levels else None
    features = []
    if as_of is None:
        qs = (Node.objects.current().filter(scheme=scheme)
              .select_related("level", "parent", "node_type", "management_class"))
        if root is not None:
            qs = qs.filter(path__startswith=root.path)
        if level_ids is not None:
            qs = qs.filter(level_id__in=level_ids)
        for node in qs.order_by("level__depth", "code", "pk"):
            features.append(_feature(
                code=node.code, name=node.name, level=node.level, parent_code=node.parent.code if node.parent else "",
                node_type=node.node_type, management_class=node.management_class, geometry=node.geometry,
                area=node.area_m2, attributes=node.attributes))
    else:
        versions = {v.node_id: v for v in node_versions_as_of(on=as_of, scheme=scheme)
                    .select_related("level", "node_type", "management_class")}
        keep = set(versions) if root is None else _subtree_as_of(root.pk, versions)
        missing_parents = {v.parent_id for v in versions.values() if v.parent_id and v.parent_id not in versions}
        fallback_codes = dict(Node.objects.filter(pk__in=missing_parents).values_list("pk", "code"))
        chosen = [v for v in versions.values() if v.node_id in keep
                  and (level_ids is None or v.level_id in level_ids)]
        for v in sorted(chosen, key=lambda v: (v.level.depth, v.code, v.node_id)):
            parent_code = (versions[v.parent_id].code if v.parent_id in versions
                           else fallback_codes.get(v.parent_id, "")) if v.parent_id else ""
            area = None
            if v.geometry:
                try:
                    area = round(geo.area_m2(geo.parse_geometry(v.geometry)), 2)
                except geo.GeometryError:
                    area = None
            features.append(_feature(
                code=v.code, name=v.name, level=v.level, parent_code=parent_code, node_type=v.node_type,
                management_class=v.management_class, geometry=v.geometry, area=area, attributes=v.attributes))
    return {"type": "FeatureCollection", "scheme": scheme.key, "as_of": as_of.isoformat() if as_of else None,
            "features": features}


def _subtree_as_of(root_id: int, versions: dict) -> set[int]:
    children: dict[int, list[int]] = {}
    for node_id, v in versions.items():
        if v.parent_id:
            children.setdefault(v.parent_id, []).append(node_id)
    if root_id not in versions:
        return set()
    keep, stack = set(), [root_id]
    while stack:
        node_id = stack.pop()
        keep.add(node_id)
        stack.extend(children.get(node_id, []))
    return keep


def _feature(*, code, name, level, parent_code, node_type, management_class, geometry, area, attributes) -> dict:
    feature: dict[str, Any] = {"type": "Feature"}
    if code:
        feature["id"] = code
    feature["geometry"] = geometry or None
    feature["properties"] = {
        "code": code or "", "name": name, "level": level.key, "level_name": level.name_zh,
        "parent_code": parent_code or "", "node_type": node_type.key if node_type else None,
        "management_class": management_class.key if management_class else None,
        "area_m2": area, "attributes": attributes or {},
    }
    return feature

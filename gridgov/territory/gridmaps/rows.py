"""From a feature of the file to a row on its way in: its fields (by property name or alias), level and
polygon, read without writing anything. Problems reject the row in its report."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridgov.territory import services
from gridgov.territory.gridmaps.checks import polygon_parse
from gridgov.territory.gridmaps.read import FeatureRow
from gridgov.territory.gridmaps.report import GridMapReport, RowResult, RowStatus
from gridgov.territory.models import Level, LevelScheme, Node

# Recognised properties: the first name is the one `gridmap_export` writes. Shapefile (DBF) field
# names hold at most 10 bytes, so the truncations GIS software makes are accepted too ("parent_cod";
# in UTF-8 a Chinese character takes 3 bytes, so "上级编码" becomes "上级编").
PROPERTY_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "名称", "网格名称", "网格名"),
    "code": ("code", "编码", "网格编码", "网格编"),
    "level": ("level", "层级"),
    "parent_code": ("parent_code", "上级编码", "parent_cod", "上级编"),
    "node_type": ("node_type", "类型"),
    "management_class": ("management_class", "管理类别", "management", "mgmt_class", "管理类"),
    "attributes": ("attributes", "属性"),
}
# Written by the export for people to read, recomputed from the polygon: never stored as attributes.
DERIVED_PROPERTIES = ("level_name", "层级名称", "area_m2", "面积")


@dataclass
class PendingRow:
    """A row on its way in: what the file says, and what the tree says about it."""

    result: RowResult
    level: Level | None = None
    geom: Any = None
    node_type: str = ""
    management_class: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    node: Node | None = None  # the existing node with the row's code
    parent: Node | None = None

    @property
    def rejected(self) -> bool:
        return self.result.status == RowStatus.REJECTED



def aliases_with(property_map: Mapping[str, str | Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    aliases = dict(PROPERTY_ALIASES)
    for field_name, names in (property_map or {}).items():
        if field_name not in aliases:
            raise ValidationError({"property_map": _("unknown field %(field)r; fields: %(known)s")
                                   % {"field": field_name, "known": ", ".join(PROPERTY_ALIASES)}})
        names = (names,) if isinstance(names, str) else tuple(names)
        aliases[field_name] = (*names, *aliases[field_name])
    return aliases


def _pick(properties: dict[str, Any], names: Iterable[str]) -> tuple[str | None, Any]:
    """The first of `names` present with a value (exact, then case-insensitive: DBF names are often upper case)."""
    lowered = {str(k).lower(): k for k in properties}
    for name in names:
        key = name if name in properties else lowered.get(name.lower())
        if key is not None and properties[key] not in (None, ""):
            return key, properties[key]
    return None, None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code read from a numeric DBF field
    return str(value).strip()


def row_prepare(row: FeatureRow, *, scheme: LevelScheme, file_level: Level | None, aliases, levels,
             report: GridMapReport) -> PendingRow:
    """Read the row's fields and polygon; no writes. Problems reject the row."""
    props = row.properties or {}
    picked = {f: _pick(props, names) for f, names in aliases.items()}
    work = PendingRow(result=RowResult(row=row.row))
    res = work.result
    res.name = _text(picked["name"][1])
    res.code = _text(picked["code"][1])
    res.parent_code = _text(picked["parent_code"][1])
    work.node_type = _text(picked["node_type"][1])
    work.management_class = _text(picked["management_class"][1])

    # attributes: the nested object, plus every property that is not a recognised field
    known = {k.lower() for names in aliases.values() for k in names} | {k.lower() for k in DERIVED_PROPERTIES}
    attributes = {k: v for k, v in props.items() if str(k).lower() not in known}
    nested = picked["attributes"][1]
    if isinstance(nested, str):  # a DBF field cannot hold an object: JSON text is accepted
        try:
            nested = json.loads(nested)
        except json.JSONDecodeError:
            nested = []
    if isinstance(nested, dict):
        attributes.update(nested)
    elif nested is not None:
        res.reject("attributes", _("attributes must be a JSON object"))
    work.attributes = attributes

    existing = Node.objects.filter(scheme=scheme, code=res.code).select_related("level").first() if res.code else None
    level_value = _text(picked["level"][1])
    if level_value:
        try:
            work.level = services.level_resolve(scheme=scheme, value=level_value)
        except ValidationError as exc:
            res.reject_with(exc)
    elif file_level is not None:
        work.level = file_level
    elif existing is not None:
        work.level = levels.get(existing.level_id)
    else:
        res.reject("level", _("no level given: set the %(names)s property or choose a level for the whole file")
                   % {"names": " / ".join(aliases["level"][:2])})
    if work.level is not None:
        res.level = work.level.key

    if row.geometry is None:
        res.warnings.append(_("no polygon"))
    else:
        geom, problem = polygon_parse(row.geometry)
        if problem is not None:
            report.invalid_polygons.append({"row": row.row, "code": res.code, "name": res.name, **problem})
            res.reject("geometry", problem["message"])
        work.geom = geom
    return work



def reject_duplicate_codes(work: list[PendingRow]) -> None:
    first_row: dict[str, int] = {}
    for w in work:
        code = w.result.code
        if not code:
            continue
        if code in first_row:
            w.result.reject("code", _("code %(code)s is also in row %(row)d; each code may appear once in a file")
                            % {"code": code, "row": first_row[code]})
        else:
            first_row[code] = w.result.row

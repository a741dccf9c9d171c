"""Grid maps: grid / micro-grid / unit polygons in and out of the territory tree.

`gridmap_read` turns a file into rows: a GeoJSON FeatureCollection (.geojson / .json), or a Shapefile
(.shp with its .dbf, .shx, .prj, .cpg beside it, or all of them in a .zip) read with pyshp, pure
Python. Coordinates must be longitude/latitude on WGS-84 or CGCS2000: a .prj (or a GeoJSON `crs`)
naming a projected or other CRS is refused with its name, never imported as garbage. Shapefile
attribute text is decoded with the .cpg's encoding, else UTF-8, else GB18030 (a superset of GBK,
which Chinese GIS software writes by default).

`gridmap_import` attaches each row under its parent: by `parent_code`, else by its own code (grid
codes extend the parent's code), else by containment (the active node of the level above holding
most of the polygon). Rows are processed level by level, top first, so one file can hold grids and
their micro-grids. Rows without a code at a sequence-coded level get the next codes under their
parent in reading order (north → south, west → east). A row whose code exists updates that node
(name, polygon, type, class, attributes merged) through `services.node_update`, and only when
something differs; otherwise it is reported unchanged and nothing is written.

Policy (the report lists every row with its status and reasons; nothing is dropped silently):
- rejected rows: invalid or self-intersecting polygon, unknown level, bad or duplicate code, unknown
  parent, polygon sticking out of its parent by more than the area tolerance
  (settings.TERRITORY_AREA_TOLERANCE_M2, or one part in a million of the polygon), unknown type or
  class, missing name. A rejected row changes nothing already stored.
- rejected too: a polygon of more than TERRITORY_MAX_VERTICES vertices (counted before it is built).
- warnings (rows imported, the problem reported): overlaps between siblings, gaps inside a parent. Points
  in an overlap stay in the older cell (`locate()`: deepest, then lowest id), so a newcomer drawn over
  its sibling never captures them; the warning names the cell that keeps them.
- the file itself: held to the grid-map upload limits (`core.uploads`) and GRIDMAP_MAX_FEATURES.
- mode "per_row": good rows are kept, each rejected row is listed with its reasons.
  mode "all_or_nothing": one rejected row rolls the whole file back; the report still says what
  each row would have done. `dry_run` validates and reports, then rolls back, in either mode.

`gridmap_validate` checks what is stored (overlaps, gaps, children sticking out) and
`gridmap_export` writes a GeoJSON FeatureCollection, now or as of a past date, that re-imports to
the same tree.
"""

from __future__ import annotations

import codecs
import datetime as dt
import decimal
import io
import json
import os
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import shapefile
import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

from gridgov.core import uploads
from gridgov.core.audit import audit_record
from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.models import ADMIN_SIGNIFICANT_DIGITS, NATIONAL_CODE_LENGTH, Level, LevelScheme, Node
from gridgov.territory.selectors import node_versions_as_of

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

SHAPEFILE_PARTS = ("shp", "shx", "dbf", "prj", "cpg")
SMALL_PART_BYTES = 64 * 1024
UPLOAD_KIND = "gridmap"
POLYGON_SHAPE_TYPES = (shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM)
GEOGRAPHIC_DATUMS = ("WGS_1984", "WGS_84", "WGS84", "CGCS2000", "CGCS_2000", "CHINA_2000",
                     "CHINA_GEODETIC_COORDINATE_SYSTEM_2000")
GEOJSON_CRS_OK = re.compile(r"(EPSG:+(4326|4490)|CRS:?84)$", re.IGNORECASE)
VALIDITY_PLACE = re.compile(r"^(?P<reason>[^\[]*)\[(?P<x>[-+0-9.eE]+)\s+(?P<y>[-+0-9.eE]+)")


class GridMapError(ValueError):
    """A file that cannot be read as a grid map at all; the message says why (field `file`)."""

    field = "file"

    def as_validation_error(self) -> ValidationError:
        return ValidationError({self.field: str(self)})


class RowStatus(StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


class ImportMode(StrEnum):
    PER_ROW = "per_row"
    ALL_OR_NOTHING = "all_or_nothing"


@dataclass(frozen=True)
class FeatureRow:
    """One feature of the file: `row` is its 1-based position, `geometry` a GeoJSON geometry or None."""

    row: int
    properties: dict[str, Any]
    geometry: dict[str, Any] | None


@dataclass
class RowResult:
    row: int
    status: RowStatus | None = None
    code: str = ""
    name: str = ""
    level: str = ""
    parent_code: str = ""
    node_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    written: bool = False

    def reject(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(str(message))
        self.status = RowStatus.REJECTED

    def reject_with(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for field_name, messages in exc.message_dict.items():
                for message in messages:
                    # the file names the parent by its code: report it under that property
                    self.reject("parent_code" if field_name in ("parent", "new_parent") else field_name, message)
        else:
            for message in exc.messages:
                self.reject("__all__", message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "status": str(self.status) if self.status else None, "written": self.written,
            "code": self.code, "name": self.name, "level": self.level, "parent_code": self.parent_code,
            "node_id": self.node_id, "changed": list(self.changed), "errors": dict(self.errors),
            "warnings": list(self.warnings),
        }


@dataclass
class GridMapReport:
    """What an import did (or would do) row by row, and what is wrong with the polygons.

    `committed` is True when the import's writes were kept (not a dry run, not rolled back)."""

    scheme: str
    kind: str = "import"  # "import" or "validate"
    source: str = ""
    mode: str = ImportMode.PER_ROW
    dry_run: bool = False
    committed: bool = False
    rows: list[RowResult] = field(default_factory=list)
    invalid_polygons: list[dict[str, Any]] = field(default_factory=list)
    outside_parent: list[dict[str, Any]] = field(default_factory=list)
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in RowStatus}
        for r in self.rows:
            if r.status:
                counts[str(r.status)] += 1
        return counts

    @property
    def has_rejections(self) -> bool:
        return any(r.status == RowStatus.REJECTED for r in self.rows)

    @property
    def is_clean(self) -> bool:
        """No rejected row and no polygon problem at all (warnings included)."""
        return not (self.has_rejections or self.invalid_polygons or self.outside_parent or self.overlaps
                    or self.gaps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "scheme": self.scheme, "source": self.source, "mode": str(self.mode),
            "dry_run": self.dry_run, "committed": self.committed, "counts": self.counts,
            "rows": [r.to_dict() for r in self.rows],
            "invalid_polygons": self.invalid_polygons, "outside_parent": self.outside_parent,
            "overlaps": self.overlaps, "gaps": self.gaps,
        }

    def to_markdown(self) -> str:
        return _render_markdown(self)

    def __str__(self) -> str:
        return self.to_markdown()


# =========================================================================== reading
def gridmap_read(*, path_or_file: str | os.PathLike | IO[bytes], filename: str | None = None) -> list[FeatureRow]:
    """Rows of a GeoJSON file or a Shapefile, from a path or an open (uploaded) file.

    The format comes from the extension of `filename` (or the path / the file's name): .geojson or
    .json; .zip holding one Shapefile; .shp (a path only: its .dbf, .prj, .cpg are read beside it).
    Every file is held to the grid-map upload limits (`gridgov.core.uploads`: size, zip members, inflated
    size and ratio, JSON depth) and to GRIDMAP_MAX_FEATURES, refused before it is inflated or parsed past
    them. Raises GridMapError naming the problem when the file cannot be used at all."""
    is_path = isinstance(path_or_file, str | os.PathLike)
    name = filename or (os.fspath(path_or_file) if is_path else getattr(path_or_file, "name", "") or "")
    suffix = Path(str(name)).suffix.lower()
    label = Path(str(name)).name
    try:
        if suffix == ".shp":
            if not is_path:
                raise GridMapError(_("a Shapefile upload must be one .zip holding the .shp, .shx, .dbf, .prj "
                                     "(and .cpg) files"))
            rows = _read_shapefile(_shapefile_parts_beside(Path(path_or_file)), label=label)
        elif suffix not in (".geojson", ".json", ".zip"):
            raise GridMapError(_("%(name)r: unsupported file type; use GeoJSON (.geojson, .json) or a Shapefile "
                                 "(.shp, or a .zip holding it)") % {"name": label})
        elif suffix == ".zip":
            with uploads.zip_open(path_or_file, kind=UPLOAD_KIND, name=label) as archive:
                rows = _read_shapefile(_shapefile_parts_in_zip(archive), label=label)
        else:
            rows = _read_geojson(_read_bytes(path_or_file, name=label), label=label)
    except uploads.UploadError as exc:
        raise GridMapError(str(exc)) from exc
    return rows


def _features_check(count: int, *, label: str) -> None:
    limit = settings.GRIDMAP_MAX_FEATURES
    if count > limit:
        raise GridMapError(_("%(label)s holds %(n)d features; a grid map may hold at most %(max)d: split it into "
                             "several files") % {"label": label, "n": count, "max": limit})


def _read_bytes(path_or_file, *, name: str) -> bytes:
    try:
        return uploads.read_capped(path_or_file, kind=UPLOAD_KIND, name=name)
    except OSError as exc:
        raise GridMapError(_("cannot read %(path)s: %(error)s") % {"path": path_or_file,
                                                                  "error": exc.strerror}) from exc


# --------------------------------------------------------------------------- GeoJSON
def _read_geojson(data: bytes, *, label: str = "") -> list[FeatureRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # GeoJSON is UTF-8 by definition, but some Chinese tools write GBK
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise GridMapError(_("the GeoJSON text is neither UTF-8 nor GBK/GB18030")) from exc
    try:
        doc = uploads.json_loads(text, name=label or _("the GeoJSON file"))
    except json.JSONDecodeError as exc:
        raise GridMapError(_("not valid JSON: %(msg)s at line %(line)d column %(col)d")
                           % {"msg": exc.msg, "line": exc.lineno, "col": exc.colno}) from exc
    if not isinstance(doc, dict):
        raise GridMapError(_("expected a GeoJSON FeatureCollection"))
    _check_geojson_crs(doc.get("crs"))
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise GridMapError(_("the FeatureCollection has no list of features"))
    elif doc.get("type") == "Feature":
        features = [doc]
    else:
        raise GridMapError(_("expected a GeoJSON FeatureCollection, got type %(type)r") % {"type": doc.get("type")})
    if not features:
        raise GridMapError(_("the file holds no features"))
    _features_check(len(features), label=label or _("the file"))
    rows = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise GridMapError(_("feature %(n)d is not a GeoJSON Feature") % {"n": number})
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise GridMapError(_("feature %(n)d: properties must be an object") % {"n": number})
        geometry = feature.get("geometry")
        rows.append(FeatureRow(row=number, properties=properties,
                               geometry=geometry if isinstance(geometry, dict) else None))
    return rows


def _check_geojson_crs(crs) -> None:
    """RFC 7946 GeoJSON is WGS-84 lon/lat; the old `crs` member, when present, must agree."""
    if not crs:
        return
    name = ""
    if isinstance(crs, dict):
        name = str((crs.get("properties") or {}).get("name") or (crs.get("properties") or {}).get("href") or "")
    if not GEOJSON_CRS_OK.search(name.strip()):
        raise GridMapError(_("the file's CRS is %(crs)r; grid maps must be longitude/latitude on WGS-84 or "
                             "CGCS2000 (EPSG:4326 or EPSG:4490): reproject and export again") % {"crs": name or crs})


# --------------------------------------------------------------------------- Shapefile
def _shapefile_parts_beside(shp_path: Path) -> dict[str, IO[bytes]]:
    folder, stem = shp_path.parent, shp_path.stem
    limits = uploads.upload_limits(UPLOAD_KIND)
    parts: dict[str, IO[bytes]] = {}
    try:
        for entry in folder.iterdir():
            ext = entry.suffix.lower().lstrip(".")
            if entry.stem == stem and ext in SHAPEFILE_PARTS:
                if entry.stat().st_size > limits.member_bytes:
                    raise GridMapError(_("%(name)s is larger than %(max)d MB") % {
                        "name": entry.name, "max": limits.member_bytes >> 20})
                parts[ext] = io.BytesIO(entry.read_bytes())
    except OSError as exc:
        raise GridMapError(_("cannot read %(path)s: %(error)s") % {"path": shp_path, "error": exc.strerror}) from exc
    return parts


def _shapefile_parts_in_zip(archive: uploads.SafeZip) -> dict[str, IO[bytes]]:
    """The parts of the one Shapefile in the archive (whose limits are checked), each copied in blocks."""
    members = [m for m in archive.members if not Path(m.filename).name.startswith(".")
               and "__MACOSX" not in m.filename]
    shps = [m for m in members if m.filename.lower().endswith(".shp")]
    if len(shps) != 1:
        found = ", ".join(m.filename for m in shps) or "-"
        raise GridMapError(_("the .zip must hold exactly one .shp file; found: %(found)s") % {"found": found})
    stem = shps[0].filename[:-4]
    parts: dict[str, IO[bytes]] = {}
    for m in members:
        base, dot, ext = m.filename.rpartition(".")
        if dot and base == stem and ext.lower() in SHAPEFILE_PARTS:
            parts[ext.lower()] = archive.spool(m)
    return parts


def _small_part(parts: dict[str, IO[bytes]], ext: str) -> bytes:
    """A .prj or .cpg: a line of text, read at most 64 KB of it."""
    part = parts.get(ext)
    if part is None:
        return b""
    part.seek(0)
    return part.read(SMALL_PART_BYTES)


def _read_shapefile(parts: dict[str, IO[bytes]], *, label: str) -> list[FeatureRow]:
    for required in ("shp", "dbf"):
        if required not in parts:
            raise GridMapError(_("%(label)s: the .%(ext)s file is missing; a Shapefile needs its .shp, .shx, .dbf "
                                 "and .prj files together") % {"label": label, "ext": required})
    prj = _small_part(parts, "prj").decode("latin-1").strip()
    if prj:
        _check_prj(prj)
    encodings = []
    cpg_codec = _codec_from_cpg(_small_part(parts, "cpg"))
    for candidate in (cpg_codec, "utf-8", "gb18030"):
        if candidate and candidate not in encodings:
            encodings.append(candidate)
    for encoding in encodings:
        try:
            rows, bbox = _shapefile_rows(parts, encoding=encoding, label=label)
        except GridMapError:
            raise
        except UnicodeDecodeError:
            continue
        except shapefile.ShapefileException as exc:
            if "decode" in str(exc).lower():
                continue
            raise GridMapError(_("%(label)s: cannot read the Shapefile: %(error)s")
                               % {"label": label, "error": exc}) from exc
        except (struct.error, ValueError, IndexError, KeyError, TypeError, EOFError, OverflowError,
                MemoryError) as exc:
            # a damaged .shp / .shx / .dbf (bad header, truncated records, field lengths that do not add up)
            raise GridMapError(_("%(label)s: the Shapefile is damaged and cannot be read (its .shp, .shx or .dbf "
                                 "is truncated or malformed); export it again") % {"label": label}) from exc
        break
    else:
        raise GridMapError(_("%(label)s: the attribute text is in none of %(encodings)s; add a .cpg file naming "
                             "its encoding") % {"label": label, "encodings": ", ".join(encodings)})
    if not prj and bbox is not None:
        minx, miny, maxx, maxy = bbox
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise GridMapError(_("%(label)s has no .prj and its coordinates (x %(minx).0f…%(maxx).0f, y %(miny).0f…"
                                 "%(maxy).0f) are not longitude/latitude: they look projected; export it as WGS-84 "
                                 "or CGCS2000 longitude/latitude")
                               % {"label": label, "minx": minx, "maxx": maxx, "miny": miny, "maxy": maxy})
    if not rows:
        raise GridMapError(_("%(label)s holds no features") % {"label": label})
    return rows


def _shapefile_rows(parts: dict[str, IO[bytes]], *, encoding: str,
                    label: str = "") -> tuple[list[FeatureRow], tuple | None]:
    for part in parts.values():
        part.seek(0)
    with shapefile.Reader(shp=parts["shp"], shx=parts.get("shx"), dbf=parts["dbf"],
                          encoding=encoding, encodingErrors="strict") as reader:
        if reader.shapeType not in (*POLYGON_SHAPE_TYPES, shapefile.NULL):
            kind = shapefile.SHAPETYPE_LOOKUP.get(reader.shapeType, str(reader.shapeType))
            raise GridMapError(_("the Shapefile holds %(kind)s shapes; grid maps need polygons") % {"kind": kind})
        _features_check(len(reader), label=label or _("the Shapefile"))
        rows = []
        for number, item in enumerate(reader.iterShapeRecords(), start=1):
            geometry = None
            if item.shape.shapeType != shapefile.NULL and item.shape.points:
                geometry = _plain_coords(item.shape.__geo_interface__)
            properties = {str(k): _jsonable(v) for k, v in item.record.as_dict().items()}
            rows.append(FeatureRow(row=number, properties=properties, geometry=geometry))
        bbox = tuple(reader.bbox) if reader.shapeType != shapefile.NULL and len(reader) else None
    return rows, bbox


def _plain_coords(obj):
    """pyshp's __geo_interface__ → plain GeoJSON: lists, and 2-D points (Z / M dropped)."""
    if isinstance(obj, dict):
        return {k: _plain_coords(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        if obj and isinstance(obj[0], int | float):
            return [float(v) for v in obj[:2]]
        return [_plain_coords(v) for v in obj]
    return obj


def _jsonable(value):
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("latin-1").strip()
    return value


def _codec_from_cpg(raw: bytes) -> str | None:
    """The codec a .cpg names: 'UTF-8', 'GBK', '936', 'ANSI 936', '65001' ..."""
    text = raw.decode("ascii", "ignore").strip().lower().replace("ansi", "").strip()
    if not text:
        return None
    aliases = {"65001": "utf-8", "936": "gb18030", "cp936": "gb18030", "gbk": "gb18030", "gb2312": "gb18030",
               "54936": "gb18030", "950": "big5"}
    name = aliases.get(text, text if not text.isdigit() else f"cp{text}")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _check_prj(prj: str) -> None:
    """Accept geographic WGS-84 / CGCS2000; refuse projected or other CRSs, naming them."""
    match = re.match(r"\s*([A-Za-z_]+)\s*\[\s*\"([^\"]*)\"", prj)
    if not match:
        raise GridMapError(_("the .prj file cannot be read as a coordinate reference system (WKT)"))
    kind, name = match.group(1).upper(), match.group(2)
    if kind in ("PROJCS", "PROJCRS", "PROJECTEDCRS"):
        raise GridMapError(_("the coordinates are projected (CRS %(crs)r in the .prj); grid maps must be "
                             "longitude/latitude on WGS-84 or CGCS2000 (EPSG:4326 or EPSG:4490): reproject and "
                             "export again") % {"crs": name})
    normalized = re.sub(r"[\s\-]+", "_", prj.upper())
    if kind not in ("GEOGCS", "GEOGCRS", "GEODCRS", "GEOGRAPHICCRS") or not any(
            datum in normalized for datum in GEOGRAPHIC_DATUMS):
        raise GridMapError(_("the coordinate reference system %(crs)r in the .prj is not WGS-84 or CGCS2000 "
                             "longitude/latitude (EPSG:4326 or EPSG:4490): reproject and export again")
                           % {"crs": name})


# =========================================================================== importing
@dataclass
class _Work:
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


class _Rollback(Exception):
    """Raised to leave the import transaction without keeping its writes (dry run, all or nothing)."""


def gridmap_import(
    *,
    scheme: LevelScheme,
    rows: Sequence[FeatureRow],
    level: Level | str | None = None,
    property_map: Mapping[str, str | Sequence[str]] | None = None,
    mode: str = ImportMode.PER_ROW,
    dry_run: bool = False,
    actor=None,
    reason: str = "",
    source: str = "",
    effective_date: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GridMapReport:
    """Import grid map rows into `scheme`; returns the report of every row (see the module docstring).

    `level` applies to rows that name none; `property_map` maps a field (name, code, level,
    parent_code, node_type, management_class, attributes) to the property name(s) holding it, tried
    before the defaults. Arguments that make the whole import impossible (unknown mode or level)
    raise ValidationError naming the argument; problems of single rows go into the report. `progress`,
    when given, is called now and then with (rows done, rows in all)."""
    if mode not in {m.value for m in ImportMode}:
        raise ValidationError({"mode": _("mode must be one of %(modes)s") % {"modes": ", ".join(ImportMode)}})
    file_level = services.level_resolve(scheme=scheme, value=level) if level else None
    aliases = _aliases(property_map)
    report = GridMapReport(scheme=scheme.key, source=source, mode=ImportMode(mode), dry_run=dry_run)
    levels = {lv.pk: lv for lv in scheme.levels.all()}
    work = [_prepare(row, scheme=scheme, file_level=file_level, aliases=aliases, levels=levels, report=report)
            for row in rows]
    report.rows = [w.result for w in work]
    _reject_duplicate_codes(work)
    keep = False
    try:
        with transaction.atomic():
            importer = _Importer(scheme=scheme, report=report, actor=actor, effective_date=effective_date,
                                 reason=reason or _("grid map import %(source)s") % {"source": source or ""},
                                 progress=progress)
            importer.run(work)
            _check_sibling_groups(report, scheme=scheme, groups=importer.touched_groups(work),
                                  rows_by_node={w.result.node_id: w.result for w in work
                                                if w.result.node_id and not w.rejected})
            keep = not dry_run and not (mode == ImportMode.ALL_OR_NOTHING and report.has_rejections)
            counts = report.counts
            if keep and (counts[RowStatus.IMPORTED] or counts[RowStatus.UPDATED]):
                audit_record(actor=actor, action="territory.gridmap_import", target=scheme,
                             summary=(reason or source)[:300], changes={"source": source, "counts": counts})
            if not keep:
                raise _Rollback
    except _Rollback:
        pass
    report.committed = keep
    for r in report.rows:
        r.written = keep and r.status in (RowStatus.IMPORTED, RowStatus.UPDATED)
        if not keep and r.status == RowStatus.IMPORTED:
            r.node_id = None  # the row was rolled back
    return report


def _aliases(property_map: Mapping[str, str | Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
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


def _prepare(row: FeatureRow, *, scheme: LevelScheme, file_level: Level | None, aliases, levels,
             report: GridMapReport) -> _Work:
    """Read the row's fields and polygon; no writes. Problems reject the row."""
    props = row.properties or {}
    picked = {f: _pick(props, names) for f, names in aliases.items()}
    work = _Work(result=RowResult(row=row.row))
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
        geom, problem = _parse_row_geometry(row.geometry)
        if problem is not None:
            report.invalid_polygons.append({"row": row.row, "code": res.code, "name": res.name, **problem})
            res.reject("geometry", problem["message"])
        work.geom = geom
    return work


def _parse_row_geometry(value) -> tuple[Any, dict[str, Any] | None]:
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


def _reject_duplicate_codes(work: list[_Work]) -> None:
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


class _Importer:
    """Writes the prepared rows level by level (top first), each row in its own savepoint."""

    def __init__(self, *, scheme: LevelScheme, report: GridMapReport, actor, reason: str,
                 effective_date: dt.date | None, progress: Callable[[int, int], None] | None = None):
        self.scheme = scheme
        self.report = report
        self.actor = actor
        self.reason = reason
        self.effective_date = effective_date
        self.levels_by_depth = {lv.depth: lv for lv in scheme.levels.all()}
        self.parent_indexes: dict[int, _ParentIndex] = {}
        self.rejected_codes: dict[str, int] = {}
        self.progress = progress
        self._writes = 0

    def _tick(self, work: list[_Work], *, force: bool = False) -> None:
        """Report progress every 2 % of the rows (a row is done once it has a status)."""
        if self.progress is None:
            return
        self._writes += 1
        if force or self._writes % max(1, len(work) // 50) == 0:
            self.progress(sum(1 for w in work if w.result.status is not None), len(work))

    def run(self, work: list[_Work]) -> None:
        for w in work:
            self._note_rejected(w)
        self._tick(work, force=True)
        depths = sorted({w.level.depth for w in work if not w.rejected and w.level is not None})
        for depth in depths:
            batch = [w for w in work if not w.rejected and w.level is not None and w.level.depth == depth]
            for w in batch:
                self._resolve(w)
                self._note_rejected(w)
            ready = [w for w in batch if not w.rejected]
            # explicit codes first, so codes handed out in reading order never take one the file asks for
            auto = [w for w in ready if w.node is None and not w.result.code and w.level.code_digits]
            auto_ids = {id(w) for w in auto}
            for w in ready:
                if id(w) not in auto_ids:
                    self._write(w)
                    self._tick(work)
            for group in _by_parent(auto):
                for w in _in_reading_order(group):
                    self._write(w)
                    self._tick(work)
        self._tick(work, force=True)

    def _note_rejected(self, w: _Work) -> None:
        if w.rejected and w.result.code:
            self.rejected_codes.setdefault(w.result.code, w.result.row)

    def _active(self, code: str) -> Node | None:
        return (Node.objects.current().filter(scheme=self.scheme, code=code)
                .select_related("level", "parent").first())

    def _missing(self, code: str) -> str:
        row = self.rejected_codes.get(code)
        if row is not None:
            return _("%(code)s (row %(row)d) was rejected") % {"code": code, "row": row}
        return _("no active node has code %(code)s in scheme %(scheme)s") % {"code": code, "scheme": self.scheme.key}

    def _resolve(self, w: _Work) -> None:
        """Find the existing node (same code) or the parent of a new one. Rejects the row if impossible."""
        res, level = w.result, w.level
        if res.code:
            existing = Node.objects.filter(scheme=self.scheme, code=res.code).select_related("level", "parent").first()
            if existing is not None:
                if not existing.is_active:
                    res.reject("code", _("code %(code)s belongs to %(node)s, retired on %(d)s; codes are never "
                                         "reused") % {"code": res.code, "node": existing.name, "d": existing.valid_to})
                elif existing.level_id != level.pk:
                    res.reject("level", _("%(code)s is a %(old)s in the tree, the file says %(new)s; an import does "
                                          "not change levels") % {"code": res.code, "old": existing.level.name_zh,
                                                                  "new": level.name_zh})
                elif res.parent_code and (existing.parent is None or existing.parent.code != res.parent_code):
                    res.reject("parent_code", _("%(code)s is under %(p)s, the file says %(new)s; an import does not "
                                                "move nodes (use a move)")
                               % {"code": res.code, "p": existing.parent.code if existing.parent else "-",
                                  "new": res.parent_code})
                else:
                    w.node, w.parent = existing, existing.parent
                    res.node_id = existing.pk
                    res.parent_code = existing.parent.code if existing.parent else ""
                return
        parent = None
        if res.parent_code:
            parent = self._active(res.parent_code)
            if parent is None:
                res.reject("parent_code", self._missing(res.parent_code))
                return
        elif res.code and (implied := self._parent_code_from_code(res.code, level)):
            parent = self._active(implied)
            if parent is None:
                res.reject("code", _("code %(code)s extends %(p)s, but %(why)s")
                           % {"code": res.code, "p": implied, "why": self._missing(implied)})
                return
        elif level.depth > 0 and w.geom is not None:
            parent = self._containing(w)
            if parent is None:
                return
        elif level.depth > 0 and not level.admin_rank:
            res.reject("parent_code", _("cannot tell the parent: give %(p)s, a code extending the parent's code, or "
                                        "a polygon inside the parent") % {"p": "parent_code / 上级编码"})
            return
        w.parent = parent
        res.parent_code = parent.code if parent else ""
        if not res.code and res.name:
            self._match_by_name(w)

    def _match_by_name(self, w: _Work) -> None:
        """A row without a code is the sibling of the same level and name, if there is one, so that
        importing the same file twice does not create every cell twice."""
        res = w.result
        same = list(Node.objects.current().filter(scheme=self.scheme, level=w.level, parent=w.parent, name=res.name)
                    .select_related("level", "parent").order_by("pk")[:2])
        if len(same) > 1:
            res.reject("code", _("%(n)s already has several %(level)s cells named %(name)s; give the code of the one "
                                 "this row is") % {"n": w.parent.name if w.parent else self.scheme.key,
                                                   "level": w.level.name_zh, "name": res.name})
        elif same:
            w.node = same[0]
            res.code, res.node_id = w.node.code, w.node.pk

    def _parent_code_from_code(self, code: str, level: Level) -> str | None:
        if level.code_digits:
            if code.isdigit() and len(code) > level.code_digits:
                return code[: -level.code_digits]
            return None
        above = self.levels_by_depth.get(level.depth - 1)
        if level.admin_rank and above is not None and above.admin_rank and code.isdigit() \
                and len(code) == NATIONAL_CODE_LENGTH:
            return code[: ADMIN_SIGNIFICANT_DIGITS[above.admin_rank]].ljust(NATIONAL_CODE_LENGTH, "0")
        return None

    def _containing(self, w: _Work) -> Node | None:
        above = self.levels_by_depth.get(w.level.depth - 1)
        if above is None:
            return None
        index = self.parent_indexes.get(above.depth)
        if index is None:
            nodes = list(Node.objects.current().filter(scheme=self.scheme, level=above, geometry__isnull=False)
                         .select_related("level", "parent").order_by("pk"))
            index = self.parent_indexes[above.depth] = _ParentIndex(nodes)
        parent = index.best(w.geom)
        if parent is None:
            w.result.reject("parent_code", _("no active %(level)s polygon overlaps this polygon, so its parent is "
                                             "unknown; give parent_code / 上级编码") % {"level": above.name_zh})
        return parent

    def _write(self, w: _Work) -> None:
        res = w.result
        if w.geom is not None and w.parent is not None and w.parent.geometry:
            try:
                parent_geom = geo.parse_geometry(w.parent.geometry)
            except geo.GeometryError:
                parent_geom = None
            outside = geo.outside_area_m2(w.geom, parent_geom) if parent_geom is not None else 0.0
            if outside > services.area_tolerance_m2(w.geom):
                self.report.outside_parent.append({
                    "row": res.row, "code": res.code, "name": res.name, "parent_code": w.parent.code,
                    "parent_name": w.parent.name, "area_m2": round(outside, 1),
                })
                res.reject("geometry", _("%(area).0f m² of the polygon lies outside its parent %(code)s %(name)s")
                           % {"area": outside, "code": w.parent.code, "name": w.parent.name})
                self._note_rejected(w)
                return
        try:
            with transaction.atomic():
                if w.node is not None:
                    self._update(w)
                else:
                    self._create(w)
        except ValidationError as exc:
            res.reject_with(exc)
            res.node_id = None if w.node is None else res.node_id
        except IntegrityError as exc:
            res.reject("code", _("conflicts with a row written at the same time: %(error)s") % {"error": exc})
        self._note_rejected(w)

    def _create(self, w: _Work) -> None:
        res = w.result
        node = services.node_create(
            level=w.level, parent=w.parent, name=res.name, code=res.code, auto_code=not res.code,
            geometry=mapping(w.geom) if w.geom is not None else None,
            node_type=w.node_type or None, management_class=w.management_class or None,
            attributes=w.attributes, valid_from=self.effective_date, actor=self.actor, reason=self.reason,
        )
        res.status, res.code, res.node_id = RowStatus.IMPORTED, node.code, node.pk

    def _update(self, w: _Work) -> None:
        node, res = w.node, w.result
        changes: dict[str, Any] = {}
        if res.name and res.name != node.name:
            changes["name"] = res.name
        if w.geom is not None and not _same_geometry(w.geom, node.geometry):
            changes["geometry"] = mapping(w.geom)
        for field_name, vocabulary in (("node_type", "NODE_TYPE"), ("management_class", "MANAGEMENT_CLASS")):
            value = getattr(w, field_name)
            if value:
                term = services.term_resolve(scheme=self.scheme, vocabulary=vocabulary, value=value, field=field_name)
                if term.pk != getattr(node, f"{field_name}_id"):
                    changes[field_name] = term
        merged = {**node.attributes, **w.attributes}
        if merged != node.attributes:
            changes["attributes"] = merged
        if not res.name:
            res.name = node.name
        if not changes:
            res.status = RowStatus.UNCHANGED
            return
        services.node_update(node, actor=self.actor, reason=self.reason, effective_date=self.effective_date,
                             **changes)
        res.status, res.changed = RowStatus.UPDATED, sorted(changes)

    def touched_groups(self, work: list[_Work]) -> set[tuple[int, int]]:
        return {(w.parent.pk, w.level.pk) for w in work if not w.rejected and w.parent is not None}


def _by_parent(items: list[_Work]) -> list[list[_Work]]:
    groups: dict[int | None, list[_Work]] = {}
    for w in items:
        groups.setdefault(w.parent.pk if w.parent else None, []).append(w)
    return list(groups.values())


def _in_reading_order(items: list[_Work]) -> list[_Work]:
    with_polygon = [w for w in items if w.geom is not None]
    points = []
    for w in with_polygon:
        m = geo.measure(w.geom)
        points.append((m.centroid_lon, m.centroid_lat))
    ordered = [with_polygon[i] for i in geo.reading_order(points)]
    return ordered + [w for w in items if w.geom is None]


def _same_geometry(geom, stored) -> bool:
    if not stored:
        return False
    if geo.to_geojson(geom) == stored:
        return True
    try:
        old = geo.parse_geometry(stored)
    except geo.GeometryError:
        return False
    return bool(shapely.equals_exact(shapely.normalize(geom), shapely.normalize(old),
                                     tolerance=10 ** -geo.COORD_DECIMALS))


class _ParentIndex:
    """Candidate parents of one level in an STRtree; the best holds most of a polygon."""

    def __init__(self, nodes: list[Node]):
        self.nodes, geoms = [], []
        for node in nodes:
            try:
                geoms.append(geo.parse_geometry(node.geometry))
            except geo.GeometryError:
                continue
            self.nodes.append(node)
        self.geoms = geoms
        self.tree = shapely.STRtree(geoms)

    def best(self, geom) -> Node | None:
        best: tuple[float, int] | None = None
        for i in self.tree.query(geom, predicate="intersects"):
            area = geo.overlap_area_m2(geom, self.geoms[i])
            if area > 0 and (best is None or area > best[0]):
                best = (area, int(i))
        return self.nodes[best[1]] if best else None


# =========================================================================== checks of stored polygons
def _check_sibling_groups(report: GridMapReport, *, scheme: LevelScheme, groups: Iterable[tuple[int, int]],
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
            _geom, problem = _parse_row_geometry(node.geometry)
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
    _check_sibling_groups(report, scheme=scheme, groups=groups)
    return report


# =========================================================================== export
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


# =========================================================================== rendering
def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ") or "–"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _render_markdown(report: GridMapReport) -> str:
    lines: list[str] = []
    if report.kind == "validate":
        lines += [_("# Grid map check — scheme %(scheme)s") % {"scheme": report.scheme}, ""]
        if report.is_clean:
            lines += [_("No problems found."), ""]
    else:
        counts = report.counts
        lines += [_("# Grid map import — %(source)s → scheme %(scheme)s")
                  % {"source": report.source or _("(upload)"), "scheme": report.scheme}, ""]
        mode = _("all or nothing") if report.mode == ImportMode.ALL_OR_NOTHING else _("per row")
        if report.committed:
            outcome = _("written")
        elif report.dry_run:
            outcome = _("nothing written (dry run)")
        elif report.has_rejections:
            outcome = _("nothing written: %(n)d rows rejected and the mode is all or nothing") % {
                "n": counts[RowStatus.REJECTED]}
        else:
            outcome = _("nothing written")
        lines += [
            _("- Mode: %(mode)s%(dry)s") % {"mode": mode, "dry": _(", dry run") if report.dry_run else ""},
            _("- Result: %(outcome)s") % {"outcome": outcome},
            _("- Rows: %(total)d — imported %(imported)d, updated %(updated)d, unchanged %(unchanged)d, "
              "rejected %(rejected)d") % {"total": len(report.rows), **counts},
            "",
        ]
        rejected = [r for r in report.rows if r.status == RowStatus.REJECTED]
        if rejected:
            lines += [_("## Rejected rows"), ""]
            lines += _table([_("Row"), _("Code"), _("Name"), _("Field"), _("Reason")],
                            [[r.row, r.code, r.name, f, m] for r in rejected for f, ms in r.errors.items() for m in ms])
        lines += [_("## Rows"), ""]
        lines += _table([_("Row"), _("Status"), _("Level"), _("Code"), _("Name"), _("Parent"), _("Notes")],
                        [[r.row, r.status, r.level, r.code, r.name, r.parent_code,
                          "; ".join([*([_("changed: %(f)s") % {"f": ", ".join(r.changed)}] if r.changed else []),
                                     *r.warnings])] for r in report.rows])
    if report.invalid_polygons:
        lines += [_("## Invalid polygons"), ""]
        lines += _table([_("Row"), _("Code"), _("Problem"), _("Place (lon, lat)")],
                        [[p.get("row"), p.get("code"), p.get("reason"),
                          ", ".join(f"{c:.7f}" for c in p["location"]) if p.get("location") else None]
                         for p in report.invalid_polygons])
    if report.outside_parent:
        lines += [_("## Sticking out of the parent"), ""]
        lines += _table([_("Row"), _("Code"), _("Name"), _("Parent"), _("Area outside (m²)")],
                        [[p.get("row"), p["code"], p["name"], f"{p['parent_code']} {p['parent_name']}",
                          f"{p['area_m2']:.1f}"] for p in report.outside_parent])
    if report.overlaps:
        lines += [_("## Overlaps between siblings (warnings)"), ""]
        lines += _table([_("Parent"), _("Cell"), _("Cell"), _("Rows"), _("Overlap (m²)")],
                        [[o["parent_code"], f"{o['a']['code']} {o['a']['name']}", f"{o['b']['code']} {o['b']['name']}",
                          ", ".join(str(r) for r in o["rows"]), f"{o['area_m2']:.1f}"] for o in report.overlaps])
    if report.gaps:
        lines += [_("## Gaps inside a parent (warnings)"), ""]
        lines += _table([_("Parent"), _("Level"), _("Gap (m²)"), _("Bounding box (lon/lat)")],
                        [[f"{g['parent_code']} {g['parent_name']}", g["level"], f"{g['area_m2']:.1f}",
                          ", ".join(f"{c:.6f}" for c in g["bbox"])] for g in report.gaps])
    return "\n".join(lines).rstrip() + "\n"

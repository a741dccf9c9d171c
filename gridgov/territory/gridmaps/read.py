"""Reading a grid map file into rows: GeoJSON, or a Shapefile (alone or in a .zip), held to the upload limits.

A GeoJSON FeatureCollection (.geojson / .json), or a Shapefile (.shp with its .dbf, .shx, .prj, .cpg
beside it, or all of them in a .zip) read with pyshp, pure Python. Coordinates must be longitude/latitude
on WGS-84 or CGCS2000: a .prj (or a GeoJSON `crs`) naming a projected or other CRS is refused with its
name, never imported as garbage. Shapefile attribute text is decoded with the .cpg's encoding, else UTF-8,
else GB18030 (a superset of GBK, which Chinese GIS software writes by default). The file is held to the
grid-map upload limits (`core.uploads`) and GRIDMAP_MAX_FEATURES."""

from __future__ import annotations

import codecs
import datetime as dt
import decimal
import io
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import shapefile
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridgov.core import uploads

SHAPEFILE_PARTS = ("shp", "shx", "dbf", "prj", "cpg")
SMALL_PART_BYTES = 64 * 1024
UPLOAD_KIND = "gridmap"
POLYGON_SHAPE_TYPES = (shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM)
GEOGRAPHIC_DATUMS = ("WGS_1984", "WGS_84", "WGS84", "CGCS2000", "CGCS_2000", "CHINA_2000",
                     "CHINA_GEODETIC_COORDINATE_SYSTEM_2000")
GEOJSON_CRS_OK = re.compile(r"(EPSG:+(4326|4490)|CRS:?84)$", re.IGNORECASE)


class GridMapError(ValueError):
    """A file that cannot be read as a grid map at all; the message says why (field `file`)."""

    field = "file"

    def as_validation_error(self) -> ValidationError:
        return ValidationError({self.field: str(self)})



@dataclass(frozen=True)
class FeatureRow:
    """One feature of the file: `row` is its 1-based position, `geometry` a GeoJSON geometry or None."""

    row: int
    properties: dict[str, Any]
    geometry: dict[str, Any] | None



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

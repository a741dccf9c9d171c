"""Reading what users send without letting a file or a body exhaust the server: the one module every
upload and every JSON body goes through.

Limits are settings, per kind of upload (`gridmap`, `people`, `catalogue`; see the end of
config/settings/base.py):

- `UPLOAD_MAX_BYTES[kind]`: the size of the file as uploaded.
- Archives (a zipped Shapefile; an XLSX workbook is a zip too) are checked from their central directory
  before anything is decompressed: at most `UPLOAD_ZIP_MAX_MEMBERS` members, none encrypted, each member at
  most `UPLOAD_MEMBER_MAX_BYTES[kind]` and all together at most `UPLOAD_UNCOMPRESSED_MAX_BYTES[kind]`
  uncompressed, and no member (nor the whole) inflating more than `UPLOAD_ZIP_MAX_RATIO` times (members
  under `UPLOAD_ZIP_RATIO_FLOOR_BYTES` excepted: tiny files compress oddly). Reading a member then yields
  at most the size its directory entry declares (zipfile stops there, and a member that lied fails its
  CRC), in blocks, so a lie cannot inflate past the cap either. `verify` reads every member once, in
  blocks, so a damaged archive (bad CRC, truncated data) is refused at upload rather than half-way
  through an import.
- Text files (CSV): the encoding is detected, never guessed into mojibake: a byte-order mark
  (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), else UTF-8 if the whole file decodes, else GB18030 if the whole
  file decodes and holds no NUL byte (UTF-16 without a mark is full of them); anything else is refused
  with a message naming the file.
- JSON (request bodies, GeoJSON files): nested at most `JSON_MAX_DEPTH` levels; deeper is refused as
  bad input (a 400), never a RecursionError (a 500). `JsonDepthMiddleware` applies this to every request
  body sent as JSON, whichever view or parser reads it later.

Every refusal is an `UploadError` whose message names the file and the reason, raised before the data
beyond the limit is read or inflated."""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _

KINDS = ("gridmap", "people", "catalogue")
BLOCK = 1 << 16
TEXT_SAMPLE = 1 << 16
SPOOL_IN_MEMORY = 8 << 20  # archive members larger than this are spooled to a temporary file


class UploadError(ValueError):
    """A file or body refused before it could use up memory or time; the message names it and why."""

    field = "file"

    def as_validation_error(self) -> ValidationError:
        return ValidationError({self.field: str(self)})


@dataclass(frozen=True)
class UploadLimits:
    kind: str
    max_bytes: int
    member_bytes: int
    total_bytes: int
    members: int
    ratio: float
    ratio_floor: int


def upload_limits(kind: str) -> UploadLimits:
    """The limits of one kind of upload, as configured."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of upload {kind!r}")
    return UploadLimits(
        kind=kind,
        max_bytes=int(settings.UPLOAD_MAX_BYTES[kind]),
        member_bytes=int(settings.UPLOAD_MEMBER_MAX_BYTES[kind]),
        total_bytes=int(settings.UPLOAD_UNCOMPRESSED_MAX_BYTES[kind]),
        members=int(settings.UPLOAD_ZIP_MAX_MEMBERS),
        ratio=float(settings.UPLOAD_ZIP_MAX_RATIO),
        ratio_floor=int(settings.UPLOAD_ZIP_RATIO_FLOOR_BYTES),
    )


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f}"


def _label(name: str | os.PathLike | None) -> str:
    return Path(str(name or "")).name or _("the file")


# =========================================================================== sizes
def size_check(*, kind: str, size: int | None, name: str | os.PathLike | None) -> None:
    """Refuse a file larger than the kind's upload limit (its size as received)."""
    limits = upload_limits(kind)
    if size is not None and size > limits.max_bytes:
        raise UploadError(_("%(name)s is %(size)s MB; files of this kind may be at most %(max)s MB")
                          % {"name": _label(name), "size": _mb(size), "max": _mb(limits.max_bytes)})


def _seekable(source: Any) -> bool:
    if not hasattr(source, "seek"):
        return False
    try:
        return bool(source.seekable()) if hasattr(source, "seekable") else True
    except (OSError, ValueError):
        return False


def source_size(source: Any) -> int | None:
    """The size of a path, bytes or an (uploaded) file object without reading it, when it can be told."""
    if isinstance(source, bytes | bytearray | memoryview):
        return len(source)
    if isinstance(source, str | os.PathLike):
        try:
            return os.stat(source).st_size
        except OSError:
            return None
    size = getattr(source, "size", None)
    if isinstance(size, int):
        return size
    if _seekable(source) and hasattr(source, "tell"):
        try:
            here = source.tell()
            end = source.seek(0, io.SEEK_END)
            source.seek(here)
            return end
        except (OSError, ValueError):
            return None
    return None


def read_capped(source: Any, *, kind: str, name: str | os.PathLike | None = None) -> bytes:
    """The whole of a small file (a path, bytes or a file object), refused if larger than the kind's limit;
    never reads more than the limit and one byte."""
    limits = upload_limits(kind)
    name = name or (source if isinstance(source, str | os.PathLike) else getattr(source, "name", None))
    size_check(kind=kind, size=source_size(source), name=name)
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    else:
        if _seekable(source):
            source.seek(0)
        data = source.read(limits.max_bytes + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    if len(data) > limits.max_bytes:
        size_check(kind=kind, size=len(data), name=name)
    return bytes(data)


def copy_capped(source: Any, target: IO[bytes], *, kind: str, name: str | os.PathLike | None = None) -> int:
    """Copy an uploaded file to `target` in blocks, refusing it (UploadError) once it passes the kind's
    limit; returns the bytes written."""
    limits = upload_limits(kind)
    size_check(kind=kind, size=source_size(source), name=name)
    written = 0
    blocks = source.chunks() if hasattr(source, "chunks") else iter(lambda: source.read(BLOCK), b"")
    for block in blocks:
        written += len(block)
        if written > limits.max_bytes:
            size_check(kind=kind, size=written, name=name)
        target.write(block)
    return written


# =========================================================================== archives
class ArchiveDamaged(UploadError):
    """An archive that cannot be opened (`member` None) or one of whose members cannot be read."""

    def __init__(self, message: str, *, member: str | None = None):
        super().__init__(message)
        self.member = member


def _damaged(name: str, member: str | None = None) -> UploadError:
    if member:
        return ArchiveDamaged(_("%(name)s is damaged: %(member)s cannot be read (bad checksum or truncated data); "
                             "create the archive again") % {"name": name, "member": member}, member=member)
    return ArchiveDamaged(_("%(name)s is not a readable zip archive (damaged or of another format)") % {"name": name})


def _entry_count(fp: IO[bytes]) -> int | None:
    """The number of entries the end of the archive announces, read before the central directory is."""
    try:
        record = zipfile._EndRecData(fp)  # the stdlib's own reader of the end record (zip64 included)
    except (OSError, AttributeError, ValueError, EOFError):
        return None
    if not record:
        return None
    return int(record[zipfile._ECD_ENTRIES_TOTAL])


class SafeZip:
    """A zip archive whose directory passed the limits; members are read in blocks, within them."""

    def __init__(self, archive: zipfile.ZipFile, *, name: str, limits: UploadLimits):
        self.archive = archive
        self.name = name
        self.limits = limits
        self.members = [m for m in archive.infolist() if not m.is_dir()]

    def open(self, info: zipfile.ZipInfo) -> IO[bytes]:
        """A stream of the member: it yields at most the declared (checked) size."""
        try:
            return _GuardedStream(self.archive.open(info), zip_name=self.name, member=info.filename)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise _damaged(self.name, info.filename) from exc

    def spool(self, info: zipfile.ZipInfo) -> IO[bytes]:
        """The member copied in blocks to a seekable file (in memory while small, else a temporary file)."""
        target = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (the caller's to close)
        with self.open(info) as stream:
            shutil.copyfileobj(stream, target, BLOCK)
        target.seek(0)
        return target

    def verify(self) -> None:
        """Read every member once, in blocks: a bad checksum or truncated data is refused now."""
        for info in self.members:
            with self.open(info) as stream:
                while stream.read(BLOCK):
                    pass


class _GuardedStream(io.RawIOBase):
    """A member's stream whose read errors (CRC, inflate, truncation) become UploadError."""

    def __init__(self, raw: IO[bytes], *, zip_name: str, member: str):
        self.raw, self.zip_name, self.member = raw, zip_name, member

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = BLOCK  # never the whole member at once
        try:
            return self.raw.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise _damaged(self.zip_name, self.member) from exc

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()
        super().close()


def _zip_source(source: Any) -> tuple[IO[bytes], bool]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, str | os.PathLike):
        return open(source, "rb"), True  # closed by zip_open
    if _seekable(source):
        source.seek(0)
    return source, False


def zip_check(archive: zipfile.ZipFile, *, name: str, limits: UploadLimits, archive_size: int | None) -> None:
    """Refuse an archive whose directory breaks the limits (nothing has been inflated yet)."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > limits.members:
        raise UploadError(_("%(name)s holds %(n)d files; an archive may hold at most %(max)d")
                          % {"name": name, "n": len(members), "max": limits.members})
    total = 0
    for m in members:
        if m.flag_bits & 0x1:
            raise UploadError(_("%(name)s: %(member)s is encrypted; upload an archive without a password")
                              % {"name": name, "member": m.filename})
        if m.file_size > limits.member_bytes:
            raise UploadError(_("%(name)s: %(member)s inflates to %(size)s MB; a file inside an archive may be at "
                                "most %(max)s MB") % {"name": name, "member": m.filename, "size": _mb(m.file_size),
                                                      "max": _mb(limits.member_bytes)})
        if m.file_size > limits.ratio_floor and m.file_size > limits.ratio * max(m.compress_size, 1):
            raise UploadError(_("%(name)s: %(member)s is compressed %(ratio).0f times (at most %(max).0f): refused as "
                                "a possible zip bomb") % {"name": name, "member": m.filename,
                                                          "ratio": m.file_size / max(m.compress_size, 1),
                                                          "max": limits.ratio})
        total += m.file_size
    if total > limits.total_bytes:
        raise UploadError(_("%(name)s inflates to %(size)s MB in all; at most %(max)s MB are accepted")
                          % {"name": name, "size": _mb(total), "max": _mb(limits.total_bytes)})
    if archive_size and total > limits.ratio_floor and total > limits.ratio * archive_size:
        raise UploadError(_("%(name)s is compressed %(ratio).0f times in all (at most %(max).0f): refused as a "
                            "possible zip bomb") % {"name": name, "ratio": total / archive_size, "max": limits.ratio})


@contextlib.contextmanager
def zip_open(source: Any, *, kind: str, name: str | os.PathLike | None = None,
             verify: bool = False) -> Iterator[SafeZip]:
    """Open an uploaded archive (a path, bytes or a file object) within the kind's limits; `verify` also
    reads every member once (checksums). Raises UploadError naming the file and the reason."""
    limits = upload_limits(kind)
    name = _label(name or (source if isinstance(source, str | os.PathLike) else getattr(source, "name", None)))
    size = source_size(source)
    size_check(kind=kind, size=size, name=name)
    fp, owned = _zip_source(source)
    try:
        count = _entry_count(fp)
        if count is not None and count > limits.members:
            raise UploadError(_("%(name)s holds %(n)d files; an archive may hold at most %(max)d")
                              % {"name": name, "n": count, "max": limits.members})
        if hasattr(fp, "seek"):
            fp.seek(0)
        try:
            archive = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise _damaged(name) from exc
        with archive:
            zip_check(archive, name=name, limits=limits, archive_size=size)
            safe = SafeZip(archive, name=name, limits=limits)
            if verify:
                safe.verify()
            yield safe
    finally:
        if owned:
            fp.close()


def xlsx_check(source: Any, *, kind: str, name: str | os.PathLike | None = None, verify: bool = True) -> dict[str, int]:
    """Check a workbook (a zip of XML parts) before a spreadsheet library opens it: the archive limits,
    and (`verify`) every part's checksum. Returns the uncompressed size of each worksheet part."""
    try:
        with zip_open(source, kind=kind, name=name, verify=verify) as archive:
            return {m.filename: m.file_size for m in archive.members
                    if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml")}
    except ArchiveDamaged as exc:
        if exc.member is not None:
            raise
        label = _label(name or (source if isinstance(source, str | os.PathLike) else getattr(source, "name", None)))
        raise ArchiveDamaged(_("%(name)s is not a readable XLSX workbook (damaged, or saved in another format: "
                               "save it as Excel Workbook .xlsx)") % {"name": label}) from None


# =========================================================================== text
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _has_nul(path: Path) -> bool:
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            if b"\x00" in block:
                return True
    return False


def text_encoding(path: str | os.PathLike, *, name: str | os.PathLike | None = None) -> str:
    """The encoding of a text (CSV) file: its byte-order mark, else UTF-8, else GB18030 (what Excel writes
    on a Chinese Windows), each only if the whole file decodes; UploadError names the file otherwise."""
    path = Path(path)
    label = _label(name or path)
    with path.open("rb") as f:
        head = f.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            if not _decodes(path, encoding):
                raise UploadError(_("%(name)s starts with a %(enc)s byte-order mark but is not %(enc)s text")
                                  % {"name": label, "enc": encoding.upper().replace("-SIG", "")})
            return encoding
    if _has_nul(path):
        raise UploadError(_("%(name)s looks like UTF-16 text without a byte-order mark; save it as “CSV UTF-8” "
                            "and upload it again") % {"name": label})
    if _decodes(path, "utf-8"):
        return "utf-8"
    if _decodes(path, "gb18030"):
        return "gb18030"
    raise UploadError(_("%(name)s is neither UTF-8 nor GB18030 (GBK) text; save it as “CSV UTF-8” and upload "
                        "it again") % {"name": label})


# =========================================================================== JSON
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN_TO_SQUARE = bytes.maketrans(b"{}", b"[]")


class JSONTooDeep(UploadError):
    field = "non_field_errors"


def json_max_depth() -> int:
    return int(settings.JSON_MAX_DEPTH)


def json_depth(text: str | bytes) -> int:
    """How deeply a *valid* JSON text nests arrays and objects (strings do not count), computed without
    recursion. The text must have parsed already: then every string is closed and the scan is linear."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    brackets = _JSON_STRING.sub(b'""', data).translate(_OPEN_TO_SQUARE, _NOT_BRACKETS)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets, dtype=np.uint8)
    return int(np.cumsum(np.where(steps == ord("["), 1, -1), dtype=np.int64).max())


def json_loads(text: str | bytes, *, max_depth: int | None = None, name: str = "", **kwargs) -> Any:
    """`json.loads`, but a text nested deeper than `max_depth` (default JSON_MAX_DEPTH) raises JSONTooDeep
    (a ValueError naming the limit) instead of recursing; other errors are json.JSONDecodeError."""
    limit = json_max_depth() if max_depth is None else max_depth
    what = name or _("the JSON")
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep(_("%(what)s is nested too deeply (at most %(max)d levels)")
                          % {"what": what, "max": limit}) from None
    if isinstance(value, dict | list) and json_depth(text) > limit:
        raise JSONTooDeep(_("%(what)s is nested too deeply (at most %(max)d levels)") % {"what": what, "max": limit})
    return value


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class JsonDepthMiddleware:
    """Every request body sent as JSON is refused with a 400 when nested deeper than JSON_MAX_DEPTH, before
    any view, parser or serializer recurses into it (the API, Open311, the token endpoint alike)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and _is_json(request.META.get("CONTENT_TYPE", "")):
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def _refusal(request):
        try:
            body = request.body  # capped by DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig is Django's 400)
        except Exception:  # too big: Django answers that itself once the view reads the body
            return None
        if not body:
            return None
        try:
            json_loads(body, name=_("the request body"))
        except JSONTooDeep as exc:
            return JsonResponse({"detail": str(exc)}, status=400)
        except (ValueError, UnicodeDecodeError):
            return None  # not valid JSON: the view's parser says so in its own words
        return None

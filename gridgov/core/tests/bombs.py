"""Hostile files for the upload tests, generated on the fly: zip bombs (honest or lying about their size),
archives of many members, damaged archives, workbooks whose sheet XML inflates hugely."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import openpyxl

MB = 1 << 20


def zip_bomb(*, member: str = "bomb.txt", inflated: int = 300 * MB, extra: dict[str, bytes] | None = None) -> bytes:
    """A small zip whose `member` inflates to `inflated` bytes of zeros (written in blocks, never held)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        with archive.open(member, "w", force_zip64=inflated > 0xFFFF0000) as f:
            block = bytes(MB)
            for _ in range(inflated // MB):
                f.write(block)
    return out.getvalue()


def lying_zip_bomb(*, member: str = "bomb.txt", inflated: int = 64 * MB, claimed: int = 1000) -> bytes:
    """A zip bomb whose headers claim `member` inflates to only `claimed` bytes (local and central headers
    both rewritten); its data still inflates to `inflated`."""
    data = bytearray(zip_bomb(member=member, inflated=inflated))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo(member)
    # local header: uncompressed size at offset 22; central directory entry: at offset 24
    struct.pack_into("<I", data, info.header_offset + 22, claimed)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, claimed)
    return bytes(data)


def many_members_zip(count: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(count):
            archive.writestr(f"f{i}.txt", b"")
    return out.getvalue()


def bad_crc_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose first member's data is altered after its checksum was written."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    data = bytearray(out.getvalue())
    first = next(iter(members))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(first)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start] ^= 0xFF
    return bytes(data)


def workbook(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_with_huge_sheet(rows: list[list], *, inflated: int = 400 * MB) -> bytes:
    """A real workbook whose first sheet's XML is padded (with whitespace inside the sheet data) until it
    inflates to about `inflated` bytes: a few hundred KB on disk."""
    source = zipfile.ZipFile(io.BytesIO(workbook(rows)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info.filename, body)
                continue
            head, sep, tail = body.partition(b"<sheetData>")
            with target.open(info.filename, "w", force_zip64=True) as f:
                f.write(head + sep)
                block = b" " * MB
                for _ in range(inflated // MB):
                    f.write(block)
                f.write(tail)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path

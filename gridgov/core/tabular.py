"""Lists out to spreadsheets: the one place that turns rows into XLSX or CSV.

Every list page exports through `tabular_response`, fed by the same filtered queryset the page shows, so a
file holds exactly the rows on screen (all pages of them). Values are made safe for spreadsheets (no
control characters, no text a spreadsheet would run as a formula); headers are Chinese and English."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from django.http import StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMATS = ("xlsx", "csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_FORBIDDEN = str.maketrans({c: "、" for c in "[]:*?/\\"})
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bilingual(label) -> str:
    """A column header in Chinese and English (one of them when both read the same)."""
    with translation.override("zh-hans"):
        zh = capfirst(str(label))
    with translation.override("en"):
        en = capfirst(str(label))
    return en if zh == en else f"{zh} / {en}"


def cell_value(value: Any) -> Any:
    """A value safe for a spreadsheet: no control characters, and no text a spreadsheet would run as a
    formula (CSV injection). Datetimes are written in local time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else \
            value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if value.startswith(_FORMULA_START):
        value = "'" + value
    return value


def sheet_title(title: str) -> str:
    """A worksheet name Excel accepts: none of []:*?/\\ and at most 31 characters (translated names
    such as 居民/实有人口 carry a slash)."""
    return str(title).translate(_SHEET_FORBIDDEN)[:31]


class _Echo:
    def write(self, value):
        return value


def _csv_chunks(headers: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([cell_value(h) for h in headers])
    for row in rows:
        yield writer.writerow([cell_value(v) for v in row])


def tabular_response(*, fmt: str, filename: str, title: str, headers: list[str],
                     rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    """An attachment download of `rows` under `headers` as XLSX (one sheet named `title`) or CSV (UTF-8
    with BOM, so Excel reads the Chinese). `filename` is given without extension."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    name = f"{filename}.{fmt}"
    disposition = f"attachment; filename=\"{quote(name)}\"; filename*=UTF-8''{quote(name)}"
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_chunks(headers, rows), content_type="text/csv; charset=utf-8")
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet(title=sheet_title(title))
        sheet.append([cell_value(h) for h in headers])
        for row in rows:
            sheet.append([cell_value(v) for v in row])
        out = io.BytesIO()
        book.save(out)
        response = StreamingHttpResponse(iter([out.getvalue()]), content_type=XLSX_TYPE)
    response["Content-Disposition"] = disposition
    response["Cache-Control"] = "no-store"
    return response

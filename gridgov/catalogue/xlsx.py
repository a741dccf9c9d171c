"""A matter catalogue as an XLSX workbook, for the people who keep it in a spreadsheet.

Three sheets: categories, matters (every field; Open311 attributes as JSON text) and stages (one row per
stage of a matter, in order). Each sheet opens with a Chinese header row and an English one (the reader
recognises either, the field's key too, and skips the second header row when present). Choices are
written as their codes (ROUTINE, GRID ...; the reader also takes their Chinese or English labels),
flags as TRUE / FALSE.

`catalogue_import_xlsx` reads the same layout into the data of `services.catalogue_load` and loads it,
all or nothing: every cell that cannot be read is reported at once, naming the sheet, the row, the
column and the reason, and nothing is written. Exporting a catalogue and importing the file under
another key gives an identical catalogue; importing it under the same key changes nothing.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from gridgov.catalogue.models import (
    Catalogue,
    Category,
    CategoryKind,
    DutyTier,
    HandlingMode,
    Matter,
    MatterStage,
    ReportLevel,
)
from gridgov.catalogue.services import LoadReport, catalogue_load, matter_clean
from gridgov.core import uploads
from gridgov.workdays.calendar import LimitUnit

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 20_000  # per sheet: far above any real catalogue, far below a workbook meant to hurt
MAX_ERRORS = 100
TRUE_WORDS = {"true", "yes", "y", "1", "是", "真", "√"}
FALSE_WORDS = {"false", "no", "n", "0", "否", "假", "×"}


# =========================================================================== layout
@dataclass(frozen=True)
class Col:
    key: str
    model: type[models.Model]
    field: str
    kind: str = "text"  # text, code2, code5, choice, bool, json, int, decimal
    required: bool = False
    choices: type[models.TextChoices] | None = None
    width: int = 14

    @property
    def label(self):
        return self.model._meta.get_field(self.field).verbose_name


@dataclass(frozen=True)
class Sheet:
    key: str
    model: type[models.Model]
    columns: tuple[Col, ...]

    @property
    def label(self):
        return self.model._meta.verbose_name_plural


CATEGORIES = Sheet("categories", Category, (
    Col("code", Category, "code", "code2", required=True, width=8),
    Col("name_zh", Category, "name_zh", required=True, width=20),
    Col("name_en", Category, "name_en", width=28),
    Col("kind", Category, "kind", "choice", choices=CategoryKind, width=10),
))
MATTERS = Sheet("matters", Matter, (
    Col("code", Matter, "code", "code5", required=True, width=8),
    Col("category", Matter, "category", "code2", width=8),
    Col("name_zh", Matter, "name_zh", required=True, width=22),
    Col("name_en", Matter, "name_en", width=28),
    Col("report_level", Matter, "report_level", "choice", choices=ReportLevel, width=12),
    Col("duty_tier", Matter, "duty_tier", "choice", choices=DutyTier, width=13),
    Col("department", Matter, "department", width=16),
    Col("handling_mode", Matter, "handling_mode", "choice", choices=HandlingMode, width=15),
    Col("registration_condition", Matter, "registration_condition", width=36),
    Col("closing_condition", Matter, "closing_condition", width=36),
    Col("evidence_before", Matter, "evidence_before", "bool", width=10),
    Col("evidence_after", Matter, "evidence_after", "bool", width=10),
    Col("attributes", Matter, "attributes", "json", width=40),
    Col("active", Matter, "active", "bool", width=8),
))
STAGES = Sheet("stages", MatterStage, (
    Col("matter", MatterStage, "matter", "code5", required=True, width=8),
    Col("order", MatterStage, "order", "int", required=True, width=6),
    Col("name_zh", MatterStage, "name_zh", required=True, width=16),
    Col("name_en", MatterStage, "name_en", width=22),
    Col("amount", MatterStage, "amount", "decimal", required=True, width=8),
    Col("unit", MatterStage, "unit", "choice", required=True, choices=LimitUnit, width=14),
    Col("closing_condition", MatterStage, "closing_condition", width=36),
))
SHEETS = (CATEGORIES, MATTERS, STAGES)


def _in(language: str, label) -> str:
    with translation.override(language):
        return capfirst(str(label))


def _title(sheet: Sheet) -> str:
    """The worksheet name: Chinese and English (Excel forbids / and allows 31 characters)."""
    zh, en = _in("zh-hans", sheet.label), _in("en", sheet.label)
    return (zh if zh == en else f"{zh} {en}")[:31]


def _norm(text: Any) -> str:
    return re.sub(r"\s+", "", str(text or "")).lower()


def _names(label, key: str) -> set[str]:
    zh, en = _in("zh-hans", label), _in("en", label)
    return {_norm(key), _norm(zh), _norm(en), _norm(f"{zh}/{en}"), _norm(f"{zh} {en}")}


# =========================================================================== export
def _cell_text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _category_rows(catalogue: Catalogue):
    for c in catalogue.categories.order_by("code"):
        yield [c.code, c.name_zh, c.name_en, c.kind]


def _matter_rows(catalogue: Catalogue):
    for m in catalogue.matters.select_related("category").order_by("code"):
        yield [m.code, m.category.code, m.name_zh, m.name_en, m.report_level, m.duty_tier, m.department,
               m.handling_mode, m.registration_condition, m.closing_condition, m.evidence_before, m.evidence_after,
               json.dumps(m.attributes or [], ensure_ascii=False) if m.attributes else "", m.active]


def _stage_rows(catalogue: Catalogue):
    stages = MatterStage.objects.filter(matter__catalogue=catalogue).select_related("matter")
    for s in stages.order_by("matter__code", "order"):
        yield [s.matter.code, s.order, s.name_zh, s.name_en, s.amount, s.unit, s.closing_condition]


def catalogue_export_xlsx(*, catalogue: Catalogue) -> bytes:
    """The catalogue as an XLSX workbook (categories, matters, stages), re-importable as it is."""
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for sheet, rows in ((CATEGORIES, _category_rows(catalogue)), (MATTERS, _matter_rows(catalogue)),
                        (STAGES, _stage_rows(catalogue))):
        ws = book.create_sheet(_title(sheet))
        ws.append([_in("zh-hans", col.label) for col in sheet.columns])
        ws.append([_in("en", col.label) for col in sheet.columns])
        for row in (1, 2):
            for cell in ws[row]:
                cell.font = bold
        count = 0
        for values in rows:
            count += 1
            ws.append([_cell_text(v) if isinstance(v, str) else v for v in values])
            for cell in ws[ws.max_row]:
                # text a spreadsheet would run as a formula stays text (and reads back as written)
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        ws.freeze_panes = "B3"
        for i, col in enumerate(sheet.columns, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = col.width
            if col.kind in ("choice", "bool") and count:
                options = col.choices.values if col.kind == "choice" else ["TRUE", "FALSE"]
                check = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True)
                check.add(f"{letter}3:{letter}{count + 2}")
                ws.add_data_validation(check)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# =========================================================================== import: reading cells
class _CellError(Exception):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _code(value: Any, digits: int) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        value = f"{int(value):0{digits}d}"  # a code typed as a number loses its leading zeros
    text = _text(value)
    if text and (len(text) != digits or not text.isdigit()):
        raise _CellError(_("a code of %(n)d digits, not %(v)r") % {"n": digits, "v": text})
    return text


def _choice(value: Any, choices: type[models.TextChoices]) -> str:
    text = _text(value)
    if not text:
        return ""
    known = {}
    for member in choices:
        for name in (member.value, _in("zh-hans", member.label), _in("en", member.label)):
            known[_norm(name)] = member.value
    if _norm(text) not in known:
        raise _CellError(_("unknown value %(v)r; one of %(c)s") % {"v": text, "c": ", ".join(choices.values)})
    return known[_norm(text)]


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    word = _norm(value)
    if word in TRUE_WORDS or word == _norm(_("yes")):
        return True
    if word in FALSE_WORDS or word == _norm(_("no")):
        return False
    raise _CellError(_("TRUE or FALSE, not %(v)r") % {"v": value})


def _json(value: Any) -> list:
    text = _text(value)
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _CellError(_("not valid JSON: %(e)s") % {"e": exc}) from None
    if not isinstance(data, list):
        raise _CellError(_("a JSON list of attributes"))
    return data


def _int(value: Any) -> int:
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        raise _CellError(_("a whole number, not %(v)r") % {"v": value}) from None
    if number != number.to_integral_value() or number < 1:
        raise _CellError(_("a whole number from 1, not %(v)r") % {"v": value})
    return int(number)


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        raise _CellError(_("a number, not %(v)r") % {"v": value}) from None
    if not number.is_finite() or number <= 0:
        raise _CellError(_("a positive number, not %(v)r") % {"v": value})
    if number != number.quantize(Decimal("0.01")) or number >= 100_000:
        raise _CellError(_("at most 99999.99 with two decimals, not %(v)r") % {"v": value})
    return number


READERS = {"code2": lambda v: _code(v, 2), "code5": lambda v: _code(v, 5), "bool": _bool, "json": _json,
           "int": _int, "decimal": _decimal}


# =========================================================================== import: reading sheets
@dataclass
class _Row:
    number: int
    values: dict[str, Any]


@dataclass
class _Table:
    sheet: Sheet
    title: str
    headers: dict[str, tuple[int, str]]  # column key → (index, header as written)
    rows: list[_Row]


class _Errors:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, table: _Table | None, row: int | None, column: str | None, reason: str) -> None:
        if table is None:
            self.messages.append(reason)
            return
        sheet = table.title
        if column is not None:
            index, header = table.headers.get(column, (None, column))
            column = f"{get_column_letter(index + 1)} ({header})" if index is not None else header
        if row is not None and column is not None:
            text = _("sheet %(sheet)s, row %(row)d, column %(column)s: %(reason)s")
        elif row is not None:
            text = _("sheet %(sheet)s, row %(row)d: %(reason)s")
        elif column is not None:
            text = _("sheet %(sheet)s, column %(column)s: %(reason)s")
        else:
            text = _("sheet %(sheet)s: %(reason)s")
        self.messages.append(text % {"sheet": sheet, "row": row or 0, "column": column, "reason": reason})

    def raise_any(self) -> None:
        if self.messages:
            extra = len(self.messages) - MAX_ERRORS
            messages = self.messages[:MAX_ERRORS]
            if extra > 0:
                messages.append(_("… and %(n)d more errors") % {"n": extra})
            raise ValidationError({"file": messages})


def _open(file, *, filename: str = "") -> Workbook:
    """The workbook, once its zip passed the catalogue upload limits and every part's checksum
    (`core.uploads`): a workbook that would inflate past them is refused before openpyxl opens it."""
    if isinstance(file, bytes | bytearray):
        file = io.BytesIO(file)
    elif isinstance(file, str | Path):
        file = Path(file)
    name = filename or getattr(file, "name", None) or _("the workbook")
    try:
        uploads.xlsx_check(file, kind="catalogue", name=name)
    except uploads.ArchiveDamaged as exc:
        if exc.member is not None:
            raise exc.as_validation_error() from None
        raise ValidationError({"file": _("%(name)s is not an XLSX workbook (damaged, or saved in another format: "
                                         "save it as Excel Workbook .xlsx)") % {"name": Path(str(name)).name}}) from None
    except uploads.UploadError as exc:
        raise exc.as_validation_error() from None
    if hasattr(file, "seek"):
        file.seek(0)
    try:
        return load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors alike: the file is not a workbook we can read
        raise ValidationError({"file": _("not an XLSX workbook (%(e)s)") % {"e": type(exc).__name__}}) from None


def _find_sheets(book: Workbook, errors: _Errors) -> dict[str, Any]:
    found: dict[str, Any] = {}
    by_name = {_norm(ws.title): ws for ws in book.worksheets}
    for sheet in SHEETS:
        names = _names(sheet.label, sheet.key) | {_norm(_title(sheet))}
        match = next((ws for name, ws in by_name.items() if name in names), None)
        if match is not None:
            found[sheet.key] = match
    if len(found) < len(SHEETS) and not found and len(book.worksheets) >= len(SHEETS):
        # renamed sheets: take them in the exported order
        found = {sheet.key: ws for sheet, ws in zip(SHEETS, book.worksheets, strict=False)}
    for sheet in SHEETS:
        if sheet.key not in found:
            errors.add(None, None, None, _("the workbook has no sheet %(name)s") % {"name": _title(sheet)})
    return found


def _read_table(ws, sheet: Sheet, errors: _Errors) -> _Table | None:
    names = {col.key: _names(col.label, col.key) for col in sheet.columns}
    table = _Table(sheet=sheet, title=ws.title, headers={}, rows=[])
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # read every row and column, not the used range some writers misstate
    rows = ws.iter_rows(values_only=True)
    header_seen = False
    for number, values in enumerate(rows, start=1):
        values = list(values)
        if not any(_text(v) for v in values):
            continue
        if not header_seen:
            header_seen = True
            for index, value in enumerate(values):
                key = next((k for k, n in names.items() if _norm(value) in n), None) if _text(value) else None
                if key is None:
                    continue  # columns of the user's own are left alone
                if key in table.headers:
                    errors.add(table, number, key, _("the column appears twice"))
                    continue
                table.headers[key] = (index, _text(value))
            missing = [col for col in sheet.columns if col.required and col.key not in table.headers]
            for col in missing:
                errors.add(table, None, None, _("the column %(column)s is missing") % {
                    "column": f"{_in('zh-hans', col.label)} / {_in('en', col.label)}"})
            if missing:
                return None
            continue
        cells = {key: values[index] if index < len(values) else None for key, (index, _h) in table.headers.items()}
        if not table.rows and all(_norm(v) in names[k] for k, v in cells.items() if _text(v)):
            continue  # the second (English) header row
        if len(table.rows) >= MAX_ROWS:
            errors.add(table, number, None, _("more than %(n)d rows") % {"n": MAX_ROWS})
            return None
        row = _Row(number=number, values={})
        for col in sheet.columns:
            if col.key not in table.headers:
                continue
            raw = cells[col.key]
            try:
                if col.kind == "choice":
                    value = _choice(raw, col.choices)
                elif col.kind == "text":
                    value = _text(raw)
                else:
                    value = READERS[col.kind](raw) if _text(raw) or isinstance(raw, bool) else None
            except _CellError as exc:
                errors.add(table, number, col.key, str(exc))
                continue
            if col.required and value in (None, ""):
                errors.add(table, number, col.key, _("a value is required"))
                continue
            row.values[col.key] = value
        table.rows.append(row)
    if not header_seen:
        errors.add(table, None, None, _("the sheet is empty"))
        return None
    return table


# =========================================================================== import: assembling
@dataclass
class _Index:
    """Where each category and matter came from, to name the row of an error found later."""

    categories: dict[str, int]
    matters: dict[str, int]
    stages: dict[str, int]  # matter code → row of its first stage


def _assemble(tables: dict[str, _Table], key: str, errors: _Errors) -> tuple[dict[str, Any], _Index]:
    categories_t, matters_t, stages_t = tables["categories"], tables["matters"], tables["stages"]
    index = _Index(categories={}, matters={}, stages={})
    categories = []
    for row in categories_t.rows:
        code = row.values.get("code")
        if not code:
            continue
        if code in index.categories:
            errors.add(categories_t, row.number, "code", _("repeats row %(row)d") % {"row": index.categories[code]})
            continue
        index.categories[code] = row.number
        item = {k: v for k, v in row.values.items() if v not in (None, "")}
        item.setdefault("name_en", "")
        categories.append(item)
    stages_by_matter: dict[str, list[tuple[int, _Row]]] = defaultdict(list)
    for row in stages_t.rows:
        if row.values.get("matter") and row.values.get("order"):
            stages_by_matter[row.values["matter"]].append((row.values["order"], row))
    matters = []
    for row in matters_t.rows:
        code = row.values.get("code")
        if not code:
            continue
        if code in index.matters:
            errors.add(matters_t, row.number, "code", _("repeats row %(row)d") % {"row": index.matters[code]})
            continue
        index.matters[code] = row.number
        item = {k: v for k, v in row.values.items() if v is not None and k != "active"}
        if row.values.get("active") is not None:
            item["active"] = row.values["active"]
        if not item.get("category"):
            item["category"] = code[:2]
        for choice in ("report_level", "duty_tier", "handling_mode"):
            if not item.get(choice):
                item.pop(choice, None)  # the loader's default
        stages = sorted(stages_by_matter.get(code, []), key=lambda pair: pair[0])
        if not stages:
            errors.add(matters_t, row.number, "code", _("the matter has no stages in the sheet %(sheet)s")
                       % {"sheet": stages_t.title})
        seen: dict[int, int] = {}
        for order, stage_row in stages:
            if order in seen:
                errors.add(stages_t, stage_row.number, "order", _("stage %(order)d of %(code)s repeats row %(row)d")
                           % {"order": order, "code": code, "row": seen[order]})
            seen[order] = stage_row.number
        if stages:
            index.stages[code] = stages[0][1].number
        item["stages"] = [{k: v for k, v in r.values.items() if k not in ("matter", "order")} for _o, r in stages]
        matters.append(item)
    for code, stages in stages_by_matter.items():
        if code not in index.matters:
            errors.add(stages_t, stages[0][1].number, "matter", _("no matter %(code)s in the sheet %(sheet)s")
                       % {"code": code, "sheet": matters_t.title})
    # the loader's own checks, on every matter at once (the loader stops at the first)
    known = {c.code: c for c in Category.objects.filter(catalogue__key=key)}
    known.update({code: Category(code=code) for code in index.categories})
    for item in matters:
        try:
            matter_clean(item, known)
        except ValidationError as exc:
            _loader_error(exc, tables, index, errors, code=item["code"])
    return {"categories": categories, "matters": matters}, index


def _loader_error(exc: ValidationError, tables: dict[str, _Table], index: _Index, errors: _Errors,
                  code: str | None = None) -> None:
    """Put an error of `catalogue_load` ({field: "code: reason"}) on the sheet, row and column it came from."""
    for field, messages in exc.message_dict.items():
        for message in messages:
            prefix, sep, reason = message.partition(": ")
            item_code = prefix if sep and prefix.isdigit() else code
            if not (sep and prefix.isdigit()):
                reason = message
            if item_code and len(item_code) == 2 and item_code in index.categories and field in ("code", "kind"):
                errors.add(tables["categories"], index.categories[item_code], field, reason)
            elif item_code and field == "stages" and item_code in index.stages:
                errors.add(tables["stages"], index.stages[item_code], "matter", reason)
            elif item_code and item_code in index.matters:
                column = field if any(c.key == field for c in MATTERS.columns) else None
                errors.add(tables["matters"], index.matters[item_code], column, reason)
            else:
                errors.add(None, None, None, f"{field}: {message}")


def catalogue_import_xlsx(*, key: str, file, actor=None, dry_run: bool = False, name_zh: str = "",
                          name_en: str = "", filename: str = "") -> LoadReport:
    """Load the catalogue `key` from a workbook of the exported layout (`file`: a path, bytes or a file
    object). All or nothing; every unreadable cell is reported at once (ValidationError on "file", each
    message naming the sheet, row, column and reason). `dry_run` checks and counts without writing.
    `filename` names the upload in messages (a file object's own name is used otherwise)."""
    errors = _Errors()
    book = _open(file, filename=filename)
    try:
        sheets = _find_sheets(book, errors)
        errors.raise_any()
        tables = {}
        for sheet in SHEETS:
            table = _read_table(sheets[sheet.key], sheet, errors)
            if table is not None:
                tables[sheet.key] = table
        errors.raise_any()
    finally:
        book.close()
    data, index = _assemble(tables, key, errors)
    errors.raise_any()
    with transaction.atomic():
        try:
            report = catalogue_load(key=key, data=data, name_zh=name_zh, name_en=name_en, actor=actor)
        except ValidationError as exc:
            _loader_error(exc, tables, index, errors)
            errors.raise_any()
            raise
        if dry_run:
            transaction.set_rollback(True)
    return report

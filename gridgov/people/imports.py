"""Spreadsheet imports of base data: read a file, map its columns, check it, run it in the background.

Reading (`table_read`): XLSX with python-calamine (openpyxl when calamine cannot open the file, or
for sheets too large to hold in memory), after its zip passed the upload limits of `core.uploads`;
CSV in the encoding `core.uploads.text_encoding` detects (a byte-order mark for UTF-8 / UTF-16 /
UTF-32, else UTF-8, else GB18030, the superset of GBK Excel writes on a Chinese Windows), refused
rather than read as mojibake. The first non-empty row holds the headers; rows come one at a time with their row number
as the user sees it in the spreadsheet, so a million rows are never all in memory.

Mapping (`mapping_suggest`): the file's headers to the canonical fields of the kind (`bulk.KINDS`),
by the Chinese and English names users give their columns; the user may change it; unmapped
headers are ignored and listed.

Jobs (`DataJob`, kind IMPORT): `import_job_create` stores the upload under PRIVATE_FILES_DIR and
suggests a mapping (NEW); `import_job_map` validates the user's mapping (MAPPED); `import_job_check`
queues a dry run (CHECKING → CHECKED); `import_job_start` queues the real run (QUEUED → RUNNING →
DONE / FAILED), with progress and a heartbeat after every chunk. A run killed mid-way (its heartbeat
goes stale) is re-queued by the sweeper (`sweep.jobs_sweep`) up to PEOPLE_JOB_MAX_ATTEMPTS starts and
then failed; a failed or stale run is restarted by its owner (`import_job_restart`). Each run writes the rejected-rows file (each rejected
row's number in the file, its original columns, a reason column, and in the XLSX the offending cells in red with the
reason as a comment) and the real run an `AccessLog` entry. Summaries hold counts and reasons, never
personal data.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gridgov.accounts.selectors import user_territory_schemes
from gridgov.core import uploads
from gridgov.core.files import private_dir, private_open, private_path
from gridgov.people.bulk import KINDS, REQUIRED, ROW_KEY, BulkReport, as_text, field_label, people_bulk_upsert
from gridgov.people.models import DataJob, JobKind, JobStatus, SpecialGroup
from gridgov.privacy.access import access_log_write
from gridgov.privacy.models import AccessKind
from gridgov.territory.models import LevelScheme

logger = logging.getLogger(__name__)

SUFFIXES = (".xlsx", ".xlsm", ".csv")
MAX_HEADERS = 200
REASON_HEADER = "错误原因/Reason"
# the first column of the rejected rows: the row's number in the uploaded file, as the reasons name rows
ROW_HEADER = "行号/Row"
UPLOAD_KIND = "people"

# The names users give their columns, per canonical field (compared without spaces, '*', case, and a
# trailing bracket such as "（必填）"). Kind-specific names come first where a word means different
# things in different files (名称 is a unit's name, never a person's).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "公民身份证号码", "身份证", "证件号码",
                  "证件号", "idnumber", "idcard", "id"),
    "name": ("姓名", "名字", "name"),
    "phone": ("联系电话", "手机号", "手机号码", "电话", "电话号码", "联系方式", "手机", "phone", "mobile", "tel"),
    "cell": ("所属网格", "网格", "网格名称", "网格编码", "网格编号", "所在网格", "cell", "grid"),
    "household_number": ("户号", "户编号", "户籍户号", "家庭户号", "householdnumber", "household"),
    "relation": ("与户主关系", "与户主的关系", "家庭关系", "relation", "relationship"),
    "household_address": ("户地址", "家庭地址", "家庭住址", "householdaddress"),
    "house_code": ("房屋编号", "房屋编码", "房屋代码", "housecode", "house"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "registered_here": ("人口类型", "人员类型", "户籍类型", "是否户籍", "是否本地户籍", "registeredhere"),
    "living_here": ("是否在住", "是否实际居住", "实际居住", "livinghere"),
    "registered_address": ("户籍地址", "户籍地", "户籍所在地", "户籍地详址", "registeredaddress"),
    "actual_address": ("现住址", "居住地址", "现居住地址", "实际居住地址", "现住地址", "居住地", "actualaddress"),
    "moved_in_date": ("迁入日期", "入住日期", "迁入时间", "入住时间", "movedindate", "movedin"),
    "state": ("人员状态", "状态", "state", "status"),
    "state_date": ("状态日期", "变动日期", "迁出日期", "statedate"),
    "groups": ("特殊人群", "重点人群", "人群类别", "人员类别", "groups"),
    "address": ("地址", "房屋地址", "门牌地址", "详细地址", "单位地址", "经营地址", "注册地址", "address"),
    "building_code": ("楼栋编号", "楼栋编码", "buildingcode"),
    "building_name": ("楼栋名称", "楼栋", "小区楼栋", "buildingname"),
    "building_no": ("楼号", "楼栋号", "栋号", "buildingno"),
    "entrance_no": ("单元", "单元号", "entranceno", "entrance"),
    "floor": ("楼层", "所在楼层", "层", "floor"),
    "room": ("房间号", "房号", "室", "门牌号", "room"),
    "occupancy": ("房屋状态", "使用状态", "居住类型", "使用情况", "房屋使用情况", "occupancy"),
    "area_m2": ("面积", "建筑面积", "房屋面积", "面积m2", "面积㎡", "area", "aream2"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "统一代码", "creditcode", "uscc"),
    "industry": ("行业", "所属行业", "行业类别", "行业类型", "industry"),
    "representative": ("法定代表人", "法人代表", "法人", "负责人", "representative"),
    "employees": ("从业人数", "员工人数", "职工人数", "从业人员数", "employees"),
    "dedicated_cell": ("专属网格", "专属单元", "dedicatedcell"),
    "group": ("人群类别", "特殊人群", "重点人群", "人群", "类别", "group"),
    "start_date": ("开始日期", "起始日期", "认定日期", "登记日期", "报到日期", "注册日期", "startdate", "since"),
    "branch_cell": ("党支部", "所属党支部", "支部", "党支部网格", "branchcell", "branch"),
    "joined_date": ("入党日期", "入党时间", "joineddate", "joined"),
    "work_unit": ("工作单位", "单位", "workunit"),
    "paired_households": ("联系户", "包联户", "包户", "联系户户号", "pairedhouseholds"),
    "skills": ("技能", "特长", "专长", "技能特长", "skills"),
}
KIND_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "entities": {"name": ("单位名称", "企业名称", "名称", "单位", "name"), "work_unit": ()},
    "houses": {"address": ("房屋地址", "地址", "门牌地址", "详细地址", "address")},
    "residents": {"groups": ("特殊人群", "重点人群", "人群类别", "人员类别", "groups")},
}
_BRACKET = re.compile(r"[（(【\[].*?[）)】\]]$")
_NOISE = re.compile(r"[\s*＊:：_\-/]+")


class ImportFileError(ValueError):
    """A file that cannot be read as a table; the message says why (no personal data)."""


# ------------------------------------------------------------------------------------------ reading

@dataclass
class Table:
    """A file's headers (row `header_row`) and an iterator over its data rows: (row number, values)."""

    headers: list[str]
    header_row: int
    rows: Iterator[tuple[int, list[Any]]]
    total: int  # data rows at most (empty rows included), for progress


def _suffix(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFileError(_("only .xlsx and .csv files can be imported"))
    return suffix


def _csv_rows(path: Path, *, name: str = "") -> Iterator[list[Any]]:
    try:
        encoding = uploads.text_encoding(path, name=name or path.name)
    except uploads.UploadError as exc:
        raise ImportFileError(str(exc)) from None
    with path.open(encoding=encoding, errors="strict", newline="") as f:
        sample = f.read(64 * 1024)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(f, dialect)
        try:
            yield from reader
        except csv.Error as exc:  # a field past csv's size limit, a NUL byte ...
            raise ImportFileError(_("line %(line)d cannot be read as CSV: %(error)s")
                                  % {"line": reader.line_num, "error": exc}) from None


def _xlsx_rows(path: Path, *, name: str = "", verify: bool = False) -> tuple[Iterator[list[Any]], int]:
    """The first sheet's rows. The workbook's zip is checked against the people-upload limits before any
    spreadsheet library opens it (and, at upload, every part's checksum); calamine, which holds a sheet in
    memory, reads only sheets up to UPLOAD_XLSX_IN_MEMORY_BYTES, openpyxl streams larger ones."""
    try:
        sheets = uploads.xlsx_check(path, kind=UPLOAD_KIND, name=name or path.name, verify=verify)
    except uploads.UploadError as exc:
        raise ImportFileError(str(exc)) from None
    if max(sheets.values(), default=0) <= settings.UPLOAD_XLSX_IN_MEMORY_BYTES:
        try:
            from python_calamine import CalamineWorkbook

            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            # rows come from the sheet's first row on, so their position is their row number
            return iter(sheet.iter_rows()), (sheet.end[0] + 1) if sheet.end else 0
        except Exception:  # calamine raises its own types; openpyxl may read what it cannot
            logger.info("calamine could not open an upload, reading it with openpyxl")
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and format errors of every kind
        raise ImportFileError(_("the file is not a readable XLSX workbook")) from exc
    sheet = workbook.worksheets[0]

    def rows() -> Iterator[list[Any]]:
        try:
            for values in sheet.iter_rows(values_only=True):
                yield list(values)
        except Exception as exc:  # a part that stops parsing half-way (the checksums held)
            raise ImportFileError(_("the file is not a readable XLSX workbook")) from exc
        finally:
            workbook.close()

    return rows(), sheet.max_row or 0


def _empty(values: list[Any]) -> bool:
    return all(as_text(v) == "" for v in values)


@contextmanager
def table_read(path: Path | str, *, name: str = "", verify: bool = False) -> Iterator[Table]:
    """The table in the file at `path` (first sheet of a workbook); `name` is the file's name as uploaded
    (for messages), `verify` reads every part of a workbook once (at upload: a damaged file is refused
    then, not half-way through the import)."""
    path = Path(path)
    if _suffix(path) == ".csv":
        source, last_row = _csv_rows(path, name=name), None
    else:
        source, last_row = _xlsx_rows(path, name=name, verify=verify)
    numbered = enumerate(source, start=1)
    header_row, headers = 0, []
    for number, values in numbered:
        if not _empty(values):
            header_row, headers = number, [as_text(v) for v in values]
            break
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise ImportFileError(_("the file holds no header row"))
    if len(headers) > MAX_HEADERS:
        raise ImportFileError(_("the file has more than %(n)d columns") % {"n": MAX_HEADERS})
    width = len(headers)

    def data() -> Iterator[tuple[int, list[Any]]]:
        for number, values in numbered:
            if not _empty(values):
                yield number, list(values[:width]) + [None] * (width - len(values))

    if last_row is None:
        last_row = sum(1 for _row in _csv_rows(path, name=name))
    yield Table(headers=headers, header_row=header_row, rows=data(), total=max(last_row - header_row, 0))


def mapped_rows(table: Table, mapping: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The table's rows as dicts keyed by canonical field (with ROW_KEY), by `mapping` header → field."""
    pairs = [(i, mapping[h]) for i, h in enumerate(table.headers) if mapping.get(h)]
    for number, values in table.rows:
        row = {name: values[i] for i, name in pairs}
        row[ROW_KEY] = number
        yield row


# ------------------------------------------------------------------------------------------ mapping

def normalize_header(header: str) -> str:
    text = as_text(header).lower()
    text = _BRACKET.sub("", text) if not _BRACKET.fullmatch(text) else text
    return _NOISE.sub("", text).replace("（", "").replace("）", "")


def kind_fields(kind: str) -> list[str]:
    """The canonical fields of `kind`; memberships also take every special group's attribute keys."""
    fields = list(KINDS[kind])
    if kind == "memberships":
        for group in SpecialGroup.objects.all():
            fields += [spec["key"] for spec in group.fields if spec["key"] not in fields]
    return fields


def kind_field_labels(kind: str) -> dict[str, str]:
    """The canonical fields of `kind` (as `kind_fields`) → what a person reads for each, in the active
    language: `bulk.field_label`, and a special group's attribute by its own label."""
    labels = {name: field_label(kind, name) for name in kind_fields(kind)}
    if kind == "memberships":
        english = (get_language() or "").lower().startswith("en")
        for group in SpecialGroup.objects.all():
            for spec in group.fields:
                if labels.get(spec["key"]) == spec["key"]:
                    zh, en = spec.get("label_zh") or "", spec.get("label_en") or ""
                    labels[spec["key"]] = (en or zh if english else zh or en) or spec["key"]
    return labels


def _synonyms(kind: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    special = KIND_SYNONYMS.get(kind, {})
    for name in kind_fields(kind):
        table[name] = (*special.get(name, ()), *(() if name in special else SYNONYMS.get(name, ())), name)
    if kind == "memberships":
        for group in SpecialGroup.objects.all():
            for spec in group.fields:
                extra = tuple(x for x in (spec.get("label_zh"), spec.get("label_en")) if x)
                table[spec["key"]] = (*table.get(spec["key"], ()), *extra)
    return table


def mapping_suggest(headers: list[str], kind: str) -> dict[str, str]:
    """header → canonical field for the headers recognised; each field taken by its first header."""
    lookup: dict[str, str] = {}
    for name, names in _synonyms(kind).items():
        for synonym in names:
            lookup.setdefault(normalize_header(synonym), name)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        name = lookup.get(normalize_header(header))
        if name and name not in taken:
            mapping[header] = name
            taken.add(name)
    return mapping


def mapping_clean(*, kind: str, headers: list[str], mapping: dict[str, str | None]) -> dict[str, str]:
    """A user's mapping checked: known headers and fields, every required field mapped, no field twice.
    Headers mapped to nothing ("" or None) are dropped. Raises ValidationError keyed by header."""
    labels = kind_field_labels(kind)
    cleaned: dict[str, str] = {}
    by_field: dict[str, str] = {}
    errors: dict[str, str] = {}
    for header, name in mapping.items():
        if not name:
            continue
        if header not in headers:
            errors[header] = _("the file has no column %(h)s") % {"h": header}
        elif name not in labels:
            errors[header] = _("unknown field %(f)s") % {"f": name}
        elif name in by_field:
            errors[header] = (_("%(f)s is already taken by the column %(h)s")
                              % {"f": labels[name], "h": by_field[name]})
        else:
            cleaned[header] = name
            by_field[name] = header
    missing = [labels[name] for name in REQUIRED[kind] if name not in by_field]
    if missing:
        errors["__all__"] = _("map a column to every required field: %(f)s") % {"f": ", ".join(missing)}
    if errors:
        raise ValidationError(errors)
    return cleaned


def mapping_columns(mapping: dict[str, str]) -> dict[str, str]:
    """canonical field → header, for the error messages."""
    return {name: header for header, name in mapping.items()}


# ------------------------------------------------------------------------------------ running a file

def file_import(*, scheme: LevelScheme, kind: str, path: Path | str, mapping: dict[str, str], actor=None,
                source: str = "", dry_run: bool = False, progress: Callable[[int], None] | None = None,
                chunk_size: int | None = None) -> BulkReport:
    """Import the file at `path` with `mapping` (header → field)."""
    with table_read(path) as table:
        kwargs = {"chunk_size": chunk_size} if chunk_size else {}
        return people_bulk_upsert(scheme=scheme, kind=kind, rows=mapped_rows(table, mapping), actor=actor,
                                  source=source, dry_run=dry_run, progress=progress,
                                  columns=mapping_columns(mapping), **kwargs)


def rejected_file_write(*, source: Path | str, report: BulkReport, target: Path | str) -> int:
    """Write the rejected rows of `report`, read again from `source`, to `target` (.xlsx or .csv): the row's
    number in the source (the spreadsheet's own row number, the one reasons such as "repeats row 2" name),
    the original columns, then the reasons ("column: reason" per error). In an XLSX the offending cells are
    filled red with the reason as a comment. Returns the number of rows written."""
    errors: dict[int, list[tuple[str, str]]] = {}
    for error in report.rejected:
        errors.setdefault(error.row, []).append((error.column, error.reason))
    target = Path(target)
    with table_read(source) as table:
        header_index = {h: i for i, h in enumerate(table.headers)}
        rows = ((number, values) for number, values in table.rows if number in errors)
        if target.suffix.lower() == ".csv":
            return _rejected_csv(table.headers, rows, errors, target)
        return _rejected_xlsx(table.headers, header_index, rows, errors, target)


def _reasons(problems: list[tuple[str, str]]) -> str:
    return "; ".join(f"{column}: {reason}" if column else reason for column, reason in problems)


def _rejected_csv(headers, rows, errors, target: Path) -> int:
    count = 0
    with target.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([ROW_HEADER, *headers, REASON_HEADER])
        for number, values in rows:
            writer.writerow([number, *(as_text(v) if not isinstance(v, str) else v for v in values),
                             _reasons(errors[number])])
            count += 1
    return count


def _rejected_xlsx(headers, header_index, rows, errors, target: Path) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Rejected rows"))
    red = PatternFill(fill_type="solid", start_color="FFFFC7CE", end_color="FFFFC7CE")
    bold = Font(bold=True)
    head = []
    for header in [ROW_HEADER, *headers, REASON_HEADER]:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    count = 0
    for number, values in rows:
        problems = errors[number]
        by_column: dict[int, list[str]] = {}
        for column, reason in problems:
            if column in header_index:
                by_column.setdefault(header_index[column], []).append(reason)
        cells = [WriteOnlyCell(sheet, value=number)]
        for i, value in enumerate(values):
            cell = WriteOnlyCell(sheet, value=value)
            if i in by_column:
                cell.fill = red
                cell.comment = Comment("\n".join(by_column[i]), "gridgov")
            cells.append(cell)
        cells.append(WriteOnlyCell(sheet, value=_reasons(problems)))
        sheet.append(cells)
        count += 1
    workbook.save(target)
    return count


# --------------------------------------------------------------------------------------------- jobs

def _job_source(job: DataJob) -> str:
    return f"import job #{job.pk}"


def _upload_path(job: DataJob) -> Path:
    return private_open(job.file_path)


@transaction.atomic
def import_job_create(*, scheme: LevelScheme, owner, record_type: str, uploaded_file) -> DataJob:
    """A new import job for the uploaded file: stored privately, headers read, a mapping suggested."""
    if record_type not in KINDS:
        raise ValidationError({"record_type": _("unknown kind of records; one of %(k)s") % {"k": ", ".join(KINDS)}})
    name = Path(getattr(uploaded_file, "name", "") or "upload").name[-200:]
    try:
        suffix = _suffix(name)
    except ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from None
    job = DataJob.objects.create(kind=JobKind.IMPORT, record_type=record_type, scheme=scheme, owner=owner,
                                 status=JobStatus.NEW, file_name=name)
    path = private_path(job.pk, suffix, role="upload")
    try:
        with path.open("wb") as f:
            uploads.copy_capped(uploaded_file, f, kind=UPLOAD_KIND, name=name)
        with table_read(path, name=name, verify=True) as table:
            headers, total = table.headers, table.total
    except (ImportFileError, uploads.UploadError) as exc:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": str(exc)}) from None
    job.file_path = path.name
    job.headers = headers
    job.total = total
    job.mapping = mapping_suggest(headers, record_type)
    job.options = {"unmapped": [h for h in headers if h not in job.mapping]}
    job.save()
    return job


def _editable(job: DataJob) -> None:
    if job.kind != JobKind.IMPORT or job.status not in (JobStatus.NEW, JobStatus.MAPPED, JobStatus.CHECKED):
        raise ValidationError({"status": _("this job can no longer be changed (it is %(s)s)")
                               % {"s": job.get_status_display()}})


def import_job_map(*, job: DataJob, mapping: dict[str, str | None]) -> DataJob:
    """Set the job's column mapping (header → field; empty = ignore the column)."""
    _editable(job)
    job.mapping = mapping_clean(kind=job.record_type, headers=job.headers, mapping=mapping)
    job.options = {**job.options, "unmapped": [h for h in job.headers if h not in job.mapping]}
    job.status = JobStatus.MAPPED
    job.summary = {}
    job.save(update_fields=["mapping", "options", "status", "summary"])
    return job


def _progress(job: DataJob) -> Callable[[int], None]:
    """Called after every committed chunk of a real run: its progress and its heartbeat (the sweeper's sign
    of life). A dry run is one transaction, rolled back: a heartbeat written inside it would never be seen."""
    def step(n: int) -> None:
        DataJob.objects.filter(pk=job.pk).update(done=F("done") + n, heartbeat_at=timezone.now())

    return step


def _rejected_store(job: DataJob, report: BulkReport) -> None:
    """Write the rejected-rows file of the run (replacing an earlier one) and keep its name on the job."""
    if job.result_path:
        with suppress(FileNotFoundError):
            old = private_open(job.result_path)
            old.unlink(missing_ok=True)
            old.with_suffix(".csv").unlink(missing_ok=True)
    job.result_path = ""
    if not report.rejected_rows:
        return
    upload = _upload_path(job)
    target = private_path(job.pk, ".xlsx", role="rejected")
    rejected_file_write(source=upload, report=report, target=target)
    job.result_path = target.name
    if upload.suffix.lower() == ".csv":
        rejected_file_write(source=upload, report=report, target=target.with_suffix(".csv"))


def import_job_dry_run(*, job: DataJob) -> BulkReport:
    """Run the import without keeping anything: the counts and the rejected rows a real run would give."""
    if job.status not in (JobStatus.MAPPED, JobStatus.CHECKING, JobStatus.CHECKED):
        raise ValidationError({"status": _("map the columns first")})
    job.status = JobStatus.CHECKING
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["status", "heartbeat_at"])
    try:
        report = file_import(scheme=job.scheme, kind=job.record_type, path=_upload_path(job), mapping=job.mapping,
                             actor=job.owner, source=_job_source(job), dry_run=True)
    except Exception as exc:
        _fail(job, exc, status=JobStatus.MAPPED)
        raise
    _rejected_store(job, report)
    job.summary = {**report.as_dict(), "dry_run": True}
    job.status = JobStatus.CHECKED
    job.error = ""
    job.save(update_fields=["summary", "status", "result_path", "error"])
    return report


def _fail(job: DataJob, exc: Exception, *, status: str = JobStatus.FAILED) -> None:
    # the exception text may quote a value of the file: keep its kind only
    logger.error("import job %s failed: %s", job.pk, type(exc).__name__)
    job.status = status
    job.error = _("the import stopped on an unexpected error (%(kind)s); rows of the chunks finished before it are "
                  "stored") % {"kind": type(exc).__name__}
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])


def import_job_run(*, job: DataJob) -> BulkReport | None:
    """The real run (the task's body): chunk by chunk, progress on the job, then the rejected-rows file,
    the summary and the access-log entry. A job not QUEUED is left alone (a task may run twice)."""
    now = timezone.now()
    claimed = DataJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1, done=0)
    if not claimed:
        return None
    job.refresh_from_db()
    try:
        report = file_import(scheme=job.scheme, kind=job.record_type, path=_upload_path(job), mapping=job.mapping,
                             actor=job.owner, source=_job_source(job), progress=_progress(job))
    except Exception as exc:
        _fail(job, exc)
        raise
    job.refresh_from_db()
    _rejected_store(job, report)
    job.summary = report.as_dict()
    job.status = JobStatus.DONE
    job.finished_at = timezone.now()
    job.done = max(job.done, report.rows)
    job.total = max(job.total, job.done)
    job.error = ""
    job.save(update_fields=["summary", "status", "finished_at", "done", "total", "result_path", "error"])
    access_log_write(user=job.owner, kind=AccessKind.IMPORT, purpose=_job_source(job), rows=report.rows,
                     fields=[name for name in job.mapping.values()],
                     detail={"job": job.pk, "record_type": job.record_type, "created": report.created,
                             "updated": report.updated, "unchanged": report.unchanged,
                             "rejected_rows": report.rejected_rows,
                             "created_by_type": dict(report.created_by_type)})
    return report


def import_job_rejected_file(*, job: DataJob, fmt: str = "xlsx") -> Path | None:
    """The stored rejected-rows file of the job (xlsx, or csv for a CSV upload), or None."""
    if not job.result_path:
        return None
    path = private_open(job.result_path)
    if fmt == "csv":
        path = path.with_suffix(".csv")
    return path if path.is_file() and private_dir().resolve() in path.resolve().parents else None



# ------------------------------------------------------------------------------------------ who may

# the permission an import of each kind needs
IMPORT_PERMISSIONS = {"houses": "people.add_house", "residents": "people.add_resident",
                      "entities": "people.add_legalentity", "memberships": "people.add_groupmembership",
                      "party_members": "people.add_partymember", "volunteers": "people.add_volunteer"}


def import_allowed(*, user, scheme: LevelScheme, kind: str) -> bool:
    """May `user` import records of `kind` into `scheme`: the kind's add permission, the scheme in scope."""
    if kind not in IMPORT_PERMISSIONS or not getattr(user, "is_authenticated", False):
        return False
    return user.has_perm(IMPORT_PERMISSIONS[kind]) and user_territory_schemes(user).filter(pk=scheme.pk).exists()

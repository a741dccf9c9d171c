"""Exports of base-data lists to XLSX (openpyxl write-only, streamed) or CSV (UTF-8 with a BOM, so Excel
reads the Chinese right), with the same filters as the API lists.

Invariants:
- rows come from the owner's scope (`selectors.*_scope`), read when the file is written;
- personal fields are masked unless the owner asked to reveal them, stated a purpose, and may reveal
  personal data in the row's cell; rows outside those cells stay masked, and the file's note and the
  job's summary say how many;
- every export writes an `AccessLog` entry (kind EXPORT, or EXPORT_REVEALED) holding the filters, the
  row count and its outcome, and a revealing export one EXPORT_REVEALED entry per revealed record, all
  in the transaction that marks the job DONE with its file: an export that fails or is killed leaves
  no file and no per-record entry, only its FAILED outcome entry (written by `export_fail`, at once or
  by the sweeper, `sweep.jobs_sweep`);
- every download of a file holding personal data in clear is logged (`export_file_open`);
- files are private (`files.private_path`), downloadable only by the job's owner.
Lists up to PEOPLE_EXPORT_INLINE_ROWS rows are written during the request, longer ones by `tasks.export_run_task` (started by `export_jobs.export_job_create`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from gridgov.core.audit import audit_record
from gridgov.core.files import private_open, private_path
from gridgov.core.tabular import bilingual, sheet_title
from gridgov.core.tabular import cell_value as _cell_value
from gridgov.people.filters import (
    EntityFilter,
    HouseFilter,
    HouseholdFilter,
    MembershipFilter,
    ResidentFilter,
    ScopedFilterSet,
    filtered,
)
from gridgov.people.models import (
    DataJob,
    GroupMembership,
    House,
    Household,
    JobStatus,
    LegalEntity,
    RecordState,
    Resident,
)
from gridgov.people.selectors import (
    entity_scope,
    house_scope,
    household_scope,
    membership_visible,
    resident_scope,
)
from gridgov.privacy.access import (
    PERSONAL_FIELDS,
    access_log_write,
    can_reveal,
    clear_value,
    masked_value,
)
from gridgov.privacy.models import AccessKind, AccessLog
from gridgov.territory.models import LevelScheme, Node

logger = logging.getLogger(__name__)

CHUNK = 1000
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}
def _label(model: type[models.Model], field: str):
    return model._meta.get_field(field).verbose_name


@dataclass(frozen=True)
class Column:
    label: Any
    value: Callable[[Any, dict[str, str] | None], Any]


def _personal(field: str, via: str | None = None) -> Callable:
    """A personal field: in clear when the row is revealed, masked otherwise."""
    def get(obj, clear):
        if clear is not None:
            return clear[field]
        return masked_value(getattr(obj, via) if via else obj, field)
    return get


def _attr(path: str) -> Callable:
    def get(obj, _clear):
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj
    return get


def _display(field: str) -> Callable:
    return lambda obj, _clear: getattr(obj, f"get_{field}_display")() if getattr(obj, field) else ""


def _yes_no(field: str) -> Callable:
    return lambda obj, _clear: _("yes") if getattr(obj, field) else _("no")


def _base_columns(model) -> list[Column]:
    return [Column(gettext_lazy("record id"), _attr("pk")), Column(gettext_lazy("cell code"), _attr("node.code")),
            Column(_label(model, "node"), _attr("node.name"))]


def _state_columns(model) -> list[Column]:
    return [Column(_label(model, "state"), _display("state")), Column(_label(model, "state_date"), _attr("state_date"))]


def _resident_groups(obj, _clear) -> str:
    return ", ".join(m.group.key for m in getattr(obj, "visible_groups", []))


RESIDENT_COLUMNS = [
    *_base_columns(Resident),
    Column(_label(Resident, "name"), _personal("name")),
    Column(_label(Resident, "id_masked"), _personal("id_number")),
    Column(_label(Resident, "gender"), _display("gender")),
    # what the ID number encodes beyond its mask only in rows exported in clear (`access.derived_visible`)
    Column(gettext_lazy("birth year"), lambda obj, c: obj.birth_date.year if obj.birth_date and c is not None
           else None),
    Column(_label(Resident, "phone_masked"), _personal("phone")),
    Column(_label(Household, "number"), _attr("household.number")),
    Column(_label(Resident, "relation"), _display("relation")),
    Column(_label(House, "code"), _attr("house.code")),
    Column(_label(Resident, "registered_here"), _yes_no("registered_here")),
    Column(_label(Resident, "living_here"), _yes_no("living_here")),
    Column(_label(Resident, "registered_address"), _personal("registered_address")),
    Column(_label(Resident, "actual_address"), _personal("actual_address")),
    Column(_label(Resident, "moved_in_date"), _attr("moved_in_date")),
    Column(_label(Resident, "moved_out_date"), _attr("moved_out_date")),
    Column(gettext_lazy("special groups"), _resident_groups),
    *_state_columns(Resident),
]
HOUSEHOLD_COLUMNS = [
    *_base_columns(Household),
    Column(_label(Household, "number"), _attr("number")),
    Column(_label(Household, "kind"), _display("kind")),
    Column(_label(House, "code"), _attr("house.code")),
    Column(_label(Household, "address"), _personal("address")),
    Column(gettext_lazy("members"), _attr("member_count")),
    *_state_columns(Household),
]
HOUSE_COLUMNS = [
    *_base_columns(House),
    Column(_label(House, "code"), _attr("code")),
    Column(gettext_lazy("building code"), _attr("building.code")),
    Column(_label(House, "address"), _personal("address")),
    Column(_label(House, "building_no"), _attr("building_no")),
    Column(_label(House, "entrance_no"), _attr("entrance_no")),
    Column(_label(House, "floor"), _attr("floor")),
    Column(_label(House, "room"), _attr("room")),
    Column(_label(House, "occupancy"), _display("occupancy")),
    Column(_label(House, "area_m2"), _attr("area_m2")),
    *_state_columns(House),
]
ENTITY_COLUMNS = [
    *_base_columns(LegalEntity),
    Column(_label(LegalEntity, "name"), _attr("name")),
    Column(_label(LegalEntity, "credit_code"), _attr("credit_code")),
    Column(_label(LegalEntity, "industry"), _attr("industry")),
    Column(_label(LegalEntity, "address"), _attr("address")),
    Column(_label(LegalEntity, "representative"), _personal("representative")),
    Column(_label(LegalEntity, "phone_masked"), _personal("phone")),
    Column(_label(LegalEntity, "employees"), _attr("employees")),
    Column(gettext_lazy("dedicated unit / grid code"), _attr("dedicated_node.code")),
    *_state_columns(LegalEntity),
]
MEMBERSHIP_COLUMNS = [
    Column(gettext_lazy("record id"), _attr("pk")),
    Column(gettext_lazy("cell code"), _attr("resident.node.code")),
    Column(_label(Resident, "node"), _attr("resident.node.name")),
    Column(gettext_lazy("resident id"), _attr("resident_id")),
    Column(_label(Resident, "name"), _personal("name", via="resident")),
    Column(_label(Resident, "id_masked"), _personal("id_number", via="resident")),
    Column(gettext_lazy("special group"), _attr("group.key")),
    Column(gettext_lazy("special group name"), _attr("group.name_zh")),
    Column(_label(GroupMembership, "start_date"), _attr("start_date")),
    Column(_label(GroupMembership, "end_date"), _attr("end_date")),
    Column(_label(GroupMembership, "attributes"), lambda obj, _c: json.dumps(obj.attributes, ensure_ascii=False)
           if obj.attributes else ""),
]


@dataclass(frozen=True)
class ExportKind:
    """What one kind of export reads and writes. `personal` is the record whose personal fields the
    rows carry (the row itself, or a membership's resident)."""

    model: type[models.Model]
    filterset: type[ScopedFilterSet]
    columns: list[Column]
    queryset: Callable[[Any], QuerySet]
    scheme_field: str = "scheme"
    personal_via: str | None = None
    personal_fields: tuple[str, ...] = ()

    def personal(self, obj):
        return getattr(obj, self.personal_via) if self.personal_via else obj


def _residents(user) -> QuerySet:
    groups = membership_visible(GroupMembership.objects.select_related("group"), user).filter(end_date__isnull=True) \
        .order_by("group__order", "group__key")
    return resident_scope(Resident.objects.select_related("node", "household", "house"), user).prefetch_related(
        Prefetch("groups", queryset=groups, to_attr="visible_groups"))


def _households(user) -> QuerySet:
    # active members, as the households list page counts them
    return household_scope(Household.objects.select_related("node", "house"), user).annotate(
        member_count=models.Count("members", filter=models.Q(members__state=RecordState.ACTIVE)))


def _houses(user) -> QuerySet:
    return house_scope(House.objects.select_related("node", "building"), user)


def _entities(user) -> QuerySet:
    return entity_scope(LegalEntity.objects.select_related("node", "dedicated_node"), user)


def _memberships(user) -> QuerySet:
    return membership_visible(GroupMembership.objects.select_related("group", "resident__node"), user)


EXPORT_KINDS: dict[str, ExportKind] = {
    "residents": ExportKind(Resident, ResidentFilter, RESIDENT_COLUMNS, _residents,
                            personal_fields=PERSONAL_FIELDS["resident"]),
    "households": ExportKind(Household, HouseholdFilter, HOUSEHOLD_COLUMNS, _households,
                             personal_fields=PERSONAL_FIELDS["household"]),
    "houses": ExportKind(House, HouseFilter, HOUSE_COLUMNS, _houses, personal_fields=PERSONAL_FIELDS["house"]),
    "entities": ExportKind(LegalEntity, EntityFilter, ENTITY_COLUMNS, _entities,
                           personal_fields=PERSONAL_FIELDS["legalentity"]),
    "memberships": ExportKind(GroupMembership, MembershipFilter, MEMBERSHIP_COLUMNS, _memberships,
                              scheme_field="resident__scheme", personal_via="resident",
                              personal_fields=("name", "id_number")),
}


# ---------------------------------------------------------------------------------------------- reading
def filters_clean(kind: ExportKind, filters: dict[str, Any] | None) -> dict[str, str]:
    """The filters as the list's query string would carry them (strings); lists and objects refused."""
    cleaned: dict[str, str] = {}
    for key, value in (filters or {}).items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            raise ValidationError({str(key): _("a filter takes a single value")})
        cleaned[str(key)] = value
    return cleaned


def export_queryset(kind: ExportKind, *, scheme: LevelScheme, filters: dict[str, str], user) -> QuerySet:
    qs = kind.queryset(user).filter(**{kind.scheme_field: scheme})
    return filtered(kind.filterset, qs, filters, user=user).order_by("id")


def export_scheme(*, key: str | None, filters: dict[str, Any] | None) -> LevelScheme:
    """The scheme an export reads: the one named, else the one of the `cell` filter."""
    if key:
        scheme = LevelScheme.objects.filter(key=key).first()
        if scheme is None:
            raise ValidationError({"scheme": _("unknown level scheme")})
        return scheme
    try:
        cell = int((filters or {}).get("cell"))
    except (TypeError, ValueError, OverflowError):
        cell = 0
    node = Node.objects.select_related("scheme").filter(pk=cell).first() if 0 < cell < 2**63 else None
    if node is None:
        raise ValidationError({"scheme": _("give the level scheme, or a cell to export")})
    return node.scheme


# ---------------------------------------------------------------------------------------------- writing
class _CsvWriter:
    def __init__(self, path, headers: list[str]):
        self.handle = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(headers)

    def row(self, values: Iterable[Any]) -> None:
        self.writer.writerow([_cell_value(v) for v in values])

    def finish(self, note: list[str]) -> None:  # CSV stays a plain table: the note lives in the job summary
        self.handle.close()

    def abort(self) -> None:
        self.handle.close()



class _XlsxWriter:
    def __init__(self, path, headers: list[str], title: str):
        self.path = path
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(title=sheet_title(title))
        self.sheet.append(headers)

    def row(self, values: Iterable[Any]) -> None:
        self.sheet.append([_cell_value(v) for v in values])

    def finish(self, note: list[str]) -> None:
        sheet = self.book.create_sheet(title=sheet_title(bilingual(gettext_lazy("Note"))))
        for line in note:
            sheet.append([_cell_value(line)])
        self.book.save(self.path)

    def abort(self) -> None:
        self.book.close()


def _note(*, job: DataJob, rows: int, revealed: int, filters: dict, reveal: bool) -> list[str]:
    lines = [
        f"{bilingual(gettext_lazy('Export'))}: {job.record_type} #{job.pk}",
        f"{bilingual(gettext_lazy('Exported at'))}: {timezone.localtime():%Y-%m-%d %H:%M}",
        f"{bilingual(gettext_lazy('Exported by'))}: {job.owner.get_username()}",
        f"{bilingual(gettext_lazy('Filters'))}: {json.dumps(filters, ensure_ascii=False, sort_keys=True)}",
        f"{bilingual(gettext_lazy('Rows'))}: {rows}",
    ]
    if not reveal:
        lines.append(bilingual(gettext_lazy("Personal data is masked.")))
    else:
        lines.append(f"{bilingual(gettext_lazy('Rows with personal data in clear'))}: {revealed}")
        if rows - revealed:
            lines.append(f"{bilingual(gettext_lazy('Rows left masked (outside the cells where you may reveal personal data)'))}: {rows - revealed}")
    return lines


def _reveal_rows(*, job: DataJob, owner, rtype: str, fields_label: str, purpose: str,
                 revealed: list[tuple[int, int]]) -> None:
    """One EXPORT_REVEALED row per record written in clear, bound to the job (`detail.job`)."""
    for start in range(0, len(revealed), CHUNK):
        AccessLog.objects.bulk_create([
            AccessLog(user=owner, kind=AccessKind.EXPORT_REVEALED, record_type=rtype, record_id=record_id,
                      node_id=node_id, fields=fields_label, purpose=purpose, detail={"job": job.pk, "outcome": "DONE"})
            for record_id, node_id in revealed[start:start + CHUNK]])


def _beat(job: DataJob, **fields) -> None:
    DataJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now(), **fields)


def export_fail(*, job: DataJob, error: str) -> None:
    """Mark the export FAILED, remove whatever part of its file was written, and log the outcome: one
    access-log row (outcome FAILED, no rows handed over). No per-record reveal row exists for a failed export:
    those are written only with the finished file (see `export_produce`)."""
    partial = DataJob.objects.filter(pk=job.pk).values_list("result_path", flat=True).first()
    if partial:
        with contextlib.suppress(OSError, ValueError):
            private_open(partial).unlink(missing_ok=True)
    reveal = bool(job.options.get("reveal"))
    with transaction.atomic():
        failed = DataJob.objects.filter(pk=job.pk).exclude(status__in=(JobStatus.DONE, JobStatus.FAILED)).update(
            status=JobStatus.FAILED, finished_at=timezone.now(), result_path="", error=error)
        if failed:
            access_log_write(user=job.owner, kind=AccessKind.EXPORT_REVEALED if reveal else AccessKind.EXPORT,
                             purpose=job.options.get("purpose", ""), rows=0,
                             detail={"job": job.pk, "record_type": job.record_type, "outcome": "FAILED",
                                     "revealed": 0}, remote_addr=job.options.get("remote_addr"))


def export_produce(job: DataJob) -> DataJob:
    """Write the export's file and its access-log entries; the job ends DONE (with the file) or FAILED.

    Completion is one transaction: the job turns DONE with its file, its summary row and one EXPORT_REVEALED
    row per record written in clear — all of them, or (a crash, an error) none, and then the job is FAILED
    (`export_fail`, here or by the sweeper) with an outcome row saying so and no file left. While it runs,
    the job's heartbeat is renewed after every chunk."""
    kind = EXPORT_KINDS[job.record_type]
    owner, options = job.owner, job.options
    fmt, reveal, purpose = options.get("format", "xlsx"), bool(options.get("reveal")), options.get("purpose", "")
    filters = options.get("filters", {})
    path = private_path(job.pk, f".{fmt}", role="export")
    # the file's name is kept from the start (a download needs DONE), so a failure or the sweeper finds it
    _beat(job, status=JobStatus.RUNNING, started_at=timezone.now(), attempts=models.F("attempts") + 1,
          result_path=path.name)
    rtype = kind.personal_via or kind.model._meta.model_name
    fields_label = ",".join(kind.personal_fields)
    rows = 0
    revealed: list[tuple[int, int]] = []  # (record id, cell id): small, logged with the finished file
    writer = None
    try:
        qs = export_queryset(kind, scheme=job.scheme, filters=filters, user=owner)
        _beat(job, total=qs.count())
        headers = [bilingual(c.label) for c in kind.columns]
        writer = _CsvWriter(path, headers) if fmt == "csv" else _XlsxWriter(path, headers, job.record_type)
        for obj in qs.iterator(chunk_size=CHUNK):
            clear = None
            record = kind.personal(obj)
            if reveal and can_reveal(owner, record.node):
                clear = {f: clear_value(record, f) for f in kind.personal_fields}
                revealed.append((record.pk, record.node_id))
            writer.row([c.value(obj, clear) for c in kind.columns])
            rows += 1
            if rows % CHUNK == 0:
                _beat(job, done=rows)
        writer.finish(_note(job=job, rows=rows, revealed=len(revealed), filters=filters, reveal=reveal))
        writer = None
        cell = Node.objects.filter(pk=filters["cell"]).first() if str(filters.get("cell", "")).isdigit() else None
        count = len(revealed)
        summary = {"rows": rows, "revealed": count, "masked": rows - count, "format": fmt, "filters": filters,
                   "note": _note(job=job, rows=rows, revealed=count, filters=filters, reveal=reveal)[5:]}
        with transaction.atomic():
            finished = DataJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.DONE, result_path=path.name, total=rows, done=rows, summary=summary,
                finished_at=timezone.now(), heartbeat_at=timezone.now(), error="")
            if not finished:  # swept as stale meanwhile: the sweeper's FAILED stands, the file goes
                raise RuntimeError("export job no longer running")
            _reveal_rows(job=job, owner=owner, rtype=rtype, fields_label=fields_label, purpose=purpose,
                         revealed=revealed)
            access_log_write(user=owner, kind=AccessKind.EXPORT_REVEALED if count else AccessKind.EXPORT,
                             purpose=purpose, node=cell, fields=kind.personal_fields if count else (), rows=rows,
                             detail={"job": job.pk, "record_type": job.record_type, "format": fmt,
                                     "filters": filters, "revealed": count, "outcome": "DONE"},
                             remote_addr=options.get("remote_addr"))
    except Exception:
        if writer is not None:
            writer.abort()
        logger.exception("export job %s failed", job.pk)  # the traceback names no personal value
        export_fail(job=job, error=_("the export failed; try again, or ask the administrator"))
    job.refresh_from_db()
    return job


def export_file_open(*, job: DataJob, user, remote_addr: str | None = None):
    """The file of the owner's finished export, opened for reading (FileNotFoundError / OSError when it is
    gone). Each download of an export holding personal data in clear writes an access-log row (kind
    DOWNLOAD: the job, its revealed rows) and a security-audit row (`people.export_download`) before the
    file is handed over — the first download and every later one."""
    handle = private_open(job.result_path).open("rb")
    revealed = int((job.summary or {}).get("revealed") or 0)
    if revealed:
        try:
            with transaction.atomic():
                cell = job.options.get("filters", {}).get("cell", "")
                node = Node.objects.filter(pk=int(cell)).first() if str(cell).isdigit() else None
                access_log_write(user=user, kind=AccessKind.DOWNLOAD, purpose=job.options.get("purpose", ""),
                                 node=node, fields=EXPORT_KINDS[job.record_type].personal_fields, rows=revealed,
                                 detail={"job": job.pk, "record_type": job.record_type,
                                         "format": job.options.get("format", "")}, remote_addr=remote_addr)
                audit_record(actor=user, action="people.export_download", target=job,
                             summary=f"{job.record_type} #{job.pk}: {revealed} rows in clear",
                             changes={"job": job.pk, "revealed": revealed}, address=remote_addr)
        except BaseException:
            handle.close()
            raise
    return handle

"""Runs of a grid-map import from the management pages, kept in an import record (`core.import_log`).

An upload is first checked (a dry run of `importer.gridmap_import`: its report is kept, nothing written),
then confirmed (the same file run for real). A file of up to GRIDMAP_INLINE_FEATURES features is checked
and run during the request; a larger one by a background task (huey, `territory.tasks`), so a district
map of 20 000 polygons never holds a request for a minute: the record is CHECKING (or RUNNING) with its
progress, and its page refreshes until the report is there. Either way the same two functions below do
the work, and rows that would write outside the user's territory are refused for anyone but
district-wide staff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.selectors import user_scope_paths
from gridgov.core import import_log
from gridgov.territory.gridmaps.importer import gridmap_import
from gridgov.territory.gridmaps.read import FeatureRow, GridMapError, gridmap_read
from gridgov.territory.gridmaps.report import GridMapReport, RowStatus
from gridgov.territory.models import LevelScheme, Node

State = import_log.RecordState


def gridmap_in_background(*, features: int) -> bool:
    """Whether a file of `features` features is checked and run by a background task."""
    return features > settings.GRIDMAP_INLINE_FEATURES


def gridmap_outside_scope(user, scheme: LevelScheme, rows: list[dict]) -> list[dict]:
    """Rows (not rejected) that would write outside the user's territory: an existing cell outside it, or a
    new cell whose parent is outside it. Empty for district-wide staff."""
    paths = user_scope_paths(user)
    if paths is None:
        return []
    live = [r for r in rows if r.get("status") != RowStatus.REJECTED]
    node_paths = dict(Node.objects.filter(pk__in=[r["node_id"] for r in live if r.get("node_id")])
                      .values_list("pk", "path"))
    parent_paths = dict(Node.objects.filter(scheme=scheme, code__in=[r["parent_code"] for r in live
                                                                     if r.get("parent_code")])
                        .values_list("code", "path"))
    out = []
    for r in live:
        path = node_paths.get(r["node_id"]) if r.get("node_id") else parent_paths.get(r.get("parent_code") or "")
        if path is None or not any(path.startswith(p) for p in paths):
            out.append({"row": r["row"], "code": r.get("code", ""), "name": r.get("name", ""),
                        "parent_code": r.get("parent_code", ""),
                        "reason": _("this cell, or the parent it goes under, is outside your territory")})
    return out


def gridmap_report_body(report: GridMapReport, outside: list[dict]) -> dict[str, Any]:
    body = report.to_dict()
    body["outside_scope"] = outside
    return body


def _progress(record: import_log.ImportRecord) -> Callable[[int, int], None]:
    def note(done: int, total: int) -> None:
        record.counts = {"done": done, "total": total}
        import_log.record_save(record)

    return note


def _scheme(record: import_log.ImportRecord) -> LevelScheme:
    scheme = LevelScheme.objects.filter(key=record.options.get("scheme")).first()
    if scheme is None:
        raise ValidationError({"scheme": _("the level scheme %(key)s no longer exists")
                               % {"key": record.options.get("scheme")}})
    return scheme


def _failed(record: import_log.ImportRecord, message: str) -> None:
    record.state, record.message = State.FAILED, message
    import_log.record_save(record)


def gridmap_record_check(*, record: import_log.ImportRecord, user,
                         rows: list[FeatureRow] | None = None) -> import_log.ImportRecord:
    """Dry-run the record's upload (or `rows` already read from it) for `user`; the record ends CHECKED with
    its report, or FAILED with the reason (a file that cannot be read, an unexpected error)."""
    try:
        scheme = _scheme(record)
        if rows is None:
            rows = gridmap_read(path_or_file=import_log.upload_path(record), filename=record.source)
        report = gridmap_import(
            scheme=scheme, rows=rows, level=record.options.get("level") or None, mode=record.options["mode"],
            dry_run=True, actor=user, reason=record.options.get("reason", ""), source=record.source,
            progress=_progress(record) if record.working else None)
    except (GridMapError, ValidationError, OSError) as exc:
        _failed(record, "; ".join(getattr(exc, "messages", None) or [str(exc)]))
        return record
    except Exception:
        _failed(record, _("An unexpected error stopped the check; nothing was written."))
        raise
    record.state, record.counts = State.CHECKED, report.counts
    import_log.record_save(record, report=gridmap_report_body(report, gridmap_outside_scope(user, scheme,
                                                                                            report.to_dict()["rows"])))
    return record


def gridmap_record_run(*, record: import_log.ImportRecord, user) -> import_log.ImportRecord:
    """Run the record's checked upload for real for `user`. The record ends DONE (written), REFUSED (nothing
    written: rows outside the user's territory, or rejected rows in an all-or-nothing file) or FAILED, with
    its report and a message saying why."""
    try:
        scheme = _scheme(record)
        rows = gridmap_read(path_or_file=import_log.upload_path(record), filename=record.source)
        with transaction.atomic():
            report = gridmap_import(
                scheme=scheme, rows=rows, level=record.options.get("level") or None, mode=record.options["mode"],
                dry_run=False, actor=user, reason=record.options.get("reason", ""), source=record.source,
                progress=_progress(record) if record.working else None)
            outside = gridmap_outside_scope(user, scheme, report.to_dict()["rows"]) if report.committed else []
            if outside:
                transaction.set_rollback(True)  # nothing outside the user's territory is written
    except (GridMapError, ValidationError, OSError) as exc:
        _failed(record, _("The import failed and wrote nothing: %(error)s")
                % {"error": "; ".join(getattr(exc, "messages", None) or [str(exc)])})
        return record
    except Exception:
        # an unexpected error (logged as a 500 or by the task): the record must not stay "running" for ever
        _failed(record, _("An unexpected error stopped the import; nothing was written."))
        raise
    body = gridmap_report_body(report, outside)
    if outside:
        body["committed"] = False
        for row in body["rows"]:
            row["written"] = False
        record.state = State.REFUSED
        record.message = _("Nothing was written: %(n)d rows are outside your territory.") % {"n": len(outside)}
    elif report.committed:
        record.state, record.message = State.DONE, ""
    else:
        record.state = State.REFUSED
        record.message = _("Nothing was written: some rows were rejected and the file is imported all or nothing.")
    record.counts = report.counts
    record.finished_at = timezone.now().isoformat()
    import_log.record_save(record, report=body)
    return record

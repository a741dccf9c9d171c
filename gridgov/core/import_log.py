"""Grid-map and catalogue imports run from the management pages, kept so they can be shown again.

Each run is a small record (who, which file, the options, its state, counts and the full report) written
as JSON in the private files directory, beside the uploaded file: the report page and its rejected rows
can be opened again, a dry run can be confirmed without uploading the file twice, and the imports hub
lists the recent runs. A record is its owner's (superusers see all, for support, as with data jobs); its
files go with the other private files after PRIVATE_FILES_DAYS (their names start with "job").

Nothing personal is in a record: grid maps and catalogues are configuration. Records are named by a
random token (never by anything the user typed)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.core.files import private_dir

KINDS = ("gridmap", "catalogue")
TOKEN = re.compile(r"^[0-9a-f]{32}$")
SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


class RecordState(StrEnum):
    CHECKING = "checking"  # a dry run working in the background (a large file); its page shows the progress
    CHECKED = "checked"    # a dry run: the report is ready, nothing written; may be confirmed
    RUNNING = "running"
    DONE = "done"          # written (with or without rejected rows)
    REFUSED = "refused"    # nothing written: the file or its rows were refused
    FAILED = "failed"      # an unexpected error; nothing written


STATE_LABELS = {
    RecordState.CHECKING: _("Checking"),
    RecordState.CHECKED: _("Dry run done"),
    RecordState.RUNNING: _("Running"),
    RecordState.DONE: _("Done"),
    RecordState.REFUSED: _("Nothing written"),
    RecordState.FAILED: _("Failed"),
}


class RecordBusy(Exception):
    """Another request is running this record's import."""


@dataclass
class ImportRecord:
    kind: str
    token: str
    owner_id: int
    source: str
    created_at: str
    options: dict[str, Any] = field(default_factory=dict)
    state: str = RecordState.CHECKED
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""
    upload_suffix: str = ""
    finished_at: str = ""

    @property
    def created(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.created_at)

    @property
    def finished(self) -> dt.datetime | None:
        return dt.datetime.fromisoformat(self.finished_at) if self.finished_at else None

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS.get(RecordState(self.state), self.state))

    @property
    def working(self) -> bool:
        """A background task is checking or running it: its page refreshes until it is done."""
        return self.state in (RecordState.CHECKING, RecordState.RUNNING)

    @property
    def progress(self) -> int:
        """Percent of the rows done while working (from counts "done" / "total")."""
        total = self.counts.get("total") or 0
        return min(100, int(100 * (self.counts.get("done") or 0) / total)) if total else 0

    @property
    def confirmable(self) -> bool:
        return self.state == RecordState.CHECKED and bool(self.upload_suffix)


def _path(kind: str, token: str, tail: str) -> Path:
    if kind not in KINDS or not TOKEN.match(token):
        raise LookupError("no such import record")
    return private_dir() / f"job-{kind}-{token}{tail}"


def _meta_path(kind: str, token: str) -> Path:
    return _path(kind, token, ".json")


def _report_path(kind: str, token: str) -> Path:
    return _path(kind, token, "-report.json")


def upload_path(record: ImportRecord) -> Path:
    return _path(record.kind, record.token, f"-upload{record.upload_suffix}")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def record_create(*, kind: str, owner, source: str, options: dict[str, Any], upload: bytes | None = None,
                  suffix: str = "", state: str = RecordState.CHECKED) -> ImportRecord:
    """A new record for `owner`'s run of an import of `source`; `upload` (the file's bytes) is kept beside
    it when the run may be confirmed later."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    suffix = suffix.lower()
    if upload is not None and not SUFFIX.match(suffix):
        raise ValueError(f"bad file suffix {suffix!r}")
    record = ImportRecord(kind=kind, token=secrets.token_hex(16), owner_id=owner.pk, source=source[:200],
                          created_at=timezone.now().isoformat(), options=options, state=state,
                          upload_suffix=suffix if upload is not None else "")
    if upload is not None:
        upload_path(record).write_bytes(upload)
    _write_json(_meta_path(kind, record.token), asdict(record))
    return record


def record_save(record: ImportRecord, *, report: dict[str, Any] | None = None) -> None:
    if record.state not in (RecordState.CHECKING, RecordState.CHECKED, RecordState.RUNNING) \
            and not record.finished_at:
        record.finished_at = timezone.now().isoformat()
    if report is not None:
        _write_json(_report_path(record.kind, record.token), report)
    _write_json(_meta_path(record.kind, record.token), asdict(record))


def _visible(record: ImportRecord, user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and (user.is_superuser or record.owner_id == user.pk))


def record_get(*, kind: str, token: str, user) -> ImportRecord:
    """The record, if `user` may see it; LookupError otherwise (the views answer 404)."""
    path = _meta_path(kind, token)
    try:
        record = ImportRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise LookupError("no such import record") from exc
    if record.kind != kind or not _visible(record, user):
        raise LookupError("no such import record")
    return record


def record_report(record: ImportRecord) -> dict[str, Any]:
    try:
        return json.loads(_report_path(record.kind, record.token).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def records_for(user, *, kind: str, limit: int = 20) -> list[ImportRecord]:
    """The user's most recent runs of `kind` (all users' for a superuser)."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    out = []
    for path in private_dir().glob(f"job-{kind}-*.json"):
        if path.name.endswith("-report.json"):
            continue
        try:
            record = ImportRecord(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if _visible(record, user):
            out.append(record)
    out.sort(key=lambda r: r.created_at, reverse=True)
    return out[:limit]


@contextlib.contextmanager
def record_lock(record: ImportRecord):
    """Only one request runs a record's import (a second click, a second tab): RecordBusy otherwise."""
    lock = _path(record.kind, record.token, ".lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError as exc:
        raise RecordBusy from exc
    try:
        yield
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)

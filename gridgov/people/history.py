"""The history of base-data records: one `RecordHistory` row per write, holding the record after it.

Snapshots keep sealed values sealed (a history row never holds an ID number or phone in clear) and
are blanked when a record is erased on a personal-information request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.utils import timezone

from gridgov.people.models import HistoryAction, RecordHistory

# bookkeeping columns that say nothing about the record itself
SKIP = {"id", "version", "created_at", "updated_at", "created_by", "updated_by"}


def record_type(model_or_obj) -> str:
    return model_or_obj._meta.model_name


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The record's own fields as stored (foreign keys as ids), JSON-ready."""
    return {f.attname: _plain(getattr(obj, f.attname)) for f in obj._meta.concrete_fields if f.name not in SKIP}


def snapshot_fields(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.name not in SKIP]


def history_row(*, obj: models.Model, action: str, actor=None, source: str = "", changed: list[str] | None = None,
                at: dt.datetime | None = None) -> RecordHistory:
    """An unsaved history row for `obj` as it is now (for bulk writers, which save many at once)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return RecordHistory(record_type=record_type(obj), record_id=obj.pk, version=obj.version, action=action,
                         at=at or timezone.now(), actor=user, source=source[:60], changed=sorted(changed or []),
                         snapshot=snapshot(obj))


def history_append(*, obj: models.Model, action: str, actor=None, source: str = "",
                   changed: list[str] | None = None) -> RecordHistory:
    row = history_row(obj=obj, action=action, actor=actor, source=source, changed=changed)
    row.save(force_insert=True)
    return row


def record_history(obj_or_model, pk: int | None = None):
    """The history rows of one record, oldest first."""
    rtype = record_type(obj_or_model)
    return RecordHistory.objects.filter(record_type=rtype, record_id=pk if pk is not None else obj_or_model.pk)


def record_as_of(model: type[models.Model], pk: int, on: dt.date | dt.datetime) -> RecordHistory | None:
    """The history row holding the record's state at the end of day `on` (or at the instant `on`), or
    None when the record did not exist yet."""
    if isinstance(on, dt.datetime):
        until = on
    else:
        until = timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min))
    return (RecordHistory.objects.filter(record_type=record_type(model), record_id=pk, at__lt=until)
            .order_by("-version").first())


def history_erase(model: type[models.Model], pk: int, *, actor=None, source: str = "") -> None:
    """Blank every snapshot of the record and append the erasure (its last version + 1)."""
    rows = RecordHistory.objects.filter(record_type=record_type(model), record_id=pk)
    last = rows.order_by("-version").values_list("version", flat=True).first() or 0
    rows.update(snapshot={}, changed=[])
    user = actor if getattr(actor, "is_authenticated", False) else None
    RecordHistory.objects.create(record_type=record_type(model), record_id=pk, version=last + 1,
                                 action=HistoryAction.ERASE, at=timezone.now(), actor=user, source=source[:60])

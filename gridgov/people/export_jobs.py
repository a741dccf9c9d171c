"""Starting a list export: small lists are written during the request, longer ones queued on `tasks`
once the transaction commits; the writing itself is in `exports`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.people import tasks
from gridgov.people.exports import (
    EXPORT_KINDS,
    FORMATS,
    export_produce,
    export_queryset,
    filters_clean,
)
from gridgov.people.models import DataJob, JobKind, JobStatus
from gridgov.privacy.access import purpose_clean, reveal_paths
from gridgov.territory.models import LevelScheme


def export_job_create(*, user, scheme: LevelScheme, record_type: str, filters: dict[str, Any] | None, fmt: str,
                      reveal: bool = False, purpose: str = "", remote_addr: str | None = None) -> DataJob:
    """An export of the list `record_type` (residents, households, houses, entities, memberships) of
    `scheme`, filtered like the API list, as `fmt` (xlsx or csv). Revealing needs a purpose and a role
    that may reveal personal data somewhere; rows outside the cells where it may stay masked. Lists up to
    PEOPLE_EXPORT_INLINE_ROWS rows are written now, longer ones by a task after the commit."""
    kind = EXPORT_KINDS.get(record_type)
    if kind is None:
        raise ValidationError({"record_type": _("one of %(k)s") % {"k": ", ".join(EXPORT_KINDS)}})
    if fmt not in FORMATS:
        raise ValidationError({"format": _("one of %(f)s") % {"f": ", ".join(FORMATS)}})
    cleaned = filters_clean(kind, filters)
    qs = export_queryset(kind, scheme=scheme, filters=cleaned, user=user)  # validates the filters
    if reveal:
        purpose = purpose_clean(purpose)
        if reveal_paths(user) == []:
            raise PermissionDenied(_("your role may not reveal personal data: export the list masked"))
    else:
        purpose = " ".join((purpose or "").split())[:300]
    total = qs.count()
    job = DataJob.objects.create(
        kind=JobKind.EXPORT, record_type=record_type, scheme=scheme, owner=user, status=JobStatus.QUEUED,
        total=total, heartbeat_at=timezone.now(), file_name=f"{record_type}-{timezone.localdate():%Y%m%d}.{fmt}",
        options={"format": fmt, "filters": cleaned, "reveal": reveal, "purpose": purpose,
                 "remote_addr": remote_addr})
    if total <= settings.PEOPLE_EXPORT_INLINE_ROWS:
        return export_produce(job)
    tasks.export_run_queue(job.pk)
    return job

"""Background tasks of the territory: checking and running large grid-map imports (`gridmaps.runs`)."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from huey.contrib.djhuey import db_task

from gridgov.core import import_log
from gridgov.territory.gridmaps import runs

logger = logging.getLogger(__name__)


def _record(token: str, owner_id: int):
    user = get_user_model().objects.filter(pk=owner_id, is_active=True).first()
    if user is None:
        return None, None
    try:
        return import_log.record_get(kind="gridmap", token=token, user=user), user
    except LookupError:
        return None, user


@db_task()
def gridmap_check_task(token: str, owner_id: int) -> None:
    """Dry-run a large uploaded grid map; its record ends CHECKED or FAILED. Idempotent: a record that is
    no longer being checked is left alone."""
    record, user = _record(token, owner_id)
    if record is None or record.state != import_log.RecordState.CHECKING:
        logger.info("grid map check %s: nothing to do", token)
        return
    runs.gridmap_record_check(record=record, user=user)


@db_task()
def gridmap_run_task(token: str, owner_id: int) -> None:
    """Run a large checked grid map for real; its record ends DONE, REFUSED or FAILED. Only a record the
    confirm page set RUNNING is run, and only once at a time (the record's lock)."""
    record, user = _record(token, owner_id)
    if record is None or record.state != import_log.RecordState.RUNNING or record.finished_at:
        logger.info("grid map run %s: nothing to do", token)
        return
    try:
        with import_log.record_lock(record):
            runs.gridmap_record_run(record=record, user=user)
    except import_log.RecordBusy:
        logger.info("grid map run %s: running already", token)

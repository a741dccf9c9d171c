"""Background work of the security audit log: the daily retention job."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from gridgov.core.audit import audit_prune

PRUNE_LOCK = "core-audit-prune"


@db_periodic_task(crontab(minute="17", hour="3"))
@lock_task(PRUNE_LOCK)
def audit_prune_task() -> int:
    """Drop audit rows older than AUDIT_RETENTION_DAYS (never younger, never below 180 days)."""
    return audit_prune()

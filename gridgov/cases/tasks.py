"""Background work of the closed loop: the time-limit watch, every minute, and the text messages to
reporters (`reporter_sms_task`, defined beside its service in `services/reporter.py` and registered with
the consumer here).

The watch is idempotent (see `watch.py`), so a missed minute is caught up by the next run; the huey
lock only keeps a slow run (after downtime, a million open cases) from being joined by the next
minute's. SqliteHuey has no lock expiry: start the consumer with `run_huey --flush-locks` so a worker
killed mid-run does not leave the lock behind."""

from __future__ import annotations

from dataclasses import asdict

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from gridgov.cases.services.reporter import reporter_sms_task  # noqa: F401  (registers the task with the consumer)
from gridgov.cases.watch import sla_watch

WATCH_LOCK = "cases-sla-watch"


@db_periodic_task(crontab(minute="*"))
@lock_task(WATCH_LOCK)
def sla_watch_task() -> dict:
    return asdict(sla_watch())

"""Private files (import uploads, rejected rows, exports): they hold personal data, so they live outside
MEDIA_ROOT and STATIC_ROOT under PRIVATE_FILES_DIR, are named by job id and a random token (never by
anything personal), are served only by views that check the job's owner, and are removed after
PRIVATE_FILES_DAYS by a periodic task."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from pathlib import Path

from django.conf import settings
from django.utils import timezone


def private_dir() -> Path:
    path = Path(settings.PRIVATE_FILES_DIR)
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a mounted volume may refuse; its own permissions then apply
        path.chmod(0o700)
    return path


def private_path(job_id: int, suffix: str, *, role: str) -> Path:
    """A fresh file name for a job's `role` (upload, rejected, export) with the given suffix (".xlsx")."""
    return private_dir() / f"job{job_id}-{role}-{secrets.token_hex(8)}{suffix}"


def private_open(relative_or_absolute: str) -> Path:
    """The stored path, checked to lie inside PRIVATE_FILES_DIR (a tampered job row cannot point elsewhere)."""
    base = private_dir().resolve()
    path = (base / relative_or_absolute).resolve()
    if base not in path.parents:
        raise FileNotFoundError("not a private file")
    return path


def private_files_purge(*, older_than_days: int | None = None) -> int:
    """Remove private files older than the retention period; returns how many were removed."""
    days = settings.PRIVATE_FILES_DAYS if older_than_days is None else older_than_days
    cutoff = (timezone.now() - dt.timedelta(days=days)).timestamp()
    removed = 0
    for path in private_dir().glob("job*"):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed

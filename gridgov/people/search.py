"""Searching residents by personal data (ID number, phone, name): never an oracle.

An exact search answers "is this number one of your residents?", and a mask plus a few such answers
gives the number back (region + last four + check digit leave a few thousand birth dates; one more
listed field, a few dozen). So a search by personal data is a reveal in all but name, and follows the
reveal rule (`access.reveal_paths`, written once):
- only users who may reveal personal data somewhere search at all (anyone else: 403), and they find
  only residents in the cells where they may reveal — a resident elsewhere is never matched;
- a purpose is stated (`access.purpose_clean`), as for a reveal;
- every search writes one `AccessLog` row (kind SEARCH: by which field, the purpose, how many and which
  records it found) and one security-audit row (`people.search`), in one transaction with the read. The
  searched value is never stored: the audit keeps a short keyed digest, enough to see one number
  searched again and again, useless to recover it;
- searches are counted per user in the shared cache, PEOPLE_SEARCH_RATE (e.g. "30/h") at most; the
  next one is refused (`SearchThrottled`) until the window ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from gridgov.accounts.selectors import paths_q
from gridgov.core.audit import audit_record
from gridgov.core.ratelimit import ratelimit_hit
from gridgov.people.models import Resident
from gridgov.people.selectors import resident_by_id_number, resident_by_phone
from gridgov.privacy import crypto
from gridgov.privacy.access import purpose_clean, reveal_paths
from gridgov.privacy.identifiers import PERSON, id_number_clean, phone_clean
from gridgov.privacy.models import AccessKind, AccessLog

BY = ("id_number", "phone", "name", "name_prefix")
LIMIT = 50
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SearchThrottled(PermissionDenied):
    """Too many searches by this user in the current window; `wait` seconds until the next one."""

    def __init__(self, wait: int):
        self.wait = wait
        super().__init__(_("too many searches by personal data: try again in %(n)d seconds") % {"n": wait})


@dataclass(frozen=True)
class SearchResult:
    rows: list[Resident]
    truncated: bool


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


def search_rate() -> tuple[int, int]:
    """PEOPLE_SEARCH_RATE as (searches, window seconds): "30/h", "5/m", "100/d", "10/300s"."""
    match = _RATE.match(str(settings.PEOPLE_SEARCH_RATE).lower())
    if match is None:
        raise ValueError(f"PEOPLE_SEARCH_RATE must look like 30/h, got {settings.PEOPLE_SEARCH_RATE!r}")
    count, digits, unit = match.groups()
    return int(count), int(digits or 1) * _PERIODS[unit]


def search_throttle(user, *, remote_addr: str | None = None) -> None:
    """Count one search for `user` on the shared rate-limit counters; SearchThrottled past the rate."""
    allowed, window = search_rate()
    hit = ratelimit_hit(scope="people-search", key=str(user.pk), limit=allowed, seconds=window)
    if hit.over:
        audit_record(actor=user, action="people.search_throttled",
                     summary=f"{hit.count} searches in {window} s"[:300],
                     changes={"rate": str(settings.PEOPLE_SEARCH_RATE), "used": hit.count}, address=remote_addr)
        raise SearchThrottled(wait=hit.retry_after)


def _lookup(qs: QuerySet[Resident], by: str, value: str) -> tuple[QuerySet[Resident], str]:
    """The matches, and a keyed digest of the cleaned value under a label of its own (for the audit: it
    matches no stored column, so the audit log cannot be joined to the residents through it)."""
    if by == "id_number":
        matches, key = resident_by_id_number(qs, value), id_number_clean(value).number
    elif by == "phone":
        matches, key = resident_by_phone(qs, value), phone_clean(value, kind=PERSON, required=True)
    else:
        key = " ".join((value or "").split())
        if not key:
            raise ValidationError({"name": _("give the name to search for")})
        matches = qs.filter(name__startswith=key) if by == "name_prefix" else qs.filter(name=key)
    return matches, crypto.digest(key, field=f"people.search.{by}")


def resident_search(*, user, qs: QuerySet[Resident], by: str, value: str, purpose: str,
                    remote_addr: str | None = None, limit: int = LIMIT) -> SearchResult:
    """Residents of `qs` (already the caller's scope) whose `by` (id_number, phone, name, name_prefix)
    matches `value`, among those in the cells where `user` may reveal personal data; logged and counted
    as the module says. PermissionDenied when the user may reveal nowhere, SearchThrottled past the rate,
    ValidationError (keyed by field) for a missing purpose or a malformed value."""
    if by not in BY:
        raise ValidationError({"by": _("search by one of %(b)s") % {"b": ", ".join(BY)}})
    paths = reveal_paths(user)
    if paths == []:
        raise PermissionDenied(_("your role may not reveal personal data, so it may not search by ID number, phone "
                                 "or name either: find the resident through the lists"))
    purpose = purpose_clean(purpose)
    search_throttle(user, remote_addr=remote_addr)
    matches, found_digest = _lookup(qs, by, value)
    if paths is not None:
        matches = matches.filter(paths_q(paths, "node__path"))
    rows = list(matches.order_by("pk")[:limit + 1])
    truncated = len(rows) > limit
    rows = rows[:limit]
    field = "name" if by == "name_prefix" else by
    with transaction.atomic():
        AccessLog.objects.create(
            user=user, kind=AccessKind.SEARCH, record_type="resident",
            record_id=rows[0].pk if len(rows) == 1 else None, node=rows[0].node if len(rows) == 1 else None,
            fields=field, purpose=purpose, rows=len(rows), remote_addr=remote_addr,
            detail={"by": by, "found": [r.pk for r in rows], "truncated": truncated})
        audit_record(actor=user, action="people.search", summary=f"{by}: {len(rows)} found"[:300],
                     changes={"by": by, "found": [r.pk for r in rows], "purpose": purpose,
                              "value_digest": found_digest[:16]}, address=remote_addr)
    return SearchResult(rows=rows, truncated=truncated)

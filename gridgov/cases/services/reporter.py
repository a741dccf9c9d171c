"""The reporter's contact: sealed at intake, revealed only to a user allowed to see who reported, after
logging the reveal."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from gridgov.cases.grants import sees_reporter
from gridgov.cases.models import Case
from gridgov.people import crypto
from gridgov.people.access import access_log_write, purpose_clean
from gridgov.people.models import AccessKind


def reporter_contact(case: Case) -> dict[str, str]:
    """The reporter's contact in clear: only for callers that checked `grants.sees_reporter` and log it."""
    return {"name": crypto.unseal(case.reporter_name_sealed, field="cases.case.reporter_name"),
            "phone": crypto.unseal(case.reporter_phone_sealed, field="cases.case.reporter_phone")}


@transaction.atomic
def case_reporter_reveal(*, user, case: Case, purpose: str, remote_addr: str | None = None) -> dict:
    """The reporter's clear contact for a user allowed to see who reported the case, after logging the
    reveal (who, when, which case, why) in the personal-data access log."""
    if not sees_reporter(user, case):
        raise PermissionDenied(_("your role may not see who reported this case"))
    purpose = purpose_clean(purpose)
    access_log_write(user=user, kind=AccessKind.REVEAL, purpose=purpose, record=case, node=case.node,
                     fields=("reporter_name", "reporter_phone"), remote_addr=remote_addr)
    contact = reporter_contact(case)
    return {"user": case.reporter.get_username() if case.reporter_id else None, "name": contact["name"],
            "phone": contact["phone"], "anonymous": case.anonymous}

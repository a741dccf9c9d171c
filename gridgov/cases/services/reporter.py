"""The reporter's contact: sealed at intake, revealed only to a user allowed to see who reported, after
logging the reveal; and the text message telling a reporter who left a mobile how their case moves on.

The message (`reporter_sms_send`, run by the huey task `reporter_sms_task`, queued on commit by
`notifications.reporter_notice_after`) goes out once per case and step (`Transition.step`), naming the
step, the tracking code and the tracking page — never a name, never the description, never who handles
it (`reporter_notices`). The `Notification` model cannot hold these (its rows need a recipient login; a
resident has none) and no model change is wanted, so two guards stand in for a unique row:
1. the event history: a step's message is sent only for the first event that reached it (a case reworked
   and reported back again does not text twice) — decided from append-only `CaseEvent` rows, so every
   worker and every retry decides the same;
2. a claim in the task queue's own key-value store (`put_if_empty` on "reporter-sms:<tracking code>:<step>",
   atomic in SQLite and Redis), taken before sending and released if sending fails, so a task delivered
   twice does not text twice. A gateway failure is logged and the task retried.

The task is defined here, beside the service it runs, and registered with the consumer by `cases/tasks.py`
(as `people.exports.export_run` is): the transition service queues it, and `cases/tasks.py` runs the
time-limit watch, which takes transitions, so a task there queued from here would close an import cycle.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from huey.contrib.djhuey import HUEY, db_task

from gridgov.cases.grants import sees_reporter
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.reporter_notices import reporter_sms_text
from gridgov.cases.transitions import TABLE
from gridgov.privacy import crypto
from gridgov.privacy.access import access_log_write, purpose_clean
from gridgov.privacy.identifiers import MOBILE
from gridgov.privacy.models import AccessKind

logger = logging.getLogger(__name__)

RETRIES = 5
RETRY_DELAY_SECONDS = 120


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


def _claim_key(case: Case, step: str) -> str:
    return f"gridgov:reporter-sms:{case.tracking_code}:{step}"


def reporter_sms_send(*, case_id: int, step: str, seq: int) -> bool:
    """Send the reporter the message of `step`, reached by event `seq`. Returns whether a message went out;
    raises when the gateway failed (the task retries)."""
    from gridgov.privacy.sms import send_sms

    actions = [t.action for t in TABLE if t.step == step]
    case = Case.objects.filter(pk=case_id).first()
    if case is None or not case.reporter_phone_sealed or not actions:
        return False
    first = (CaseEvent.objects.filter(case_id=case_id, kind__in=actions).order_by("seq")
             .values_list("seq", flat=True).first())
    if first != seq:
        return False  # the step was reached before (rework, reopening): the reporter was told then
    key = _claim_key(case, step)
    if not HUEY.put_if_empty(key, "1"):
        return False
    try:
        # unsealed in memory for the gateway only: never logged, never stored elsewhere
        phone = reporter_contact(case)["phone"]
        if not MOBILE.match(phone):
            logger.info("case %s: the reporter left no mobile number, no SMS for step %s", case.pk, step)
            return False
        with translation.override(settings.LANGUAGE_CODE):
            text = reporter_sms_text(case, step)
        send_sms(phone, text)
    except Exception:
        HUEY.delete(key)
        logger.warning("case %s: the SMS for step %s failed; the task will retry", case.pk, step, exc_info=True)
        raise
    logger.info("case %s: reporter told by SMS of step %s", case.pk, step)
    return True


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS)
def reporter_sms_task(case_id: int, step: str, seq: int) -> bool:
    return reporter_sms_send(case_id=case_id, step=step, seq=seq)

"""Telling a reporter who left a mobile number how their case moves on: one text message when it is
registered (or not taken up), dispatched, handled and closed, naming the step, the tracking code and the
tracking page — never a name, never the description, never who handles it.

- `reporter_notice_after` is called by `services._notify_after` inside the transition's transaction; it only
  registers an on-commit hook, so a rolled-back transition tells nobody and a slow or broken gateway never
  holds up or undoes a transition (the hook is `robust`: a queue failure is logged, not raised);
- the huey task `reporter_sms_task` sends the message; a gateway failure is logged and the task retried.

Once per case and step. The `Notification` model cannot hold these (its rows need a recipient login; a
resident has none) and no model change is wanted, so two guards stand in for a unique row:
1. the event history: a step's message is sent only for the first event that reached it (a case reworked
   and reported back again does not text twice) — decided from append-only `CaseEvent` rows, so every
   worker and every retry decides the same;
2. a claim in the task queue's own key-value store (`put_if_empty` on "reporter-sms:<tracking code>:<step>",
   atomic in SQLite and Redis), taken before sending and released if sending fails, so a task delivered
   twice does not text twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from huey.contrib.djhuey import HUEY, db_task

from gridgov.cases.models import Case, CaseEvent
from gridgov.privacy.identifiers import MOBILE

logger = logging.getLogger("gridgov.cases.reporter_notices")

# the step a reporter is told about, per action of the transition table
STEP_OF_ACTION = {
    "register": "registered",
    "reject": "rejected",
    "dispatch": "dispatched",
    "report_back": "handled",
    "self_handle": "handled",
    "verify_pass": "closed",
    "auto_close": "closed",
}
ACTIONS_OF_STEP: dict[str, tuple[str, ...]] = {}
for _action, _step in STEP_OF_ACTION.items():
    ACTIONS_OF_STEP[_step] = (*ACTIONS_OF_STEP.get(_step, ()), _action)

RETRIES = 5
RETRY_DELAY_SECONDS = 120


def tracking_url(case: Case) -> str:
    return settings.SITE_URL + reverse("cases:track", args=[case.tracking_code])


def reporter_sms_text(case: Case, step: str) -> str:
    """The message for `step`: what happened, the tracking code and where to follow it. Nothing else."""
    values = {"code": case.tracking_code, "url": tracking_url(case)}
    texts = {
        "registered": _("Your report %(code)s has been registered as a case and will be handled. Follow it: "
                        "%(url)s"),
        "rejected": _("Your report %(code)s was not taken up as a case. See its status: %(url)s"),
        "dispatched": _("Your report %(code)s has been passed to those who will handle it. Follow it: %(url)s"),
        "handled": _("The problem of your report %(code)s has been handled and will be checked. Follow it: "
                     "%(url)s"),
        "closed": _("Your report %(code)s is closed. Tell us how it was handled: %(url)s"),
    }
    return texts[step] % values


def reporter_notice_after(case: Case, action: str, *, event: CaseEvent) -> None:
    """Queue the reporter's text message for this transition, once the transaction commits."""
    step = STEP_OF_ACTION.get(action)
    if step is None or not case.reporter_phone_masked:
        return
    case_id, seq = case.pk, event.seq
    transaction.on_commit(lambda: reporter_sms_task(case_id, step, seq), robust=True)


def _claim_key(case: Case, step: str) -> str:
    return f"gridgov:reporter-sms:{case.tracking_code}:{step}"


def reporter_sms_send(*, case_id: int, step: str, seq: int) -> bool:
    """Send the reporter the message of `step`, reached by event `seq`. Returns whether a message went out;
    raises when the gateway failed (the task retries)."""
    from gridgov.cases.services import reporter_contact
    from gridgov.integrations.sms import send_sms

    case = Case.objects.filter(pk=case_id).first()
    if case is None or not case.reporter_phone_sealed or step not in ACTIONS_OF_STEP:
        return False
    first = (CaseEvent.objects.filter(case_id=case_id, kind__in=ACTIONS_OF_STEP[step]).order_by("seq")
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

"""The notices a case's intake and transitions send, as the action's `Transition.notices` say: to the
assignee, the owner, who checks or decides, those a whistle calls, the leaders of the levels an urgent
case is told to; and (on commit) the step a reporter who left a mobile is texted (`Transition.step`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from gridgov.cases.grants import round_handled_by
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.notify import (
    ancestors_at_depths,
    case_assignee_ids,
    leaders_at,
    notify,
    office_ids_over,
    report_in_recipients,
)
from gridgov.cases.policy import level_notify_depths, policy_for
from gridgov.cases.services.reporter import reporter_sms_task
from gridgov.cases.transitions import LEVEL_NOTICE, Audience, Transition


def level_notify(case: Case, *, policy=None) -> None:
    """Urgent and major cases are told to the leaders and offices of the levels the policy names."""
    depths = level_notify_depths(policy or policy_for(case.scheme), case.report_level)
    if not depths:
        return
    users = set()
    for node in ancestors_at_depths(case.node, depths):
        users |= leaders_at(node)
    notify(users=users, case=case, kind=f"level_{case.report_level.lower()}",
           key=f"case{case.pk}:level:{case.report_level}",
           text=str(LEVEL_NOTICE.text) % {"level": case.get_report_level_display(), "number": case.number,
                                          "cell": case.node.name})


def _audience(case: Case, to: Audience) -> tuple[set, dict]:
    """The users a notice goes to, and the values its text names beyond the case and the action."""
    if to == Audience.ASSIGNEES:
        return case_assignee_ids(case), {}
    owner = {case.owner} if case.owner_id else set()
    if to == Audience.OWNER:
        return owner, {}
    if to == Audience.CHECKERS:
        # the owner and the grid offices over the cell, never the round's handlers (an owner who accepted
        # the case is one of them: 监督与处置分离)
        candidates = office_ids_over(case.node) | {u.pk for u in owner if u.is_active}
        return candidates - round_handled_by(case, candidates), {}
    if to == Audience.REPORT_IN:
        escalation = case.escalations.order_by("-raised_at", "-pk").first()
        departments = [row.department for row in escalation.report_ins.select_related("department")]
        due = timezone.localtime(escalation.report_in_due_at).strftime("%m-%d %H:%M")
        return report_in_recipients(escalation, departments), {"due": due}
    raise ValueError(to)


def notices_after(case: Case, t: Transition, *, event: CaseEvent, policy) -> None:
    """Send the notices of transition `t`, just taken (event `event`), in its transaction."""
    reporter_notice_after(case, t, event=event)
    for notice in t.notices:
        if notice.to == Audience.LEVELS:
            level_notify(case, policy=policy)
            continue
        users, values = _audience(case, notice.to)
        notify(users=users, case=case, kind=t.action, key=f"case{case.pk}:e{event.seq}",
               text=str(notice.text) % {"number": case.number, "what": t.label, **values})


def reporter_notice_after(case: Case, t: Transition, *, event: CaseEvent) -> None:
    """Queue the reporter's text message of the step `t` reaches, once the transaction commits: a
    rolled-back transition tells nobody, and a broken queue never undoes one (`robust`: logged)."""
    if not t.step or not case.reporter_phone_masked:
        return
    case_id, step, seq = case.pk, t.step, event.seq
    transaction.on_commit(lambda: reporter_sms_task(case_id, step, seq), robust=True)

"""The notices a case's intake and transitions send: to the handlers, to who checks or decides, to the
leaders of the levels an urgent case is told to, and (on commit) to a reporter who left a mobile."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases.grants import user_standing
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.notify import ancestors_at_depths, assignee_users, leaders_at, notify, offices_over
from gridgov.cases.policy import level_notify_depths, policy_for
from gridgov.cases.reporter_notices import reporter_notice_after
from gridgov.cases.transitions import TRANSITIONS


def level_notify(case: Case, *, kind: str, policy=None) -> None:
    """Urgent and major cases are told to the leaders and offices of the levels the policy names."""
    depths = level_notify_depths(policy or policy_for(case.scheme), case.report_level)
    if not depths:
        return
    users = set()
    for node in ancestors_at_depths(case.node, depths):
        users |= leaders_at(node)
    notify(users=users, case=case, kind=f"level_{case.report_level.lower()}",
           key=f"case{case.pk}:level:{case.report_level}",
           text=_("%(level)s case %(number)s in %(cell)s") % {"level": case.get_report_level_display(),
                                                           "number": case.number, "cell": case.node.name})


def notices_after(case: Case, action: str, *, event: CaseEvent, policy) -> None:
    reporter_notice_after(case, action, event=event)  # a text message to a reporter who left a mobile, on commit
    key = f"case{case.pk}:e{event.seq}"
    number = case.number
    if action in ("dispatch", "reroute", "verify_fail", "reopen"):
        notify(users=assignee_users(case), case=case, kind=action, key=key,
               text=_("case %(number)s is yours to handle") % {"number": number})
    elif action == "return":
        notify(users={case.owner} if case.owner_id else set(), case=case, kind=action, key=key,
               text=_("case %(number)s: %(what)s") % {"number": number, "what": TRANSITIONS[action].label})
    elif action in ("report_back", "request_extension", "request_parking"):
        # told to who checks or decides: the owner and the grid offices over the cell, never the round's
        # handlers (an owner who accepted the case is one of them: 监督与处置分离)
        users = ({case.owner} if case.owner_id else set()) | offices_over(case.node)
        notify(users={u for u in users if not user_standing(u, case).handled_round}, case=case, kind=action,
               key=key, text=_("case %(number)s: %(what)s") % {"number": number, "what": TRANSITIONS[action].label})
    elif action in ("approve_extension", "reject_extension", "approve_parking", "reject_parking"):
        notify(users=assignee_users(case), case=case, kind=action, key=key,
               text=_("case %(number)s: %(what)s") % {"number": number, "what": TRANSITIONS[action].label})
    elif action == "whistle":
        escalation = case.escalations.order_by("-raised_at", "-pk").first()
        users = leaders_at(escalation.node)
        for row in escalation.report_ins.select_related("department"):
            for team in row.department.teams.all():
                users |= set(team.members.filter(is_active=True))
        notify(users=users, case=case, kind="whistle", key=key,
               text=_("whistle on case %(number)s: report in by %(due)s")
               % {"number": number, "due": timezone.localtime(escalation.report_in_due_at).strftime("%m-%d %H:%M")})
    elif action == "register":
        level_notify(case, kind="register", policy=policy)

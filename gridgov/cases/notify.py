"""Telling people about a case. Each notice is a `Notification` row with a key, so a retried
transition, a watch run twice or a run after downtime writes it once. Delivery beyond the in-app inbox
(SMS, messaging apps) goes through adapters that read these rows, enqueued on commit."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from gridgov.accounts.models import Assignment, Department, RoleCategory, Team
from gridgov.cases.models import AssigneeKind, Case, Escalation, Notification
from gridgov.cases.selectors import case_assigned_q
from gridgov.territory.models import Node


def assignee_users(case: Case) -> set:
    """The active users who are the case's assignee (`selectors.case_assigned_q`, asked per user)."""
    if not (case.assignee_user_id or case.assignee_team_id or case.assignee_node_id):
        return set()
    assigned = Case.objects.filter(case_assigned_q(OuterRef("pk")), pk=case.pk)
    return set(get_user_model().objects.filter(Exists(assigned), is_active=True))


def leaders_at(node: Node) -> set:
    """Logins of leaders and office staff assigned to `node`."""
    return {a.person.user for a in Assignment.objects.current()
            .filter(node=node, role__category__in=[RoleCategory.LEADER, RoleCategory.OFFICE],
                    person__user__isnull=False).select_related("person__user")}


def offices_over(node: Node) -> set:
    """Logins of grid office staff assigned to `node` or a cell above it: who verifies a case and decides on
    its applications by default."""
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    return {a.person.user for a in Assignment.objects.current()
            .filter(node_id__in=ids, role__category=RoleCategory.OFFICE, person__user__isnull=False,
                    person__user__is_active=True).select_related("person__user")}


def report_in_recipients(escalation: Escalation, departments: Iterable[Department]) -> set:
    """Who is told of a whistle and of its overdue report-ins: the leaders and offices of the level the case
    was raised to, and the active members of the departments called (all of them for the whistle, the late
    one for an overdue report-in)."""
    users = leaders_at(escalation.node)
    for department in departments:
        for team in department.teams.all():
            users |= set(team.members.filter(is_active=True))
    return users


def ancestors_at_depths(node: Node, depths: Iterable[int]) -> list[Node]:
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    wanted = set(depths)
    return [n for n in Node.objects.filter(pk__in=ids).select_related("level") if n.level.depth in wanted]


def notify(*, users: Iterable, case: Case, kind: str, key: str, text: str) -> int:
    """Write one notification per user for `key`; users already told (same key) are skipped by the
    (recipient, key) constraint, which also absorbs a concurrent writer of the same key. One statement
    whatever the number of users. Returns how many users the notice was for (written now or before)."""
    wanted = {u.pk: u for u in users if u is not None}
    if not wanted:
        return 0
    key = key[:120]
    now = timezone.now()
    rows = [Notification(recipient=u, case=case, kind=kind, key=key, text=text[:300], created_at=now)
            for u in wanted.values()]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def assignee_user_ids(cases: dict[int, Case]) -> dict[int, set[int]]:
    """`assignee_users` of many cases at once (case id → user ids), in at most three queries whatever the
    number of cases: the assigned person, the assigned team's members, those holding a current territorial
    role in the assigned community; active users only."""
    out: dict[int, set[int]] = {}
    users = {c.assignee_user_id for c in cases.values() if c.assignee_user_id}
    active = set(get_user_model().objects.filter(pk__in=users, is_active=True).values_list("pk", flat=True)) \
        if users else set()
    teams: dict[int, set[int]] = {}
    team_ids = {c.assignee_team_id for c in cases.values() if c.assignee_team_id}
    if team_ids:
        for team_id, user_id in (Team.members.through.objects.filter(team_id__in=team_ids, user__is_active=True)
                                 .values_list("team_id", "user_id")):
            teams.setdefault(team_id, set()).add(user_id)
    communities: dict[int, set[int]] = {}
    node_ids = {c.assignee_node_id for c in cases.values()
                if c.assignee_kind == AssigneeKind.COMMUNITY and c.assignee_node_id}
    if node_ids:
        for node_id, user_id in (Assignment.objects.current()
                                 .filter(node_id__in=node_ids, role__grants_scope=True,
                                         person__user__isnull=False, person__user__is_active=True)
                                 .values_list("node_id", "person__user_id")):
            communities.setdefault(node_id, set()).add(user_id)
    for pk, case in cases.items():
        ids = {case.assignee_user_id} & active if case.assignee_user_id else set()
        ids |= teams.get(case.assignee_team_id, set())
        if case.assignee_kind == AssigneeKind.COMMUNITY:
            ids |= communities.get(case.assignee_node_id, set())
        out[pk] = ids
    return out

"""Telling people about a case. Each notice is a `Notification` row with a key, so a retried
transition, a watch run twice or a run after downtime writes it once. Delivery beyond the in-app inbox
(SMS, messaging apps) goes through adapters that read these rows, enqueued on commit."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef
from django.utils import timezone

from gridgov.accounts.models import Assignment, Department, RoleCategory, Team
from gridgov.cases.models import AssigneeKind, Case, Escalation, Notification
from gridgov.cases.selectors import ids_parse, ids_subquery
from gridgov.core import versioned
from gridgov.core.statements import row_insert, rows_write
from gridgov.territory.models import Node


def assignee_users(case: Case) -> set:
    """The active users who are the case's assignee (`selectors.case_assigned_q`)."""
    ids = case_assignee_ids(case)
    return set(get_user_model().objects.filter(pk__in=ids)) if ids else set()


def _assignee_key(case: Case) -> tuple:
    return case.assignee_kind, case.assignee_user_id, case.assignee_team_id, case.assignee_node_id


def _community_q(prefix: str = "") -> dict:
    return {f"{prefix}role__grants_scope": True, f"{prefix}person__user__isnull": False,
            f"{prefix}person__user__is_active": True}


def assignee_facts_annotations() -> dict:
    """What `case_assignee_ids` answers, as columns of the statement that reads the case (its lock): whether
    the assigned person is active, the active members of the assigned team, the active holders of a current
    territorial role in the assigned community. `assignee_facts_take` keeps them on the case read."""
    return {"_a_user_active": F("assignee_user__is_active"),
            "_a_team": ids_subquery(Team.members.through.objects.filter(team_id=OuterRef("assignee_team_id"),
                                                                        user__is_active=True), "team_id", "user_id"),
            "_a_community": ids_subquery(Assignment.objects.current().filter(node_id=OuterRef("assignee_node_id"),
                                                                             **_community_q()),
                                         "node_id", "person__user_id")}


def assignee_facts_take(case: Case) -> None:
    """Keep the assignees the case was read with (`assignee_facts_annotations`) for `case_assignee_ids`."""
    ids = set(ids_parse(case._a_team))
    if case.assignee_user_id and case._a_user_active:
        ids.add(case.assignee_user_id)
    if case.assignee_kind == AssigneeKind.COMMUNITY:
        ids |= ids_parse(case._a_community)
    case._assignees = (_assignee_key(case), frozenset(ids))


def assignee_facts_drop(case: Case) -> None:
    case.__dict__.pop("_assignees", None)


def case_assignee_ids(case: Case) -> frozenset[int]:
    """The ids of the active users who are the case's assignee (`selectors.case_assigned_q`): from what the
    case was read with while it is assigned as it was then (`assignee_facts_take`), else `assignee_user_ids`."""
    if not (case.assignee_user_id or case.assignee_team_id or case.assignee_node_id):
        return frozenset()
    kept = getattr(case, "_assignees", None)
    if kept is not None and kept[0] == _assignee_key(case):
        return kept[1]
    if case.assignee_team_id and not case.assignee_user_id and case.assignee_kind != AssigneeKind.COMMUNITY:
        return team_member_ids(case.assignee_team_id)
    return frozenset(assignee_user_ids({case.pk: case})[case.pk])


def team_member_ids(team_id: int) -> frozenset[int]:
    """The active members of the team, kept per process (`core.versioned`: read again when a team's members
    or a login changed)."""
    return versioned.versioned_get(
        (versioned.TEAMS, versioned.ASSIGNMENTS), ("members", team_id), limit=10_000,
        build=lambda: frozenset(Team.members.through.objects.filter(team_id=team_id, user__is_active=True)
                                .values_list("user_id", flat=True)))


def leaders_at(node: Node) -> set:
    """Logins of leaders and office staff assigned to `node`."""
    return {a.person.user for a in Assignment.objects.current()
            .filter(node=node, role__category__in=[RoleCategory.LEADER, RoleCategory.OFFICE],
                    person__user__isnull=False).select_related("person__user")}


def office_ids_over(node: Node) -> frozenset[int]:
    """The active logins of grid office staff assigned to `node` or a cell above it: who verifies a case and
    decides on its applications by default. From the scheme's office assignments of today, kept per process
    (`core.versioned`, ASSIGNMENTS)."""
    offices = scheme_offices(node.scheme_id)
    return frozenset().union(*(offices.get(int(p), ()) for p in node.path.strip("/").split("/") if p))


def scheme_offices(scheme_id: int) -> dict[int, frozenset[int]]:
    """Cell id → the active logins holding a current OFFICE role on it, in the scheme (one read when the
    assignments changed or the day did)."""
    day = timezone.localdate()

    def read():
        out: dict[int, set[int]] = {}
        for node_id, user_id in (Assignment.objects.current(day)
                                 .filter(node__scheme_id=scheme_id, role__category=RoleCategory.OFFICE,
                                         person__user__isnull=False, person__user__is_active=True)
                                 .values_list("node_id", "person__user_id")):
            out.setdefault(node_id, set()).add(user_id)
        return {node_id: frozenset(ids) for node_id, ids in out.items()}

    return versioned.versioned_get(versioned.ASSIGNMENTS, ("offices", scheme_id, day), read, limit=10_000)


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
    """Write one notification per user (a user or a user id) for `key`; users already told (same key) are
    skipped by the (recipient, key) constraint, which also absorbs a concurrent writer of the same key. One
    statement whatever the number of users. Returns how many users the notice was for (written now or
    before)."""
    wanted = {u if isinstance(u, int) else u.pk for u in users if u is not None}
    if not wanted:
        return 0
    key = key[:120]
    now = timezone.now()
    rows = [Notification(recipient_id=pk, case=case, kind=kind, key=key, text=text[:300], created_at=now)
            for pk in sorted(wanted)]
    rows_write(row_insert(*rows, ignore_conflicts=True))
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
                                 .filter(node_id__in=node_ids, **_community_q())
                                 .values_list("node_id", "person__user_id")):
            communities.setdefault(node_id, set()).add(user_id)
    for pk, case in cases.items():
        ids = {case.assignee_user_id} & active if case.assignee_user_id else set()
        ids |= teams.get(case.assignee_team_id, set())
        if case.assignee_kind == AssigneeKind.COMMUNITY:
            ids |= communities.get(case.assignee_node_id, set())
        out[pk] = ids
    return out

"""Telling people about a case. Each notice is a `Notification` row with a key, so a retried
transition, a watch run twice or a run after downtime writes it once. Delivery beyond the in-app inbox
(SMS, messaging apps) goes through adapters that read these rows, enqueued on commit."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from gridgov.accounts.models import Assignment, RoleCategory
from gridgov.cases.models import AssigneeKind, Case, Notification
from gridgov.territory.models import Node


def assignee_users(case: Case) -> set:
    users = set()
    if case.assignee_user_id:
        users.add(case.assignee_user)
    if case.assignee_team_id:
        users.update(case.assignee_team.members.filter(is_active=True))
    if case.assignee_kind == AssigneeKind.COMMUNITY and case.assignee_node_id:
        users.update(a.person.user for a in Assignment.objects.current()
                     .filter(node_id=case.assignee_node_id, role__grants_scope=True, person__user__isnull=False)
                     .select_related("person__user"))
    return users


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


def ancestors_at_depths(node: Node, depths: Iterable[int]) -> list[Node]:
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    wanted = set(depths)
    return [n for n in Node.objects.filter(pk__in=ids).select_related("level") if n.level.depth in wanted]


def notify(*, users: Iterable, case: Case, kind: str, key: str, text: str) -> int:
    """Write one notification per user for `key`; users already told (same key) are skipped. Returns how
    many were written. Two queries whatever the number of users; a concurrent writer of the same key is
    absorbed by the unique constraint."""
    wanted = {u.pk: u for u in users if u is not None}
    if not wanted:
        return 0
    key = key[:120]
    told = set(Notification.objects.filter(key=key, recipient_id__in=wanted).values_list("recipient_id", flat=True))
    now = timezone.now()
    rows = [Notification(recipient=u, case=case, kind=kind, key=key, text=text[:300], created_at=now)
            for pk, u in wanted.items() if pk not in told]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)

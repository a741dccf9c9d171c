"""Telling people about a case. Each notice is a `Notification` row with a key, so a retried
transition, a watch run twice or a run after downtime writes it once. Delivery beyond the in-app inbox
(SMS, messaging apps) goes through adapters that read these rows, enqueued on commit."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
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


def ancestors_at_depths(node: Node, depths: Iterable[int]) -> list[Node]:
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    wanted = set(depths)
    return [n for n in Node.objects.filter(pk__in=ids).select_related("level") if n.level.depth in wanted]


def notify(*, users: Iterable, case: Case, kind: str, key: str, text: str) -> int:
    """Write one notification per user for `key`; users already told (same key) are skipped. Returns how
    many were written."""
    now = timezone.now()
    written = 0
    for user in {u for u in users if u is not None}:
        try:
            with transaction.atomic():
                Notification.objects.create(recipient=user, case=case, kind=kind, key=key[:120], text=text[:300],
                                            created_at=now)
            written += 1
        except IntegrityError:
            continue
    return written

"""Who may do what to a case: the holders a user is for a case, matched against `ActionGrant` rows.

A user is, for one case, any of: CENTRE (sees the whole territory), OWNER (首问首办), ASSIGNEE (the
assigned person, a member of the assigned team, or someone assigned to the assigned community),
FINDER (reported it), REPORT_IN (member of a department called by a whistle and not yet reported in),
and ROLE holders (each current assignment on the case's cell or an ancestor of it). The system
itself (no user) is SYSTEM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from gridgov.accounts.models import Assignment
from gridgov.cases.models import ActionGrant, AssigneeKind, Case, ReportIn
from gridgov.cases.transitions import TRANSITIONS


@dataclass
class Standing:
    """What one user is for one case."""

    holders: set[str] = field(default_factory=set)
    roles: list[tuple[int, str, int, str]] = field(default_factory=list)  # (role id, category, level id, label)


def _ancestor_ids(node) -> list[int]:
    return [int(p) for p in node.path.strip("/").split("/") if p]


def user_standing(user, case: Case) -> Standing:
    standing = Standing()
    if user is None:
        standing.holders.add("SYSTEM")
        return standing
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return standing
    if user.is_superuser or getattr(user, "sees_everything", False):
        standing.holders.add("CENTRE")
    if case.owner_id == user.pk:
        standing.holders.add("OWNER")
    if case.reporter_id == user.pk:
        standing.holders.add("FINDER")
    if case_is_assignee(user, case):
        standing.holders.add("ASSIGNEE")
    if ReportIn.objects.filter(escalation__case=case, reported_at__isnull=True,
                               department__teams__members=user).exists():
        standing.holders.add("REPORT_IN")
    for role_id, category, level_id, role_key, level_key in (
        Assignment.objects.current().filter(person__user=user, node_id__in=_ancestor_ids(case.node),
                                            node__valid_to__isnull=True)
        .values_list("role_id", "role__category", "node__level_id", "role__key", "node__level__key")
    ):
        standing.roles.append((role_id, category, level_id, f"{role_key}@{level_key}"))
    if standing.roles:
        standing.holders.add("ROLE")
    return standing


def case_is_assignee(user, case: Case) -> bool:
    if case.assignee_user_id is not None and case.assignee_user_id == user.pk:
        return True
    if case.assignee_team_id is not None and case.assignee_team.members.filter(pk=user.pk).exists():
        return True
    if case.assignee_kind == AssigneeKind.COMMUNITY and case.assignee_node_id is not None:
        return Assignment.objects.current().filter(person__user=user, node_id=case.assignee_node_id,
                                                   role__grants_scope=True).exists()
    return False


def _grants(case: Case, action: str | None = None):
    qs = ActionGrant.objects.filter(Q(scheme__isnull=True) | Q(scheme_id=case.scheme_id))
    return qs.filter(action=action) if action else qs


def grant_match(standing: Standing, grant: ActionGrant) -> str | None:
    """The label of the standing that satisfies `grant`, or None."""
    if grant.holder != "ROLE":
        return grant.holder if grant.holder in standing.holders else None
    for role_id, category, level_id, label in standing.roles:
        if (grant.role_id == role_id or (grant.role_category and grant.role_category == category)) and (
                grant.level_id is None or grant.level_id == level_id):
            return f"ROLE:{label}"
    return None


def action_allowed_as(user, case: Case, action: str, *, standing: Standing | None = None) -> str | None:
    """The standing under which `user` may take `action` on `case` ("CENTRE", "ROLE:grid_worker@grid" ...),
    or None if no grant allows it."""
    standing = standing or user_standing(user, case)
    for grant in _grants(case, action):
        label = grant_match(standing, grant)
        if label:
            return label
    return None


def actions_for(user, case: Case) -> list[str]:
    """The actions of the table this user may take on this case now (state and grants both)."""
    standing = user_standing(user, case)
    grants = list(_grants(case))
    out = []
    for action, t in TRANSITIONS.items():
        if case.state in t.sources and any(g.action == action and grant_match(standing, g) for g in grants):
            out.append(action)
    return out


def sees_reporter(user, case: Case) -> bool:
    """Whether `user` may see who reported `case`: the reporter, holders of the `cases.view_reporter`
    permission, and standings granted `sees_reporter` (the command centre, the owner and office staff by
    default). A handler does not: a complainant's identity must not reach the one complained about."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if case.reporter_id == user.pk or user.has_perm("cases.view_reporter"):
        return True
    standing = user_standing(user, case)
    return any(grant_match(standing, g) for g in _grants(case).filter(sees_reporter=True))

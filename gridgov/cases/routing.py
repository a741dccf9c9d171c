"""Choosing who handles a case: ordered routing rules (first match wins), resolving a rule's target to
a person, a community or a department's team for the case's area, and the predicted completion from
the median handling time of the matter in the area."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import shapely
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment, Department, RoleCategory, Team
from gridgov.cases.models import AssigneeKind, Case, RoutingRule
from gridgov.core import versioned
from gridgov.territory.models import Node

PREDICTION_SAMPLE = 200  # most recent closed cases looked at
PREDICTION_MIN = 3  # fewer than this in an area: look at the area above
# the closed cases a prediction reads are kept this long per process (`core.versioned.timed_get`): a case
# closed or reopened is counted by the predictions of every process within this time
PREDICTION_SECONDS = 60
_CLOSURES = "closures"


@dataclass(frozen=True)
class Assignee:
    kind: str
    user: object | None = None
    node: Node | None = None
    team: Team | None = None

    def as_values(self) -> dict:
        return {"assignee_kind": self.kind, "assignee_user": self.user, "assignee_node": self.node,
                "assignee_team": self.team}

    def describe(self) -> dict:
        return {"kind": self.kind, "user": getattr(self.user, "pk", None), "node": getattr(self.node, "pk", None),
                "team": getattr(self.team, "pk", None)}


def _ancestors(node: Node) -> list[Node]:
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    by_id = Node.objects.select_related("level").in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id]


def _in_window(rule: RoutingRule, at: dt.datetime) -> bool:
    if rule.time_from is None or rule.time_to is None:
        return True
    t = timezone.localtime(at).time()
    if rule.time_from <= rule.time_to:
        return rule.time_from <= t < rule.time_to
    return t >= rule.time_from or t < rule.time_to  # across midnight


def rule_matches(rule: RoutingRule, case: Case, *, at: dt.datetime) -> bool:
    if rule.matter_id and rule.matter_id != case.matter_id:
        return False
    if rule.category_id and (case.matter is None or case.matter.category_id != rule.category_id):
        return False
    if rule.channel and rule.channel != case.channel:
        return False
    if rule.report_level and rule.report_level != case.report_level:
        return False
    if rule.node_id and f"/{rule.node_id}/" not in case.node.path:
        return False
    if rule.polygon:
        if case.lon is None or case.lat is None:
            return False
        if not shapely.geometry.shape(rule.polygon).covers(shapely.Point(case.lon, case.lat)):
            return False
    return _in_window(rule, at)


def grid_worker_of(node: Node):
    """The login of the grid worker in charge of the cell, or of its nearest ancestor that has one."""
    for ancestor in reversed(_ancestors(node)):
        found = (Assignment.objects.current().filter(node=ancestor, role__category=RoleCategory.GRID_WORKER,
                                                     person__user__isnull=False, person__user__is_active=True)
                 .select_related("person__user").order_by("start_date", "pk").first())
        if found:
            return found.person.user
    return None


def team_for(department: Department, node: Node) -> Team | None:
    """The department's team answering for the cell: the one whose area is the nearest ancestor of the
    cell, else its default team (no areas). One read: the teams in their order, one row per area."""
    return _team_choose(department.teams.annotate(area=F("areas__id")), node)


def department_team_for(*, scheme_id: int, key: str, node: Node) -> Team | None:
    """`team_for` the active department of the scheme whose key is `key` (loaded on the team), from the
    teams of the department the process keeps (`core.versioned`, TEAMS; one read when they changed); None
    when there is no such department or none of its teams answers for the cell."""
    return _team_choose(department_teams(scheme_id, key), node)


def department_teams(scheme_id: int, key: str) -> tuple[Team, ...]:
    """The teams of the scheme's active department `key`, one row per area (`area`, None: no areas)."""
    return versioned.versioned_get(
        versioned.TEAMS, (scheme_id, key), limit=10_000,
        build=lambda: tuple(Team.objects.filter(department__scheme_id=scheme_id, department__active=True,
                                                department__key=key)
                            .select_related("department").annotate(area=F("areas__id"))))


def _team_choose(rows, node: Node) -> Team | None:
    """The rule of `team_for` over teams annotated with one `area` id per row (None: a team without areas)."""
    ancestors = [int(p) for p in node.path.strip("/").split("/") if p]
    teams: dict[int, Team] = {}
    areas: dict[int, list[int]] = {}
    for row in rows:
        teams.setdefault(row.pk, row)
        areas.setdefault(row.pk, [])
        if row.area is not None:
            areas[row.pk].append(row.area)
    best, best_depth = None, -1
    for pk, team in teams.items():
        for area in areas[pk]:
            if area in ancestors and ancestors.index(area) > best_depth:
                best, best_depth = team, ancestors.index(area)
    if best:
        return best
    return next((t for pk, t in teams.items() if not areas[pk]), None)


def target_resolve(*, kind: str, case: Case, department: Department | None = None, level=None,
                   field: str = "assignee") -> Assignee:
    """Turn a target kind into a concrete assignee for this case's cell."""
    if kind == AssigneeKind.GRID_WORKER:
        user = grid_worker_of(case.node)
        if user is None:
            raise ValidationError({field: _("no grid worker with a login is in charge of cell %(code)s or above it")
                                   % {"code": case.node.code}})
        return Assignee(kind, user=user)
    if kind == AssigneeKind.COMMUNITY:
        ancestors = _ancestors(case.node)
        candidates = [a for a in ancestors if level is None or a.level_id == level.pk]
        if level is None:  # the nearest ancestor above a grid-type level
            candidates = [a for a in ancestors if not a.level.is_grid]
        if not candidates:
            raise ValidationError({field: _("cell %(code)s has no community above it") % {"code": case.node.code}})
        return Assignee(kind, node=candidates[-1])
    if kind == AssigneeKind.DEPARTMENT:
        if department is None:
            raise ValidationError({field: _("name the department")})
        team = team_for(department, case.node)
        if team is None:
            raise ValidationError({field: _("department %(name)s has no team for cell %(code)s")
                                   % {"name": department.name_zh, "code": case.node.code}})
        return Assignee(kind, team=team)
    raise ValidationError({field: _("unknown assignee kind %(kind)s") % {"kind": kind}})


def case_route(case: Case, *, at: dt.datetime | None = None) -> tuple[RoutingRule, Assignee]:
    """The first active rule of the case's scheme that matches, and whom it gives the case to."""
    at = at or timezone.now()
    rules = (RoutingRule.objects.filter(scheme_id=case.scheme_id, active=True)
             .select_related("department", "community_level").order_by("order", "pk"))
    for rule in rules:
        if rule_matches(rule, case, at=at):
            return rule, target_resolve(kind=rule.target, case=case, department=rule.department,
                                        level=rule.community_level)
    raise ValidationError({"assignee": _("no routing rule matches this case; choose the handler")})


def completion_predict(case: Case, *, start: dt.datetime) -> dt.datetime | None:
    """`start` plus the median time from dispatch to closing of closed cases of the same matter in the
    case's area: its cell, else the nearest ancestor with at least PREDICTION_MIN such cases. From the most
    recent closed cases of the matter under the case's top-level area (`closures`)."""
    if case.matter_id is None:
        return None
    ids = [int(p) for p in case.node.path.strip("/").split("/") if p]
    if not ids:
        return None
    rows = closures(case.matter_id, ids[0])
    for depth in range(len(ids), 0, -1):
        area = "/" + "/".join(str(i) for i in ids[:depth]) + "/"
        spans = [span for path, span in rows if path.startswith(area)][:PREDICTION_SAMPLE]
        if len(spans) >= PREDICTION_MIN:
            return start + dt.timedelta(seconds=statistics.median(spans))
    return None


def completion_predict_load(case: Case) -> None:
    """Read the closed cases `completion_predict` asks for into the process's cache now (a caller about to
    open a transaction)."""
    top = case.node.path.strip("/").split("/")[0] if case.node_id else ""
    if case.matter_id is not None and top:
        closures(case.matter_id, int(top))


def closures(matter_id: int, top_id: int) -> tuple[tuple[str, float], ...]:
    """(cell path, seconds from dispatch to closing) of the most recent closed cases of the matter under the
    top-level area, newest first: one read, kept PREDICTION_SECONDS per process."""
    def read():
        rows = (Case.objects.filter(matter_id=matter_id, closed_at__isnull=False, dispatched_at__isnull=False,
                                    node__path__startswith=f"/{top_id}/")
                .order_by("-closed_at").values_list("node__path", "dispatched_at", "closed_at")[:PREDICTION_SAMPLE * 5])
        return tuple((path, (closed - dispatched).total_seconds()) for path, dispatched, closed in rows)

    return versioned.timed_get(_CLOSURES, (matter_id, top_id), read, seconds=PREDICTION_SECONDS)

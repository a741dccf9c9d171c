"""What an action of the workflow registry does to the case beyond its state and clock: the handler a
`Transition` names (`handler="handle_register"`), called by `case_transition` with the row locked. Each
takes the case and the action's inputs and returns the extra values its event records; an action that
decides an application (`Transition.decides`) gets the pending one as `request`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment, Department, RoleCategory, Team
from gridgov.cases.models import AssigneeKind, Case, CaseRequest, Escalation, ReportIn, RequestKind
from gridgov.cases.notify import ancestors_at_depths, team_member_ids
from gridgov.cases.routing import (
    Assignee,
    case_route,
    completion_predict,
    completion_predict_load,
    department_team_for,
    department_teams,
    target_resolve,
)
from gridgov.cases.services.events import event_write
from gridgov.cases.services.resolve import matter_resolve
from gridgov.cases.states import CaseState
from gridgov.catalogue.models import HandlingMode, ReportLevel
from gridgov.territory.models import Node
from gridgov.workdays.calendar import LimitUnit, deadline


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: _("not a number")}) from None
    if not number.is_finite() or number <= 0 or number > 10000:
        raise ValidationError({field: _("must be a positive number up to 10000")})
    return number


def _assignee_from(spec: dict | Assignee | None, case: Case) -> Assignee | None:
    """An explicit assignee: {"kind": GRID_WORKER, "user": id} / {"kind": COMMUNITY, "node": id} /
    {"kind": DEPARTMENT, "team": id} or {"kind": DEPARTMENT, "department": id or key}."""
    if spec is None or isinstance(spec, Assignee):
        return spec
    if not isinstance(spec, dict) or spec.get("kind") not in AssigneeKind.values:
        raise ValidationError({"assignee": _("give the assignee's kind (GRID_WORKER, COMMUNITY or DEPARTMENT)")})
    kind = spec["kind"]
    from django.contrib.auth import get_user_model

    if kind == AssigneeKind.GRID_WORKER:
        if spec.get("user") in (None, ""):
            return target_resolve(kind=kind, case=case)
        user = get_user_model().objects.filter(pk=spec["user"], is_active=True).first()
        ancestors = [int(p) for p in case.node.path.strip("/").split("/") if p]
        if user is None or not Assignment.objects.current().filter(
                person__user=user, node_id__in=ancestors, role__category=RoleCategory.GRID_WORKER).exists():
            raise ValidationError({"assignee": _("the person must be a grid worker in charge of the case's cell or "
                                                 "of a cell above it")})
        return Assignee(kind, user=user)
    if kind == AssigneeKind.COMMUNITY:
        if spec.get("node") in (None, ""):
            return target_resolve(kind=kind, case=case)
        node = Node.objects.filter(pk=spec["node"], scheme_id=case.scheme_id, valid_to__isnull=True).first()
        if node is None or f"/{node.pk}/" not in case.node.path:
            raise ValidationError({"assignee": _("the community must be an active cell above the case's cell")})
        return Assignee(kind, node=node)
    if spec.get("team") not in (None, ""):
        team = Team.objects.filter(pk=spec["team"], department__scheme_id=case.scheme_id).first()
        if team is None:
            raise ValidationError({"assignee": _("unknown team")})
        return Assignee(kind, team=team)
    value = spec.get("department")
    team = department_team_for(scheme_id=case.scheme_id, key=str(value), node=case.node)
    if team is not None:  # the common case in one read; what is missing is told below, as before
        return Assignee(kind, team=team)
    dept = (Department.objects.filter(scheme_id=case.scheme_id, active=True, key=str(value)).first()
            or (Department.objects.filter(scheme_id=case.scheme_id, active=True, pk=value).first()
                if str(value).isdigit() else None))
    if dept is None:
        raise ValidationError({"assignee": _("unknown department %(value)s") % {"value": value}})
    return target_resolve(kind=kind, case=case, department=dept)


def _admission_check(case: Case, assignee: Assignee) -> None:
    if assignee.kind != AssigneeKind.GRID_WORKER:
        return
    from gridgov.catalogue.admission import matter_admitted

    if case.matter_id and not matter_admitted(matter=case.matter, scheme=case.scheme):
        raise ValidationError({"assignee": _("matter %(code)s %(name)s is not on an admitted duty list: it cannot "
                                             "be given to a grid worker; dispatch it to its department")
                               % {"code": case.matter.code, "name": case.matter.name_zh}})


def handle_register(case: Case, *, actor, now, policy, matter=None, report_level=None, handling_mode=None,
                **kw) -> dict:
    if matter not in (None, ""):
        case.matter = matter_resolve(scheme=case.scheme, matter=matter)
    if case.matter_id is None:
        raise ValidationError({"matter": _("choose the matter before registering the case")})
    if report_level:
        if report_level not in ReportLevel.values:
            raise ValidationError({"report_level": _("unknown report level %(level)s") % {"level": report_level}})
        case.report_level = report_level
    if handling_mode:
        if handling_mode not in HandlingMode.values:
            raise ValidationError({"handling_mode": _("unknown handling mode %(mode)s") % {"mode": handling_mode}})
        case.handling_mode = handling_mode
    case.registered_at = now
    if case.owner_id is None and getattr(actor, "is_authenticated", False):
        case.owner = actor  # 首问首办: the first to take it up owns it until it is handed on
    return {}


def handle_merge(case: Case, *, actor, now, actor_role="", into=None, reason="", **kw) -> dict:
    """The case joins another: the other case records a `merge` event of its own (its state unchanged)."""
    target_id = Case.pk_from_number(into) if isinstance(into, str) and "-" in into else into
    if target_id in (None, ""):
        raise ValidationError({"into": _("name the case to merge into")})
    from gridgov.cases.selectors import case_scope

    visible = case_scope(Case.objects.all(), actor) if actor is not None else Case.objects.all()
    target = (Case.objects.select_for_update(of=("self",))
              .filter(pk=target_id, scheme_id=case.scheme_id, pk__in=visible.values("pk")).first())
    if target is None or target.pk == case.pk:
        raise ValidationError({"into": _("the case to merge into must be another case of the same territory")})
    if target.state in (CaseState.MERGED, CaseState.REJECTED, CaseState.EVALUATED):
        raise ValidationError({"into": _("case %(number)s is %(state)s and cannot take another")
                               % {"number": target.number, "state": target.get_state_display()}})
    case.merged_into = target
    event_write(case=target, kind="merge", actor=actor, actor_role=actor_role, from_state=target.state,
                to_state=target.state, note=_("case %(number)s merged into this one: %(reason)s")
                % {"number": case.number, "reason": reason}, new={"merged_case": case.pk}, at=now)
    return {"merged_into_number": target.number}


def _dispatch_to(case: Case, *, assignee: Assignee, now) -> None:
    _admission_check(case, assignee)
    for name, value in assignee.as_values().items():
        setattr(case, name, value)
    if assignee.kind == AssigneeKind.GRID_WORKER:
        case.owner = assignee.user  # handed on: the grid worker now owns it
    case.dispatched_at = now
    case.predicted_at = completion_predict(case, start=now)


def assignee_load(case: Case, *, assignee=None) -> None:
    """What a dispatch or a reroute reads that the process keeps, read before the transaction opens
    (`services.transition`): the named department's teams and their members, and the closed cases the
    completion is predicted from."""
    if isinstance(assignee, dict) and assignee.get("department") not in (None, ""):
        for team in department_teams(case.scheme_id, str(assignee["department"])):
            team_member_ids(team.pk)
    completion_predict_load(case)


def handle_dispatch(case: Case, *, actor, now, assignee=None, **kw) -> dict:
    chosen = _assignee_from(assignee, case)
    rule = None
    if chosen is None:
        rule, chosen = case_route(case, at=now)
    case.routing_rule = rule
    _dispatch_to(case, assignee=chosen, now=now)
    return {"assignee": chosen.describe(), "routing_rule": getattr(rule, "name", "")}


def handle_reroute(case: Case, *, actor, now, assignee=None, **kw) -> dict:
    chosen = _assignee_from(assignee, case)
    rule = None
    if chosen is None:
        rule, chosen = case_route(case, at=now)
    if chosen.describe() == Assignee(case.assignee_kind, case.assignee_user, case.assignee_node,
                                     case.assignee_team).describe():
        raise ValidationError({"assignee": _("the case is already with this handler")})
    case.routing_rule = rule
    case.dispatched_at = case.dispatched_at or now
    for name, value in chosen.as_values().items():
        setattr(case, name, value)
    _admission_check(case, chosen)
    return {"assignee": chosen.describe()}


# what a handler reads before its transaction opens (`assignee_load`), by handler
LOADS = {"handle_dispatch": assignee_load, "handle_reroute": assignee_load}


def handle_accept(case: Case, *, actor, now, **kw) -> dict:
    if case.assignee_kind != AssigneeKind.GRID_WORKER and getattr(actor, "is_authenticated", False):
        # the one who accepts for a team or community owns it from now on (首问首办: re-routing, parking
        # requests, notes); owning never makes them its verifier (OWNER holds no verification grant, and
        # `grants.duty_refusal` refuses every handler of the round whatever they hold)
        case.owner = actor
    return {}


def handle_unassign(case: Case, *, actor, now, **kw) -> dict:
    case.assignee_kind, case.assignee_user, case.assignee_node, case.assignee_team = "", None, None, None
    return {}


def handle_report_back(case: Case, *, actor, now, **kw) -> dict:
    case.reported_back_at = now
    return {}


def handle_self_handle(case: Case, *, actor, now, **kw) -> dict:
    case.handling_mode = HandlingMode.SELF
    case.registered_at = case.registered_at or now
    case.reported_back_at = now
    case.owner = case.owner or (actor if getattr(actor, "is_authenticated", False) else None)
    return {}


def handle_partial(case: Case, *, actor, now, **kw) -> dict:
    case.handling_mode = HandlingMode.COLLABORATIVE
    return {}


def handle_close(case: Case, *, actor, now, **kw) -> dict:
    case.closed_at = now
    return {}


def handle_verify_fail(case: Case, *, actor, now, **kw) -> dict:
    case.rework_count += 1
    case.reported_back_at = None
    return {}


def satisfaction_clean(value) -> int:
    try:
        score = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"satisfaction": _("give a score from 1 to 5")}) from None
    if not 1 <= score <= 5:
        raise ValidationError({"satisfaction": _("give a score from 1 to 5")})
    return score


def handle_evaluate(case: Case, *, actor, now, policy, satisfaction=None, **kw) -> dict:
    score = satisfaction_clean(satisfaction)
    if score < policy.dissatisfied_below:
        raise ValidationError({"satisfaction": _("a score below %(n)s reopens the case: use reopen with a reason")
                               % {"n": policy.dissatisfied_below}})
    case.satisfaction = score
    return {}


def handle_reopen(case: Case, *, actor, now, policy, satisfaction=None, **kw) -> dict:
    if satisfaction not in (None, ""):
        case.satisfaction = satisfaction_clean(satisfaction)
    case.rework_count += 1
    case.closed_at = None
    case.reported_back_at = None
    return {}


def _request_open(case: Case, kind: str, *, actor, now, reason: str, amount=None, unit="") -> CaseRequest:
    if CaseRequest.objects.filter(case=case, kind=kind, state=CaseRequest.State.PENDING).exists():
        raise ValidationError({"action": _("an application of this kind is already waiting for a decision")})
    return CaseRequest.objects.create(case=case, kind=kind, amount=amount, unit=unit, reason=reason,
                                      requested_by=actor, requested_at=now)


def _request_decide(req: CaseRequest, *, approved: bool, actor, now, note: str) -> None:
    req.state = CaseRequest.State.APPROVED if approved else CaseRequest.State.REJECTED
    req.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    req.decided_at = now
    req.decision_note = note
    req.save()


def handle_request_extension(case: Case, *, actor, now, reason, amount=None, unit=None, **kw) -> dict:
    number = _decimal(amount, "amount")
    if unit not in LimitUnit.values:
        raise ValidationError({"unit": _("give the unit of the extra time")})
    if not case.stages.filter(completed_at__isnull=True).exists():
        raise ValidationError({"action": _("no time limit is running on this case")})
    req = _request_open(case, RequestKind.EXTENSION, actor=actor, now=now, reason=reason, amount=number, unit=unit)
    return {"request": req.pk, "amount": str(number), "unit": unit}


def handle_approve(case: Case, *, actor, now, request: CaseRequest, note="", **kw) -> dict:
    """An application approved (an extension's extra time is the clock rule's: `Clock.EXTEND`)."""
    _request_decide(request, approved=True, actor=actor, now=now, note=note)
    return {"request": request.pk}


def handle_refuse(case: Case, *, actor, now, request: CaseRequest, reason, **kw) -> dict:
    _request_decide(request, approved=False, actor=actor, now=now, note=reason)
    return {"request": request.pk}


def handle_request_parking(case: Case, *, actor, now, reason, **kw) -> dict:
    return {"request": _request_open(case, RequestKind.PARKING, actor=actor, now=now, reason=reason).pk}


def handle_whistle(case: Case, *, actor, now, policy, reason, depth=None, departments=None, **kw) -> dict:
    """吹哨: raise the case to a level above its cell; the named departments must report in."""
    ancestors = ancestors_at_depths(case.node, range(0, case.node.level.depth))
    ancestors.sort(key=lambda n: n.level.depth)
    if not ancestors:
        raise ValidationError({"depth": _("the case's cell has no level above it")})
    if depth in (None, ""):
        current = case.escalation_depth if case.escalation_depth is not None else case.node.level.depth
        above = [n for n in ancestors if n.level.depth < current]
        if not above:
            raise ValidationError({"depth": _("the case is already at the top level")})
        target = above[-1]
    else:
        target = next((n for n in ancestors if n.level.depth == int(depth)), None)
        if target is None:
            raise ValidationError({"depth": _("no level at depth %(d)s above the case's cell") % {"d": depth}})
        if case.escalation_depth is not None and target.level.depth >= case.escalation_depth:
            raise ValidationError({"depth": _("the case is already escalated to that level or above")})
    names = departments or []
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    depts = []
    for value in names:
        found = (Department.objects.filter(scheme_id=case.scheme_id, active=True, key=str(value).strip()).first()
                 or (Department.objects.filter(scheme_id=case.scheme_id, pk=value).first()
                     if str(value).isdigit() else None))
        if found is None:
            raise ValidationError({"departments": _("unknown department %(value)s") % {"value": value}})
        depts.append(found)
    due = deadline(now, float(policy.report_in_amount), policy.report_in_unit, scheme=case.scheme_id)
    escalation = Escalation.objects.create(case=case, depth=target.level.depth, node=target,
                                           raised_by=actor if getattr(actor, "is_authenticated", False) else None,
                                           raised_at=now, reason=reason, report_in_due_at=due)
    for dept in depts:
        ReportIn.objects.create(escalation=escalation, department=dept)
    case.escalation_depth = target.level.depth
    return {"escalation": escalation.pk, "raised_to": target.pk, "report_in_due_at": due.isoformat(),
            "departments": [d.key for d in depts]}


def handle_report_in(case: Case, *, actor, now, **kw) -> dict:
    pending = ReportIn.objects.filter(escalation__case=case, reported_at__isnull=True,
                                      department__teams__members=actor).distinct()
    done = []
    for row in pending:
        row.reported_at, row.reported_by = now, actor
        row.save(update_fields=["reported_at", "reported_by"])
        done.append(row.department.key)
    return {"reported_in": done}

"""Reads of cases: the scope (the one place deciding which cases a user may see), the timeline read
from events, nearby duplicates, the inbox of a user."""

from __future__ import annotations

import datetime as dt
import math

from django.db import connection
from django.db.models import Aggregate, CharField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from gridgov.accounts.models import assignment_current_q
from gridgov.accounts.selectors import paths_q, user_scope_paths, user_territory_schemes
from gridgov.cases.models import AssigneeKind, Case, CaseEvent, CasePolicy, CaseRequest, SlaStatus
from gridgov.cases.policy import policy_for
from gridgov.cases.states import CLOCK_STATES, OPEN_STATES
from gridgov.cases.transitions import PUBLIC_MILESTONES, TRANSITIONS, Duty
from gridgov.core.statements import Compiled


def case_assigned_q(user) -> Q:
    """The one definition of "is the assignee": cases assigned to the user, to a team they are a member of,
    or to a community they hold a current territorial role in. `user` is a user, a user id or an
    `OuterRef` to one. `notify.case_assignee_ids` answers it the other way round for one case (the users who
    are its assignee), `notify.assignee_user_ids` for many."""
    return (Q(assignee_user=user) | Q(assignee_team__members=user)
            | (Q(assignee_kind=AssigneeKind.COMMUNITY, assignee_node__assignments__person__user=user,
                 assignee_node__assignments__role__grants_scope=True)
               & assignment_current_q("assignee_node__assignments__")))


def case_overdue_q(now: dt.datetime) -> Q:
    """The one definition of an overdue case: the watch marked it red, or it is past its due time while a
    handler's clock runs (the watch may lag behind by a minute)."""
    return Q(sla_status=SlaStatus.OVERDUE) | Q(due_at__lt=now, state__in=CLOCK_STATES)


def _involved_q(user) -> Q:
    """Cases a user takes part in whatever their territory: reported, owned, assigned (to them, their
    team or the community they are assigned to) or called to report in."""
    return (Q(reporter=user) | Q(owner=user) | case_assigned_q(user)
            | Q(escalations__report_ins__department__teams__members=user))


def case_scope(qs: QuerySet[Case], user) -> QuerySet[Case]:
    """Cases the user may see: those in the subtrees of their assignments (all for district staff),
    and those they take part in. Outside it, a case is a 404."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    paths = user_scope_paths(user)
    if paths is None:
        return qs
    in_territory = paths_q(paths, "node__path") if paths else Q(pk__in=[])
    ids = Case.objects.filter(_involved_q(user)).values("pk")
    return qs.filter(in_territory | Q(pk__in=ids))


def case_scope_ids(cases: list[Case], user) -> set[int]:
    """The ids among `cases` (read with their cell) that `case_scope` lets the user see: a case in the
    subtree of one of the user's paths is known from its loaded cell; only the others are asked of the
    database, by `case_scope` itself."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    paths = user_scope_paths(user)
    if paths is None:
        return {c.pk for c in cases}
    # the same test as paths_q's `node__path__startswith` (paths are ids and slashes: no case to fold)
    inside = {c.pk for c in cases if any(c.node.path.startswith(p) for p in paths)}
    rest = [c.pk for c in cases if c.pk not in inside]
    if rest:
        inside |= set(case_scope(Case.objects.filter(pk__in=rest), user).values_list("pk", flat=True))
    return inside


def case_list_for_user(user) -> QuerySet[Case]:
    return case_scope(Case.objects.all(), user).select_related("node", "matter", "assignee_team__department")


def case_inbox(user) -> QuerySet[Case]:
    """Open cases waiting on this user: assigned to them, their team or community, or calling them to
    report in."""
    return (Case.objects.filter(_involved_q(user) & ~Q(reporter=user), state__in=OPEN_STATES)
            .exclude(owner=user, assignee_user__isnull=True, assignee_team__isnull=True,
                     assignee_node__isnull=True)
            .distinct().order_by("due_at", "reported_at"))


def case_timeline(case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).select_related("actor__person").order_by("seq")


# =========================================================================== rounds (监督与处置分离)
# a round of handling starts when the case is given to a handler, sent back for rework or reopened
ROUND_STARTS = ("dispatch", "verify_fail", "reopen")


def case_rounds(case: Case) -> list[list[CaseEvent]]:
    """The case's events cut into rounds of handling, oldest first; the last one is the current round.

    A round starts at each `dispatch`, `verify_fail` (rework) and `reopen`. Handling done before the case's
    first dispatch (on the spot, or in part by the reporter) belongs to its first round: the events before
    the first dispatch open the first round rather than forming one of their own. This is the one
    definition of a round; the separation of duties (`grants.duty_refusal`) reads it."""
    prefetched = getattr(case, "_prefetched_objects_cache", {}).get("events")
    return rounds_of(sorted(prefetched, key=lambda e: e.seq) if prefetched is not None else
                     CaseEvent.objects.filter(case=case).order_by("seq"))


def rounds_of(events) -> list[list[CaseEvent]]:
    """One case's events (in `seq` order) cut into rounds, as `case_rounds` says."""
    rounds: list[list[CaseEvent]] = [[]]
    dispatched = False
    for event in events:
        if event.kind in ROUND_STARTS and (dispatched or event.kind != "dispatch"):
            rounds.append([])
        dispatched = dispatched or event.kind == "dispatch"
        rounds[-1].append(event)
    return rounds


class IdList(Aggregate):
    """The ids of a group joined by commas (GROUP_CONCAT on SQLite, STRING_AGG on PostgreSQL): a small set of
    ids read as one column of another statement (`ids_parse` reads it back)."""

    function = "GROUP_CONCAT"
    output_field = CharField()

    def as_postgresql(self, compiler, connection_, **extra):
        return self.as_sql(compiler, connection_, function="STRING_AGG",
                           template="%(function)s((%(expressions)s)::text, ',')", **extra)


def ids_subquery(qs: QuerySet, group: str, column: str) -> Subquery:
    """The `column` ids of the rows of `qs` (one group, `group`) as one `IdList` value."""
    return Subquery(qs.order_by().values(group).annotate(ids=IdList(column)).values("ids")[:1])


def ids_parse(value: str | None) -> frozenset[int]:
    return frozenset(int(v) for v in value.split(",") if v) if value else frozenset()


# the actions a handler takes (accept, report back, handling on the spot ...): `round_handler_ids`
HANDLES_KINDS = tuple(action for action, t in TRANSITIONS.items() if t.duty == Duty.HANDLES)


def _handler_events_q() -> Q:
    return Q(actor__isnull=False) & (Q(kind__in=HANDLES_KINDS) | Q(actor_role="ASSIGNEE"))


def round_facts_annotations() -> dict:
    """What `round_handlers` answers, as columns of the statement that reads the case (its lock): the handlers
    of its current round and of any round (`_handled_round`, `_handled_any`), by the rule of `rounds_of`
    asked in SQL. `round_facts_take` keeps them on the case read."""
    first_dispatch = (CaseEvent.objects.filter(case_id=OuterRef("case_id"), kind="dispatch").order_by("seq")
                      .values("seq")[:1])
    start = (CaseEvent.objects.filter(case_id=OuterRef(OuterRef("pk")))
             .filter(Q(kind__in=[k for k in ROUND_STARTS if k != "dispatch"])
                     | Q(kind="dispatch", seq__gt=Subquery(first_dispatch)))
             .order_by("-seq").values("seq")[:1])
    handled = CaseEvent.objects.filter(_handler_events_q(), case_id=OuterRef("pk"))
    return {"_handled_round": ids_subquery(handled.filter(seq__gte=Coalesce(Subquery(start), 0)), "case_id",
                                           "actor_id"),
            "_handled_any": ids_subquery(handled, "case_id", "actor_id")}


def round_facts_take(case: Case) -> None:
    """Keep the handlers the case was read with (`round_facts_annotations`) for `round_handlers`."""
    case._round_handlers = (ids_parse(case._handled_round), ids_parse(case._handled_any))


def round_facts_after(case: Case, event: CaseEvent) -> None:
    """The case's kept handlers once `event` is written: the actor joins them if the event is a handler's;
    an event that may open a round drops them (read again when asked)."""
    facts = getattr(case, "_round_handlers", None)
    if facts is None:
        return
    if event.kind in ROUND_STARTS:
        del case._round_handlers
    elif round_handler_ids([event]):
        case._round_handlers = (facts[0] | {event.actor_id}, facts[1] | {event.actor_id})


def round_facts_drop(case: Case) -> None:
    case.__dict__.pop("_round_handlers", None)


def round_handlers(case: Case) -> tuple[frozenset[int], frozenset[int]]:
    """(who handled the case's current round, who handled any round of it), by `round_handler_ids` over
    `case_rounds`; from what the case was read with when it was (`round_facts_take`), else one read."""
    facts = getattr(case, "_round_handlers", None)
    if facts is not None:
        return facts
    rounds = case_rounds(case)
    current = frozenset(round_handler_ids(rounds[-1]))
    return current, current.union(*(round_handler_ids(r) for r in rounds[:-1]))


def round_handler_ids(events) -> set[int]:
    """Who acted as a handler in these events: took an action of duty HANDLES (accept, report back,
    handling on the spot ...) or any action under the ASSIGNEE standing."""
    out = set()
    for event in events:
        t = TRANSITIONS.get(event.kind)
        if event.actor_id is not None and ((t is not None and t.duty == Duty.HANDLES)
                                           or event.actor_role == "ASSIGNEE"):
            out.add(event.actor_id)
    return out


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def case_duplicates(case: Case, *, policy: CasePolicy | None = None) -> list[tuple[Case, float]]:
    """Open cases of the same matter reported near this one (within the policy's radius and time
    window), nearest first, with their distance in metres: offered for merging, never merged silently."""
    if case.matter_id is None or case.lon is None or case.lat is None:
        return []
    policy = policy or policy_for(case.scheme_id)
    radius = float(policy.duplicate_radius_m)
    window = dt.timedelta(hours=policy.duplicate_window_hours)
    dlat = radius / 111_000
    dlon = radius / (111_000 * max(math.cos(math.radians(case.lat)), 0.01))
    at = case.reported_at or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    # the box around the point, in one plain statement (intake runs it for every report: building the ORM
    # query cost more than running it); the cases themselves are loaded only when one is near enough
    with connection.cursor() as cursor:
        cursor.execute(_DUPLICATES_SQL, [case.scheme_id, case.matter_id, *map(str, OPEN_STATES), adapt(at - window),
                                         adapt(at + window), case.lon - dlon, case.lon + dlon, case.lat - dlat,
                                         case.lat + dlat, case.pk if case.pk is not None else -1])
        rows = cursor.fetchall()
    near = sorted(((d, pk) for pk, lon, lat in rows if (d := _metres(case.lon, case.lat, lon, lat)) <= radius))
    if not near:
        return []
    found = _cases_near([pk for _d, pk in near])
    return [(found[pk], d) for d, pk in near if pk in found]


def _near_queryset(*ids: int) -> QuerySet[Case]:
    return Case.objects.select_related("node", "matter").filter(pk__in=ids).order_by()


# the duplicates found, with their cell and matter: compiled once per process for each count of them up to
# NEAR_COMPILED (intake reads them whenever a report has a neighbour, and the ORM's compilation cost more than
# the read); more of them go through in_bulk
NEAR_COMPILED = 8
_NEAR = {n: Compiled(_near_queryset, arity=n) for n in range(1, NEAR_COMPILED + 1)}


def _cases_near(ids: list[int]) -> dict[int, Case]:
    if len(ids) <= NEAR_COMPILED:
        return {c.pk: c for c in _NEAR[len(ids)].rows(*ids)}
    return Case.objects.select_related("node", "matter").in_bulk(ids)


_DUPLICATES_SQL = (
    f"SELECT id, lon, lat FROM {connection.ops.quote_name(Case._meta.db_table)} WHERE scheme_id = %s AND matter_id = %s "  # noqa: S608 (names only)
    f"AND state IN ({', '.join(['%s'] * len(OPEN_STATES))}) AND reported_at >= %s AND reported_at <= %s "
    "AND lon >= %s AND lon <= %s AND lat >= %s AND lat <= %s AND id <> %s")


def routing_rule_scope(qs, user):
    """Rules of the schemes holding a cell of the user's territory (`user_territory_schemes`)."""
    if user_scope_paths(user) is None:
        return qs
    return qs.filter(scheme__in=user_territory_schemes(user))


def case_pending_request(case: Case, kind: str) -> CaseRequest | None:
    """The application of `kind` (EXTENSION, PARKING) waiting for a decision on the case, if any."""
    return CaseRequest.objects.filter(case=case, kind=kind, state=CaseRequest.State.PENDING).first()


def case_pending_kinds(case: Case) -> set[str]:
    """The kinds of application waiting for a decision (from `pending_requests` where prefetched)."""
    prefetched = getattr(case, "pending_requests", None)
    if prefetched is not None:
        return {r.kind for r in prefetched}
    return set(CaseRequest.objects.filter(case=case, state=CaseRequest.State.PENDING).values_list("kind", flat=True))


def case_by_tracking_code(code: str) -> Case | None:
    code = (code or "").strip().upper()
    if not code.isalnum() or len(code) > 16:
        return None
    return Case.objects.select_related("matter", "node").filter(tracking_code=code).first()


def case_public_progress(case: Case) -> list[tuple[str, object]]:
    """(state reached, when) for the steps of the case a reporter may see, oldest first, from its events:
    what happened and when, never who or why (the actions the registry marks public). A `merge` event on
    the case another one joined reaches nothing."""
    rows = (CaseEvent.objects.filter(case=case, kind__in=PUBLIC_MILESTONES).order_by("seq")
            .values_list("kind", "to_state", "at"))
    return [(PUBLIC_MILESTONES[kind], at) for kind, to_state, at in rows if to_state == PUBLIC_MILESTONES[kind]]

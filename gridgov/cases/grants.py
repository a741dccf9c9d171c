"""Who may do what to a case: the holders a user is for a case, matched against `ActionGrant` rows.

A user is, for one case, any of: CENTRE (sees the whole territory), OWNER (首问首办), ASSIGNEE (the
assigned person, a member of the assigned team, or someone assigned to the assigned community),
REPORTER (reported it), REPORTER_VERIFYING (reported it, in a scheme whose case policy lets reporters verify),
REPORT_IN (member of a department called by a whistle and not yet reported in), and ROLE holders (each
current assignment on the case's cell or an ancestor of it). The system itself (no user) is SYSTEM.

Above every grant stands the separation of duties (监督与处置分离, `duty_refusal`): whoever handled the
current round of a case never takes an action the table marks CHECKS or DECIDES on it (verify, close,
rate, decide on applications), whatever grant they hold; `actions_for` and `action_allowed_as` (hence
`services.case_transition`) both apply it. Handlers do not see the case's tracking code (the public
page's key to rating it) either.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment
from gridgov.accounts.selectors import user_is_district_wide
from gridgov.cases.models import ActionGrant, Case, CaseEvent, ReportIn
from gridgov.cases.notify import case_assignee_ids
from gridgov.cases.policy import policy_for
from gridgov.cases.selectors import (
    case_assigned_q,
    case_pending_kinds,
    round_handler_ids,
    round_handlers,
    rounds_of,
)
from gridgov.cases.transitions import TRANSITIONS, Duty
from gridgov.core import versioned


class Standing:
    """What one user is for one case, worked out lazily: each holder is looked up only when a grant asks
    about it (a transition usually needs one or two of them)."""

    def __init__(self, user, case: Case):
        self.user, self.case = user, case
        self._known: dict[str, bool] = {}
        self._roles: list[tuple[int, str, int, str]] | None = None
        self._handled: tuple[bool, bool] | None = None
        self.active = user is not None and getattr(user, "is_authenticated", False) and user.is_active

    def _handling(self) -> tuple[bool, bool]:
        """(handled the current round, handled any round): the current assignee (person, team member,
        someone assigned to the assigned community) handles the current round; otherwise whoever acted as
        a handler in a round (`selectors.round_handler_ids`)."""
        if self._handled is None:
            if not self.active:
                self._handled = (False, False)
            else:
                self._handled = _handled_in(round_handlers(self.case), self.user.pk,
                                            assigned=self.has("ASSIGNEE"))
        return self._handled

    @property
    def handled_round(self) -> bool:
        """Whether the user is a handler of the case's current round (see `transitions`, Separation of duties)."""
        return self._handling()[0]

    @property
    def handled_case(self) -> bool:
        """Whether the user handled any round of the case."""
        return self._handling()[1]

    @property
    def roles(self) -> list[tuple[int, str, int, str]]:
        """(role id, category, level id, label) of the user's current assignments on the case's cell or above."""
        if self._roles is None:
            self._roles = [] if not self.active else _roles_on(user_assignments(self.user.pk), self.case.node)
        return self._roles

    def has(self, holder: str) -> bool:
        if holder not in self._known:
            self._known[holder] = self._compute(holder)
        return self._known[holder]

    def _compute(self, holder: str) -> bool:
        user, case = self.user, self.case
        if holder == "SYSTEM":
            return user is None
        if not self.active:
            return False
        if holder == "CENTRE":
            return user_is_district_wide(user, case.scheme_id)
        if holder == "OWNER":
            return case.owner_id == user.pk
        if holder == "REPORTER":
            return case.reporter_id == user.pk
        if holder == "REPORTER_VERIFYING":
            return case.reporter_id == user.pk and policy_for(case.scheme_id).reporter_verifies
        if holder == "ASSIGNEE":
            return user.pk in case_assignee_ids(case)
        if holder == "REPORT_IN":
            return ReportIn.objects.filter(escalation__case=case, reported_at__isnull=True,
                                           department__teams__members=user).exists()
        if holder == "ROLE":
            return bool(self.roles)
        return False

    @property
    def holders(self) -> set[str]:
        return {h for h in ActionGrant.Holder.values if self.has(h)}


def _handled_in(handlers: tuple[frozenset[int], frozenset[int]], user_id: int, *, assigned: bool
                ) -> tuple[bool, bool]:
    """(handled the current round, handled any round) of one user, from `selectors.round_handlers`: the
    current assignee handles the current round; otherwise whoever acted as a handler in a round."""
    current = assigned or user_id in handlers[0]
    return current, current or user_id in handlers[1]


def round_handled_by(case: Case, user_ids) -> set[int]:
    """Those of `user_ids` (active logins) who handled the case's current round (`Standing.handled_round` for
    many users at once: at most two reads whatever their number)."""
    if not user_ids:
        return set()
    handlers = round_handlers(case)
    assigned = case_assignee_ids(case)
    return {pk for pk in user_ids if _handled_in(handlers, pk, assigned=pk in assigned)[0]}


def user_assignments(user_id: int) -> tuple[tuple[int, int, str, int, str, str], ...]:
    """(cell id, role id, role category, level id, role key, level key) of the user's current assignments on
    cells in force today, kept per process (`core.versioned`: one read when assignments, cells or levels
    changed, or the day did)."""
    day = timezone.localdate()
    return versioned.versioned_get(
        (versioned.ASSIGNMENTS, versioned.NODES, versioned.SCHEME), (user_id, day), limit=50_000,
        build=lambda: tuple(Assignment.objects.current(day).filter(person__user_id=user_id, node__valid_to__isnull=True)
                            .values_list("node_id", "role_id", "role__category", "node__level_id", "role__key",
                                         "node__level__key")))


def user_assignments_load(user) -> None:
    """Read the user's assignments into the process's cache now (a caller about to open a transaction)."""
    if user is not None and getattr(user, "is_authenticated", False):
        user_assignments(user.pk)


def _roles_on(assignments, node) -> list[tuple[int, str, int, str]]:
    """(role id, category, level id, label) of those assignments held on the cell or a cell above it."""
    above = set(_ancestor_ids(node))
    return [(role_id, category, level_id, f"{role_key}@{level_key}")
            for node_id, role_id, category, level_id, role_key, level_key in assignments if node_id in above]


def _ancestor_ids(node) -> list[int]:
    return [int(p) for p in node.path.strip("/").split("/") if p]


def user_standing(user, case: Case) -> Standing:
    return Standing(user, case)


def standings_for(user, cases) -> dict[int, Standing]:
    """The user's standing for each of many cases (a list page's buttons), every holder the table may ask
    about read for all of them at once: a fixed number of queries whatever the number of cases. Each
    standing answers exactly as `user_standing(user, case)` would. The cases need their `node` loaded."""
    cases = list(cases)
    out = {case.pk: Standing(user, case) for case in cases}
    if not cases or not next(iter(out.values())).active:
        return out
    ids = list(out)
    assigned = set(Case.objects.filter(case_assigned_q(user), pk__in=ids).values_list("pk", flat=True))
    called = set(ReportIn.objects.filter(escalation__case_id__in=ids, reported_at__isnull=True,
                                         department__teams__members=user)
                 .values_list("escalation__case_id", flat=True))
    assignments = user_assignments(user.pk)
    events: dict[int, list[CaseEvent]] = {}
    for event in (CaseEvent.objects.filter(case_id__in=ids).order_by("case_id", "seq")
                  .only("case_id", "seq", "kind", "actor_id", "actor_role")):
        events.setdefault(event.case_id, []).append(event)
    centre = {scheme_id: user_is_district_wide(user, scheme_id) for scheme_id in {c.scheme_id for c in cases}}
    for case in cases:
        standing = out[case.pk]
        standing._roles = _roles_on(assignments, case.node)
        standing._known.update(CENTRE=centre[case.scheme_id], ASSIGNEE=case.pk in assigned,
                               REPORT_IN=case.pk in called)
        rounds = rounds_of(events.get(case.pk, []))
        current = case.pk in assigned or user.pk in round_handler_ids(rounds[-1])
        standing._handled = (current, current or any(user.pk in round_handler_ids(r) for r in rounds[:-1]))
    return out


def _scheme_grants(scheme_id) -> tuple[ActionGrant, ...]:
    return tuple(ActionGrant.objects.filter(Q(scheme__isnull=True) | Q(scheme_id=scheme_id)))


def _grants(case: Case, action: str | None = None) -> list[ActionGrant]:
    """The grants of the case's scheme and those for every scheme (of `action`, when given), cached per
    process until a grant changes (`core.versioned`, GRANTS)."""
    grants = versioned.versioned_get(versioned.GRANTS, case.scheme_id, lambda: _scheme_grants(case.scheme_id))
    return [g for g in grants if g.action == action] if action else list(grants)


def grants_load(case: Case) -> None:
    """Read the grants of the case's scheme into the process's cache now (a caller about to open a
    transaction: a transaction reads through the cache but never fills it, `core.versioned`)."""
    _grants(case)


def scheme_grants(scheme_ids) -> dict[int, list[ActionGrant]]:
    """The grants in force in each of these schemes (its own and the platform's), from the per-process
    cache `_grants` reads (a query per scheme only when a grant changed)."""
    return {sid: list(versioned.versioned_get(versioned.GRANTS, sid, lambda sid=sid: _scheme_grants(sid)))
            for sid in set(scheme_ids)}


def grant_match(standing: Standing, grant: ActionGrant) -> str | None:
    """The label of the standing that satisfies `grant`, or None."""
    if grant.holder != "ROLE":
        return grant.holder if standing.has(grant.holder) else None
    for role_id, category, level_id, label in standing.roles:
        if (grant.role_id == role_id or (grant.role_category and grant.role_category == category)) and (
                grant.level_id is None or grant.level_id == level_id):
            return f"ROLE:{label}"
    return None


def duty_refusal(standing: Standing, action: str) -> str | None:
    """The separation of duties (监督与处置分离): why this user may not take `action` on the case whatever
    grant they hold — they handled its current round and the action checks or decides on that handling —
    or None. The system itself (the public tracking page, the sampler) is never a handler."""
    t = TRANSITIONS.get(action)
    if t is None or not t.duty.refuses_handlers or not standing.active or not standing.handled_round:
        return None
    if t.duty == Duty.DECIDES:
        return _("you handled this case; deciding on its applications belongs to someone else")
    return _("you handled this case; its verification belongs to someone else")


def action_allowed_as(user, case: Case, action: str, *, standing: Standing | None = None) -> str | None:
    """The standing under which `user` may take `action` on `case` ("CENTRE", "ROLE:grid_worker@grid" ...),
    or None if no grant allows it or the separation of duties refuses it (`duty_refusal`)."""
    standing = standing or user_standing(user, case)
    if duty_refusal(standing, action):
        return None
    # cheap holders first: a role lookup or a team query only when nothing simpler grants the action
    cost = {"SYSTEM": 0, "CENTRE": 0, "OWNER": 0, "REPORTER": 0, "REPORTER_VERIFYING": 1, "ASSIGNEE": 1, "ROLE": 2,
            "REPORT_IN": 3}
    for grant in sorted(_grants(case, action), key=lambda g: cost.get(g.holder, 4)):
        label = grant_match(standing, grant)
        if label:
            return label
    return None


def actions_for(user, case: Case, *, standing: Standing | None = None, grants: list[ActionGrant] | None = None
                ) -> list[str]:
    """The actions of the table this user may take on this case now (state, guard, grants and the separation
    of duties). A decision on an application is offered only while one of its kind waits. A list page passes
    the standing (`standings_for`) and the scheme's grants (`scheme_grants`) it read once for all its cases."""
    standing = standing or user_standing(user, case)
    grants = list(_grants(case)) if grants is None else grants
    pending = case_pending_kinds(case) if any(t.decides for t in TRANSITIONS.values()
                                              if case.state in t.sources) else set()
    out = []
    for action, t in TRANSITIONS.items():
        if case.state not in t.sources or (t.decides and t.decides not in pending):
            continue
        if any(g.action == action and grant_match(standing, g) for g in grants) and not duty_refusal(standing, action):
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
    return any(grant_match(standing, g) for g in _grants(case) if g.sees_reporter)


def sees_tracking_code(user, case: Case) -> bool:
    """Whether `user` may read the case's tracking code, the reporter's key to the public tracking page (and
    to rating the case there): those allowed to see who reported it (the hotline operator reads it out to the
    caller), never anyone who handled a round of it."""
    if not sees_reporter(user, case):
        return False
    return not user_standing(user, case).handled_case


def owner_shown(case: Case, *, sees: bool) -> bool:
    """Whether the owner (首问首办) may be named to a viewer: the first receiver of a staff channel is who
    reported the case, so it is named only to those allowed to see who reported it."""
    return case.owner_id is not None and (sees or case.owner_id != case.reporter_id)


@dataclass(frozen=True)
class EventView:
    """One event as one viewer may read it: the one rule of what the reporter's protection hides in a
    timeline, read alike by the case page, the API and the admin."""

    event: CaseEvent
    hides_actor: bool  # the actor and the standing they acted under are left out
    old_values: dict
    new_values: dict

    @property
    def actor(self):
        return None if self.hides_actor else self.event.actor

    @property
    def actor_role(self) -> str:
        return "" if self.hides_actor else self.event.actor_role

    @property
    def hides_values(self) -> bool:
        return (self.old_values, self.new_values) != (self.event.old_values, self.event.new_values)


def _values_for(values: dict, case: Case) -> dict:
    return {k: v for k, v in (values or {}).items() if not (k == "owner_id" and v == case.reporter_id)}


def event_view(event: CaseEvent, case: Case, *, sees: bool) -> EventView:
    """The event for a viewer who may (`sees`, from `sees_reporter`) or may not see who reported the case.
    For one who may not: the actor and standing of the report itself, of what the reporter did under the
    REPORTER standings and of anything else the reporter did are hidden; and the owner is left out of the old and
    new values where it is the reporter (a staff channel's report is owned by its reporter)."""
    old, new = event.old_values or {}, event.new_values or {}
    if sees:
        return EventView(event, False, old, new)
    hides = (event.kind == "report" or event.actor_role in ("REPORTER", "REPORTER_VERIFYING")
             or (case.reporter_id is not None and event.actor_id == case.reporter_id))
    if case.reporter_id is None:
        return EventView(event, hides, old, new)
    return EventView(event, hides, _values_for(old, case), _values_for(new, case))

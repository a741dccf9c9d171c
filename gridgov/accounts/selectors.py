"""Reads for people in charge, and the one place where a user's territorial scope is decided.

Scope: a user sees the subtrees of the nodes of their current assignments whose role grants scope.
A district-wide login (`sees_everything`) sees every cell of ITS scheme (deployment) only: the scheme
is `User.scheme`, or, when that is empty, the one scheme of the login's current assignments (a login
whose assignments span schemes, or who has none and no scheme, is district-wide for nothing).
Every scheme at once only for the platform role (`User.platform_wide`, granted by the security
administrator and audited) and the installation superuser. `user_is_district_wide` is the one rule;
every list, API and export goes through the `<model>_scope(qs, user)` functions here and in
`territory.selectors`; an object outside the scope is a 404, never a 403."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from gridgov.accounts.models import Assignment, Person, RoleCategory, Team
from gridgov.core.versioned import ASSIGNMENTS, NODES, versioned_get, versions_at_hand
from gridgov.territory.models import LevelScheme, Node

# Role categories who patrol a cell and report from it.
FIELD_CATEGORIES = {RoleCategory.GRID_WORKER, RoleCategory.HELPER, RoleCategory.LEADER, RoleCategory.POLICE,
                    RoleCategory.PROPERTY, RoleCategory.VOLUNTEER}


def _active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def user_is_platform_wide(user) -> bool:
    """Sees every deployment in the database: the explicit platform role, or the installation superuser."""
    return _active(user) and bool(user.is_superuser or getattr(user, "platform_wide", False))


def user_scheme_id(user) -> int | None:
    """The scheme a login works in: `User.scheme`, else the single scheme of its current assignments."""
    if not _active(user):
        return None
    if getattr(user, "scheme_id", None):
        return user.scheme_id
    cached = getattr(user, "_gridgov_scope_cache", {})
    if "_scheme" not in cached:
        schemes = set(Assignment.objects.current().filter(person__user=user).values_list("node__scheme_id", flat=True))
        cached["_scheme"] = schemes.pop() if len(schemes) == 1 else None
        user._gridgov_scope_cache = cached
    return cached["_scheme"]


def user_is_district_wide(user, scheme=None) -> bool:
    """THE rule: is `user` district-wide for `scheme` (a LevelScheme, its id, or None = for their own
    scheme, whichever it is)? Platform-wide users are district-wide everywhere."""
    if not _active(user):
        return False
    if user_is_platform_wide(user):
        return True
    if not getattr(user, "sees_everything", False):
        return False
    own = user_scheme_id(user)
    if own is None:
        return False
    if scheme is None:
        return True
    return own == (scheme if isinstance(scheme, int) else scheme.pk)


def user_scope_paths(user, *, on: dt.date | None = None) -> list[str] | None:
    """The node paths whose subtrees the user may see; None means every scheme (platform-wide only),
    [] nothing. A district-wide user gets the root paths of their own scheme.

    Kept per process (`core.versioned`) for the user's login, the fields of it the rule reads and the day,
    until an assignment, role, person, login or node changes (their counters): a report offering duplicates
    asks it on every request. Inside a transaction whose counters were not read yet it is read as before,
    so it never costs a statement more than the read it saves."""
    if not _active(user):
        return []
    if user_is_platform_wide(user):
        return None
    cache_key = ("_scope_paths", on)
    cached = getattr(user, "_gridgov_scope_cache", {})
    if cache_key in cached:
        return cached[cache_key]
    day = on or timezone.localdate()
    if versions_at_hand():
        key = (user.pk, getattr(user, "scheme_id", None), bool(getattr(user, "sees_everything", False)), day)
        paths = list(versioned_get((ASSIGNMENTS, NODES), key, lambda: tuple(_scope_paths_read(user, day)),
                                   limit=SCOPE_PATHS_KEPT))
    else:
        paths = _scope_paths_read(user, day)
    cached[cache_key] = paths
    user._gridgov_scope_cache = cached
    return paths


# the users whose territory a process keeps (all are dropped when reached: a few hundred bytes each)
SCOPE_PATHS_KEPT = 20_000


def _scope_paths_read(user, day: dt.date) -> list[str]:
    if user_is_district_wide(user):
        return sorted(Node.objects.filter(scheme_id=user_scheme_id(user), parent__isnull=True)
                      .values_list("path", flat=True))
    paths = sorted(set(
        Assignment.objects.current(day).filter(person__user=user, role__grants_scope=True, node__valid_to__isnull=True)
        .values_list("node__path", flat=True)
    ))
    # drop paths inside another path: the outer one already covers them
    reduced: list[str] = []
    for p in paths:
        if not any(p.startswith(q) for q in reduced):
            reduced.append(p)
    return reduced


def field_assignments(user) -> QuerySet[Assignment]:
    """The user's current assignments of a field role (grid worker, helper, leader, police, property,
    volunteer) on cells in force."""
    return (Assignment.objects.current()
            .filter(person__user=user, role__category__in=FIELD_CATEGORIES, node__valid_to__isnull=True)
            .select_related("node__scheme", "node__level", "role").order_by("node__path", "role__order"))


def user_report_paths(user) -> list[str] | None:
    """THE rule of where a user may report a problem they found (the patrol channel): the subtrees of
    their territory (`user_scope_paths`) and of the cells of their field assignments, whether or not the
    role grants scope — a 1+N helper or a volunteer reports in their grid without seeing its cases. None:
    everywhere. The phone page offers reporting on exactly these cells."""
    paths = user_scope_paths(user)
    if paths is None:
        return None
    if not _active(user):
        return []
    field = {a.node.path for a in field_assignments(user)}
    return sorted(set(paths) | field)


def paths_q(paths: list[str], field: str = "path") -> Q:
    q = Q(pk__in=[])
    for p in paths:
        q |= Q(**{f"{field}__startswith": p})
    return q


def assignment_scope(qs: QuerySet[Assignment], user) -> QuerySet[Assignment]:
    paths = user_scope_paths(user)
    if paths is None:
        return qs
    return qs.filter(paths_q(paths, "node__path")) if paths else qs.none()


def person_scope(qs: QuerySet[Person], user) -> QuerySet[Person]:
    """People holding (or having held) an assignment inside the user's scope, and the user's own person."""
    paths = user_scope_paths(user)
    if paths is None:
        return qs
    own = Q(user=user) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    if not paths:
        return qs.filter(own)
    return qs.filter(own | Q(pk__in=Assignment.objects.filter(paths_q(paths, "node__path")).values("person"))).distinct()


def _public_assignments(on: dt.date | None) -> QuerySet[Assignment]:
    return (Assignment.objects.current(on).filter(is_public=True)
            .select_related("person", "role").order_by("role__order", "role__key", "person__name"))


def node_public_people(node, *, on: dt.date | None = None) -> QuerySet[Assignment]:
    """Who is in charge of `node` now, as published on its card."""
    return _public_assignments(on).filter(node=node)


def nodes_public_people(nodes, *, on: dt.date | None = None) -> dict[int, list[Assignment]]:
    """`node_public_people` of each of many nodes (by node id), read in one query."""
    out: dict[int, list[Assignment]] = {}
    nodes = list(nodes)
    if nodes:
        for assignment in _public_assignments(on).filter(node__in=nodes):
            out.setdefault(assignment.node_id, []).append(assignment)
    return out


def user_schemes(user) -> QuerySet[LevelScheme]:
    """THE rule of the level schemes a user WORKS in, for what they read and pick from (catalogue pickers,
    the overview and management pages, the report and filter forms): every scheme for a platform-wide user;
    else the schemes of their territory's cells (`user_scope_paths`), of their teams' departments, and their
    own scheme when district-wide. A department handler works in their department's scheme; a helper whose
    role grants no scope works in none through that assignment."""
    paths = user_scope_paths(user)
    if paths is None:
        return LevelScheme.objects.all()
    if not _active(user):
        return LevelScheme.objects.none()
    q = Q(pk__in=Node.objects.filter(path__in=paths).values("scheme_id")) if paths else Q(pk__in=[])
    q |= Q(pk__in=Team.objects.filter(members=user).values("department__scheme_id"))
    if user_is_district_wide(user):
        q |= Q(pk=user_scheme_id(user))
    return LevelScheme.objects.filter(q)


def user_territory_schemes(user) -> QuerySet[LevelScheme]:
    """THE rule of the level schemes where a user's writes are territorial (routing rules, seen and edited;
    base-data imports): the schemes holding a cell of their territory (`user_scope_paths`), every scheme
    for a platform-wide user, none for someone in charge of nothing. Team membership alone does not count:
    a department handler works in the scheme (`user_schemes`) but does not set its routing or import its
    residents."""
    paths = user_scope_paths(user)
    if paths is None:
        return LevelScheme.objects.all()
    if not paths:
        return LevelScheme.objects.none()
    return LevelScheme.objects.filter(pk__in=Node.objects.filter(path__in=paths).values("scheme_id"))


def scope_roots(user) -> QuerySet[Node]:
    """The tops of the user's territory: the top nodes for district-wide staff, else the cells of their
    assignments that grant scope (nested ones left out)."""
    qs = Node.objects.current().select_related("level", "scheme")
    paths = user_scope_paths(user)
    if paths is None:
        return qs.filter(parent__isnull=True)
    return qs.filter(path__in=paths)

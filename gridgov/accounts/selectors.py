"""Reads for people in charge, and the one place where a user's territorial scope is decided.

Scope: a user sees the subtrees of the nodes of their current assignments whose role grants scope;
superusers and users marked `sees_everything` see all. Every list, API and export goes through the
`<model>_scope(qs, user)` functions here and in `territory.selectors`; an object outside the scope
is a 404, never a 403."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from gridgov.accounts.models import Assignment, Person


def user_scope_paths(user, *, on: dt.date | None = None) -> list[str] | None:
    """The node paths whose subtrees the user may see; None means everything, [] nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_superuser or getattr(user, "sees_everything", False):
        return None
    cache_key = ("_scope_paths", on)
    cached = getattr(user, "_gridgov_scope_cache", {})
    if cache_key in cached:
        return cached[cache_key]
    paths = sorted(set(
        Assignment.objects.current(on).filter(person__user=user, role__grants_scope=True, node__valid_to__isnull=True)
        .values_list("node__path", flat=True)
    ))
    # drop paths inside another path: the outer one already covers them
    reduced: list[str] = []
    for p in paths:
        if not any(p.startswith(q) for q in reduced):
            reduced.append(p)
    cached[cache_key] = reduced
    user._gridgov_scope_cache = cached
    return reduced


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


def node_public_people(node, *, on: dt.date | None = None) -> QuerySet[Assignment]:
    """Who is in charge of `node` now, as published on its card."""
    return (Assignment.objects.current(on).filter(node=node, is_public=True)
            .select_related("person", "role").order_by("role__order", "role__key", "person__name"))

"""Reads of the territory: scoped node lists, the tree, the tree as of a past date."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet

from gridgov.accounts.selectors import paths_q, user_scope_paths
from gridgov.territory.models import Node, NodeVersion


def node_scope(qs: QuerySet[Node], user) -> QuerySet[Node]:
    """Nodes the user may see: the subtrees of their assignments (and everything for district staff)."""
    paths = user_scope_paths(user)
    if paths is None:
        return qs
    return qs.filter(paths_q(paths)) if paths else qs.none()


def node_list_for_user(user, *, include_retired: bool = False) -> QuerySet[Node]:
    qs = Node.objects.select_related("level", "scheme", "node_type", "management_class", "parent")
    if not include_retired:
        qs = qs.current()
    return node_scope(qs, user)


def node_versions_as_of(*, on: dt.date, scheme=None) -> QuerySet[NodeVersion]:
    """The version of every node in force on `on`: parent, code, name, geometry as they were."""
    qs = NodeVersion.objects.filter(valid_from__lte=on).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
    if scheme is not None:
        qs = qs.filter(node__scheme=scheme)
    return qs.select_related("level")


def node_tree_as_of(*, on: dt.date, scheme=None, root_id: int | None = None) -> list[dict]:
    """The territory tree as it stood on `on`, as nested dicts {id, code, name, level, children}."""
    versions = list(node_versions_as_of(on=on, scheme=scheme).order_by("level__depth", "code", "node_id"))
    by_id = {v.node_id: {"id": v.node_id, "code": v.code, "name": v.name, "level": v.level.key,
                         "parent_id": v.parent_id, "children": []} for v in versions}
    roots = []
    for item in by_id.values():
        parent = by_id.get(item["parent_id"])
        if parent is not None:
            parent["children"].append(item)
        elif root_id is None:
            roots.append(item)
    if root_id is not None:
        return [by_id[root_id]] if root_id in by_id else []
    return roots


def node_children(node: Node, *, on: dt.date | None = None) -> QuerySet[Node]:
    qs = node.children.select_related("level", "node_type", "management_class")
    return (qs.active(on) if on else qs.current()).order_by("code", "name")


def with_child_counts(qs: QuerySet[Node]) -> QuerySet[Node]:
    return qs.annotate(child_count=Count("children", filter=Q(children__valid_to__isnull=True), distinct=True))

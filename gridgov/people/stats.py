"""Figures of base data per cell: for any node, counts over its whole subtree.

One grouped query per model counts the rows sitting directly in each cell of the subtree (by node id);
the counts are then summed up the tree in Python. So a district of 10,000 cells costs the same dozen
queries as a grid, and never one query per node.

What is counted (states are as stored now; `on` dates the time-bound registrations, today by default):
- households, residents (total / registered here / actually living here), houses (total / owner-occupied /
  rented / vacant), buildings and legal entities that are ACTIVE;
- per special group, the memberships of ACTIVE residents current on `on`;
- party members and volunteers current on `on`, among ACTIVE residents, counted in the resident's cell;
- paired households: ACTIVE households with at least one pairing current on `on`.
The rollup of a node equals the raw count of the same rows whose cell path starts with the node's path
(retired cells of the subtree included), which the tests check at every level.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone

from gridgov.people.models import (
    Building,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordState,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope

ACTIVE = RecordState.ACTIVE

# the flat figures, in display order (special groups come as a dict under "groups")
FIGURES = (
    "households", "residents", "residents_registered", "residents_actual",
    "houses", "houses_owner", "houses_rented", "houses_vacant", "buildings", "entities",
    "party_members", "paired_households", "volunteers",
)


def current_q(on: dt.date, prefix: str = "") -> Q:
    """Registrations (membership, party, volunteer, pairing) running on day `on`."""
    return Q(**{f"{prefix}start_date__lte": on}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gt": on}))


def _direct_counts(node: Node, on: dt.date) -> dict[int, Counter]:
    """node id → Counter of the rows sitting directly in that cell, for every cell of `node`'s subtree."""
    sole_root = node.parent_id is None and not (
        Node.objects.filter(scheme_id=node.scheme_id, parent__isnull=True).exclude(pk=node.pk).exists())
    # for the whole scheme every record of the scheme sits in the subtree: no join with the cells needed
    cells = None if sole_root else Node.objects.filter(path__startswith=node.path).values("pk")
    counts: dict[int, Counter] = {}

    def under(prefix: str = "") -> Q:
        if cells is None:
            return Q(**{f"{prefix}scheme_id": node.scheme_id})
        return Q(**{f"{prefix}node__in": cells})

    def add(rows, node_key: str, mapping: dict[str, str]) -> None:
        for row in rows:
            bucket = counts.setdefault(row[node_key], Counter())
            for src, figure in mapping.items():
                if row[src]:
                    bucket[figure] += row[src]

    add(Household.objects.filter(under(), state=ACTIVE).values("node_id").annotate(n=Count("id")).order_by(),
        "node_id", {"n": "households"})
    add(Resident.objects.filter(under(), state=ACTIVE).values("node_id").annotate(
        n=Count("id"), reg=Count("id", filter=Q(registered_here=True)), act=Count("id", filter=Q(living_here=True)),
    ).order_by(), "node_id", {"n": "residents", "reg": "residents_registered", "act": "residents_actual"})
    add(House.objects.filter(under(), state=ACTIVE).values("node_id").annotate(
        n=Count("id"), owner=Count("id", filter=Q(occupancy=Occupancy.OWNER)),
        rented=Count("id", filter=Q(occupancy=Occupancy.RENTED)),
        vacant=Count("id", filter=Q(occupancy=Occupancy.VACANT)),
    ).order_by(), "node_id", {"n": "houses", "owner": "houses_owner", "rented": "houses_rented",
                              "vacant": "houses_vacant"})
    add(Building.objects.filter(under(), state=ACTIVE).values("node_id").annotate(n=Count("id")).order_by(),
        "node_id", {"n": "buildings"})
    add(LegalEntity.objects.filter(under(), state=ACTIVE).values("node_id").annotate(n=Count("id")).order_by(),
        "node_id", {"n": "entities"})
    add(PartyMember.objects.filter(current_q(on), under("resident__"), resident__state=ACTIVE)
        .values("resident__node_id").annotate(n=Count("id")).order_by(), "resident__node_id", {"n": "party_members"})
    add(Volunteer.objects.filter(current_q(on), under("resident__"), resident__state=ACTIVE)
        .values("resident__node_id").annotate(n=Count("id")).order_by(), "resident__node_id", {"n": "volunteers"})
    add(HouseholdPairing.objects.filter(current_q(on), under("household__"), household__state=ACTIVE)
        .values("household__node_id").annotate(n=Count("household_id", distinct=True)).order_by(),
        "household__node_id", {"n": "paired_households"})
    for row in (GroupMembership.objects.filter(current_q(on), under("resident__"), resident__state=ACTIVE)
                .values("resident__node_id", "group_id").annotate(n=Count("id")).order_by()):
        counts.setdefault(row["resident__node_id"], Counter())[("group", row["group_id"])] += row["n"]
    return counts


def _shape(counter: Counter, groups: list[SpecialGroup]) -> dict[str, Any]:
    figures: dict[str, Any] = {name: counter.get(name, 0) for name in FIGURES}
    figures["groups"] = {g.key: counter.get(("group", g.pk), 0) for g in groups}
    return figures


def _in_scope(node: Node, user) -> Node:
    if user is not None and not node_scope(Node.objects.filter(pk=node.pk), user).exists():
        raise Http404
    return node


def cell_figures(*, node: Node, user=None, on: dt.date | None = None,
                 children: bool = True) -> tuple[dict[str, Any], list[tuple[Node, dict[str, Any]]]]:
    """The figures of `node` and (when `children`) of each of its children in force, from one pass.

    With a `user`, a node outside their territory is a 404 (children of a node in scope are in scope)."""
    _in_scope(node, user)
    on = on or timezone.localdate()
    direct = _direct_counts(node, on)
    groups = list(SpecialGroup.objects.order_by("order", "key"))
    total: Counter = Counter()
    for counter in direct.values():
        total.update(counter)
    if not children:
        return _shape(total, groups), []
    kids = list(node.children.current().select_related("level").order_by("code", "name"))
    by_child: dict[int, Counter] = {kid.pk: Counter() for kid in kids}
    if direct:
        # which child of `node` each cell of the subtree lies under: the path segment after node.path
        start = len(node.path)
        top: dict[int, int] = {}
        for pk, path in Node.objects.filter(path__startswith=node.path).exclude(pk=node.pk).values_list("pk", "path"):
            if pk in direct:
                top[pk] = int(path[start:].split("/", 1)[0])
        for pk, counter in direct.items():
            child = top.get(pk)
            if child in by_child:
                by_child[child].update(counter)
    return _shape(total, groups), [(kid, _shape(by_child[kid.pk], groups)) for kid in kids]


def cell_stats(*, node: Node, user=None, on: dt.date | None = None) -> dict[str, Any]:
    """The figures of `node`'s whole subtree (see the module docstring)."""
    return cell_figures(node=node, user=user, on=on, children=False)[0]


def cell_stats_children(*, node: Node, user, on: dt.date | None = None) -> list[tuple[Node, dict[str, Any]]]:
    """Each child in force of `node` with the figures of its subtree, for drill-down."""
    return cell_figures(node=node, user=user, on=on)[1]

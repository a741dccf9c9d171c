"""Base data follows the territory when a cell is split or merged.

`territory.services.node_split` / `node_merge` retire a cell and call the registered followers inside
their transaction (registered in `PeopleConfig.ready`) with the heir they computed. Here every record
still sitting in the retired cell moves to a successor:
- the successor whose polygon holds the record's coordinates; a record without coordinates uses those of
  what it belongs to (a resident: their household, then their house; a household or a house: its house or
  building), so the members of a household stay together;
- else the heir: the successor `node_split` / `node_merge` chose (the one holding most of the retired
  cell's area), where the people in charge go too.
Each moved base record gets its version bumped and a history row (source "reorganise") in the same
transaction; volunteers follow their resident, the party branch and dedicated cells follow the heir (or the
entity), each with an audit entry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.db import models
from django.db.models import F
from django.utils import timezone
from shapely.geometry import Point

from gridgov.core.audit import audit_record
from gridgov.people.history import history_row
from gridgov.people.models import (
    Building,
    HistoryAction,
    House,
    Household,
    LegalEntity,
    PartyMember,
    RecordHistory,
    Resident,
    Volunteer,
)
from gridgov.territory import geometry as geo
from gridgov.territory.models import Node

SOURCE = "reorganise"
BATCH = 500  # ids per UPDATE ... WHERE id IN (...), within SQLite's variable limit


class _Placer:
    """Chooses the successor for a point (or the heir when there is none)."""

    def __init__(self, successors: Sequence[Node], heir: Node):
        self.successors = list(successors)
        self.shapes = [(s, geo.parse_geometry(s.geometry) if s.geometry else None) for s in self.successors]
        self.heir = heir

    def place(self, lon: float | None, lat: float | None) -> Node:
        if lon is not None and lat is not None and len(self.shapes) > 1:
            point = Point(lon, lat)
            for node, shape in self.shapes:
                if shape is not None and shape.covers(point):
                    return node
        return self.heir


def _move(model: type[models.Model], targets: dict[int, Node], *, actor) -> int:
    """Re-point records (pk → new cell), bump their versions and append their history rows."""
    if not targets:
        return 0
    user = actor if getattr(actor, "is_authenticated", False) else None
    now = timezone.now()
    by_target: dict[int, list[int]] = defaultdict(list)
    for pk, node in targets.items():
        by_target[node.pk].append(pk)
    for node_id, pks in by_target.items():
        for i in range(0, len(pks), BATCH):
            model.objects.filter(pk__in=pks[i:i + BATCH]).update(node_id=node_id, version=F("version") + 1,
                                                                 updated_at=now, updated_by=user)
    pks = sorted(targets)
    for i in range(0, len(pks), BATCH):
        rows = [history_row(obj=obj, action=HistoryAction.UPDATE, actor=actor, source=SOURCE, changed=["node"], at=now)
                for obj in model.objects.filter(pk__in=pks[i:i + BATCH])]
        RecordHistory.objects.bulk_create(rows)
    return len(targets)


def records_follow_reorganise(*, predecessor: Node, successors: Sequence[Node], heir: Node | None,
                              effective_date: dt.date, actor, reason: str = "") -> None:
    """Move the base data of the retired `predecessor` to its `successors` (see the module docstring). A cell
    retired without successors (no heir) keeps its records, as before."""
    if heir is None:
        return
    placer = _Placer(successors, heir)
    place = placer.place

    buildings = {b.pk: b for b in Building.objects.select_for_update().filter(node=predecessor)}
    building_at = {pk: (b.lon, b.lat) for pk, b in buildings.items()}

    houses = list(House.objects.select_for_update().filter(node=predecessor))
    house_at: dict[int, tuple] = {}
    for h in houses:
        house_at[h.pk] = (h.lon, h.lat) if h.lon is not None else building_at.get(h.building_id, (None, None))
    # houses outside the retired cell that its households or residents point at still lend their coordinates
    extra = (set(Household.objects.filter(node=predecessor, house__isnull=False).values_list("house_id", flat=True))
             | set(Resident.objects.filter(node=predecessor, house__isnull=False).values_list("house_id", flat=True)))
    for pk, lon, lat in House.objects.filter(pk__in=extra - set(house_at)).values_list("pk", "lon", "lat"):
        house_at[pk] = (lon, lat)

    households = list(Household.objects.select_for_update().filter(node=predecessor))
    household_at: dict[int, tuple] = {}
    for hh in households:
        household_at[hh.pk] = (hh.lon, hh.lat) if hh.lon is not None else house_at.get(hh.house_id, (None, None))
    outside = set(Resident.objects.filter(node=predecessor, household__isnull=False)
                  .values_list("household_id", flat=True)) - set(household_at)
    for hh in Household.objects.filter(pk__in=outside).select_related("house"):
        household_at[hh.pk] = ((hh.lon, hh.lat) if hh.lon is not None
                               else ((hh.house.lon, hh.house.lat) if hh.house else (None, None)))

    def resident_at(r: Resident) -> tuple:
        if r.lon is not None:
            return r.lon, r.lat
        where = household_at.get(r.household_id, (None, None))
        return where if where[0] is not None else house_at.get(r.house_id, (None, None))

    residents = list(Resident.objects.select_for_update().filter(node=predecessor)
                     .only("pk", "lon", "lat", "household_id", "house_id"))
    entities = list(LegalEntity.objects.select_for_update().filter(node=predecessor).only("pk", "lon", "lat"))

    moved = {
        "building": _move(Building, {pk: place(*building_at[pk]) for pk in buildings}, actor=actor),
        "house": _move(House, {h.pk: place(*house_at[h.pk]) for h in houses}, actor=actor),
        "household": _move(Household, {hh.pk: place(*household_at[hh.pk]) for hh in households}, actor=actor),
        "resident": _move(Resident, {r.pk: place(*resident_at(r)) for r in residents}, actor=actor),
        "legalentity": _move(LegalEntity, {e.pk: place(e.lon, e.lat) for e in entities}, actor=actor),
    }

    # an entity's dedicated cell follows the entity (its own cell when it moved with it, else the heir)
    for entity in LegalEntity.objects.select_for_update().filter(dedicated_node=predecessor).select_related("node"):
        target = entity.node if entity.node in placer.successors else placer.heir
        LegalEntity.objects.filter(pk=entity.pk).update(dedicated_node=target)
        audit_record(actor=actor, action="people.dedicated_node_follow", target=entity,
                     changes={"dedicated_node": [predecessor.pk, target.pk]})

    successor_ids = {s.pk for s in placer.successors}
    for volunteer in Volunteer.objects.select_for_update().filter(node=predecessor).select_related("resident"):
        target_id = volunteer.resident.node_id if volunteer.resident.node_id in successor_ids else placer.heir.pk
        Volunteer.objects.filter(pk=volunteer.pk).update(node_id=target_id)
        audit_record(actor=actor, action="people.volunteer_follow", target=volunteer,
                     changes={"node": [predecessor.pk, target_id]})
    for member in PartyMember.objects.select_for_update().filter(branch_node=predecessor):
        PartyMember.objects.filter(pk=member.pk).update(branch_node=placer.heir)
        audit_record(actor=actor, action="people.party_branch_follow", target=member,
                     changes={"branch_node": [predecessor.pk, placer.heir.pk]})

    if any(moved.values()):
        audit_record(actor=actor, action="people.records_follow_reorganise", target=predecessor,
                     summary=f"{effective_date:%Y-%m-%d}",
                     changes={"moved": moved, "successors": sorted(successor_ids)})

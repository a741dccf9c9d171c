"""Houses (and the buildings they name), keyed by house code."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from gridgov.people.bulk.base import KeyedImport
from gridgov.people.bulk.clean import OCCUPANCIES, Row
from gridgov.people.bulk.sql import Table, allocate_ids
from gridgov.people.models import (
    Building,
    HistoryAction,
    House,
    Occupancy,
)


@dataclass(slots=True)
class HouseItem:
    row: Row
    code: str
    values: dict[str, Any]
    node_id: int | None
    lon: float | None
    lat: float | None
    building_code: str
    building_name: str


class HouseImport(KeyedImport):
    record_type = "house"
    key_column, key_field = "code", "house_code"
    analyzed = (House, Building)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = Table(House)
        self.buildings = Table(Building)

    def prepare(self, row: Row) -> HouseItem:
        self.required(row)
        code = row.text("house_code", 60)
        values: dict[str, Any] = {}
        if row.given("address"):
            values["address"] = row.text("address", 300)
        for name in ("building_no", "entrance_no", "room"):
            if row.given(name):
                values[name] = row.text(name, 20)
        if row.given("floor"):
            values["floor"] = row.numeric("floor", int)
        if row.given("occupancy"):
            values["occupancy"] = row.choice("occupancy", OCCUPANCIES)
        if row.given("area_m2"):
            values["area_m2"] = row.numeric("area_m2", float, minimum=0)
        lon, lat = row.coords()
        if lon is not None:
            values["lon"], values["lat"] = lon, lat
        node_id = self.cell(row, "cell")
        if code:
            self.once(row, code, "house_code")
        return HouseItem(row, code, values, node_id, lon, lat, row.text("building_code", 40),
                          row.text("building_name", 200))

    def apply(self, items: list[HouseItem], stored: dict[str, dict]) -> tuple[Counter, Counter]:
        now = timezone.now()
        outcomes, created = Counter(), Counter()
        building_ids = self.building_ids(items, now, created)
        fresh, changed, history = [], [], []
        for item in items:
            values = dict(item.values)
            if item.node_id is not None:
                values["node_id"] = item.node_id
            if item.building_code:
                values["building_id"] = building_ids[item.building_code]
            old = stored.get(item.code)
            if old is None:
                values.setdefault("building_no", item.building_code[:20])
                fresh.append((item, values))
                continue
            diff = self.changes(old, values)
            if not diff:
                outcomes["unchanged"] += 1
                continue
            record = self.bump(old, values, diff, now)
            changed.append(record)
            history.append((record, HistoryAction.UPDATE, self.field_names(House, diff)))
            outcomes["updated"] += 1
        records = []
        for (item, values), pk in zip(fresh, allocate_ids(House, len(fresh)), strict=True):
            record = self.new_record({
                "id": pk, "code": item.code, "building_id": None, "address": "", "building_no": "",
                "entrance_no": "", "floor": None, "room": "", "occupancy": Occupancy.OWNER.value, "area_m2": None,
                **values}, now)
            records.append(record)
            history.append((record, HistoryAction.CREATE, []))
        self.table.insert(records)
        self.table.update(changed)
        self.history(self.table, "house", history, now)
        outcomes["created"] += len(records)
        created["house"] += len(records)
        return outcomes, created

    def building_ids(self, items: list[HouseItem], now: dt.datetime, created: Counter) -> dict[str, int]:
        """The buildings the houses name, created (in the first house's cell) when missing."""
        wanted: dict[str, HouseItem] = {}
        for item in items:
            if item.building_code:
                wanted.setdefault(item.building_code, item)
        if not wanted:
            return {}
        codes = list(wanted)
        found = {r["code"]: r["id"] for r in self.buildings.select(
            *self.in_scheme("code", codes))}
        missing = [code for code in codes if code not in found]
        records = []
        for code, pk in zip(missing, allocate_ids(Building, len(missing)), strict=True):
            item = wanted[code]
            node_id = item.node_id
            if node_id is None:  # an existing house in a new building: the building takes the house's cell
                node_id = House.objects.filter(scheme=self.scheme, code=item.code).values_list("node_id",
                                                                                                flat=True).first()
            records.append(self.new_record({"id": pk, "node_id": node_id, "code": code,
                                            "name": item.building_name or code, "address": "", "floors": None}, now))
            found[code] = pk
        self.buildings.insert(records)
        self.history(self.buildings, "building", [(r, HistoryAction.CREATE, []) for r in records], now)
        created["building"] += len(records)
        return found

"""Residents and the households they name, keyed by ID number."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.names import name_clean
from gridgov.people.bulk.base import Import, special_groups_by_name
from gridgov.people.bulk.clean import LIST_SPLIT, RELATIONS, RESIDENT_STATES, Row
from gridgov.people.bulk.kinds import CACHE_LIMIT
from gridgov.people.bulk.sql import Table, allocate_ids, among
from gridgov.people.bulk.workers import AGAIN
from gridgov.people.models import (
    GroupMembership,
    HistoryAction,
    House,
    Household,
    RecordState,
    Relation,
    Resident,
)
from gridgov.people.services import phone_columns
from gridgov.privacy import crypto
from gridgov.privacy.access import seal_field
from gridgov.privacy.identifiers import id_number_clean, phone_clean
from gridgov.privacy.masking import mask_id_number

PHONE_COLUMNS = ("phone_sealed", "phone_digest", "phone_masked")
HEAD, ACTIVE = Relation.HEAD.value, RecordState.ACTIVE.value  # (an enum member's .value costs a call)


@dataclass(slots=True)
class ResidentItem:
    row: Row
    number: str  # the cleaned ID number (clear: it is sealed when written, never kept)
    gender: str
    birth_date: dt.date | None
    key: int  # the digest's first 96 bits, for duplicates in the file
    digest: str
    values: dict[str, Any]
    phone: str | None
    household: str
    household_address: str
    house_code: str
    relation: str | None
    node_id: int | None
    lon: float | None
    lat: float | None
    state: str | None
    groups: list[int]
    given_cell: bool
    # the stored columns of the ID number and the phone when sealed ahead (by a worker process); None: sealed
    # when written, only if written
    sealed: dict[str, str] | None = None

    @property
    def heads(self) -> bool:
        """This row makes its person the active head of its household."""
        return self.relation == HEAD and (self.state or ACTIVE) == ACTIVE


class ResidentImport(Import):
    """Residents and the households they name. A member of a household whose head is neither stored nor
    seen yet in the file waits until the end of the file; the head may come later."""

    record_type = "resident"
    analyzed = (Resident, Household, GroupMembership)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = Table(Resident)
        self.households = Table(Household)
        self.id_label = seal_field("resident", "id_number")
        self.phone_label = seal_field("resident", "phone")
        self.waiting: list[ResidentItem] = []
        self.groups = special_groups_by_name()
        self.houses: dict[str, tuple[int, int, str]] = {}  # code → (id, node id, address)
        self.new_household_cells: dict[str, int] = {}

    # ------------------------------------------------------------------ cleaning
    cleans_apart = True

    def clean(self, row: Row) -> ResidentItem | None:
        """The row's values, cleaned and checked on their own (no database read: a cell that needs one raises
        `cells.Unresolved` in a worker process); None when its ID number is missing or invalid."""
        self.required(row)
        info = row.cleaned("id_number", id_number_clean) if row.given("id_number") else None
        values: dict[str, Any] = {}
        if row.given("name"):
            values["name"] = row.cleaned("name", name_clean)
        for name in ("registered_address", "actual_address"):
            if row.given(name):
                values[name] = row.text(name, 300)
        for name in ("registered_here", "living_here"):
            flag = row.flag(name)
            if flag is not None:
                values[name] = flag
        moved_in = row.date("moved_in_date")
        if moved_in is not None:
            values["moved_in_date"] = moved_in
        state = row.choice("state", RESIDENT_STATES)
        state_date = row.date("state_date")
        if state_date is not None and state_date > self.today:
            row.fail("state_date", _("the date cannot be in the future"))
        if state is not None and state != "ACTIVE" and state_date is None and not row.given("state_date"):
            row.fail("state_date", _("give the date of the change"))
        if state is not None:
            values["state"] = state
            if state_date is not None:
                values["state_date"] = state_date
            if state == "MOVED_OUT":
                values["moved_out_date"] = state_date
            elif state == "ACTIVE":
                values["moved_out_date"] = None
        if moved_in is not None and values.get("moved_out_date") and values["moved_out_date"] < moved_in:
            row.fail("state_date", _("the move-out date is before the move-in date"))
        phone = row.cleaned("phone", phone_clean) if row.given("phone") else None
        relation = row.choice("relation", RELATIONS)
        lon, lat = row.coords()
        if lon is not None:
            values["lon"], values["lat"] = lon, lat
        node_id = self.cell(row, "cell")
        groups = []
        for name in LIST_SPLIT.split(row.plain("groups")):
            if not name:
                continue
            group = self.groups.get(name) or self.groups.get(name.lower())
            if group is None:
                row.fail("groups", _("unknown special group %(g)s") % {"g": name})
            elif any(f.get("required") for f in group.fields):
                row.fail("groups", _("%(g)s needs its attributes: import it as special-group memberships")
                         % {"g": group.name_zh})
            else:
                groups.append(group.pk)
        household = row.text("household_number", 40)
        if info is None:  # the ID number is missing or invalid: the row has failed already
            return None
        digest = crypto.digest(info.number, field=self.id_label)
        return ResidentItem(row=row, number=info.number, gender=info.gender, birth_date=info.birth_date,
                            key=int(digest[:24], 16),
                             digest=digest, values=values, phone=phone, household=household,
                             household_address=row.text("household_address", 300),
                             house_code=row.text("house_code", 60), relation=relation, node_id=node_id, lon=lon,
                             lat=lat, state=state, groups=groups, given_cell=node_id is not None)

    def seal(self, item: ResidentItem) -> None:
        """Seal, digest and mask the item's ID number and phone now (a worker does it ahead of the write)."""
        item.sealed = {"id_sealed": crypto.seal(item.number, field=self.id_label),
                       "id_masked": mask_id_number(item.number), **self.phone_values(item)}

    def phone_values(self, item: ResidentItem) -> dict[str, str]:
        if item.sealed is not None:
            return {name: item.sealed[name] for name in PHONE_COLUMNS}
        return phone_columns("resident", item.phone) if item.phone else dict.fromkeys(PHONE_COLUMNS, "")

    # ------------------------------------------------------------------ chunks
    def run_chunk(self, rows: list[Row]) -> None:
        self.run_cleaned([(row, self.clean(row)) for row in rows])

    def run_cleaned(self, cleaned: list[tuple[Row, ResidentItem | str | None]]) -> None:
        """A chunk of rows as `clean` left them (or `workers.AGAIN`: clean it here), in the file's order."""
        items = []
        for row, item in cleaned:
            if item == AGAIN:
                item = self.clean(row)
            if item is not None:
                self.once(row, item.key, "id_number")
            if item is not None and not row.errors:
                items.append(item)
            else:
                self.reject(row)
        self.process(items, final=False)

    def process(self, items: list[ResidentItem], *, final: bool) -> None:
        digests = [item.digest for item in items]
        stored = {r["id_digest"]: r for r in self.table.select(
            *self.in_scheme("id_digest", digests))} if digests else {}
        houses = self.house_lookup([item.house_code for item in items if item.house_code])
        numbers = sorted({item.household for item in items if item.household})
        households = {r["number"]: r for r in self.households.select(
            *self.in_scheme("number", numbers))} if numbers else {}
        heads = self.stored_heads([h["id"] for h in households.values()])
        names_by_id = {h["id"]: h["number"] for h in households.values()}
        other_ids = {r["household_id"] for r in stored.values() if r["household_id"] is not None
                     and r["household_id"] not in names_by_id}
        if other_ids:
            names_by_id.update(Household.objects.filter(pk__in=other_ids).values_list("id", "number"))
        ready = []
        for item in items:
            if item.house_code:
                house = houses.get(item.house_code)
                if house is None:
                    item.row.fail("house_code", _("unknown house %(c)s") % {"c": item.house_code})
                    self.reject(item.row)
                    continue
                if item.node_id is None and item.lon is None:
                    item.node_id = house[1]
            old = stored.get(item.digest)
            if self.outside(old, item.row, "id_number") or (
                    item.household and self.outside(households.get(item.household), item.row, "household_number")):
                self.reject(item.row)
                continue
            if old is not None:
                moved_in = item.values.get("moved_in_date", old["moved_in_date"])
                moved_out = item.values.get("moved_out_date", old["moved_out_date"])
                if moved_in and moved_out and moved_out < moved_in:
                    item.row.fail("moved_in_date", _("the move-out date is before the move-in date"))
                    self.reject(item.row)
                    continue
            ready.append(item)
        # a stored resident keeps their cell, a member takes their household's; a new head needs one
        self.place(ready, missing_ok=lambda item: item.digest in stored or item.household in households
                   or bool(item.household and not item.heads))
        # heads first, so that members of the chunk find their head wherever it stands in the chunk
        ready.sort(key=lambda item: not item.heads)
        head_rows: dict[str, int] = {}  # household number → row of its head in this chunk
        accepted: list[ResidentItem] = []
        for item in ready:
            if item.row.errors:
                self.reject(item.row)
                continue
            old = stored.get(item.digest)
            if item.household and not self.household_ok(item, old, households, heads, head_rows, names_by_id,
                                                       final=final):
                continue
            if item.row.errors:
                self.reject(item.row)
                continue
            accepted.append(item)
        self.write([item.row for item in accepted], lambda: self.apply(accepted, stored, households, houses))

    def household_ok(self, item: ResidentItem, old: dict | None, households: dict[str, dict],
                     heads: dict[int, str], head_rows: dict[str, int], names_by_id: dict[int, str], *,
                     final: bool) -> bool:
        """Check the household the row names; False when the row is rejected or held back."""
        number = item.household
        hh = households.get(number)
        if old is not None and old["household_id"] is not None and old["state"] == "ACTIVE" and (
                hh is None or old["household_id"] != hh["id"]):
            item.row.fail("household_number", _("already a member of household %(n)s; record the move-out first")
                          % {"n": names_by_id.get(old["household_id"], "?")})
            self.reject(item.row)
            return False
        if hh is not None and hh["state"] != "ACTIVE":
            item.row.fail("household_number", _("household %(n)s is no longer active") % {"n": number})
            self.reject(item.row)
            return False
        member_already = old is not None and hh is not None and old["household_id"] == hh["id"]
        if item.relation is None:
            if member_already:
                item.relation = old["relation"]
            else:
                item.row.fail("relation", _("say how the resident is related to the head of the household"))
                self.reject(item.row)
                return False
        stored_head = heads.get(hh["id"]) if hh is not None else None
        if item.heads:
            if stored_head is not None and stored_head != item.digest:
                item.row.fail("relation", _("household %(n)s already has a head") % {"n": number})
            elif number in head_rows:
                item.row.fail("relation", _("household %(n)s has two heads (rows %(a)d and %(b)d)")
                              % {"n": number, "a": head_rows[number], "b": item.row.number})
            if item.row.errors:
                self.reject(item.row)
                return False
            head_rows[number] = item.row.number
            return True
        if stored_head is not None and stored_head == item.digest and (item.state or old["state"]) == "ACTIVE":
            item.row.fail("relation", _("this resident is the head of household %(n)s: name the new head on the "
                                        "household first") % {"n": number})
            self.reject(item.row)
            return False
        if (item.state or (old["state"] if old else "ACTIVE")) != "ACTIVE":
            return True
        if stored_head is not None or number in head_rows:
            return True
        if final:
            item.row.fail("household_number", _("household %(n)s has no head (relation to the head = head)")
                          % {"n": number})
            self.reject(item.row)
        else:
            self.waiting.append(item)
        return False

    def stored_heads(self, household_ids: list[int]) -> dict[int, str]:
        """household id → ID digest of its active head."""
        if not household_ids:
            return {}
        where, params = among("household_id", household_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT household_id, id_digest FROM {self.table.table} "  # noqa: S608 (names from the model)
                f"WHERE {where} AND relation = %s AND state = %s", [*params, HEAD, ACTIVE])
            return dict(cursor.fetchall())

    def house_lookup(self, codes: list[str]) -> dict[str, tuple[int, int, str]]:
        missing = sorted({c for c in codes if c not in self.houses})
        if missing:
            if len(self.houses) > CACHE_LIMIT:
                self.houses.clear()
            self.houses.update({code: (pk, node_id, address) for pk, code, node_id, address in House.objects.filter(
                scheme=self.scheme, code__in=missing).order_by().values_list("id", "code", "node_id", "address")})
        return {c: self.houses[c] for c in codes if c in self.houses}

    def finish(self, chunk_size: int) -> None:
        waiting, self.waiting = self.waiting, []
        for start in range(0, len(waiting), chunk_size):
            self.process(waiting[start:start + chunk_size], final=True)

    # ------------------------------------------------------------------ writes
    def apply(self, items: list[ResidentItem], stored: dict[str, dict], households: dict[str, dict],
              houses: dict[str, tuple[int, int, str]]) -> tuple[Counter, Counter]:
        now = timezone.now()
        outcomes, created = Counter(), Counter()
        household_ids = {number: h["id"] for number, h in households.items()}
        for item in items:
            old = stored.get(item.digest)
            if item.node_id is None:
                hh = households.get(item.household)
                if hh is not None and (old is None or old["household_id"] != hh["id"]):
                    item.node_id = hh["node_id"]  # joins a household: lives in its cell
                elif old is not None and item.household and hh is None:
                    item.node_id = old["node_id"]  # heads a new household from where they live
        self.create_households(items, household_ids, houses, now, created)
        fresh, changed, history, memberships = [], [], [], []
        open_groups = self.open_groups([old["id"] for old in stored.values()], items)
        for item in items:
            old = stored.get(item.digest)
            values = dict(item.values)
            if item.household:
                values["household_id"] = household_ids[item.household]
                values["relation"] = item.relation
            elif item.relation is not None and (old is None or old["household_id"] is None):
                values["relation"] = item.relation
            if item.house_code:
                values["house_id"] = houses[item.house_code][0]
            if item.node_id is not None:
                values["node_id"] = item.node_id
            elif old is None:
                values["node_id"] = self.new_household_cells[item.household]
            if old is None:
                fresh.append((item, values))
                continue
            diff = self.changes(old, values)
            if item.phone is not None and (item.sealed["phone_digest"] if item.sealed is not None else crypto.digest(
                    item.phone, field=self.phone_label)) != old["phone_digest"]:
                values.update(self.phone_values(item))
                diff += list(PHONE_COLUMNS)
            new_groups = [g for g in item.groups if (old["id"], g) not in open_groups]
            memberships += [(old["id"], g) for g in new_groups]
            if not diff:
                outcomes["updated" if new_groups else "unchanged"] += 1
                continue
            record = self.bump(old, values, diff, now)
            changed.append(record)
            action = HistoryAction.STATE if "state" in diff else HistoryAction.UPDATE
            history.append((record, action, self.field_names(Resident, diff)))
            outcomes["updated"] += 1
        records = []
        for (item, values), pk in zip(fresh, allocate_ids(Resident, len(fresh)), strict=True):
            if item.sealed is None:
                self.seal(item)
            record = self.new_record({
                "id": pk, "name": "", **item.sealed, "id_digest": item.digest, "gender": item.gender,
                "birth_date": item.birth_date, "household_id": None, "relation": "", "house_id": None,
                "registered_here": True, "living_here": True, "registered_address": "", "actual_address": "",
                "moved_in_date": None, "moved_out_date": None, **values}, now)
            records.append(record)
            history.append((record, HistoryAction.CREATE, []))
            memberships += [(pk, g) for g in dict.fromkeys(item.groups)]
        self.table.insert(records)
        self.table.update(changed)
        self.history(self.table, "resident", history, now)
        if memberships:
            GroupMembership.objects.bulk_create([GroupMembership(resident_id=r, group_id=g, start_date=self.today)
                                                 for r, g in memberships])
        outcomes["created"] += len(records)
        created["resident"] += len(records)
        created["membership"] += len(memberships)
        return outcomes, created

    def create_households(self, items: list[ResidentItem], household_ids: dict[str, int],
                          houses: dict[str, tuple[int, int, str]], now: dt.datetime, created: Counter) -> None:
        """The households the rows name that are not stored: in the cell (and house) of their first row."""
        self.new_household_cells = {}
        first: dict[str, ResidentItem] = {}
        for item in items:
            if item.household and item.household not in household_ids:
                first.setdefault(item.household, item)
        records = []
        for (number, item), pk in zip(first.items(), allocate_ids(Household, len(first)), strict=True):
            house = houses.get(item.house_code)
            records.append(self.new_record({
                "id": pk, "node_id": item.node_id, "number": number, "house_id": house[0] if house else None,
                "address": item.household_address or (house[2] if house else ""),
                "kind": Household.Kind.FAMILY.value}, now))
            household_ids[number] = pk
            self.new_household_cells[number] = item.node_id
        self.households.insert(records)
        self.history(self.households, "household", [(r, HistoryAction.CREATE, []) for r in records], now)
        created["household"] += len(records)

    def open_groups(self, resident_ids: list[int], items: list[ResidentItem]) -> set[tuple[int, int]]:
        if not resident_ids or not any(item.groups for item in items):
            return set()
        return set(GroupMembership.objects.filter(resident_id__in=resident_ids, end_date__isnull=True)
                   .values_list("resident_id", "group_id"))

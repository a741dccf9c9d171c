"""Legal entities, keyed by credit code."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from gridgov.core.names import name_clean
from gridgov.people.bulk.base import KeyedImport
from gridgov.people.bulk.clean import Row
from gridgov.people.bulk.sql import Table, allocate_ids
from gridgov.people.models import (
    HistoryAction,
    LegalEntity,
)
from gridgov.people.services import phone_columns
from gridgov.privacy import crypto
from gridgov.privacy.access import seal_field
from gridgov.privacy.identifiers import UNIT, phone_clean, uscc_clean


@dataclass(slots=True)
class EntityItem:
    row: Row
    code: str
    values: dict[str, Any]
    phone: str | None
    node_id: int | None
    lon: float | None
    lat: float | None


class EntityImport(KeyedImport):
    record_type = "legalentity"
    key_column, key_field = "credit_code", "credit_code"
    analyzed = (LegalEntity,)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = Table(LegalEntity)

    def prepare(self, row: Row) -> EntityItem:
        self.required(row)
        code = row.cleaned("credit_code", uscc_clean) if row.given("credit_code") else ""
        values: dict[str, Any] = {}
        for name, limit in (("name", 200), ("representative", 100)):
            if row.given(name):
                values[name] = row.cleaned(name, lambda v, field, limit=limit: name_clean(v, field=field, limit=limit))
        for name, limit in (("industry", 100), ("address", 300)):
            if row.given(name):
                values[name] = row.text(name, limit)
        if row.given("employees"):
            values["employees"] = row.numeric("employees", int, minimum=0)
        phone = (row.cleaned("phone", lambda v, field: phone_clean(v, kind=UNIT, field=field))
                 if row.given("phone") else None)
        lon, lat = row.coords()
        if lon is not None:
            values["lon"], values["lat"] = lon, lat
        dedicated = self.cell(row, "dedicated_cell")
        if dedicated is not None:
            values["dedicated_node_id"] = dedicated
        node_id = self.cell(row, "cell")
        if node_id is None and not row.given("cell") and lon is None:
            node_id = dedicated
        if code:
            self.once(row, code, "credit_code")
        return EntityItem(row, code or "", values, phone, node_id, lon, lat)

    def apply(self, items: list[EntityItem], stored: dict[str, dict]) -> tuple[Counter, Counter]:
        now = timezone.now()
        outcomes, created = Counter(), Counter()
        fresh, changed, history = [], [], []
        for item in items:
            values = dict(item.values)
            if item.node_id is not None:
                values["node_id"] = item.node_id
            old = stored.get(item.code)
            phone = item.phone
            if old is None:
                if phone:
                    values.update(phone_columns("legalentity", phone))
                fresh.append((item, values))
                continue
            diff = self.changes(old, values)
            if phone is not None:
                digest = crypto.digest(phone, field=seal_field("legalentity", "phone"))
                if digest != old["phone_digest"]:
                    values.update(phone_columns("legalentity", phone))
                    diff += ["phone_sealed", "phone_digest", "phone_masked"]
            if not diff:
                outcomes["unchanged"] += 1
                continue
            record = self.bump(old, values, diff, now)
            changed.append(record)
            history.append((record, HistoryAction.UPDATE, self.field_names(LegalEntity, diff)))
            outcomes["updated"] += 1
        records = []
        for (item, values), pk in zip(fresh, allocate_ids(LegalEntity, len(fresh)), strict=True):
            record = self.new_record({
                "id": pk, "credit_code": item.code, "industry": "", "address": "", "representative": "",
                "phone_sealed": "", "phone_digest": "", "phone_masked": "", "employees": None,
                "dedicated_node_id": None, **values}, now)
            records.append(record)
            history.append((record, HistoryAction.CREATE, []))
        self.table.insert(records)
        self.table.update(changed)
        self.history(self.table, "legalentity", history, now)
        outcomes["created"] += len(records)
        created["legalentity"] += len(records)
        return outcomes, created

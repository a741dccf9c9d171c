"""Volunteers among stored residents."""

from __future__ import annotations

from collections import Counter
from typing import Any

from gridgov.people.bulk.base import LinkImport
from gridgov.people.bulk.clean import Row
from gridgov.people.models import (
    Volunteer,
)


class VolunteerImport(LinkImport):
    record_type = "volunteer"

    def run_chunk(self, rows: list[Row]) -> None:
        for row in rows:
            self.required(row)
        residents = self.resident_ids(rows)
        items = []
        for row in rows:
            node_id = self.cell(row, "cell")
            start = self.start(row)
            if row.number in residents:
                self.once(row, residents[row.number][0], "id_number")
            if row.errors:
                self.reject(row)
                continue
            pk, resident_node, _state = residents[row.number]
            values: dict[str, Any] = {}
            if node_id is not None:
                values["node_id"] = node_id
            if start is not None:
                values["start_date"] = start
            if row.given("skills"):
                values["skills"] = row.text("skills", 300)
            items.append((row, pk, resident_node, values))
        self.write([item[0] for item in items], lambda: self.apply(items))

    def apply(self, items) -> tuple[Counter, Counter]:
        outcomes, created = Counter(), Counter()
        current = {v.resident_id: v for v in Volunteer.objects.filter(resident_id__in=[i[1] for i in items])}
        fresh, changed = [], []
        for _row, pk, resident_node, values in items:
            volunteer = current.get(pk)
            if volunteer is None:
                fresh.append(Volunteer(resident_id=pk, **{"node_id": resident_node, "start_date": self.today,
                                                          **values}))
                continue
            diff = [name for name, value in values.items() if getattr(volunteer, name) != value]
            for name in diff:
                setattr(volunteer, name, values[name])
            if diff:
                changed.append(volunteer)
            else:
                outcomes["unchanged"] += 1
        Volunteer.objects.bulk_create(fresh)
        Volunteer.objects.bulk_update(changed, ["node_id", "start_date", "skills"])
        outcomes["created"] += len(fresh)
        outcomes["updated"] += len(changed)
        created["volunteer"] += len(fresh)
        return outcomes, created

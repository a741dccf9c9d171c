"""Party members (and their paired households) among stored residents."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.utils.translation import gettext as _

from gridgov.people.bulk.base import LinkImport
from gridgov.people.bulk.clean import LIST_SPLIT, Row, as_text
from gridgov.people.models import (
    Household,
    HouseholdPairing,
    PartyMember,
    RecordState,
)


class PartyMemberImport(LinkImport):
    record_type = "partymember"

    def run_chunk(self, rows: list[Row]) -> None:
        for row in rows:
            self.required(row)
        residents = self.resident_ids(rows)
        numbers = {number for row in rows for number in LIST_SPLIT.split(as_text(row.data.get("paired_households")))
                   if number}
        households = dict(Household.objects.filter(scheme=self.scheme, number__in=numbers, state=RecordState.ACTIVE)
                          .values_list("number", "id")) if numbers else {}
        items = []
        for row in rows:
            branch = self.cell(row, "branch_cell")
            joined = row.date("joined_date")
            start = self.start(row)
            paired = []
            for number in LIST_SPLIT.split(as_text(row.data.get("paired_households"))):
                if number and number not in households:
                    row.fail("paired_households", _("no active household %(n)s") % {"n": number})
                elif number:
                    paired.append(households[number])
            if row.number in residents:
                self.once(row, residents[row.number][0], "id_number")
            if row.errors:
                self.reject(row)
                continue
            values: dict[str, Any] = {"branch_node_id": branch}
            if start is not None:
                values["start_date"] = start
            if joined is not None:
                values["joined_date"] = joined
            if row.given("work_unit"):
                values["work_unit"] = row.text("work_unit", 200)
            items.append((row, residents[row.number][0], values, list(dict.fromkeys(paired))))
        self.write([item[0] for item in items], lambda: self.apply(items))

    def apply(self, items) -> tuple[Counter, Counter]:
        outcomes, created = Counter(), Counter()
        current = {m.resident_id: m for m in PartyMember.objects.filter(resident_id__in=[i[1] for i in items])}
        fresh, changed = [], []
        for _row, pk, values, _paired in items:
            member = current.get(pk)
            if member is None:
                fresh.append(PartyMember(resident_id=pk, **{"start_date": self.today, **values}))
                continue
            diff = [name for name, value in values.items() if getattr(member, name) != value]
            for name in diff:
                setattr(member, name, values[name])
            if diff:
                changed.append(member)
        PartyMember.objects.bulk_create(fresh)
        PartyMember.objects.bulk_update(changed, ["branch_node_id", "start_date", "joined_date", "work_unit"])
        members = {m.resident_id: m for m in [*fresh, *current.values()]}
        pairs = set(HouseholdPairing.objects.filter(member__in=list(members.values()), end_date__isnull=True)
                    .values_list("member_id", "household_id"))
        pairings, paired_rows = [], set()
        for row, pk, values, paired in items:
            member = members[pk]
            for household_id in paired:
                if (member.pk, household_id) not in pairs:
                    pairings.append(HouseholdPairing(member=member, household_id=household_id,
                                                     start_date=values.get("start_date", self.today)))
                    pairs.add((member.pk, household_id))
                    paired_rows.add(row.number)
        HouseholdPairing.objects.bulk_create(pairings)
        changed_ids = {m.resident_id for m in changed}
        for row, pk, _values, _paired in items:
            if pk not in current:
                outcomes["created"] += 1
            elif pk in changed_ids or row.number in paired_rows:
                outcomes["updated"] += 1
            else:
                outcomes["unchanged"] += 1
        created["partymember"] += len(fresh)
        created["pairing"] += len(pairings)
        return outcomes, created

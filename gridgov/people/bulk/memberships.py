"""Special-group memberships of stored residents."""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridgov.people.bulk.base import LinkImport, special_groups_by_name
from gridgov.people.bulk.clean import Row, as_text
from gridgov.people.models import (
    GroupMembership,
    RecordState,
)
from gridgov.people.services import group_attributes_clean


class MembershipImport(LinkImport):
    record_type = "membership"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.groups = special_groups_by_name()

    def run_chunk(self, rows: list[Row]) -> None:
        for row in rows:
            self.required(row)
        residents = self.resident_ids(rows)
        items = []
        for row in rows:
            group = None
            if row.given("group"):
                name = as_text(row.data["group"])
                group = self.groups.get(name) or self.groups.get(name.lower())
                if group is None:
                    row.fail("group", _("unknown special group %(g)s") % {"g": name})
            start = self.start(row)
            attributes = {}
            if group is not None:
                labels = {}
                for spec in group.fields:
                    for label in (spec["key"], spec.get("label_zh"), spec.get("label_en")):
                        if label:
                            labels[label] = spec["key"]
                for name, value in row.data.items():
                    if name in labels and as_text(value):
                        attributes[labels[name]] = value if isinstance(value, bool | int) else as_text(value)
                try:
                    attributes = group_attributes_clean(group, attributes)
                except ValidationError as exc:
                    for key, messages in exc.message_dict.items():
                        row.fail(key, messages[0])
            if row.number in residents and group is not None:
                self.once(row, (residents[row.number][0], group.pk), "id_number")
            if row.errors:
                self.reject(row)
                continue
            pk, _node, state = residents[row.number]
            if state != RecordState.ACTIVE:
                row.fail("id_number", _("the resident is not active"))
                self.reject(row)
                continue
            items.append((row, pk, group, start, attributes))
        self.write([item[0] for item in items], lambda: self.apply(items))

    def apply(self, items) -> tuple[Counter, Counter]:
        outcomes, created = Counter(), Counter()
        current = {(m.resident_id, m.group_id): m for m in GroupMembership.objects.filter(
            resident_id__in=[pk for _r, pk, _g, _s, _a in items], end_date__isnull=True)}
        fresh, changed = [], []
        for _row, pk, group, start, attributes in items:
            membership = current.get((pk, group.pk))
            if membership is None:
                fresh.append(GroupMembership(resident_id=pk, group=group, start_date=start or self.today,
                                             attributes=attributes))
            elif membership.attributes != attributes or (start is not None and membership.start_date != start):
                membership.attributes, membership.start_date = attributes, start or membership.start_date
                changed.append(membership)
            else:
                outcomes["unchanged"] += 1
        GroupMembership.objects.bulk_create(fresh)
        GroupMembership.objects.bulk_update(changed, ["attributes", "start_date"])
        outcomes["created"] += len(fresh)
        outcomes["updated"] += len(changed)
        created["membership"] += len(fresh)
        return outcomes, created

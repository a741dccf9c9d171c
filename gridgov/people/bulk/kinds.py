"""The kinds of rows an import takes: their canonical fields, the required ones, their record types,
and the sizes the importers work in."""

from __future__ import annotations

from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

CHUNK_SIZE = 2000
# The row number a reader found a row at (header = row 1); rows without it are numbered index + 2.
ROW_KEY = "__row__"
# Above this many entries a per-import cache is dropped and read again from the database.
CACHE_LIMIT = 200_000
ANALYZE_FIRST = 10_000  # rows created before the first refresh of PostgreSQL's statistics
ANALYZE_LAST = 150_000  # rows created after which the statistics are left to autovacuum
SUMMARY_ERRORS = 200

# canonical fields of each kind; required ones first, marked in REQUIRED
KINDS: dict[str, tuple[str, ...]] = {
    "houses": ("house_code", "address", "cell", "lon", "lat", "building_code", "building_name", "building_no",
               "entrance_no", "floor", "room", "occupancy", "area_m2"),
    "residents": ("id_number", "name", "phone", "household_number", "relation", "household_address", "house_code",
                  "cell", "lon", "lat", "registered_here", "living_here", "registered_address", "actual_address",
                  "moved_in_date", "state", "state_date", "groups"),
    "entities": ("credit_code", "name", "industry", "address", "representative", "phone", "employees", "cell",
                 "dedicated_cell", "lon", "lat"),
    "memberships": ("id_number", "group", "start_date"),
    "party_members": ("id_number", "branch_cell", "joined_date", "work_unit", "start_date", "paired_households"),
    "volunteers": ("id_number", "cell", "skills", "start_date"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "houses": ("house_code", "address"),
    "residents": ("id_number", "name"),
    "entities": ("credit_code", "name"),
    "memberships": ("id_number", "group"),
    "party_members": ("id_number", "branch_cell"),
    "volunteers": ("id_number",),
}
# the record type a kind's rows are (for history, access log and counts)
RECORD_TYPES = {"houses": "house", "residents": "resident", "entities": "legalentity", "memberships": "membership",
                "party_members": "partymember", "volunteers": "volunteer"}


# What a person reads for each canonical field (the mapping page, its messages, the API's field list): the
# verbose name of the model field the column fills, or the importer's own label where no one field holds it.
# A (model, field) pair is read when asked for, not at import, so that the label follows the model.
def _labels() -> dict[str, dict[str, Any]]:
    from gridgov.people import models as m

    common: dict[str, Any] = {
        "id_number": (m.Resident, "id_masked"), "cell": (m.Resident, "node"), "lon": (m.Resident, "lon"),
        "lat": (m.Resident, "lat"), "state": (m.Resident, "state"), "state_date": (m.Resident, "state_date"),
        "start_date": _("since"), "house_code": (m.House, "code"),
    }
    return {
        "houses": {**common, "address": (m.House, "address"), "building_code": (m.Building, "code"),
                   "building_name": _("building name"), "building_no": (m.House, "building_no"),
                   "entrance_no": (m.House, "entrance_no"), "floor": (m.House, "floor"),
                   "room": (m.House, "room"), "occupancy": (m.House, "occupancy"), "area_m2": (m.House, "area_m2")},
        "residents": {**common, "name": (m.Resident, "name"), "phone": (m.Resident, "phone_masked"),
                      "household_number": (m.Household, "number"), "relation": (m.Resident, "relation"),
                      "household_address": _("household address"),
                      "registered_here": (m.Resident, "registered_here"),
                      "living_here": (m.Resident, "living_here"),
                      "registered_address": (m.Resident, "registered_address"),
                      "actual_address": (m.Resident, "actual_address"),
                      "moved_in_date": (m.Resident, "moved_in_date"), "groups": _("special groups")},
        "entities": {**common, "credit_code": (m.LegalEntity, "credit_code"), "name": _("entity name"),
                     "industry": (m.LegalEntity, "industry"), "address": (m.LegalEntity, "address"),
                     "representative": (m.LegalEntity, "representative"), "phone": (m.LegalEntity, "phone_masked"),
                     "employees": (m.LegalEntity, "employees"),
                     "dedicated_cell": (m.LegalEntity, "dedicated_node")},
        "memberships": {**common, "group": (m.GroupMembership, "group"),
                        "start_date": (m.GroupMembership, "start_date")},
        "party_members": {**common, "branch_cell": (m.PartyMember, "branch_node"),
                          "joined_date": (m.PartyMember, "joined_date"), "work_unit": (m.PartyMember, "work_unit"),
                          "start_date": (m.PartyMember, "start_date"), "paired_households": _("paired households")},
        "volunteers": {**common, "cell": (m.Volunteer, "node"), "skills": (m.Volunteer, "skills"),
                       "start_date": (m.Volunteer, "start_date")},
    }


def field_label(kind: str, name: str) -> str:
    """The label of the canonical field `name` of `kind`, in the active language (the key itself for a field
    no kind declares, such as a special group's attribute: `imports.kind_field_labels` names those)."""
    label = _labels().get(kind, {}).get(name)
    if label is None:
        return name
    if isinstance(label, tuple):
        model, field = label
        label = model._meta.get_field(field).verbose_name
    return capfirst(str(label))


def record_type_label(record_type: str) -> str:
    """The verbose name of a record type an import counts (`created_by_type`), in the active language."""
    from gridgov.people import models as m

    model = {"house": m.House, "building": m.Building, "household": m.Household, "resident": m.Resident,
             "legalentity": m.LegalEntity, "membership": m.GroupMembership, "partymember": m.PartyMember,
             "pairing": m.HouseholdPairing, "volunteer": m.Volunteer}.get(record_type)
    return capfirst(str(model._meta.verbose_name)) if model else record_type

"""The kinds of rows an import takes: their canonical fields, the required ones, their record types,
and the sizes the importers work in."""

from __future__ import annotations

CHUNK_SIZE = 2000
# The row number a reader found a row at (header = row 1); rows without it are numbered index + 2.
ROW_KEY = "__row__"
# Above this many entries a per-import cache is dropped and read again from the database.
CACHE_LIMIT = 200_000
ANALYZE_FIRST = 10_000  # rows created before the first refresh of PostgreSQL's statistics
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

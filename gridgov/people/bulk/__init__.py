"""Create or update many base-data records at once: the fast path of spreadsheet imports and demo data
(see `upsert` for the invariants kept). One module per room: `kinds` (the canonical fields), `clean`
(one row's values), `cells`, `sql` (raw reads and writes), `base` (what every importer shares), one
module per importer, `report`, and `upsert`, the entry point."""

from gridgov.people.bulk.clean import as_text, parse_date
from gridgov.people.bulk.kinds import (
    CHUNK_SIZE,
    KINDS,
    RECORD_TYPES,
    REQUIRED,
    ROW_KEY,
    field_label,
    record_type_label,
)
from gridgov.people.bulk.report import BulkReport, RowError
from gridgov.people.bulk.upsert import people_bulk_upsert

__all__ = ["CHUNK_SIZE", "KINDS", "RECORD_TYPES", "REQUIRED", "ROW_KEY", "BulkReport", "RowError", "as_text",
           "field_label", "parse_date", "people_bulk_upsert", "record_type_label"]

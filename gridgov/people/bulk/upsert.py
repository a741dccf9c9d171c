"""Create or update many base-data records at once: the fast path of spreadsheet imports and demo data.

`people_bulk_upsert` takes rows keyed by the canonical field names of a kind (`KINDS`) and keeps the
invariants the single-record `services` keep, with a fixed number of queries per chunk of rows:
- rows are matched on their natural key in the scheme (a resident's ID number through its keyed digest,
  a house's code, a unit's credit code; households by number); re-importing the same rows writes
  nothing (no version bump, no history row);
- a changed record gets only its changed fields written (stored sealed values are kept unless the
  value behind them changed: seal() is randomised, so "changed" is decided on digests), its `version`
  bumped and a `RecordHistory` row naming the changed fields; a new record gets a CREATE history row;
- ID numbers and phones are cleaned, sealed, digested and masked exactly as `services` does;
- a household has one active head: members of a household are accepted only once its head is known,
  from the file (anywhere in it) or stored; a person is in one household at a time.

Policy: a bad row is skipped and reported (`RowError`: the row as the user sees it in the file, the
column's header, the reason, never the personal value itself); good rows are kept. Each chunk is
written in its own transaction: a database error rolls back that chunk only and its rows are reported
rejected. `dry_run` runs the same code inside a transaction that is rolled back at the end, so its
report equals a real run's.

Speed: the rows of residents are cleaned and sealed in a worker process one chunk ahead of the write
(`workers`); values go to the database as plain tuples (executemany on SQLite, COPY on PostgreSQL), ids of
new rows are taken beforehand so that history rows are written with them, and existing rows are read
with one SELECT per chunk and per table.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import transaction

from gridgov.people.bulk.base import Import
from gridgov.people.bulk.clean import Row
from gridgov.people.bulk.entities import EntityImport
from gridgov.people.bulk.houses import HouseImport
from gridgov.people.bulk.kinds import CHUNK_SIZE, KINDS, ROW_KEY
from gridgov.people.bulk.memberships import MembershipImport
from gridgov.people.bulk.party_members import PartyMemberImport
from gridgov.people.bulk.report import BulkReport
from gridgov.people.bulk.residents import ResidentImport
from gridgov.people.bulk.volunteers import VolunteerImport
from gridgov.people.bulk.workers import chunks_cleaned
from gridgov.territory.models import LevelScheme


def people_bulk_upsert(*, scheme: LevelScheme, kind: str, rows: Iterable[dict[str, Any]], actor=None,
                       source: str = "", dry_run: bool = False, progress: Callable[[int], None] | None = None,
                       columns: dict[str, str] | None = None, chunk_size: int = CHUNK_SIZE,
                       workers: bool = True, history_in_sql: bool | None = None) -> BulkReport:
    """Create the records of `rows` that are not stored in `scheme` and update the ones that changed.

    `rows` are dicts keyed by the canonical fields of `kind` (see `KINDS`; values as text read from a
    file or already typed), optionally with ROW_KEY giving the row's number in the file. `columns` maps
    canonical fields to the file's headers, for the error messages. `progress(n)` is called after each
    chunk with the number of rows it held. `workers=False` cleans every row in this process (see `workers`:
    the result is the same). `history_in_sql=False` builds the history rows in this process on PostgreSQL
    too, as on SQLite (the rows are the same). Never raises for bad rows: they are in the report."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    upsert = IMPORTERS[kind](scheme=scheme, kind=kind, actor=actor, source=source, columns=columns or {},
                             history_in_sql=history_in_sql)
    numbered = ((int(row.get(ROW_KEY) or index + 2), row) for index, row in enumerate(rows))
    chunks = iter(lambda: list(itertools.islice(numbered, chunk_size)), [])

    def run() -> None:
        if upsert.cleans_apart:
            with contextlib.closing(chunks_cleaned(upsert, chunks, workers=workers)) as cleaned:
                for chunk in cleaned:
                    upsert.run_cleaned(chunk)
                    if progress is not None:
                        progress(len(chunk))
        else:
            for chunk in chunks:
                upsert.run_chunk([Row(number, data) for number, data in chunk])
                if progress is not None:
                    progress(len(chunk))
        upsert.finish(chunk_size)
        upsert.report.rejected.sort(key=lambda e: e.row)

    with collector_paused():
        if not dry_run:
            run()  # each chunk commits on its own
        else:
            # the same writes, seen by the later chunks as in a real run, then undone
            with transaction.atomic():
                run()
                transaction.set_rollback(True)
    return upsert.report


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the import, on again (and run) after it: its passes over every
    chunk's young tuples and dicts took a third of the time spent cleaning rows, and an import's rows
    hold no reference cycles for it to find (each is freed as its chunk is dropped)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()



IMPORTERS: dict[str, type[Import]] = {
    "houses": HouseImport,
    "residents": ResidentImport,
    "entities": EntityImport,
    "memberships": MembershipImport,
    "party_members": PartyMemberImport,
    "volunteers": VolunteerImport,
}

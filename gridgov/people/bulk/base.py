"""What every importer shares: the report, the cells, duplicate detection, chunk transactions and
records with history; `KeyedImport` for records with a natural key, `LinkImport` for rows attached to
a stored resident."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.people.bulk.cells import Cells, cells_locate, scope_paths
from gridgov.people.bulk.clean import Row
from gridgov.people.bulk.kinds import ANALYZE_FIRST, ANALYZE_LAST, REQUIRED
from gridgov.people.bulk.report import BulkReport, RowError
from gridgov.people.bulk.sql import Table, among, array_literal
from gridgov.people.history import SKIP as HISTORY_SKIP
from gridgov.people.models import (
    RecordHistory,
    RecordState,
    Resident,
    SpecialGroup,
)
from gridgov.privacy import crypto
from gridgov.privacy.access import seal_field
from gridgov.privacy.identifiers import id_number_clean
from gridgov.territory.models import LevelScheme

logger = logging.getLogger(__name__)

# RecordHistory's columns as the bulk path writes them
HISTORY_COLUMNS = ("record_type", "record_id", "version", "action", "at", "actor_id", "source", "changed",
                   "snapshot")
ACTIVE = RecordState.ACTIVE.value
JSON = json.JSONEncoder()  # one encoder (C-accelerated) for every snapshot: json.dumps checks its options per call

class Import:
    """What every kind shares: the report, the cells, duplicate detection, chunk transactions."""

    record_type = ""
    # the tables an import reads by natural key (history rows are only ever appended: never analysed here)
    analyzed: tuple[type[models.Model], ...] = ()

    def __init__(self, *, scheme: LevelScheme, kind: str, actor, source: str, columns: dict[str, str],
                 history_in_sql: bool | None = None):
        self.scheme = scheme
        self.kind = kind
        self.actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
        self.source = source[:60]
        self.columns = columns
        self.report = BulkReport(kind=kind)
        self.cells = Cells(scheme, scope_paths=scope_paths(actor))
        self.seen: dict[Any, int] = {}  # natural key → row number of its first occurrence in the file
        self.today = timezone.localdate()
        self.history_table = Table(RecordHistory, skip=("id",))
        if self.history_table.columns != HISTORY_COLUMNS:  # `history` builds its rows in this order
            raise RuntimeError(f"RecordHistory's columns are now {self.history_table.columns}")
        self.created_rows = 0
        self.analyze_at = ANALYZE_FIRST
        # record type → (snapshot columns, their getter, positions of the dates among them)
        self.snapshot_columns: dict[str, tuple[list[str], Callable, list[int]]] = {}
        # PostgreSQL builds the history rows from the rows just written (`history_from_rows`); None: there only
        self.history_in_sql = connection.vendor == "postgresql" if history_in_sql is None else history_in_sql
        self.history_selects: dict[str, str] = {}  # record type → the SELECT of its history rows
        self.history_pending: list[tuple[Table, str, list, dt.datetime]] = []  # written by `history_flush`

    # ------------------------------------------------------------------ rows
    def header(self, name: str) -> str:
        return self.columns.get(name, name)

    def reject(self, row: Row) -> None:
        for name, reason in row.errors:
            self.report.rejected.append(RowError(row=row.number, column=self.header(name), reason=reason))
        self.report.rejected_rows += 1

    def required(self, row: Row) -> None:
        for name in REQUIRED[self.kind]:
            if not row.given(name):
                row.fail(name, _("required: this column is empty"))

    def once(self, row: Row, key: Any, name: str) -> bool:
        """False (and the row failed) when `key` came in an earlier row of the file."""
        first = self.seen.get(key)
        if first is not None:
            row.fail(name, _("repeats row %(n)d") % {"n": first})
            return False
        self.seen[key] = row.number
        return True

    def cell(self, row: Row, name: str) -> int | None:
        value = row.plain(name)
        if not value:
            return None
        pk, reason = self.cells.resolve(value)
        if reason:
            row.fail(name, reason)
        return pk

    def place(self, items: list[Any], *, missing_ok: Callable[[Any], bool]) -> None:
        """Give items without a cell the cell at their coordinates (one spatial query for the chunk);
        an item with neither, unless `missing_ok(item)`, fails."""
        wanted = [(item, item.lon, item.lat) for item in items if item.node_id is None and item.lon is not None]
        for (item, _lon, _lat), pk in zip(wanted, cells_locate(self.scheme, wanted), strict=True):
            if pk is None:
                item.row.fail("lon", _("the point lies outside every cell"))
            elif not self.cells.in_scope(pk):
                item.row.fail("lon", _("the point lies outside your territory"))
                pk = None
            item.node_id = pk
        for item in items:
            if item.node_id is None and item.lon is None and not item.row.errors and not missing_ok(item):
                item.row.fail("cell", _("give the grid, the coordinates or the house it belongs to"))
            elif item.node_id is not None and not item.row.errors and not self.cells.in_scope(item.node_id):
                item.row.fail("cell", _("the house or household it belongs to lies outside your territory"))

    def outside(self, stored: dict[str, Any] | None, row: Row, name: str) -> bool:
        """True (and the row failed) when the stored record the row names lies outside the importer's
        territory: an import may not move or change what the importer could not open."""
        if stored is None or self.cells.in_scope(stored["node_id"]):
            return False
        row.fail(name, _("this record is stored outside your territory"))
        return True

    # ------------------------------------------------------------------ chunks
    # True for a kind whose rows `clean(row)` on their own and `seal(item)`, and whose chunks then
    # `run_cleaned(...)`: then a worker process does that for chunk N+1 while chunk N is written (`workers`)
    cleans_apart = False

    def run_chunk(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def finish(self, chunk_size: int) -> None:
        """After the last chunk (rows held back until the whole file was seen)."""

    def write(self, rows: list[Row], work: Callable[[], tuple[Counter, Counter]]) -> None:
        """Run `work` (the chunk's writes; it returns (outcome counts, created by type)) in a transaction:
        on a database error nothing of it stays and every row it held is reported rejected."""
        try:
            with transaction.atomic():
                outcomes, created = work()
                self.history_flush()
        except DatabaseError as exc:
            self.history_pending = []
            # the message may quote a failing row's values: log the kind of error only
            logger.warning("people import: a chunk of %d rows (from row %d) was rolled back: %s", len(rows),
                           rows[0].number if rows else 0, type(exc).__name__)
            first, last = min(r.number for r in rows), max(r.number for r in rows)
            for row in rows:
                row.errors = [("", _("not saved: the database refused the rows %(a)d–%(b)d together, none of them "
                                     "was written") % {"a": first, "b": last})]
                self.reject(row)
            self.rolled_back(rows)
            return
        self.report.created += outcomes["created"]
        self.report.updated += outcomes["updated"]
        self.report.unchanged += outcomes["unchanged"]
        self.report.created_by_type += created  # (drops the zero counts)
        self.created_rows += sum(created.values())
        if self.created_rows >= self.analyze_at:
            self.analyze()
        self.committed()

    def analyze(self) -> None:
        """Refresh PostgreSQL's statistics each time the rows created here double, up to ANALYZE_LAST:
        planned from an empty table, the lookups by natural key would read whole tables once they hold a
        million rows. Past that the planner scales what it read by the table's current size (the keys stay
        unique, the plans the same), and each ANALYZE of a large table costs about as much as a chunk."""
        self.analyze_at = 2 * self.created_rows if self.created_rows < ANALYZE_LAST else math.inf
        if connection.vendor != "postgresql" or not self.analyzed:
            return
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in self.analyzed)
        # without the tables' ownership ANALYZE fails: the import is then slower, its result the same
        with contextlib.suppress(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")

    def rolled_back(self, rows: list[Row]) -> None:
        """Forget what the chunk would have added to the import's memory."""

    def committed(self) -> None:
        """Keep what the chunk added to the import's memory."""

    # ------------------------------------------------------------------ records with history
    def history(self, table: Table, record_type: str, rows: list[tuple[dict[str, Any], str, list[str]]],
                now: dt.datetime) -> None:
        """History rows for records as written: (record, action, changed fields), each built straight as
        the tuple its COPY line (or INSERT) takes, in the order of HISTORY_COLUMNS."""
        if not rows:
            return
        if self.history_in_sql:  # with the chunk's other history rows, in one statement
            self.history_pending.append((table, record_type, rows, now))
            return
        snap = self.snapshot_columns.get(record_type)
        if snap is None:
            columns = [c for c in table.columns if table.fields[c].name not in HISTORY_SKIP]
            # dates (and datetimes) go into the JSON snapshot as ISO text, every other value as it is
            dates = [i for i, c in enumerate(columns) if isinstance(table.fields[c], models.DateField)]
            snap = self.snapshot_columns[record_type] = (columns, operator.itemgetter(*columns), dates)
        columns, pick, dates = snap
        at = self.history_table.fields["at"].get_db_prep_save(now, connection)  # one instant for the chunk
        actor_id, source, encode = self.actor_id, self.source, JSON.encode
        entries = []
        for record, action, changed in rows:
            values = list(pick(record))
            for i in dates:
                if isinstance(values[i], dt.date):
                    values[i] = values[i].isoformat()
            entries.append((record_type, record["id"], record["version"], action, at, actor_id, source,
                            encode(sorted(changed)) if changed else "[]",
                            encode(dict(zip(columns, values, strict=True)))))
        self.history_table.insert_values(entries)

    def history_flush(self) -> None:
        """The history rows `history` held back on PostgreSQL, for every record type of the chunk: one
        INSERT … SELECT builds the snapshots from the records' rows as just written, instead of a JSON text
        encoded in Python and parsed again by the server for each record (a third of the chunk's write).
        Only the ids, actions and changed fields travel, as array literals."""
        pending, self.history_pending = self.history_pending, []
        if not pending:
            return
        selects, params, count = [], [], 0
        encode, prep = JSON.encode, self.history_table.fields["at"].get_db_prep_save
        for table, record_type, rows, now in pending:
            select = self.history_selects.get(record_type)
            if select is None:
                select = self.history_selects[record_type] = self.history_select(table)
            selects.append(select)
            params += [record_type, prep(now, connection), self.actor_id, self.source,
                       array_literal([record["id"] for record, _action, _changed in rows])[0],
                       array_literal([str(action) for _record, action, _changed in rows])[0],
                       array_literal([encode(sorted(c)) if c else "[]" for _record, _action, c in rows])[0]]
            count += len(rows)
        sql = (f"INSERT INTO {self.history_table.table} ({self.history_table.names}) "
               + " UNION ALL ".join(selects))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.rowcount != count:  # a record not found would lose its history: refuse the chunk
                raise IntegrityError(f"{count - cursor.rowcount} records missing for their history rows")

    def history_select(self, table: Table) -> str:
        """The SELECT of `history_flush` for the history rows of `table`'s records: the same snapshot as `history` builds
        (the columns outside HISTORY_SKIP under their attnames; text, numbers, booleans, JSON and NULL as
        they are, dates as ISO text), a float as Python's JSON writes it: a whole one with its ".0", NaN
        and infinities refused as the server refuses them in Python's JSON text."""
        qn = connection.ops.quote_name
        pairs = []
        for c in table.columns:
            f = table.fields[c]
            if f.name in HISTORY_SKIP:
                continue
            value = f"r.{qn(f.column)}"
            if isinstance(f, models.FloatField):
                value = (f"CASE WHEN {value} = trunc({value}) AND abs({value}) < 1e16 "
                         f"THEN to_jsonb(round({value}::bigint::numeric, 1)) ELSE {value}::text::jsonb END")
            pairs.append(f"'{c}', {value}")
        # jsonb_build_object takes at most 100 arguments
        snapshot = " || ".join(f"jsonb_build_object({', '.join(pairs[i:i + 50])})" for i in range(0, len(pairs), 50))
        # typed: in a UNION an untyped parameter (a NULL actor) would be taken as text
        kinds = {c: self.history_table.fields[c].db_type(connection) for c in ("record_type", "at", "actor_id",
                                                                                 "source")}
        return (f"(SELECT %s::{kinds['record_type']}, r.id, r.version, w.action, %s::{kinds['at']}, "  # noqa: S608
                f"%s::{kinds['actor_id']}, %s::{kinds['source']}, w.changed, {snapshot} "
                f"FROM unnest(%s::bigint[], %s::text[], %s::jsonb[]) WITH ORDINALITY AS w(id, action, changed, n) "
                f"JOIN {table.table} r ON r.id = w.id ORDER BY w.n)")

    def in_scheme(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """(WHERE, parameters) of the records of the scheme whose `column` is one of `values`."""
        where, params = among(column, values)
        return f"scheme_id = %s AND {where}", [self.scheme.pk, *params]

    def new_record(self, values: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        return {"scheme_id": self.scheme.pk, "lon": None, "lat": None, "state": ACTIVE,
                "state_date": None, "state_reason": "", "attributes": {}, "version": 1, "created_at": now,
                "updated_at": now, "created_by_id": self.actor_id, "updated_by_id": self.actor_id, **values}

    def changes(self, stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
        return [c for c, v in wanted.items() if stored[c] != v]

    def bump(self, stored: dict[str, Any], wanted: dict[str, Any], changed: list[str], now: dt.datetime) -> dict:
        record = dict(stored)
        for c in changed:
            record[c] = wanted[c]
        record["version"] = stored["version"] + 1
        record["updated_at"] = now
        record["updated_by_id"] = self.actor_id
        return record

    @staticmethod
    def field_names(model: type[models.Model], changed: Iterable[str]) -> list[str]:
        """attnames → field names (node_id → node), as `services` names changed fields."""
        names = {f.attname: f.name for f in model._meta.concrete_fields}
        return [names.get(c, c) for c in changed]



class KeyedImport(Import):
    """Rows of records with a natural key of their own (house code, credit code): one lookup of the stored
    records per chunk, then `apply` creates or updates. Each kind defines `prepare(row)` (an item with
    .row, .code, .node_id, .lon, .lat) and `apply(items, stored)`."""

    key_column = ""  # the model's column holding the natural key
    key_field = ""  # the row's field giving it

    def run_chunk(self, rows: list[Row]) -> None:
        items = [self.prepare(row) for row in rows]
        codes = [item.code for item in items if item.code and not item.row.errors]
        stored = {r[self.key_column]: r for r in self.table.select(
            *self.in_scheme(self.key_column, codes))} if codes else {}
        for item in items:
            self.outside(stored.get(item.code), item.row, self.key_field)
        self.place([i for i in items if not i.row.errors], missing_ok=lambda item: item.code in stored)
        good = []
        for item in items:
            if item.row.errors:
                self.reject(item.row)
            else:
                good.append(item)
        self.write([item.row for item in good], lambda: self.apply(good, stored))



class LinkImport(Import):
    """Rows that attach something to a stored resident, found by ID number."""

    def resident_ids(self, rows: list[Row]) -> dict[int, tuple[int, int, str]]:
        """row number → (resident id, node id, state) for the rows whose ID number is valid and stored."""
        label = seal_field("resident", "id_number")
        digests: dict[int, str] = {}
        for row in rows:
            if row.given("id_number"):
                info = row.cleaned("id_number", id_number_clean)
                if info is not None:
                    digests[row.number] = crypto.digest(info.number, field=label)
        wanted = list(set(digests.values()))
        found = {d: (pk, node_id, state) for pk, d, node_id, state in Resident.objects.filter(
            scheme=self.scheme, id_digest__in=wanted).order_by().values_list("id", "id_digest", "node_id", "state")}
        result = {}
        for row in rows:
            digest = digests.get(row.number)
            if digest is None:
                continue
            if digest not in found or not self.cells.in_scope(found[digest][1]):
                row.fail("id_number", _("no resident with this ID number is stored in your territory; import the "
                                        "residents first"))
            else:
                result[row.number] = found[digest]
        return result

    def start(self, row: Row) -> dt.date | None:
        """The start date given (None: today for a new record, left as stored otherwise)."""
        return row.date("start_date")


def special_groups_by_name() -> dict[str, SpecialGroup]:
    """Every special group under its key, Chinese and English names (and their lower case)."""
    found: dict[str, SpecialGroup] = {}
    for group in SpecialGroup.objects.all():
        for name in (group.key, group.name_zh, group.name_en):
            if name:
                found.setdefault(name, group)
                found.setdefault(name.lower(), group)
    return found

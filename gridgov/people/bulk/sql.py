"""Raw reads and writes of model rows as plain tuples: the speed of the bulk path."""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, NotSupportedError, connection, connections, models


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Ids for `count` new rows, taken before they are inserted so that history rows carry them.

    PostgreSQL: from the table's identity sequence, safe beside concurrent writers. SQLite: after the
    largest id ever given (AUTOINCREMENT's sqlite_sequence), safe because the transaction holds SQLite's
    single write lock from its first write on, and the no-op UPDATE makes sure it has one."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # the sequence is found once (an InitPlan): as the argument of nextval it was looked up per id,
            # through the catalogue's dependencies, which cost ten times the ids themselves
            cursor.execute("SELECT nextval((SELECT pg_get_serial_sequence(%s, 'id')::regclass)) "
                           "FROM generate_series(1, %s)", [table, count])
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"UPDATE {quoted} SET id = id WHERE 0")  # noqa: S608 (table name from the model)
            cursor.execute(f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
                           f"coalesce((SELECT max(id) FROM {quoted}), 0))", [table])
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
    raise NotSupportedError(f"people_bulk_upsert supports SQLite and PostgreSQL, not {connection.vendor}")


class Table:
    """Raw reads and writes of one model's rows as dicts keyed by column attname.

    The ORM compiles every value through its field machinery several times over; here plain values
    (text, numbers, ids) go as they are and only dates, booleans and JSON through their field."""

    PLAIN = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.ForeignKey)

    def __init__(self, model: type[models.Model], *, skip: Sequence[str] = ()):
        self.model = model
        self.conn = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy costs per access
        self.fields = {f.attname: f for f in model._meta.concrete_fields if f.attname not in skip}
        self.columns = tuple(self.fields)
        self.pick = operator.itemgetter(*self.columns)
        qn = connection.ops.quote_name
        self.table = qn(model._meta.db_table)
        self.names = ", ".join(qn(f.column) for f in self.fields.values())
        self.convert = [(i, conv) for i, f in enumerate(self.fields.values())
                        if (conv := self.converter(f)) is not None]
        marks = ", ".join(["%s"] * len(self.columns))
        self.insert_sql = f"INSERT INTO {self.table} ({self.names}) VALUES ({marks})"  # noqa: S608
        self.copy_sql = f"COPY {self.table} ({self.names}) FROM STDIN"
        updatable = [c for c in self.columns if c not in ("id", "scheme_id", "created_at", "created_by_id")]
        self.update_columns = updatable
        sets = ", ".join(f"{qn(self.fields[c].column)} = %s" for c in updatable)
        self.update_sql = f"UPDATE {self.table} SET {sets} WHERE id = %s"  # noqa: S608

    def converter(self, f: models.Field) -> Callable[[Any], Any] | None:
        """How a value of `f` goes into an INSERT (executemany or COPY's text format): None = as it is."""
        if isinstance(f, (*self.PLAIN, models.BooleanField)):
            return None
        if isinstance(f, models.JSONField):
            # one encoder for every value: json.dumps(cls=...) would build one per value
            return f.encoder().encode if f.encoder is not None else json.dumps
        if isinstance(f, models.DateTimeField):
            # nearly every row of a chunk carries the same instant: convert it once
            last: list[Any] = [None, None]

            def instant(value: Any) -> Any:
                if value is not last[0]:
                    last[0], last[1] = value, f.get_db_prep_save(value, self.conn)
                return last[1]

            return instant
        if isinstance(f, models.DateField):
            return dt.date.isoformat if self.conn.vendor == "sqlite" else None
        return lambda value: f.get_db_prep_save(value, self.conn)

    def prepared(self, row: dict[str, Any]) -> list[Any]:
        values = list(self.pick(row))
        for i, convert in self.convert:
            if values[i] is not None:
                values[i] = convert(values[i])
        return values

    def insert(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.insert_values([self.prepared(row) for row in rows])

    def insert_values(self, rows: list[Sequence[Any]]) -> None:
        """Insert rows already in the order of `columns` and converted for the database (see `converter`)."""
        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY is several times faster than executemany over psycopg's client-side binding; it
                # goes around Django's cursor, so its errors are wrapped here (DatabaseError, not psycopg's)
                with connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
            else:
                cursor.executemany(self.insert_sql, rows)

    def update(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        convert = [(i, self.fields[c]) for i, c in enumerate(self.update_columns)
                   if not isinstance(self.fields[c], self.PLAIN)]
        params = []
        for row in rows:
            values = [row[c] for c in self.update_columns]
            for i, f in convert:
                if values[i] is not None:
                    values[i] = f.get_db_prep_save(values[i], self.conn)
            values.append(row["id"])
            params.append(values)
        with connection.cursor() as cursor:
            cursor.executemany(self.update_sql, params)

    def select(self, where: str, params: list[Any]) -> list[dict[str, Any]]:
        sql = f"SELECT {self.names} FROM {self.table} WHERE {where}"  # noqa: S608 (names from the model)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        found = []
        json_at = [(i, f) for i, f in enumerate(self.fields.values()) if isinstance(f, models.JSONField)]
        for values in rows:
            if json_at:
                values = list(values)
                for i, f in json_at:
                    values[i] = f.from_db_value(values[i], None, connection)
            found.append(dict(zip(self.columns, values, strict=True)))
        return found


def marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def array_literal(values: Sequence[Any]) -> tuple[str, str] | None:
    """PostgreSQL's text form of an array of `values` and its type, when they are all text or all whole
    numbers (else None). psycopg dumps a list parameter value by value in Python (12 ms of CPU for 2,000
    digests); this is one string, which it passes as it is (1 ms)."""
    if all(type(v) is str for v in values):
        quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return "{" + ",".join(f'"{v}"' for v in quoted) + "}", "text[]"
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}", "bigint[]"
    return None


def among(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column` equal to one of `values`: (SQL, parameters). On PostgreSQL one array parameter, so that a
    chunk's look-up is the same statement whatever its size (prepared once; psycopg no longer parses a
    placeholder per value: 18 ms for 2,000 of them), given as text (`array_literal`) when it can be;
    elsewhere an IN list."""
    if connection.vendor == "postgresql":
        literal = array_literal(values)
        if literal is not None:
            return f"{column} = ANY(%s::{literal[1]})", [literal[0]]
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({marks(values)})", list(values)

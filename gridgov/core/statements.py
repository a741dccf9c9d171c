"""Querysets and row writes compiled once per process. A hot read the ORM builds with joins, annotations and subqueries (a
transition's lock of its case) costs several times more to compile than the database takes to run it;
`Compiled` keeps the SQL and the ORM's mapping of its rows from the first compilation and runs them again
with each call's values, giving the same model instances the queryset would (its `select_related` objects
and annotations included; `core/tests/test_statements.py` compares the two).

`row_update` and `row_insert` are a model row's UPDATE and its INSERT with the SQL built once per model and
the values prepared as `Model.save` prepares them; `rows_write` sends several such writes as one statement
on PostgreSQL (a data-modifying WITH): one round trip where `save()` calls would take one each.
`row_create` is `objects.create` for the hot INSERTs (a case, its idempotency key): the ORM compiled their
SQL anew for every row; `rows_create` writes a new row and new rows referring to it in one statement (a
case, its key and its first event).

The values of a call stand in the compiled parameters where the sentinels passed to `build` stood; anything
else the SQL depends on (today's date in a "current assignment" condition) is the call's `key`, one
compilation per key.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.query import get_related_populators

# psycopg turns a statement's %s into $n on every execution and keeps the result only for statements under
# 4,096 characters and 50 values (an ORM's INSERT of many rows seldom repeats). The statements compiled here
# are longer (the transition's lock: 5.4 kB; its UPDATE with the event: 56 values) and repeat on every call:
# their conversion is kept too. The bounds stay low enough that a many-row INSERT is still not kept (a few
# rows exceed 128 values), so the 128 conversions psycopg keeps take at most a few MB.
DRIVER_CACHED_LENGTH, DRIVER_CACHED_VALUES = 16_384, 128


def driver_cache_widen() -> None:
    """Let psycopg keep the conversion of the statements compiled here (see above); called once at start-up.
    Checked by `core/tests/test_statements.py` (a kept conversion is a hit of psycopg's cache)."""
    try:
        from psycopg import _queries
    except ImportError:  # PostgreSQL's driver not installed: nothing to widen
        return
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, DRIVER_CACHED_LENGTH)
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, DRIVER_CACHED_VALUES)


# integers no key takes: the call's values are found by them in the compiled parameters
_SENTINEL = -7_340_000_000


@dataclass(frozen=True)
class _Statement:
    sql: str
    params: tuple
    places: tuple[tuple[int, ...], ...]
    db: str
    compiler: Any
    model: type[Model]
    init_list: tuple[str, ...]
    start: int
    end: int
    populators: tuple
    annotations: tuple[tuple[str, int], ...]
    converters: dict


class Compiled:
    """`build(*values)` → a queryset of one model, compiled once per `key` and run with each call's values."""

    def __init__(self, build: Callable[..., QuerySet], *, arity: int = 1, keep: int = 8):
        self._build, self._arity, self._keep = build, arity, keep
        self._statements: dict[Hashable, _Statement] = {}
        self._lock = threading.Lock()

    def _compile(self) -> _Statement:
        sentinels = [_SENTINEL - i for i in range(self._arity)]
        queryset = self._build(*sentinels)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()  # also sets up the select, its row mapping and the annotations
        # a text column's value is bound as text: its sentinel stands there spelled out
        places = tuple(tuple(i for i, p in enumerate(params) if p == s or p == str(s)) for s in sentinels)
        if not all(places):
            raise ValueError("a value given to build() is not a parameter of its statement")
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _Statement(sql=sql, params=tuple(params), places=places, db=queryset.db, compiler=compiler,
                          model=klass_info["model"],
                          init_list=tuple(f[0].target.attname for f in select[start:end]), start=start, end=end,
                          populators=tuple(get_related_populators(klass_info, select, queryset.db)),
                          annotations=tuple(compiler.annotation_col_map.items()),
                          converters=compiler.get_converters([c[0] for c in select[:compiler.col_count]]))

    def rows(self, *values, key: Hashable = (), loaded: bool = False) -> list[Model]:
        """The rows for `values`; with `loaded`, each instance keeps its columns' values as read
        (`obj._loaded`, for `row_update(..., loaded=…)`: the caller drops it when done)."""
        statement = self._statements.get(key)
        if statement is None:
            statement = self._compile()
            with self._lock:
                if len(self._statements) >= self._keep:
                    self._statements.clear()
                self._statements[key] = statement
        params = list(statement.params)
        for at, value in zip(statement.places, values, strict=True):
            for i in at:
                params[i] = value
        with connections[statement.db].cursor() as cursor:
            cursor.execute(statement.sql, params)
            fetched = cursor.fetchall()
        compiler = statement.compiler
        if compiler.has_extra_select:
            fetched = [row[:compiler.col_count] for row in fetched]
        if statement.converters:  # what `results_iter` does, with the converters found once
            fetched = compiler.apply_converters(fetched, statement.converters)
        out = []
        for row in fetched:
            own = row[statement.start:statement.end]
            obj = statement.model.from_db(statement.db, statement.init_list, own)
            if loaded:
                obj._loaded = dict(zip(statement.init_list, own, strict=True))
            for populator in statement.populators:
                populator.populate(row, obj)
            for name, at in statement.annotations:
                setattr(obj, name, row[at])
            out.append(obj)
        return out

    def clear(self) -> None:
        with self._lock:
            self._statements.clear()


# ================================================================ row writes
@dataclass(frozen=True)
class _RowSql:
    sql: str  # an UPDATE by key; or an INSERT's head, up to VALUES
    row: str  # an INSERT's "(%s, …)" per row
    fields: tuple[Field, ...]
    always: tuple[bool, ...] = ()  # an UPDATE's: whether each column is written whatever its value


def _update_sql(model: type[Model], fields: tuple[Field, ...], connection) -> _RowSql:
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # a value that can change in place (a dict, a list) compares equal to itself: always written, as is
    # one set on save (auto_now)
    always = tuple(f.get_internal_type() == "JSONField" or getattr(f, "auto_now", False) for f in fields)
    return _RowSql(sql=f"UPDATE {table} SET {sets} WHERE {table}.{pk} = %s", row="", fields=fields,  # noqa: S608 (names and placeholders)
                   always=always)


_row_sql: dict[tuple[str, type[Model], str], _RowSql] = {}


def orm_only(model: type[Model], using: str = "default") -> str:
    """Why `model`'s rows are left to `save()` (empty: they are not): what `save()` does beyond its one
    statement (an override, receivers of its signals, a parent table), or a column whose SQL can differ from
    one row to the next (its own placeholder, a database default, a generated value)."""
    from django.db.models import signals

    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        return "its save signals have receivers"
    return _orm_only_by_shape(model, connections[using].features.can_return_columns_from_insert)


@functools.cache
def _orm_only_by_shape(model: type[Model], returns_keys: bool) -> str:
    # what the model's class and columns say, which does not change while the process runs
    meta = model._meta
    if model.save is not Model.save or model.save_base is not Model.save_base:
        return "its save() is its own"
    if meta.parents or meta.order_with_respect_to:
        return "it has a parent table or an order"
    if not returns_keys:
        return "the database cannot return a new row's key"
    for f in meta.local_concrete_fields:
        if f.generated or f.has_db_default() or hasattr(f, "get_placeholder"):
            return f"{f.name}: its SQL can differ from row to row"
    return ""


def _row_fields(model: type[Model], connection, *, insert: bool) -> tuple[Field, ...]:
    # the columns `Model.save` writes: every local concrete column; an insert leaves an automatic key to the
    # database, an update names the key in its WHERE only
    refused = orm_only(model, connection.alias)
    if refused:
        raise TypeError(f"{model.__name__}: not written by a compiled row write ({refused})")
    return tuple(f for f in model._meta.local_concrete_fields if not (f.primary_key and (not insert or f.db_returning)))


def _row_statement(kind: str, model: type[Model], connection) -> _RowSql:
    key = (kind, model, connection.alias)
    found = _row_sql.get(key)
    if found is not None:
        return found
    fields = _row_fields(model, connection, insert=kind != "update")
    if kind == "update":
        found = _row_sql[key] = _update_sql(model, fields, connection)
        return found
    quote = connection.ops.quote_name
    head = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE if kind == "insert_ignore" else None)
    found = _row_sql[key] = _RowSql(
        sql=f"{head} {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES ",
        row=f"({', '.join('%s' for _f in fields)})", fields=fields)
    return found


def _row_values(obj: Model, fields: tuple[Field, ...], connection, *, add: bool) -> list:
    obj._prepare_related_fields_for_save(operation_name="save")  # as save(): a related object's key, taken
    values = []
    for f in fields:
        value = f.pre_save(obj, add)
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"{type(obj).__name__}.{f.name}: an expression is not written by a compiled row write")
        values.append(f.get_db_prep_save(value, connection=connection))
    return values


@dataclass
class RowWrite:
    """Rows' UPDATE or INSERT, ready to send (`rows_write`). `kind`: "update" (one row, by its key),
    "insert" (the rows get their keys), "insert_ignore" (a row a unique constraint refuses is left out) or
    "statement" (any other write, `sql_write`: nothing is answered)."""

    objs: tuple[Model, ...]
    sql: str
    params: list
    kind: str
    using: str


def row_update(obj: Model, *, loaded: dict | None = None, using: str = "default") -> RowWrite:
    """The UPDATE of `obj`'s stored row, by its key, as `obj.save()` would send it: every column; or, given
    the values the row was read with under a lock still held (`loaded`: column → value), only the columns
    whose value differs from them, those of a mutable value (JSON) and those set on save (auto_now). The
    row ends the same either way: a column left out holds the value read."""
    connection = connections[using]
    statement = _row_statement("update", type(obj), connection)
    fields = statement.fields
    if loaded is not None:
        changed = tuple(f for f, always in zip(fields, statement.always, strict=True) if always
                        or f.attname not in loaded or getattr(obj, f.attname) != loaded[f.attname])
        if changed and len(changed) < len(fields):
            fields = changed
            statement = _changed_statement(type(obj), fields, connection)
    params = _row_values(obj, fields, connection, add=False)
    params.append(obj.pk)
    return RowWrite(objs=(obj,), sql=statement.sql, params=params, kind="update", using=using)


_changed_sql: dict[tuple, _RowSql] = {}
_changed_lock = threading.Lock()


def _changed_statement(model: type[Model], fields: tuple[Field, ...], connection) -> _RowSql:
    key = (model, connection.alias, tuple(f.attname for f in fields))
    found = _changed_sql.get(key)
    if found is None:
        with _changed_lock:
            if len(_changed_sql) >= 1024:  # column sets are few per model; bound them anyway
                _changed_sql.clear()
            found = _changed_sql[key] = _update_sql(model, fields, connection)
    return found


def row_insert(*objs: Model, ignore_conflicts: bool = False, using: str = "default") -> RowWrite:
    """The INSERT of new objects of one model, in one statement, as `save()` (or `bulk_create`) would
    send them; with `ignore_conflicts`, a row a unique constraint refuses is left out and nothing returned."""
    if not objs:
        raise ValueError("row_insert needs a row")
    connection = connections[using]
    kind = "insert_ignore" if ignore_conflicts else "insert"
    model = type(objs[0])
    statement = _row_statement(kind, model, connection)
    params = [v for obj in objs for v in _row_values(obj, statement.fields, connection, add=True)]
    sql = statement.sql + ", ".join(statement.row for _o in objs)
    if ignore_conflicts:
        sql += " " + connection.ops.on_conflict_suffix_sql(statement.fields, OnConflict.IGNORE, None, None)
    else:
        quote = connection.ops.quote_name
        sql += f" RETURNING {quote(model._meta.db_table)}.{quote(model._meta.pk.column)}"
    return RowWrite(objs=objs, sql=sql.rstrip(), params=params, kind=kind, using=using)


def sql_write(sql: str, params: list, *, using: str = "default") -> RowWrite:
    """A write of the caller's own SQL (an UPDATE of many rows by a condition), to send with others; its
    SQL names no other write's rows (they share one snapshot on PostgreSQL)."""
    return RowWrite(objs=(), sql=sql, params=list(params), kind="statement", using=using)


class _Deferred(threading.local):
    queues: list | None = None


_deferred = _Deferred()


@contextmanager
def rows_deferred(using: str = "default") -> Iterator[None]:
    """Writes given to `rows_write` in this block wait, and go together (one statement on PostgreSQL) when
    the block ends or just before any other statement runs: a read in the block sees them, as it would
    have without the wait. Raised errors (a refused constraint) come at that point, in the caller's
    transaction; a block left by an exception drops what waits."""
    queue: list[RowWrite] = []

    def flush_first(execute, sql, params, many, context):
        if queue:
            _flush(queue)
        return execute(sql, params, many, context)

    if _deferred.queues is None:
        _deferred.queues = []
    _deferred.queues.append(queue)
    try:
        with connections[using].execute_wrapper(flush_first):
            yield
            if queue:
                _flush(queue)
    finally:
        _deferred.queues.pop()
        queue.clear()


def _flush(queue: list[RowWrite]) -> None:
    writes = tuple(queue)
    queue.clear()
    _rows_send(writes)


def rows_write(*writes: RowWrite) -> None:
    """Send the writes in the caller's transaction (in a `rows_deferred` block: when it says); an inserted
    object gets its key and counts as stored, as after `save()`; an UPDATE that finds no row raises
    `DatabaseError`, as `save(force_update=True)` would. On PostgreSQL they go as one statement: each in a
    WITH, which runs each exactly once, with one snapshot (none of them reads another's rows: a key a row
    refers to is checked at commit, the constraints being deferred), the final SELECT answering for each.
    Elsewhere, one statement each, in order."""
    queues = _deferred.queues
    if queues:
        queues[-1].extend(writes)
        return
    _rows_send(writes)


def _rows_send(writes: tuple[RowWrite, ...]) -> None:
    using = writes[0].using
    connection = connections[using]
    # as save(): an error inside a transaction leaves it to be rolled back
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(writes) > 1:
            parts, answers, answered = [], [], []
            for i, w in enumerate(writes):
                if w.kind == "update":
                    parts.append(f"w{i} AS ({w.sql} RETURNING 1)")
                    answers.append(f"(SELECT count(*) FROM w{i})")  # noqa: S608 (a numbered name)
                elif w.kind == "insert":  # keys are given in the order of the rows
                    parts.append(f"w{i} AS ({w.sql})")
                    answers.append(f"ARRAY(SELECT * FROM w{i} ORDER BY 1)")  # noqa: S608 (a numbered name)
                else:
                    parts.append(f"w{i} AS ({w.sql})")
                    continue
                answered.append(w)
            cursor.execute(f"WITH {', '.join(parts)} SELECT {', '.join(answers) or '1'}",
                           [p for w in writes for p in w.params])
            for w, answer in zip(answered, cursor.fetchone() if answered else (), strict=True):
                _written(w, answer)
            return
        for w in writes:
            cursor.execute(w.sql, w.params)
            if w.kind == "update":
                _written(w, cursor.rowcount)
            elif w.kind == "insert":
                _written(w, sorted(row[0] for row in cursor.fetchall()))


def _written(w: RowWrite, answer) -> None:
    if w.kind == "update":
        if answer != 1:
            raise DatabaseError(f"{type(w.objs[0]).__name__} {w.objs[0].pk}: no row to update")
        return
    for obj, pk in zip(w.objs, answer, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, w.using


def _orm_saves(obj: Model, using: str) -> bool:
    # what row_create leaves to save(): a key given, a model orm_only refuses, a value that is an expression
    return (obj.pk is not None or bool(orm_only(type(obj), using))
            or any(hasattr(getattr(obj, f.attname), "resolve_expression") for f in obj._meta.concrete_fields))


def rows_create(first: Model, *linked: Model, link: str, using: str = "default") -> None:
    """INSERT the new object `first` and the new objects `linked` (of any models), each of which refers to
    `first` by its foreign key `link` (set to the unsaved `first`), as `save()` would one after the other:
    the same rows, every key returned, every instance marked saved and referring to the stored `first`, the
    transaction marked for rollback on an error. On PostgreSQL one statement: the rows in the order given,
    each in a WITH, a linked row taking `first`'s new key from its INSERT; a refused row (a unique
    constraint) fails the statement, so nothing of it is written. Elsewhere, or where `row_create` would
    use `save()`, one INSERT each, in order."""
    connection = connections[using]
    saves = [_orm_saves(o, using) for o in (first, *linked)]
    if connection.vendor != "postgresql" or any(saves):
        for obj, orm in zip((first, *linked), saves, strict=True):
            if obj is not first:
                setattr(obj, link, first)  # its key, now that it has one
            if orm:
                obj.save(force_insert=True, using=using)
            else:
                _rows_send((row_insert(obj, using=using),))
        return
    quote = connection.ops.quote_name
    head = row_insert(first, using=using)
    parts, params = [f"w0 AS ({head.sql})"], list(head.params)
    new_key = f"(SELECT {quote(first._meta.pk.column)} FROM w0)"  # noqa: S608 (a quoted column)
    for i, obj in enumerate(linked, 1):
        field = obj._meta.get_field(link)
        field.delete_cached_value(obj)  # unsaved: its key comes from w0, not from the object
        setattr(obj, field.attname, None)
        model = type(obj)
        statement = _row_statement("insert", model, connection)
        values = _row_values(obj, statement.fields, connection, add=True)
        at = statement.fields.index(field)
        row = ", ".join(new_key if j == at else "%s" for j in range(len(statement.fields)))
        parts.append(f"w{i} AS ({statement.sql}({row}) RETURNING "
                     f"{quote(model._meta.db_table)}.{quote(model._meta.pk.column)})")
        params.extend(v for j, v in enumerate(values) if j != at)
    answers = ", ".join(f"(SELECT * FROM w{i})" for i in range(len(linked) + 1))  # noqa: S608 (numbered names)
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {answers}", params)
        keys = cursor.fetchone()
    for obj, pk in zip((first, *linked), keys, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, using
    for obj in linked:
        setattr(obj, link, first)


def row_create(model: type[Model], *, using: str = "default", **values) -> Model:
    """`model.objects.create(**values)` with the INSERT's SQL built once per process (`row_insert`): the
    same row, the key returned, the instance marked saved, the transaction marked for rollback on an error.
    Sent at once, in a `rows_deferred` block too (after what waits there): the caller uses the key. A model
    `orm_only` refuses, a key given, or a value that is an expression go through the ORM's `save()`."""
    obj = model(**values)
    if (obj.pk is not None or orm_only(model, using)
            or any(hasattr(getattr(obj, f.attname), "resolve_expression") for f in model._meta.concrete_fields)):
        obj.save(force_insert=True, using=using)
        return obj
    _rows_send((row_insert(obj, using=using),))
    return obj

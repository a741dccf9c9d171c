"""Querysets compiled once per process. A hot read the ORM builds with joins, annotations and subqueries (a
transition's lock of its case) costs several times more to compile than the database takes to run it;
`Compiled` keeps the SQL and the ORM's mapping of its rows from the first compilation and runs them again
with each call's values, giving the same model instances the queryset would (its `select_related` objects
and annotations included; `core/tests/test_statements.py` compares the two).

The values of a call stand in the compiled parameters where the sentinels passed to `build` stood; anything
else the SQL depends on (today's date in a "current assignment" condition) is the call's `key`, one
compilation per key.

`row_create` is `objects.create` for the hot INSERTs (a case, its key, an event): the ORM compiled their SQL
anew for every row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

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
                          annotations=tuple(compiler.annotation_col_map.items()))

    def rows(self, *values, key: Hashable = ()) -> list[Model]:
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
        out = []
        for row in compiler.results_iter([fetched]):
            obj = statement.model.from_db(statement.db, statement.init_list, row[statement.start:statement.end])
            for populator in statement.populators:
                populator.populate(row, obj)
            for name, at in statement.annotations:
                setattr(obj, name, row[at])
            out.append(obj)
        return out

    def clear(self) -> None:
        with self._lock:
            self._statements.clear()


# ------------------------------------------------------------------------------------------ inserts
@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple
    returning: tuple
    returning_params: tuple
    compiler: Any
    converters: dict


_inserts: dict[tuple[type[Model], str], _Insert | None] = {}


def _insert_compile(obj: Model, using: str) -> _Insert | None:
    """The INSERT `obj.save(force_insert=True)` sends for a new row of its model, or None where a value's SQL
    could differ from one row to the next (a field with its own placeholder, a database default, a
    generated column, a parent table) or the database cannot return the new key with the INSERT."""
    from django.db.models import sql

    meta, connection = obj._meta, connections[using]
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    if (meta.parents or meta.order_with_respect_to or not connection.features.can_return_columns_from_insert
            or meta.auto_field is None or list(meta.db_returning_fields) != [meta.auto_field]
            or any(f.generated or f.has_db_default() or hasattr(f, "get_placeholder") for f in fields)):
        return None
    query = sql.InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = list(meta.db_returning_fields)
    [(text, _params)] = compiler.as_sql()
    cols = [f.get_col(meta.db_table) for f in compiler.returning_fields]
    return _Insert(sql=text, fields=tuple(fields), returning=tuple(compiler.returning_fields),
                   returning_params=tuple(compiler.returning_params), compiler=compiler,
                   converters=compiler.get_converters(cols))


def row_create(model: type[Model], *, using: str = "default", **values) -> Model:
    """`model.objects.create(**values)` with the INSERT's SQL compiled once per process: the same row (each
    field's `pre_save` and database value, as the ORM computes them), the same key returned, the instance
    marked saved, the same rollback mark on an error inside a transaction. A model with `save()` overridden
    or receivers of its save signals, a value that is an expression, or a row the compiled INSERT cannot
    write (`_insert_compile`) go through the ORM's `save()`."""
    from django.db import transaction
    from django.db.models import signals

    obj = model(**values)
    if (obj.pk is not None or model.save is not Model.save or model.save_base is not Model.save_base
            or signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model)
            or any(hasattr(getattr(obj, f.attname), "resolve_expression") for f in model._meta.concrete_fields)):
        obj.save(force_insert=True, using=using)
        return obj
    obj._prepare_related_fields_for_save(operation_name="save")
    key = (model, using)
    if key not in _inserts:
        _inserts[key] = _insert_compile(obj, using)
    statement = _inserts[key]
    if statement is None:
        obj.save(force_insert=True, using=using)
        return obj
    connection = connections[using]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in statement.fields]
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        rows = [connection.ops.fetch_returned_insert_columns(cursor, statement.returning_params)]
    if statement.converters:
        rows = list(statement.compiler.apply_converters(rows, statement.converters))
    for value, field in zip(rows[0], statement.returning, strict=True):
        setattr(obj, field.attname, value)
    obj._state.adding = False
    obj._state.db = using
    return obj

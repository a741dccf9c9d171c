"""Querysets compiled once per process. A hot read the ORM builds with joins, annotations and subqueries (a
transition's lock of its case) costs several times more to compile than the database takes to run it;
`Compiled` keeps the SQL and the ORM's mapping of its rows from the first compilation and runs them again
with each call's values, giving the same model instances the queryset would (its `select_related` objects
and annotations included; `core/tests/test_statements.py` compares the two).

The values of a call stand in the compiled parameters where the sentinels passed to `build` stood; anything
else the SQL depends on (today's date in a "current assignment" condition) is the call's `key`, one
compilation per key.
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

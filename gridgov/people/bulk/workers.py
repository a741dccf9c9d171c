"""Cleaning and sealing the rows of chunk N+1 in a worker process while the importing process writes chunk N.

The worker is forked from the importing process once a file has a second chunk, so it starts with the
importer as it stands (cells, special groups, keys) and never reads the database: a row whose cleaning
would need a read (an unknown cell, whose reason names another scheme or a retired cell) comes back as
AGAIN and is cleaned in the importing process. What depends on the rows before (repeats in the file,
stored records, households) is decided in the importing process, in the file's order, as without a
worker; the rows, reasons and report are the same either way."""

from __future__ import annotations

import collections
import dataclasses
import functools
import gc
import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from django.db import connections

from gridgov.people.bulk.cells import Unresolved
from gridgov.people.bulk.clean import Row

AGAIN = "again"  # in place of an item: the importing process cleans this row itself
AHEAD = 2  # chunks handed to the worker before the first is written

Chunk = list[tuple[int, dict[str, Any]]]  # (row number, values by canonical field)

logger = logging.getLogger(__name__)

_NONE: dict[str, Any] = {}
_importer: Any = None  # the worker's copy of the importer
_inherited: list[Any] = []  # the forked database connections, kept open and unused in the worker


def chunks_cleaned(importer, chunks: Iterator[Chunk], *, workers: bool = True) -> Iterator[list[tuple[Row, Any]]]:
    """Each chunk as [(row, what `importer.clean(row)` gave or AGAIN)], in the file's order: cleaned and sealed
    in a worker when `workers` and the rows fill more than one chunk, else (or once the worker is lost: its
    process killed, say) cleaned here."""
    first = next(chunks, None)
    second = next(chunks, None) if first is not None else None
    pool = _pool(importer) if workers and second is not None else None
    pending: collections.deque[tuple[Chunk, Future | None]] = collections.deque(
        (chunk, None) for chunk in (first, second) if chunk is not None)
    try:
        if pool is not None:
            pending = collections.deque((chunk, _submit(pool, chunk)) for chunk, _none in pending)
        while pending:
            chunk, future = pending.popleft()
            done = None
            if future is not None:
                try:
                    done = _unpack(future.result())
                except BrokenProcessPool:
                    logger.warning("people import: the worker process was lost; the rows are cleaned here")
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool, pending = None, collections.deque((c, None) for c, _f in pending)
            while len(pending) < AHEAD and (more := next(chunks, None)) is not None:
                pending.append((more, _submit(pool, more) if pool is not None else None))
            yield done if done is not None else _here(importer, chunk)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, chunk: Chunk) -> Future | None:
    try:
        return pool.submit(_clean, chunk)
    except (BrokenProcessPool, RuntimeError):  # the worker is gone (or could not be started)
        return None


def _here(importer, chunk: Chunk) -> list[tuple[Row, Any]]:
    rows = [Row(number, data) for number, data in chunk]
    return [(row, importer.clean(row)) for row in rows]


def _pool(importer) -> ProcessPoolExecutor | None:
    """One worker forked from this process (None where processes cannot be forked, or from a daemon)."""
    if "fork" not in multiprocessing.get_all_start_methods() or multiprocessing.current_process().daemon:
        return None
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start, initargs=(importer,))


def _start(importer) -> None:
    global _importer
    # the forked connections belong to the importing process: kept referenced (closing one here would end the
    # importing process's session) and taken out of Django's hands, so that no read can go through them
    for conn in connections.all(initialized_only=True):
        _inherited.append(conn.connection)
        conn.connection = None
    importer.cells.offline = True
    _importer = importer
    gc.disable()  # as in the importing process (`upsert.collector_paused`); the worker ends with the import


def _clean(chunk: Chunk) -> list[tuple]:
    """The chunk cleaned and sealed, packed as plain tuples: unpickling objects would cost the importing
    process about as much as cleaning them."""
    packed = []
    for number, data in chunk:
        row = Row(number, data)
        try:
            item = _importer.clean(row)
        except Unresolved:
            packed.append((number, data, AGAIN))
            continue
        if item is None:
            packed.append((number, row.errors, None))
            continue
        if not row.errors:
            _importer.seal(item)
        packed.append((number, row.errors, type(item), *(getattr(item, name) for name in _fields(type(item)))))
    return packed


def _unpack(packed: list[tuple]) -> list[tuple[Row, Any]]:
    cleaned = []
    for number, errors, kind, *values in packed:
        if kind == AGAIN:
            cleaned.append((Row(number, errors), AGAIN))  # (errors: the row's values, to clean again)
            continue
        row = Row.__new__(Row)  # later steps only add errors: the values stay in the worker
        row.number, row.errors, row.data, row.texts = number, errors, _NONE, _NONE
        cleaned.append((row, None if kind is None else kind(row, *values)))
    return cleaned


@functools.cache
def _fields(kind: type) -> tuple[str, ...]:
    """An item's fields after `row`, its first."""
    names = tuple(f.name for f in dataclasses.fields(kind))
    if names[0] != "row":
        raise TypeError(f"{kind.__name__} must have `row` as its first field")
    return names[1:]

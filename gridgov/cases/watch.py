"""The time-limit watch (超时督办): every minute, stages whose colour should change by now turn yellow
or red, each change written as one system event with its notices, and overdue report-ins (报到) are
noticed once. Run by `tasks.sla_watch_task` and `manage.py case_watch`.

Invariants and choices:
- only cases in `CLOCK_STATES` are watched; a parked, returned, reported-back or closed case keeps its
  stages as they are until an action moves them;
- colours only move forward here (ON_TIME → WARNING → OVERDUE). Moving back (an approved extension, parking
  time) is the transition service's job, through `clock.status_at`;
- each page of cases changes in one short transaction holding the cases' row locks (the lock
  `services.case_transition` takes), taken with SKIP LOCKED on PostgreSQL so a page never waits for a
  user's action (the skipped case stays behind the clock and the next run takes it); the changes are
  decided again inside the locks, so a run that overlaps an action, another run or a retry writes
  nothing twice. The stage's stored colour is the record of what was told: an event is written exactly
  when the colour changes;
- a stage that went from ON_TIME straight past its limit (the watch was down, or the stage was very
  short) gets the red event only: the timeline says what was noticed, not a yellow nobody saw;
- notices are keyed by case, stage, colour and the stage's limit, so a re-run adds none but a stage
  that turns red again after an extension moved its limit is told again;
- every write of a tracked column bumps `Case.version`, the watch's too: a form loaded before the watch
  moved `sla_status` / `due_at` is stale (409), as after any other change the event records;
- with the policy's `escalate_when_overdue`, a case with a stage turning red in this run is whistled one
  level up through `case_transition` (as SYSTEM) in the same transaction: once per case and run, even
  when several stages turned red together after downtime.

Scale: candidates come from two partial indexes, open green stages by yellow mark and open yellow ones
by limit, read in keyset pages so each page starts where the last ended, joined to their running case:
only stages whose colour is behind on a case whose clock runs are read, never every open stage, never a
red one, never a parked case's (its clock stands: its stages wait for the action that restarts it). A
page is set-based: its cases locked in one statement, their open stages and last event numbers read in
one, the assignees of the whole page in at most three, then on PostgreSQL one COPY of the events, one of
the notices into a table of the transaction and one statement writing the stages, the cases' summaries
and the notices (on SQLite: an INSERT of the events, an UPDATE of the stages, one of the cases and an
INSERT of the notices), whatever the page's size. On PostgreSQL these statements are plain SQL taking
arrays and the rows travel in the binary format: no model instance, ORM compile or text per row.
Only a whistle (where the policy escalates a red) goes case by case through `case_transition`. On
PostgreSQL, outside a transaction, two pages run at a time, each in a thread with its own connection
(`PAGES_AT_ONCE`): one builds its rows while the other waits for the database.
`cases/tests/test_watch_sets.py` holds the case-at-a-time loop this replaced and checks that both
write the same rows.
"""

from __future__ import annotations

import collections
import datetime as dt
import gc
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases import clock
from gridgov.cases.errors import ActionForbidden, CaseConflict
from gridgov.cases.models import Case, CaseEvent, CasePolicy, CaseStage, Notification, ReportIn, SlaStatus
from gridgov.cases.notify import assignee_user_ids, notify, report_in_recipients
from gridgov.cases.policy import policy_for
from gridgov.cases.services import case_transition, event_write
from gridgov.cases.states import CLOCK_STATES
from gridgov.cases.transitions import TRANSITIONS
from gridgov.core import versioned

logger = logging.getLogger(__name__)

SYSTEM_ROLE = "SYSTEM"
_RANK = {SlaStatus.ON_TIME: 0, SlaStatus.WARNING: 1, SlaStatus.OVERDUE: 2}
_EVENT_KIND = {SlaStatus.WARNING: "sla_warning", SlaStatus.OVERDUE: "sla_overdue"}
# a department can only report in while the case takes the action; after that an overdue notice is noise
REPORT_IN_STATES = TRANSITIONS["report_in"].sources


@dataclass
class WatchReport:
    checked: int = 0  # stages read as candidates (colour behind the clock, on a running case)
    warning: int = 0  # stages turned close to the limit (yellow)
    overdue: int = 0  # stages turned overdue (red)
    report_in_overdue: int = 0  # report-ins noticed overdue
    escalated: int = 0  # whistles blown because a stage turned red

    @property
    def changed(self) -> bool:
        return bool(self.warning or self.overdue or self.report_in_overdue or self.escalated)


def sla_watch(*, now: dt.datetime | None = None, batch: int = 1000) -> WatchReport:
    """Turn stages yellow and red as `now` passes their marks and notice overdue report-ins. Idempotent:
    a second run at the same `now` (or a run overlapping this one) changes nothing."""
    now = now or timezone.now()
    with versioned.versions_pinned():  # the settings' counters read once for the run
        report = _watch(now, batch)
    if report.changed:
        logger.info("time-limit watch at %s: %s", now.isoformat(), report)
    return report


def _watch(now: dt.datetime, batch: int) -> WatchReport:
    report = WatchReport()
    policies: dict[int, CasePolicy] = {}
    for behind in _BEHIND:  # the yellow stages past their limit, then the green ones: one pass after the other
        for read, (warning, overdue, whistled) in _pages_run(_stage_pages(now, batch, passes=(behind,)), now=now,
                                                              policies=policies):
            report.checked += read
            report.warning += warning
            report.overdue += overdue
            report.escalated += whistled
    for rows in _report_in_pages(now, batch):
        for row_id, case_id in rows:
            report.report_in_overdue += _report_in_watch(row_id, case_id, now=now)
    return report


# On PostgreSQL, outside a transaction, a run of more than one page takes PAGES_AT_ONCE pages at a time, each in
# a thread of its own with its own connection and transaction: while one page waits for the database's answer
# (its statement, its commit) the next one builds its rows. Pages are disjoint sets of cases, each locked with
# SKIP LOCKED: a case two pages of one pass both name (two of its stages behind the clock, on either side of a
# page's end) is changed by the page that locks it first, whose read takes all of its open stages, and the
# other page finds nothing left to change, as it would one after the other.
PAGES_AT_ONCE = 2
_NOTHING = (0, 0, 0)


def _pages_run(pages: Iterator[tuple[list[int], int]], *, now: dt.datetime, policies: dict[int, CasePolicy]
               ) -> Iterator[tuple[int, tuple[int, int, int]]]:
    """(stage rows read, what `_page_watch` did) for each page, in the pages' order."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or PAGES_AT_ONCE < 2:
        for case_ids, read in pages:  # each page read once the one before is written
            yield read, _page_paused(case_ids, now=now, policies=policies)
        return
    first = next(pages, None)
    second = next(pages, None) if first is not None else None
    if second is None:  # one page (or none): no thread to start
        if first is not None:
            yield first[1], _page_paused(first[0], now=now, policies=policies)
        return
    yield from _pages_at_once(itertools.chain((first, second), pages), now=now, policies=policies)


def _page_paused(case_ids: list[int], *, now: dt.datetime, policies: dict[int, CasePolicy]) -> tuple[int, int, int]:
    if not case_ids:
        return _NOTHING
    with _collector_paused():
        return _page_watch(case_ids, now=now, policies=policies)


def _pages_at_once(pages: Iterator[tuple[list[int], int]], *, now: dt.datetime, policies: dict[int, CasePolicy]
                   ) -> Iterator[tuple[int, tuple[int, int, int]]]:
    """The pages run by PAGES_AT_ONCE threads (the candidates still read here, page after page), each thread
    closing its connection when the run ends. A page that fails stops the run: the pages not yet begun are
    dropped, those under way end, and the error is raised here."""
    tasks: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        try:
            with versioned.versions_pinned():  # the settings' counters read once per thread
                while (task := tasks.get()) is not None:
                    case_ids, future = task
                    if not future.set_running_or_notify_cancel():
                        continue
                    try:
                        future.set_result(_page_watch(case_ids, now=now, policies=policies) if case_ids else _NOTHING)
                    except BaseException as exc:  # raised in the reading thread
                        future.set_exception(exc)
        finally:
            connections.close_all()  # this thread's own

    threads = [threading.Thread(target=work, name=f"sla-watch-{i}", daemon=True) for i in range(PAGES_AT_ONCE)]
    enabled = gc.isenabled()
    gc.disable()  # for the whole run: `_collector_paused` per page would enable it again under another page
    for thread in threads:
        thread.start()
    running: collections.deque[tuple[int, Future]] = collections.deque()
    try:
        for case_ids, read in pages:
            future: Future = Future()
            tasks.put((case_ids, future))
            running.append((read, future))
            if len(running) >= PAGES_AT_ONCE:
                read, done = running.popleft()
                yield read, done.result()
        while running:
            read, done = running.popleft()
            yield read, done.result()
    finally:
        for _read, left in running:
            left.cancel()  # not begun: dropped (a page under way ends)
        for _thread in threads:
            tasks.put(None)
        for thread in threads:
            thread.join()
        if enabled:
            gc.enable()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a page runs: a page allocates tens of thousands of short-lived
    values (rows, tuples, texts), and each collection they set off walked the process's long-lived objects
    too (a fifth of the watch's CPU). Reference counting frees what a page allocates; anything cyclic waits
    for a collection between pages."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------- stages
def stages_behind(now: dt.datetime):
    """Open stages whose stored colour is behind the clock at `now`, whatever their case's state: green
    ones past their yellow mark and yellow ones past their limit. Relies on a stage's yellow mark never
    being after its limit (a yellow share of at most 1)."""
    return (CaseStage.objects.filter(completed_at__isnull=True, warn_at__lte=now)
            .filter(Q(status=SlaStatus.ON_TIME) | Q(status=SlaStatus.WARNING, due_at__lte=now)))


# the two halves of `stages_behind`, each a range of its own partial index (models.CaseStage.Meta): the
# stored colour, the mark that moves it on
_BEHIND = ((SlaStatus.WARNING, "due_at"), (SlaStatus.ON_TIME, "warn_at"))


def _stage_pages(now: dt.datetime, size: int, *, passes=_BEHIND) -> Iterator[tuple[list[int], int]]:
    """Pages of ids of running cases with a stage behind the clock, and how many stage rows each page read:
    first the yellow stages past their limit (by limit), then the green ones past their yellow mark (by
    mark), each a keyset on (mark, id) over its partial index, so each page starts where the last one
    ended. The case's state is part of the read (a join by primary key): the stages of parked or returned
    cases keep their colour and are never returned, so a run does not carry them page by page."""
    for status, mark in passes:
        after: tuple[dt.datetime, int] | None = None
        while True:
            qs = CaseStage.objects.filter(completed_at__isnull=True, status=status, **{f"{mark}__lte": now},
                                          case__state__in=CLOCK_STATES)
            if after is not None:  # `mark >= m` bounds the index range; the rest breaks ties
                qs = qs.filter(Q(**{f"{mark}__gte": after[0]}), Q(**{f"{mark}__gt": after[0]}) | Q(pk__gt=after[1]))
            rows = list(qs.order_by(mark, "pk").values_list(mark, "pk", "case_id")[:size])
            if not rows:
                break
            yield list(dict.fromkeys(r[2] for r in rows)), len(rows)
            if len(rows) < size:
                break
            after = (rows[-1][0], rows[-1][1])


def _policy(scheme_id: int, cache: dict[int, CasePolicy]) -> CasePolicy:
    if scheme_id not in cache:
        cache[scheme_id] = policy_for(scheme_id)
    return cache[scheme_id]


# what a page reads of its open stages: the clock (status_at), the event's and the notice's values
_STAGE_COLUMNS = ("id", "case_id", "order", "name_zh", "due_at", "warn_at", "status")


class _Stage:
    """An open stage as a page reads it: plain values, no model instance per row (building them was a
    third of the stages' read). Answers `clock.status_at` as a `CaseStage` does."""

    __slots__ = ("case_id", "due_at", "name_zh", "order", "pk", "status", "warn_at")
    completed_at = None  # the page reads open stages only

    def __init__(self, pk, case_id, order, name_zh, due_at, warn_at, status):
        self.pk, self.case_id, self.order, self.name_zh = pk, case_id, order, name_zh
        self.due_at, self.warn_at, self.status = due_at, warn_at, status


# what a page reads of its locked cases: the events' and the notices' values, the assignees' facts
_CASE_COLUMNS = ("id", "scheme_id", "node_id", "state", "reported_at", "owner_id", "assignee_kind", "assignee_user_id",
                 "assignee_team_id", "assignee_node_id")


class _Case:
    """A locked case as a page reads it: plain values, no model instance per row. Answers
    `notify.assignee_user_ids` as a `Case` does."""

    __slots__ = ("assignee_kind", "assignee_node_id", "assignee_team_id", "assignee_user_id", "node_id", "owner_id",
                 "pk", "reported_at", "scheme_id", "state")

    def __init__(self, pk, scheme_id, node_id, state, reported_at, owner_id, assignee_kind, assignee_user_id,
                 assignee_team_id, assignee_node_id):
        self.pk, self.scheme_id, self.node_id, self.state = pk, scheme_id, node_id, state
        self.reported_at, self.owner_id, self.assignee_kind = reported_at, owner_id, assignee_kind
        self.assignee_user_id, self.assignee_team_id, self.assignee_node_id = \
            assignee_user_id, assignee_team_id, assignee_node_id


def _columns(model, names: tuple[str, ...], alias: str) -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(model._meta.get_field(name).column)}" for name in names)


def _page_lock(case_ids: list[int]) -> list[_Case]:
    """The page's cases still running, locked (the lock `services.case_transition` takes). On PostgreSQL
    a case a user's action holds is skipped (SKIP LOCKED), never waited for: it stays behind the clock and
    the next run takes it; the statement is plain SQL with the ids as one array (the ORM's list of ids
    cost more to build than the lock to take). SQLite has one writer at a time and no row locks."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Case._meta.db_table)
        return [_Case(*row) for row in _rows_fetch(
            f"SELECT {_columns(Case, _CASE_COLUMNS, 'c')} FROM {table} AS c "  # noqa: S608 (names only)
            "WHERE c.id = ANY(%s::bigint[]) AND c.state = ANY(%s::varchar[]) ORDER BY c.id FOR UPDATE OF c SKIP LOCKED",
            [case_ids, list(CLOCK_STATES)])]
    qs = Case.objects.filter(pk__in=case_ids, state__in=CLOCK_STATES).order_by("pk")
    return [_Case(*row) for row in qs.values_list(*_CASE_COLUMNS)]


def _page_stages(case_ids) -> list[tuple]:
    """The open stages of the locked cases, by case and order, each with its case's last event number.
    Read after the locks are taken (its own statement: a lock's statement sees the rows as they were when
    it began), and the locks keep the numbers: every event of a case is written under its lock."""
    if connection.vendor == "postgresql":
        stages = connection.ops.quote_name(CaseStage._meta.db_table)
        events = connection.ops.quote_name(CaseEvent._meta.db_table)
        return _rows_fetch(f"SELECT {_columns(CaseStage, _STAGE_COLUMNS, 's')}, "  # noqa: S608 (names only)
                           f"(SELECT max(e.seq) FROM {events} AS e WHERE e.case_id = s.case_id) "
                           f"FROM {stages} AS s WHERE s.case_id = ANY(%s::bigint[]) AND s.completed_at IS NULL "
                           'ORDER BY s.case_id, s."order"', [list(case_ids)])
    last = CaseEvent.objects.filter(case_id=OuterRef("case_id")).order_by("-seq").values("seq")[:1]
    return list(CaseStage.objects.filter(case_id__in=case_ids, completed_at__isnull=True)
                .annotate(last_seq=Subquery(last)).order_by("case_id", "order")
                .values_list(*_STAGE_COLUMNS, "last_seq"))


def _rows_fetch(sql: str, params: list) -> list[tuple]:
    """The rows of a SELECT in the binary format (PostgreSQL): its datetimes are decoded in C, where the
    text format goes through a loader written in Python (most of a page's reading was spent there); the
    connection's time zone is UTC, so they come back as the ORM gives them. It goes around Django's cursor,
    so its errors are wrapped here and the statement is logged as `execute` logs one."""
    start = time.monotonic()
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.execute(sql, params, binary=True)
        rows = cursor.cursor.fetchall()
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
    return rows


def _page_watch(case_ids: list[int], *, now: dt.datetime, policies: dict[int, CasePolicy]) -> tuple[int, int, int]:
    """One page of cases in one transaction under their row locks, set-based: the changes are decided again
    inside the locks, then written as one COPY of the events (an INSERT on SQLite) and, on PostgreSQL, one
    COPY of the notices and one statement writing the stages, the cases' summaries and the notices (on
    SQLite, one statement each) — the same rows a case at a time would write (see the module's docstring).
    Returns (stages turned close to the limit, turned overdue, cases whistled)."""
    with transaction.atomic():
        cases = {case.pk: case for case in _page_lock(case_ids)}
        if not cases:
            return 0, 0, 0
        stages: dict[int, list[_Stage]] = {}
        last: dict[int, int] = {}
        for row in _page_stages(cases):
            stages.setdefault(row[1], []).append(_Stage(*row[:-1]))
            last[row[1]] = row[-1] or 0
        changes: dict[int, list[tuple[_Stage, str, str]]] = {}
        for case_id, open_ in stages.items():
            for stage in open_:
                status = clock.status_at(stage, now)
                if _RANK[status] > _RANK.get(stage.status, 0):
                    changes.setdefault(case_id, []).append((stage, stage.status, status))
                    stage.status = status
        if not changes:
            return 0, 0, 0
        _events_write(cases, changes, last, now=now)
        _page_write(changes, {case_id: stages[case_id] for case_id in changes}, _notices(cases, changes))
        overdue = {case_id for case_id, rows in changes.items() if any(st == SlaStatus.OVERDUE for _s, _o, st in rows)}
        # whistles one case at a time, in the page's order (rare: only where the policy escalates a red)
        whistled = sum(1 for case_id in case_ids if case_id in overdue
                       and _policy(cases[case_id].scheme_id, policies).escalate_when_overdue
                       and _whistle(cases[case_id], now=now))
        total = sum(len(rows) for rows in changes.values())
    overdue_count = sum(1 for rows in changes.values() for _s, _o, st in rows if st == SlaStatus.OVERDUE)
    return total - overdue_count, overdue_count, whistled


def _summaries(open_stages: dict[int, list[_Stage]]) -> list[tuple[int, str, dt.datetime]]:
    """Each changed case's summary (`clock.case_clock_refresh`: the worst colour of its open stages and the
    first one's limit)."""
    order = list(_RANK)
    return [(case_id, max((s.status for s in open_), key=order.index), open_[0].due_at)
            for case_id, open_ in open_stages.items()]


# the notices a PostgreSQL page writes are copied into this table of the transaction, then moved into the
# notices' table by the page's one statement, leaving out those the (recipient, key) constraint holds
_NOTICES_TABLE = "watch_notices"


def _page_write(changes: dict[int, list[tuple[_Stage, str, str]]], open_stages: dict[int, list[_Stage]],
                notices: list[tuple]) -> None:
    """The changed stages' colours, each changed case's summary and its version (a tracked column changes:
    see the module's docstring), and the notices, keyed so that a re-run tells no one twice. PostgreSQL:
    the notices copied in (no arrays to build), then one statement of plain SQL, the values as arrays (the
    plan stays an index join at any page size); SQLite: one statement each."""
    stage_rows = [(stage.pk, status) for rows in changes.values() for stage, _old, status in rows]
    case_rows = _summaries(open_stages)
    stage_table, case_table = (connection.ops.quote_name(m._meta.db_table) for m in (CaseStage, Case))
    if connection.vendor != "postgresql":
        _sqlite_write(stage_table, case_table, stage_rows, case_rows)
        _rows_insert(Notification, _NOTICE_COLUMNS, notices, skip_conflicts=True)
        return
    told = ""
    with connection.cursor() as cursor:
        if notices:
            fields = [Notification._meta.get_field(name) for name in _NOTICE_COLUMNS]
            names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_NOTICES_TABLE} "
                           f"({', '.join(f'{connection.ops.quote_name(f.column)} {f.db_type(connection)}' for f in fields)}) "
                           "ON COMMIT DROP")
            _rows_copy(cursor, _NOTICES_TABLE, fields, notices)
            told = (f", moved AS (DELETE FROM {_NOTICES_TABLE} RETURNING {names}), "  # noqa: S608 (names only)
                    f"told AS (INSERT INTO {connection.ops.quote_name(Notification._meta.db_table)} ({names}) "
                    f"SELECT {names} FROM moved ON CONFLICT DO NOTHING)")
        stage_ids, stage_statuses = (list(column) for column in zip(*stage_rows, strict=True))
        case_ids, case_statuses, dues = (list(column) for column in zip(*case_rows, strict=True))
        sql = (f"WITH stages AS (UPDATE {stage_table} AS s SET status = v.s "  # noqa: S608 (names only)
               f"FROM unnest(%s::bigint[], %s::varchar[]) AS v(id, s) WHERE s.id = v.id){told} "
               f"UPDATE {case_table} AS c SET sla_status = v.s, due_at = v.d, version = c.version + 1 "
               "FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[]) AS v(id, s, d) "
               "WHERE c.id = v.id AND c.id = ANY(%s::bigint[])")
        cursor.execute(sql, [stage_ids, stage_statuses, case_ids, case_statuses, dues, case_ids])


def _sqlite_write(stage_table: str, case_table: str, stage_rows: list[tuple], case_rows: list[tuple]) -> None:
    # SQLite names a VALUES list's columns column1, column2 ...
    with connection.cursor() as cursor:
        marks = ", ".join(["(%s, %s)"] * len(stage_rows))
        cursor.execute(
            f"UPDATE {stage_table} SET status = v.column2 "  # noqa: S608 (a table name and placeholders)
            f"FROM (VALUES {marks}) AS v WHERE {stage_table}.id = v.column1", [v for row in stage_rows for v in row])
        marks = ", ".join(["(%s, %s, %s)"] * len(case_rows))
        params = [v for case_id, status, due in case_rows
                  for v in (case_id, status, connection.ops.adapt_datetimefield_value(due))]
        cursor.execute(
            f"UPDATE {case_table} SET sla_status = v.column2, due_at = v.column3, "  # noqa: S608 (a table name and placeholders)
            f"version = {case_table}.version + 1 FROM (VALUES {marks}) AS v WHERE {case_table}.id = v.column1",
            params)


def _rows_insert(model, columns: tuple[str, ...], rows: list[tuple], *, skip_conflicts: bool = False) -> None:
    """Insert plain tuples into `model`'s table in one statement (PostgreSQL: COPY; SQLite: one prepared
    INSERT run for every row), without building a model instance per row. JSON columns take Python values;
    `skip_conflicts` (SQLite only) leaves out rows a unique constraint already holds."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in columns]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assert not skip_conflicts, "PostgreSQL skips conflicts through a copied table (_page_write)"
            _rows_copy(cursor, table, fields, rows)
            return
        names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        adapt = [connection.ops.adapt_datetimefield_value if f.get_internal_type() == "DateTimeField"
                 else json.dumps if f.get_internal_type() == "JSONField" else None for f in fields]
        cursor.executemany(f"INSERT {'OR IGNORE ' if skip_conflicts else ''}INTO {table} ({names}) "  # noqa: S608 (names only)
                           f"VALUES ({marks})",
                           [tuple(a(v) if a else v for a, v in zip(adapt, row, strict=True)) for row in rows])


def _rows_copy(cursor, table: str, fields: list, rows: list[tuple]) -> None:
    """COPY the rows into `table` in the binary format, typed by `fields` (PostgreSQL: no arrays to build
    and unnest, and no text to format per value). It goes around Django's cursor, so its errors are wrapped
    here and the statement is logged as `execute` logs one (the statement budgets count it)."""
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
    start = time.monotonic()
    with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        copy.set_types([f.db_type(connection).split("(")[0] for f in fields])
        for row in rows:
            copy.write_row(row)
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} ({len(rows)} rows)", "time": f"{time.monotonic() - start:.3f}"})


_EVENT_COLUMNS = ("case", "seq", "kind", "at", "actor", "actor_role", "node", "from_state", "to_state", "note",
                  "old_values", "new_values", "attachments")
_NOTICE_COLUMNS = ("recipient", "case", "kind", "key", "text", "created_at")


def _events_write(cases: dict[int, _Case], changes: dict[int, list[tuple[_Stage, str, str]]], last: dict[int, int],
                  *, now: dt.datetime) -> None:
    """One event per changed stage, numbered after each case's last event (read with its stages: the locks
    keep the numbers; the (case, seq) constraint would refuse a clash)."""
    rows = []
    for case_id, stage_rows in changes.items():
        case = cases[case_id]
        seq = last[case_id]
        for stage, old, status in stage_rows:
            seq += 1
            rows.append((case_id, seq, _EVENT_KIND[status], now, None, SYSTEM_ROLE, case.node_id, case.state,
                         case.state, "", {"stage": stage.order, "status": old},
                         {"stage": stage.order, "status": status, "due_at": stage.due_at.isoformat()}, []))
    _rows_insert(CaseEvent, _EVENT_COLUMNS, rows)


def _notices(cases: dict[int, _Case], changes: dict[int, list[tuple[_Stage, str, str]]]) -> list[tuple]:
    """Each changed stage told to the case's assignees and its owner, keyed by case, stage, colour and the
    stage's limit: the (recipient, key) constraint keeps a re-run from telling anyone twice."""
    assignees = assignee_user_ids({pk: cases[pk] for pk in changes})
    created = timezone.now()
    over, close = _("case %(number)s: stage %(stage)s is over its time limit (%(due)s)"), \
        _("case %(number)s: stage %(stage)s is close to its time limit (%(due)s)")
    zone = timezone.get_current_timezone()  # what `timezone.localtime` reads, read once for the page
    rows = []
    for case_id, stage_rows in changes.items():
        case = cases[case_id]
        users = assignees.get(case_id, set()) | ({case.owner_id} if case.owner_id else set())
        if not users:
            continue
        number, users = Case.number_of(case_id, case.reported_at, zone), sorted(users)
        for stage, _old, status in stage_rows:
            due = stage.due_at
            values = {"number": number, "stage": stage.name_zh, "due": due.astimezone(zone).strftime("%m-%d %H:%M")}
            text = ((over if status == SlaStatus.OVERDUE else close) % values)[:300]
            key = f"case{case_id}:stage{stage.order}:{status}:{int(due.timestamp())}"[:120]
            rows.extend((user_id, case_id, _EVENT_KIND[status], key, text, created) for user_id in users)
    return rows


def _whistle(case: Case, *, now: dt.datetime) -> bool:
    """Escalate one level up as the system. A case already at the top, or a deployment that took the
    whistle from SYSTEM, keeps its red without a whistle (the savepoint of `case_transition` undoes
    only the whistle)."""
    try:
        case_transition(case=case.pk, actor=None, action="whistle", at=now,
                        reason=_("a stage is over its time limit (automatic escalation)"))
    except (ValidationError, CaseConflict, ActionForbidden) as exc:
        logger.info("case %s not escalated after turning red: %s", case.pk, exc)
        return False
    return True


# --------------------------------------------------------------------------- report-ins
def report_ins_overdue(now: dt.datetime):
    """Report-ins not made by their escalation's time, on cases that can still take them."""
    return ReportIn.objects.filter(reported_at__isnull=True, escalation__report_in_due_at__lte=now,
                                   escalation__case__state__in=REPORT_IN_STATES)


def _report_in_pages(now: dt.datetime, size: int) -> Iterator[list[tuple[int, int]]]:
    """Pages of (report-in id, case id) not yet noticed. Noticed ones are known by their event (the event
    names the report-in), looked up per page: whistles are rare, so the pages stay short."""
    last = 0
    while True:
        rows = list(report_ins_overdue(now).filter(pk__gt=last).order_by("pk")
                    .values_list("pk", "escalation__case_id")[:size])
        if not rows:
            return
        told = _noticed({case_id for _pk, case_id in rows})
        fresh = [(pk, case_id) for pk, case_id in rows if pk not in told]
        if fresh:
            yield fresh
        if len(rows) < size:
            return
        last = rows[-1][0]


def _noticed(case_ids: set[int]) -> set[int]:
    return {values.get("report_in") for values in CaseEvent.objects.filter(
        case_id__in=case_ids, kind="report_in_overdue").values_list("new_values", flat=True)}


def _report_in_watch(row_id: int, case_id: int, *, now: dt.datetime) -> int:
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).select_related("node")
                .filter(pk=case_id, state__in=REPORT_IN_STATES).first())
        if case is None:
            return 0
        row = (report_ins_overdue(now).select_related("escalation__node", "department")
               .filter(pk=row_id, escalation__case_id=case_id).first())
        if row is None or row.pk in _noticed({case.pk}):  # reported in, or noticed, since the page was read
            return 0
        escalation = row.escalation
        event_write(case=case, kind="report_in_overdue", actor=None, actor_role=SYSTEM_ROLE, from_state=case.state,
                    to_state=case.state, at=now,
                    new={"report_in": row.pk, "escalation": escalation.pk, "department": row.department.key,
                         "report_in_due_at": escalation.report_in_due_at.isoformat()})
        notify(users=report_in_recipients(escalation, [row.department]), case=case, kind="report_in_overdue", key=f"case{case.pk}:report_in{row.pk}:overdue",
               text=_("case %(number)s: %(department)s has not reported in (due %(due)s)")
               % {"number": case.number, "department": row.department.name_zh,
                  "due": timezone.localtime(escalation.report_in_due_at).strftime("%m-%d %H:%M")})
    return 1

"""Per-process caches of what changes rarely (level schemes, case policies, action grants, the working-day
calendar, the matter catalogue, routing rules), each invalidated by a version counter in the database.

**The counters.** `ConfigVersion` is a small table keyed by the kind of setting (`SCHEME`, `POLICY`,
`GRANTS`, `CALENDAR`, `CATALOGUE`, `ROUTING`): each kind bumps its own counter, so editing a grant does not
throw away the process's catalogue. The counters are bumped by **database triggers** on every table of the
kind (installed by each app's migration through `bump_triggers`), in the writing transaction, on
INSERT, UPDATE, DELETE (and TRUNCATE on PostgreSQL) — so every write path bumps: services, the admin,
`QuerySet.update` / `bulk_create`, data migrations, `loaddata`, raw SQL. A rolled-back write rolls its bump
back with it. The new value is at least the old one + 1 and at least the current time in microseconds, so
a counter never runs back to a value a process has cached, even when a test's flush empties the table.

**The reads.** `versioned_get(kind, key, build)` returns the process's cached value for `(kind, key)` when
it was built at the kind's current version, else calls `build()`. Inside a database transaction a value is
built for the call but never cached: the rows it read could still be rolled back while the version number
is later reached by another commit (the rule `territory.locate` follows for its index).

**The bound with which another process's edit is seen.** One statement (`SELECT name, value FROM
core_configversion`, plus the sources other apps register, such as the territory version) reads every
counter at once. Inside a *pinned* scope — each HTTP request (`ConfigVersionMiddleware`), or a batch job's
`with versions_pinned():` — the counters are read at most once, when first needed, and reused until the
scope ends or until the connection runs a write statement naming one of the tables of `TABLE_KINDS` or a
registered version row (a write in this scope has bumped a counter). Outside a pinned scope every read checks the counters. So an edit committed by
any process is seen by every process from its next request (or next read outside a request): the bound is
"at once, from the next request"; a request already running keeps the versions it began with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")

SCHEME = "SCHEME"  # territory: level schemes and their levels
POLICY = "POLICY"  # cases: CasePolicy
GRANTS = "GRANTS"  # cases: ActionGrant
CALENDAR = "CALENDAR"  # workdays: CalendarDay, WorkSchedule
CATALOGUE = "CATALOGUE"  # catalogue: catalogues, scheme catalogues, categories, matters, stages, duty lists
ROUTING = "ROUTING"  # cases: RoutingRule
NODES = "NODES"  # territory: the rows of the nodes (names, codes, paths ...; geometry changes bump the territory version too)
TEAMS = "TEAMS"  # accounts: departments, their teams, the teams' areas and members
ASSIGNMENTS = "ASSIGNMENTS"  # accounts: who holds which role where (assignments, roles, persons, logins)
KINDS = (SCHEME, POLICY, GRANTS, CALENDAR, CATALOGUE, ROUTING, NODES, TEAMS, ASSIGNMENTS)

# Every table whose writes bump a counter (by its trigger, installed by the table's app's migration; a test
# checks that the two lists agree), and the version rows read with the counters: a write statement naming
# one of them makes a pinned scope read the counters again.
TABLE_KINDS = {
    "territory_levelscheme": SCHEME, "territory_level": SCHEME, "territory_node": NODES,
    "cases_casepolicy": POLICY, "cases_actiongrant": GRANTS, "cases_routingrule": ROUTING,
    "workdays_calendarday": CALENDAR, "workdays_workschedule": CALENDAR,
    "catalogue_catalogue": CATALOGUE, "catalogue_schemecatalogue": CATALOGUE, "catalogue_category": CATALOGUE,
    "catalogue_matter": CATALOGUE, "catalogue_matterstage": CATALOGUE, "catalogue_dutylist": CATALOGUE,
    "catalogue_dutylistentry": CATALOGUE,
    "accounts_department": TEAMS, "accounts_team": TEAMS, "accounts_team_areas": TEAMS,
    "accounts_team_members": TEAMS,
    "accounts_assignment": ASSIGNMENTS, "accounts_role": ASSIGNMENTS, "accounts_person": ASSIGNMENTS,
    "accounts_user": ASSIGNMENTS,
}

TABLE = "core_configversion"

# ------------------------------------------------------------------------------------------- triggers
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION gridgov_config_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
    f"INSERT INTO {TABLE} (name, value, changed_at) "
    "VALUES (TG_ARGV[0], (extract(epoch from clock_timestamp()) * 1000000)::bigint, now()) "
    f"ON CONFLICT (name) DO UPDATE SET value = GREATEST({TABLE}.value + 1, EXCLUDED.value), "
    "changed_at = EXCLUDED.changed_at; RETURN NULL; END $$"
)


def _trigger_statements(vendor: str, table: str, kind: str) -> tuple[list[str], list[str]]:
    if kind not in KINDS:
        raise ValueError(f"unknown configuration kind {kind!r}")
    name = f"{table}_config_bump"
    if vendor == "postgresql":
        return ([_PG_FUNCTION, f"DROP TRIGGER IF EXISTS {name} ON {table}",
                 f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                 f"FOR EACH STATEMENT EXECUTE FUNCTION gridgov_config_bump('{kind}')"],
                [f"DROP TRIGGER IF EXISTS {name} ON {table}"])
    if vendor == "sqlite":
        # SQLite has row triggers only; the body is the same upsert in two statements (kind: one of KINDS)
        body = (f"INSERT OR IGNORE INTO {TABLE} (name, value, changed_at) VALUES ('{kind}', 0, CURRENT_TIMESTAMP); "  # noqa: S608
                f"UPDATE {TABLE} SET value = max(value + 1, CAST((julianday('now') - 2440587.5) * 86400000000 "
                f"AS INTEGER)), changed_at = CURRENT_TIMESTAMP WHERE name = '{kind}';")
        ops = ("INSERT", "UPDATE", "DELETE")
        return ([f"CREATE TRIGGER IF NOT EXISTS {name}_{op.lower()} AFTER {op} ON {table} BEGIN {body} END"
                 for op in ops],
                [f"DROP TRIGGER IF EXISTS {name}_{op.lower()}" for op in ops])
    return [], []


def bump_triggers_install(connection_, tables: dict[str, str]) -> None:
    """Install the version-bumping triggers: `tables` maps a table name to its kind (a migration passes
    the tables of its app)."""
    with connection_.cursor() as cursor:
        for table, kind in tables.items():
            for sql in _trigger_statements(connection_.vendor, table, kind)[0]:
                cursor.execute(sql)


def bump_triggers_remove(connection_, tables: dict[str, str]) -> None:
    with connection_.cursor() as cursor:
        for table, kind in tables.items():
            for sql in _trigger_statements(connection_.vendor, table, kind)[1]:
                cursor.execute(sql)


def bump_triggers(tables: dict[str, str]):
    """The migration operation installing the triggers of `tables` (table name → kind), removed when the
    migration is reversed: `operations = [bump_triggers(TABLES)]`."""
    from django.db import migrations

    return migrations.RunPython(lambda apps, schema_editor: bump_triggers_install(schema_editor.connection, tables),
                                lambda apps, schema_editor: bump_triggers_remove(schema_editor.connection, tables))


# ------------------------------------------------------------------------------------------- counters
# other version rows read in the same statement: name -> "SELECT '<name>', value FROM ... WHERE ..."
_sources: dict[str, str] = {}
_sql_cache: list[str] = []
_watched: set[str] = {f'"{t}"' for t in TABLE_KINDS} | set(TABLE_KINDS)


def version_source_register(name: str, table: str, select_sql: str) -> None:
    """Read another app's version row in the same statement as the counters (`territory.locate` registers
    the territory version): `select_sql` selects one row of (name, value) from `table`, constants only."""
    _sources[name] = select_sql
    _watched.add(table)
    _sql_cache.clear()


def _versions_sql() -> str:
    if not _sql_cache:
        _sql_cache.append(" UNION ALL ".join([f"SELECT name, value FROM {TABLE}", *_sources.values()]))  # noqa: S608 (constants)
    return _sql_cache[0]


class _State(threading.local):
    def __init__(self):
        self.depth = 0  # pinned scopes entered
        self.snapshot: dict[str, int] | None = None


_state = _State()


def versions_read() -> dict[str, int]:
    """Every counter, read now (one statement). A kind never written reads as 0."""
    with connection.cursor() as cursor:
        cursor.execute(_versions_sql())
        return {name: int(value) for name, value in cursor.fetchall()}


def versions() -> dict[str, int]:
    """The counters: inside a pinned scope the snapshot taken when first needed, else read now."""
    if _state.depth:
        if _state.snapshot is None:
            _state.snapshot = versions_read()
        return _state.snapshot
    return versions_read()


def versions_at_hand() -> bool:
    """Whether `versions()` costs no statement more than a read it would save: the counters are pinned and
    read already, or no transaction is open (a value found then is kept for the next call). Inside a
    transaction that has not read them, a caller whose value would not be kept reads its rows directly."""
    return _state.snapshot is not None or not connection.in_atomic_block


def version(kind: str) -> int:
    return versions().get(kind, 0)


def _forget_on_write(execute, sql, params, many, context):
    # a write naming a watched table has bumped a counter (its trigger): read them again when next needed
    if (_state.snapshot is not None and not sql.lstrip()[:6].upper().startswith("SELECT")
            and any(t in sql for t in _watched)):
        _state.snapshot = None
    return execute(sql, params, many, context)


@contextmanager
def versions_pinned() -> Iterator[None]:
    """Read the counters at most once in this block (until a statement writes a watched table)."""
    _state.depth += 1
    try:
        if _state.depth == 1:
            with connection.execute_wrapper(_forget_on_write):
                yield
        else:
            yield
    finally:
        _state.depth -= 1
        if not _state.depth:
            _state.snapshot = None


class ConfigVersionMiddleware:
    """Pins the counters for one request: one version read per request, whatever it reads from the caches."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with versions_pinned():
            return self.get_response(request)


# ------------------------------------------------------------------------------------------- the cache
_store: dict[str | tuple[str, ...], dict[Any, tuple[Any, Any]]] = {}
_lock = threading.Lock()


def versioned_get(kind: str | tuple[str, ...], key: Any, build: Callable[[], T], *, limit: int = 0) -> T:
    """The process's value of `(kind, key)` if it was built at the current version of `kind` (or of each of
    several kinds it depends on), else `build()` — cached, unless inside a transaction. `limit` > 0 bounds
    the entries kept for `kind` (all are dropped when it is reached). Callers treat the value as read-only:
    it is shared."""
    snapshot = versions()
    current = (tuple(snapshot.get(k, 0) for k in kind) if isinstance(kind, tuple) else snapshot.get(kind, 0))
    entries = _store.get(kind)
    entry = entries.get(key) if entries is not None else None
    if entry is not None and entry[0] == current:
        return entry[1]
    value = build()
    if not connection.in_atomic_block:
        with _lock:
            entries = _store.setdefault(kind, {})
            if limit and len(entries) >= limit:
                entries.clear()
            entries[key] = (current, value)
    return value


def versioned_clear() -> None:
    """Forget every cached value (tests, or after restoring a database)."""
    with _lock:
        _store.clear()
        _timed.clear()


# ------------------------------------------------------------------------------------------- statistics
# Figures computed from the cases themselves (the completion predicted from closed cases) change with every
# case, so no counter can tell when they change; they are kept for a bounded time instead.
_timed: dict[str, dict[Any, tuple[float, Any]]] = {}


def timed_get(name: str, key: Any, build: Callable[[], T], *, seconds: float, limit: int = 10_000) -> T:
    """The process's value of `(name, key)` if built less than `seconds` ago, else `build()` — kept, unless
    inside a transaction (as `versioned_get`). `limit` bounds the entries kept for `name`. Shared: read-only."""
    now = time.monotonic()
    entry = _timed.get(name, {}).get(key)
    if entry is not None and now - entry[0] < seconds:
        return entry[1]
    value = build()
    if not connection.in_atomic_block:
        with _lock:
            entries = _timed.setdefault(name, {})
            if len(entries) >= limit:
                entries.clear()
            entries[key] = (now, value)
    return value

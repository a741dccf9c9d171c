"""The closed loop: intake over HTTP, transitions, and the time-limit watch, each next to a raw baseline
measured in the same run.

(a) Cases reported per second through `POST /api/cases/` (token auth, JSON, an Idempotency-Key each) to
    gunicorn as in production: BENCH_CASES_WORKERS workers (default: 2 to 4, by CPUs), threaded (gthread,
    keep-alive), persistent database connections, the cache and rate-limit counters on Redis
    (BENCH_CASES_REDIS, default redis://127.0.0.1:6379/9; empty: none), on PostgreSQL, from twice as many
    client threads each keeping its connection open. Reported beside cases/s: the latency p50 / p99 of
    the requests and the web processes' CPU (user + system, from /proc, master and workers) per case.
    Baseline: the same rows (a case's columns) as single-row autocommitted INSERTs into a plain scratch
    table, from as many psycopg connections. PostgreSQL only: a SQLite file does not take parallel
    writers.
(b) Transitions per second in-process through `case_transition` (register, dispatch, accept, report
    back, verify: five per case, BENCH_CASES_LOOPS cases). Baseline: as many single-row UPDATE + INSERT
    pairs (the case row, one event row), each pair committed, on scratch tables.
(c) The time-limit watch over BENCH_CASES_ROWS open cases (`--rows`, default 1,000,000), two stages each,
    written directly (COPY / executemany, not through the services): 5 % turn yellow, 2 % turn red (1 %
    of them already yellow), 1 % are red already and 1 % are parked past their limit; the rest are
    green. BENCH_CASES_CHANGING_PERMILLE (default 70) sets the share that changes (per thousand, split
    5 : 2), to measure the reading of a million open cases without waiting for 70,000 changes.
    Figures: stage changes per second of `sla_watch` (each change: the lock, the stage, the case's
    summary, one event, two notices), candidate stages read per second, peak RSS of the run, and a
    second run at the same moment (changes nothing). Baseline: one raw UPDATE setting the same colours
    (rolled back before the watch runs).
Knobs: BENCH_CASES_API (default 2,000 cases), BENCH_CASES_LOOPS (default 500 cases), BENCH_CASES_ROWS,
BENCH_CASES_PARTS (default "intake,transitions,watch": the parts to run).

Run on SQLite (parts b and c), the benchmark then runs itself again on PostgreSQL when one answers at
BENCH_CASES_POSTGRES (default postgres://postgres@127.0.0.1:5432/gridgov_bench_cases; the database is
dropped and created anew).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import itertools
import json
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from benchmarks.harness import Report, run_here_then_on_postgres

DEFAULT_ROWS = 1_000_000
DEFAULT_API = 2000
DEFAULT_LOOPS = 500
POSTGRES = "postgres://postgres@127.0.0.1:5432/gridgov_bench_cases"
ROOT = Path(__file__).resolve().parent.parent
WATER = {"kind": "DEPARTMENT", "department": "water"}
CHUNK = 20_000


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _workers() -> int:
    return _setting("BENCH_CASES_WORKERS", min(4, max(2, os.cpu_count() or 2)))


# =========================================================================== shared
def _loop():
    from gridgov.cases.tests.factories import make_loop
    from gridgov.territory.tests.factories import make_scheme, make_tree

    scheme = make_scheme(key=f"bench-cases-{int(time.time())}")
    return make_loop(scheme, make_tree(scheme))


def _points(n: int, seed: int = 7) -> list[tuple[float, float]]:
    """Points spread over the test district (116.0–116.1, 40.0–40.1), so nearby duplicates stay rare."""
    rnd = random.Random(seed)
    return [(116.0005 + rnd.random() * 0.099, 40.0005 + rnd.random() * 0.099) for _ in range(n)]


def _adapt_dt(value):
    return value if connection.vendor == "postgresql" or value is None else \
        connection.ops.adapt_datetimefield_value(value)


def _superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


def _insert(table: str, columns: list[str], rows) -> int:
    """Write rows fast: COPY on PostgreSQL, executemany on SQLite, committed per chunk. On PostgreSQL as a
    superuser the foreign-key triggers are skipped while loading (the rows are built valid): they would
    take most of the loading time of a million cases, which is not what is measured."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    written = 0
    rows = iter(rows)
    replica = connection.vendor == "postgresql" and _superuser()
    while True:
        chunk = list(itertools.islice(rows, CHUNK))
        if not chunk:
            return written
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                if replica:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", chunk)
        written += len(chunk)


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


def _case_row(loop, matter_id: int, **values) -> dict:
    """A case's columns as a dict (every column named, so a new model field fails here, loudly)."""
    from gridgov.cases.models import Case

    row = {"scheme_id": loop.scheme.pk, "node_id": loop.tree["g1"].pk, "lon": None, "lat": None, "place": "",
           "matter_id": matter_id, "channel": "HOTLINE", "external_ref": "", "description": "占道经营",
           "report_level": "ROUTINE", "handling_mode": "HANDOVER", "state": "REPORTED", "version": 1,
           "tracking_code": "", "reported_at": None, "reporter_id": None, "reporter_name_sealed": "",
           "reporter_phone_sealed": "", "reporter_phone_masked": "", "anonymous": False,
           "owner_id": loop.office.pk, "assignee_kind": "", "assignee_user_id": None, "assignee_node_id": None,
           "assignee_team_id": None, "routing_rule_id": None, "predicted_at": None, "due_at": None,
           "sla_status": "NONE", "parked_at": None, "escalation_depth": None, "merged_into_id": None,
           "rework_count": 0, "satisfaction": None, "registered_at": None, "dispatched_at": None,
           "reported_back_at": None, "closed_at": None, "attributes": "{}", "publication": "PENDING",
           "publication_at": None, "publication_by_id": None, "public_description": "", **values}
    missing = set(_columns(Case)) - set(row) - {"id"}
    assert not missing, f"bench_cases: give a value for the new case columns {missing}"
    return row


def _rss_peak_reset() -> None:
    with contextlib.suppress(OSError):  # Linux: "5" resets the peak resident set size (VmHWM) of this process
        Path("/proc/self/clear_refs").write_text("5")


def _rss_peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pg_conninfo() -> str:
    s = connection.settings_dict
    parts = {"host": s["HOST"] or "127.0.0.1", "port": s["PORT"] or 5432, "dbname": s["NAME"],
             "user": s["USER"] or "postgres", "password": s["PASSWORD"] or None}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


# =========================================================================== (a) intake over HTTP
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Client(threading.local):
    """One keep-alive connection per client thread."""

    conn: http.client.HTTPConnection | None = None


_client = _Client()


def _post(port: int, token: str, body: dict, key: str) -> tuple[int, float]:
    """POST one report on this thread's kept-alive connection: (status, seconds)."""
    payload = json.dumps(body).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Idempotency-Key": key,
               "Accept": "application/json"}
    for attempt in (1, 2):
        if _client.conn is None:
            _client.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start = time.perf_counter()
        try:
            _client.conn.request("POST", "/api/cases/", body=payload, headers=headers)
            response = _client.conn.getresponse()
            response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            _client.conn.close()  # the server closed a kept-alive connection: open another, once
            _client.conn = None
            if attempt == 2:
                raise
            continue
        if response.getheader("Connection", "").lower() == "close":
            _client.conn.close()
            _client.conn = None
        return response.status, time.perf_counter() - start
    raise AssertionError("unreachable")


def _redis_url() -> str:
    url = os.environ.get("BENCH_CASES_REDIS", "redis://127.0.0.1:6379/9")
    if not url:
        return ""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # no Redis: the counters stay in the database cache
        print(f"  (Redis at {url} not usable: {type(exc).__name__}; rate limits on the database cache)", flush=True)
        return ""
    return url


def _server(port: int, workers: int, threads: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    # bound to loopback, so the demo logins of the benchmark database may stay (gridgov.core.serving)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false",
           "LOG_LEVEL": "WARNING", "GRIDGOV_ALLOW_PUBLIC_DEMO": "1",
           # the benchmark measures intake, not the per-user write limit (one user posts every case)
           "API_WRITES_PER_MINUTE_USER": "100000000", "API_WRITES_PER_MINUTE_ADDRESS": "100000000"}
    redis_url = _redis_url()
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.Popen([str(gunicorn), "config.wsgi", "-w", str(workers), "-k", "gthread",
                             "--threads", str(threads), "--keep-alive", "30", "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", "--timeout", "120"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL)


def _cpu_seconds(master: int) -> float:
    """User + system CPU seconds of the server: its master process and every worker it started."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == master or ppid == master:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _wait_ready(port: int, token: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited before serving")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/cases/workflow/", headers={"Authorization": f"Token {token}"})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within 90 s")


def _raw_intake(rows: list[dict], threads: int) -> float:
    """Seconds for single-row autocommitted INSERTs of `rows` from `threads` psycopg connections."""
    import psycopg

    from gridgov.cases.models import Case

    columns = [c for c in _columns(Case) if c != "id"]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_intake")
        cursor.execute("CREATE TABLE bench_raw_intake (LIKE cases_case INCLUDING DEFAULTS INCLUDING IDENTITY "
                       "INCLUDING CONSTRAINTS)")
        cursor.execute("ALTER TABLE bench_raw_intake ADD PRIMARY KEY (id)")
    sql = (f"INSERT INTO bench_raw_intake ({', '.join(connection.ops.quote_name(c) for c in columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))})")
    shares = [rows[i::threads] for i in range(threads)]
    conninfo = _pg_conninfo()

    def insert(share: list[dict]) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for row in share:
                conn.execute(sql, [row[c] for c in columns])

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(insert, shares))
    spent = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_raw_intake")
        assert cursor.fetchone()[0] == len(rows)
        cursor.execute("DROP TABLE bench_raw_intake")
    return spent


def measure_intake(loop, n: int) -> dict:
    from knox.models import AuthToken

    from gridgov.cases.models import Case
    from gridgov.cases.tests.factories import matter

    token = AuthToken.objects.create(user=loop.office)[1]
    workers = _workers()
    threads = 2 * workers
    port = _free_port()
    _client.conn = None
    points = _points(n + 4 * threads)
    bodies = [{"channel": "HOTLINE", "matter": "02001", "scheme": loop.scheme.key, "lon": lon, "lat": lat,
               "description": f"占道经营 {i}"} for i, (lon, lat) in enumerate(points)]
    run = int(time.time())
    server = _server(port, workers, max(1, threads // workers))
    try:
        _wait_ready(port, token, server)
        warm, timed = bodies[:4 * threads], bodies[4 * threads:]
        with ThreadPoolExecutor(threads) as pool:  # every worker has loaded the territory and the catalogue
            warmed = list(pool.map(lambda i: _post(port, token, warm[i], f"warm-{run}-{i}"), range(len(warm))))
            assert {status for status, _s in warmed} == {201}
            before = Case.objects.count()
            cpu_before = _cpu_seconds(server.pid)
            start = time.perf_counter()
            answers = list(pool.map(lambda i: _post(port, token, timed[i], f"bench-{run}-{i}"), range(n)))
            spent = time.perf_counter() - start
            cpu = _cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    statuses = [status for status, _s in answers]
    latencies = [seconds for _status, seconds in answers]
    failed = [s for s in statuses if s != 201]
    assert not failed, f"{len(failed)} intake requests failed, e.g. HTTP {failed[0]}"
    assert Case.objects.count() - before == n
    now = timezone.now()
    rows = [_case_row(loop, matter("02001").pk, lon=b["lon"], lat=b["lat"], description=b["description"],
                      tracking_code=f"R{run % 10**6:06d}{i:08d}"[:16], reported_at=now)
            for i, b in enumerate(timed)]
    raw = _raw_intake(rows, threads)
    return {"n": n, "workers": workers, "threads": threads, "api_rps": n / spent, "raw_rps": n / raw,
            "api_s": spent, "raw_s": raw, "p50_ms": _percentile(latencies, 0.5) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000, "cpu_ms": cpu / n * 1000}


# =========================================================================== (b) transitions
STEPS = (("register", "office", {}), ("dispatch", "office", {"assignee": WATER}), ("accept", "handler", {}),
         ("report_back", "handler", {}), ("verify_pass", "office", {}))


def _raw_transitions(case_ids: list[int], node_id: int) -> float:
    """Seconds for len(STEPS) committed UPDATE + INSERT pairs per case on scratch copies of the tables."""
    event_columns = ["id", "case_id", "seq", "kind", "at", "actor_id", "actor_role", "node_id", "from_state",
                     "to_state", "note", "old_values", "new_values", "attachments"]
    ids = ", ".join(str(i) for i in case_ids)
    with connection.cursor() as cursor:
        for table in ("bench_raw_case", "bench_raw_event"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE bench_raw_case AS SELECT * FROM cases_case WHERE id IN ({ids})")
        cursor.execute("CREATE UNIQUE INDEX bench_raw_case_pk ON bench_raw_case (id)")
        cursor.execute("CREATE TABLE bench_raw_event AS SELECT * FROM cases_caseevent WHERE 1 = 0")
        cursor.execute("CREATE UNIQUE INDEX bench_raw_event_pk ON bench_raw_event (id)")
        cursor.execute("CREATE UNIQUE INDEX bench_raw_event_seq ON bench_raw_event (case_id, seq)")
    insert = (f"INSERT INTO bench_raw_event ({', '.join(connection.ops.quote_name(c) for c in event_columns)}) "
              f"VALUES ({', '.join(['%s'] * len(event_columns))})")
    event_id = itertools.count(1)
    start = time.perf_counter()
    for case_id in case_ids:
        for seq, (action, _who, _kw) in enumerate(STEPS, start=2):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("UPDATE bench_raw_case SET state = %s, version = version + 1 WHERE id = %s",
                               [action.upper()[:14], case_id])
                cursor.execute(insert, [next(event_id), case_id, seq, action, _adapt_dt(timezone.now()), None,
                                        "CENTRE", node_id, "A", "B", "", "{}", '{"state": "B"}', "[]"])
    spent = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_raw_event")
        assert cursor.fetchone()[0] == len(case_ids) * len(STEPS)
        for table in ("bench_raw_case", "bench_raw_event"):
            cursor.execute(f"DROP TABLE {table}")
    return spent


def measure_transitions(loop, n: int) -> dict:
    from gridgov.cases.models import Channel
    from gridgov.cases.services import case_report, case_transition
    from gridgov.cases.states import CaseState

    cases = [case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="02001", lon=lon,
                         lat=lat, description=f"占道经营 {i}").case for i, (lon, lat) in enumerate(_points(n, 11))]
    start = time.perf_counter()
    for case in cases:
        for action, who, kw in STEPS:
            case = case_transition(case=case, actor=getattr(loop, who), action=action, **kw)
    spent = time.perf_counter() - start
    assert case.state == CaseState.CLOSED
    raw = _raw_transitions([c.pk for c in cases], loop.tree["g1"].pk)
    total = n * len(STEPS)
    return {"n": total, "tps": total / spent, "raw_tps": total / raw, "s": spent, "raw_s": raw,
            "statements": _statements_per_step(loop)}


def _statements_per_step(loop) -> dict[str, int]:
    """The statements each step takes (BEGIN and COMMIT included), counted on one more case after the timed
    run, since counting slows it; deterministic, and asserted in cases/tests/test_transition_budgets.py."""
    from django.test.utils import CaptureQueriesContext

    from gridgov.cases.models import Channel
    from gridgov.cases.services import case_report, case_transition

    (lon, lat), = _points(1, 13)
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="02001", lon=lon,
                       lat=lat, description="占道经营 counted").case
    counts = {}
    for action, who, kw in STEPS:
        with CaptureQueriesContext(connection) as ctx:
            case = case_transition(case=case, actor=getattr(loop, who), action=action, **kw)
        counts[action] = len(ctx.captured_queries)
    return counts


# =========================================================================== (c) the time-limit watch
def _watch_rows(loop, n: int, now: dt.datetime, first_id: int, first_stage_id: int):
    """(case rows, stage rows) generators for n open cases, their colours due to change as the module says."""
    from gridgov.cases.models import Case, CaseStage
    from gridgov.cases.tests.factories import matter

    matter_id = matter("02001").pk
    cells = (loop.tree["g1"].pk, loop.tree["g2"].pk)
    template = _case_row(loop, matter_id, assignee_kind="DEPARTMENT", assignee_team_id=loop.water_team.pk,
                         version=3)
    case_columns = _columns(Case)
    stage_columns = _columns(CaseStage)
    minute = dt.timedelta(minutes=1)

    changing = _setting("BENCH_CASES_CHANGING_PERMILLE", 70)
    yellow_to, red_to = changing * 5 // 7, changing  # of each thousand: 5 in 7 turn yellow, 2 in 7 red
    seen_yellow = yellow_to + (red_to - yellow_to) // 2

    def plan(i: int):
        """(state, warn, due, stored status, parked_at) of case i's first stage."""
        bucket = i % 1000
        if bucket < yellow_to:  # turns yellow
            return "DISPATCHED", now - 10 * minute, now + 50 * minute, "ON_TIME", None
        if bucket < red_to:  # turns red (one in two was seen yellow already)
            return "IN_PROGRESS", now - 70 * minute, now - 10 * minute, \
                "WARNING" if bucket < seen_yellow else "ON_TIME", None
        if bucket < red_to + 10:  # red for hours: left alone
            return "IN_PROGRESS", now - 300 * minute, now - 240 * minute, "OVERDUE", None
        if bucket < red_to + 20:  # parked past its limit: read, skipped
            return "PARKED", now - 3000 * minute, now - 2000 * minute, "ON_TIME", now - 2500 * minute
        ahead = (i * 7919) % (48 * 60) + 60
        return ("DISPATCHED" if i % 2 else "IN_PROGRESS"), now + ahead * minute, now + (ahead + 60) * minute, \
            "ON_TIME", None

    def cases():
        for i in range(n):
            state, warn, due, status, parked = plan(i)
            start = due - 5 * (due - warn)
            row = {**template, "id": first_id + i, "node_id": cells[i % 2], "state": state,
                   "tracking_code": f"W{first_id + i:012d}", "reported_at": _adapt_dt(start),
                   "registered_at": _adapt_dt(start), "dispatched_at": _adapt_dt(start),
                   "due_at": _adapt_dt(due), "sla_status": status, "parked_at": _adapt_dt(parked)}
            yield tuple(row[c] for c in case_columns)

    def stages():
        for i in range(n):
            _state, warn, due, status, _parked = plan(i)
            start = due - 5 * (due - warn)
            later = {"due": due + dt.timedelta(hours=24), "warn": due + dt.timedelta(hours=19.2)}
            for order, (s, w, d, st) in enumerate(((start, warn, due, status), (due, later["warn"], later["due"],
                                                                                 "ON_TIME")), start=1):
                row = {"id": first_stage_id + 2 * i + order - 1, "case_id": first_id + i, "order": order,
                       "name_zh": "处置", "name_en": "", "amount": Decimal("1.00"), "unit": "WORKING_DAYS",
                       "closing_condition": "", "started_at": _adapt_dt(s), "due_at": _adapt_dt(d),
                       "warn_at": _adapt_dt(w), "completed_at": None, "status": st, "extended_count": 0}
                yield tuple(row[c] for c in stage_columns)

    return case_columns, cases(), stage_columns, stages()


def _raw_watch(now: dt.datetime) -> tuple[float, int]:
    """Seconds of one raw UPDATE setting the colours the watch will set (rolled back), and its row count."""
    sql = ("UPDATE cases_casestage SET status = CASE WHEN due_at <= %s THEN 'OVERDUE' ELSE 'WARNING' END "
           "WHERE completed_at IS NULL AND warn_at <= %s AND (status = 'ON_TIME' OR (status = 'WARNING' AND "
           "due_at <= %s)) AND case_id IN (SELECT id FROM cases_case WHERE state IN ('DISPATCHED', 'IN_PROGRESS'))")
    at = _adapt_dt(now)
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [at, at, at])
        changed = cursor.rowcount
        spent = time.perf_counter() - start
        transaction.set_rollback(True)
    return spent, changed


def _table_max(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return cursor.fetchone()[0]


def measure_watch(loop, n: int) -> dict:
    from gridgov.cases.models import CaseEvent, CaseStage, Notification
    from gridgov.cases.watch import sla_watch

    now = timezone.now().replace(microsecond=0)
    first_id, first_stage = _table_max("cases_case") + 1, _table_max("cases_casestage") + 1
    case_columns, cases, stage_columns, stages = _watch_rows(loop, n, now, first_id, first_stage)
    start = time.perf_counter()
    _insert("cases_case", case_columns, cases)
    _insert("cases_casestage", stage_columns, stages)
    load_s = time.perf_counter() - start
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in ("cases_case", "cases_casestage"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT MAX(id) FROM {table}))")
            cursor.execute("ANALYZE cases_case")
            cursor.execute("ANALYZE cases_casestage")
        else:
            cursor.execute("ANALYZE")
    raw_s, raw_changed = _raw_watch(now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cases_casestage")
    events_before, notices_before = CaseEvent.objects.count(), Notification.objects.count()
    _rss_peak_reset()
    start = time.perf_counter()
    first = sla_watch(now=now)
    watch_s = time.perf_counter() - start
    rss = _rss_peak_mb()
    changed = first.warning + first.overdue
    assert changed == raw_changed, (first, raw_changed)
    assert CaseEvent.objects.count() - events_before == changed
    start = time.perf_counter()
    again = sla_watch(now=now)
    again_s = time.perf_counter() - start
    assert not again.changed, again
    overdue_stages = CaseStage.objects.filter(case_id__gte=first_id, status="OVERDUE").count()
    return {"n": n, "watch_s": watch_s, "again_s": again_s, "again_checked": again.checked, "raw_s": raw_s,
            "changed": changed, "warning": first.warning, "overdue": first.overdue, "checked": first.checked,
            "rss_mb": rss, "load_s": load_s, "notices": Notification.objects.count() - notices_before,
            "overdue_stages": overdue_stages}


# =========================================================================== report
def _intake_figure(vendor: str, intake: dict) -> dict:
    return dict(name=f"cases reported via POST /api/cases/, {intake['workers']} gunicorn workers, "
                     f"{intake['threads']} clients, {vendor}", value=intake["api_rps"], unit="cases/s",
                baseline_name="raw single-row INSERTs, same rows, same parallelism", baseline_value=intake["raw_rps"],
                note=f"{intake['n']:,} cases in {intake['api_s']:.1f} s; latency p50 {intake['p50_ms']:.1f} ms, "
                     f"p99 {intake['p99_ms']:.1f} ms; web-process CPU {intake['cpu_ms']:.1f} ms per case")


def _intake_cpu_figure(vendor: str, intake: dict) -> dict:
    return dict(name=f"web-process CPU per case reported via POST /api/cases/, {vendor}", value=intake["cpu_ms"],
                unit="ms", note="user + system CPU of the gunicorn master and workers (/proc) over the timed cases; "
                     f"lower is better; latency p50 {intake['p50_ms']:.1f} ms, p99 {intake['p99_ms']:.1f} ms")


def _transition_figure(vendor: str, moves: dict) -> dict:
    return dict(name=f"case transitions through case_transition, {vendor}", value=moves["tps"],
                unit="transitions/s", baseline_name="raw UPDATE + INSERT pairs, each committed",
                baseline_value=moves["raw_tps"],
                note=f"{moves['n']:,} transitions in {moves['s']:.1f} s; statements per step: "
                     + ", ".join(f"{action} {n}" for action, n in moves["statements"].items()))


def _watch_figures(vendor: str, watch: dict) -> list[dict]:
    n = watch["n"]
    return [
        dict(name=f"time-limit watch over {n:,} open cases, {vendor}", value=watch["changed"] / watch["watch_s"],
             unit="stage changes/s", baseline_name="one raw UPDATE of the same colours",
             baseline_value=watch["changed"] / watch["raw_s"],
             note=f"{watch['watch_s']:.1f} s for {watch['warning']:,} close to the limit + {watch['overdue']:,} "
                  f"overdue, "
                  f"{watch['notices']:,} notices; {watch['checked'] / watch['watch_s']:,.0f} candidate stages "
                  f"read/s; peak RSS {watch['rss_mb']:,.0f} MB; loading the rows took {watch['load_s']:.0f} s"),
        dict(name=f"time-limit watch re-run over {n:,} open cases (no change), {vendor}",
             value=watch["again_s"] * 1000, unit="ms", baseline_name="one raw UPDATE of the colours (first run)",
             baseline_value=watch["raw_s"] * 1000,
             note=f"lower is better; read {watch['again_checked']:,} stages of parked cases"),
    ]


def measure(emit) -> str:
    """Measure the three parts on the current database, handing each figure to `emit` as it is ready."""
    loop = _loop()
    vendor = connection.vendor
    parts = {p.strip() for p in os.environ.get("BENCH_CASES_PARTS", "intake,transitions,watch").split(",")}
    if "intake" in parts and vendor == "postgresql":
        intake = measure_intake(loop, _setting("BENCH_CASES_API", DEFAULT_API))
        emit(_intake_figure(vendor, intake))
        emit(_intake_cpu_figure(vendor, intake))
    elif "intake" in parts:
        print("  (intake over HTTP: PostgreSQL only)", flush=True)
    if "transitions" in parts:
        emit(_transition_figure(vendor, measure_transitions(loop, _setting("BENCH_CASES_LOOPS", DEFAULT_LOOPS))))
    if "watch" in parts:
        for fig in _watch_figures(vendor, measure_watch(loop, _setting("BENCH_CASES_ROWS", DEFAULT_ROWS))):
            emit(fig)
    return vendor


def run(report: Report) -> None:
    run_here_then_on_postgres(report, module="cases", measure=measure,
                              postgres_url=os.environ.get("BENCH_CASES_POSTGRES", POSTGRES))

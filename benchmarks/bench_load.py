"""A bounded load test over loopback: for BENCH_LOAD_SECONDS (default 30) BENCH_LOAD_CLIENTS client threads
(default 8) send a fixed mix of requests to gunicorn (BENCH_CASES_WORKERS workers, as the intake benchmark)
on PostgreSQL, each kind with its own share:

- resident reports: `POST /api/cases/` on the RESIDENT channel by a resident's token, one Idempotency-Key
  each; one in twenty is sent a second time with the same key (a phone retrying on a weak signal), which
  must answer with the same case;
- staff actions: the next step of a case reported earlier in the run (register, dispatch, accept, report
  back, verify: the office, the department's handler, the office), through `POST /api/cases/<id>/actions/`
  with the version read (If-Match), each case moved by one client at a time; an action waits for a case
  ready to move (up to ACTION_WAIT seconds, else an error), never sending a report instead, so the mix
  keeps its shares (each kind's note gives its share of the requests; a report's retry counts as a report);
- centre queue reads: `GET /centre/cases.geojson` (the live queue of the command centre's map);
- dashboard reads: `GET /dashboard/`.

Figures: requests per second per kind with p50 / p95 / p99 latency and errors, and afterwards the count of
lost cases (answered 201, not stored) and of duplicated ones (stored twice for one key or one report) —
both must be zero. Baseline, measured in the same run: the same mix as raw SQL from as many psycopg
connections for the same time (a single-row INSERT for a report, an UPDATE + INSERT pair for an action, a
200-row SELECT for each read), so the ratio says how close the whole web stack comes to the database.
PostgreSQL only (a SQLite file does not take parallel writers).
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from benchmarks.bench_cases import STEPS, _free_port, _loop, _pg_conninfo, _points, _server, _setting, _wait_ready
from benchmarks.harness import Report, run_here_then_on_postgres

POSTGRES = "postgres://postgres@127.0.0.1:5432/gridgov_bench_load"
KINDS = (("report", 40), ("action", 35), ("queue", 15), ("dashboard", 10))
RETRY_EVERY = 20
ACTION_WAIT = 5  # seconds an action waits for a case ready to move (counted as an error if none comes)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Http:
    """One persistent loopback connection per client thread (as a browser or a phone keeps one)."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def send(self, method: str, path: str, *, headers: dict, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _tokens(loop) -> dict[str, str]:
    from knox.models import AuthToken

    from gridgov.accounts import services as account_services

    resident = account_services.staff_user_create(username=f"bench-resident-{int(time.time())}",
                                                  password="Grid-demo-2026!", is_staff=False)
    return {"resident": AuthToken.objects.create(user=resident)[1],
            "office": AuthToken.objects.create(user=loop.office)[1],
            "handler": AuthToken.objects.create(user=loop.handler)[1]}


def _session_cookie(user) -> str:
    """A logged-in session of `user` with the second factor passed, as after the two login steps."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return f"sessionid={session.session_key}"


class _Run:
    def __init__(self, loop, port: int, seconds: float, clients: int):
        self.loop, self.port, self.seconds, self.clients = loop, port, seconds, clients
        self.tokens = _tokens(loop)
        self.cookie = _session_cookie(loop.centre)
        self.points = _points(200_000, seed=11)
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.reported: dict[str, int] = {}  # idempotency key -> case id answered
        self.retried: dict[str, int] = {}
        self.moving: queue.Queue = queue.Queue()  # (case id, next step, version)
        self.counter = 0
        self.tag = f"load-{int(time.time())}"

    def _api(self, who: str) -> dict:
        return {"Authorization": f"Token {self.tokens[who]}", "Content-Type": "application/json",
                "Accept": "application/json"}

    def _note(self, kind: str, spent: float, status: int, expected: tuple[int, ...], body: bytes) -> bool:
        with self.lock:
            self.latencies[kind].append(spent)
            if status not in expected:
                self.errors[kind].append(f"HTTP {status}: {body[:160]!r}")
                return False
        return True

    def report(self, http_: _Http) -> None:
        with self.lock:
            self.counter += 1
            i = self.counter
        lon, lat = self.points[i % len(self.points)]
        key = f"{self.tag}-{i}"
        body = {"channel": "RESIDENT", "matter": "02001", "scheme": self.loop.scheme.key, "lon": lon, "lat": lat,
                "description": f"{self.tag} 占道经营 {i}"}
        start = time.perf_counter()
        status, raw = http_.send("POST", "/api/cases/", headers={**self._api("resident"), "Idempotency-Key": key},
                                 body=body)
        if not self._note("report", time.perf_counter() - start, status, (201,), raw):
            return
        answer = json.loads(raw)
        with self.lock:
            self.reported[key] = answer["id"]
        self.moving.put((answer["id"], 0, answer["version"]))
        if i % RETRY_EVERY == 0:  # the phone did not hear the answer and sends the same report again
            start = time.perf_counter()
            status, raw = http_.send("POST", "/api/cases/", headers={**self._api("resident"), "Idempotency-Key": key},
                                     body=body)
            if self._note("report", time.perf_counter() - start, status, (200,), raw):
                with self.lock:
                    self.retried[key] = json.loads(raw)["id"]

    def action(self, http_: _Http) -> None:
        try:  # an action moves a case reported before; never a report instead, so the mix keeps its shares
            case_id, step, version = self.moving.get(timeout=ACTION_WAIT)
        except queue.Empty:
            with self.lock:
                self.errors["action"].append(f"no case ready to move for {ACTION_WAIT} s")
            return None
        action, who, extra = STEPS[step]
        body = {"action": action, **extra}
        if action == "report_back":
            body["note"] = "已处理"
        start = time.perf_counter()
        status, raw = http_.send("POST", f"/api/cases/{case_id}/actions/",
                                 headers={**self._api(who), "If-Match": f'"{version}"'}, body=body)
        if self._note("action", time.perf_counter() - start, status, (200,), raw) and step + 1 < len(STEPS):
            self.moving.put((case_id, step + 1, json.loads(raw)["version"]))
        return None

    def read(self, kind: str, http_: _Http) -> None:
        path = "/centre/cases.geojson" if kind == "queue" else "/dashboard/"
        start = time.perf_counter()
        status, raw = http_.send("GET", path, headers={"Cookie": self.cookie, "Accept": "*/*"})
        self._note(kind, time.perf_counter() - start, status, (200,), raw)

    def client(self, seed: int) -> None:
        rnd = random.Random(seed)
        http_ = _Http(self.port)
        names = [k for k, _w in KINDS]
        weights = [w for _k, w in KINDS]
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            kind = rnd.choices(names, weights)[0]
            if kind == "report":
                self.report(http_)
            elif kind == "action":
                self.action(http_)
            else:
                self.read(kind, http_)

    def warm(self) -> None:
        """Every worker process loads its territory index, catalogue and pages once before the clock runs;
        the cases reported then are the first ones the actions move."""
        def one(_i: int) -> None:
            http_ = _Http(self.port)
            self.report(http_)
            self.read("queue", http_)
            self.read("dashboard", http_)

        with ThreadPoolExecutor(self.clients) as pool:
            list(pool.map(one, range(4 * self.clients)))
        self.latencies.clear()

    def go(self) -> float:
        self.warm()
        start = time.perf_counter()
        with ThreadPoolExecutor(self.clients) as pool:
            list(pool.map(self.client, range(self.clients)))
        return time.perf_counter() - start


def _lost_and_duplicated(run: _Run) -> tuple[int, int]:
    from gridgov.cases.models import Case

    stored = dict(Case.objects.filter(description__startswith=run.tag).values_list("pk", "description"))
    lost = sum(1 for pk in run.reported.values() if pk not in stored)
    per_report: dict[str, int] = defaultdict(int)
    for description in stored.values():
        per_report[description] += 1
    duplicated = sum(n - 1 for n in per_report.values() if n > 1)
    duplicated += sum(1 for key, pk in run.retried.items() if run.reported.get(key) != pk)
    return lost, duplicated


def _raw_mix(seconds: float, clients: int, shares: dict[str, int]) -> dict[str, int]:
    """The same mix as raw SQL on scratch tables, from as many connections, for the same time."""
    import psycopg

    info = _pg_conninfo()
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_load_case, bench_load_event")
        conn.execute("CREATE TABLE bench_load_case (id bigserial PRIMARY KEY, state text, version int, "
                     "description text, lon double precision, lat double precision, reported_at timestamptz)")
        conn.execute("CREATE TABLE bench_load_event (id bigserial PRIMARY KEY, case_id bigint, kind text, "
                     "at timestamptz)")
        conn.execute("INSERT INTO bench_load_case (state, version, description, lon, lat, reported_at) "
                     "SELECT 'REPORTED', 1, 'seed', 116.05, 40.05, now() FROM generate_series(1, 1000)")
    names = list(shares)
    weights = [shares[n] for n in names]
    done: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        mine: dict[str, int] = defaultdict(int)
        with psycopg.connect(info, autocommit=True) as conn:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                kind = rnd.choices(names, weights)[0]
                if kind == "report":
                    conn.execute("INSERT INTO bench_load_case (state, version, description, lon, lat, reported_at) "
                                 "VALUES ('REPORTED', 1, %s, %s, %s, now())", (f"raw {seed}", 116.05, 40.05))
                elif kind == "action":
                    with conn.transaction():
                        row = conn.execute("UPDATE bench_load_case SET version = version + 1 WHERE id = %s "
                                           "RETURNING id", (rnd.randint(1, 1000),)).fetchone()
                        conn.execute("INSERT INTO bench_load_event (case_id, kind, at) VALUES (%s, 'move', now())",
                                     (row[0],))
                else:
                    conn.execute("SELECT id, state, lon, lat FROM bench_load_case ORDER BY id DESC LIMIT 200").fetchall()
                mine[kind] += 1
        with lock:
            for k, v in mine.items():
                done[k] += v

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_load_case, bench_load_event")
    return done


def measure(emit) -> str:
    """The load test on the current database (PostgreSQL only), handing each figure to `emit`."""
    if connection.vendor != "postgresql":
        print("  (load test: PostgreSQL only)", flush=True)
        return connection.vendor
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", 30))
    clients = _setting("BENCH_LOAD_CLIENTS", 8)
    workers = _setting("BENCH_CASES_WORKERS", min(4, max(2, os.cpu_count() or 2)))
    loop = _loop()
    port = _free_port()
    run = _Run(loop, port, seconds, clients)
    server = _server(port, workers, max(1, clients // workers))
    try:
        _wait_ready(port, run.tokens["office"], server)
        spent = run.go()
    finally:
        server.terminate()
        server.wait(timeout=30)
    lost, duplicated = _lost_and_duplicated(run)
    raw = _raw_mix(spent, clients, dict(KINDS))
    total = sum(len(v) for v in run.latencies.values())
    errors = sum(len(v) for v in run.errors.values())
    emit({"name": f"load test, all requests ({clients} clients, {workers} workers, {spent:.0f} s)",
          "value": total / spent, "unit": "req/s", "baseline_name": "the same mix as raw SQL",
          "baseline_value": sum(raw.values()) / spent,
          "note": f"{errors} errors; lost cases {lost}, duplicated cases {duplicated}"})
    for kind, weight in KINDS:
        lat = [x * 1000 for x in run.latencies[kind]]
        emit({"name": f"load test, {kind}", "value": len(lat) / spent, "unit": "req/s",
              "baseline_name": f"raw SQL {kind}", "baseline_value": raw.get(kind, 0) / spent,
              "note": (f"{len(lat) / max(total, 1):.0%} of requests (set: {weight}%); "
                       f"p50 {_percentile(lat, 0.5):.0f} ms, p95 {_percentile(lat, 0.95):.0f} ms, "
                       f"p99 {_percentile(lat, 0.99):.0f} ms, {len(run.errors[kind])} errors")})
    for kind, messages in run.errors.items():
        for message in messages[:3]:
            print(f"    {kind}: {message}", flush=True)
    assert lost == 0 and duplicated == 0, f"lost {lost}, duplicated {duplicated}"
    return connection.vendor


def run(report: Report) -> None:
    run_here_then_on_postgres(report, module="load", measure=measure,
                              postgres_url=os.environ.get("BENCH_LOAD_POSTGRES", POSTGRES))

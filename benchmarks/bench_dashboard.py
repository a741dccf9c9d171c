"""The command centre and the dashboard reading BENCH_CASES_ROWS cases (`--rows`, default as bench_cases),
each figure next to a raw baseline measured in the same run.

The cases lie in a district of 4 streets × 3 communities × 4 grids (a few on a community or on the district
itself), reported over the last 90 days (one id per report, in no time order), written directly
(`bench_cases._insert`, not through the services): the older a case, the likelier it is finished; open
ones in every state, the handler's clock green, yellow, red or past due while the watch lags; closed ones
with their stages on time or one stage late, some reworked, the evaluated ones rated 1–5.

(1) `kpi.kpi_figures` over the district for the last 30 days (the dashboard's default period) and
    `kpi.kpi_by_child` for the district (the "by cell below" table). Baseline: one hand-written SQL
    aggregate of the same figures (reported, registered, closed, on time, reworked, handling time, rated,
    satisfaction); grouped by the cell's path and summed up to the streets in Python for the second.
(2) The command centre's `cell_counts` (behind `centre:cells`) and `case_markers` (behind `centre:cases`)
    for the district. Baseline: a raw GROUP BY of the open / warning / overdue counts, and a raw SELECT of
    the markers' columns in the same order with the same limit.
(3) The live queue's data (`cases:queue`: the filter form, its counts per section and the first cases of
    each, as `page_views.case_queue` reads them, without the template). Baseline: one raw query of the
    counts per section plus one raw SELECT of the first cases of each section with the same joins.
(4) Whole requests through `django.test.Client` as a district-wide user (`sees_everything`): /centre/,
    its cells and cases endpoints, /dashboard/ and /cases/queue/, in requests per second; and the SQL
    queries each one makes at BENCH_DASHBOARD_SMALL cases (default 1,000: the first cases loaded) and at
    all of them (the ratio says whether the number of queries grows with the data; it should be 1).

Every product figure is compared with its baseline's result (and the baseline's with counts kept while
writing the rows) before anything is timed: a mismatch stops the run. Times are the best of a few runs.

Run on SQLite, the benchmark then runs itself again on PostgreSQL when one answers at
BENCH_DASHBOARD_POSTGRES (default postgres://postgres@127.0.0.1:5432/gridgov_bench_dash; the database is
dropped and created anew). Run directly against BENCH_DATABASE_URL, the database must be fresh (the test
factories' logins are numbered per process).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.bench_cases import DEFAULT_ROWS, _adapt_dt, _case_row, _columns, _insert, _setting, _table_max
from benchmarks.harness import Report, run_here_then_on_postgres, timed
from gridgov.accounts.models import Department, Team
from gridgov.cases.models import Case, CaseStage
from gridgov.cases.page_views import QUEUE_SECTIONS, QUEUE_SHOWN, _filtered, _related
from gridgov.cases.states import CLOCK_STATES, OPEN_STATES
from gridgov.catalogue.models import Category, Matter
from gridgov.dashboard import kpi
from gridgov.dashboard.selectors import MARKER_LIMIT, case_markers, cell_counts, filtered_cases, place_for
from gridgov.territory import services
from gridgov.territory.models import Node

POSTGRES = "postgres://postgres@127.0.0.1:5432/gridgov_bench_dash"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SMALL = 1000
STREETS, COMMUNITIES, GRIDS = 4, 3, 4
DAYS = 90
KPI_DAYS = 30
SINCE = dt.date(2020, 1, 1)
ORIGIN, SIDE = (116.0, 40.0), 0.1
BUDGET_S = 1.5  # time each figure for about this long (at least once, at most MAX_REPEAT times)
MAX_REPEAT = 7
# matter code: (weight, stages)
MATTERS = {"01001": (2, 2), "01002": (1, 3), "02001": (6, 1), "10001": (2, 1)}
CHANNELS = (("PATROL", 35), ("RESIDENT", 15), ("HOTLINE", 30), ("CAMERA", 10), ("OPEN311", 5), ("DEPARTMENT", 5))
DONE = ("CLOSED", "EVALUATED", "REJECTED")
OPEN = ("REPORTED", "REGISTERED", "DISPATCHED", "IN_PROGRESS", "REPORTED_BACK", "PARKED")
PAGES = (("centre", "/centre/"), ("centre cells", "/centre/cells.geojson"), ("centre cases", "/centre/cases.geojson"),
         ("dashboard", "/dashboard/"), ("queue", "/cases/queue/"))


def _rows_wanted() -> int:
    return _setting("BENCH_CASES_ROWS", DEFAULT_ROWS)


# =========================================================================== the territory and its cases
def _square(x0: float, y0: float, x1: float, y1: float) -> dict:
    from gridgov.territory.tests.factories import square

    return square(x0, y0, x1, y1)


def _edges(start: float, length: float, parts: int) -> list[float]:
    # rounded: a stored boundary keeps fewer decimals, and a child must not stick out of its parent
    return [round(start + length * k / parts, 6) for k in range(parts)] + [round(start + length, 6)]


@dataclass
class World:
    """The district, its cells, the loop's people and the cases' common facts."""

    loop: object
    district: Node
    streets: list[Node]
    communities: list[tuple[Node, Node]]  # (community, its street)
    grids: list[tuple[Node, Node, Node, tuple[float, float, float, float]]]  # (grid, community, street, bbox)
    grid_cum: list[int]
    matters: dict[str, Matter]
    matter_cum: list[int]
    channel_cum: list[int]
    n: int
    now: dt.datetime
    first_id: int
    step: int  # case i is reported in slot (i * step) % n: the first cases loaded spread over the 90 days
    period: kpi.Period = field(init=False)
    tally: dict = field(default_factory=dict)

    def __post_init__(self):
        today = timezone.localdate(self.now)
        self.period = kpi.Period.of_days(today - dt.timedelta(days=KPI_DAYS - 1), today)


def _world(n: int) -> World:
    from gridgov.cases.tests.factories import make_loop, matter
    from gridgov.territory.tests.factories import make_scheme

    scheme = make_scheme(key=f"bench-dash-{int(time.time())}")
    levels = {lv.key: lv for lv in scheme.levels.all()}
    x, y = ORIGIN
    district = services.node_create(level=levels["district"], name="基准区", code="110117000000", valid_from=SINCE,
                                    geometry=_square(x, y, x + SIDE, y + SIDE))
    streets, communities, grids = [], [], []
    half = SIDE / 2
    for s in range(STREETS):
        sx, sy = round(x + (s % 2) * half, 6), round(y + (s // 2) * half, 6)
        street = services.node_create(level=levels["street"], parent=district, name=f"第{s + 1}街道",
                                      code=f"110117{s + 1:03d}000", valid_from=SINCE,
                                      geometry=_square(sx, sy, sx + half, sy + half))
        streets.append(street)
        xs = _edges(sx, half, COMMUNITIES)
        for c in range(COMMUNITIES):
            community = services.node_create(level=levels["community"], parent=street, name=f"第{s + 1}街道{c + 1}社区",
                                             code=f"110117{s + 1:03d}{c + 1:03d}", valid_from=SINCE,
                                             geometry=_square(xs[c], sy, xs[c + 1], sy + half))
            communities.append((community, street))
            ys = _edges(sy, half, GRIDS)
            for g in range(GRIDS):
                box = (xs[c], ys[g], xs[c + 1], ys[g + 1])
                grid = services.node_create(level=levels["grid"], parent=community, name=f"{g + 1}网格",
                                            auto_code=True, valid_from=SINCE, geometry=_square(*box))
                grids.append((grid, community, street, box))
    tree = {"district": district, "street": streets[0], "community": communities[0][0], "g1": grids[0][0],
            "g2": grids[1][0]}
    loop = make_loop(scheme, tree)
    matters = {code: matter(code) for code in MATTERS}
    step = int(n * 0.6180339887) | 1
    while math.gcd(step, n) != 1:
        step += 2
    cum = lambda weights: [sum(weights[:k + 1]) for k in range(len(weights))]  # noqa: E731
    return World(loop=loop, district=district, streets=streets, communities=communities, grids=grids,
                 grid_cum=cum([1 + (k * 7) % 5 for k in range(len(grids))]), matters=matters,
                 matter_cum=cum([w for w, _s in MATTERS.values()]), channel_cum=cum([w for _c, w in CHANNELS]),
                 n=n, now=timezone.now().replace(microsecond=0), first_id=_table_max("cases_case") + 1, step=step)


def _pick(rnd: random.Random, cum: list[int]) -> int:
    return bisect.bisect_right(cum, rnd.random() * cum[-1])


def _plan(w: World, i: int) -> dict:
    """Case i: where, what, its state and times, its stages (started, due, warn, completed, status)."""
    rnd = random.Random(i * 1_000_003 + 20260)
    sec = dt.timedelta(seconds=1)
    span = DAYS * 86400
    slot = (i * w.step) % w.n
    reported = w.now - span * sec + int((slot + rnd.random()) * span / w.n) * sec
    age = int((w.now - reported).total_seconds())
    where = rnd.random()
    lon = lat = None
    if where < 0.003:
        node, community, street = w.district, w.communities[0][0], None
    elif where < 0.013:
        community, street = w.communities[rnd.randrange(len(w.communities))]
        node = community
    else:
        node, community, street, (x0, y0, x1, y1) = w.grids[_pick(rnd, w.grid_cum)]
        if rnd.random() < 0.93:
            lon, lat = x0 + (0.05 + 0.9 * rnd.random()) * (x1 - x0), y0 + (0.05 + 0.9 * rnd.random()) * (y1 - y0)
    code = None if rnd.random() < 0.03 else list(MATTERS)[_pick(rnd, w.matter_cum)]
    matter = w.matters[code] if code else None
    channel = CHANNELS[_pick(rnd, w.channel_cum)][0]
    level = matter.report_level if matter else "ROUTINE"
    if level == "ROUTINE" and rnd.random() < 0.04:
        level = "URGENT"
    self_handled = code == "02001" and channel == "PATROL" and rnd.random() < 0.5
    done_share = 0.92 if age > 20 * 86400 else 0.15 + 0.77 * age / (20 * 86400)
    if age < 2 * 3600:
        state = "REPORTED"
    elif rnd.random() < done_share:
        state = rnd.choices(DONE, (45, 45, 10))[0]
    else:
        state = rnd.choices(OPEN, (14, 8, 26, 32, 15, 5))[0]
    if matter is None and state not in ("REPORTED", "REJECTED"):
        state = "REJECTED" if state in DONE else "REPORTED"
    if self_handled and state in ("REGISTERED", "DISPATCHED", "IN_PROGRESS", "PARKED"):
        state = "REPORTED_BACK"
    p = {"node": node, "community": community, "street": street, "lon": lon, "lat": lat, "matter": matter,
         "channel": channel, "report_level": level, "state": state, "reported_at": reported, "registered_at": None,
         "dispatched_at": None, "reported_back_at": None, "closed_at": None, "parked_at": None, "due_at": None,
         "sla_status": "NONE", "satisfaction": None, "rework_count": 0, "late": False, "stages": [],
         "handling_mode": "SELF" if self_handled else (matter.handling_mode if matter else "HANDOVER")}
    if state in ("REPORTED", "REJECTED"):
        return p
    if state in ("CLOSED", "EVALUATED"):
        total = int(min(rnd.lognormvariate(math.log(30 * 3600), 1.0), 20 * 86400, age - 60))
        total = max(total, 3600)
        reported_back_at = reported + int(0.85 * total) * sec
        p["closed_at"] = reported + total * sec
        p["rework_count"] = 1 if rnd.random() < 0.1 else 0
        if state == "EVALUATED":
            p["satisfaction"] = rnd.choices((5, 4, 3, 2, 1), (50, 25, 12, 8, 5))[0]
    else:
        total = age
        reported_back_at = reported + int(0.7 * total) * sec
    if self_handled:
        p["registered_at"] = p["reported_back_at"] = reported + int(0.3 * total) * sec
        return p
    p["registered_at"] = reported + int(min(0.05 * total, 7200)) * sec
    if state == "REGISTERED":
        return p
    dispatched = p["dispatched_at"] = p["registered_at"] + int(min(0.03 * total, 1800)) * sec
    n_stages = MATTERS[code][1]
    if state in ("REPORTED_BACK", "CLOSED", "EVALUATED"):
        p["reported_back_at"] = reported_back_at
        seg = int((reported_back_at - dispatched).total_seconds()) // n_stages
        late = rnd.random() < 0.18
        late_k = rnd.randrange(n_stages)
        p["late"] = late
        for k in range(n_stages):
            started = dispatched + k * seg * sec
            limit = int(seg * rnd.uniform(0.3, 0.9)) if late and k == late_k else int(seg * rnd.uniform(1.05, 2.0))
            due = started + max(limit, 1) * sec
            completed = started + seg * sec
            p["stages"].append((started, due, started + int(0.8 * max(limit, 1)) * sec, completed,
                                "OVERDUE" if completed > due else "ON_TIME"))
        return p
    if state == "PARKED":
        p["parked_at"] = dispatched + (w.now - dispatched) // 2
        due = dispatched + 8 * 3600 * sec
        p["stages"].append((dispatched, due, dispatched + int(6.4 * 3600) * sec, None, "ON_TIME"))
        p["due_at"], p["sla_status"] = due, "ON_TIME"
    else:  # the clock runs
        colour = rnd.random()
        if colour < 0.62:
            due, status = w.now + rnd.randint(3600, 72 * 3600) * sec, "ON_TIME"
        elif colour < 0.80:
            due, status = w.now + rnd.randint(600, 3 * 3600) * sec, "WARNING"
        elif colour < 0.95:
            due, status = max(dispatched, w.now - rnd.randint(600, 5 * 86400) * sec), "OVERDUE"
        else:  # past due, the watch has not run yet
            due, status = max(dispatched, w.now - rnd.randint(60, 1800) * sec), rnd.choice(("ON_TIME", "WARNING"))
        warn = dispatched + (due - dispatched) * 4 // 5
        if status == "WARNING":
            warn = min(warn, w.now - 60 * sec)
        p["stages"].append((dispatched, due, max(warn, dispatched), None, status))
        p["due_at"], p["sla_status"] = due, status
    for _k in range(1, n_stages):
        start = p["stages"][0][1]
        p["stages"].append((start, start + 24 * 3600 * sec, start + 19 * 3600 * sec, None, "ON_TIME"))
    return p


def _assignee(w: World, p: dict, rnd: random.Random) -> dict:
    loop = w.loop
    if p["dispatched_at"] is None:
        if p["handling_mode"] == "SELF" and p["reported_back_at"] is not None:
            return {"assignee_kind": "GRID_WORKER", "assignee_user_id": loop.worker.pk}
        return {}
    category = p["matter"].code[:2]
    if category == "01":
        team = loop.police_team if rnd.random() < 0.1 else loop.water_team
        return {"assignee_kind": "DEPARTMENT", "assignee_team_id": team.pk}
    if category == "10":
        return {"assignee_kind": "COMMUNITY", "assignee_node_id": p["community"].pk}
    return {"assignee_kind": "GRID_WORKER", "assignee_user_id": loop.worker.pk}


def _count(w: World, p: dict) -> None:
    """Keep the figures the baselines must find: the period's flows and the open cases per street."""
    t = w.tally
    within = lambda at: at is not None and w.period.start <= at < w.period.end  # noqa: E731
    for key, at in (("reported", p["reported_at"]), ("registered", p["registered_at"]), ("closed", p["closed_at"])):
        t[key] = t.get(key, 0) + within(at)
    if within(p["closed_at"]):
        t["closed_on_time"] = t.get("closed_on_time", 0) + (not p["late"])
    if p["state"] in OPEN:
        key = p["street"].pk if p["street"] is not None else None
        t.setdefault("open", {})[key] = t.get("open", {}).get(key, 0) + 1


def _case_rows(w: World, first: int, last: int):
    template = _case_row(w.loop, None, owner_id=w.loop.office.pk)
    columns = _columns(Case)
    for i in range(first, last):
        p = _plan(w, i)
        _count(w, p)
        case_id = w.first_id + i
        row = {**template, "id": case_id, "node_id": p["node"].pk, "lon": p["lon"], "lat": p["lat"],
               "matter_id": p["matter"].pk if p["matter"] else None, "channel": p["channel"],
               "description": f"基准案件 {i}", "report_level": p["report_level"], "handling_mode": p["handling_mode"],
               "state": p["state"], "version": 1 + len(p["stages"]), "tracking_code": f"D{case_id:015d}",
               "sla_status": p["sla_status"], "rework_count": p["rework_count"], "satisfaction": p["satisfaction"],
               **_assignee(w, p, random.Random(i))}
        for name in ("reported_at", "registered_at", "dispatched_at", "reported_back_at", "closed_at", "parked_at",
                     "due_at"):
            row[name] = _adapt_dt(p[name])
        yield tuple(row[c] for c in columns)


def _stage_rows(w: World, first: int, last: int, first_stage_id: int):
    columns = _columns(CaseStage)
    stage_id = first_stage_id
    for i in range(first, last):
        for order, (started, due, warn, completed, status) in enumerate(_plan(w, i)["stages"], start=1):
            row = {"id": stage_id, "case_id": w.first_id + i, "order": order, "name_zh": "处置", "name_en": "",
                   "amount": Decimal("1.00"), "unit": "WORKING_DAYS", "closing_condition": "",
                   "started_at": _adapt_dt(started), "due_at": _adapt_dt(due), "warn_at": _adapt_dt(warn),
                   "completed_at": _adapt_dt(completed), "status": status, "extended_count": 0}
            stage_id += 1
            yield tuple(row[c] for c in columns)


def _load(w: World, first: int, last: int) -> float:
    start = time.perf_counter()
    _insert("cases_case", _columns(Case), _case_rows(w, first, last))
    _insert("cases_casestage", _columns(CaseStage), _stage_rows(w, first, last, _table_max("cases_casestage") + 1))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in ("cases_case", "cases_casestage"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        # every table: the territory's too (a few dozen fresh rows autovacuum has not seen yet would be planned
        # as one row, and every read below as a nested loop over the cells)
        cursor.execute("ANALYZE")
    return time.perf_counter() - start


# =========================================================================== raw baselines
def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _states(states) -> str:
    return ", ".join(f"'{s}'" for s in states)


OVER = (f"(c.sla_status = 'OVERDUE' OR (c.due_at IS NOT NULL AND c.due_at < %(now)s AND c.state IN "
        f"({_states(CLOCK_STATES)})))")


def _from() -> str:
    return f"FROM {Case._meta.db_table} c JOIN {Node._meta.db_table} n ON n.id = c.node_id WHERE n.path LIKE %(path)s"


def _kpi_sql(grouped: bool) -> str:
    seconds = ("EXTRACT(EPOCH FROM (c.closed_at - c.reported_at))" if connection.vendor == "postgresql"
               else "(julianday(c.closed_at) - julianday(c.reported_at)) * 86400.0")
    rep, reg, clo = (f"(c.{col} >= %(start)s AND c.{col} < %(end)s)"
                     for col in ("reported_at", "registered_at", "closed_at"))
    late = (f"EXISTS (SELECT 1 FROM {CaseStage._meta.db_table} s WHERE s.case_id = c.id "
            f"AND s.completed_at > s.due_at)")
    return (f"SELECT {'n.path' if grouped else 'NULL'}, COUNT(CASE WHEN {rep} THEN 1 END), "
            f"COUNT(CASE WHEN {reg} THEN 1 END), COUNT(CASE WHEN {clo} THEN 1 END), "
            f"COUNT(CASE WHEN {clo} AND NOT {late} THEN 1 END), "
            f"COUNT(CASE WHEN {clo} AND c.rework_count > 0 THEN 1 END), SUM(CASE WHEN {clo} THEN {seconds} END), "
            f"COUNT(CASE WHEN {clo} AND c.satisfaction IS NOT NULL THEN 1 END), "
            f"SUM(CASE WHEN {clo} THEN c.satisfaction END) "
            f"{_from()} AND ({rep} OR {reg} OR {clo}){' GROUP BY n.path' if grouped else ''}")


def _child(w: World, path: str | None) -> int | None:
    """The district's child (street id) holding a cell of this path; None for the district itself."""
    rest = path[len(w.district.path):]
    return int(rest.split("/")[0]) if rest else None


def _sum_rows(rows) -> list:
    out = [0] * 8
    for row in rows:
        for k in range(8):
            out[k] += float(row[k + 1] or 0) if k in (5, 7) else (row[k + 1] or 0)
    return out


def _raw_figures(sums: list) -> kpi.Figures:
    reported, registered, closed, on_time, reworked, seconds, rated, score = sums
    return kpi.Figures(reported=reported, registered=registered, closed=closed, closed_on_time=on_time,
                       reworked=reworked, handling_hours=seconds / closed / 3600 if closed else None, rated=rated,
                       satisfaction=score / rated if rated else None)


def _kpi_params(w: World) -> dict:
    return {"path": w.district.path + "%", "start": _adapt_dt(w.period.start), "end": _adapt_dt(w.period.end)}


def raw_kpi(w: World) -> kpi.Figures:
    return _raw_figures(_sum_rows(_fetch(_kpi_sql(False), _kpi_params(w))))


def raw_kpi_by_child(w: World) -> dict[int | None, kpi.Figures]:
    groups: dict[int | None, list] = {}
    for row in _fetch(_kpi_sql(True), _kpi_params(w)):
        groups.setdefault(_child(w, row[0]), []).append(row)
    return {key: _raw_figures(_sum_rows(rows)) for key, rows in groups.items()}


def raw_cell_counts(w: World) -> dict[int, dict[str, int]]:
    sql = (f"SELECT n.path, COUNT(*), COUNT(CASE WHEN {OVER} THEN 1 END), "
           f"COUNT(CASE WHEN c.sla_status = 'WARNING' AND NOT {OVER} THEN 1 END) "
           f"{_from()} AND c.state IN ({_states(OPEN_STATES)}) GROUP BY n.path")
    out: dict[int, dict[str, int]] = {}
    for path, n_open, overdue, warning in _fetch(sql, {"path": w.district.path + "%", "now": _adapt_dt(w.now)}):
        key = _child(w, path)
        if key is None:
            continue
        counts = out.setdefault(key, {"open": 0, "warning": 0, "overdue": 0})
        counts["open"] += n_open
        counts["overdue"] += overdue
        counts["warning"] += warning
    return out


def raw_markers(w: World) -> list[tuple]:
    sql = (f"SELECT c.id, c.reported_at, c.lon, c.lat, c.state, c.sla_status, c.due_at, c.report_level, m.code, "
           f"m.name_zh, m.name_en FROM {Case._meta.db_table} c JOIN {Node._meta.db_table} n ON n.id = c.node_id "
           f"LEFT JOIN {Matter._meta.db_table} m ON m.id = c.matter_id WHERE n.path LIKE %(path)s "
           f"AND c.state IN ({_states(OPEN_STATES)}) AND c.lon IS NOT NULL AND c.lat IS NOT NULL "
           f"ORDER BY c.due_at ASC NULLS LAST, c.reported_at DESC, c.id DESC LIMIT %(limit)s")
    return _fetch(sql, {"path": w.district.path + "%", "limit": MARKER_LIMIT + 1})


QUEUE_RAW = {  # the sections of page_views.QUEUE_SECTIONS: condition, order
    "new": ("c.state = 'REPORTED'", "c.reported_at DESC, c.id DESC"),
    "urgent": (f"c.state IN ({_states(OPEN_STATES)}) AND c.report_level IN ('URGENT', 'MAJOR')",
               "c.due_at ASC NULLS LAST, c.reported_at DESC"),
    "warning": (f"c.state IN ({_states(OPEN_STATES)}) AND c.sla_status = 'WARNING'",
                "c.due_at ASC NULLS LAST, c.reported_at DESC"),
    "overdue": (f"c.state IN ({_states(OPEN_STATES)}) AND c.sla_status = 'OVERDUE'",
                "c.due_at ASC NULLS LAST, c.reported_at DESC"),
}


def raw_queue_counts(w: World) -> dict[str, int]:
    sql = "SELECT " + ", ".join(f"COUNT(CASE WHEN {cond} THEN 1 END)" for cond, _o in QUEUE_RAW.values()) + \
          " " + _from()
    return dict(zip(QUEUE_RAW, _fetch(sql, {"path": w.district.path + "%"})[0], strict=True))


def raw_queue(w: World) -> tuple[dict[str, int], dict[str, list[int]]]:
    """The counts, then the first cases of each section with everything the fragment shows of them."""
    counts = raw_queue_counts(w)
    user = get_user_model()._meta.db_table
    joins = (f"FROM {Case._meta.db_table} c JOIN {Node._meta.db_table} n ON n.id = c.node_id "
             f"LEFT JOIN {Matter._meta.db_table} m ON m.id = c.matter_id "
             f"LEFT JOIN {Category._meta.db_table} cat ON cat.id = m.category_id "
             f"LEFT JOIN {user} u ON u.id = c.assignee_user_id "
             f"LEFT JOIN {Node._meta.db_table} an ON an.id = c.assignee_node_id "
             f"LEFT JOIN {Team._meta.db_table} t ON t.id = c.assignee_team_id "
             f"LEFT JOIN {Department._meta.db_table} d ON d.id = t.department_id WHERE n.path LIKE %(path)s")
    lists = {}
    for key, (cond, order) in QUEUE_RAW.items():
        rows = _fetch(f"SELECT c.*, n.*, m.*, cat.*, u.*, an.*, t.*, d.* {joins} AND {cond} ORDER BY {order} "
                      f"LIMIT %(limit)s", {"path": w.district.path + "%", "limit": QUEUE_SHOWN}) if counts[key] else []
        lists[key] = [row[0] for row in rows]
    return counts, lists


# =========================================================================== the product's reads
def _cases(w: World):
    return filtered_cases(w.loop.centre, w.district, {}, period_field=None)


def _place(w: World):
    return place_for(w.loop.centre, cell_id=w.district.pk)


def _queue_request(w: World):
    request = RequestFactory().get("/cases/queue/", {"cell": w.district.pk})
    request.user = w.loop.centre
    return request


def _queue_counts(w: World) -> dict[str, int]:
    _form, qs = _filtered(_queue_request(w), choices=False)
    return qs.aggregate(**{key: Count("pk", filter=cond) for key, _t, cond, _o, _l in QUEUE_SECTIONS})


def queue_data(request) -> tuple[dict[str, int], dict[str, list]]:
    """What `page_views.case_queue` reads for its fragment (it keeps no selector of its own)."""
    _form, qs = _filtered(request, choices=False)
    counts = qs.aggregate(**{key: Count("pk", filter=cond) for key, _t, cond, _o, _l in QUEUE_SECTIONS})
    lists = {key: list(_related(qs.filter(cond)).order_by(*order)[:QUEUE_SHOWN]) if counts[key] else []
             for key, _t, cond, order, _l in QUEUE_SECTIONS}
    return counts, lists


# =========================================================================== checks
def _same(a: kpi.Figures, b: kpi.Figures) -> bool:
    for name in ("reported", "registered", "closed", "closed_on_time", "reworked", "rated"):
        if getattr(a, name) != getattr(b, name):
            return False
    for name in ("handling_hours", "satisfaction"):
        x, y = getattr(a, name), getattr(b, name)
        if (x is None) != (y is None) or (x is not None and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)):
            return False
    return True


def _mismatch(what: str, product, raw) -> None:
    print(f"\n  !!!!!!!! MISMATCH in {what}\n  product: {product}\n  raw:     {raw}\n", flush=True)
    raise AssertionError(f"bench_dashboard: {what} differs from its raw baseline")


def check(w: World) -> None:
    """The product's figures equal the baselines', and the baselines' equal the counts kept while writing."""
    t = w.tally
    raw = raw_kpi(w)
    kept = (t.get("reported", 0), t.get("registered", 0), t.get("closed", 0), t.get("closed_on_time", 0))
    if (raw.reported, raw.registered, raw.closed, raw.closed_on_time) != kept:
        _mismatch("raw KPI against the counts kept while writing", kept, raw)
    if not (raw.reported and raw.closed and raw.rated and raw.closed_on_time < raw.closed):
        _mismatch("the data (no cases, closings, ratings or late closings in the period)", "-", raw)
    product = kpi.kpi_figures(_cases(w), w.period)
    if not _same(product, raw):
        _mismatch("kpi_figures", product, raw)

    rows = kpi.kpi_by_child(_cases(w), w.period, node=w.district)
    by_child = raw_kpi_by_child(w)
    product_rows = {r.key: r.figures for r in rows}
    for key in set(by_child) | set(product_rows):
        if not _same(product_rows.get(key, kpi.Figures()), by_child.get(key, kpi.Figures())):
            _mismatch(f"kpi_by_child, child {key}", product_rows.get(key), by_child.get(key))
    if len(rows) < STREETS:
        _mismatch("kpi_by_child rows", [r.key for r in rows], [s.pk for s in w.streets])

    place = _place(w)
    cells = {row["node"].pk: {k: row[k] for k in ("open", "warning", "overdue")}
             for row in cell_counts(w.loop.centre, place, {}, now=w.now)}
    raw_cells = raw_cell_counts(w)
    for street in w.streets:
        if cells.get(street.pk) != raw_cells.get(street.pk, {"open": 0, "warning": 0, "overdue": 0}):
            _mismatch(f"cell_counts, street {street.pk}", cells.get(street.pk), raw_cells.get(street.pk))
    kept_open = {k: v for k, v in t.get("open", {}).items() if k is not None}
    if {k: v["open"] for k, v in raw_cells.items()} != kept_open:
        _mismatch("raw open counts against the counts kept while writing", kept_open, raw_cells)
    if not (sum(v["warning"] for v in cells.values()) and sum(v["overdue"] for v in cells.values())):
        _mismatch("the data (no open case close to its limit or none overdue)", "-", cells)

    markers, truncated = case_markers(w.loop.centre, w.district, {})
    raw_rows = raw_markers(w)
    if [m["id"] for m in markers] != [r[0] for r in raw_rows[:MARKER_LIMIT]] or \
            truncated != (len(raw_rows) > MARKER_LIMIT):
        _mismatch("case_markers (ids in order, truncated)", ([m["id"] for m in markers[:5]], len(markers), truncated),
                  ([r[0] for r in raw_rows[:5]], len(raw_rows)))

    counts, lists = queue_data(_queue_request(w))
    raw_counts, raw_lists = raw_queue(w)
    if counts != raw_counts:
        _mismatch("queue counts", counts, raw_counts)
    product_lists = {k: [c.pk for c in v] for k, v in lists.items()}
    if product_lists != raw_lists:
        _mismatch("queue sections' first cases", product_lists, raw_lists)
    if not all(raw_counts.values()):
        _mismatch("the data (an empty queue section)", "-", raw_counts)


# =========================================================================== measuring
def _best(fn) -> float:
    """Best wall time in seconds: one warm-up run, then as many as fit in BUDGET_S (1 to MAX_REPEAT)."""
    first = timed(fn)
    return timed(fn, repeat=max(1, min(MAX_REPEAT, int(BUDGET_S / max(first, 1e-6)))))


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _reads(w: World) -> dict:
    """name: (the product's read, its raw baseline, what the baseline is)."""
    place = _place(w)
    user = w.loop.centre
    return {
        "kpi_figures, district, 30 days": (lambda: kpi.kpi_figures(_cases(w), w.period), lambda: raw_kpi(w),
                                           "one raw aggregate of the same figures"),
        "kpi_by_child (by cell below), district, 30 days": (
            lambda: kpi.kpi_by_child(_cases(w), w.period, node=w.district), lambda: raw_kpi_by_child(w),
            "one raw aggregate GROUP BY cell path, summed per street"),
        "centre cell_counts (open / warning / overdue per street)": (
            lambda: cell_counts(user, place, {}, now=w.now), lambda: raw_cell_counts(w),
            "one raw GROUP BY cell path, summed per street"),
        f"centre case_markers (open cases with a point, limit {MARKER_LIMIT:,})": (
            lambda: case_markers(user, w.district, {}), lambda: raw_markers(w),
            "one raw SELECT of the same columns, same order and limit"),
        "live queue counts per section": (
            lambda: _queue_counts(w), lambda: raw_queue_counts(w),
            "one raw query of the four counts"),
        "live queue data (form, counts, first cases of each section)": (
            lambda: queue_data(_queue_request(w)), lambda: raw_queue(w),
            "raw counts + one raw SELECT per section, same joins"),
    }


def _client(w: World) -> Client:
    client = Client()
    client.force_login(w.loop.centre)
    return client


def _get(client: Client, url: str, w: World):
    response = client.get(url, {"cell": w.district.pk})
    if response.status_code != 200:
        _mismatch(f"GET {url}", response.status_code, 200)
    return response


def _page_queries(w: World) -> dict[str, int]:
    client = _client(w)
    _get(client, PAGES[0][1], w)  # the first request of a session reads more (the language, the session)
    return {name: _queries(lambda url=url: _get(client, url, w)) for name, url in PAGES}


def _read_queries(w: World) -> dict[str, int]:
    return {name: _queries(product) for name, (product, _raw, _b) in _reads(w).items()}


def _check_pages(w: World, client: Client) -> None:
    cells = json.loads(_get(client, "/centre/cells.geojson", w).content)
    raw_cells = raw_cell_counts(w)
    got = {f["id"]: f["properties"]["open"] for f in cells["features"]}
    if got != {s.pk: raw_cells.get(s.pk, {"open": 0})["open"] for s in w.streets}:
        _mismatch("GET /centre/cells.geojson open counts", got, raw_cells)
    markers = json.loads(_get(client, "/centre/cases.geojson", w).content)
    if len(markers["features"]) != min(MARKER_LIMIT, len(raw_markers(w))):
        _mismatch("GET /centre/cases.geojson features", len(markers["features"]), len(raw_markers(w)))


def _jit() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        return cursor.fetchone()[0] == "on"


def _jit_figure(w: World, client: Client, n: int, with_jit_s: float) -> dict:
    """The dashboard again with PostgreSQL's JIT off for this connection: the KPI aggregates' correlated
    EXISTS (on time) is costed high enough to be compiled, which can take longer than running them."""
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
        try:
            spent = _best(lambda: _get(client, "/dashboard/", w))
        finally:
            cursor.execute("RESET jit")
    return dict(name=f"GET /dashboard/ with SET jit = off, {n:,} cases, postgresql", value=1 / spent,
                unit="requests/s", baseline_name="the same request with the server's jit = on",
                baseline_value=1 / with_jit_s, note=f"{spent * 1000:,.0f} ms each against {with_jit_s * 1000:,.0f} ms")


def measure(emit) -> str:
    vendor = connection.vendor
    n = _rows_wanted()
    small = min(n, _setting("BENCH_DASHBOARD_SMALL", DEFAULT_SMALL))
    w = _world(n)
    print(f"  territory: {len(w.streets)} streets, {len(w.communities)} communities, {len(w.grids)} grids", flush=True)
    load_s = _load(w, 0, small)
    check(w)
    few_reads, few_pages = _read_queries(w), _page_queries(w)
    load_s += _load(w, small, n)
    print(f"  loaded {n:,} cases in {load_s:.1f} s; checking", flush=True)
    check(w)
    many_reads, many_pages = _read_queries(w), _page_queries(w)

    for name, (product, raw, baseline) in _reads(w).items():
        product_s, raw_s = _best(product), _best(raw)
        emit(dict(name=f"{name}, {n:,} cases, {vendor}", value=product_s * 1000, unit="ms",
                  baseline_name=baseline, baseline_value=raw_s * 1000,
                  note=f"lower is better; {many_reads[name]} SQL queries ({few_reads[name]} at {small:,} cases)"))

    client = _client(w)
    _check_pages(w, client)
    spent = {}
    for name, url in PAGES:
        spent[name] = _best(lambda url=url: _get(client, url, w))
        emit(dict(name=f"GET {url} (district, sees everything), {n:,} cases, {vendor}", value=1 / spent[name],
                  unit="requests/s", note=f"{spent[name] * 1000:,.0f} ms each"))
    if vendor == "postgresql" and _jit():
        emit(_jit_figure(w, client, n, spent["dashboard"]))
    for name, url in PAGES:
        emit(dict(name=f"SQL queries of GET {url}, {n:,} cases, {vendor}", value=many_pages[name], unit="queries",
                  baseline_name=f"the same request at {small:,} cases", baseline_value=few_pages[name],
                  note="ratio 1: the number of queries does not grow with the cases"))
    return vendor


def run(report: Report) -> None:
    run_here_then_on_postgres(report, module="dashboard", measure=measure,
                              postgres_url=os.environ.get("BENCH_DASHBOARD_POSTGRES", POSTGRES))

"""The set-based watch writes exactly what the per-case loop it replaced wrote: on one fixture (cases in
two schemes with different policies, several stages each, handled by a team, a grid worker and a
community, parked, returned, whistled with report-ins, and stages already yellow or red), run at a row of
moments, each moment's case columns, stages, events and notices are the same as the old loop's from the
same state. And on PostgreSQL a page never waits for a case a user's action holds: it skips it, and a
later run changes it."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases import clock
from gridgov.cases.models import (
    Case,
    CaseEvent,
    CasePolicy,
    CaseStage,
    Channel,
    Escalation,
    Notification,
    SlaStatus,
)
from gridgov.cases.notify import assignee_users, notify
from gridgov.cases.services import case_report, case_transition, event_write
from gridgov.cases.states import CLOCK_STATES
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.cases.watch import (
    _CASE_COLUMNS,
    _EVENT_KIND,
    _NOTICES_TABLE,
    _RANK,
    _STAGE_COLUMNS,
    SYSTEM_ROLE,
    WatchReport,
    _page_lock,
    _page_stages,
    _policy,
    _report_in_pages,
    _report_in_watch,
    _stage_pages,
    _whistle,
    sla_watch,
)
from gridgov.territory.tests.factories import make_scheme, make_tree

pytestmark = pytest.mark.django_db

START = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))  # a working Monday
WATER = {"kind": "DEPARTMENT", "department": "water"}


def at(minutes: float) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


def on_postgres_committed(test):
    """A test of real parallel connections and row locks, its rows committed: PostgreSQL only (SQLite
    serialises writers)."""
    return pytest.mark.skipif("connection.vendor != 'postgresql'", reason="parallel connections and row locks: "
                              "PostgreSQL only (SQLite serialises writers)")(
        pytest.mark.django_db(transaction=True)(test))


def _grants_present() -> None:
    """The platform's grants (a transaction=True test starts from tables its migrations' data left empty)."""
    import importlib

    from django.apps import apps

    from gridgov.cases.models import ActionGrant

    if not ActionGrant.objects.filter(scheme__isnull=True).exists():
        importlib.import_module("gridgov.cases.migrations.0002_guards_and_grants").grants(apps, None)


# --------------------------------------------------------------------------- the loop it replaced
def _reference_watch(*, now: dt.datetime, batch: int) -> WatchReport:
    """The time-limit watch as it was before it went set-based (a case at a time, each in its own
    transaction under its lock): kept here as the reference the new one must equal."""
    report = WatchReport()
    policies: dict = {}
    for case_ids, read in _stage_pages(now, batch):
        report.checked += read
        for case_id in case_ids:
            with transaction.atomic():
                case = (Case.objects.select_for_update(of=("self",))
                        .select_related("node", "owner", "assignee_user", "assignee_team")
                        .filter(pk=case_id, state__in=CLOCK_STATES).first())
                if case is None:
                    continue
                changes = []
                for stage in clock.open_stages(case):
                    status = clock.status_at(stage, now)
                    if _RANK[status] > _RANK.get(stage.status, 0):
                        changes.append((stage, stage.status, status))
                if not changes:
                    continue
                for stage, _old, status in changes:
                    stage.status = status
                    stage.save(update_fields=["status"])
                clock.case_clock_refresh(case, now=now)
                case.version += 1
                case.save(update_fields=["sla_status", "due_at", "version"])
                users = assignee_users(case) | ({case.owner} if case.owner_id else set())
                for stage, old, status in changes:
                    kind, due = _EVENT_KIND[status], stage.due_at
                    event_write(case=case, kind=kind, actor=None, actor_role=SYSTEM_ROLE, from_state=case.state,
                                to_state=case.state, old={"stage": stage.order, "status": old},
                                new={"stage": stage.order, "status": status, "due_at": due.isoformat()}, at=now)
                    values = {"number": case.number, "stage": stage.name_zh,
                              "due": timezone.localtime(due).strftime("%m-%d %H:%M")}
                    text = (_("case %(number)s: stage %(stage)s is over its time limit (%(due)s)")
                            if status == SlaStatus.OVERDUE
                            else _("case %(number)s: stage %(stage)s is close to its time limit (%(due)s)")) % values
                    notify(users=users, case=case, kind=kind,
                           key=f"case{case.pk}:stage{stage.order}:{status}:{int(due.timestamp())}", text=text)
                overdue = sum(1 for _s, _o, status in changes if status == SlaStatus.OVERDUE)
                whistled = (bool(overdue) and _policy(case.scheme_id, policies).escalate_when_overdue
                            and _whistle(case, now=now))
                report.warning += len(changes) - overdue
                report.overdue += overdue
                report.escalated += whistled
    for rows in _report_in_pages(now, batch):  # unchanged: report-ins are noticed one at a time
        for row_id, case_id in rows:
            report.report_in_overdue += _report_in_watch(row_id, case_id, now=now)
    return report


# --------------------------------------------------------------------------- the fixture
def _report(loop, *, cell="g1", matter="01001", start=START) -> Case:
    lon, lat = point_in(loop.tree[cell])
    return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter=matter, lon=lon,
                       lat=lat, description="井盖丢了", at=start,
                       attributes={"problem": "missing"} if matter == "01001" else None).case


def _dispatched(loop, *, assignee, start, cell="g1", matter="01001") -> Case:
    case = case_transition(case=_report(loop, cell=cell, matter=matter, start=start), actor=loop.office,
                           action="register", at=start)
    return case_transition(case=case, actor=loop.office, action="dispatch", assignee=assignee, at=start)


def _fixture(loop, other) -> None:
    """Cases due to change at the moments the test runs the watch (minutes after 09:00)."""
    for i in range(6):  # the water team's cases, a few minutes apart: yellow at 48 + i, red at 60 + i
        case = _dispatched(loop, assignee=WATER, start=at(i))
        if i % 2:
            case_transition(case=case, actor=loop.handler, action="accept", at=at(i + 1))
    _dispatched(loop, assignee={"kind": "GRID_WORKER"}, start=at(2))
    _dispatched(loop, assignee={"kind": "COMMUNITY"}, start=at(3), matter="10001")
    parked = _dispatched(loop, assignee=WATER, start=at(0))  # parked before its yellow mark: keeps its colour
    case_transition(case=parked, actor=loop.office, action="request_parking", reason="等待施工", at=at(10))
    case_transition(case=Case.objects.get(pk=parked.pk), actor=loop.office, action="approve_parking", at=at(11))
    returned = _dispatched(loop, assignee=WATER, start=at(1))  # returned to the dispatcher: no clock
    case_transition(case=returned, actor=loop.handler, action="return", reason="不归我们管", at=at(5))
    whistled = _dispatched(loop, assignee={"kind": "COMMUNITY"}, start=at(4), matter="10001")
    case_transition(case=whistled, actor=loop.leader, action="whistle", reason="涉及多部门", departments=["police"],
                    at=at(6))
    # the other scheme: a policy whose yellow comes at half the limit and whose red whistles the case up
    CasePolicy.objects.filter(scheme=other.scheme).update(warning_share=0.5, escalate_when_overdue=True)
    for i in range(4):
        _dispatched(other, assignee=WATER, start=at(10 * i))
    _dispatched(other, assignee={"kind": "GRID_WORKER"}, start=at(5), cell="g2")


def _state() -> dict:
    """Every row the watch may write, by content: an escalation named in an event by what it is (on
    PostgreSQL a rolled-back run still takes ids from the sequences)."""
    def rows(qs, *fields):
        return sorted(qs.values_list(*fields))

    escalations = {pk: (case_id, depth, node_id, raised_at) for pk, case_id, depth, node_id, raised_at in
                   Escalation.objects.values_list("pk", "case_id", "depth", "node_id", "raised_at")}

    def values(data: dict) -> str:
        data = dict(data or {})
        if "escalation" in data:
            data["escalation"] = escalations.get(data["escalation"])
        return repr(sorted(data.items()))

    return {
        "cases": rows(Case.objects.all(), "pk", "state", "sla_status", "due_at", "version", "escalation_depth"),
        "stages": rows(CaseStage.objects.all(), "case_id", "order", "status", "due_at", "warn_at", "completed_at"),
        "events": sorted((e.case_id, e.seq, e.kind, e.at, e.actor_id, e.actor_role, e.node_id, e.from_state,
                          e.to_state, e.note, values(e.old_values), values(e.new_values), repr(e.attachments))
                         for e in CaseEvent.objects.all()),
        "notices": rows(Notification.objects.all(), "recipient_id", "case_id", "kind", "key", "text"),
    }


def _report_tuple(report: WatchReport) -> tuple:
    return report.warning, report.overdue, report.escalated, report.report_in_overdue


def test_the_set_based_watch_writes_what_the_case_at_a_time_loop_wrote(scheme, tree):
    # given the fixture in two schemes
    loop = make_loop(scheme, tree)
    other_scheme = make_scheme()
    other = make_loop(other_scheme, make_tree(other_scheme, origin=(117.0, 40.0)))
    _fixture(loop, other)
    moments = [at(m) for m in (30, 47, 48, 50, 55, 61, 63, 66, 90, 12 * 60, 26 * 60, 26 * 60)]
    changed = 0
    for now in moments:
        for batch in (3, 1000):  # small pages first, rolled back; then the default, kept for the next moment
            # when the loop it replaced runs (and is rolled back), then the new watch, from the same state
            with transaction.atomic():
                before = _state()
                expected_report = _reference_watch(now=now, batch=batch)
                expected = _state()
                transaction.set_rollback(True)
            assert _state() == before
            with transaction.atomic():
                report = sla_watch(now=now, batch=batch)
                got = _state()
                if batch == 3:
                    transaction.set_rollback(True)
                else:
                    changed += report.warning + report.overdue
            # then both wrote the same rows, and count the same changes
            assert got == expected, now
            assert _report_tuple(report) == _report_tuple(expected_report), now
    # and the fixture did exercise every kind of change
    kinds = set(CaseEvent.objects.values_list("kind", flat=True))
    assert {"sla_warning", "sla_overdue", "whistle", "report_in_overdue"} <= kinds
    assert changed >= 20


def _dispatched_case(loop) -> Case:
    return _dispatched(loop, assignee=WATER, start=START)


@on_postgres_committed
def test_a_page_skips_a_case_a_user_holds_and_a_later_run_changes_it(scheme, tree):
    _grants_present()
    # given three cases past their first limit, one of them locked by a user's action in progress
    loop = make_loop(scheme, tree)
    held, *free = [_dispatched_case(loop) for _ in range(3)]
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Case.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()
            done.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    try:
        # when the watch runs while the lock is held
        report = sla_watch(now=at(61))
    finally:
        release.set()
        holder.join()
    # then it finished without waiting: the two free cases are red, the held one is left as it was
    assert report.overdue == 2
    assert set(Case.objects.filter(sla_status=SlaStatus.OVERDUE).values_list("pk", flat=True)) == {c.pk for c in free}
    assert not CaseEvent.objects.filter(case=held, kind="sla_overdue").exists()
    # and the next run, the lock released, turns it red
    assert sla_watch(now=at(62)).overdue == 1
    assert CaseEvent.objects.filter(case=held, kind="sla_overdue").count() == 1
    assert connection.vendor == "postgresql"


def _watch_statements(now: dt.datetime) -> tuple[int, WatchReport]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        report = sla_watch(now=now)
    return len(ctx.captured_queries), report


def test_a_page_of_the_watch_takes_the_same_statements_whatever_its_size(scheme, tree):
    # given 3 cases, then 12 more, each past its first limit, handled by a team, a grid worker or a community
    loop = make_loop(scheme, tree)
    kinds = (WATER, {"kind": "GRID_WORKER"}, {"kind": "COMMUNITY"})
    for i in range(3):
        _dispatched(loop, assignee=kinds[i % 3], start=at(i), matter="10001" if i % 3 == 2 else "01001")
    small, small_report = _watch_statements(at(24 * 60))
    for i in range(12):
        _dispatched(loop, assignee=kinds[i % 3], start=at(24 * 60 + i), matter="10001" if i % 3 == 2 else "01001")
    large, large_report = _watch_statements(at(48 * 60))
    # then both runs took one page and the same statements: the two stage pages (yellow, green), the locks,
    # the open stages with their cases' last event numbers, the assignees (person, team members, community),
    # the events' COPY (an INSERT on SQLite), the notices' temporary table, their COPY and one statement
    # writing the stages, the cases and the notices (on SQLite: the stages' UPDATE, the cases' UPDATE and
    # the notices' INSERT), the report-in page; and the transaction's savepoint pair; and, once for the
    # run, the settings' counters and the case policy
    assert small_report.overdue >= 3 and large_report.overdue >= 12
    assert small == large == 16


def _typed(values) -> tuple:
    # a value with its type and, for a datetime, its time zone: the page's plain rows must be the ORM's
    return tuple((type(v), v, getattr(v, "tzinfo", None)) for v in values)


def test_a_page_reads_its_cases_and_stages_as_the_orm_does(scheme, tree):
    # given cases handled by a team, a grid worker and a community, one of them accepted (more events)
    loop = make_loop(scheme, tree)
    cases = [_dispatched(loop, assignee=WATER, start=at(0)), _dispatched(loop, assignee={"kind": "GRID_WORKER"},
             start=at(1)), _dispatched(loop, assignee={"kind": "COMMUNITY"}, start=at(2), matter="10001")]
    case_transition(case=cases[0], actor=loop.handler, action="accept", at=at(3))
    ids = [case.pk for case in cases]
    # when a page locks them and reads their open stages
    with transaction.atomic():
        locked = _page_lock(ids)
        stages = _page_stages([case.pk for case in locked])
    # then every value is the one the ORM reads, of the same type and time zone, with each case's last event
    attributes = ("pk", *_CASE_COLUMNS[1:])
    assert [_typed(getattr(case, name) for name in attributes) for case in locked] == \
        [_typed(row) for row in Case.objects.filter(pk__in=ids).order_by("pk").values_list(*_CASE_COLUMNS)]
    last = dict(CaseEvent.objects.filter(case_id__in=ids).values("case_id").annotate(m=Max("seq"))
                .values_list("case_id", "m"))
    expected = [(*row, last[row[1]]) for row in CaseStage.objects.filter(case_id__in=ids, completed_at__isnull=True)
                .order_by("case_id", "order").values_list(*_STAGE_COLUMNS)]
    assert len(expected) >= 3
    assert [_typed(row) for row in stages] == [_typed(row) for row in expected]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the notices go through a copied table on PostgreSQL")
def test_each_page_moves_the_notices_it_copied_and_no_others(scheme, tree):
    # given 5 cases past their first limit, watched in pages of one case inside one transaction
    loop = make_loop(scheme, tree)
    for i in range(5):
        _dispatched(loop, assignee=WATER, start=at(i))
    with transaction.atomic():
        report = sla_watch(now=at(24 * 60), batch=1)
        # then each page's statement emptied the table its notices were copied into (the transaction's
        # end is not a page's end when the run is inside a wider one, as here)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {_NOTICES_TABLE}")  # noqa: S608 (a table name)
            assert cursor.fetchone()[0] == 0
    # and every stage turned red was told once to each of its recipients
    assert report.overdue >= 5
    told = list(Notification.objects.filter(kind="sla_overdue").values_list("recipient_id", "key"))
    assert len(told) == len(set(told)) >= 5


def _watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sla-watch")]


@on_postgres_committed
def test_pages_taken_at_once_write_what_pages_one_after_the_other_write(scheme, tree, monkeypatch):
    from gridgov.cases import watch

    _grants_present()
    # given the fixture in two schemes, committed (each page of a run outside a transaction runs in a thread)
    loop = make_loop(scheme, tree)
    other_scheme = make_scheme()
    other = make_loop(other_scheme, make_tree(other_scheme, origin=(117.0, 40.0)))
    _fixture(loop, other)
    threads_used = set()
    real_page = watch._page_watch

    def page(case_ids, **kw):
        threads_used.add(threading.current_thread().name)
        return real_page(case_ids, **kw)

    monkeypatch.setattr(watch, "_page_watch", page)
    changed = 0
    for now in [at(m) for m in (47, 50, 61, 66, 12 * 60, 26 * 60, 26 * 60)]:
        # when pages of 3 run one after the other (inside a transaction, rolled back) and then at once
        with transaction.atomic():
            expected_report, expected = sla_watch(now=now, batch=3), _state()
            transaction.set_rollback(True)
        report = sla_watch(now=now, batch=3)
        # then both wrote the same rows and count the same changes
        assert _state() == expected, now
        assert _report_tuple(report) == _report_tuple(expected_report), now
        changed += report.warning + report.overdue
    assert changed >= 20
    # and the pages did run in the watch's threads, which ended with the run (their connections closed)
    assert any(name.startswith("sla-watch") for name in threads_used), threads_used
    assert not _watch_threads()


@on_postgres_committed
def test_a_page_that_fails_stops_the_run_and_its_error_reaches_the_caller(scheme, tree, monkeypatch):
    from gridgov.cases import watch

    _grants_present()
    # given six cases past their first limit, and a page that fails on its second call
    loop = make_loop(scheme, tree)
    for i in range(6):
        _dispatched(loop, assignee=WATER, start=at(i))
    real_page, calls = watch._page_watch, []

    def page(case_ids, **kw):
        calls.append(case_ids)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_page(case_ids, **kw)

    monkeypatch.setattr(watch, "_page_watch", page)
    # when the watch runs in pages of 2, then the error reaches the caller, and no thread of the run is left
    with pytest.raises(RuntimeError, match="went away"):
        sla_watch(now=at(24 * 60), batch=2)
    assert not _watch_threads()
    # and what the failed page held is written by the next run; nothing is written twice
    monkeypatch.setattr(watch, "_page_watch", real_page)
    sla_watch(now=at(24 * 60), batch=2)
    assert Case.objects.filter(sla_status=SlaStatus.OVERDUE).count() == 6
    told = [(e.case_id, e.new_values["stage"]) for e in CaseEvent.objects.filter(kind="sla_overdue")]
    assert len(told) == len(set(told)) == CaseStage.objects.filter(status=SlaStatus.OVERDUE).count() >= 6

"""The time-limit watch: stages turn yellow and red as time passes, each change told once; overdue
report-ins are noticed once; the periodic task and the command run it."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.exceptions import TaskLockedException

from gridgov.cases.models import ActionGrant, CaseEvent, CasePolicy, Channel, Escalation, Notification, SlaStatus
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tasks import WATCH_LOCK, sla_watch_task
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.watch import WatchReport, sla_watch

WATER = {"kind": "DEPARTMENT", "department": "water"}
START = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))  # a working Monday
NOTHING = WatchReport()


def at(minutes: float) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _dispatched(loop, *, start=START):
    """A manhole-cover case (urgent: its 2 h + 24 h clock stages run at half, 1 h + 12 h; yellow at 80 %)
    reported on the hotline by the street office and dispatched to the water department's team."""
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="01001", lon=lon, lat=lat,
                       description="井盖丢了", at=start).case
    case = case_transition(case=case, actor=loop.office, action="register", at=start)
    return case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER, at=start)


def _sla_events(case) -> list[tuple[str, dict]]:
    return [(e.kind, e.new_values) for e in CaseEvent.objects.filter(case=case, kind__startswith="sla_")
            .order_by("seq")]


def _rows(case) -> tuple[int, int]:
    return CaseEvent.objects.filter(case=case).count(), Notification.objects.filter(case=case).count()


def test_stage_turns_yellow_then_red_and_each_change_is_told_once(loop):
    # given a case dispatched at 09:00 whose first stage turns yellow at 09:48 and is due at 10:00
    case = _dispatched(loop)
    first = case.stages.get(order=1)
    assert (first.warn_at, first.due_at) == (at(48), at(60))
    version = case.version
    # when the watch runs just before the yellow mark
    assert sla_watch(now=at(47)) == NOTHING
    # and then at the yellow mark
    report = sla_watch(now=at(48))
    # then the stage and the case are yellow, with one event and a notice to the handler's team and the owner
    assert (report.warning, report.overdue, report.checked) == (1, 0, 1)
    first.refresh_from_db()
    case.refresh_from_db()
    assert first.status == SlaStatus.WARNING and case.sla_status == SlaStatus.WARNING
    assert case.version == version + 1  # a tracked column changed: the version moves (a stale form gets 409)
    [(kind, values)] = _sla_events(case)
    assert kind == "sla_warning" and (values["stage"], values["status"]) == (1, "WARNING")
    assert dt.datetime.fromisoformat(values["due_at"]) == at(60)
    event = CaseEvent.objects.get(case=case, kind="sla_warning")
    assert event.actor is None and event.actor_role == "SYSTEM" and event.at == at(48)
    assert event.from_state == event.to_state == CaseState.DISPATCHED
    told = set(Notification.objects.filter(case=case, kind="sla_warning").values_list("recipient", "key"))
    key = f"case{case.pk}:stage1:WARNING:{int(at(60).timestamp())}"
    assert told == {(loop.handler.pk, key), (loop.office.pk, key)}
    # when it runs again at the same moment, nothing more is written
    rows = _rows(case)
    assert sla_watch(now=at(48)) == NOTHING
    assert _rows(case) == rows
    # when the limit passes, the stage turns red, once
    assert sla_watch(now=at(61)).overdue == 1
    assert sla_watch(now=at(62)) == NOTHING
    case.refresh_from_db()
    assert case.sla_status == SlaStatus.OVERDUE and case.due_at == at(60)
    assert [kind for kind, _values in _sla_events(case)] == ["sla_warning", "sla_overdue"]
    assert Notification.objects.filter(case=case, kind="sla_overdue").count() == 2
    assert list(case.stages.order_by("order").values_list("status", flat=True)) == ["OVERDUE", "ON_TIME"]


def test_after_downtime_a_stage_past_its_limit_gets_only_the_red_event(loop):
    # given a case whose first stage was due at 10:00 and a watch that did not run until 11:00
    case = _dispatched(loop)
    # when it runs
    report = sla_watch(now=at(120))
    # then the first stage is red with a single event (no yellow nobody saw); the second is still green
    assert (report.warning, report.overdue) == (0, 1)
    assert [kind for kind, _values in _sla_events(case)] == ["sla_overdue"]
    assert list(case.stages.order_by("order").values_list("status", flat=True)) == ["OVERDUE", "ON_TIME"]
    # and a day later both stages are red, the second told once too
    assert sla_watch(now=at(24 * 60)).overdue == 1
    assert sla_watch(now=at(24 * 60)) == NOTHING
    assert [v["stage"] for _kind, v in _sla_events(case)] == [1, 2]


def test_several_cases_across_pages_each_turn_once(loop):
    # given three cases dispatched a minute apart
    cases = [_dispatched(loop, start=at(i)) for i in range(3)]
    # when the watch reads its candidates one stage per page
    report = sla_watch(now=at(70), batch=1)
    # then every case turns red once
    assert (report.overdue, report.checked) == (3, 3)
    assert sla_watch(now=at(70), batch=1) == NOTHING
    for case in cases:
        assert [kind for kind, _values in _sla_events(case)] == ["sla_overdue"]


def test_parked_and_closed_cases_are_not_watched(loop):
    # given a parked case and a closed one, both long past their limits
    parked = _dispatched(loop)
    case_transition(case=parked, actor=loop.handler, action="request_parking", reason="需区级资金", at=at(5))
    parked = case_transition(case=parked, actor=loop.office, action="approve_parking", at=at(6))
    closed = _dispatched(loop)
    case_transition(case=closed, actor=loop.handler, action="accept", at=at(5))
    case_transition(case=closed, actor=loop.handler, action="report_back", after_photos=[png((0, 200, 0))],
                    at=at(30))
    closed = case_transition(case=closed, actor=loop.office, action="verify_pass", at=at(40))
    assert (parked.state, closed.state) == (CaseState.PARKED, CaseState.CLOSED)
    rows = _rows(parked), _rows(closed)
    # when the watch runs a day later
    report = sla_watch(now=at(24 * 60))
    # then neither is touched nor read: the parked one's clock stands, its stages keep their colour until
    # it resumes
    assert not report.changed and report.checked == 0
    assert (_rows(parked), _rows(closed)) == rows
    assert set(parked.stages.values_list("status", flat=True)) == {SlaStatus.ON_TIME}


def test_approved_extension_moves_the_limit_and_the_next_red_is_told_again(loop):
    # given a case whose first stage turned red at 10:00
    case = _dispatched(loop)
    sla_watch(now=at(61))
    first_red = f"case{case.pk}:stage1:OVERDUE:{int(at(60).timestamp())}"
    # when the handler applies for two more clock hours and the centre approves
    case_transition(case=case, actor=loop.handler, action="accept", at=at(62))
    case_transition(case=case, actor=loop.handler, action="request_extension", amount="2", unit="CLOCK_HOURS",
                    reason="井盖需定制", at=at(63))
    case = case_transition(case=case, actor=loop.centre, action="approve_extension", at=at(64))
    # then the stage runs again until 12:00 (yellow at 11:48) and the watch leaves it alone until then
    stage = case.stages.get(order=1)
    assert (stage.status, stage.warn_at, stage.due_at) == (SlaStatus.ON_TIME, at(168), at(180))
    assert sla_watch(now=at(65)) == NOTHING
    assert sla_watch(now=at(168)).warning == 1
    assert sla_watch(now=at(181)).overdue == 1
    # and the new red notice has a key of its own, so the handler is told again
    second_red = f"case{case.pk}:stage1:OVERDUE:{int(at(180).timestamp())}"
    keys = set(Notification.objects.filter(case=case, kind="sla_overdue", recipient=loop.handler)
               .values_list("key", flat=True))
    assert keys == {first_red, second_red}
    assert [kind for kind, _values in _sla_events(case)] == ["sla_overdue", "sla_warning", "sla_overdue"]


def test_escalate_when_overdue_whistles_once(loop):
    # given a policy that whistles when a stage turns red
    CasePolicy.objects.filter(scheme=loop.scheme).update(escalate_when_overdue=True)
    case = _dispatched(loop)
    # when the stage turns yellow nothing is escalated; when it turns red the case is whistled one level up
    assert sla_watch(now=at(48)).escalated == 0
    report = sla_watch(now=at(61))
    assert (report.overdue, report.escalated) == (1, 1)
    # and running again whistles no more
    assert sla_watch(now=at(62)) == NOTHING
    case.refresh_from_db()
    escalation = Escalation.objects.get(case=case)
    assert escalation.node == loop.tree["community"] and escalation.raised_by is None
    assert case.escalation_depth == loop.tree["community"].level.depth
    kinds = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("kind", "actor_role"))
    assert kinds[-2:] == [("sla_overdue", "SYSTEM"), ("whistle", "SYSTEM")]
    assert Notification.objects.filter(case=case, kind="whistle", recipient=loop.leader).count() == 1


def test_overdue_report_in_is_noticed_once(loop):
    # given a whistle at 09:00 calling the police and the water department to report in within 2 working hours
    case = _dispatched(loop)
    case = case_transition(case=case, actor=loop.leader, action="whistle", reason="涉及多部门",
                           departments=["police", "water"], at=START)
    due = Escalation.objects.get(case=case).report_in_due_at
    assert due > START
    # and the water department reports in on time
    case_transition(case=case, actor=loop.handler, action="report_in", note="已到现场", at=due - dt.timedelta(minutes=5))
    # when the watch runs before the report-in limit and then at it
    assert sla_watch(now=due - dt.timedelta(minutes=1)).report_in_overdue == 0
    report = sla_watch(now=due)
    # then only the police's report-in is noticed overdue, once, to the police and the community's leader
    assert report.report_in_overdue == 1
    event = CaseEvent.objects.get(case=case, kind="report_in_overdue")
    assert event.new_values["department"] == "police" and event.actor_role == "SYSTEM"
    police_officer = loop.police_team.members.get()
    assert set(Notification.objects.filter(case=case, kind="report_in_overdue")
               .values_list("recipient", flat=True)) == {police_officer.pk, loop.leader.pk}
    assert sla_watch(now=due + dt.timedelta(hours=1)).report_in_overdue == 0
    assert CaseEvent.objects.filter(case=case, kind="report_in_overdue").count() == 1


def test_command_runs_the_watch_at_the_moment_given(loop):
    # given a case turning yellow at 09:48
    case = _dispatched(loop)
    out = StringIO()
    # when the command runs at 09:50 local time
    call_command("case_watch", "--now", "2026-11-23T09:50", stdout=out)
    # then it reports and writes the change
    assert "warning=1" in out.getvalue() and "overdue=0" in out.getvalue()
    assert case.stages.get(order=1).status == SlaStatus.WARNING


def test_periodic_task_runs_the_watch_and_refuses_to_overlap(loop):
    # given a case dispatched two hours ago
    case = _dispatched(loop, start=timezone.now() - dt.timedelta(hours=2))
    # when a run is under way (its lock held), the next minute's run is refused
    with HUEY.lock_task(WATCH_LOCK), pytest.raises(TaskLockedException):
        sla_watch_task.call_local()
    assert case.stages.get(order=1).status == SlaStatus.ON_TIME
    # and once it is free, the task runs the watch
    result = sla_watch_task.call_local()
    assert (result["overdue"], result["escalated"]) == (1, 0)
    assert case.stages.get(order=1).status == SlaStatus.OVERDUE


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="real parallel connections and row locks: PostgreSQL only (SQLite serialises writers)")
@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_write_each_change_once(scheme, tree):
    # a transactional test before this one (same worker) flushed the rows the migrations seed
    if not ActionGrant.objects.filter(scheme__isnull=True).exists():
        importlib.import_module("gridgov.cases.migrations.0002_guards_and_grants").grants(apps, None)
    # given ten cases past their first limit
    loop = make_loop(scheme, tree)
    cases = [_dispatched(loop) for _ in range(10)]
    reports, errors = [], []
    barrier = threading.Barrier(4)

    def run():
        try:
            barrier.wait()
            reports.append(sla_watch(now=at(61), batch=3))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    # when four watches run at once, each on its own connection
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then each stage turned red once in all
    assert errors == []
    assert sum(r.overdue for r in reports) == 10
    for case in cases:
        assert [kind for kind, _values in _sla_events(case)] == ["sla_overdue"]

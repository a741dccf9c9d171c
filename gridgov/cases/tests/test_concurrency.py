"""Two people acting on the same case at the same moment, each on their own database connection: one
wins, the other gets a conflict (409 over HTTP), the version moves by one and the events stay numbered
1..n without gaps or doubles. PostgreSQL only: the row lock of `case_transition` is what is tested."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

import pytest
from django.apps import apps
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from gridgov.accounts import services as account_services
from gridgov.cases.errors import CaseConflict
from gridgov.cases.models import ActionGrant, Case, CaseEvent, Channel
from gridgov.cases.services import case_report, case_transition, event_write
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="real parallel connections and row locks: PostgreSQL only (SQLite serialises writers)"),
]
ROUNDS = 10


@pytest.fixture
def loop(scheme, tree):
    # a transactional test before this one (same worker) flushed the rows the migrations seed
    if not ActionGrant.objects.filter(scheme__isnull=True).exists():
        importlib.import_module("gridgov.cases.migrations.0002_guards_and_grants").grants(apps, None)
    loop = make_loop(scheme, tree)
    second = account_services.staff_user_create(username="water-second", password="Grid-demo-2026!")
    loop.water_team.members.add(second)
    loop.handler2 = second
    return loop


def _dispatched(loop) -> Case:
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="01001", lon=lon,
                       lat=lat, description="井盖丢了", photos=[png()], attributes={"problem": "missing"}).case
    case = case_transition(case=case, actor=loop.office, action="register")
    return case_transition(case=case, actor=loop.office, action="dispatch",
                           assignee={"kind": "DEPARTMENT", "department": "water"})


def _reported_back(loop) -> Case:
    case = case_transition(case=_dispatched(loop), actor=loop.handler, action="accept")
    return case_transition(case=case, actor=loop.handler, action="report_back", after_photos=[png((0, 200, 0))])


def _at_once(*calls: Callable) -> list[tuple[str, object]]:
    """Run the calls in threads released together; each ends by closing its own connection."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, object]] = [("none", None)] * len(calls)

    def run(i: int, call: Callable) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[i] = ("ok", call())
        except Exception as exc:  # reported to the test through `outcomes`
            outcomes[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (lock never released?)"
    return outcomes


def _events_without_gaps(case: Case) -> list[str]:
    seqs = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    return list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("kind", flat=True))


def _round(loop, n: int) -> tuple[Case, list[tuple[str, dict]]]:
    """Even rounds: the centre passes the verification while the office fails it. Odd rounds: two
    members of the assigned team accept the case."""
    if n % 2 == 0:
        return _reported_back(loop), [(loop.centre, {"action": "verify_pass"}),
                                      (loop.office, {"action": "verify_fail", "reason": "井盖未固定"})]
    return _dispatched(loop), [(loop.handler, {"action": "accept"}), (loop.handler2, {"action": "accept"})]


@pytest.mark.django_db(transaction=True)
def test_conflicting_actions_at_once_one_wins(loop):
    for n in range(ROUNDS):
        # given a case two people are about to act on
        case, moves = _round(loop, n)
        before = Case.objects.get(pk=case.pk)
        events_before = len(_events_without_gaps(case))
        # when both act at the same moment, each on their own connection
        outcomes = _at_once(*[lambda user=user, body=body, pk=case.pk: case_transition(case=pk, actor=user, **body)
                              for user, body in moves])
        # then exactly one wins, the other gets a state conflict, and the case moved once
        wins = [i for i, (kind, _v) in enumerate(outcomes) if kind == "ok"]
        losses = [v for kind, v in outcomes if kind == "error"]
        assert len(wins) == 1 and len(losses) == 1, outcomes
        assert isinstance(losses[0], CaseConflict) and losses[0].code == "state", losses
        after = Case.objects.get(pk=case.pk)
        assert after.version == before.version + 1
        kinds = _events_without_gaps(case)
        assert len(kinds) == events_before + 1 and kinds[-1] == moves[wins[0]][1]["action"]
        assert after.state == {"verify_pass": CaseState.CLOSED, "verify_fail": CaseState.IN_PROGRESS,
                               "accept": CaseState.IN_PROGRESS}[kinds[-1]]


@pytest.mark.django_db(transaction=True)
def test_conflicting_actions_over_http_the_loser_gets_409(loop):
    for n in range(ROUNDS):
        # given a case two people read at the same version
        case, moves = _round(loop, n)
        version = Case.objects.get(pk=case.pk).version
        events_before = len(_events_without_gaps(case))
        clients = []
        for user, _body in moves:
            client = APIClient()
            client.force_authenticate(user)
            clients.append(client)
        # when both post their action at once, saying which version they read
        url = f"/api/cases/{case.pk}/actions/"
        etag = f'"{version}"'
        responses = _at_once(*[lambda client=client, body=body, url=url, etag=etag:
                               client.post(url, body, format="json", HTTP_IF_MATCH=etag)
                               for client, (_user, body) in zip(clients, moves, strict=True)])
        # then one gets 200 with the next version, the other 409 naming the version it missed
        assert all(kind == "ok" for kind, _r in responses), responses
        codes = sorted(r.status_code for _kind, r in responses)
        assert codes == [200, 409], [(r.status_code, r.json()) for _kind, r in responses]
        winner = next(r for _kind, r in responses if r.status_code == 200)
        loser = next(r for _kind, r in responses if r.status_code == 409)
        assert winner.json()["version"] == version + 1
        assert loser.json()["code"] == "version" and loser.json()["version"] == version + 1
        assert Case.objects.get(pk=case.pk).version == version + 1
        assert len(_events_without_gaps(case)) == events_before + 1


@pytest.mark.django_db(transaction=True)
def test_an_event_written_while_the_transition_waits_for_the_lock_is_not_numbered_twice(loop):
    # given a case another connection holds locked while it writes an event of its own (as a merge into
    # it does: the row is locked, not changed)
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="02001", lon=lon,
                       lat=lat, description="占道经营").case
    locked, written = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                held = Case.objects.select_for_update().get(pk=case.pk)
                locked.set()
                event_write(case=held, kind="merge", actor=None, actor_role="SYSTEM", from_state=held.state,
                            to_state=held.state, note="held")
                written.wait(timeout=0.5)  # the other connection is now waiting for the row
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=10)
    # when the centre registers it meanwhile (its lock waits; the number it read with it is stale)
    case = case_transition(case=case, actor=loop.office, action="register")
    holder.join(timeout=30)
    # then the register is taken once, numbered after the other event
    assert case.state == CaseState.REGISTERED and case.version == 2
    assert _events_without_gaps(case) == ["report", "merge", "register"]

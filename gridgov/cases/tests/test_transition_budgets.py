"""Statement budgets of the five transitions of a case's usual path, taken the way `make bench` takes them
(`benchmarks/bench_cases.py`, part b): through `case_transition`, on its own transaction (not inside a
test's), the case as the previous step returned it, the settings' caches warm (a first case went through
before). The counts are deterministic: a change that adds a query per transition fails here.

Every statement counted, BEGIN and COMMIT included. What each one is:

- all five: the settings' versions (one read, before the transaction: `core.versioned`), BEGIN, the case
  locked with what the grants and the separation of duties ask of it (`SELECT … FOR UPDATE`: its last event
  number, whether it has stages, its assignees, the handlers of its rounds), the writes, COMMIT;
- the writes wait until the action is done and go together (`core.statements.rows_deferred`): on PostgreSQL
  one statement whatever they are (5 for every step); elsewhere one each:
  - register, accept, verify (pass): the case's UPDATE and the event's INSERT (6);
  - dispatch: the stages' INSERT (planned; the lock said there were none to read), the case, the event, the
    notice's INSERT (the named department's team, its members and the completion predicted from closed
    cases come from the process's caches, read before the transaction) (8);
  - report back: the open stages completed in one UPDATE (the lock said it has stages), the case, the
    event, the checkers' notice INSERT (the offices over the cell from the cache; who handled the round,
    never told to check it, from the lock) (8).
- Whether the actor is the assignee (accept), the separation of duties and the actor's roles on the cell
  (verify's ROLE grant) came with the lock and from the cache.

The caches are filled by the first case; `test_transition_facts.py` checks that what the lock reads answers
exactly as the reads it replaced.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.cases.models import CaseEvent, Channel, Notification
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop

WATER = {"kind": "DEPARTMENT", "department": "water"}
STEPS = (("register", "office", {}), ("dispatch", "office", {"assignee": WATER}), ("accept", "handler", {}),
         ("report_back", "handler", {}), ("verify_pass", "office", {}))
BUDGETS = {"postgresql": {"register": 5, "dispatch": 5, "accept": 5, "report_back": 5, "verify_pass": 5},
           "sqlite": {"register": 6, "dispatch": 8, "accept": 6, "report_back": 8, "verify_pass": 6}}


def _reported(loop, i: int):
    return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="02001",
                       lon=116.03 + i * 0.01, lat=40.03, description=f"占道经营 {i}").case


@pytest.mark.django_db(transaction=True)
def test_each_transition_of_the_usual_path_keeps_its_statement_budget(scheme, tree):
    # given a loop whose settings a first case has read into the caches
    loop = make_loop(scheme, tree)
    case = _reported(loop, 0)
    for action, who, kw in STEPS:
        case = case_transition(case=case, actor=getattr(loop, who), action=action, **kw)
    # when a second case goes the same way
    case = _reported(loop, 1)
    counts = {}
    for action, who, kw in STEPS:
        with CaptureQueriesContext(connection) as ctx:
            case = case_transition(case=case, actor=getattr(loop, who), action=action, **kw)
        counts[action] = len(ctx.captured_queries)
    # then each step took exactly its budget, and did all it does
    assert counts == BUDGETS[connection.vendor]
    assert case.state == CaseState.CLOSED
    assert list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("seq", "kind")) == [
        (1, "report"), (2, "register"), (3, "dispatch"), (4, "accept"), (5, "report_back"), (6, "verify_pass")]
    assert set(Notification.objects.filter(case=case).values_list("kind", "recipient_id")) == {
        ("dispatch", loop.handler.pk), ("report_back", loop.office.pk)}
    assert case.stages.filter(completed_at__isnull=False).count() == case.stages.count() > 0

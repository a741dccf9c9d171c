"""The statement budget of intake: a JSON `POST /api/cases/` with a matter, a point and an Idempotency-Key,
token-authenticated, is four SQL statements on PostgreSQL (six elsewhere) — and exactly these:

1. the token, its user and the user's person (`accounts.authentication`, one SELECT);
2. the counters of the per-process caches and the territory version (`core.versioned`, one SELECT):
   scheme, policy, catalogue, matter, spatial index and cell row come from the process's caches;
3. INSERT the case, its idempotency key (a retry stops here: the key's unique constraint) and its report
   event (seq 1: the case is new): one statement on PostgreSQL (`core.statements.rows_create`), three
   elsewhere;
4. SELECT the ids and points of open cases of the same matter in a box around the point (duplicates; the
   cases themselves are loaded only when one lies within the radius, and the caller's territory is read
   once per process until an assignment changes).

The answer is built from what was written (no reload). A retry with the same key answers the first case
in eleven on PostgreSQL (twelve elsewhere): the insert of the key fails, the key's case is read, then the
duplicates and the case with its details.

Counted on a database reached without a surrounding transaction (the caches never keep what they read
inside one), after a first report warmed the process's caches, with the rate-limit counters on a cache
outside the database as in production (Redis: docs/operations.md). The transaction's BEGIN and COMMIT
(or ROLLBACK) are counted apart: they carry no work.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from gridgov.cases.models import Case, CaseEvent, IntakeKey
from gridgov.cases.tests.factories import make_loop
from gridgov.territory.tests.factories import make_scheme, make_tree

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/cases/"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
INSERTS = ["cases_case", "cases_intakekey", "cases_caseevent"]


def writes() -> int:
    """The statements writing a case, its key and its event: one on PostgreSQL."""
    return 1 if connection.vendor == "postgresql" else 3


def inserts(statements: list[str]) -> list[str]:
    """The tables the statements insert into, in order (within a WITH too)."""
    return [table for s in statements for table in re.findall(r'INSERT INTO "(\w+)"', s)]


@pytest.fixture
def ratelimits_off_the_database(settings):
    settings.CACHES = {**settings.CACHES, settings.RATELIMIT_CACHE: {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "intake-budget"}}


@pytest.fixture
def office_client(ratelimits_off_the_database):
    scheme = make_scheme()
    loop = make_loop(scheme, make_tree(scheme))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=loop.office)[1]}")
    # a first report in the same cell, far from the next ones (4 km): the process's caches are warm
    warm = client.post(URL, body(loop, 116.01, 40.01), format="json", HTTP_IDEMPOTENCY_KEY="warm")
    assert warm.status_code == 201, warm.json()
    return loop, client


def body(loop, lon: float, lat: float) -> dict:
    return {"channel": "HOTLINE", "matter": "02001", "scheme": loop.scheme.key, "lon": lon, "lat": lat,
            "description": "占道经营"}


def post(client, data, key):
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY=key)
    sql = [q["sql"] for q in ctx.captured_queries]
    work = [s for s in sql if not s.upper().startswith(CONTROL)]
    return response, work, len(sql) - len(work)


def test_a_report_costs_six_statements(office_client):
    loop, client = office_client
    # when a hotline call is reported with a matter, a point and a key
    response, work, control = post(client, body(loop, 116.01, 40.05), "call-1")
    # then four statements did it on PostgreSQL (six elsewhere), in this order
    assert response.status_code == 201, response.json()
    assert len(work) == 3 + writes(), "\n".join(work)
    assert work[0].startswith("SELECT") and "knox_authtoken" in work[0] and "accounts_person" in work[0]
    assert "core_configversion" in work[1] and "territory_territoryversion" in work[1]
    assert inserts(work[2:2 + writes()]) == INSERTS
    assert work[-1].startswith("SELECT") and '"cases_case"' in work[-1]
    assert control == 2  # BEGIN, COMMIT (ROLLBACK)
    # and the answer is the case as it is stored, with the report event numbered 1
    case = Case.objects.get(pk=response.json()["id"])
    assert response.json()["number"] == case.number and response.json()["duplicates"] == []
    assert list(CaseEvent.objects.filter(case=case).values_list("seq", "kind")) == [(1, "report")]


def test_the_answer_built_from_what_was_written_is_the_stored_case(office_client):
    loop, client = office_client
    # given a report answered without reading the case again
    response, _work, _control = post(client, body(loop, 116.01, 40.05), "call-1")
    answer = response.json()
    # when the same case is read from the database
    stored = client.get(f"{URL}{answer['id']}/").json()
    # then both answers are the same, field for field
    assert {k: v for k, v in answer.items() if k != "duplicates"} == stored


def test_a_retry_with_the_same_key_costs_eleven_statements_and_creates_nothing(office_client):
    loop, client = office_client
    first, _work, _control = post(client, body(loop, 116.01, 40.05), "call-1")
    cases, keys = Case.objects.count(), IntakeKey.objects.count()
    # when the same report is sent again with the same key
    response, work, control = post(client, body(loop, 116.01, 40.05), "call-1")
    # then it answers the first case, creates nothing, and took: the token, the counters, the INSERT of the
    # case with its key (refused, rolled back: one statement on PostgreSQL, two elsewhere), the key with its
    # case, the duplicates, the case with its details (one SELECT and four of its related rows: stages,
    # photos, applications, escalations) and its events (whether the caller handled it, for the tracking code)
    assert response.status_code == 200 and response.json()["id"] == first.json()["id"]
    assert (Case.objects.count(), IntakeKey.objects.count()) == (cases, keys)
    refused = 1 if connection.vendor == "postgresql" else 2
    assert len(work) == 10 + refused, "\n".join(work)
    assert inserts(work[2:2 + refused])[:2] == INSERTS[:2]
    assert "cases_intakekey" in work[2 + refused] and work[2 + refused].startswith("SELECT")
    assert control == 2  # BEGIN, COMMIT (ROLLBACK)


def test_a_report_with_a_duplicate_nearby_reads_the_callers_scope_for_it(office_client):
    loop, client = office_client
    first, _work, _control = post(client, body(loop, 116.01, 40.05), "call-1")
    # when a second report of the same matter comes from 10 m away
    response, work, _control = post(client, body(loop, 116.01, 40.05009), "call-2")
    # then it is offered as a duplicate: two statements more, the duplicate loaded with its cell and the
    # caller's scope (a duplicate inside it is seen from its cell: no statement asks which ones it sees)
    assert response.status_code == 201
    assert [d["id"] for d in response.json()["duplicates"]] == [first.json()["id"]]
    assert len(work) == 5 + writes(), "\n".join(work)
    assert "accounts_assignment" in work[-1]
    # and a third one from there costs one statement more than a plain report: the caller's scope is kept
    # by the process (`accounts.selectors.user_scope_paths`) since the last one read it
    third, work, _control = post(client, body(loop, 116.01, 40.05005), "call-3")
    assert third.status_code == 201
    assert sorted(d["id"] for d in third.json()["duplicates"]) == sorted([first.json()["id"], response.json()["id"]])
    assert len(work) == 4 + writes(), "\n".join(work)
    assert not any("accounts_assignment" in s for s in work)

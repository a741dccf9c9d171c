"""Contract fuzzing of the cases API: schemathesis generates requests for /api/cases/... from our own
OpenAPI schema, sent as a street office (scoped, with the office's grants; tests/test_api_contract.py
fuzzes every endpoint as a superuser) over a loop that holds a few cases, and checks that no endpoint
answers 500 and that answers match the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from gridgov.cases.models import Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, png, point_in

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=r"^/api/cases/")


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """The WSGI app would close the database connection after each request (request_finished), which
    ends the test transaction on PostgreSQL; Django's own test client disconnects it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(scheme, tree):
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    first = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="01001", lon=lon, lat=lat,
                        description="井盖丢了", photos=[png()], reporter_phone="13812345678",
                        attributes={"problem": "missing"}).case
    first = case_transition(case=first, actor=loop.office, action="register")
    case_transition(case=first, actor=loop.office, action="dispatch",
                    assignee={"kind": "DEPARTMENT", "department": "water"})
    case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat, description="占道经营")
    return AuthToken.objects.create(user=loop.office)[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_cases_api_contract(case, token):
    # The same checks as tests/test_api_contract.py: no server error, documented status codes and
    # content types, answers matching the schema.
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
    ])

"""Contract fuzzing of the catalogue API: schemathesis generates requests for /api/catalogue/... from our
own OpenAPI schema, sent as a superuser over a small catalogue with a duty list and a pending request,
and checks that no endpoint answers 500 and that answers match the schema."""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
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
from gridgov.catalogue.admission import admission_apply, admission_decide
from gridgov.catalogue.tests.factories import make_catalogue, make_department, make_duty_list

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=r"^/api/catalogue/")


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
def token(scheme):
    user = get_user_model().objects.create_superuser("fuzz", password="Fuzz-pass-2026!")
    catalogue = make_catalogue()
    make_department(scheme)
    duty_list = make_duty_list(scheme)
    done = admission_apply(actor=user, duty_list=duty_list, matter=catalogue.matters.get(code="07002"), reason="请纳入")
    admission_decide(actor=user, request=done, approve=True)
    admission_apply(actor=user, duty_list=duty_list, matter=catalogue.matters.get(code="07008"), reason="请纳入")
    return AuthToken.objects.create(user=user)[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_catalogue_api_contract(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
    ])

"""Item 15: the API schema and its interactive documentation are for staff only in production."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse


@pytest.fixture
def clients(db):
    users = get_user_model().objects
    staff, member = Client(), Client()
    staff.force_login(users.create_user("operator", password="Operator-pass-2026", is_staff=True))
    member.force_login(users.create_user("resident", password="Resident-pass-2026", is_staff=False))
    return {"anonymous": Client(), "non-staff": member, "staff": staff}


@pytest.mark.parametrize("name", ["api-schema", "api-docs"])
def test_schema_and_docs_are_for_staff_only_when_configured(clients, settings, name):
    # given the production flag
    settings.API_DOCS_STAFF_ONLY = True
    # when / then
    assert clients["anonymous"].get(reverse(name)).status_code in (401, 403)
    assert clients["non-staff"].get(reverse(name)).status_code == 403
    assert clients["staff"].get(reverse(name)).status_code == 200


def test_schema_stays_open_in_development(clients, settings):
    settings.API_DOCS_STAFF_ONLY = False
    assert clients["anonymous"].get(reverse("api-schema")).status_code == 200

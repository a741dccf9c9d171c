"""Every list of the API pages with limit / offset kept inside what the database takes: a limit past 64 bits
(found by the contract fuzzing) was a 500 once rows existed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from gridgov.catalogue.admission import admission_apply
from gridgov.catalogue.tests.factories import make_catalogue, make_duty_list

pytestmark = pytest.mark.django_db

HUGE = "1110391807832199252697969881776128"  # > 2**64


@pytest.fixture
def client_with_rows(scheme, settings):
    settings.API_MAX_PAGE_SIZE = 2
    user = get_user_model().objects.create_superuser("pager", password="Pager-pass-2026!")
    catalogue = make_catalogue()
    duty_list = make_duty_list(scheme)
    for code in ("07002", "07008", "11002"):
        admission_apply(actor=user, duty_list=duty_list, matter=catalogue.matters.get(code=code), reason="请纳入")
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_limit_past_64_bits_gives_the_largest_page_not_a_500(client_with_rows):
    # when a client asks for more rows than any database can count
    res = client_with_rows.get("/api/catalogue/admission-requests/", {"limit": HUGE})
    # then it gets a page of API_MAX_PAGE_SIZE rows and the link to the next one
    assert res.status_code == 200
    body = res.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_an_offset_past_64_bits_reads_an_empty_page_not_a_500(client_with_rows):
    res = client_with_rows.get("/api/catalogue/admission-requests/", {"offset": HUGE, "limit": "1"})
    assert res.status_code == 200
    assert res.json()["results"] == []

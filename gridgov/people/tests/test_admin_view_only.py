"""Staff who may only view residents, households and legal entities open their admin change pages:
every field read-only and masked, never a 500 (the write-only inputs have nothing to show)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.formats import date_format

from gridgov.accounts.tests.factories import make_revealing_role, make_staff
from gridgov.people import services
from gridgov.people.tests.factories import credit_code, make_household, make_resident

pytestmark = pytest.mark.django_db

NAME, PHONE = "孙悟空", "13698765432"


@pytest.fixture
def records(scheme, tree):
    household, _ = make_household(scheme, tree["g1"])
    resident = make_resident(scheme, tree["g1"], name=NAME, phone=PHONE, household=household, relation="CHILD")
    entity = services.entity_create(scheme=scheme, name="白云商店", credit_code=credit_code(), node=tree["g1"],
                                    representative="唐三藏", phone="13612345678")
    return {"resident": resident, "household": household, "legalentity": entity}


@pytest.mark.parametrize("model", ["resident", "household", "legalentity"])
def test_view_only_staff_see_the_change_page_read_only(tree, records, model):
    # given staff of g1 holding only the view permission
    viewer = make_staff(tree["g1"], perms=(f"people.view_{model}",))
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    obj = records[model]

    # when
    res = client.get(reverse(f"admin:people_{model}_change", args=[obj.pk]))

    # then a read-only page: no inputs to write, nothing personal in clear
    html = res.content.decode()
    assert res.status_code == 200
    assert 'name="new_phone"' not in html and 'name="expected_version"' not in html
    assert PHONE not in html and "13612345678" not in html and NAME not in html


def test_a_view_only_post_is_refused_not_written(tree, records):
    viewer = make_staff(tree["g1"], perms=("people.view_resident",))
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    resident = records["resident"]
    res = client.post(reverse("admin:people_resident_change", args=[resident.pk]), {"new_phone": "13900000000"})
    assert res.status_code == 403
    resident.refresh_from_db()
    assert resident.version == records["resident"].version


def test_the_birth_date_shows_on_the_change_page_only_where_the_user_may_reveal(scheme, tree, records):
    # given a resident (masked ID number on the page) and two staff of g1 who may view residents: one
    # in a role that reveals personal data, one not
    resident = records["resident"]
    born = date_format(resident.birth_date)  # as the admin shows a read-only date
    revealer = make_staff(tree["g1"], role=make_revealing_role(scheme, "reveal_staff", levels=("grid",)),
                          perms=("people.view_resident",))
    viewer = make_staff(tree["g1"], perms=("people.view_resident",))
    url = reverse("admin:people_resident_change", args=[resident.pk])

    def page(user) -> str:
        client = Client(raise_request_exception=False)
        client.force_login(user)
        res = client.get(url)
        assert res.status_code == 200
        return res.content.decode()

    # when / then: the birth date beside the mask would give the whole ID number away, so only the
    # revealer is shown it
    assert born in page(revealer)
    assert born not in page(viewer) and "birth date" not in page(viewer).lower()

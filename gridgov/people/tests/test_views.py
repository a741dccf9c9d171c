"""Pages of base data: scoped (404 outside), masked, no personal data in URLs, reveal logged and refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.people import services
from gridgov.people.history import record_history
from gridgov.people.models import GroupMembership, SpecialGroup
from gridgov.people.tests.factories import credit_code, id_number, make_house, make_household, make_resident
from gridgov.privacy.masking import mask_name
from gridgov.privacy.models import AccessLog

pytestmark = pytest.mark.django_db

NUMBER = id_number(birth=dt.date(1975, 3, 4))
PHONE = "13912345678"
NAME = "王小明"
OTHER_NUMBER = id_number(birth=dt.date(1988, 8, 8))
ADDRESS = "白云寺村幸福路18号3单元502"


@pytest.fixture
def data(scheme, tree):
    house = make_house(scheme, tree["g1"], address=ADDRESS)
    household, people = make_household(scheme, tree["g1"], members=1, house=house, address=ADDRESS)
    resident = make_resident(scheme, tree["g1"], name=NAME, id_number=NUMBER, phone=PHONE, household=household,
                             relation="CHILD", actual_address=ADDRESS)
    services.membership_add(resident=resident, group=SpecialGroup.objects.get(key="disabled"),
                            start_date=dt.date(2022, 1, 1))
    services.membership_add(resident=resident, group=SpecialGroup.objects.get(key="key_person"),
                            start_date=dt.date(2022, 1, 1))
    elsewhere = make_resident(scheme, tree["g2"], name="赵六六", id_number=OTHER_NUMBER)
    entity = services.entity_create(scheme=scheme, name="白云商店", credit_code=credit_code(), node=tree["g2"],
                                    representative="钱老板", phone="13700001111")
    return {"house": house, "household": household, "resident": resident, "elsewhere": elsewhere,
            "entity": entity, "head": people[0]}


@pytest.fixture
def revealer_role(scheme):
    role = make_role(scheme, key="grid_worker_reveal", levels=("grid", "community"))
    role.reveals_personal_data = True
    role.save()
    return role


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_no_clear_data(html: str):
    assert NUMBER not in html and PHONE not in html and NAME not in html
    assert "幸福路18号" not in html


def test_pages_need_a_login(tree):
    res = Client().get(reverse("people:cell", args=[tree["g1"].pk]))
    assert res.status_code == 302 and res["Location"].startswith(reverse("login"))


def test_cell_page_shows_figures_and_children_within_scope(tree, data):
    # given someone in charge of the community
    client = client_for(make_staff(tree["community"]))
    # when
    res = client.get(reverse("people:cell", args=[tree["community"].pk]))
    # then
    html = res.content.decode()
    assert res.status_code == 200 and res["Cache-Control"].startswith("max-age=0") and "no-store" in res["Cache-Control"]
    assert tree["g1"].name in html and tree["g2"].name in html
    assert reverse("people:residents", args=[tree["g1"].pk]) + "?registered=yes" in html
    # the breadcrumb stops at the top of their scope
    assert tree["district"].name not in html
    index = client.get(reverse("people:index")).content.decode()
    assert reverse("people:cell", args=[tree["community"].pk]) in index


def test_cells_and_records_outside_the_territory_are_not_found(tree, data):
    client = client_for(make_staff(tree["g1"]))
    assert client.get(reverse("people:cell", args=[tree["g1"].pk])).status_code == 200
    for url in [reverse("people:cell", args=[tree["community"].pk]),
                reverse("people:residents", args=[tree["g2"].pk]),
                reverse("people:resident", args=[data["elsewhere"].pk]),
                reverse("people:entity", args=[data["entity"].pk]),
                reverse("people:reveal", args=["resident", data["elsewhere"].pk])]:
        assert client.get(url).status_code == 404, url


def test_lists_are_masked_filtered_and_paginated(tree, data):
    client = client_for(make_staff(tree["community"]))
    residents = reverse("people:residents", args=[tree["community"].pk])
    res = client.get(residents)
    html = res.content.decode()
    assert res.status_code == 200
    assert_no_clear_data(html)
    assert mask_name(NAME) in html and data["resident"].id_masked in html and "139****5678" in html
    assert "赵*" in html  # g2 is in the community too
    # filters on non-personal fields
    html = client.get(residents + "?group=disabled").content.decode()
    assert mask_name(NAME) in html and "赵*" not in html
    html = client.get(residents + "?state=MOVED_OUT").content.decode()
    assert mask_name(NAME) not in html
    # a sensitive group is not offered to someone who may not reveal
    assert "filters are not valid" in client.get(residents + "?group=key_person").content.decode()
    for name in ("households", "houses", "entities"):
        res = client.get(reverse(f"people:{name}", args=[tree["community"].pk]))
        assert res.status_code == 200
        html = res.content.decode()
        assert_no_clear_data(html)
        assert "钱老板" not in html and "13700001111" not in html
    assert "白云商店" in html and "钱**" in html


def test_exact_search_is_posted_and_never_echoed(tree, data, revealer_role):
    client = client_for(make_staff(tree["g1"], role=revealer_role))
    url = reverse("people:residents", args=[tree["g1"].pk])
    res = client.post(url, {"by": "id_number", "value": NUMBER, "purpose": "入户走访核实"})
    html = res.content.decode()
    assert res.status_code == 200 and "no-store" in res["Cache-Control"]
    assert reverse("people:resident", args=[data["resident"].pk]) in html.split("All residents")[0]
    assert_no_clear_data(html)
    res = client.post(url, {"by": "phone", "value": PHONE, "purpose": "入户走访核实"})
    assert reverse("people:resident", args=[data["resident"].pk]) in res.content.decode().split("All residents")[0]
    # someone outside g1 is not found by their number
    other = client.post(url, {"by": "id_number", "value": OTHER_NUMBER, "purpose": "入户走访核实"}).content.decode()
    assert "No resident." in other.split("All residents")[0] and OTHER_NUMBER not in other
    # a mistyped number is named as such, without repeating it
    typo = client.post(url, {"by": "id_number", "value": NUMBER[:17] + ("0" if NUMBER[17] != "0" else "1"),
                             "purpose": "入户走访核实"})
    assert "check digit" in typo.content.decode() and NUMBER[:17] not in typo.content.decode()


def test_detail_pages_are_masked_and_show_history(tree, data):
    client = client_for(make_staff(tree["g1"]))
    res = client.get(reverse("people:resident", args=[data["resident"].pk]))
    html = res.content.decode()
    assert res.status_code == 200 and "no-store" in res["Cache-Control"]
    assert_no_clear_data(html)
    assert data["household"].number in html and mask_name("张三") in html  # the household's members, masked
    assert "Disabled person" in html and "Key person" not in html  # sensitive membership hidden from non-revealers
    assert "Created" in html
    assert 'hx-get="' + reverse("people:reveal", args=["resident", data["resident"].pk]) not in html
    for name, obj in (("household", data["household"]), ("house", data["house"])):
        html = client.get(reverse(f"people:{name}", args=[obj.pk])).content.decode()
        assert_no_clear_data(html)
        assert mask_name(NAME) in html


def test_as_of_shows_the_record_as_it_was(tree, data):
    # given a resident whose address changed after their record was created ten days ago
    resident = data["resident"]
    services.resident_update(resident=resident, actual_address="城关镇新华街1号", registered_here=False)
    first = record_history(resident).first()
    type(first).objects.filter(pk=first.pk).update(at=first.at - dt.timedelta(days=10))
    client = client_for(make_staff(tree["g1"]))
    url = reverse("people:resident", args=[resident.pk])
    # when
    past = client.get(url + "?as_of=" + (dt.date.today() - dt.timedelta(days=5)).isoformat()).content.decode()
    before = client.get(url + "?as_of=" + (dt.date.today() - dt.timedelta(days=20)).isoformat()).content.decode()
    # then
    as_of = past.split('class="as-of"')[1].split("</div>")[0]
    assert "白云寺村幸福****" in as_of and "城关镇新华街" not in as_of and "version 1" in as_of
    assert_no_clear_data(past)
    assert "did not exist yet" in before
    assert "Give the date" in client.get(url + "?as_of=yesterday").content.decode()


def test_reveal_is_logged_and_sent_as_an_uncached_fragment(tree, data, revealer_role):
    # given a grid worker whose role may reveal
    user = make_staff(tree["g1"], role=revealer_role)
    client = client_for(user)
    detail = client.get(reverse("people:resident", args=[data["resident"].pk])).content.decode()
    url = reverse("people:reveal", args=["resident", data["resident"].pk])
    assert f'hx-get="{url}"' in detail and "Key person" in detail
    form = client.get(url, headers={"HX-Request": "true"})
    assert form.status_code == 200 and "<html" not in form.content.decode() and 'name="purpose"' in form.content.decode()
    # when a purpose too short is given, nothing is revealed nor logged
    res = client.post(url, {"purpose": "x", "which": ["id_number"]}, headers={"HX-Request": "true"})
    assert "state why" in res.content.decode() and NUMBER not in res.content.decode()
    assert not AccessLog.objects.exists()
    # when the purpose is stated
    res = client.post(url, {"purpose": "入户走访核实身份", "which": ["id_number", "phone"]},
                      headers={"HX-Request": "true"})
    # then the clear values come back, uncached, and each field's reveal is logged
    html = res.content.decode()
    assert res.status_code == 200 and "no-store" in res["Cache-Control"]
    assert NUMBER in html and PHONE in html and NAME not in html and "<html" not in html
    assert sorted(AccessLog.objects.values_list("user", "record_id", "fields", "purpose")) == [
        (user.pk, data["resident"].pk, "id_number", "入户走访核实身份"),
        (user.pk, data["resident"].pk, "phone", "入户走访核实身份")]
    # without htmx the same answer is a whole page
    page = client.post(url, {"purpose": "入户走访核实身份", "which": ["name"]})
    assert "<html" in page.content.decode() and NAME in page.content.decode()


def test_reveal_is_refused_without_the_role(tree, data, revealer_role):
    plain = client_for(make_staff(tree["g1"]))
    url = reverse("people:reveal", args=["resident", data["resident"].pk])
    assert plain.get(url).status_code == 403
    assert plain.post(url, {"purpose": "入户走访核实身份", "which": ["id_number"]}).status_code == 403
    # a revealer of another grid does not even find the record
    other = client_for(make_staff(tree["g2"], role=revealer_role))
    assert other.post(url, {"purpose": "入户走访核实身份", "which": ["id_number"]}).status_code == 404
    assert not AccessLog.objects.exists()
    assert GroupMembership.objects.count() == 2

"""Admin of base data: masked and scoped, writes through the services, logs read-only for everyone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gridgov.accounts.tests.factories import make_staff
from gridgov.people.history import record_history
from gridgov.people.models import RecordHistory, Resident
from gridgov.people.tests.factories import id_number, make_household, make_resident
from gridgov.privacy.access import personal_data_reveal
from gridgov.privacy.models import AccessLog

pytestmark = pytest.mark.django_db

NUMBER = id_number(birth=dt.date(1966, 6, 6))
PHONE = "13698765432"
NAME = "孙悟空"


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.org", "Grid-demo-2026!")


@pytest.fixture
def people(scheme, tree):
    household, _ = make_household(scheme, tree["g1"])
    resident = make_resident(scheme, tree["g1"], name=NAME, id_number=NUMBER, phone=PHONE, household=household,
                             relation="CHILD", actual_address="白云寺村花果山路9号")
    other = make_resident(scheme, tree["g2"], name="猪八戒")
    return {"resident": resident, "other": other, "household": household}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_masked(html: str):
    assert NAME not in html and NUMBER not in html and PHONE not in html and "花果山路9号" not in html


def resident_post(resident, **changes) -> dict:
    data = {"node": resident.node_id, "household": resident.household_id or "", "relation": resident.relation,
            "house": resident.house_id or "", "registered_here": "on" if resident.registered_here else "",
            "living_here": "on" if resident.living_here else "", "moved_in_date": "", "lon": "", "lat": "",
            "attributes": "{}", "state": resident.state, "state_date": "", "state_reason": "",
            "expected_version": resident.version, "new_name": "", "new_id_number": "", "new_phone": "",
            "new_registered_address": "", "new_actual_address": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_resident_changelist_and_change_form_are_masked(superuser, people):
    client = client_for(superuser)
    res = client.get(reverse("admin:people_resident_changelist"))
    html = res.content.decode()
    assert res.status_code == 200
    assert_masked(html)
    assert "孙**" in html and people["resident"].id_masked in html
    assert "id_sealed" not in html and "digest" not in html
    res = client.get(reverse("admin:people_resident_change", args=[people["resident"].pk]))
    html = res.content.decode()
    assert res.status_code == 200
    assert_masked(html)
    assert "136****5432" in html and 'name="new_phone"' in html


def test_resident_change_goes_through_the_service(superuser, people):
    # given
    resident = people["resident"]
    client = client_for(superuser)
    url = reverse("admin:people_resident_change", args=[resident.pk])
    # when a phone and a flag are changed in the admin
    res = client.post(url, resident_post(resident, new_phone="13511112222", living_here=""))
    # then the service wrote them, with the history
    assert res.status_code == 302, res.content.decode()[:3000]
    resident.refresh_from_db()
    assert (resident.phone_masked, resident.living_here, resident.version) == ("135****2222", False, 2)
    last = list(record_history(resident))[-1]
    assert last.source == "admin" and "phone_masked" in last.changed and "living_here" in last.changed
    # when a stale version or a bad ID number is sent, the service refuses and names the field
    res = client.post(url, resident_post(resident, expected_version=1, new_name="孙行者"))
    assert res.status_code == 200 and "someone else changed" in res.content.decode()
    res = client.post(url, resident_post(resident, new_id_number="110105194912310021"))
    html = res.content.decode()
    assert res.status_code == 200 and "check digit" in html and "110105194912310021" not in html
    # a state change is dated
    res = client.post(url, resident_post(resident, state="MOVED_OUT", state_date=timezone.localdate().isoformat()))
    assert res.status_code == 302
    assert Resident.objects.get(pk=resident.pk).state == "MOVED_OUT"


def test_resident_add_goes_through_the_service(superuser, scheme, tree):
    client = client_for(superuser)
    number = id_number()
    res = client.post(reverse("admin:people_resident_add"), {
        "scheme": scheme.pk, "new_name": "唐三藏", "new_id_number": number, "new_phone": "13800001234",
        "node": tree["g2"].pk, "registered_here": "on", "living_here": "on", "attributes": "{}"})
    assert res.status_code == 302, res.content.decode()[:3000]
    resident = Resident.objects.get(name="唐三藏")
    assert resident.id_masked.endswith(number[-4:]) and resident.node == tree["g2"]
    assert [h.source for h in record_history(resident)] == ["admin"]


def test_non_superusers_see_their_territory_only(tree, people):
    worker = make_staff(tree["g1"], perms=["people.view_resident", "people.change_resident",
                                           "people.view_recordhistory"])
    client = client_for(worker)
    html = client.get(reverse("admin:people_resident_changelist")).content.decode()
    assert "孙**" in html and "猪**" not in html
    res = client.get(reverse("admin:people_resident_change", args=[people["other"].pk]))
    assert res.status_code == 302  # "does not exist", back to the index
    history = client.get(reverse("admin:people_recordhistory_changelist"))
    assert history.status_code == 200
    assert_masked(history.content.decode())
    seen = {(h.record_type, h.record_id) for h in history.context["cl"].queryset}
    assert ("resident", people["resident"].pk) in seen and ("resident", people["other"].pk) not in seen


def test_access_log_and_history_cannot_be_changed_even_by_a_superuser(superuser, tree, people):
    personal_data_reveal(user=superuser, record=people["resident"], fields=["phone"], purpose="核对联系电话")
    entry = AccessLog.objects.get()
    history = RecordHistory.objects.first()
    client = client_for(superuser)
    assert client.get(reverse("admin:privacy_accesslog_change", args=[entry.pk])).status_code == 200
    assert client.post(reverse("admin:privacy_accesslog_change", args=[entry.pk]),
                       {"purpose": "nothing"}).status_code == 403
    assert client.get(reverse("admin:privacy_accesslog_add")).status_code == 403
    assert client.post(reverse("admin:privacy_accesslog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert client.post(reverse("admin:people_recordhistory_delete", args=[history.pk]),
                       {"post": "yes"}).status_code == 403
    assert AccessLog.objects.get(pk=entry.pk).purpose == "核对联系电话"
    # nor can a base record be deleted (it changes state instead)
    assert client.post(reverse("admin:people_resident_delete", args=[people["resident"].pk]),
                       {"post": "yes"}).status_code == 403
    assert_masked(client.get(reverse("admin:people_recordhistory_change", args=[history.pk])).content.decode())


def test_every_people_admin_page_renders(superuser, people):
    client = client_for(superuser)
    for model in ("building", "house", "household", "resident", "legalentity", "specialgroup", "groupmembership",
                  "partymember", "householdpairing", "volunteer", "recordhistory", "datajob"):
        assert client.get(reverse(f"admin:people_{model}_changelist")).status_code == 200, model
        if model not in ("recordhistory", "datajob"):
            assert client.get(reverse(f"admin:people_{model}_add")).status_code == 200, model
    assert client.get(reverse("admin:privacy_accesslog_changelist")).status_code == 200
    res = client.get(reverse("admin:people_household_change", args=[people["household"].pk]))
    assert res.status_code == 200

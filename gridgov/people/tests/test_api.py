"""The base-data API: masked by default, reveal logged, scope as 404, searches in the body, writes with
optimistic concurrency, states, erasure, history and as-of views."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.accounts import services as accounts_services
from gridgov.accounts.tests.factories import api_client_for, make_revealing_role, make_staff
from gridgov.people import services
from gridgov.people.history import record_history
from gridgov.people.models import GroupMembership, RecordHistory, Resident, SpecialGroup
from gridgov.people.tests.factories import id_number, make_household, make_resident
from gridgov.privacy.models import AccessLog

READ = ["people.view_resident", "people.view_household", "people.view_house", "people.view_building",
        "people.view_legalentity", "people.view_groupmembership", "people.view_partymember",
        "people.view_volunteer"]
WRITE = [*READ, "people.add_resident", "people.change_resident", "people.add_household", "people.change_household",
         "people.add_partymember", "people.add_householdpairing", "people.add_volunteer"]
PURPOSE = "入户走访核实"


@pytest.fixture
def people(scheme, tree):
    """A household in g1 (head 王建国 with a phone) and a resident in g2."""
    head_number = id_number(birth=dt.date(1950, 3, 4))
    household = services.household_create(scheme=scheme, node=tree["g1"], number="HH-API-1",
                                          address="白云寺村3排12号")
    head = services.resident_create(scheme=scheme, name="王建国", id_number=head_number, household=household,
                                    relation="HEAD", phone="13912345678", actual_address="白云寺村3排12号")
    other = make_resident(scheme, tree["g2"], name="赵小红", phone="13698765432")
    return {"household": household, "head": head, "head_number": head_number, "other": other}


def assert_no_personal_data(content: bytes, *values: str) -> None:
    text = content.decode()
    for value in values:
        assert value not in text, "personal value in clear in the response"


# -------------------------------------------------------------------------------------------- masking
def test_every_read_is_masked(scheme, tree, people):
    # given a worker in charge of the community, allowed to read everything, and one who may also reveal
    user = make_staff(tree["community"], perms=READ)
    client = api_client_for(user)
    revealer = api_client_for(make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ))
    head = people["head"]
    secrets = (people["head_number"], "13912345678", "王建国", "3排12号")
    # when they read lists, details, the household with its members and a search
    answers = [
        client.get("/api/people/residents/"),
        client.get(f"/api/people/residents/{head.pk}/"),
        client.get("/api/people/households/"),
        client.get(f"/api/people/households/{people['household'].pk}/"),
        revealer.post("/api/people/residents/search/", {"id_number": people["head_number"], "purpose": PURPOSE},
                      format="json"),
    ]
    # then every answer is masked, and no sealed or digest column leaves the server
    for response in answers:
        assert response.status_code == 200
        assert_no_personal_data(response.content, *secrets)
        assert b"_sealed" not in response.content and b"_digest" not in response.content
    detail = answers[1].json()
    assert detail["name"] == "王**" and detail["phone"] == "139****5678"
    assert detail["id_number"] == people["head_number"][:6] + "********" + people["head_number"][-4:]
    # what the ID number's mask hides is not listed beside it to a user who may not reveal
    assert detail["birth_year"] is None and detail["age_band"] == "" and "birth_date" not in detail
    assert answers[3].json()["members"][0]["birth_year"] is None
    assert revealer.get(f"/api/people/residents/{head.pk}/").json()["birth_year"] == 1950
    assert answers[3].json()["members"][0]["name"] == "王**"
    assert answers[4].json()["count"] == 1


def test_personal_data_in_a_query_string_is_refused(tree, people):
    client = api_client_for(make_staff(tree["community"], perms=READ))
    for param in ("id_number", "phone", "name"):
        response = client.get("/api/people/residents/", {param: "x"})
        assert response.status_code == 400 and param in response.json()


def test_search_in_the_body_by_id_number_phone_and_name(scheme, tree, people):
    # given a worker who may reveal in the community
    client = api_client_for(make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ))
    # when / then
    by_phone = client.post("/api/people/residents/search/", {"phone": "139 1234 5678", "purpose": PURPOSE},
                           format="json").json()
    assert [r["id"] for r in by_phone["results"]] == [people["head"].pk]
    by_prefix = client.post("/api/people/residents/search/", {"name": "赵", "name_prefix": True, "purpose": PURPOSE},
                            format="json").json()
    assert [r["id"] for r in by_prefix["results"]] == [people["other"].pk]
    assert client.post("/api/people/residents/search/", {"name": "赵", "purpose": PURPOSE},
                       format="json").json()["count"] == 0
    bad = client.post("/api/people/residents/search/", {"id_number": "123", "purpose": PURPOSE}, format="json")
    assert bad.status_code == 400 and "id_number" in bad.json() and "123" not in bad.content.decode()


def test_generated_links_carry_no_personal_data(tree, people):
    client = api_client_for(make_staff(tree["community"], perms=READ))
    response = client.get("/api/people/residents/", {"limit": 1, "cell": tree["community"].pk, "state": "ACTIVE"})
    body = response.json()
    assert body["count"] == 2 and body["next"]
    assert_no_personal_data(body["next"].encode(), people["head_number"], "13912345678", "王建国")
    assert set(body["next"].split("?")[1].split("&")) == {"limit=1", "offset=1", f"cell={tree['community'].pk}",
                                                          "state=ACTIVE"}


def test_list_filters_on_cell_subtree_and_birth_year(scheme, tree, people):
    client = api_client_for(make_staff(tree["community"], perms=READ))
    in_g1 = client.get("/api/people/residents/", {"cell": tree["g1"].pk}).json()
    assert [r["id"] for r in in_g1["results"]] == [people["head"].pk]
    # the birth year is what the ID number's mask hides: only a user who may reveal filters on it
    refused = client.get("/api/people/residents/", {"birth_year_max": 1960})
    assert refused.status_code == 400 and "birth_year_max" in refused.json()
    revealer = api_client_for(make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ))
    old = revealer.get("/api/people/residents/", {"birth_year_max": 1960}).json()
    assert [r["id"] for r in old["results"]] == [people["head"].pk]


# ----------------------------------------------------------------------------------------------- reveal
def test_reveal_is_logged_with_its_purpose(scheme, tree, people):
    # given a worker whose role may reveal, in charge of the community
    user = make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ)
    head = people["head"]
    # when
    response = api_client_for(user).post(f"/api/people/residents/{head.pk}/reveal/",
                                     {"fields": ["phone", "id_number"], "purpose": PURPOSE}, format="json")
    # then
    assert response.status_code == 200
    assert response.json()["values"] == {"phone": "13912345678", "id_number": people["head_number"]}
    log = AccessLog.objects.filter(user=user).order_by("fields")
    assert [(e.kind, e.record_id, e.fields, e.purpose, e.remote_addr) for e in log] == [
        ("REVEAL", head.pk, "id_number", PURPOSE, "127.0.0.1"), ("REVEAL", head.pk, "phone", PURPOSE, "127.0.0.1")]


def test_reveal_refused_without_a_revealing_role_or_outside_its_cells(scheme, tree, people):
    head = people["head"]
    url = f"/api/people/residents/{head.pk}/reveal/"
    # given a worker whose role may not reveal
    plain = api_client_for(make_staff(tree["community"], perms=READ))
    # when / then: a 403 with the reason, and nothing logged
    refused = plain.post(url, {"purpose": PURPOSE}, format="json")
    assert refused.status_code == 403 and "may not reveal" in refused.json()["detail"]
    # given a worker who sees the community but may reveal only in g2
    user = make_staff(tree["community"], perms=READ)
    accounts_services.assignment_create(person=user.person, node=tree["g2"], role=make_revealing_role(scheme))
    assert api_client_for(user).post(url, {"purpose": PURPOSE}, format="json").status_code == 403
    assert api_client_for(user).post(f"/api/people/residents/{people['other'].pk}/reveal/", {"purpose": PURPOSE},
                                 format="json").status_code == 200
    # a missing purpose is a 400 naming it
    missing = api_client_for(user).post(f"/api/people/residents/{people['other'].pk}/reveal/", {}, format="json")
    assert missing.status_code == 400 and "purpose" in missing.json()
    assert AccessLog.objects.filter(record_id=head.pk).count() == 0


def test_outside_the_territory_is_404(scheme, tree, people):
    # given a worker of g2 with every right, asking about the g1 household head
    user = make_staff(tree["g2"], role=make_revealing_role(scheme), perms=[*WRITE, "people.erase_personal_data"])
    client = api_client_for(user)
    pk = people["head"].pk
    # when / then
    assert client.get(f"/api/people/residents/{pk}/").status_code == 404
    assert client.get(f"/api/people/residents/{pk}/", {"as_of": "2024-01-01"}).status_code == 404
    assert client.get(f"/api/people/residents/{pk}/history/").status_code == 404
    assert client.post(f"/api/people/residents/{pk}/reveal/", {"purpose": PURPOSE}, format="json").status_code == 404
    assert client.post(f"/api/people/residents/{pk}/state/", {"state": "DECEASED", "date": "2024-01-01"},
                       format="json").status_code == 404
    assert client.post(f"/api/people/residents/{pk}/erase/", {"reason": "本人申请删除"},
                       format="json").status_code == 404
    assert client.get(f"/api/people/households/{people['household'].pk}/").status_code == 404
    assert [r["id"] for r in client.get("/api/people/residents/").json()["results"]] == [people["other"].pk]


# ------------------------------------------------------------------------------------------------ writes
def test_create_echoes_masked_and_stale_versions_are_refused(scheme, tree):
    # given
    client = api_client_for(make_staff(tree["community"], perms=WRITE))
    number = id_number(birth=dt.date(1990, 1, 2))
    # when a resident is created with the clear ID number in the body
    created = client.post("/api/people/residents/", {"node": tree["g1"].pk, "name": "孙悟空", "id_number": number,
                                                     "phone": "13800001111"}, format="json")
    # then it is answered masked
    assert created.status_code == 201, created.json()
    assert_no_personal_data(created.content, number, "13800001111", "孙悟空")
    body = created.json()
    assert (body["version"], body["node"], body["gender"]) == (1, tree["g1"].pk, "M")
    # when two people change it from version 1
    url = f"/api/people/residents/{body['id']}/"
    first = client.patch(url, {"version": 1, "actual_address": "白云寺村5号"}, format="json")
    second = client.patch(url, {"version": 1, "living_here": False}, format="json")
    # then the second is a 400 on `version`
    assert first.status_code == 200 and first.json()["version"] == 2
    assert second.status_code == 400 and "version" in second.json()
    assert Resident.objects.get(pk=body["id"]).living_here is True


def test_writes_need_the_model_permissions_and_cells_in_scope(scheme, tree):
    reader = api_client_for(make_staff(tree["g1"], perms=READ))
    assert reader.post("/api/people/households/", {"node": tree["g1"].pk, "number": "X1"},
                       format="json").status_code == 403
    assert api_client_for(make_staff(tree["g1"])).get("/api/people/residents/").status_code == 403
    writer = api_client_for(make_staff(tree["g1"], perms=WRITE))
    outside = writer.post("/api/people/households/", {"node": tree["g2"].pk, "number": "X1"}, format="json")
    assert outside.status_code == 400 and "node" in outside.json()
    located = writer.post("/api/people/households/", {"scheme": scheme.key, "lon": 116.07, "lat": 40.05,
                                                      "number": "X2"}, format="json")
    assert located.status_code == 400 and "node" in located.json()  # the point lies in g2
    inside = writer.post("/api/people/households/", {"scheme": scheme.key, "lon": 116.02, "lat": 40.05,
                                                     "number": "X3", "address": "北京市平谷区白云寺村8号"}, format="json")
    assert inside.status_code == 201 and inside.json()["node"] == tree["g1"].pk
    assert "8号" not in inside.content.decode()


def test_state_change(tree, people):
    client = api_client_for(make_staff(tree["community"], perms=WRITE))
    head = people["head"]
    today = timezone.localdate().isoformat()
    response = client.post(f"/api/people/residents/{head.pk}/state/",
                           {"state": "MOVED_OUT", "date": today, "reason": "迁往城区"}, format="json")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["state_date"]) == ("MOVED_OUT", today)
    refused = client.post(f"/api/people/residents/{head.pk}/state/", {"state": "DEMOLISHED", "date": today},
                          format="json")
    assert refused.status_code == 400 and "state" in refused.json()


def test_erasure_needs_its_permission(tree, people):
    pk = people["other"].pk
    plain = api_client_for(make_staff(tree["community"], perms=WRITE))
    refused = plain.post(f"/api/people/residents/{pk}/erase/", {"reason": "本人依法申请删除"}, format="json")
    assert refused.status_code == 403
    officer = api_client_for(make_staff(tree["community"], perms=[*WRITE, "people.erase_personal_data"]))
    assert officer.post(f"/api/people/residents/{pk}/erase/", {"reason": "本人依法申请删除"},
                        format="json").status_code == 204
    assert officer.get(f"/api/people/residents/{pk}/").status_code == 404
    assert AccessLog.objects.filter(kind="ERASE", record_id=pk).count() == 1


# ------------------------------------------------------------------------------------- history, as of
def test_history_and_as_of_are_masked(tree, people):
    # given a resident whose address changed after a first write ten days ago
    user = make_staff(tree["community"], perms=WRITE)
    client = api_client_for(user)
    head = people["head"]
    client.patch(f"/api/people/residents/{head.pk}/", {"version": 1, "actual_address": "金海湖镇新区9号楼"},
                 format="json")
    first = record_history(head).order_by("version").first()
    RecordHistory.objects.filter(pk=first.pk).update(at=first.at - dt.timedelta(days=10))
    # when
    history = client.get(f"/api/people/residents/{head.pk}/history/")
    past = client.get(f"/api/people/residents/{head.pk}/", {"as_of": str(timezone.localdate() - dt.timedelta(days=5))})
    before = client.get(f"/api/people/residents/{head.pk}/", {"as_of": str(timezone.localdate() - dt.timedelta(days=20))})
    # then the history names who, when, what changed, and no value
    rows = history.json()
    assert [(r["version"], r["action"], r["actor"]) for r in rows] == [(1, "CREATE", None),
                                                                       (2, "UPDATE", user.username)]
    assert rows[1]["changed"] == ["actual_address"] and rows[1]["source"] == "api"
    assert_no_personal_data(history.content, "金海湖镇新区", "白云寺村3排12号", "王建国")
    # and the past state is the first address, masked
    assert past.status_code == 200 and past.json()["version"] == 1
    assert past.json()["actual_address"].startswith("白云寺村") and past.json()["name"] == "王**"
    assert_no_personal_data(past.content, "3排12号", people["head_number"], "13912345678", "王建国")
    assert before.status_code == 404
    assert client.get(f"/api/people/residents/{head.pk}/", {"as_of": "soon"}).status_code == 400


# --------------------------------------------------------------------------- groups, pairings, volunteers
def test_sensitive_group_membership_only_where_one_may_reveal(scheme, tree, people):
    # given the head is in a sensitive group
    group = SpecialGroup.objects.create(key="key_person_t", name_zh="重点人员", sensitive=True)
    services.membership_add(resident=people["head"], group=group, start_date=dt.date(2024, 1, 1))
    plain = api_client_for(make_staff(tree["community"], perms=READ))
    revealer = api_client_for(make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ))
    url = f"/api/people/residents/{people['head'].pk}/"
    # when / then: hidden from a role that may not reveal, everywhere it could show
    assert plain.get(url).json()["groups"] == []
    assert plain.get("/api/people/memberships/").json()["count"] == 0
    assert plain.get("/api/people/residents/", {"group": "key_person_t"}).json()["count"] == 0
    # and shown to one that may
    assert [g["group"] for g in revealer.get(url).json()["groups"]] == ["key_person_t"]
    assert revealer.get("/api/people/residents/", {"group": "key_person_t"}).json()["count"] == 1


def test_memberships_party_members_and_volunteers(scheme, tree, people):
    user = make_staff(tree["community"], perms=[*WRITE, "people.add_groupmembership", "people.change_groupmembership"])
    client = api_client_for(user)
    SpecialGroup.objects.create(key="elderly_t", name_zh="独居老人")
    other, head = people["other"], people["head"]
    added = client.post("/api/people/memberships/", {"resident": head.pk, "group": "elderly_t",
                                                     "start_date": "2024-01-01"}, format="json")
    assert added.status_code == 201 and added.json()["resident_name"] == "王**"
    ended = client.post(f"/api/people/memberships/{added.json()['id']}/end/", {"end_date": "2024-06-01"},
                        format="json")
    assert ended.json()["end_date"] == "2024-06-01"
    assert GroupMembership.objects.get().end_date == dt.date(2024, 6, 1)
    member = client.post("/api/people/party-members/", {"resident": other.pk, "start_date": "2024-01-01"},
                         format="json")
    assert member.status_code == 201 and member.json()["branch_node"] == tree["g2"].pk
    pair = client.post(f"/api/people/party-members/{member.json()['id']}/pair/",
                       {"household": people["household"].pk, "start_date": "2024-02-01"}, format="json")
    assert pair.status_code == 201 and pair.json()["household_number"] == "HH-API-1"
    volunteer = client.post("/api/people/volunteers/", {"resident": head.pk, "skills": "理发"}, format="json")
    assert volunteer.status_code == 201 and volunteer.json()["node"] == tree["g1"].pk
    for url in ("/api/people/memberships/", "/api/people/party-members/", "/api/people/volunteers/"):
        response = client.get(url)
        assert response.status_code == 200
        assert_no_personal_data(response.content, "王建国", "赵小红")
    # ending needs the change permission; a member's pairings end with them
    member_url = f"/api/people/party-members/{member.json()['id']}/end/"
    assert client.post(member_url, {"end_date": "2024-12-31"}, format="json").status_code == 403
    manager = api_client_for(make_staff(tree["community"], perms=[*WRITE, "people.change_partymember",
                                                              "people.change_volunteer"]))
    left = manager.post(member_url, {"end_date": "2024-12-31"}, format="json").json()
    assert left["end_date"] == "2024-12-31" and [p["end_date"] for p in left["pairings"]] == ["2024-12-31"]
    assert manager.post(member_url, {"end_date": "2025-01-31"}, format="json").status_code == 400
    gone = manager.post(f"/api/people/volunteers/{volunteer.json()['id']}/end/", {}, format="json").json()
    assert gone["end_date"] == timezone.localdate().isoformat()


def test_access_log_needs_its_permission_and_is_scoped(scheme, tree, people):
    revealer = make_staff(tree["g2"], role=make_revealing_role(scheme), perms=READ)
    api_client_for(revealer).post(f"/api/people/residents/{people['other'].pk}/reveal/", {"purpose": PURPOSE},
                              format="json")
    assert api_client_for(make_staff(tree["community"], perms=READ)).get("/api/people/access-log/").status_code == 403
    auditor = api_client_for(make_staff(tree["community"], perms=["privacy.view_accesslog"]))
    assert auditor.get("/api/people/access-log/").json()["count"] == 5
    g1_auditor = api_client_for(make_staff(tree["g1"], perms=["privacy.view_accesslog"]))
    assert g1_auditor.get("/api/people/access-log/").json()["count"] == 0


def test_household_lists_members_masked(scheme, tree):
    household, people_ = make_household(scheme, tree["g1"], head_name="钱多多", members=1)
    client = api_client_for(make_staff(tree["g1"], perms=READ))
    body = client.get(f"/api/people/households/{household.pk}/").json()
    assert [m["id"] for m in body["members"]] == [p.pk for p in people_]
    assert body["members"][0]["name"] == "钱**"

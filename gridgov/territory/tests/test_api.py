import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from gridgov.accounts.tests.factories import make_staff
from gridgov.territory.models import Node, NodeVersion
from gridgov.territory.tests.factories import square

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db):
    user = get_user_model().objects.create_superuser("root", password="Root-pass-2026!")
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_locate_returns_the_cell_and_its_ancestors(admin_client, tree):
    res = admin_client.get("/api/territory/locate", {"lon": 116.02, "lat": 40.05})
    assert res.status_code == 200
    body = res.json()
    assert body["node"]["code"] == tree["g1"].code
    assert [a["code"] for a in body["ancestors"]] == ["110117000000", "110117213000", "110117213202"]


def test_locate_outside_every_cell_is_a_clear_404(admin_client, tree):
    res = admin_client.get("/api/territory/locate", {"lon": 100.0, "lat": 30.0})
    assert res.status_code == 404
    assert "no cell" in res.json()["detail"]


@pytest.mark.parametrize("params", [{"lon": 200, "lat": 40}, {"lon": "abc", "lat": 40}, {"lat": 40}])
def test_locate_bad_input_names_the_field(admin_client, tree, params):
    res = admin_client.get("/api/territory/locate", params)
    assert res.status_code == 400
    assert set(res.json()) & {"lon", "lat"}


def test_locate_needs_a_login(tree):
    assert APIClient().get("/api/territory/locate", {"lon": 116.02, "lat": 40.05}).status_code in (401, 403)


def test_locate_out_of_scope_is_404(tree):
    client = APIClient()
    client.force_authenticate(make_staff(tree["g2"]))
    assert client.get("/api/territory/locate", {"lon": 116.02, "lat": 40.05}).status_code == 404
    assert client.get("/api/territory/locate", {"lon": 116.07, "lat": 40.05}).json()["node"]["code"] == tree["g2"].code


def test_bulk_locate(admin_client, tree):
    res = admin_client.post("/api/territory/locate/bulk", {"points": [[116.02, 40.05], [0, 0], [116.07, 40.05]]},
                            format="json")
    assert res.status_code == 200
    results = res.json()["results"]
    assert results[0]["code"] == tree["g1"].code and results[1] is None and results[2]["code"] == tree["g2"].code


def test_create_node_through_the_api_with_errors_naming_the_field(admin_client, tree, scheme):
    before = Node.objects.count()
    res = admin_client.post("/api/territory/nodes/", {
        "parent": tree["g1"].pk, "level": "microgrid", "name": "坏", "auto_code": True,
        "geometry": square(116.04, 40.0, 116.07, 40.01)}, format="json")
    assert res.status_code == 400
    assert "outside its parent" in res.json()["geometry"][0]
    res = admin_client.post("/api/territory/nodes/", {"parent": tree["g1"].pk, "level": "nolevel", "name": "x"},
                            format="json")
    assert res.status_code == 400 and "unknown level" in res.json()["level"][0]
    assert Node.objects.count() == before
    res = admin_client.post("/api/territory/nodes/", {
        "parent": tree["g1"].pk, "level": "microgrid", "name": "好", "auto_code": True,
        "geometry": square(116.0, 40.0, 116.01, 40.01)}, format="json")
    assert res.status_code == 201
    assert res.json()["code"] == tree["g1"].code + "001"


def test_move_split_merge_and_history_via_api(admin_client, tree, scheme):
    on = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    res = admin_client.post(f"/api/territory/nodes/{tree['g1'].pk}/split/", {"effective_date": on, "reason": "拆分", "parts": [
        {"name": "北", "geometry": square(116.0, 40.05, 116.05, 40.1)},
        {"name": "南", "geometry": square(116.0, 40.0, 116.05, 40.05)}]}, format="json")
    assert res.status_code == 201, res.json()
    north, south = (p["id"] for p in res.json())
    res = admin_client.post("/api/territory/nodes/merge/", {"nodes": [north, south], "name": "再合并",
                                                             "effective_date": (dt.date.today() + dt.timedelta(days=2)).isoformat()},
                            format="json")
    assert res.status_code == 201
    hist = admin_client.get(f"/api/territory/nodes/{tree['g1'].pk}/history/").json()
    assert [h["change"] for h in hist] == ["CREATE"]
    assert hist[0]["valid_to"] == on
    assert NodeVersion.objects.filter(node_id=north).count() == 1


def test_tree_as_of(admin_client, tree):
    res = admin_client.get("/api/territory/tree", {"scheme": tree["g1"].scheme.key, "as_of": "2021-06-01"})
    assert res.status_code == 200
    root = res.json()["tree"][0]
    assert root["code"] == "110117000000"
    res = admin_client.get("/api/territory/tree", {"scheme": tree["g1"].scheme.key, "as_of": "2019-01-01"})
    assert res.json()["tree"] == []
    assert admin_client.get("/api/territory/tree", {"scheme": "x"}).status_code == 400


def test_writes_need_permissions(tree):
    client = APIClient()
    client.force_authenticate(make_staff(tree["g1"]))
    res = client.post("/api/territory/nodes/", {"parent": tree["g1"].pk, "level": "microgrid", "name": "x"},
                      format="json")
    assert res.status_code == 403
    user = make_staff(tree["g1"], perms=("territory.add_node",))
    client.force_authenticate(user)
    res = client.post("/api/territory/nodes/", {"parent": tree["g2"].pk, "level": "microgrid", "name": "x",
                                                "auto_code": True}, format="json")
    assert res.status_code == 404  # g2 is outside this user's scope


def test_schema_and_docs_are_served(admin_client):
    assert admin_client.get("/api/schema/").status_code == 200
    assert admin_client.get("/api/docs/").status_code == 200

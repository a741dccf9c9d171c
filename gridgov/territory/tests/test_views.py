"""Public cell cards (no login, bilingual, QR) and the admin of the territory and people in charge."""

import datetime as dt
import json

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse

from gridgov.accounts import services as accounts_services
from gridgov.accounts.models import Assignment
from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.core.models import AuditEntry
from gridgov.territory import services
from gridgov.territory.models import IssuedCode, Node, NodeVersion
from gridgov.territory.tests.factories import level, square
from gridgov.territory.tests.qr import svg_encodes

pytestmark = pytest.mark.django_db


@pytest.fixture
def g1_people(tree, scheme):
    """g1 has a grid worker (public), a police officer (public) and a helper who is not published."""
    worker = accounts_services.person_create(name="张网格", phone="13800001111", note="住址：不应公开",
                                             organisation="白云寺村委会")
    police = accounts_services.person_create(name="李警官", phone="010-69961234")
    hidden = accounts_services.person_create(name="王不公开", phone="13900002222")
    grid_worker = make_role(scheme, "grid_worker")
    officer = accounts_services.role_create(scheme=scheme, key="police", name_zh="社区民警", name_en="Community police",
                                            category="POLICE", levels=["grid"], order=5)
    accounts_services.assignment_create(person=worker, node=tree["g1"], role=grid_worker, start_date=dt.date(2024, 1, 1))
    accounts_services.assignment_create(person=police, node=tree["g1"], role=officer, start_date=dt.date(2024, 1, 1))
    accounts_services.assignment_create(person=hidden, node=tree["g1"], role=officer, start_date=dt.date(2024, 1, 1),
                                        is_public=False)
    return {"worker": worker, "police": police, "hidden": hidden}


def card_url(node):
    return reverse("territory:cell-card", args=[node.scheme.key, node.code])


# --------------------------------------------------------------------------- public card
def test_card_needs_no_login_and_shows_the_people_in_charge(tree, g1_people):
    # when
    res = Client().get(card_url(tree["g1"]))
    # then
    assert res.status_code == 200
    html = res.content.decode()
    assert tree["g1"].name in html and tree["g1"].code in html
    assert "张网格" in html and 'href="tel:13800001111"' in html
    assert "李警官" in html and 'href="tel:010-69961234"' in html
    # the chain of parents, top first
    assert html.index("平谷区") < html.index("金海湖镇") < html.index("白云寺村") < html.index("<h1>")


def test_card_shows_nothing_beyond_the_published_work_contacts(tree, g1_people):
    html = Client().get(card_url(tree["g1"])).content.decode()
    assert "王不公开" not in html and "13900002222" not in html  # not published
    assert "不应公开" not in html and "白云寺村委会" not in html  # notes, organisation
    assert "/admin/" not in html


def test_card_drops_people_whose_assignment_ended(tree, g1_people):
    # given
    assignment = Assignment.objects.get(person=g1_people["worker"])
    accounts_services.assignment_end(assignment, end_date=dt.date(2024, 6, 30))
    # then
    assert "张网格" not in Client().get(card_url(tree["g1"])).content.decode()


def test_chinese_is_the_default_language():
    from config.settings import base

    assert base.LANGUAGE_CODE == "zh-hans"


@override_settings(LANGUAGE_CODE="zh-hans")
def test_card_is_chinese_by_default(tree, g1_people):
    res = Client().get(card_url(tree["g1"]))
    html = res.content.decode()
    assert 'lang="zh-Hans"' in html
    assert "负责人" in html and "网格" in html  # UI text and the level's Chinese name
    assert "People in charge" not in html


@pytest.mark.parametrize("how", ["cookie", "accept-language"])
def test_card_in_english(tree, g1_people, how):
    client = Client()
    headers = {}
    if how == "cookie":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    else:
        headers["Accept-Language"] = "en-US,en;q=0.9"
    html = client.get(card_url(tree["g1"]), headers=headers).content.decode()
    assert 'lang="en"' in html
    assert "People in charge" in html
    assert ">Grid<" in html  # the level's English name
    assert "Community police" in html


def test_language_switch_sets_english(tree):
    client = Client()
    res = client.post(reverse("set_language"), {"language": "en", "next": card_url(tree["g1"])})
    assert res.status_code == 302 and res.url == card_url(tree["g1"])
    assert "People in charge" in client.get(res.url).content.decode()


def test_retired_and_unknown_cells_are_404(tree):
    # given g2 retired
    services.node_retire(tree["g2"], effective_date=dt.date(2024, 1, 1), reason="merged into g1")
    client = Client()
    # then
    for url in (card_url(tree["g2"]), reverse("territory:cell-card", args=[tree["g1"].scheme.key, "999999999999999"]),
                reverse("territory:cell-card", args=["no-such-scheme", tree["g1"].code]),
                reverse("territory:cell-card-print", args=[tree["g2"].scheme.key, tree["g2"].code]),
                reverse("territory:cell-qr", args=[tree["g2"].scheme.key, tree["g2"].code])):
        assert client.get(url).status_code == 404, url


def test_card_of_a_cell_not_yet_in_force_is_404(tree):
    future = services.node_create(level=level(tree["g1"].scheme, "grid"), parent=tree["community"], name="新网格",
                                  auto_code=True, valid_from=dt.date.today() + dt.timedelta(days=30))
    assert Client().get(card_url(future)).status_code == 404


@override_settings(SITE_URL="https://grid.example.gov.cn")
def test_printable_card_has_a_qr_code_of_the_public_address(tree, g1_people):
    # when
    res = Client().get(reverse("territory:cell-card-print", args=[tree["g1"].scheme.key, tree["g1"].code]))
    # then
    assert res.status_code == 200
    html = res.content.decode()
    expected = "https://grid.example.gov.cn" + card_url(tree["g1"])
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    assert svg_encodes(html[start:end], expected)
    assert not svg_encodes(html[start:end], expected + "x")
    assert expected in html and "张网格" in html and "13800001111" in html
    assert "size: A6" in Client().get("/static/gridgov/site.css").getvalue().decode()


@override_settings(SITE_URL="https://grid.example.gov.cn")
def test_qr_svg(tree):
    res = Client().get(reverse("territory:cell-qr", args=[tree["g1"].scheme.key, tree["g1"].code]))
    assert res.status_code == 200
    assert res["Content-Type"].startswith("image/svg+xml")
    svg = res.content.decode()
    assert svg.startswith("<?xml") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert svg_encodes(svg, "https://grid.example.gov.cn" + card_url(tree["g1"]))


def test_public_pages_refuse_writes(tree):
    assert Client().post(card_url(tree["g1"])).status_code == 405


def test_home_page(db):
    res = Client().get("/")
    assert res.status_code == 200
    html = res.content.decode()
    assert reverse("admin:index") in html and reverse("api-docs") in html


# --------------------------------------------------------------------------- admin
@pytest.fixture
def root_client(db):
    user = get_user_model().objects.create_superuser("root", password="Root-pass-2026!")
    client = Client()
    client.force_login(user)
    return client


def test_every_admin_page_loads_for_a_superuser(root_client, tree, g1_people):
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        res = root_client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert res.status_code == 200, model
        if model_admin.has_add_permission(res.wsgi_request):
            assert root_client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200, model
        obj = model_admin.get_queryset(res.wsgi_request).first()
        if obj is not None:
            assert root_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200, model


@override_settings(LANGUAGE_CODE="zh-hans")
def test_admin_is_chinese_by_default_and_english_on_request(root_client, tree):
    url = reverse("admin:territory_node_changelist")
    assert "区域节点" in root_client.get(url).content.decode()
    root_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Territory nodes" in root_client.get(url).content.decode()


def test_node_change_page_has_the_map_preview(root_client, tree):
    res = root_client.get(reverse("admin:territory_node_change", args=[tree["community"].pk]))
    html = res.content.decode()
    assert "vendor/leaflet/leaflet.js" in html and 'id="node-map"' in html
    data = res.context["node_map"]
    assert data["node"]["geometry"]["type"] == "Polygon"
    assert data["parent"]["code"] == tree["street"].code
    assert {c["code"] for c in data["children"]} == {tree["g1"].code, tree["g2"].code}
    assert data["tiles"]["layers"] == []


def add_node_data(tree, **overrides):
    data = {
        "level": level(tree["g1"].scheme, "grid").pk, "parent": tree["community"].pk, "code": "", "name": "三网格",
        "node_type": "", "management_class": "", "geometry": "", "attributes": "{}", "valid_from": "2024-01-01",
        "reason": "",
    }
    data.update(overrides)
    return data


def counts():
    return Node.objects.count(), NodeVersion.objects.count(), IssuedCode.objects.count(), AuditEntry.objects.count()


def test_admin_node_add_with_a_bad_code_names_the_field_and_writes_nothing(root_client, tree):
    # given
    before = counts()
    # when
    res = root_client.post(reverse("admin:territory_node_add"), add_node_data(tree, code="ABC"))
    # then
    assert res.status_code == 200
    errors = res.context["adminform"].form.errors
    assert list(errors) == ["code"]
    assert "ABC" in errors["code"][0]
    assert 'class="errorlist' in res.content.decode()
    assert counts() == before


def test_admin_node_add_with_a_reused_code_is_refused(root_client, tree):
    before = counts()
    res = root_client.post(reverse("admin:territory_node_add"), add_node_data(tree, code=tree["g2"].code))
    assert "code" in res.context["adminform"].form.errors
    assert counts() == before


def test_admin_node_add_polygon_outside_the_parent_names_the_geometry(root_client, tree):
    before = counts()
    outside = json.dumps(square(117.0, 41.0, 117.01, 41.01))
    res = root_client.post(reverse("admin:territory_node_add"), add_node_data(tree, auto_code="on", geometry=outside))
    assert list(res.context["adminform"].form.errors) == ["geometry"]
    assert counts() == before


def test_admin_node_add_goes_through_the_service(root_client, tree):
    # when
    geometry = json.dumps(square(116.0, 40.0, 116.02, 40.02))
    res = root_client.post(reverse("admin:territory_node_add"),
                           add_node_data(tree, auto_code="on", geometry=geometry, reason="new estate"))
    # then
    assert res.status_code == 302
    node = Node.objects.get(name="三网格")
    assert node.code == tree["community"].code + "003"  # the next sequence code
    assert node.path == f"{tree['community'].path}{node.pk}/" and node.area_m2 > 0
    assert NodeVersion.objects.filter(node=node, change="CREATE").exists()
    assert IssuedCode.objects.filter(code=node.code).exists()


def test_admin_node_change_appends_a_version(root_client, tree):
    g1 = tree["g1"]
    url = reverse("admin:territory_node_change", args=[g1.pk])
    form = root_client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(name="一网格（东区）", reason="renamed", effective_date="2025-01-01",
                geometry=json.dumps(g1.geometry), attributes=json.dumps(g1.attributes))
    res = root_client.post(url, data)
    assert res.status_code == 302, res.context["adminform"].form.errors
    g1.refresh_from_db()
    assert g1.name == "一网格（东区）"
    assert list(NodeVersion.objects.filter(node=g1).values_list("change", flat=True)) == ["CREATE", "UPDATE"]


def test_admin_node_change_refused_by_the_service_keeps_the_node(root_client, tree):
    g1 = tree["g1"]
    url = reverse("admin:territory_node_change", args=[g1.pk])
    outside = json.dumps(square(117.0, 41.0, 117.01, 41.01))
    res = root_client.post(url, {"name": "改名", "geometry": outside, "attributes": "{}", "node_type": "",
                                 "management_class": "", "effective_date": "", "reason": ""})
    assert res.status_code == 200
    assert list(res.context["adminform"].form.errors) == ["geometry"]
    g1.refresh_from_db()
    assert g1.name == "一网格" and NodeVersion.objects.filter(node=g1).count() == 1


def test_retired_node_is_read_only_in_the_admin(root_client, tree):
    services.node_retire(tree["g2"], effective_date=dt.date(2024, 1, 1))
    url = reverse("admin:territory_node_change", args=[tree["g2"].pk])
    res = root_client.get(url)
    assert res.status_code == 200 and not res.context["has_change_permission"]
    assert root_client.post(url, {"name": "x"}).status_code == 403


def test_admin_cannot_delete_nodes(root_client, tree):
    res = root_client.post(reverse("admin:territory_node_delete", args=[tree["g1"].pk]), {"post": "yes"})
    assert res.status_code == 403
    assert Node.objects.filter(pk=tree["g1"].pk).exists()


def test_retire_action_goes_through_the_service(root_client, tree):
    url = reverse("admin:territory_node_changelist")
    ids = {"action": "retire_nodes", "_selected_action": [tree["g2"].pk, tree["community"].pk]}
    # the action first asks for the date and reason
    res = root_client.post(url, {**ids, "index": 0})
    assert res.status_code == 200 and "effective_date" in res.content.decode()
    # then retires what it can and names what it cannot (the community still has g1)
    res = root_client.post(url, {**ids, "apply": "1", "effective_date": "2025-01-01", "reason": "reorganised"},
                           follow=True)
    tree["g2"].refresh_from_db()
    tree["community"].refresh_from_db()
    assert tree["g2"].valid_to == dt.date(2025, 1, 1)
    assert tree["community"].valid_to is None
    text = " ".join(str(m) for m in res.context["messages"])
    assert tree["community"].code in text


def test_tree_view_and_its_children_endpoint(root_client, tree):
    # the tree page lists the roots with their child counts, and is linked from the changelist
    changelist = root_client.get(reverse("admin:territory_node_changelist")).content.decode()
    assert reverse("admin:territory_node_tree") in changelist
    res = root_client.get(reverse("admin:territory_node_tree"))
    assert res.status_code == 200
    assert [r["code"] for r in res.context["roots"]] == [tree["district"].code]
    assert res.context["roots"][0]["child_count"] == 1
    # children are loaded on demand as JSON
    res = root_client.get(reverse("admin:territory_node_tree_children"), {"parent": tree["community"].pk})
    assert res.status_code == 200
    body = res.json()
    assert [(c["code"], c["child_count"]) for c in body["children"]] == [(tree["g1"].code, 0), (tree["g2"].code, 0)]
    assert body["children"][0]["change_url"] == reverse("admin:territory_node_change", args=[tree["g1"].pk])
    assert body["children"][0]["card_url"] == card_url(tree["g1"])
    # retired children only on request
    services.node_retire(tree["g2"], effective_date=dt.date(2024, 1, 1))
    url = reverse("admin:territory_node_tree_children")
    assert len(root_client.get(url, {"parent": tree["community"].pk}).json()["children"]) == 1
    assert len(root_client.get(url, {"parent": tree["community"].pk, "retired": "1"}).json()["children"]) == 2
    assert root_client.get(url, {"parent": "abc"}).status_code == 404


def test_tree_view_needs_staff_login(tree):
    res = Client().get(reverse("admin:territory_node_tree_children"), {"parent": tree["community"].pk})
    assert res.status_code == 302 and "/login/" in res.url


# --------------------------------------------------------------------------- scoped admin
@pytest.fixture
def g2_client(tree):
    """A staff user in charge of g2 only, allowed to view and change nodes and assignments."""
    user = make_staff(tree["g2"], perms=["territory.view_node", "territory.change_node", "accounts.view_assignment",
                                         "accounts.add_assignment", "accounts.view_person", "core.view_auditentry"])
    client = Client()
    client.force_login(user)
    return client


def test_scoped_admin_lists_only_the_users_territory(g2_client, tree):
    res = g2_client.get(reverse("admin:territory_node_changelist"))
    assert res.status_code == 200
    assert [n.pk for n in res.context["cl"].result_list] == [tree["g2"].pk]


def test_scoped_admin_out_of_scope_node_is_not_found(g2_client, tree):
    # when
    res = g2_client.get(reverse("admin:territory_node_change", args=[tree["g1"].pk]))
    # then: the admin's "does not exist" answer, which does not confirm the node exists
    assert res.status_code == 302 and res.url == reverse("admin:index")
    assert g2_client.get(reverse("admin:territory_node_change", args=[tree["g2"].pk])).status_code == 200


def test_scoped_tree_starts_at_the_users_cells(g2_client, tree):
    res = g2_client.get(reverse("admin:territory_node_tree"))
    assert [r["code"] for r in res.context["roots"]] == [tree["g2"].code]
    url = reverse("admin:territory_node_tree_children")
    assert g2_client.get(url, {"parent": tree["community"].pk}).status_code == 404
    assert g2_client.get(url, {"parent": tree["g2"].pk}).status_code == 200


def test_scoped_admin_autocomplete_offers_only_the_users_nodes(g2_client, tree):
    res = g2_client.get(reverse("admin:autocomplete"), {"app_label": "accounts", "model_name": "assignment",
                                                        "field_name": "node", "term": ""})
    assert res.status_code == 200
    assert [r["id"] for r in res.json()["results"]] == [str(tree["g2"].pk)]


def test_scoped_admin_assignments_and_audit_log(g2_client, tree, g1_people):
    res = g2_client.get(reverse("admin:accounts_assignment_changelist"))
    assert {a.node_id for a in res.context["cl"].result_list} == {tree["g2"].pk}
    # the security audit log is the audit administrator's only (三员分立), whatever permissions staff hold
    assert g2_client.get(reverse("admin:core_auditentry_changelist")).status_code == 403


# --------------------------------------------------------------------------- assignments and audit
def assignment_data(tree, person, role, **overrides):
    data = {"person": person.pk, "node": tree["g1"].pk, "role": role.pk, "start_date": "2025-01-01",
            "end_date": "", "duties": "", "is_public": "on"}
    data.update(overrides)
    return data


def test_admin_assignment_add_goes_through_the_service(root_client, tree, g1_people, scheme):
    person = accounts_services.person_create(name="赵新", phone="13700001234")
    res = root_client.post(reverse("admin:accounts_assignment_add"),
                           assignment_data(tree, person, make_role(scheme, "grid_worker")))
    assert res.status_code == 302
    assignment = Assignment.objects.get(person=person)
    assert assignment.node == tree["g1"] and assignment.start_date == dt.date(2025, 1, 1)
    assert AuditEntry.objects.filter(action="accounts.assignment_create", target_id=str(assignment.pk)).exists()


def test_admin_assignment_overlap_is_refused_on_the_role(root_client, tree, g1_people, scheme):
    before = Assignment.objects.count()
    res = root_client.post(reverse("admin:accounts_assignment_add"),
                           assignment_data(tree, g1_people["worker"], make_role(scheme, "grid_worker")))
    assert res.status_code == 200
    errors = res.context["adminform"].form.errors
    assert list(errors) == ["role"] and "张网格" in errors["role"][0]
    assert Assignment.objects.count() == before


def test_admin_assignment_wrong_level_is_refused_on_the_role(root_client, tree, g1_people, scheme):
    before = Assignment.objects.count()
    res = root_client.post(reverse("admin:accounts_assignment_add"),
                           assignment_data(tree, g1_people["worker"], make_role(scheme, "grid_worker"),
                                           node=tree["community"].pk))
    assert list(res.context["adminform"].form.errors) == ["role"]
    assert Assignment.objects.count() == before


def test_admin_assignment_end_goes_through_the_service(root_client, tree, g1_people):
    assignment = Assignment.objects.get(person=g1_people["worker"])
    url = reverse("admin:accounts_assignment_change", args=[assignment.pk])
    res = root_client.post(url, {"end_date": "2025-06-30", "end_reason": "transferred", "duties": assignment.duties,
                                 "is_public": "on"})
    assert res.status_code == 302
    assignment.refresh_from_db()
    assert assignment.end_date == dt.date(2025, 6, 30) and assignment.end_reason == "transferred"
    assert AuditEntry.objects.filter(action="accounts.assignment_end", target_id=str(assignment.pk)).exists()


def test_audit_log_is_strictly_read_only(root_client, tree, g1_people):
    entry = AuditEntry.objects.first()
    assert root_client.get(reverse("admin:core_auditentry_add")).status_code == 403
    assert root_client.post(reverse("admin:core_auditentry_change", args=[entry.pk]),
                            {"action": "forged"}).status_code == 403
    assert root_client.post(reverse("admin:core_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.action != "forged"
    res = root_client.get(reverse("admin:core_auditentry_changelist"))
    assert "action" not in res.context  # no bulk actions, not even delete


def test_staff_user_cannot_raise_their_own_rights(g2_client, tree):
    user = g2_client.session["_auth_user_id"]
    staff = get_user_model().objects.get(pk=user)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="change_user"))
    res = g2_client.get(reverse("admin:accounts_user_change", args=[staff.pk]))
    form = res.context["adminform"].form
    assert "is_superuser" not in form.fields and "sees_everything" not in form.fields


def test_scoped_admin_cannot_create_outside_its_territory(tree):
    # given a staff user in charge of g2, allowed to add nodes
    user = make_staff(tree["g2"], perms=["territory.view_node", "territory.add_node"])
    client = Client()
    client.force_login(user)
    before = counts()
    microgrid = level(tree["g1"].scheme, "microgrid").pk
    # when they post a parent outside their scope, or none at all
    for parent in (tree["g1"].pk, ""):
        res = client.post(reverse("admin:territory_node_add"),
                          add_node_data(tree, level=microgrid, parent=parent, auto_code="on"))
        # then
        assert list(res.context["adminform"].form.errors) == ["parent"], parent
    assert counts() == before
    res = client.post(reverse("admin:territory_node_add"),
                      add_node_data(tree, level=microgrid, parent=tree["g2"].pk, auto_code="on"))
    assert res.status_code == 302 and Node.objects.filter(parent=tree["g2"]).count() == 1


def test_scoped_admin_cannot_assign_outside_its_territory(g2_client, tree, g1_people, scheme):
    before = Assignment.objects.count()
    person = accounts_services.person_create(name="赵新")
    res = g2_client.post(reverse("admin:accounts_assignment_add"),
                         assignment_data(tree, person, make_role(scheme, "grid_worker")))
    assert list(res.context["adminform"].form.errors) == ["node"]
    assert Assignment.objects.count() == before


def test_names_are_escaped_on_the_card(tree):
    # given a cell whose name holds markup
    services.node_update(tree["g2"], name='<img src=x onerror="alert(1)">二网格')
    # then neither the page nor the QR code's title renders it
    for name in ("territory:cell-card", "territory:cell-card-print"):
        html = Client().get(reverse(name, args=[tree["g2"].scheme.key, tree["g2"].code])).content.decode()
        assert "<img" not in html and "&lt;img" in html


# --------------------------------------------------------------------------- QR card without SITE_URL (item 16)
@override_settings(SITE_URL="", ALLOWED_HOSTS=["192.168.1.20"])
def test_without_site_url_the_qr_code_points_where_the_request_came_from(tree, g1_people):
    # given SITE_URL unset, and the card printed from the demo's address on the office network
    client = Client(HTTP_HOST="192.168.1.20:8000")
    # when
    page = client.get(reverse("territory:cell-card-print", args=[tree["g1"].scheme.key, tree["g1"].code]))
    svg = client.get(reverse("territory:cell-qr", args=[tree["g1"].scheme.key, tree["g1"].code])).content.decode()
    # then the QR code carries that address, never 127.0.0.1
    html = page.content.decode()
    expected = "http://192.168.1.20:8000" + card_url(tree["g1"])
    qr = html[html.index("<svg"):html.index("</svg>") + len("</svg>")]
    assert svg_encodes(qr, expected) and svg_encodes(svg, expected)
    assert "127.0.0.1" not in html


def test_a_system_check_warns_when_site_url_is_not_set(settings):
    from django.core.checks import run_checks

    settings.SITE_URL = ""
    assert "core.W001" in [m.id for m in run_checks()]
    settings.SITE_URL = "https://grid.example.gov.cn"
    assert "core.W001" not in [m.id for m in run_checks()]

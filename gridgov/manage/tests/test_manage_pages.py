"""Management pages (/manage/): who may open them, the territory tree and its map, people in charge, the
catalogue and admission requests, imports (grid maps, catalogues, base data)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from gridgov.accounts import services as account_services
from gridgov.accounts.models import Assignment, Person, Role
from gridgov.cases.tests.factories import make_loop
from gridgov.catalogue import xlsx
from gridgov.catalogue.models import AdmissionRequest, AdmissionState, Catalogue, DutyList
from gridgov.catalogue.tests.factories import make_duty_list
from gridgov.people.models import DataJob, JobKind, JobStatus
from gridgov.territory.models import Node
from gridgov.territory.tests.factories import make_scheme, make_tree, square

pytestmark = pytest.mark.django_db

FRAGMENT = {"HX-Request": "true", "HX-Target": "node-detail"}


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    """Import records and uploads of each test in a folder of its own."""
    settings.PRIVATE_FILES_DIR = tmp_path / "private"


@pytest.fixture
def loop():
    scheme = make_scheme("mg")
    return make_loop(scheme, make_tree(scheme))


def grant(user, *perms):
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    # permissions are cached on the object
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)
    return user


def login(client, user):
    client.force_login(user)
    return client


# =========================================================================== who sees what
PAGES = ["manage:index", "manage:imports", "manage:territory", "manage:gridmap_import", "manage:people_in_charge",
         "manage:catalogue", "manage:catalogue_import", "manage:duty_lists", "manage:admissions"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_render_for_an_office_user(client, loop, name):
    # given the street's grid office
    make_duty_list(loop.scheme)
    login(client, loop.office)
    # when
    res = client.get(reverse(name))
    # then
    assert res.status_code == 200
    assert b'class="subnav"' in res.content


@pytest.mark.parametrize("name", ["manage:index", "manage:imports", "manage:territory", "manage:people_in_charge",
                                  "manage:gridmap_import"])
def test_a_grid_worker_is_refused(client, loop, name):
    # given a grid worker (no management role)
    login(client, loop.worker)
    # when
    res = client.get(reverse(name))
    # then
    assert res.status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client, loop):
    res = client.get(reverse("manage:index"))
    assert res.status_code == 302
    assert res["Location"].startswith(reverse("login"))


def test_the_overview_counts_what_is_in_the_users_territory(client, loop):
    # given the street office: street, community and two grids below; the worker of g1 and of g2 in charge
    login(client, loop.office)
    # when
    res = client.get(reverse("manage:index"))
    # then
    assert res.context["node_count"] == 4  # street, community, g1, g2 (not the district)
    assert {row["level"].key: row["count"] for row in res.context["levels"]} == {
        "street": 1, "community": 1, "grid": 2}
    # office (street), leader (community), worker (g1), worker2 (g2)
    assert res.context["assignment_count"] == 4


# =========================================================================== territory tree and map
def test_the_tree_starts_at_the_users_cells_and_children_load_scoped(client, loop):
    # given the street office
    login(client, loop.office)
    tree = loop.tree
    # when the page opens
    res = client.get(reverse("manage:territory"))
    # then the tree's one root is the street, selected, opened to its children; the district is not in it
    assert [item["node"].pk for item in res.context["tree"]] == [tree["street"].pk]
    assert res.context["node"] == tree["street"]
    html = res.content.decode()
    assert f'aria-controls="tree-children-{tree["street"].pk}"' in html
    assert 'aria-expanded="true"' in html
    assert f'href="{reverse("manage:territory_node", args=[tree["district"].pk])}"' not in html
    # when the community is opened
    res = client.get(reverse("manage:territory_children", args=[tree["community"].pk]))
    # then its two grids come as tree items with their buttons and links
    items = res.context["items"]
    assert [i["node"].name for i in items] == ["一网格", "二网格"]
    assert b"tree-link" in res.content
    # and a cell outside the territory is not found
    assert client.get(reverse("manage:territory_children", args=[tree["district"].pk])).status_code == 404
    assert client.get(reverse("manage:territory_node", args=[tree["district"].pk])).status_code == 404


def test_the_tree_of_another_territory_is_not_found(client, loop):
    # given a second territory nobody of this loop is in charge of
    other = make_scheme("other")
    other_tree = make_tree(other, origin=(117.0, 40.0))
    login(client, loop.office)
    # then
    assert client.get(reverse("manage:territory_children", args=[other_tree["community"].pk])).status_code == 404
    assert client.get(reverse("manage:territory_map", args=[other_tree["g1"].pk])).status_code == 404


def test_a_cells_panel_shows_facts_people_and_links(client, loop):
    # given the g1 grid with its worker in charge (published on the card)
    login(client, loop.office)
    g1 = loop.tree["g1"]
    # when the panel is asked for by htmx
    res = client.get(reverse("manage:territory_node", args=[g1.pk]), headers=FRAGMENT)
    # then only the panel comes back
    html = res.content.decode()
    assert res.status_code == 200
    assert "<html" not in html
    assert f'data-node-id="{g1.pk}"' in html
    assert g1.code in html and "2020-01-01" in html
    # the chain up to the street links, the district above the office's territory does not
    chain = res.context["chain"]
    assert [(c["node"].name, c["in_scope"]) for c in chain] == [
        ("平谷区", False), ("金海湖镇", True), ("白云寺村", True)]
    # the person in charge with the phone as the card shows it
    person = Assignment.objects.get(node=g1, person__user=loop.worker).person
    assert person.name in html and person.phone in html
    # links: public card, QR card, people figures, command centre for this cell
    assert reverse("territory:cell-card", args=[loop.scheme.key, g1.code]) in html
    assert reverse("territory:cell-card-print", args=[loop.scheme.key, g1.code]) in html
    assert reverse("people:cell", args=[g1.pk]) in html
    assert f"{reverse('centre:index')}?cell={g1.pk}" in html
    # and without htmx the same address is the whole page
    res = client.get(reverse("manage:territory_node", args=[g1.pk]))
    assert b"<html" in res.content and b'id="tree"' in res.content


def test_a_private_assignments_phone_is_masked(client, loop):
    # given a helper in charge of g1 who is not shown on the card
    g1 = loop.tree["g1"]
    role = Role.objects.get(scheme=loop.scheme, key__startswith="worker")
    helper = account_services.person_create(name="王助手", phone="13912345678")
    account_services.assignment_create(person=helper, node=g1, role=role, is_public=False)
    login(client, loop.office)
    # when
    html = client.get(reverse("manage:territory_node", args=[g1.pk]), headers=FRAGMENT).content.decode()
    # then
    assert "王助手" in html
    assert "13912345678" not in html
    assert "139****5678" in html


def test_the_map_data_holds_the_cell_and_its_children(client, loop):
    # given
    login(client, loop.office)
    community = loop.tree["community"]
    # when
    res = client.get(reverse("manage:territory_map", args=[community.pk]))
    # then a FeatureCollection: the community's polygon, then each grid's, with the address to open it
    data = res.json()
    assert data["type"] == "FeatureCollection"
    roles = [(f["properties"]["role"], f["properties"]["name"]) for f in data["features"]]
    assert roles == [("node", "白云寺村"), ("child", "一网格"), ("child", "二网格")]
    by_name = {f["properties"]["name"]: f for f in data["features"]}
    assert by_name["白云寺村"]["geometry"] == community.geometry
    assert by_name["一网格"]["geometry"] == loop.tree["g1"].geometry
    assert by_name["一网格"]["properties"]["url"] == reverse("manage:territory_node", args=[loop.tree["g1"].pk])
    assert by_name["一网格"]["properties"]["code"] == loop.tree["g1"].code


def test_the_search_finds_cells_by_name_or_code_in_scope(client, loop):
    # given
    login(client, loop.office)
    g2 = loop.tree["g2"]
    # when searching by name, by code prefix, and for the district above the territory
    by_name = client.get(reverse("manage:territory_search"), {"q": "二网"}).context["results"]
    by_code = client.get(reverse("manage:territory_search"), {"q": g2.code}).context["results"]
    outside = client.get(reverse("manage:territory_search"), {"q": "平谷"}).context["results"]
    # then
    assert [n.pk for n in by_name] == [g2.pk]
    assert [n.pk for n in by_code] == [g2.pk]
    assert outside == []


# =========================================================================== people in charge
def test_adding_a_new_person_then_ending_the_assignment(client, loop):
    # given the office on the community's page
    login(client, loop.office)
    community = loop.tree["community"]
    leader_role = Role.objects.get(scheme=loop.scheme, key__startswith="leader")
    url = reverse("manage:assignment_add", args=[community.pk])
    # the roles offered are those of the community level only
    offered = list(client.get(url).context["form"].fields["role"].queryset)
    assert offered == [leader_role]
    # when a new person is put in charge
    res = client.post(url, {"who": "new", "name": "赵书记", "phone": "13600001111", "role": leader_role.pk,
                            "start_date": "2025-03-01", "is_public": "on"})
    # then
    assert res.status_code == 302
    assignment = Assignment.objects.get(person__name="赵书记")
    assert (assignment.node, assignment.role, str(assignment.start_date)) == (community, leader_role, "2025-03-01")
    assert assignment.person.phone == "13600001111" and assignment.is_public
    # when the assignment is ended
    end = reverse("manage:assignment_end", args=[assignment.pk])
    res = client.post(end, {"end_date": "2025-06-30", "reason": "调任"})
    # then
    assert res.status_code == 302
    assignment.refresh_from_db()
    assert str(assignment.end_date) == "2025-06-30" and assignment.end_reason == "调任"


def test_refused_assignments_keep_what_was_typed(client, loop):
    # given the leader already in charge of the community
    login(client, loop.office)
    community = loop.tree["community"]
    leader_role = Role.objects.get(scheme=loop.scheme, key__startswith="leader")
    leader_person = Person.objects.get(user=loop.leader)
    url = reverse("manage:assignment_add", args=[community.pk])
    # when the same person is put in the same role again (an overlap)
    res = client.post(url, {"who": "existing", "person": leader_person.pk, "role": leader_role.pk,
                            "start_date": "2025-01-01", "duties": "联系群众"})
    # then the service's refusal is on the role field and the typed values are back in the form
    assert res.status_code == 400
    form = res.context["form"]
    assert "already holds" in " ".join(form.errors["role"])
    html = res.content.decode()
    assert "联系群众" in html and 'value="2025-01-01"' in html
    # when a new person's phone is not a phone, and the end comes before the start
    res = client.post(url, {"who": "new", "name": "钱某", "phone": "12ab", "role": leader_role.pk,
                            "start_date": "2025-05-01", "end_date": "2025-04-01"})
    # then nothing is written, the errors sit on their fields, and the name is kept
    assert res.status_code == 400
    errors = res.context["form"].errors
    assert "end_date" in errors and "phone" in errors
    assert not Person.objects.filter(name="钱某").exists()
    assert 'value="钱某"' in res.content.decode()
    # and a new person without a name is asked for one
    res = client.post(url, {"who": "new", "name": "", "role": leader_role.pk, "start_date": "2025-05-01"})
    assert res.status_code == 400 and "name" in res.context["form"].errors
    # and a role of another level is not accepted
    worker_role = Role.objects.get(scheme=loop.scheme, key__startswith="worker")
    res = client.post(url, {"who": "existing", "person": leader_person.pk, "role": worker_role.pk,
                            "start_date": "2025-05-01"})
    assert res.status_code == 400 and "role" in res.context["form"].errors


def test_ending_before_the_start_is_refused_on_the_field(client, loop):
    # given the worker's assignment of g1 (started today)
    login(client, loop.office)
    assignment = Assignment.objects.get(person__user=loop.worker)
    # when
    res = client.post(reverse("manage:assignment_end", args=[assignment.pk]), {"end_date": "2001-01-01",
                                                                              "reason": "typed"})
    # then
    assert res.status_code == 400
    assert "before the start date" in " ".join(res.context["form"].errors["end_date"])
    assert 'value="typed"' in res.content.decode()


def test_assignments_outside_the_territory_are_not_found(client, loop):
    # given an assignment in another territory
    other = make_scheme("far")
    other_tree = make_tree(other, origin=(118.0, 40.0))
    role = Role.objects.create(scheme=other, key="w", name_zh="网格员")
    far = account_services.assignment_create(person=account_services.person_create(name="远方"),
                                             node=other_tree["g1"], role=role)
    login(client, loop.office)
    # then
    assert client.get(reverse("manage:assignment_end", args=[far.pk])).status_code == 404
    assert client.get(reverse("manage:assignment_add", args=[other_tree["g1"].pk])).status_code == 404
    assert client.get(reverse("manage:people_in_charge"), {"cell": other_tree["g1"].pk}).status_code == 404
    names = [row["a"].person.name for row in client.get(reverse("manage:people_in_charge")).context["rows"]]
    assert "远方" not in names


def _xlsx_rows(response) -> list[list]:
    body = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(body)).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_the_export_holds_exactly_the_filtered_rows(client, loop):
    # given a private helper on g2 besides the two grid workers and the others
    login(client, loop.office)
    worker_role = Role.objects.get(scheme=loop.scheme, key__startswith="worker")
    helper = account_services.person_create(name="孙助手", phone="13700002222")
    account_services.assignment_create(person=helper, node=loop.tree["g2"], role=worker_role, is_public=False)
    query = {"cell": loop.tree["community"].pk, "role": worker_role.pk, "state": "current"}
    # when the page and its export are asked for with the same filters
    page = client.get(reverse("manage:people_in_charge"), query)
    export = client.get(reverse("manage:people_in_charge"), {**query, "as": "xlsx"})
    as_csv = client.get(reverse("manage:people_in_charge"), {**query, "as": "csv"})
    # then the file holds the rows on screen, in the same order, phones masked as on screen
    shown = [(row["a"].person.name, row["phone"]) for row in page.context["rows"]]
    assert len(shown) == 3
    rows = _xlsx_rows(export)
    assert [(r[0], r[8]) for r in rows[1:]] == shown
    assert ("孙助手", "137****2222") in shown
    text = b"".join(as_csv.streaming_content).decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(text)))
    assert [(r[0], r[8]) for r in csv_rows[1:]] == shown
    # and an ended filter shows none of them
    ended = client.get(reverse("manage:people_in_charge"), {**query, "state": "ended"})
    assert ended.context["rows"] == []


# =========================================================================== catalogue and admission
def test_the_catalogue_lists_matters_with_stages_and_exports_them(client, loop):
    # given
    login(client, loop.office)
    # when searching by name
    res = client.get(reverse("manage:catalogue"), {"q": "井盖"})
    # then the matter with its report level, department and stages
    html = res.content.decode()
    assert [row["m"].code for row in res.context["rows"]] == ["01001"]
    assert "区水务局" in html and "设置警示" in html and "补齐修复" in html
    # and the export holds the same row
    rows = _xlsx_rows(client.get(reverse("manage:catalogue"), {"q": "井盖", "as": "xlsx"}))
    assert [r[0] for r in rows[1:]] == ["01001"]
    assert "设置警示: 2 " in rows[1][8]
    # and the whole workbook re-imports (it is the catalogue module's own export)
    book = client.get(reverse("manage:catalogue_workbook"), {"catalogue": "default"})
    assert book["Content-Type"] == xlsx.CONTENT_TYPE
    assert len(load_workbook(io.BytesIO(book.content)).sheetnames) == 3


def _broken_workbook() -> bytes:
    catalogue = Catalogue.objects.get(key="default")
    book = load_workbook(io.BytesIO(xlsx.catalogue_export_xlsx(catalogue=catalogue)))
    matters = book.worksheets[1]
    matters["E3"] = "VERY_URGENT"  # report level of the first matter
    matters["A4"] = "1x"           # code of the second
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_catalogue_import_errors_are_shown_by_sheet_row_and_column(client, loop):
    # given a staff user allowed to change catalogues, and a workbook with two bad cells
    user = grant(loop.centre, "catalogue.change_catalogue")
    login(client, user)
    upload = io.BytesIO(_broken_workbook())
    upload.name = "catalogue.xlsx"
    version = Catalogue.objects.get(key="default").version
    # when
    res = client.post(reverse("manage:catalogue_import"), {"key": "default", "file": upload})
    # then nothing is written and each error has its sheet, row, column and reason
    assert res.status_code == 400
    errors = res.context["errors"]
    assert len(errors) == 2
    by_row = {e["row"]: e for e in errors}
    assert by_row[3]["column"].startswith("E") and "VERY_URGENT" in by_row[3]["reason"]
    assert by_row[4]["column"].startswith("A") and "5 digits" in by_row[4]["reason"]
    assert all(e["sheet"] for e in errors)
    assert b'id="import-errors"' in res.content
    assert Catalogue.objects.get(key="default").version == version
    # and the refused import is listed in the imports hub
    hub = client.get(reverse("manage:imports")).context["imports"]
    assert any(item["source"] == "catalogue.xlsx" for item in hub)


def test_a_catalogue_check_then_import(client, loop):
    # given the default catalogue exported, a matter renamed
    user = grant(loop.centre, "catalogue.change_catalogue")
    login(client, user)
    book = load_workbook(io.BytesIO(xlsx.catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="default"))))
    book.worksheets[1]["C3"] = "井盖缺失破损"
    out = io.BytesIO()
    book.save(out)
    upload = io.BytesIO(out.getvalue())
    upload.name = "renamed.xlsx"
    # when it is checked
    res = client.post(reverse("manage:catalogue_import"), {"key": "default", "file": upload, "dry_run": "on"})
    # then nothing changed yet, and the result page offers the import
    assert res.status_code == 302
    assert Catalogue.objects.get(key="default").matters.get(code="01001").name_zh == "井盖"
    result = client.get(res["Location"])
    assert result.context["record"].counts["updated"] == 1 and result.context["may_confirm"]
    # when confirmed
    token = result.context["record"].token
    client.post(reverse("manage:catalogue_import_confirm", args=[token]))
    # then
    assert Catalogue.objects.get(key="default").matters.get(code="01001").name_zh == "井盖缺失破损"
    assert not client.get(reverse("manage:catalogue_import_result", args=[token])).context["may_confirm"]


def test_admission_apply_then_approve_through_the_pages(client, loop):
    # given a duty list of the grid, a handler of the water department, and the district centre
    duty_list = make_duty_list(loop.scheme)
    matter = Catalogue.objects.get(key="default").matters.get(code="02001")
    handler = loop.handler
    login(client, handler)
    # the handler may apply but not decide
    page = client.get(reverse("manage:admissions"))
    assert page.status_code == 200 and page.context["may_apply"] and not page.context["may_decide"]
    # when the handler applies without a reason
    url = reverse("manage:admission_apply")
    res = client.post(url, {"duty_list": duty_list.pk, "change": "ADD", "matter": "02001",
                            "department": loop.water.pk, "reason": " "})
    # then the reason is asked for, what was typed stays
    assert res.status_code == 400
    assert "reason" in res.context["form"].errors
    assert 'value="02001"' in res.content.decode()
    # when with a reason
    res = client.post(url, {"duty_list": duty_list.pk, "change": "ADD", "matter": "02001",
                            "department": loop.water.pk, "reason": "占道经营由网格员劝导"})
    assert res.status_code == 302
    request = AdmissionRequest.objects.get(duty_list=duty_list, matter=matter)
    assert request.state == AdmissionState.PENDING and request.applied_by == handler
    # the handler sees the withdraw button, not the decision
    detail = client.get(reverse("manage:admission", args=[request.pk]))
    assert detail.context["may_withdraw"] and not detail.context["may_decide"]
    assert b"admission-decide" not in detail.content
    assert client.post(reverse("manage:admission_decide", args=[request.pk]),
                       {"decision": "approve"}).status_code == 403
    # when the grid office (district centre) opens it: the decision, not the withdrawal
    login(client, loop.centre)
    detail = client.get(reverse("manage:admission", args=[request.pk]))
    assert detail.context["may_decide"] and not detail.context["may_withdraw"]
    # a rejection without a reason is refused on the field
    res = client.post(reverse("manage:admission_decide", args=[request.pk]), {"decision": "", "reason": ""})
    assert res.status_code == 400
    res = client.post(reverse("manage:admission_decide", args=[request.pk]), {"decision": "reject", "reason": ""})
    assert res.status_code == 400 and "reason" in res.context["form"].errors
    # approving (the hidden field and the button both say so, as a browser sends them)
    res = client.post(reverse("manage:admission_decide", args=[request.pk]), {"decision": ["", "approve"]})
    assert res.status_code == 302
    request.refresh_from_db()
    duty_list.refresh_from_db()
    assert request.state == AdmissionState.APPROVED and duty_list.version == 1
    # then the list at version 1 holds the matter, at version 0 nothing
    now = client.get(reverse("manage:duty_list", args=[duty_list.pk]))
    assert [e.matter.code for e in now.context["entries"]] == ["02001"]
    before = client.get(reverse("manage:duty_list", args=[duty_list.pk]), {"version": 0})
    assert list(before.context["entries"]) == []
    bad = client.get(reverse("manage:duty_list", args=[duty_list.pk]), {"version": 7})
    assert bad.status_code == 400 and "versions 0 to 1" in bad.context["version_error"]


def test_the_applicant_withdraws_their_own_request(client, loop):
    # given a pending request of the handler
    duty_list = make_duty_list(loop.scheme)
    login(client, loop.handler)
    client.post(reverse("manage:admission_apply"), {"duty_list": duty_list.pk, "change": "ADD", "matter": "02001",
                                                     "department": loop.water.pk, "reason": "理由"})
    request = AdmissionRequest.objects.get(duty_list=duty_list)
    # when another handler tries, then the applicant
    other = account_services.staff_user_create(username="water-two", password="Grid-demo-2026!")
    loop.water_team.members.add(other)
    login(client, other)
    assert client.post(reverse("manage:admission_withdraw", args=[request.pk])).status_code == 403
    login(client, loop.handler)
    client.post(reverse("manage:admission_withdraw", args=[request.pk]))
    # then
    request.refresh_from_db()
    assert request.state == AdmissionState.WITHDRAWN


def test_admission_requests_export_the_filtered_rows(client, loop):
    # given two requests, one pending and one approved
    duty_list = make_duty_list(loop.scheme)
    login(client, loop.centre)
    for code in ("02001", "10001"):
        client.post(reverse("manage:admission_apply"), {"duty_list": duty_list.pk, "change": "ADD", "matter": code,
                                                         "reason": "理由"})
    first = AdmissionRequest.objects.get(matter__code="02001")
    client.post(reverse("manage:admission_decide", args=[first.pk]), {"decision": "approve"})
    # when the pending ones are exported
    rows = _xlsx_rows(client.get(reverse("manage:admissions"), {"state": "PENDING", "as": "xlsx"}))
    # then
    assert [r[3] for r in rows[1:]] == ["10001"]
    assert DutyList.objects.get(pk=duty_list.pk).version == 1


# =========================================================================== grid-map import
def _geojson(features: list[dict]) -> io.BytesIO:
    upload = io.BytesIO(json.dumps({"type": "FeatureCollection", "features": features}).encode())
    upload.name = "grids.geojson"
    return upload


def _feature(name, geometry, **props):
    return {"type": "Feature", "properties": {"name": name, **props}, "geometry": geometry}


BOWTIE = {"type": "Polygon", "coordinates": [[[116.0, 40.0], [116.02, 40.02], [116.02, 40.0], [116.0, 40.02],
                                              [116.0, 40.0]]]}


def test_a_grid_map_dry_run_reports_a_bad_polygon_and_writes_nothing(client, loop):
    # given the district centre, allowed to import, and a file with a good grid and a self-intersecting one
    user = grant(loop.centre, "territory.import_territory")
    login(client, user)
    community = loop.tree["community"]
    good = square(116.0, 40.0, 116.02, 40.02)
    upload = _geojson([
        _feature("三网格", good, level="microgrid", parent_code=loop.tree["g1"].code),
        _feature("坏网格", BOWTIE, level="grid", parent_code=community.code),
    ])
    before = Node.objects.count()
    # when it is uploaded
    res = client.post(reverse("manage:gridmap_import"), {"file": upload, "scheme": loop.scheme.key,
                                                         "mode": "per_row", "reason": "测试"})
    # then nothing is written and the report page lists the bad row with the reason and the place
    assert res.status_code == 302
    assert Node.objects.count() == before
    report = client.get(res["Location"])
    assert report.status_code == 200
    rejected = report.context["rejected"]
    assert [(r["row"], r["field"]) for r in rejected] == [(2, "geometry")]
    assert "self-intersection" in rejected[0]["reason"].lower()
    html = report.content.decode()
    assert 'id="invalid-polygons"' in html and "坏网格" in html
    assert report.context["counts"]["imported"] == 1 and report.context["may_confirm"]
    # and the rejected rows download as XLSX
    rows = _xlsx_rows(client.get(reverse("manage:gridmap_rejected", args=[report.context["record"].token])))
    assert rows[1][0] == 2 and rows[1][2] == "坏网格"
    # when confirmed, the good row is written once
    token = report.context["record"].token
    client.post(reverse("manage:gridmap_confirm", args=[token]))
    assert Node.objects.filter(name="三网格", parent=loop.tree["g1"]).count() == 1
    again = client.post(reverse("manage:gridmap_confirm", args=[token]), follow=True)
    assert Node.objects.filter(name="三网格").count() == 1
    assert again.context["record"].state == "done"


def test_a_grid_map_reports_unknown_parents_and_unreadable_files(client, loop):
    # given
    user = grant(loop.centre, "territory.import_territory")
    login(client, user)
    # when a row names a parent that does not exist
    upload = _geojson([_feature("孤儿", square(116.0, 40.0, 116.01, 40.01), level="grid", parent_code="999999999999")])
    res = client.post(reverse("manage:gridmap_import"), {"file": upload, "scheme": loop.scheme.key,
                                                         "mode": "per_row"}, follow=True)
    # then the row is rejected on its parent code
    assert [(r["field"], r["parent_code"]) for r in res.context["rejected"]] == [("parent_code", "999999999999")]
    assert not res.context["may_confirm"]
    # when the file is not JSON: the error is on the file field, what was chosen stays
    bad = io.BytesIO(b"{not json")
    bad.name = "grids.geojson"
    res = client.post(reverse("manage:gridmap_import"), {"file": bad, "scheme": loop.scheme.key,
                                                         "mode": "all_or_nothing", "reason": "保留"})
    assert res.status_code == 400
    assert "not valid JSON" in " ".join(res.context["form"].errors["file"])
    assert 'value="保留"' in res.content.decode()


def test_an_office_may_not_import_cells_outside_its_territory(client, loop):
    # given the street office, allowed to import, and a file adding a street under the district
    user = grant(loop.office, "territory.import_territory")
    login(client, user)
    district = loop.tree["district"]
    upload = _geojson([_feature("新街道", square(116.05, 40.05, 116.06, 40.06), level="street",
                                parent_code=district.code, code="110117214000")])
    # when
    res = client.post(reverse("manage:gridmap_import"), {"file": upload, "scheme": loop.scheme.key,
                                                         "mode": "per_row"}, follow=True)
    # then the row is listed as outside the territory and the import cannot be confirmed
    assert [o["row"] for o in res.context["outside"]] == [1]
    assert not res.context["may_confirm"]
    token = res.context["record"].token
    client.post(reverse("manage:gridmap_confirm", args=[token]))
    assert not Node.objects.filter(code="110117214000").exists()


def test_the_grid_map_page_needs_the_import_permission(client, loop):
    # given the office without the permission
    login(client, loop.office)
    # then the page explains, and an upload is refused
    assert client.get(reverse("manage:gridmap_import")).context["may_import"] is False
    upload = _geojson([_feature("x", square(116.0, 40.0, 116.01, 40.01), level="grid")])
    res = client.post(reverse("manage:gridmap_import"), {"file": upload, "scheme": loop.scheme.key,
                                                         "mode": "per_row"})
    assert res.status_code == 403


def test_a_grid_map_report_is_its_owners(client, loop):
    # given a report of the centre
    user = grant(loop.centre, "territory.import_territory")
    login(client, user)
    upload = _geojson([_feature("x", square(116.0, 40.0, 116.01, 40.01), level="microgrid",
                                parent_code=loop.tree["g1"].code)])
    location = client.post(reverse("manage:gridmap_import"), {"file": upload, "scheme": loop.scheme.key,
                                                              "mode": "per_row"})["Location"]
    # when the office opens it
    login(client, loop.office)
    # then
    assert client.get(location).status_code == 404


# =========================================================================== imports hub
def test_the_imports_hub_lists_base_data_jobs_and_grid_maps(client, loop):
    # given a finished base-data job with rejected rows, and a grid-map check, of the centre
    user = grant(loop.centre, "territory.import_territory")
    job = DataJob.objects.create(kind=JobKind.IMPORT, record_type="houses", scheme=loop.scheme, owner=user,
                                 file_name="houses.xlsx", status=JobStatus.DONE, result_path="x.xlsx",
                                 summary={"created": 5, "updated": 0, "unchanged": 1, "rejected_rows": 2})
    DataJob.objects.create(kind=JobKind.IMPORT, record_type="houses", scheme=loop.scheme, owner=loop.office,
                           file_name="someone-elses.xlsx", status=JobStatus.DONE)
    login(client, user)
    client.post(reverse("manage:gridmap_import"), {
        "file": _geojson([_feature("x", square(116.0, 40.0, 116.01, 40.01), level="microgrid",
                                   parent_code=loop.tree["g1"].code)]),
        "scheme": loop.scheme.key, "mode": "per_row"})
    # when
    res = client.get(reverse("manage:imports"))
    # then both are listed with their state, the job's counts and links
    items = {item["source"]: item for item in res.context["imports"]}
    assert set(items) == {"houses.xlsx", "grids.geojson"}
    assert items["houses.xlsx"]["url"] == reverse("people:import", args=[job.pk])
    assert items["houses.xlsx"]["rejected_url"] == reverse("people:import_rejected", args=[job.pk])
    assert {c["label"]: c["value"] for c in items["houses.xlsx"]["counts"]}["rejected"] == 2
    assert items["grids.geojson"]["state"] == "Dry run done"
    assert reverse("people:imports").encode() in res.content


def test_an_empty_workbook_is_refused_with_a_reason(client, loop):
    # given
    user = grant(loop.centre, "catalogue.change_catalogue")
    login(client, user)
    out = io.BytesIO()
    Workbook().save(out)
    upload = io.BytesIO(out.getvalue())
    upload.name = "empty.xlsx"
    # when
    res = client.post(reverse("manage:catalogue_import"), {"key": "default", "file": upload})
    # then the errors say which sheets are missing
    assert res.status_code == 400
    assert any("no sheet" in e["reason"] for e in res.context["errors"])


def test_the_overview_shows_a_base_data_import_as_text_not_as_a_dict(client, loop):
    # given a finished base-data import whose summary holds its first errors (a list of row, column, reason)
    user = grant(loop.centre, "territory.import_territory")
    user.first_name, user.last_name = "Centre", "Clerk"
    user.save(update_fields=["first_name", "last_name"])
    DataJob.objects.create(kind=JobKind.IMPORT, record_type="houses", scheme=loop.scheme, owner=user,
                           file_name="houses.xlsx", status=JobStatus.DONE, result_path="x.xlsx",
                           summary={"kind": "houses", "rows": 8, "created": 5, "updated": 0, "unchanged": 1,
                                    "rejected_rows": 2, "created_by_type": {"house": 5},
                                    "errors": [{"row": 2, "column": "code", "reason": "duplicate"},
                                               {"row": 4, "column": "code", "reason": "duplicate"},
                                               {"row": 4, "column": "area", "reason": "not a number"}],
                                    "errors_total": 3})
    login(client, user)
    # when
    res = client.get(reverse("manage:index"), HTTP_ACCEPT_LANGUAGE="en")
    # then which import, when, by whom and its counts read as text, and no Python value leaks into the page
    item = res.context["imports"][0]
    assert {c["label"]: c["value"] for c in item["counts"]} == {"created": 5, "unchanged": 1, "rejected": 2,
                                                                "errors": 3}
    page = res.content.decode()
    assert "{&#x27;row&#x27;" not in page and "{'row'" not in page and "&#x27;reason&#x27;" not in page
    assert "created 5, unchanged 1, rejected 2, errors 3" in page
    assert "Centre Clerk" in page and "houses.xlsx" in page

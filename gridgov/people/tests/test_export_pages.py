"""Exports from the base-data list pages: the control on each list carries the page's filters, the file holds
exactly the rows the list shows (all pages), masked unless revealed with a purpose by someone who may (and
logged), long lists through a background job with a progress page, jobs and files their owner's alone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.people import export_jobs, export_views, exports, services
from gridgov.people.models import DataJob, Household, JobStatus, Occupancy, RecordState, SpecialGroup
from gridgov.people.tests import factories
from gridgov.people.tests.factories import credit_code, id_number, make_house, make_household, make_resident
from gridgov.privacy.access import clear_value
from gridgov.privacy.models import AccessLog

pytestmark = pytest.mark.django_db

VIEW_PERMS = ["people.view_resident", "people.view_household", "people.view_house", "people.view_legalentity"]
PURPOSE = "低保复核名单核对"
LISTS = {"residents": "people:residents", "households": "people:households", "houses": "people:houses",
         "entities": "people:entities"}


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = str(tmp_path / "private")


@pytest.fixture(autouse=True)
def _own_id_sequence(monkeypatch):
    """These tests build many residents: draw their ID numbers from a sequence of their own (the database
    is new for each test), leaving the factories' shared one, whose value moves birth dates past 500, as
    the other tests of the worker expect it."""
    monkeypatch.setattr(factories, "_seq", itertools.count(1))


@pytest.fixture
def data(scheme, tree):
    """Records of every kind in both grids, with what each list filter tells apart (states, yes/no
    registrations running today, ended or not yet started)."""
    today = timezone.localdate()
    g1, g2 = tree["g1"], tree["g2"]
    owned = make_house(scheme, g1, occupancy=Occupancy.OWNER)
    rented = make_house(scheme, g1, occupancy=Occupancy.RENTED)
    make_house(scheme, g2, occupancy=Occupancy.VACANT)
    gone = make_house(scheme, g2, occupancy=Occupancy.RENTED)
    services.record_set_state(record=gone, state=RecordState.DEMOLISHED, date=dt.date(2024, 5, 1))

    family, family_people = make_household(scheme, g1, head_name="周大福", members=2, house=owned)
    collective, collective_people = make_household(scheme, g2, head_name="吴敏", members=1,
                                                   kind=Household.Kind.COLLECTIVE)
    moved, _moved_people = make_household(scheme, g2, head_name="郑强", members=0)
    services.record_set_state(record=moved, state=RecordState.MOVED_OUT, date=dt.date(2024, 6, 1))
    # a member of the family moved out: the list (and the file) count two active members
    services.record_set_state(record=family_people[2], state=RecordState.MOVED_OUT, date=dt.date(2024, 7, 1))

    lodger = make_resident(scheme, g1, name="孙丽", id_number=id_number(male=False), phone="13655554444",
                           registered_here=False, house=rented, actual_address="白云寺村幸福路18号")
    visitor = make_resident(scheme, g2, name="钱七", id_number=id_number(), living_here=False)
    veteran = SpecialGroup.objects.get(key="veteran")
    # in the group today: running, and ending later; not today: ended, and starting later
    services.membership_add(resident=family_people[0], group=veteran, start_date=dt.date(2020, 1, 1))
    ending = services.membership_add(resident=lodger, group=veteran, start_date=dt.date(2021, 1, 1))
    services.membership_end(membership=ending, end_date=today + dt.timedelta(days=30))
    ended = services.membership_add(resident=visitor, group=veteran, start_date=dt.date(2021, 1, 1))
    services.membership_end(membership=ended, end_date=today - dt.timedelta(days=1))
    services.membership_add(resident=collective_people[0], group=veteran, start_date=today + dt.timedelta(days=5))

    member = services.party_member_register(resident=family_people[0], branch_node=tree["community"],
                                            start_date=dt.date(2019, 1, 1))
    former = services.party_member_register(resident=visitor, branch_node=tree["community"],
                                            start_date=dt.date(2019, 1, 1))
    services.party_member_end(member=former, end_date=dt.date(2023, 1, 1))
    services.volunteer_register(resident=lodger, start_date=dt.date(2022, 1, 1))
    services.volunteer_register(resident=collective_people[1], start_date=today + dt.timedelta(days=3))
    services.household_pair(member=member, household=collective, start_date=dt.date(2024, 1, 1))

    services.entity_create(scheme=scheme, name="白云商店", credit_code=credit_code(), node=g1,
                           representative="钱老板", phone="13700001111")
    services.entity_create(scheme=scheme, name="金海湖超市", credit_code=credit_code(), node=g2)
    closed = services.entity_create(scheme=scheme, name="旧货站", credit_code=credit_code(), node=g2)
    services.record_set_state(record=closed, state=RecordState.CLOSED, date=dt.date(2024, 2, 1))
    return {"family": family, "family_people": family_people, "lodger": lodger, "visitor": visitor}


@pytest.fixture
def revealer_role(scheme):
    role = make_role(scheme, key="worker_reveal", levels=("community", "grid"))
    role.reveals_personal_data = True
    role.save()
    return role


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class Control:
    """The export form found in a list page, as a browser would send it."""

    def __init__(self, html: str):
        match = re.search(r'<form class="export-form[^"]*" method="post" action="([^"]+)"[^>]*>(.*?)</form>', html,
                          re.S)
        assert match, "no export control on the page"
        self.action = unescape(match.group(1))
        self.body = match.group(2)
        self.hidden = {unescape(n): unescape(v) for n, v in
                       re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', self.body)
                       if n != "csrfmiddlewaretoken"}

    def data(self, **fields) -> dict:
        return {**self.hidden, **{f"export-{k}": v for k, v in fields.items()}}


def list_page(client, list_name: str, node, query: str = ""):
    res = client.get(reverse(LISTS[list_name], args=[node.pk]) + (f"?{query}" if query else ""))
    assert res.status_code == 200
    return res


def listed_ids(res) -> list[int]:
    """Every record the list selects, on all of its pages."""
    return sorted(r.pk for r in res.context["page"].paginator.object_list)


def file_rows(content: bytes, fmt: str) -> list[list]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    book = load_workbook(io.BytesIO(content), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def downloaded(client, response) -> bytes:
    assert response.status_code == 302, getattr(response, "content", b"")[:500]
    got = client.get(response["Location"])
    assert got.status_code == 200 and "no-store" in got["Cache-Control"] and "private" in got["Cache-Control"]
    return b"".join(got.streaming_content)


def export_through_page(client, list_name: str, node, query: str, fmt: str) -> tuple[list[int], list[list]]:
    page = list_page(client, list_name, node, query)
    control = Control(page.content.decode())
    rows = file_rows(downloaded(client, client.post(control.action, control.data(format=fmt))), fmt)
    return listed_ids(page), rows


def test_each_list_shows_the_export_control_with_its_filters(tree, data):
    # given a worker of the community who may see the lists
    client = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    for list_name, query, hidden in [("residents", "gender=F&registered=no", {"gender": "F", "registered": "no"}),
                                     ("households", "household_kind=COLLECTIVE", {"household_kind": "COLLECTIVE"}),
                                     ("houses", "occupancy=RENTED&state=all", {"occupancy": "RENTED", "state": "all"}),
                                     ("entities", "", {})]:
        # when they open the list with filters
        html = list_page(client, list_name, tree["community"], query).content.decode()
        # then the control posts the page's filters to the export of that list, XLSX or CSV, masked only
        control = Control(html)
        assert control.action == reverse("people:export_create", args=[tree["community"].pk, list_name])
        assert control.hidden == hidden
        assert 'name="export-format" value="xlsx"' in control.body and 'value="csv"' in control.body
        assert 'for="id_export-format_0"' in control.body
        assert "export-reveal" not in control.body and "export-purpose" not in control.body


def test_no_control_without_the_permission_or_with_invalid_filters(tree, data):
    # given a worker without the permission to see residents (the export API asks for it too)
    plain = client_for(make_staff(tree["community"]))
    # when / then the list shows no control and the export is refused
    assert "export-form" not in list_page(plain, "residents", tree["community"]).content.decode()
    url = reverse("people:export_create", args=[tree["community"].pk, "residents"])
    assert plain.post(url, {"export-format": "csv"}).status_code == 403
    # and with the permission but filters the page refuses (a sensitive group), no control either
    client = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    assert "export-form" not in list_page(client, "residents", tree["community"], "group=key_person").content.decode()
    res = client.post(url, {"group": "key_person", "export-format": "csv"})
    assert res.status_code == 400 and "not valid here" in res.content.decode()
    assert not DataJob.objects.exists()


@pytest.mark.parametrize(("list_name", "query", "fmt"), [
    ("residents", "", "csv"),
    ("residents", "state=all", "xlsx"),
    ("residents", "state=MOVED_OUT", "csv"),
    ("residents", "registered=no", "csv"),
    ("residents", "actual=no", "xlsx"),
    ("residents", "gender=F", "csv"),
    ("residents", "group=veteran", "csv"),
    ("residents", "party=yes", "xlsx"),
    ("residents", "party=no&state=all", "csv"),
    ("residents", "volunteer=yes", "csv"),
    ("residents", "volunteer=no&gender=M&registered=yes", "csv"),
    ("households", "", "csv"),
    ("households", "state=all", "xlsx"),
    ("households", "household_kind=COLLECTIVE", "csv"),
    ("households", "paired=yes", "csv"),
    ("households", "paired=no&state=all", "xlsx"),
    ("houses", "", "xlsx"),
    ("houses", "occupancy=RENTED&state=all", "csv"),
    ("houses", "state=DEMOLISHED", "csv"),
    ("entities", "", "csv"),
    ("entities", "state=CLOSED", "xlsx"),
    ("entities", "state=all", "csv"),
])
def test_the_file_holds_exactly_the_rows_the_list_shows(tree, data, list_name, query, fmt):
    # given a worker of the community
    client = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    # when they export the list as the page shows it with these filters
    listed, rows = export_through_page(client, list_name, tree["community"], query, fmt)
    # then the file has a header and one row per listed record, the same records
    assert listed, "the fixture should give every filter something to list"
    assert sorted(int(r[0]) for r in rows[1:]) == listed


def test_the_file_follows_a_smaller_cell_and_all_pages(tree, data, scheme):
    # given more residents in g1 than one page of the list holds
    for _ in range(55):
        make_resident(scheme, tree["g1"])
    client = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    # when the list of g1 is exported
    page = list_page(client, "residents", tree["g1"])
    assert page.context["page"].paginator.num_pages == 2
    listed, rows = export_through_page(client, "residents", tree["g1"], "", "csv")
    # then every page's rows are there, none of g2's
    assert sorted(int(r[0]) for r in rows[1:]) == listed and len(listed) > 55
    assert data["visitor"].pk not in listed


def test_the_member_count_is_the_one_the_list_shows(tree, data):
    # given a household of g1 with a member who moved out
    client = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    page = list_page(client, "households", tree["g1"])
    shown = {r.pk: r.member_count for r in page.context["page"].paginator.object_list}
    # when the households of g1 are exported
    _listed, rows = export_through_page(client, "households", tree["g1"], "", "csv")
    # then the file counts the active members, as the list does
    members = rows[0].index(next(h for h in rows[0] if h.endswith("/ Members")))
    assert {int(r[0]): int(r[members]) for r in rows[1:]} == shown
    assert shown[data["family"].pk] == 2


def test_every_page_filter_has_an_export_filter():
    # given / when each list page's filter form and the export's filter set
    # then every page filter maps to an export filter (one added to a page alone would make the file differ)
    for spec in export_views.EXPORT_LISTS.values():
        form = spec.filter_form_for({}, may_reveal=True)
        assert set(form.fields) - {"state"} == set(spec.params), spec.record_type
        export_filters = exports.EXPORT_KINDS[spec.record_type].filterset.base_filters
        assert set(spec.params.values()) | {"cell", "state"} <= set(export_filters), spec.record_type
        assert spec.yes_no <= set(spec.params)


def test_export_is_masked_by_default_and_logged(tree, data):
    # given a worker of the community who may not reveal personal data
    user = make_staff(tree["community"], perms=VIEW_PERMS)
    client = client_for(user)
    # when they export the residents
    listed, rows = export_through_page(client, "residents", tree["community"], "registered=yes", "csv")
    # then no clear personal value is in the file
    flat = repr(rows)
    lodger, head = data["lodger"], data["family_people"][0]
    for secret in ("周大福", "孙丽", clear_value(head, "id_number"), clear_value(head, "phone"), "13655554444"):
        assert secret not in flat
    assert head.id_masked in flat
    # and one EXPORT entry holds the page's filters (as the export reads them) and the row count
    entry = AccessLog.objects.get(user=user)
    assert (entry.kind, entry.rows, entry.node, entry.purpose) == ("EXPORT", len(listed), tree["community"], "")
    assert entry.detail["filters"] == {"cell": str(tree["community"].pk), "state": "ACTIVE",
                                       "registered_here": "true"}
    assert lodger.pk not in listed


def test_a_revealing_export_needs_a_purpose_and_keeps_what_was_typed(tree, data, revealer_role):
    # given a worker whose role may reveal personal data in the community
    user = make_staff(tree["community"], role=revealer_role, perms=VIEW_PERMS)
    client = client_for(user)
    control = Control(list_page(client, "residents", tree["community"], "registered=no").content.decode())
    assert 'name="export-reveal"' in control.body and 'name="export-purpose"' in control.body
    # when they ask for the reveal with too short a purpose
    res = client.post(control.action, control.data(format="csv", reveal="on", purpose="看"))
    # then the page answers 400 with the error on the purpose, and what they typed is still there
    html = res.content.decode()
    assert res.status_code == 400
    assert re.search(r'name="export-purpose".*?<ul class="errorlist"[^>]*>\s*<li>[^<]*(at least|至少)', html, re.S)
    assert 'name="export-purpose" value="看"' in html and 'aria-invalid="true"' in html
    assert re.search(r'name="export-format" value="csv"[^>]*checked', html)
    assert re.search(r'name="export-reveal"[^>]*checked', html)
    assert '<input type="hidden" name="registered" value="no">' in html
    assert not DataJob.objects.exists() and not AccessLog.objects.exists()
    # when they state a purpose
    res = client.post(control.action, control.data(format="csv", reveal="on", purpose=PURPOSE))
    rows = file_rows(downloaded(client, res), "csv")
    # then the names are in clear, and each revealed record is logged with the purpose
    lodger = data["lodger"]
    assert [int(r[0]) for r in rows[1:]] == [lodger.pk]
    assert "孙丽" in rows[1] and "13655554444" in rows[1]
    revealed = AccessLog.objects.filter(user=user, kind="EXPORT_REVEALED")
    # one entry per revealed record, and the export's own entry (no record)
    assert sorted(revealed.values_list("record_id", flat=True), key=lambda pk: pk or 0) == [None, lodger.pk]
    assert set(revealed.values_list("purpose", flat=True)) == {PURPOSE}


def test_a_user_who_may_not_reveal_cannot_post_a_reveal(tree, data):
    client = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    url = reverse("people:export_create", args=[tree["community"].pk, "residents"])
    res = client.post(url, {"export-format": "csv", "export-reveal": "on", "export-purpose": PURPOSE})
    assert res.status_code == 403
    assert not DataJob.objects.exists() and not AccessLog.objects.exists()


def test_a_long_list_runs_in_the_background_with_a_progress_page(tree, data, settings,
                                                                 django_capture_on_commit_callbacks):
    # given lists longer than what is written during the request
    settings.PEOPLE_EXPORT_INLINE_ROWS = 2
    user = make_staff(tree["community"], perms=VIEW_PERMS)
    client = client_for(user)
    page = list_page(client, "residents", tree["community"], "state=all")
    control = Control(page.content.decode())
    # when they export
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        res = client.post(control.action, control.data(format="xlsx"))
    # then they are sent to the job's page, which polls its progress while the job waits
    job = DataJob.objects.get(owner=user)
    assert res.status_code == 302 and res["Location"] == reverse("people:export", args=[job.pk])
    html = client.get(res["Location"]).content.decode()
    progress = reverse("people:export_progress", args=[job.pk])
    assert f'hx-get="{progress}"' in html and 'aria-busy="true"' in html and "<progress" in html
    assert job.get_status_display() in html
    assert f"0 of {len(listed_ids(page))} rows written" in html
    # and the download is not offered yet (asking for it leads back to the job page)
    download = reverse("people:export_download", args=[job.pk])
    assert download not in html
    assert client.get(download)["Location"] == reverse("people:export", args=[job.pk])
    # when the background task runs
    assert len(callbacks) == 1
    callbacks[0]()
    # then the polled fragment stops polling and offers the file, which holds the listed rows
    fragment = client.get(progress).content.decode()
    assert "hx-get" not in fragment and download in fragment
    rows = file_rows(b"".join(client.get(download).streaming_content), "xlsx")
    assert sorted(r[0] for r in rows[1:]) == listed_ids(page)
    # and the job is in their list of exports
    assert download in client.get(reverse("people:exports")).content.decode()


def test_a_failed_export_says_so(tree, data):
    # given an export whose job failed
    user = make_staff(tree["community"], perms=VIEW_PERMS)
    job = export_jobs.export_job_create(user=user, scheme=tree["community"].scheme, record_type="houses",
                                    filters={"cell": tree["community"].pk}, fmt="csv")
    DataJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, result_path="",
                                             error="the export failed; try again, or ask the administrator")
    # when its owner opens its page
    html = client_for(user).get(reverse("people:export", args=[job.pk])).content.decode()
    # then the error is shown, and no download
    assert "the export failed; try again" in html and 'role="alert"' in html
    assert reverse("people:export_download", args=[job.pk]) not in html


def test_jobs_and_files_are_their_owners_alone(tree, data, django_user_model):
    # given an export by one worker
    owner = make_staff(tree["community"], perms=VIEW_PERMS)
    client = client_for(owner)
    control = Control(list_page(client, "houses", tree["community"]).content.decode())
    res = client.post(control.action, control.data(format="csv"))
    job = DataJob.objects.get(owner=owner)
    assert res["Location"] == reverse("people:export_download", args=[job.pk])
    # when another worker of the same community, or a superuser, asks for its page, progress or file
    other = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    root = client_for(django_user_model.objects.create_superuser("root", password="Root-pass-2026!"))
    # then it is not found
    for name in ("people:export", "people:export_progress", "people:export_download"):
        url = reverse(name, args=[job.pk])
        assert other.get(url).status_code == 404, name
        assert root.get(url).status_code == 404, name
        assert client.get(url).status_code in (200, 302), name
    assert reverse("people:export", args=[job.pk]) not in other.get(reverse("people:exports")).content.decode()
    # and a cell outside their territory cannot be exported from
    g1_worker = client_for(make_staff(tree["g1"], perms=VIEW_PERMS))
    url = reverse("people:export_create", args=[tree["g2"].pk, "houses"])
    assert g1_worker.post(url, {"export-format": "csv"}).status_code == 404


def test_the_export_page_shows_the_filters_and_the_count(tree, data):
    # given a worker who follows the control's fallback page with the list's filters
    client = client_for(make_staff(tree["community"], perms=VIEW_PERMS))
    url = reverse("people:export_create", args=[tree["community"].pk, "households"])
    # when they open it
    res = client.get(url + "?household_kind=COLLECTIVE")
    # then it names the filters and how many records the file will hold, and the form carries them
    html = res.content.decode()
    assert res.status_code == 200
    assert "Collective household" in html or "集体户" in html
    assert '<input type="hidden" name="household_kind" value="COLLECTIVE">' in html
    page = list_page(client, "households", tree["community"], "household_kind=COLLECTIVE")
    assert res.context["rows"] == len(listed_ids(page)) == 1
    # and an unknown list is not found
    assert client.get(reverse("people:export_create", args=[tree["community"].pk, "buildings"])).status_code == 404

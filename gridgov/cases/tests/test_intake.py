"""Intake as one transaction, and the limits of a report: one set, defined in the intake service and the
same at each entry (the public page form, the API, Open311 and the grid worker's phone page)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gridgov.accounts.tests.factories import api_client_for
from gridgov.cases.errors import ActionForbidden
from gridgov.cases.models import ActionGrant, Case, CaseState, Channel, IntakeKey
from gridgov.cases.services import DESCRIPTION_MAX_LENGTH, PHOTOS_MAX, PLACE_MAX_LENGTH, case_report
from gridgov.cases.tests.factories import make_loop, png, point_in


@pytest.fixture
def loop(scheme, tree):
    cache.clear()
    # a transactional test before this one (same worker) flushed the rows the migrations seed
    if not ActionGrant.objects.filter(scheme__isnull=True).exists():
        importlib.import_module("gridgov.cases.migrations.0002_guards_and_grants").grants(apps, None)
    return make_loop(scheme, tree)


def photo(name="p.png", color=(200, 30, 30)):
    return SimpleUploadedFile(name, png(color), content_type="image/png")


# =========================================================================== one transaction
def test_a_failing_self_handle_leaves_no_case_and_no_key_and_the_retry_creates_it(loop):
    # given a grid worker's report handled on the spot, while no grant lets a reporter self-handle
    lon, lat = point_in(loop.tree["g1"])
    grants = list(ActionGrant.objects.filter(action="self_handle"))
    ActionGrant.objects.filter(action="self_handle").delete()
    kw = dict(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat, description="占道经营，已劝离",
              self_handled=True, idempotency_key="phone-1")
    # when it is sent
    with pytest.raises(ActionForbidden):
        case_report(**kw, before_photos=[png()], after_photos=[png((0, 200, 0))])
    # then nothing of it stays: no case, no idempotency key
    assert not Case.objects.exists() and not IntakeKey.objects.exists()
    # and once the grant is back, the retry with the same key creates the case, handled
    ActionGrant.objects.bulk_create(grants)
    result = case_report(**kw, before_photos=[png()], after_photos=[png((0, 200, 0))])
    assert result.created and result.case.state in (CaseState.CLOSED, CaseState.REPORTED_BACK)
    assert Case.objects.count() == 1 and IntakeKey.objects.get().case == result.case


# =========================================================================== the service's limits
def _resident(loop, **kw):
    lon, lat = point_in(loop.tree["g1"])
    return case_report(**{"actor": None, "channel": Channel.RESIDENT, "scheme": loop.scheme, "lon": lon,
                          "lat": lat, "description": "路灯不亮", **kw})


def test_the_service_takes_a_report_up_to_each_limit_and_refuses_one_more(loop):
    # when a report is at each limit, then it is taken as given
    case = _resident(loop, description="灯" * DESCRIPTION_MAX_LENGTH, place="路" * PLACE_MAX_LENGTH,
                     photos=[png((i, 0, 0)) for i in range(PHOTOS_MAX)]).case
    assert len(case.description) == DESCRIPTION_MAX_LENGTH and len(case.place) == PLACE_MAX_LENGTH
    assert case.attachments.count() == PHOTOS_MAX
    # when it is one over a limit, then the field is named and nothing is filed (no truncation)
    for over, field in (({"description": "灯" * (DESCRIPTION_MAX_LENGTH + 1)}, "description"),
                        ({"place": "路" * (PLACE_MAX_LENGTH + 1)}, "place"),
                        ({"photos": [png((i, 0, 0)) for i in range(PHOTOS_MAX + 1)]}, "photos")):
        with pytest.raises(ValidationError) as err:
            _resident(loop, **over)
        assert field in err.value.message_dict
    assert Case.objects.count() == 1


# =========================================================================== the public page form
def _public(client, node, **data):
    token = client.get(f"/cases/report/{node.scheme.key}/{node.code}/").context["form"].initial["token"]
    return client.post(f"/cases/report/{node.scheme.key}/{node.code}/", {"token": token, **data})


def test_the_public_form_takes_what_the_service_takes(loop):
    # given a resident on the QR page of a cell
    client, node = Client(), loop.tree["g1"]
    # when the report is at every limit (several photos too)
    response = _public(client, node, description="灯" * DESCRIPTION_MAX_LENGTH, place="路" * PLACE_MAX_LENGTH,
                       photo=[photo(f"{i}.png", (i, 0, 0)) for i in range(PHOTOS_MAX)])
    # then it is filed as given
    assert response.status_code == 200, response.context["form"].errors
    case = Case.objects.get()
    assert len(case.description) == DESCRIPTION_MAX_LENGTH and len(case.place) == PLACE_MAX_LENGTH
    assert case.attachments.count() == PHOTOS_MAX
    # and one over each limit is refused on its field
    for over, field in (({"description": "灯" * (DESCRIPTION_MAX_LENGTH + 1)}, "description"),
                        ({"description": "灯", "place": "路" * (PLACE_MAX_LENGTH + 1)}, "place"),
                        ({"description": "灯", "photo": [photo(f"{i}.png") for i in range(PHOTOS_MAX + 1)]},
                         "photo")):
        response = _public(Client(), node, **over)
        assert response.status_code == 400 and field in response.context["form"].errors
    assert Case.objects.count() == 1


# =========================================================================== the API
def test_the_api_takes_what_the_service_takes(loop):
    # given the street office on the API
    api = api_client_for(loop.office)
    lon, lat = point_in(loop.tree["g1"])
    body = {"channel": "HOTLINE", "matter": "02001", "lon": lon, "lat": lat}
    # when the report is at every limit, then it is filed
    response = api.post("/api/cases/", {**body, "description": "占" * DESCRIPTION_MAX_LENGTH,
                                        "place": "路" * PLACE_MAX_LENGTH,
                                        "photos": [photo(f"{i}.png", (i, 0, 0)) for i in range(PHOTOS_MAX)]},
                        format="multipart")
    assert response.status_code == 201, response.content
    # and one over each limit is a 400 naming the field
    for over, field in (({"description": "占" * (DESCRIPTION_MAX_LENGTH + 1)}, "description"),
                        ({"description": "占", "place": "路" * (PLACE_MAX_LENGTH + 1)}, "place"),
                        ({"description": "占", "photos": [photo(f"{i}.png") for i in range(PHOTOS_MAX + 1)]},
                         "photos")):
        response = api.post("/api/cases/", {**body, **over}, format="multipart")
        assert response.status_code == 400 and field in response.json(), response.content
    assert Case.objects.count() == 1


# =========================================================================== the phone page
def test_the_phone_page_takes_what_the_service_takes(loop):
    # given the grid worker of grid 1 on the phone page
    client = Client()
    client.force_login(loop.worker)
    lon, lat = point_in(loop.tree["g1"])
    data = {"matter": "02001", "lon": f"{lon:.7f}", "lat": f"{lat:.7f}", "node": "", "token": "t-1"}
    # when the report is at every limit, then it is filed as given
    response = client.post("/m/report/", {**data, "description": "占" * DESCRIPTION_MAX_LENGTH,
                                          "place": "路" * PLACE_MAX_LENGTH,
                                          "photos": [photo(f"{i}.png", (i, 0, 0)) for i in range(PHOTOS_MAX)]})
    assert response.status_code == 302
    case = Case.objects.get()
    assert len(case.place) == PLACE_MAX_LENGTH and case.attachments.count() == PHOTOS_MAX
    # and one over each limit is refused on the page, naming the part of the form
    for n, (over, part) in enumerate(((({"description": "占" * (DESCRIPTION_MAX_LENGTH + 1)}, "description")),
                                      ({"description": "占", "place": "路" * (PLACE_MAX_LENGTH + 1)}, "location"),
                                      ({"description": "占", "photos": [photo(f"{i}.png")
                                                                       for i in range(PHOTOS_MAX + 1)]}, "photos"))):
        response = client.post("/m/report/", {**data, "token": f"t-over-{n}", **over})
        assert response.status_code == 400 and response.context["errors"].get(part), response.context["errors"]
    assert Case.objects.count() == 1


# =========================================================================== who reports from the phone page
def _helper(loop, cell="g1"):
    """A 1+N helper of grid `cell`: a field role that grants no scope (sees no case of the grid)."""
    from gridgov.accounts import services as account_services
    from gridgov.accounts.models import RoleCategory
    from gridgov.accounts.tests.factories import make_staff

    role = account_services.role_create(scheme=loop.scheme, key=f"helper_{cell}", name_zh="网格助理员",
                                        category=RoleCategory.HELPER, levels=("grid",), grants_scope=False)
    return make_staff(loop.tree[cell], role=role)


def test_a_helper_without_scope_is_offered_the_phone_page_and_the_report_is_taken(loop):
    # given a helper of grid 1 whose role grants no scope
    helper = _helper(loop)
    client = Client()
    client.force_login(helper)
    # when they open the phone page, then it offers reporting in their grid
    page = client.get("/m/report/")
    assert page.context["field_worker"] and [c.pk for c in page.context["cells"]] == [loop.tree["g1"].pk]
    # when they report there, handled on the spot, then the service takes it and they see it as theirs
    lon, lat = point_in(loop.tree["g1"])
    response = client.post("/m/report/", {"matter": "02001", "description": "占道经营，已劝离", "lon": f"{lon:.7f}",
                                          "lat": f"{lat:.7f}", "node": "", "token": "h-1", "self_handled": "1",
                                          "photos": [photo()], "after_photos": [photo("a.png", (0, 200, 0))]})
    assert response.status_code == 302, response.context and response.context["errors"]
    case = Case.objects.get()
    assert case.reporter == helper and case.node == loop.tree["g1"] and case.handling_mode == "SELF"
    assert client.get(response["Location"]).status_code == 200


def test_a_helper_reports_only_in_their_own_cells(loop):
    # given the helper of grid 1
    helper = _helper(loop)
    # when they report a problem in grid 2 (through the API or any patrol client)
    lon, lat = point_in(loop.tree["g2"])
    with pytest.raises(ValidationError) as err:
        case_report(actor=helper, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat, description="占道")
    # then the service refuses it as outside their territory
    assert "location" in err.value.message_dict and not Case.objects.exists()


def test_someone_in_charge_of_no_cell_is_not_offered_the_phone_page(loop):
    # given the street office: a territory, but no field role on a cell
    client = Client()
    client.force_login(loop.office)
    # when they open the phone page, then it offers no report form, and a post is refused
    page = client.get("/m/report/")
    assert not page.context["field_worker"] and "Only people in charge of a cell" in page.content.decode()
    lon, lat = point_in(loop.tree["g1"])
    assert client.post("/m/report/", {"matter": "02001", "description": "占道", "lon": f"{lon:.7f}",
                                      "lat": f"{lat:.7f}", "token": "o-1", "photos": [photo()]}).status_code == 403

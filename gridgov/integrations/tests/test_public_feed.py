"""What the public Open311 feed may show: only cases a staff member has published — registered, of a
public matter, from a public channel — never a fresh report, a police or hotline case, a dispute, or a
hidden case (in the list, the single request and the token lookup alike); descriptions scrubbed of
phones, ID numbers, e-mail addresses and the names the system knows; positions rounded outside public
space; every publish and hide audited with who and when."""

from __future__ import annotations

import math

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from gridgov.cases.models import Case, Channel, Publication
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.core.models import AuditEntry
from gridgov.integrations.services import case_hide, case_publish
from gridgov.people.tests.factories import make_resident

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


@pytest.fixture
def http():
    return Client()


def report(loop, *, matter="02001", channel=Channel.RESIDENT, description="路口占道经营", node="g1", **kw) -> Case:
    lon, lat = point_in(loop.tree[node])
    kw.setdefault("lon", lon)
    kw.setdefault("lat", lat)
    actor = None if channel in (Channel.RESIDENT,) else loop.office
    scheme = loop.scheme if actor is None else None
    return case_report(actor=actor, channel=channel, scheme=scheme, matter=matter, description=description,
                       **kw).case


def register(loop, case: Case) -> Case:
    return case_transition(case=case, actor=loop.office, action="register")


def seen(http, loop, case: Case) -> dict[str, bool]:
    """Whether the case shows in each Open311 read: the list, the single request, the token lookup."""
    key = loop.scheme.key
    listed = {r["service_request_id"] for r in http.get(f"{BASE}/requests.json", {"jurisdiction_id": key}).json()}
    single = http.get(f"{BASE}/requests/{case.number}.json", {"jurisdiction_id": key})
    token = http.get(f"{BASE}/tokens/{case.tracking_code}.json", {"jurisdiction_id": key})
    return {"list": case.number in listed, "single": single.status_code == 200, "token": token.status_code == 200}


NOWHERE = {"list": False, "single": False, "token": False}
EVERYWHERE = {"list": True, "single": True, "token": True}


def test_a_fresh_report_is_not_published_until_registered_and_released(http, loop):
    # given a resident's report nobody has looked at yet
    case = report(loop)
    # then it is on no Open311 read, and it cannot be published yet
    assert seen(http, loop, case) == NOWHERE
    with pytest.raises(ValidationError) as err:
        case_publish(case=case, actor=loop.office)
    assert err.value.message_dict == {"publication": ["not published: it has not been registered"]}
    # when it is registered it is still not shown: nothing is published until staff release it
    case = register(loop, case)
    assert seen(http, loop, case) == NOWHERE
    # and once the office publishes it, it is on every read
    case_publish(case=case, actor=loop.office)
    assert seen(http, loop, case) == EVERYWHERE


@pytest.mark.parametrize("channel", [Channel.POLICE, Channel.HOTLINE])
def test_police_and_hotline_cases_can_never_be_published(http, loop, channel):
    # given a registered police transfer / hotline call about a public matter
    case = register(loop, report(loop, channel=channel, description="路口占道经营"))
    # when the office tries to publish it, it is refused naming the channel
    with pytest.raises(ValidationError) as err:
        case_publish(case=case, actor=loop.office)
    assert "publication" in err.value.message_dict
    assert "are never published" in err.value.message_dict["publication"][0]
    # and even a row marked published by hand stays off every read
    Case.objects.filter(pk=case.pk).update(publication=Publication.PUBLISHED, publication_at=case.reported_at)
    assert seen(http, loop, case) == NOWHERE


def test_a_case_of_a_non_public_matter_is_never_published(http, loop):
    # given a registered neighbour dispute (a social-governance matter, not on the public feed)
    case = register(loop, report(loop, matter="10001", description="邻居吵架"))
    assert case.matter.public_feed is False
    with pytest.raises(ValidationError) as err:
        case_publish(case=case, actor=loop.office)
    assert err.value.message_dict == {"publication": ["not published: its matter is not published on the public feed"]}
    Case.objects.filter(pk=case.pk).update(publication=Publication.PUBLISHED, publication_at=case.reported_at)
    assert seen(http, loop, case) == NOWHERE


def test_rejected_reports_never_appear(http, loop):
    case = report(loop)
    case = case_transition(case=case, actor=loop.office, action="reject", reason="重复")
    with pytest.raises(ValidationError):
        case_publish(case=case, actor=loop.office)
    Case.objects.filter(pk=case.pk).update(publication=Publication.PUBLISHED, publication_at=case.reported_at)
    assert seen(http, loop, case) == NOWHERE


def test_a_hidden_case_vanishes_from_every_read_and_both_steps_are_audited(http, loop):
    # given a published case
    case = case_publish(case=register(loop, report(loop)), actor=loop.office, address="10.1.2.3")
    assert seen(http, loop, case) == EVERYWHERE
    # when the office hides it, with a reason
    with pytest.raises(ValidationError) as err:
        case_hide(case=case, actor=loop.office, reason=" ")
    assert err.value.message_dict == {"reason": ["say why the case is hidden"]}
    case = case_hide(case=case, actor=loop.office, reason="描述涉及个人纠纷")
    # then it is on no read any more, and the case says who hid it when
    assert seen(http, loop, case) == NOWHERE
    case.refresh_from_db()
    assert case.publication == Publication.HIDDEN and case.publication_by == loop.office
    assert case.publication_at is not None and case.public_description == ""
    # and both steps are in the audit log, with the actor and the address
    rows = list(AuditEntry.objects.filter(target_type="cases.case", target_id=str(case.pk)).order_by("id"))
    assert [(r.action, r.actor) for r in rows] == [("open311.publish", loop.office), ("open311.hide", loop.office)]
    assert rows[0].address == "10.1.2.3"
    assert rows[0].changes["publication"] == ["PENDING", "PUBLISHED"]
    assert rows[1].changes["publication"] == ["PUBLISHED", "HIDDEN"]
    # and publishing it again brings it back
    case_publish(case=case, actor=loop.office)
    assert seen(http, loop, case) == EVERYWHERE


def test_handlers_may_not_publish_or_hide(http, loop):
    case = register(loop, report(loop, matter="01001", attributes={"problem": "missing"}))
    for user in (loop.handler, loop.worker):
        with pytest.raises(PermissionDenied):
            case_publish(case=case, actor=user)
    case_publish(case=case, actor=loop.office)
    with pytest.raises(PermissionDenied):
        case_hide(case=case, actor=loop.handler, reason="不想公开")
    assert seen(http, loop, case) == EVERYWHERE


def test_the_published_description_hides_numbers_e_mail_and_known_names(http, loop):
    # given a resident of the cell, and a report whose reporter typed their own and a neighbour's data
    make_resident(loop.scheme, loop.tree["g1"], name="钱多多")
    text = ("我是赵六，电话 138 1234 5678（或＋８６ １３８－１２３４－５６７９），身份证 1101 0519 9001 0100 2X，"
            "邮箱 zl@example.org；住7号楼的钱多多天天在路口摆摊，王先生也看见了")
    case = register(loop, report(loop, description=text, reporter_name="赵六", reporter_phone="13812345678"))
    # when it is published and read
    case_publish(case=case, actor=loop.office)
    [item] = http.get(f"{BASE}/requests/{case.number}.json", {"jurisdiction_id": loop.scheme.key}).json()
    # then none of it is left, and the rest of the text is
    published = item["description"]
    for secret in ("赵六", "钱多多", "王先生", "5678", "５６７９", "2X", "zl@", "example", "7号楼"):
        assert secret not in published, published
    assert "天天在路口摆摊" in published
    assert "138" not in published and "１３８" not in published


def test_the_legal_representative_of_a_unit_in_the_cell_is_a_known_name(http, loop):
    from gridgov.people.models import LegalEntity
    from gridgov.people.tests.factories import credit_code

    LegalEntity.objects.create(scheme=loop.scheme, node=loop.tree["g1"], name="某某超市", credit_code=credit_code(),
                               representative="孙悟空")
    case = register(loop, report(loop, description="孙悟空的超市门口占道"))
    assert case_publish(case=case, actor=loop.office).public_description == "**的超市门口占道"


def test_a_staff_rewording_is_scrubbed_too(http, loop):
    case = register(loop, report(loop))
    case_publish(case=case, actor=loop.office, description="占道经营，联系张先生 13912345678")
    [item] = http.get(f"{BASE}/requests/{case.number}.json", {"jurisdiction_id": loop.scheme.key}).json()
    assert item["description"] == "占道经营，联系**先生 ***"


def _metres(lat1, lon1, lat2, lon2) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def test_positions_are_coarsened_unless_in_public_space(http, loop):
    # given two reports of street vending (not in public space by its category) a few metres apart, and a
    # missing manhole cover (a facility: public space)
    lon, lat = point_in(loop.tree["g1"])
    base_lat = (math.floor(lat / (100 / 111_320)) + 0.5) * (100 / 111_320)  # the middle of a 100 m band
    vend1 = register(loop, report(loop, lat=base_lat + 0.00001, lon=lon, place="幸福小区3号楼2单元502"))
    vend2 = register(loop, report(loop, lat=base_lat - 0.00002, lon=lon + 0.00001))
    cover = register(loop, report(loop, matter="01001", lat=lat, lon=lon, place="东门口3号",
                                  attributes={"problem": "missing", "media_url": "https://img.example.org/1.jpg"}))
    for c in (vend1, vend2, cover):
        case_publish(case=c, actor=loop.office)
    items = {r["service_request_id"]: r for r in
             http.get(f"{BASE}/requests.json", {"jurisdiction_id": loop.scheme.key}).json()}
    one, two, exact = items[vend1.number], items[vend2.number], items[cover.number]
    # then the vending reports are shown at one grid point, not where they were made, within ~71 m of it
    assert (one["lat"], one["long"]) == (two["lat"], two["long"])
    assert (one["lat"], one["long"]) != (vend1.lat, vend1.lon)
    assert _metres(vend1.lat, vend1.lon, one["lat"], one["long"]) <= 75
    # and their place keeps only its leading place names (the fixed-width address mask); no photo link either
    assert one["address"] == "幸福小区****"
    # and the manhole cover keeps its exact point, its place and its photo link
    assert (exact["lat"], exact["long"]) == (cover.lat, cover.lon)
    assert exact["address"] == "东门口3号" and exact["media_url"] == "https://img.example.org/1.jpg"


def test_the_case_page_offers_publish_and_hide_to_the_office_only(loop):
    case = register(loop, report(loop, description="路口占道经营，电话13812345678"))
    office, handler = Client(), Client()
    office.force_login(loop.office)
    handler.force_login(loop.worker)
    url = f"/cases/{case.number}/"
    # the office sees the public-feed box, a grid worker does not
    assert 'id="case-feed"' in office.get(url).content.decode()
    assert 'id="case-feed"' not in handler.get(url).content.decode()
    # when the office publishes through the page
    response = office.post(f"/feed/{case.number}/publication/", {"action": "publish"})
    assert response.status_code == 302 and response["Location"] == url
    case.refresh_from_db()
    assert case.publication == Publication.PUBLISHED and case.public_description == "路口占道经营，电话***"
    assert "路口占道经营，电话***" in office.get(url).content.decode()
    # a grid worker's POST is refused, and hiding without a reason says why
    assert handler.post(f"/feed/{case.number}/publication/", {"action": "hide", "reason": "x"}).status_code == 403
    page = office.post(f"/feed/{case.number}/publication/", {"action": "hide"}, follow=True)
    assert "reason: say why the case is hidden" in page.content.decode()
    case.refresh_from_db()
    assert case.publication == Publication.PUBLISHED
    # and a number outside anyone's scope is a 404
    assert office.post("/feed/20260101-0999999/publication/", {"action": "publish"}).status_code == 404


def test_matter_flags_follow_the_category_kind_unless_the_catalogue_sets_them(loop):
    from gridgov.cases.tests.factories import matter
    from gridgov.catalogue.services import catalogue_load

    # the shipped kinds: a facility is public and in public space, a street event public with a rounded
    # position, a dispute never published
    assert (matter("01001").public_feed, matter("01001").public_space) == (True, True)
    assert (matter("02001").public_feed, matter("02001").public_space) == (True, False)
    assert (matter("10001").public_feed, matter("10001").public_space) == (False, False)
    # a deployment's catalogue may say otherwise, and a reload without the keys keeps its choice
    data = {"matters": [{"code": "02001", "name_zh": "占道经营", "public_feed": False, "duty_tier": "GRID",
                         "handling_mode": "SELF", "stages": [{"name_zh": "处置", "amount": 1, "unit": "WORKING_DAYS"}]}]}
    catalogue_load(key="default", data=data)
    assert matter("02001").public_feed is False
    del data["matters"][0]["public_feed"]
    catalogue_load(key="default", data=data)
    assert matter("02001").public_feed is False
    data["matters"][0]["public_space"] = "yes"
    with pytest.raises(ValidationError) as err:
        catalogue_load(key="default", data=data)
    assert err.value.message_dict == {"public_space": ["02001: true or false, not 'yes'"]}

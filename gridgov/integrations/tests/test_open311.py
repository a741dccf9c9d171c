"""Open311 GeoReport v2 at /open311/v2/: discovery, services, posting and reading requests, tokens, and
errors in the spec's format (JSON and XML) — and never a word about who reported."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, matter, point_in
from gridgov.catalogue.models import Matter
from gridgov.integrations.services import api_client_create, api_client_disable, case_publish
from gridgov.territory.tests.factories import make_scheme, make_tree

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
PHONE = "13812345678"
EMAIL = "zhangsan@example.org"
DEVICE = "device-7f3a"
FORMATS = ["json", "xml"]


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


@pytest.fixture
def api(loop):
    client, key = api_client_create(name="城市随手拍", scheme=loop.scheme)
    return client, key


@pytest.fixture
def http():
    return Client()


def post(http, fmt, data, **headers):
    return http.post(f"{BASE}/requests.{fmt}", urlencode(data, doseq=True),
                     content_type="application/x-www-form-urlencoded", headers=headers)


def report_form(loop, key, **extra) -> dict:
    lon, lat = point_in(loop.tree["g1"])
    data = {"api_key": key, "jurisdiction_id": loop.scheme.key, "service_code": "01001", "lat": lat, "long": lon,
            "attribute[problem]": "missing", "description": "井盖丢了，很危险"}
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def xml_root(response) -> ET.Element:
    return ET.fromstring(response.content)  # noqa: S314 - our own response, not untrusted input


def errors(response, fmt) -> list[tuple[int, str]]:
    if fmt == "json":
        assert response["Content-Type"] == "application/json; charset=utf-8"
        return [(e["code"], e["description"]) for e in response.json()]
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    root = xml_root(response)
    assert root.tag == "errors"
    return [(int(e.findtext("code")), e.findtext("description")) for e in root.findall("error")]


def requests_of(response, fmt) -> list[dict]:
    """The service requests of a response, as dicts of strings (XML) or JSON values."""
    assert response.status_code == 200, response.content
    if fmt == "json":
        return response.json()
    root = xml_root(response)
    assert root.tag == "service_requests"
    return [{child.tag: child.text for child in item} for item in root.findall("request")]


def released(loop, case: Case) -> Case:
    """The case registered (if it was not yet) and published on the public feed by the grid office."""
    if case.state == CaseState.REPORTED:
        case = case_transition(case=case, actor=loop.office, action="register")
    return case_publish(case=case, actor=loop.office)


def numbers(response) -> set[str]:
    return {r["service_request_id"] for r in requests_of(response, "json")}


# =========================================================================== discovery and services
def test_discovery_in_json_and_xml(http, loop):
    # when a client asks for the discovery document in both formats
    as_json = http.get(f"{BASE}/discovery.json")
    as_xml = http.get(f"{BASE}/discovery.xml")
    # then both list the GeoReport v2 endpoint with an absolute URL and the two formats
    endpoint = as_json.json()["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2/"
    assert endpoint["type"] == "production" and endpoint["formats"] == ["application/json", "text/xml"]
    assert as_json.json()["changeset"] and as_json.json()["contact"] and as_json.json()["key_service"]
    assert as_xml["Content-Type"] == "text/xml; charset=utf-8"
    assert as_xml.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = xml_root(as_xml)
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url") == "http://testserver/open311/v2/"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["application/json", "text/xml"]


def test_services_list_in_both_languages_and_formats(http, loop):
    # given the default catalogue with one matter no longer in use
    Matter.objects.filter(code="10001").update(active=False)
    # when the services are listed in Chinese (JSON) and English (XML)
    zh = http.get(f"{BASE}/services.json", {"jurisdiction_id": loop.scheme.key}, headers={"Accept-Language": "zh-hans"})
    en = http.get(f"{BASE}/services.xml", {"jurisdiction_id": loop.scheme.key, "lang": "en"})
    # then each active matter is a realtime service, with metadata when it declares attributes
    services = {s["service_code"]: s for s in zh.json()}
    assert sorted(services) == ["01001", "01002", "02001"]
    assert services["01001"] == {"service_code": "01001", "service_name": "井盖", "description": "井盖",
                                 "metadata": True, "type": "realtime",
                                 "keywords": "井盖, Manhole cover, 市政公用设施, Municipal utilities",
                                 "group": "市政公用设施"}
    assert services["01002"]["metadata"] is False
    root = xml_root(en)
    assert root.tag == "services"
    by_code = {s.findtext("service_code"): s for s in root.findall("service")}
    assert by_code["01001"].findtext("service_name") == "Manhole cover"
    assert by_code["01001"].findtext("group") == "Municipal utilities"
    assert by_code["01001"].findtext("metadata") == "true" and by_code["02001"].findtext("metadata") == "false"


def test_service_definition_in_json_and_xml(http, loop):
    # when the definition of the manhole-cover service is asked for
    as_json = http.get(f"{BASE}/services/01001.json", {"jurisdiction_id": loop.scheme.key}).json()
    as_xml = xml_root(http.get(f"{BASE}/services/01001.xml", {"jurisdiction_id": loop.scheme.key}))
    # then its attribute is listed with its datatype and values
    assert as_json == {"service_code": "01001", "attributes": [
        {"variable": True, "code": "problem", "datatype": "singlevaluelist", "required": True,
         "datatype_description": "one of the keys of values", "order": 1, "description": "问题类型",
         "values": [{"key": "missing", "name": "缺失"}, {"key": "damaged", "name": "破损"}]}]}
    assert as_xml.tag == "service_definition" and as_xml.findtext("service_code") == "01001"
    attribute = as_xml.find("attributes/attribute")
    assert attribute.findtext("variable") == "true" and attribute.findtext("required") == "true"
    assert [v.findtext("key") for v in attribute.findall("values/value")] == ["missing", "damaged"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_definition_is_404(http, loop, fmt):
    response = http.get(f"{BASE}/services/99999.{fmt}", {"jurisdiction_id": loop.scheme.key})
    assert response.status_code == 404
    assert errors(response, fmt) == [(404, "service_code: unknown service 99999")]


# =========================================================================== posting a request
def test_post_files_a_case_and_the_reporter_stays_sealed(http, loop, api):
    client, key = api
    # given a resident's report through an Open311 app, with their contact and a link to a photo
    data = report_form(loop, key, first_name="三", last_name="张", phone=PHONE, email=EMAIL, device_id=DEVICE,
                       media_url="https://img.example.org/p/1.jpg", address_string="东门口")
    # when the app posts it
    response = post(http, "json", data)
    # then a case is filed in grid 1 on the Open311 channel, by the client's service login
    assert response.status_code == 201, response.content
    [body] = response.json()
    case = Case.objects.get()
    assert body == {"service_request_id": case.number, "token": case.tracking_code,
                    "service_notice": f"Received as request {case.number}.", "account_id": None}
    assert case.matter.code == "01001" and case.node == loop.tree["g1"] and case.channel == Channel.OPEN311
    assert case.reporter == client.user and case.place == "东门口" and case.external_ref == DEVICE
    assert case.attributes == {"problem": "missing", "media_url": "https://img.example.org/p/1.jpg"}
    # and the reporter's contact is sealed, only a masked phone readable
    assert case.reporter_phone_masked == "138****5678"
    assert PHONE not in case.reporter_phone_sealed and "张三" not in case.reporter_name_sealed
    assert case.reporter_name_sealed
    client.refresh_from_db()
    assert client.last_used_at is not None
    # and once registered and published, reading it back (JSON and XML) shows nothing of who reported it
    released(loop, case)
    for fmt in FORMATS:
        read = http.get(f"{BASE}/requests/{case.number}.{fmt}", {"jurisdiction_id": loop.scheme.key})
        [item] = requests_of(read, fmt)
        assert item["service_request_id"] == case.number and item["status"] == "open"
        assert item["service_code"] == "01001" and item["media_url"] == "https://img.example.org/p/1.jpg"
        assert item["address"] == "东门口" and item["address_id"] == loop.tree["g1"].code
        text = read.content.decode()
        for secret in (PHONE, "5678", "张三", "zhangsan", DEVICE, case.tracking_code):
            assert secret not in text


def test_post_as_json_with_list_number_and_datetime_attributes(http, loop, api):
    # given a service with attributes of every kind
    street = matter("02001")
    Matter.objects.create(catalogue=street.catalogue, category=street.category, code="02009", name_zh="乱堆物料",
                          attributes=[
                              {"code": "kinds", "datatype": "multivaluelist", "required": True, "description": "种类",
                               "values": [{"key": "sand", "name": "沙"}, {"key": "brick", "name": "砖"}]},
                              {"code": "volume", "datatype": "number", "required": False, "description": "方量"},
                              {"code": "seen_at", "datatype": "datetime", "required": False, "description": "时间"}])
    _client, key = api
    lon, lat = point_in(loop.tree["g2"])
    # when the app posts a JSON body
    response = http.post(f"{BASE}/requests.json", {
        "api_key": key, "service_code": "02009", "lat": lat, "long": lon,
        "attribute": {"kinds": ["sand", "brick"], "volume": "2.5", "seen_at": "2026-03-01T08:30:00+08:00"}},
        content_type="application/json")
    # then the values are kept in their types (no description given: the service's name stands in)
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert case.node == loop.tree["g2"] and case.description == "乱堆物料"
    assert case.attributes == {"kinds": ["sand", "brick"], "volume": 2.5, "seen_at": "2026-03-01T08:30:00+08:00"}
    # and the same list posted form-encoded as attribute[kinds][] works too
    form = {"api_key": key, "service_code": "02009", "lat": lat, "long": lon + 0.001, "description": "又堆了",
            "attribute[kinds][]": ["brick"]}
    assert post(http, "xml", form).status_code == 201
    assert Case.objects.get(description="又堆了").attributes == {"kinds": ["brick"]}


def test_idempotency_key_replays_the_same_request(http, loop, api):
    _client, key = api
    data = report_form(loop, key)
    # when the app sends the same report twice with one Idempotency-Key
    first = post(http, "json", data, **{"Idempotency-Key": "app-42"})
    again = post(http, "json", data, **{"Idempotency-Key": "app-42"})
    # then the second answer names the first request and nothing new is filed
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
    assert Case.objects.count() == 1
    # and the key reused for another report is refused
    other = post(http, "json", {**data, "description": "另一个井盖"}, **{"Idempotency-Key": "app-42"})
    assert other.status_code == 400
    assert errors(other, "json")[0][1].startswith("Idempotency-Key: ")


def test_address_id_is_a_cell_code(http, loop, api):
    _client, key = api
    data = report_form(loop, key, lat=None, long=None, address_id=loop.tree["g2"].code)
    response = post(http, "json", data)
    assert response.status_code == 201, response.content
    assert Case.objects.get().node == loop.tree["g2"]


POST_ERRORS = [
    ("missing api_key", {"api_key": None}, 400, "api_key: required"),
    ("wrong api_key", {"api_key": "not-a-key"}, 403, "api_key: not valid"),
    ("unknown service", {"service_code": "99999"}, 400, "service_code: unknown service 99999"),
    ("no location", {"lat": None, "long": None}, 400,
     "lat/long: give lat and long, address_string or address_id"),
    ("outside every cell", {"lat": "10.0", "long": "10.0"}, 400,
     "lat/long: the point (10.000000, 10.000000) lies outside every cell"),
    ("half a point", {"long": None}, 400, "lat/long: give both lat and long"),
    ("bad attribute value", {"attribute[problem]": "stolen"}, 400,
     "attribute[problem]: attribute 问题类型 of matter 01001: takes one of missing, damaged"),
    ("missing required attribute", {"attribute[problem]": None}, 400,
     "attribute[problem]: required attributes missing: 问题类型"),
    ("unknown attribute", {"attribute[colour]": "red"}, 400, "attribute[colour]: matter 01001 has no attribute colour"),
    ("place too long", {"address_string": "路" * 301}, 400,
     "address_string: the place is longer than 300 characters"),
    ("description too long", {"description": "井" * 4001}, 400,
     "description: the description is longer than 4000 characters"),
    ("bad phone", {"phone": "12"}, 400, "phone: not a valid phone number"),
    ("bad media_url", {"media_url": "file:///etc/passwd"}, 400, "media_url: not an http(s) address"),
    ("unknown cell", {"lat": None, "long": None, "address_id": "X999"}, 400, "address_id: unknown cell X999"),
    ("unknown address", {"lat": None, "long": None, "address_string": "火星路1号"}, 400,
     "address_string: the address 火星路1号 is not a known building; give the point or the cell"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("label", "change", "status", "description"), POST_ERRORS, ids=[e[0] for e in POST_ERRORS])
def test_post_errors_in_the_spec_format_and_nothing_filed(http, loop, api, fmt, label, change, status, description):
    _client, key = api
    data = report_form(loop, key)
    for name, value in change.items():
        data.pop(name, None)
        if value is not None:
            data[name] = value
    # when the app posts a faulty report
    response = post(http, fmt, data)
    # then it gets the spec's error naming the parameter, and no case exists
    assert response.status_code == status
    assert errors(response, fmt) == [(status, description)]
    assert Case.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction_mismatch_and_disabled_key_are_refused(http, loop, api, fmt):
    client, key = api
    other = make_scheme()
    # when the key of this jurisdiction names another one
    response = post(http, fmt, report_form(loop, key, jurisdiction_id=other.key))
    # then it is refused naming jurisdiction_id
    assert response.status_code == 400
    assert errors(response, fmt) == [
        (400, f"jurisdiction_id: the api_key is registered for jurisdiction {loop.scheme.key}, not {other.key}")]
    # and with two jurisdictions served, leaving it out is refused too
    response = post(http, fmt, report_form(loop, key, jurisdiction_id=None))
    assert errors(response, fmt) == [(400, "jurisdiction_id: required: this endpoint serves several jurisdictions")]
    # and a disabled client's key is no longer valid
    api_client_disable(client=client)
    response = post(http, fmt, report_form(loop, key))
    assert response.status_code == 403 and errors(response, fmt) == [(403, "api_key: not valid")]
    assert Case.objects.count() == 0


def test_api_key_in_the_url_is_refused(http, loop, api):
    _client, key = api
    data = report_form(loop, key, api_key=None)
    response = http.post(f"{BASE}/requests.json?api_key={key}", urlencode(data),
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert errors(response, "json") == [(400, "api_key: send it in the request body, never in the URL")]
    assert Case.objects.count() == 0


# =========================================================================== reading requests
@pytest.fixture
def cases(loop, api):
    """A: a manhole cover today (open); B: a burst pipe 10 days ago, run to CLOSED by the water
    department; C: street vending 100 days ago; D: a case of another jurisdiction."""
    now = timezone.now()
    lon, lat = point_in(loop.tree["g1"])
    lon2, lat2 = point_in(loop.tree["g2"])
    a = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01001", lon=lon, lat=lat,
                    description=f"井盖丢了，联系我 {PHONE} {EMAIL}", reporter_phone=PHONE, reporter_name="张三",
                    attributes={"problem": "missing"}).case
    a = released(loop, a)
    b = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01002", lon=lon2, lat=lat2,
                    description="水管爆了", at=now - dt.timedelta(days=10)).case
    b = case_transition(case=b, actor=loop.office, action="register")
    b = case_transition(case=b, actor=loop.office, action="dispatch",
                        assignee={"kind": "DEPARTMENT", "department": "water"})
    b = case_transition(case=b, actor=loop.handler, action="accept")
    b = case_transition(case=b, actor=loop.handler, action="report_back")
    b = released(loop, case_transition(case=b, actor=loop.office, action="verify_pass"))
    c = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
                    description="占道", at=now - dt.timedelta(days=100)).case
    c = released(loop, c)
    elsewhere = make_scheme()
    far = make_tree(elsewhere, origin=(117.0, 41.0))
    d = case_report(actor=None, channel=Channel.RESIDENT, scheme=elsewhere, lon=point_in(far["g1"])[0],
                    lat=point_in(far["g1"])[1], description="别处的事").case
    return {"a": a, "b": b, "c": c, "d": d, "now": now}


def test_requests_open_closed_mapping_and_fields(http, loop, cases):
    a, b = cases["a"], cases["b"]
    assert b.state == CaseState.CLOSED
    # when the requests of the jurisdiction are listed (default window: the last 90 days)
    response = http.get(f"{BASE}/requests.json", {"jurisdiction_id": loop.scheme.key})
    # then A and B are there, C (100 days old) and D (another jurisdiction) are not
    items = {r["service_request_id"]: r for r in requests_of(response, "json")}
    assert set(items) == {a.number, b.number}
    assert items[a.number]["status"] == "open" and items[a.number]["status_notes"] == "Registered"
    assert items[a.number]["agency_responsible"] == loop.tree["g1"].name
    assert items[b.number]["status"] == "closed" and items[b.number]["status_notes"] == "Closed"
    assert items[b.number]["agency_responsible"] == "区水务局"
    assert items[b.number]["expected_datetime"] is None  # no time limit runs on a closed case, none predicted
    assert items[b.number]["requested_datetime"].endswith("+08:00")
    assert items[b.number]["updated_datetime"] > items[b.number]["requested_datetime"]
    assert items[b.number]["lat"] == b.lat and items[b.number]["long"] == b.lon and items[b.number]["zipcode"] is None
    # and the description is published with the phone and e-mail hidden, the reporter nowhere
    assert items[a.number]["description"] == "井盖丢了，联系我 *** ***@***"
    assert PHONE not in response.content.decode() and "张三" not in response.content.decode()
    # and a dispatched case is open, with its time limit as the expected time
    lon, lat = point_in(loop.tree["g2"])
    e = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01002", lon=lon, lat=lat,
                    description="又一处漏水").case
    e = case_transition(case=e, actor=loop.office, action="register")
    e = released(loop, case_transition(case=e, actor=loop.office, action="dispatch",
                                       assignee={"kind": "DEPARTMENT", "department": "water"}))
    [item] = requests_of(http.get(f"{BASE}/requests/{e.number}.json", {"jurisdiction_id": loop.scheme.key}), "json")
    assert item["status"] == "open" and item["status_notes"] == "Dispatched" and item["service_notice"] == "On time"
    assert item["expected_datetime"] == timezone.localtime(e.due_at).isoformat(timespec="seconds")
    assert item["agency_responsible"] == "区水务局"
    # and the XML carries the same
    xml_items = {r["service_request_id"]: r for r in requests_of(
        http.get(f"{BASE}/requests.xml", {"jurisdiction_id": loop.scheme.key}), "xml")}
    assert xml_items[b.number]["status"] == "closed" and xml_items[b.number]["zipcode"] is None


def test_requests_filters(http, loop, cases):
    a, b, c, now = cases["a"], cases["b"], cases["c"], cases["now"]
    key = loop.scheme.key

    def get(**params):
        return numbers(http.get(f"{BASE}/requests.json", {"jurisdiction_id": key, **params}))

    assert get(status="open") == {a.number}
    assert get(status="closed") == {b.number}
    assert get(status="open,closed") == {a.number, b.number}
    assert get(service_code="01002") == {b.number}
    assert get(service_code="01001,02001", start_date=(now - dt.timedelta(days=200)).isoformat()) == {a.number,
                                                                                                      c.number}
    assert get(start_date=(now - dt.timedelta(days=20)).isoformat(),
               end_date=(now - dt.timedelta(days=5)).isoformat()) == {b.number}
    assert get(end_date=(now - dt.timedelta(days=50)).isoformat()) == {c.number}
    # ids override every other filter; a bare id or another jurisdiction's number finds nothing
    assert get(service_request_id=f"{a.number},{c.number}", status="closed") == {a.number, c.number}
    assert get(service_request_id=f"{cases['d'].number},{a.pk}") == set()
    # an offset whose "+" was not URL-encoded still reads as an offset
    since = timezone.localtime(now - dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    assert numbers(http.get(f"{BASE}/requests.json?jurisdiction_id={key}&start_date={since}")) == {a.number,
                                                                                                   b.number}


def test_merged_requests_are_closed_without_the_reason_and_rejected_ones_never_shown(http, loop, cases):
    a = cases["a"]
    lon, lat = point_in(loop.tree["g1"])
    twin = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01001", lon=lon, lat=lat,
                       description="井盖又丢了", attributes={"problem": "missing"}).case
    twin = released(loop, twin)
    junk = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
                       description="测试").case
    case_transition(case=twin, actor=loop.centre, action="merge", into=a.pk, reason="同一井盖")
    case_transition(case=junk, actor=loop.office, action="reject", reason="报告人王五恶意重复报送")
    response = http.get(f"{BASE}/requests.json", {"jurisdiction_id": loop.scheme.key,
                                                  "service_request_id": f"{twin.number},{junk.number}"})
    items = {r["service_request_id"]: r for r in requests_of(response, "json")}
    assert set(items) == {twin.number}  # a rejected report was never taken up: never published
    assert items[twin.number]["status"] == "closed"
    assert items[twin.number]["status_notes"] == f"Merged into request {a.number}."
    assert "王五" not in response.content.decode() and "同一井盖" not in response.content.decode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_errors_in_the_spec_format(http, loop, cases, fmt):
    key = loop.scheme.key
    bad_date = http.get(f"{BASE}/requests.{fmt}", {"jurisdiction_id": key, "start_date": "yesterday"})
    assert bad_date.status_code == 400
    assert errors(bad_date, fmt) == [(400, "start_date: not an ISO 8601 date and time (e.g. 2026-01-31T09:00:00+08:00)")]
    reversed_dates = http.get(f"{BASE}/requests.{fmt}", {"jurisdiction_id": key, "start_date": "2026-02-01",
                                                         "end_date": "2026-01-01"})
    assert errors(reversed_dates, fmt) == [(400, "start_date: after end_date")]
    bad_status = http.get(f"{BASE}/requests.{fmt}", {"jurisdiction_id": key, "status": "pending"})
    assert errors(bad_status, fmt) == [(400, "status: one of open, closed")]
    unknown = http.get(f"{BASE}/requests/20260101-0999999.{fmt}", {"jurisdiction_id": key})
    assert unknown.status_code == 404
    assert errors(unknown, fmt) == [(404, "service_request_id: no request 20260101-0999999")]
    other = http.get(f"{BASE}/requests/{cases['d'].number}.{fmt}", {"jurisdiction_id": key})
    assert other.status_code == 404
    unknown_jurisdiction = http.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "atlantis"})
    assert unknown_jurisdiction.status_code == 404
    assert errors(unknown_jurisdiction, fmt) == [(404, "jurisdiction_id: unknown jurisdiction atlantis")]
    several = http.get(f"{BASE}/requests.{fmt}")
    assert errors(several, fmt) == [(400, "jurisdiction_id: required: this endpoint serves several jurisdictions")]
    wrong_method = http.put(f"{BASE}/requests.{fmt}")
    assert wrong_method.status_code == 405 and wrong_method["Allow"] == "GET, HEAD, POST"
    assert errors(wrong_method, fmt)[0][0] == 405
    assert http.post(f"{BASE}/services.{fmt}").status_code == 405


def test_unknown_format_and_path_are_404_in_json(http, loop):
    for url in (f"{BASE}/services.yaml", f"{BASE}/nothing/here.json"):
        response = http.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.json()[0]["code"] == 404


def test_token_lookup(http, loop, api):
    _client, key = api
    posted = post(http, "xml", report_form(loop, key))
    item = xml_root(posted).find("request")
    token, number = item.findtext("token"), item.findtext("service_request_id")
    assert posted.status_code == 201 and item.find("account_id").text is None
    # before the case is registered and published its token finds nothing
    early = http.get(f"{BASE}/tokens/{token}.json", {"jurisdiction_id": loop.scheme.key})
    assert early.status_code == 404 and errors(early, "json") == [(404, "token: unknown token")]
    released(loop, Case.objects.get(tracking_code=token))
    # when the app looks its token up
    for fmt in FORMATS:
        found = requests_of(http.get(f"{BASE}/tokens/{token}.{fmt}", {"jurisdiction_id": loop.scheme.key}), fmt)
        # then it gets the request's id
        assert found == [{"service_request_id": number, "token": token}]
    missing = http.get(f"{BASE}/tokens/NOSUCHTOKEN.json", {"jurisdiction_id": loop.scheme.key})
    assert missing.status_code == 404 and errors(missing, "json") == [(404, "token: unknown token")]


def test_xml_escapes_markup_and_drops_control_characters(http, loop):
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
                       description="<b>占道</b> & \x07 \"摊\"").case
    released(loop, case)
    response = http.get(f"{BASE}/requests/{case.number}.xml", {"jurisdiction_id": loop.scheme.key})
    [item] = requests_of(response, "xml")
    assert item["description"] == "<b>占道</b> &  \"摊\""


def test_police_and_hotline_cases_are_never_published(loop, http):
    # given a police transfer and a hotline call, told in the callers' own words, and a resident's report
    lon, lat = point_in(loop.tree["g1"])
    for channel in (Channel.POLICE, Channel.HOTLINE):
        case_report(actor=loop.office, channel=channel, matter="10001", lon=lon, lat=lat,
                    description="张三与李四因宅基地争吵")
    public = released(loop, case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001",
                                        lon=lon, lat=lat, description="路口占道经营").case)
    # when anyone reads the jurisdiction's requests
    listed = requests_of(http.get(f"{BASE}/requests.json", {"jurisdiction_id": loop.scheme.key}), "json")
    # then only the resident's report is there
    assert [r["service_request_id"] for r in listed] == [public.number]

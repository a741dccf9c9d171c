"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) at /open311/v2/: plain Django views.

Reads (discovery, services, service definitions, requests, tokens) are public and stay within one
jurisdiction (a level scheme). Posting a request needs an API key (`ApiClient`, sent in the body, never
the URL) and files a case through `cases.services.case_report` as the client's service login.

What a GET shows: only cases a staff member has published (`integrations.services.case_publish`) —
registered, of a public matter, from a public channel; never a fresh report, a police or hotline case,
or a hidden one (`selectors.open311_case_scope`, the same for list, single request and token). Of such
a case: its number, status, matter, the description as published (scrubbed of phones, ID numbers,
e-mail addresses and names by `people.textscan`), the place and position (rounded to a ~100 m square
unless the matter is in public space), the cell and the handling department — never who reported it.

Errors follow the spec: `[{"code": 400, "description": "field: reason"}]` in JSON, `<errors><error>
<code/><description/></error></errors>` in XML, with the status in the HTTP status line too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from gridgov.cases.models import Case, SlaStatus
from gridgov.cases.states import OPEN_STATES, CaseState
from gridgov.catalogue.models import Matter
from gridgov.core.api import client_address
from gridgov.core.ratelimit import ratelimit_hit
from gridgov.integrations.selectors import (
    RequestQuery,
    jurisdiction_resolve,
    open311_changeset,
    open311_request,
    open311_requests,
    open311_service,
    open311_services,
    open311_token,
    public_address,
    public_position,
)
from gridgov.integrations.services import Open311Submission, api_client_authenticate, open311_request_create

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MEDIA_TYPES = ["application/json", "text/xml"]
READ = ("GET", "HEAD")
# XML: the element of each item of a list, by the list's element
XML_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}
SUBMISSION_FIELDS = ("jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email",
                     "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url")
DATATYPE_HELP = {
    "number": lambda: _("a number"),
    "datetime": lambda: _("an ISO 8601 date and time with its offset, e.g. 2026-01-31T09:00:00+08:00"),
    "singlevaluelist": lambda: _("one of the keys of values"),
    "multivaluelist": lambda: _("one or more of the keys of values"),
}

_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_UNENCODED_OFFSET = re.compile(r" (\d{2}(:?\d{2})?)$")


class Open311Error(Exception):
    def __init__(self, status: int, descriptions: list[str], *, allow: tuple[str, ...] = ()):
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions
        self.allow = allow


def _fail(status: int, name: str, reason: str) -> Open311Error:
    return Open311Error(status, [f"{name}: {reason}"])


def _from_validation(exc: ValidationError) -> Open311Error:
    """One error entry per field and message; a "not_found" code makes it a 404."""
    if not hasattr(exc, "error_dict"):
        return Open311Error(400, list(exc.messages))
    status, entries = 400, []
    for name, errors in exc.error_dict.items():
        for error in errors:
            if error.code == "not_found":
                status = 404
            entries += [f"{name}: {message}" for message in error.messages]
    return Open311Error(status, entries)


# =========================================================================== rendering
def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_INVALID.sub("", str(value))


def _xml_fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _xml_fill(ET.SubElement(element, name), child)
    elif isinstance(value, list):
        for child in value:
            _xml_fill(ET.SubElement(element, XML_ITEMS.get(element.tag, "item")), child)
    else:
        element.text = _xml_text(value)


def _render(fmt: str, payload: Any, *, root: str, item: str = "", status: int = 200) -> HttpResponse:
    """JSON as the payload is; XML under `root`, each item of a list payload as an `item` element."""
    if fmt == "json":
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        element = ET.Element(root)
        if isinstance(payload, list):
            for entry in payload:
                _xml_fill(ET.SubElement(element, item), entry)
        else:
            _xml_fill(element, payload)
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode").encode("utf-8")
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def _render_error(fmt: str, error: Open311Error) -> HttpResponse:
    payload = [{"code": error.status, "description": d} for d in error.descriptions]
    response = _render(fmt, payload, root="errors", item="error", status=error.status)
    if error.allow:
        response["Allow"] = ", ".join(error.allow)
    return response


def _language(request: HttpRequest):
    """`?lang=en` (or zh-hans) overrides Accept-Language."""
    asked = request.GET.get("lang", "").strip()
    if not asked:
        return contextlib.nullcontext()
    try:
        return translation.override(translation.get_supported_language_variant(asked))
    except LookupError:
        return contextlib.nullcontext()


def open311_view(*methods: str):
    """The plumbing of every endpoint: the format from the extension (unknown → 404 in JSON), the
    language, the method (405 with Allow), errors in the spec's format. No CSRF and no session: a POST
    carries its API key."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs):
            if fmt not in CONTENT_TYPES:
                return _render_error("json", _fail(404, "format", _("unknown format %(fmt)s: use json or xml")
                                                   % {"fmt": fmt[:10]}))
            with _language(request):
                try:
                    if request.method not in methods:
                        raise Open311Error(405, [_("method %(method)s not allowed here: use %(allowed)s")
                                                 % {"method": request.method[:10], "allowed": ", ".join(methods)}],
                                           allow=methods)
                    return view(request, fmt, **kwargs)
                except ValidationError as exc:
                    return _render_error(fmt, _from_validation(exc))
                except Open311Error as exc:
                    return _render_error(fmt, exc)

        return wrapper

    return decorate


# =========================================================================== presentation
def _iso(value) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def _service(matter: Matter) -> dict[str, Any]:
    names = [matter.name_zh, matter.name_en, matter.category.name_zh, matter.category.name_en]
    keywords = list(dict.fromkeys(n for n in names if n))
    return {
        "service_code": matter.code,
        "service_name": matter.name,
        "description": matter.registration_condition or matter.name,
        "metadata": bool(matter.attributes),
        "type": "realtime",
        "keywords": ", ".join(keywords),
        "group": matter.category.name,
    }


def _attribute(spec: dict, order: int) -> dict[str, Any]:
    datatype = spec.get("datatype", "string")
    help_text = DATATYPE_HELP.get(datatype)
    return {
        "variable": True,
        "code": spec["code"],
        "datatype": datatype,
        "required": bool(spec.get("required", False)),
        "datatype_description": help_text() if help_text else "",
        "order": spec.get("order") or order,
        "description": spec.get("description") or spec["code"],
        "values": [{"key": str(v["key"]), "name": str(v.get("name") or v["key"])} for v in spec.get("values", [])],
    }


def _status_notes(case: Case) -> str:
    if case.state == CaseState.REJECTED:
        return _("Not taken up as a case.")
    if case.state == CaseState.MERGED:
        if case.merged_into_id:
            return _("Merged into request %(number)s.") % {"number": case.merged_into.number}
        return _("Merged into another request.")
    return str(case.get_state_display())


def _agency(case: Case) -> str:
    if case.assignee_team_id:
        return case.assignee_team.department.name
    if case.assignee_node_id:
        return case.assignee_node.name
    return case.node.name


def _request(case: Case) -> dict[str, Any]:
    """A case as an Open311 service request. Nothing about who reported it; the description as it was
    published (scrubbed), the position and place coarsened unless the matter is in public space."""
    is_open = case.state in OPEN_STATES
    lat, lon = public_position(case)
    in_public_space = bool(case.matter_id and case.matter.public_space)
    return {
        "service_request_id": case.number,
        "status": "open" if is_open else "closed",
        "status_notes": _status_notes(case),
        "service_name": case.matter.name if case.matter_id else None,
        "service_code": case.matter.code if case.matter_id else None,
        "description": case.public_description,
        "agency_responsible": _agency(case),
        "service_notice": (str(case.get_sla_status_display()) if is_open and case.sla_status != SlaStatus.NONE
                           else None),
        "requested_datetime": _iso(case.reported_at),
        "updated_datetime": _iso(getattr(case, "last_event_at", None) or case.reported_at),
        "expected_datetime": _iso(case.predicted_at or case.due_at),
        "address": public_address(case) or None,
        "address_id": case.node.code or None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        # a photo shows what it shows: linked only where the matter is in public space
        "media_url": ((case.attributes or {}).get("media_url") or None) if in_public_space else None,
    }


# =========================================================================== input
def _csv(request: HttpRequest, name: str) -> list[str]:
    raw = ",".join(request.GET.getlist(name))
    return [part.strip() for part in raw.split(",") if part.strip()]


def _moment(request: HttpRequest, name: str):
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    raw = _UNENCODED_OFFSET.sub(r"+\1", raw)  # "+08:00" arrives as " 08:00" when the "+" was not encoded
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            value = dt.datetime(day.year, day.month, day.day) if day else None
    except ValueError:
        value = None
    if value is None:
        raise _fail(400, name, _("not an ISO 8601 date and time (e.g. 2026-01-31T09:00:00+08:00)"))
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _statuses(request: HttpRequest) -> set[str]:
    values = {v.lower() for v in _csv(request, "status")}
    if values - {"open", "closed"}:
        raise _fail(400, "status", _("one of open, closed"))
    return values


def _submitted(request: HttpRequest) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The POSTed parameters (form-encoded or a JSON object) as lists of strings, and the attributes:
    `attribute[code]=v`, `attribute[code][]=v` (several), or in JSON an `attribute` object."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _fail(400, "body", _("not valid JSON")) from None
        if not isinstance(data, dict):
            raise _fail(400, "body", _("send a JSON object"))
        pairs = []
        for name, value in data.items():
            if name == "attribute" and isinstance(value, dict):
                pairs += [(f"attribute[{code}][]" if isinstance(v, list) else f"attribute[{code}]",
                           v if isinstance(v, list) else [v]) for code, v in value.items()]
            else:
                pairs.append((name, value if isinstance(value, list) else [value]))
        items = [(name, ["" if v is None else str(v) for v in values]) for name, values in pairs]
    else:
        items = list(request.POST.lists())
    params: dict[str, list[str]] = {}
    attributes: dict[str, Any] = {}
    for name, values in items:
        match = _ATTRIBUTE_KEY.match(name)
        if match is None:
            params.setdefault(name, []).extend(values)
            continue
        code = match.group(1)
        if match.group(2) or len(values) > 1:
            previous = attributes.get(code, [])
            attributes[code] = (previous if isinstance(previous, list) else [previous]) + list(values)
        else:
            attributes[code] = values[0] if values else ""
    return params, attributes


# =========================================================================== views
def root(request: HttpRequest) -> HttpResponse:
    return discovery(request, "json")


@open311_view(*READ)
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    changeset = _iso(open311_changeset()) or "2026-01-01T00:00:00+00:00"
    payload = {
        "changeset": changeset,
        "contact": getattr(settings, "OPEN311_CONTACT", "") or _("The grid management centre of the district"),
        "key_service": getattr(settings, "OPEN311_KEY_SERVICE", "")
        or _("Ask the grid management centre for an API key"),
        "endpoints": [{"specification": SPECIFICATION, "url": request.build_absolute_uri(reverse("open311:root")),
                       "changeset": changeset, "type": "production", "formats": MEDIA_TYPES}],
    }
    return _render(fmt, payload, root="discovery")


@open311_view(*READ)
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    scheme = jurisdiction_resolve(request.GET.get("jurisdiction_id", ""))
    return _render(fmt, [_service(m) for m in open311_services(scheme)], root="services", item="service")


@open311_view(*READ)
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    scheme = jurisdiction_resolve(request.GET.get("jurisdiction_id", ""))
    matter = open311_service(scheme, code)
    if matter is None:
        raise _fail(404, "service_code", _("unknown service %(code)s") % {"code": code[:20]})
    payload = {"service_code": matter.code,
               "attributes": [_attribute(a, i) for i, a in enumerate(matter.attributes or [], start=1)]}
    return _render(fmt, payload, root="service_definition")


@open311_view("GET", "HEAD", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _request_create(request, fmt)
    scheme = jurisdiction_resolve(request.GET.get("jurisdiction_id", ""))
    query = RequestQuery(ids=_csv(request, "service_request_id"), service_codes=_csv(request, "service_code"),
                         start=_moment(request, "start_date"), end=_moment(request, "end_date"),
                         statuses=_statuses(request))
    if query.start and query.end and query.start > query.end:
        raise _fail(400, "start_date", _("after end_date"))
    found = open311_requests(scheme, query, now=timezone.now())
    return _render(fmt, [_request(c) for c in found], root="service_requests", item="request")


@sensitive_variables("params", "key", "submission")
@sensitive_post_parameters("api_key", "email", "phone", "first_name", "last_name", "device_id", "account_id")
def _request_create(request: HttpRequest, fmt: str) -> HttpResponse:
    # limited per client address before anything is read (behind a trusted proxy: the client's own address)
    hit = ratelimit_hit(scope="open311-post", key=client_address(request) or "unknown",
                        limit=settings.OPEN311_POSTS_PER_HOUR, seconds=3600)
    if hit.over:
        raise Open311Error(429, [_("too many requests from your address: try again in %(s)d seconds")
                                 % {"s": hit.retry_after}])
    params, attributes = _submitted(request)

    def first(name: str) -> str:
        values = params.get(name) or [""]
        return values[0].strip()

    key = first("api_key")
    if not key:
        if "api_key" in request.GET:
            raise _fail(400, "api_key", _("send it in the request body, never in the URL"))
        raise _fail(400, "api_key", _("required"))
    client = api_client_authenticate(key=key)
    if client is None:
        raise _fail(403, "api_key", _("not valid"))
    submission = Open311Submission(**{name: first(name) for name in SUBMISSION_FIELDS}, attributes=attributes)
    result = open311_request_create(client=client, submission=submission,
                                    idempotency_key=request.headers.get("Idempotency-Key", ""))
    case = result.case
    notice = _("Received as request %(number)s.") % {"number": case.number}
    if result.duplicates:
        notice += " " + _("A report of the same problem nearby is already being handled.")
    payload = [{"service_request_id": case.number, "token": case.tracking_code, "service_notice": notice,
                "account_id": None}]
    return _render(fmt, payload, root="service_requests", item="request", status=201 if result.created else 200)


@open311_view(*READ)
def request_detail(request: HttpRequest, fmt: str, number: str) -> HttpResponse:
    scheme = jurisdiction_resolve(request.GET.get("jurisdiction_id", ""))
    case = open311_request(scheme, number)
    if case is None:
        raise _fail(404, "service_request_id", _("no request %(number)s") % {"number": number[:30]})
    return _render(fmt, [_request(case)], root="service_requests", item="request")


@open311_view(*READ)
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    scheme = jurisdiction_resolve(request.GET.get("jurisdiction_id", ""))
    case = open311_token(scheme, token)
    if case is None:
        raise _fail(404, "token", _("unknown token"))
    payload = [{"service_request_id": case.number, "token": case.tracking_code}]
    return _render(fmt, payload, root="service_requests", item="request")


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _render_error("json", Open311Error(404, [_("not found: start from %(url)s")
                                                    % {"url": reverse("open311:discovery", kwargs={"fmt": "json"})}]))

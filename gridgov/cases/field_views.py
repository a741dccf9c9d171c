"""The grid worker's pages, made for a phone (/m/):

- `index`: my cells (their chain, the people in charge and their work phones, a link to the public card),
  my tasks (open cases waiting on me, soonest due first, with their time-limit colour and the due time in
  words) and what I reported lately;
- `report`: report a problem in under a minute — photos from the camera, the position from the phone or a
  tap on the map of my cells, the matter found by Chinese or pinyin initials, a description; optionally
  handled on the spot (巡办合一) with photos before and after. The case goes in through the same intake as
  every channel (`services.case_report`, channel PATROL); a double submit creates one case;
- `matters`: the live matter search used by the report page (JSON);
- `position`: the phone's position while the page is open, sent only after the worker asks for it
  (at most one report a minute is kept).

Everything is scoped: the cells are the user's own assignments, the cases those `selectors` allow."""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Prefetch, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gridgov.accounts.selectors import field_assignments, nodes_public_people, paths_q
from gridgov.accounts.services import POSITION_EVERY, position_record
from gridgov.cases.due import DueShown, case_due_shown
from gridgov.cases.errors import CaseConflict
from gridgov.cases.grants import actions_for, scheme_grants, standings_for
from gridgov.cases.models import Case, CaseRequest, Channel
from gridgov.cases.selectors import case_duplicates, case_inbox, case_list_for_user, case_scope
from gridgov.cases.services import PHOTOS_MAX, case_report
from gridgov.cases.states import OPEN_STATES
from gridgov.cases.transitions import TRANSITIONS
from gridgov.catalogue.models import Matter
from gridgov.catalogue.search import matter_search
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.territory.models import LevelScheme, Node

QUICK_ACTIONS = ("accept", "return", "report_back")
MAX_SELECTABLE_CELLS = 300
# what the phone page shows at most in each list
TASKS_SHOWN = 50
REPORTED_SHOWN = 10


# =========================================================================== my cells
def _my_cells(user) -> list[Node]:
    cells: dict[int, Node] = {}
    for assignment in field_assignments(user):
        cells.setdefault(assignment.node_id, assignment.node)
    return list(cells.values())


def _selectable_cells(cells: list[Node]) -> list[Node]:
    """My cells and the cells in force below them (a leader of a community reports in its grids)."""
    if not cells:
        return []
    paths = [c.path for c in cells]
    return list(Node.objects.current().filter(paths_q(paths)).select_related("level", "scheme")
                .order_by("path")[:MAX_SELECTABLE_CELLS])


def _scheme(cells: list[Node]) -> LevelScheme | None:
    return cells[0].scheme if cells else None


def _chains(cells: list[Node]) -> dict[int, list[Node]]:
    """Each cell's ancestors, top first, read in one query."""
    ids = {a for c in cells for a in c.ancestor_ids()}
    ancestors = Node.objects.in_bulk(ids)
    return {c.pk: [ancestors[a] for a in c.ancestor_ids() if a in ancestors] for c in cells}


def _open_counts(cells: list[Node]) -> dict[int, int]:
    """Open cases in each cell's subtree, counted in one query."""
    if not cells:
        return {}
    counts = Case.objects.filter(paths_q([c.path for c in cells], "node__path"), state__in=OPEN_STATES).aggregate(
        **{f"c{c.pk}": Count("pk", filter=Q(node__path__startswith=c.path)) for c in cells})
    return {c.pk: counts[f"c{c.pk}"] for c in cells}


# =========================================================================== my tasks
@dataclass
class Task:
    case: Case
    due: DueShown
    actions: list[tuple[str, str]] = field(default_factory=list)  # (action, label) of the quick buttons


def _texts() -> dict[str, str]:
    """The words field.js shows, in the user's language ({} marks where a value goes)."""
    return {
        "waiting": _("Asking your phone for the position…"),
        "denied": _("Your phone did not give the position. Allow it in the browser's settings, or tap the map."),
        "unavailable": _("The position is not available here: tap the map or choose the cell."),
        "position": _("Position: {lon}, {lat}"),
        "accuracy": _("(within {m} m)"),
        "tapped": _("Position: {lon}, {lat} (tapped on the map)"),
        "shared": _("Position shared at {time}."),
        "stopped": _("Position sharing stopped."),
        "too_soon": _("Position kept; the next one is sent in a minute."),
        "not_sent": _("The position could not be sent; it is tried again in a minute."),
        "found": _("{n} matters found: use the arrow keys to choose."),
        "none": _("No matter found: try other words, the pinyin initials or the code."),
        "chosen": _("Chosen: {name}"),
        "choose": _("— choose —"),
        "required": _("required"),
    }


# =========================================================================== index
@require_safe
@login_required
def index(request):
    user = request.user
    now = timezone.now()
    assignments = list(field_assignments(user))
    cells = _my_cells(user)
    chains = _chains(cells)
    open_counts = _open_counts(cells)
    people = nodes_public_people(cells)
    my_cells = [{
        "node": c,
        "chain": chains.get(c.pk, []),
        "roles": [a.role for a in assignments if a.node_id == c.pk],
        "people": people.get(c.pk, []),
        "open": open_counts.get(c.pk, 0),
    } for c in cells]
    inbox = list(case_inbox(user).select_related("node", "matter")
                 .prefetch_related(Prefetch("requests", queryset=CaseRequest.objects.filter(
                     state=CaseRequest.State.PENDING), to_attr="pending_requests"))
                 .order_by(F("due_at").asc(nulls_last=True), "reported_at")[:TASKS_SHOWN])
    # the quick buttons of every task from one read of the user's standings and the schemes' grants
    standings = standings_for(user, inbox)
    grants = scheme_grants(case.scheme_id for case in inbox)
    tasks = []
    for case in inbox:
        allowed = actions_for(user, case, standing=standings[case.pk], grants=grants[case.scheme_id])
        tasks.append(Task(case=case, due=case_due_shown(case, now),
                          actions=[(a, TRANSITIONS[a].label) for a in QUICK_ACTIONS if a in allowed]))
    reported = (case_list_for_user(user).filter(reporter=user).order_by("-reported_at", "-pk")[:REPORTED_SHOWN])
    return render(request, "cases/field/index.html", {
        "cells": my_cells, "tasks": tasks, "reported": reported, "field_worker": bool(cells), "texts": _texts(),
    })


# =========================================================================== report
def _catalogue_for(scheme):
    return scheme_catalogue(scheme) if scheme is not None else None


def _matter_groups(catalogue) -> list[tuple[str, list[Matter]]]:
    """The matters of the catalogue grouped by category: the select used when the page runs without JS."""
    if catalogue is None:
        return []
    groups: dict[int, tuple[str, list[Matter]]] = {}
    for matter in (Matter.objects.filter(catalogue=catalogue, active=True).select_related("category")
                   .order_by("category__code", "code")):
        groups.setdefault(matter.category_id, (f"{matter.category.code} {matter.category.name}", []))[1].append(matter)
    return list(groups.values())


def _attribute_specs(matter: Matter | None) -> list[dict]:
    return list(matter.attributes or []) if matter is not None else []


def _float(raw: str, *, low: float, high: float) -> float | None:
    """A finite number within [low, high], or None when it is not one."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or not low <= value <= high:
        return None
    return value


def _position(values: dict, errors: dict[str, list[str]]) -> tuple[float | None, float | None]:
    raw_lon, raw_lat = (values.get("lon") or "").strip(), (values.get("lat") or "").strip()
    if not raw_lon and not raw_lat:
        return None, None
    lon = _float(raw_lon, low=-180, high=180)
    lat = _float(raw_lat, low=-90, high=90)
    if lon is None or lat is None:
        errors.setdefault("location", []).append(
            _("The position could not be read. Press “Use my position” again or tap the map."))
        return None, None
    return lon, lat


# intake's field names → the field of this page they are about
ERROR_FIELDS = {"location": "location", "node": "location", "photos": "photos", "before_photos": "photos",
                "after_photos": "after_photos", "matter": "matter", "description": "description",
                "attributes": "attributes", "place": "location"}


def _add_errors(errors: dict[str, list[str]], exc: ValidationError) -> None:
    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [("general", exc.messages)]
    for name, messages in items:
        page_field = "attributes" if name.startswith("attributes.") else ERROR_FIELDS.get(name, "general")
        errors.setdefault(page_field, []).extend(messages)


@dataclass
class ReportPage:
    """Everything the report page shows: the cells and matters to choose from, and what was typed."""

    cells: list[Node]
    selectable: list[Node]
    scheme: LevelScheme | None
    catalogue: object
    values: dict
    errors: dict[str, list[str]] = field(default_factory=dict)
    matter: Matter | None = None
    photos_dropped: bool = False

    def context(self) -> dict:
        geo = [{"id": c.pk, "name": c.name, "code": c.code, "geometry": c.geometry} for c in self.cells
               if c.geometry]
        attrs = _attribute_specs(self.matter)
        depth0 = min((n.level.depth for n in self.selectable), default=0)
        return {
            "cells": self.cells, "scheme": self.scheme,
            "selectable": [(str(n.pk), "\u2003" * (n.level.depth - depth0) + n.name) for n in self.selectable],
            "groups": _matter_groups(self.catalogue), "values": self.values, "errors": self.errors,
            "matter": self.matter, "attributes": [
                {**spec, "field": f"attr_{spec['code']}",
                 "value": self.values.get(f"attr_{spec['code']}", ""),
                 "chosen": self.values.get(f"attrlist_{spec['code']}", [])} for spec in attrs],
            "cells_geo": geo, "photos_dropped": self.photos_dropped, "max_photos": PHOTOS_MAX,
            "field_worker": bool(self.cells), "texts": _texts(),
        }


def _typed(request) -> dict:
    values = {k: request.POST.get(k, "") for k in request.POST if k != "csrfmiddlewaretoken"}
    for key in request.POST:
        if key.startswith("attr_"):
            values[f"attrlist_{key[5:]}"] = request.POST.getlist(key)
    return values


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def report(request):
    user = request.user
    cells = _my_cells(user)
    scheme = _scheme(cells)
    page = ReportPage(cells=cells, selectable=_selectable_cells(cells), scheme=scheme,
                      catalogue=_catalogue_for(scheme), values={"token": secrets.token_urlsafe(16)})
    if request.method != "POST":
        return render(request, "cases/field/report.html", page.context())
    if not cells:
        raise PermissionDenied(_("Only people in charge of a cell report from this page."))
    page.values = _typed(request)
    page.values["token"] = page.values.get("token") or secrets.token_urlsafe(16)
    result = _report_submit(request, page)
    if result is not None:
        return redirect("field:reported", number=result.number)
    photos_sent = any(f.size for name in ("photos", "after_photos") for f in request.FILES.getlist(name))
    page.photos_dropped = photos_sent
    if "idempotency" in page.errors:
        page.values["token"] = secrets.token_urlsafe(16)
    return render(request, "cases/field/report.html", page.context(), status=400)


def _report_submit(request, page: ReportPage) -> Case | None:
    """Check what was sent, then hand it to the intake; None (and `page.errors`) when something is wrong."""
    values, errors = page.values, page.errors
    code = (values.get("matter") or "").strip()
    if code:
        page.matter = (Matter.objects.filter(catalogue=page.catalogue, code=code, active=True)
                       .select_related("category").first() if page.catalogue else None)
        if page.matter is None:
            errors.setdefault("matter", []).append(_("Unknown matter %(code)s: choose one from the list.")
                                                   % {"code": code[:10]})
    else:
        errors.setdefault("matter", []).append(
            _("Choose the matter: type part of its name or its pinyin initials (e.g. jg for %(example)s).")
            % {"example": "井盖"})
    if not (values.get("description") or "").strip():
        errors.setdefault("description", []).append(_("Describe the problem in a few words."))
    lon, lat = _position(values, errors)
    node = None
    raw_node = (values.get("node") or "").strip()
    if raw_node:
        node = next((n for n in page.selectable if str(n.pk) == raw_node), None)
        if node is None:
            errors.setdefault("location", []).append(_("Choose one of your cells."))
    if node is None and lon is None and "location" not in errors:
        errors.setdefault("location", []).append(
            _("Give the position: press “Use my position”, tap the map, or choose the cell."))
    photos = [f for f in request.FILES.getlist("photos") if f.size or f.name]
    after = [f for f in request.FILES.getlist("after_photos") if f.size or f.name]
    self_handled = values.get("self_handled") in ("1", "on", "true")
    if len(photos) > PHOTOS_MAX:
        errors.setdefault("photos", []).append(_("At most %(n)s photos.") % {"n": PHOTOS_MAX})
    if len(after) > PHOTOS_MAX:
        errors.setdefault("after_photos", []).append(_("At most %(n)s photos.") % {"n": PHOTOS_MAX})
    if self_handled:
        if not photos:
            errors.setdefault("photos", []).append(
                _("Handled on the spot: add a photo taken before you handled it."))
        if not after:
            errors.setdefault("after_photos", []).append(
                _("Handled on the spot: add a photo taken after you handled it."))
    attributes = {}
    for spec in _attribute_specs(page.matter):
        name = f"attr_{spec['code']}"
        if spec.get("datatype") == "multivaluelist":
            chosen = [v for v in request.POST.getlist(name) if v]
            if chosen:
                attributes[spec["code"]] = chosen
        elif (values.get(name) or "").strip():
            attributes[spec["code"]] = values[name].strip()
    if errors:
        return None
    try:
        result = case_report(
            actor=request.user, channel=Channel.PATROL, scheme=node.scheme if node else page.scheme,
            node=node, lon=lon, lat=lat, place=values.get("place") or "", matter=page.matter,
            description=values.get("description", ""), attributes=attributes,
            photos=None if self_handled else photos,
            before_photos=photos if self_handled else None, after_photos=after if self_handled else None,
            self_handled=self_handled, idempotency_key=(values.get("token") or "")[:100])
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "idempotency_key" in exc.error_dict:
            errors.setdefault("idempotency", []).append(
                _("This form was already sent with other content. Check “Reported by me”, then send it again."))
            return None
        _add_errors(errors, exc)
        return None
    except CaseConflict as exc:
        errors.setdefault("general", []).append(exc.message)
        return None
    return result.case


def _my_reported_case(user, number: str) -> Case:
    pk = Case.pk_from_number(number)
    case = (case_list_for_user(user).filter(pk=pk, reporter=user).select_related("node", "matter").first()
            if pk else None)
    if case is None or case.number != number:
        raise Http404(_("No such case of yours."))
    return case


@require_safe
@login_required
def reported(request, number: str):
    """The confirmation after a report: its number, and similar open cases nearby (offered, never merged)."""
    case = _my_reported_case(request.user, number)
    nearby = case_duplicates(case)
    visible = set(case_scope(Case.objects.filter(pk__in=[c.pk for c, _d in nearby]), request.user)
                  .values_list("pk", flat=True))
    duplicates = [(c, round(d)) for c, d in nearby if c.pk in visible]
    return render(request, "cases/field/reported.html", {"case": case, "duplicates": duplicates})


# =========================================================================== matters (JSON)
@require_safe
@login_required
def matters(request):
    """[{code, name, category, attributes, photo_required}] of the matters matching ?q= in the catalogue of the
    user's cells, best first."""
    scheme = _scheme(_my_cells(request.user))
    if scheme is None:
        scheme = LevelScheme.objects.first() if LevelScheme.objects.count() == 1 else None
    query = request.GET.get("q", "")
    found = matter_search(scheme=scheme, query=query, limit=10) if scheme is not None else []
    data = [{"code": m.code, "name": m.name, "name_zh": m.name_zh, "category": m.category.name,
             "attributes": m.attributes or [], "photo_required": m.evidence_before} for m in found]
    return JsonResponse(data, safe=False, json_dumps_params={"ensure_ascii": False})


# =========================================================================== position
def _position_payload(request) -> dict:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}
    return request.POST.dict()


@require_POST
@login_required
def position(request):
    """POST lon, lat (WGS84 degrees) and accuracy (metres, optional), form-encoded or JSON → 204; 400 with
    the fields in error; 429 when the last report is less than a minute old. Only for field roles."""
    if not field_assignments(request.user).exists():
        raise PermissionDenied(_("Only people in charge of a cell share their position."))
    data = _position_payload(request)
    errors = {}
    lon = _float(data.get("lon"), low=-180, high=180)
    lat = _float(data.get("lat"), low=-90, high=90)
    if lon is None:
        errors["lon"] = [_("Give the longitude in degrees, from -180 to 180.")]
    if lat is None:
        errors["lat"] = [_("Give the latitude in degrees, from -90 to 90.")]
    accuracy = None
    if data.get("accuracy") not in (None, ""):
        value = _float(data.get("accuracy"), low=0, high=100_000)
        if value is None:
            errors["accuracy"] = [_("Give the accuracy in metres, from 0 to 100000.")]
        else:
            accuracy = round(value)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    if position_record(user=request.user, lon=lon, lat=lat, accuracy_m=accuracy) is None:
        response = JsonResponse({"errors": {"__all__": [_("Your position was saved less than a minute ago.")]}},
                                status=429)
        response["Retry-After"] = str(int(POSITION_EVERY.total_seconds()))
        return response
    return HttpResponse(status=204)

"""Case pages for staff (/cases/): the list with filters and export, the live queue, the case detail with its
timeline and exactly the actions this user may take, each action's form, the case's photos and the logged
reveal of who reported it.

Every page reads through `selectors.case_scope`: a case outside the user's scope is a 404. States change
only through `services.case_transition` (the action forms); who reported a case is shown only to users
`grants.sees_reporter` allows, masked until they reveal it with a purpose (logged). Filters travel in the
URL as codes and ids, never anything personal; every response here says `Cache-Control: no-store`."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Prefetch, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from gridgov.accounts.display import team_label, user_label
from gridgov.accounts.models import Role
from gridgov.cases.attachments import attachment_response
from gridgov.cases.due import case_due_shown, case_late_stage, due_words, sla_colour
from gridgov.cases.errors import CaseConflict
from gridgov.cases.filters import CaseFilter
from gridgov.cases.forms import ACTION_FORMS, SYSTEM_ACTIONS, CaseFilterForm
from gridgov.cases.grants import (
    action_allowed_as,
    actions_for,
    duty_refusal,
    event_view,
    owner_shown,
    sees_reporter,
    user_standing,
)
from gridgov.cases.models import AssigneeKind, Attachment, Case, CaseRequest, Escalation, ReportIn, SlaStatus
from gridgov.cases.selectors import case_duplicates, case_list_for_user, case_scope, case_timeline
from gridgov.cases.services import case_reporter_reveal
from gridgov.cases.states import OPEN_STATES, CaseState
from gridgov.cases.transitions import TRANSITIONS, event_label
from gridgov.catalogue.models import ReportLevel
from gridgov.core.api import client_address
from gridgov.core.i18n import localized
from gridgov.core.tabular import bilingual, tabular_response
from gridgov.territory.models import Level, Node

PAGE_SIZE = 50
QUEUE_SHOWN = 8
QUEUE_MAX = 30
# the actions offered first (the loop's main path), the rest after them in the table's order
PRIMARY_ACTIONS = ("register", "dispatch", "accept", "report_back", "verify_pass", "self_handle", "evaluate",
                   "report_in", "approve_extension", "approve_parking")


def _page(view):
    """Logged in, and never cached anywhere (cases carry people's problems and places)."""
    return login_required(never_cache(view))


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# =========================================================================== shared
def _case_for(request, number: str, qs=None) -> Case:
    """The case of the URL in the user's scope, else 404 (also for a number whose date part is wrong)."""
    pk = Case.pk_from_number(number)
    if pk is None:
        raise Http404
    case = get_object_or_404(case_scope(qs if qs is not None else Case.objects.all(), request.user), pk=pk)
    if case.number != number:
        raise Http404
    return case


def assignee_text(case: Case) -> str:
    """Who handles the case now, in words (a team with its department, a person, a community)."""
    if case.assignee_team_id:
        return team_label(case.assignee_team)
    if case.assignee_user_id:
        return user_label(case.assignee_user)
    if case.assignee_node_id:
        return case.assignee_node.name
    return ""


def _related(qs):
    return qs.select_related("node", "matter__category", "assignee_user__person", "assignee_node",
                             "assignee_team__department")


def _filtered(request, *, choices: bool = True):
    """The filter form of the request and the user's cases it selects (None when the form is invalid)."""
    form = CaseFilterForm(request.GET, user=request.user, choices=choices)
    if not form.is_valid():
        return form, None
    applied = CaseFilter(form.api_params(), queryset=case_list_for_user(request.user), request=request)
    if not applied.is_valid():  # the form checked every value; this only guards a drift between the two
        for name, errors in applied.errors.items():
            form.add_error(None, [f"{name}: {e}" for e in errors])
        return form, None
    return form, applied.qs


# =========================================================================== list and export
EXPORT_COLUMNS = [
    (gettext_lazy("case number"), lambda c: c.number),
    (gettext_lazy("reported at"), lambda c: c.reported_at),
    (gettext_lazy("cell code"), lambda c: c.node.code),
    (gettext_lazy("cell"), lambda c: c.node.name),
    (gettext_lazy("category"), lambda c: f"{c.matter.category.code} {c.matter.category.name}" if c.matter_id else ""),
    (gettext_lazy("matter code"), lambda c: c.matter.code if c.matter_id else ""),
    (gettext_lazy("matter"), lambda c: c.matter.name if c.matter_id else ""),
    (gettext_lazy("channel"), lambda c: c.get_channel_display()),
    (gettext_lazy("report level"), lambda c: c.get_report_level_display()),
    (gettext_lazy("handling mode"), lambda c: c.get_handling_mode_display()),
    (gettext_lazy("state"), lambda c: c.get_state_display()),
    (gettext_lazy("time-limit status"), lambda c: case_due_shown(c, timezone.now()).label),
    (gettext_lazy("due at"), lambda c: c.due_at),
    (gettext_lazy("assignee kind"), lambda c: c.get_assignee_kind_display() if c.assignee_kind else ""),
    (gettext_lazy("handled by"), assignee_text),
    (gettext_lazy("registered at"), lambda c: c.registered_at),
    (gettext_lazy("dispatched at"), lambda c: c.dispatched_at),
    (gettext_lazy("reported back at"), lambda c: c.reported_back_at),
    (gettext_lazy("closed at"), lambda c: c.closed_at),
    (gettext_lazy("rework count"), lambda c: c.rework_count),
    (gettext_lazy("satisfaction (1–5)"), lambda c: c.satisfaction),
]


def _export(qs, fmt: str):
    """The filtered cases, every page of them in the page's order; nothing about who reported them."""
    def rows():
        for case in qs.iterator(chunk_size=1000):
            yield [get(case) for _label, get in EXPORT_COLUMNS]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return tabular_response(fmt=fmt, filename=f"cases-{stamp}", title=_("Cases"),
                            headers=[bilingual(label) for label, _get in EXPORT_COLUMNS], rows=rows())


@require_safe
@_page
def case_list(request):
    """The user's cases, filtered by the bar (the same filters as the API), paginated; ?format=xlsx|csv
    downloads exactly the filtered rows."""
    form, qs = _filtered(request)
    fmt = request.GET.get("format", "")
    if fmt and fmt not in ("xlsx", "csv"):
        form.add_error(None, _("Unknown export format %(fmt)s: choose xlsx or csv.") % {"fmt": fmt[:10]})
        qs = None
    if qs is None:
        return render(request, "cases/list.html", {"form": form, "page": None, "rows": [], "query": ""},
                      status=400)
    qs = _related(qs).annotate(closed_late=case_late_stage())
    if fmt:
        return _export(qs, fmt)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = []
    for c in page:
        due = case_due_shown(c, now)
        rows.append({"case": c, "sla": due.colour, "sla_label": due.label, "assignee": assignee_text(c)})
    query = urlencode(form.url_params())
    return render(request, "cases/list.html", {
        "form": form, "page": page, "rows": rows, "query": query,
        "queue_url": reverse("cases:queue") + (f"?{query}" if query else ""),
    })


# =========================================================================== live queue
QUEUE_SECTIONS = [
    # key, title, condition, order, link filters
    ("new", gettext_lazy("New (awaiting registration)"), Q(state=CaseState.REPORTED), ("-reported_at", "-pk"),
     [("state", CaseState.REPORTED)]),
    ("urgent", gettext_lazy("Urgent"), Q(state__in=OPEN_STATES, report_level__in=(ReportLevel.URGENT, ReportLevel.MAJOR)),
     (F("due_at").asc(nulls_last=True), "-reported_at"),
     [("open", "1"), ("report_level", ReportLevel.URGENT), ("report_level", ReportLevel.MAJOR)]),
    ("warning", gettext_lazy("Warning (close to the limit)"), Q(state__in=OPEN_STATES, sla_status=SlaStatus.WARNING),
     (F("due_at").asc(nulls_last=True), "-reported_at"), [("open", "1"), ("sla_status", SlaStatus.WARNING)]),
    ("overdue", gettext_lazy("Overdue"), Q(state__in=OPEN_STATES, sla_status=SlaStatus.OVERDUE),
     (F("due_at").asc(nulls_last=True), "-reported_at"), [("open", "1"), ("sla_status", SlaStatus.OVERDUE)]),
]


@require_safe
@_page
def case_queue(request):
    """An HTML fragment for htmx polling: open cases needing attention in four sections with their counts,
    under the same filters as the list. One query for the counts, one per section for its first cases."""
    form, qs = _filtered(request, choices=False)
    if qs is None:
        return render(request, "cases/_queue.html", {"form": form, "sections": []}, status=400)
    try:
        shown = max(1, min(int(request.GET.get("n", QUEUE_SHOWN)), QUEUE_MAX))
    except (TypeError, ValueError):
        shown = QUEUE_SHOWN
    counts = qs.aggregate(**{key: Count("pk", filter=cond) for key, _t, cond, _o, _l in QUEUE_SECTIONS})
    base = form.url_params()
    now = timezone.now()
    sections = []
    for key, title, cond, order, link in QUEUE_SECTIONS:
        cases = list(_related(qs.filter(cond)).order_by(*order)[:shown]) if counts[key] else []
        keys = {k for k, _v in link}
        params = [(k, v) for k, v in base if k not in keys] + link
        sections.append({
            "key": key, "title": title, "count": counts[key],
            "url": reverse("cases:list") + "?" + urlencode(params),
            "items": [{"case": c, "sla": sla_colour(c, now),
                       "when": (_("reported %(time)s ago") % {"time": timesince(c.reported_at, now, depth=1)}
                                if key == "new" or c.due_at is None else due_words(c.due_at, now))}
                      for c in cases],
        })
    return render(request, "cases/_queue.html", {"form": form, "sections": sections, "generated_at": now})


# =========================================================================== detail
HOLDER_LABELS = {
    "CENTRE": gettext_lazy("Command centre"),
    "OWNER": gettext_lazy("Owner (first receiver)"),
    "ASSIGNEE": gettext_lazy("Handler"),
    "REPORTER": gettext_lazy("Reporter"),
    "REPORTER_VERIFYING": gettext_lazy("Reporter (verifying)"),
    "REPORT_IN": gettext_lazy("Department called to report in"),
    "SYSTEM": gettext_lazy("System"),
    "merge": gettext_lazy("Merge"),
}


def _standing_labels(case: Case, events) -> dict[str, str]:
    """Readable labels of the standings events were taken under ("ROLE:office3@street" → the role's name at
    the level's name)."""
    roles, levels = set(), set()
    for e in events:
        if e.actor_role.startswith("ROLE:") and "@" in e.actor_role:
            role_key, level_key = e.actor_role[5:].split("@", 1)
            roles.add(role_key)
            levels.add(level_key)
    role_names = {r.key: r.name for r in Role.objects.filter(scheme_id=case.scheme_id, key__in=roles)}
    level_names = {lv.key: lv.name for lv in Level.objects.filter(scheme_id=case.scheme_id, key__in=levels)}
    out = {}
    for e in events:
        raw = e.actor_role
        if raw in out:
            continue
        if raw.startswith("ROLE:") and "@" in raw:
            role_key, level_key = raw[5:].split("@", 1)
            out[raw] = f"{role_names.get(role_key, role_key)} · {level_names.get(level_key, level_key)}"
        else:
            out[raw] = str(HOLDER_LABELS.get(raw, raw))
    return out


def _report_channel(event, case: Case) -> str:
    """How the report came in ("via the 12345 hotline"), from the report event's data."""
    channel = (event.new_values or {}).get("channel") or case.channel
    channels = dict(type(case)._meta.get_field("channel").flatchoices)
    return _("via %(channel)s") % {"channel": channels.get(channel, channel)}


def _timeline(case: Case, *, sees: bool) -> list[dict]:
    """The case's events for this viewer: what, when, under which standing, by whom (staff names; the
    reporter's identity only for those who may see it), the state change and the note."""
    events = list(case_timeline(case))
    labels = _standing_labels(case, events)
    photos = {a.pk: a for a in case.attachments.all()}
    states = dict(CaseState.choices)
    out = []
    for e in events:
        view = event_view(e, case, sees=sees)
        out.append({
            "event": e,
            "label": event_label(e.kind),
            "standing": (_report_channel(e, case) if e.kind == "report" and not view.hides_actor
                         else labels.get(view.actor_role, "") if view.actor_role else ""),
            "actor": user_label(view.actor) if view.actor is not None else "",
            "from": states.get(e.from_state, ""),
            "to": states.get(e.to_state, "") if e.to_state != e.from_state else "",
            "photos": [photos[a["id"]] for a in e.attachments or [] if a.get("id") in photos],
        })
    return out


def _detail_queryset():
    return (Case.objects.select_related("node__level", "scheme", "matter__category", "assignee_user__person",
                                        "assignee_node__level", "assignee_team__department", "owner__person", "reporter",
                                        "merged_into")
            .prefetch_related("stages", "attachments",
                              Prefetch("requests", queryset=CaseRequest.objects.filter(
                                  state=CaseRequest.State.PENDING).select_related("requested_by__person"),
                                  to_attr="pending_requests"),
                              Prefetch("escalations", queryset=Escalation.objects.select_related("node__level",
                                                                                                 "raised_by")
                                       .prefetch_related(Prefetch("report_ins", queryset=ReportIn.objects
                                                                  .select_related("department", "reported_by__person")))
                                       .order_by("raised_at", "pk"))))


def action_buttons(user, case: Case, *, next_url: str = "", pending: set[str] | None = None) -> list[dict]:
    """The actions this user may take on this case now, main ones first, with their form's URL. A decision
    on an application is a main action only while one of its kind (`pending`: EXTENSION, PARKING) waits."""
    pending = pending or set()
    allowed = [a for a in actions_for(user, case) if a not in SYSTEM_ACTIONS and a in ACTION_FORMS]

    def primary(action: str) -> bool:
        if action.endswith(("_extension", "_parking")) and not action.startswith("request"):
            return action.startswith("approve") and action.split("_", 1)[1].upper() in pending
        return action in PRIMARY_ACTIONS

    ordered = [a for a in allowed if primary(a)] + [a for a in allowed if not primary(a)]
    suffix = f"?{urlencode({'next': next_url})}" if next_url else ""
    return [{"action": a, "label": TRANSITIONS[a].label, "primary": primary(a),
             "url": reverse("cases:act", args=[case.number, a]) + suffix} for a in ordered]


class RevealForm(forms.Form):
    purpose = forms.CharField(label=gettext_lazy("Why do you need the reporter's contact?"), max_length=300,
                              widget=forms.TextInput(attrs={"autocomplete": "off"}),
                              help_text=gettext_lazy("Written to the personal-data access log with your name."))


def _map_data(case: Case) -> dict | None:
    if case.lon is None or case.lat is None:
        return None
    geometry = case.node.geometry
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry)
        except ValueError:
            geometry = None
    return {"lon": case.lon, "lat": case.lat, "cell": geometry, "label": case.number}


@require_safe
@_page
def case_detail(request, number: str):
    case = _case_for(request, number, _detail_queryset())
    user = request.user
    now = timezone.now()
    sees = sees_reporter(user, case)
    buttons = action_buttons(user, case, pending={r.kind for r in case.pending_requests})
    chain = list(Node.objects.filter(pk__in=case.node.ancestor_ids()).select_related("level")
                 .order_by("level__depth"))
    duplicates = []
    if {"register", "merge"} & {b["action"] for b in buttons}:
        rows = case_duplicates(case)
        visible = set(case_scope(Case.objects.filter(pk__in=[c.pk for c, _d in rows]), user)
                      .values_list("pk", flat=True))
        duplicates = [(c, round(d)) for c, d in rows if c.pk in visible]
    attachments = list(case.attachments.all())
    purposes = [(p, label, [a for a in attachments if a.purpose == p]) for p, label in Attachment.Purpose.choices]
    escalations = []
    for esc in case.escalations.all():
        rows = list(esc.report_ins.all())
        escalations.append({"escalation": esc, "done": [r for r in rows if r.reported_at],
                            "waiting": [r for r in rows if not r.reported_at],
                            "late": esc.report_in_due_at <= now and any(not r.reported_at for r in rows)})
    stages = [{"stage": s, "name": localized(s), "when": "" if s.completed_at else due_words(s.due_at, now),
               "sla": SlaStatus.OVERDUE if s.completed_at is None and s.due_at <= now else s.status}
              for s in case.stages.all()]
    due = case_due_shown(case, now)
    context = {
        "case": case, "chain": chain, "sla": due.colour, "sla_label": due.label, "due_words": due.words,
        "assignee": assignee_text(case), "buttons": buttons, "sees_reporter": sees,
        "reveal_form": RevealForm() if sees else None, "duplicates": duplicates,
        "photo_groups": [(p, label, items) for p, label, items in purposes if items],
        "map": _map_data(case), "stages": stages, "requests": case.pending_requests, "escalations": escalations,
        "timeline": _timeline(case, sees=sees),
        "assignee_kind_label": AssigneeKind(case.assignee_kind).label if case.assignee_kind else "",
        # the first receiver of a staff channel is who took the report: shown as the reporter is
        "show_owner": owner_shown(case, sees=sees),
    }
    return render(request, "cases/detail.html", context)


# =========================================================================== actions
def _safe_next(request, value: str | None) -> str:
    """A local URL of this site to go back to after the action (/m/, /inbox/ ...), else ""."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//"):
        return ""
    if not url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return ""
    return value


def _action_page(request, *, case, action, form, status=200, problem="", fragment=False):
    template = "cases/_case_action_form.html" if fragment else "cases/action.html"
    return render(request, template, {
        "case": case, "action": action, "transition": TRANSITIONS[action], "form": form, "problem": problem,
        "fragment": fragment, "detail_url": reverse("cases:detail", args=[case.number]),
        "act_url": reverse("cases:act", args=[case.number, action]),
    }, status=status)


CHANGED = gettext_lazy("This case changed meanwhile — reload to see its current state.")


@require_http_methods(["GET", "HEAD", "POST"])
@_page
def case_act(request, number: str, action: str):
    """GET: the form of one action (a fragment for htmx, else a page). POST: take the action through
    `services.case_transition` with the version the form was loaded with, then go back to the case (or to
    the safe local `next`). 409 when the case changed meanwhile, 403 without a grant, 400 on bad input
    (with everything typed kept; chosen files cannot be kept by a browser, the form says so)."""
    form_class = ACTION_FORMS.get(action)
    if form_class is None or action in SYSTEM_ACTIONS:
        raise Http404
    case = _case_for(request, number, Case.objects.select_related("node__level", "scheme", "matter__category",
                                                                  "assignee_team__department"))
    t = TRANSITIONS[action]
    user = request.user
    if request.method != "POST":
        next_url = _safe_next(request, request.GET.get("next"))
        form = form_class(case=case, user=user, action=action, initial={"version": case.version, "next": next_url})
        fragment = _is_htmx(request)
        if case.state not in t.sources:
            return _action_page(request, case=case, action=action, form=None, status=409, fragment=fragment,
                                problem=str(CHANGED))
        standing = user_standing(user, case)
        refusal = duty_refusal(standing, action)
        if refusal or action_allowed_as(user, case, action, standing=standing) is None:
            return _action_page(request, case=case, action=action, form=None, status=403, fragment=fragment,
                                problem=refusal or _("Your role may not %(action)s this case.")
                                % {"action": str(t.label).lower()})
        return _action_page(request, case=case, action=action, form=form, fragment=fragment)
    form = form_class(request.POST, request.FILES, case=case, user=user, action=action)
    if not form.is_valid():
        return _action_page(request, case=case, action=action, form=form, status=400)
    try:
        form.run()
    except CaseConflict:
        return _action_page(request, case=case, action=action, form=form, status=409, problem=str(CHANGED))
    except PermissionDenied as exc:
        return _action_page(request, case=case, action=action, form=form, status=403,
                            problem=str(exc) or _("Your role may not take this action."))
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _action_page(request, case=case, action=action, form=form, status=400)
    messages.success(request, _("%(action)s: done for case %(number)s.") % {"action": t.label, "number": case.number})
    target = _safe_next(request, form.cleaned_data.get("next")) or reverse("cases:detail", args=[case.number])
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


# =========================================================================== photos and the reporter
@require_safe
@_page
def case_attachment(request, number: str, att_id: int):
    """A photo of a case in the user's scope, streamed from the private files (never a public URL);
    `?size=thumb` its thumbnail, under the same check."""
    case = _case_for(request, number)
    return attachment_response(get_object_or_404(Attachment, pk=att_id, case=case), size=request.GET.get("size", ""))


@require_http_methods(["GET", "HEAD", "POST"])
@_page
def case_reveal(request, number: str):
    """Who reported the case, in clear, for users allowed to see it: after stating a purpose, logged in the
    personal-data access log. A fragment for htmx, else a page."""
    case = _case_for(request, number, Case.objects.select_related("node", "reporter"))
    if not sees_reporter(request.user, case):
        raise PermissionDenied(_("Your role may not see who reported this case."))
    fragment = _is_htmx(request)
    form = RevealForm(request.POST or None)
    context = {"case": case, "reveal_form": form, "fragment": fragment,
               "detail_url": reverse("cases:detail", args=[case.number])}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                context["revealed"] = case_reporter_reveal(user=request.user, case=case,
                                                           purpose=form.cleaned_data["purpose"],
                                                           remote_addr=client_address(request))
            except ValidationError as exc:
                form.add_error("purpose", exc.message_dict.get("purpose", exc.messages)
                               if hasattr(exc, "error_dict") else exc.messages)
        status = 200 if "revealed" in context else 400
    return render(request, "cases/_case_reporter.html" if fragment else "cases/reveal.html", context, status=status)


"""The department inbox: what was dispatched to the teams I am a member of, and the whistles calling my
department to report in, with their deadlines.

Tabs: to accept (dispatched to us), in hand (accepted, rework included), waiting for a decision (an extension
or parking we applied for), report in asked (a whistle naming our department), all open. Rows are the cases
of `selectors.case_inbox` narrowed to my teams and departments, soonest deadline first; each links to the
case page and to the forms of the actions I may take there (`cases:act`, coming back here after). The list
refreshes itself every 30 seconds (htmx) keeping the tab, team and page, and exports to XLSX/CSV with the
same filters. A handler never sees who reported a case: nothing about the reporter is read here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from gridgov.accounts.display import team_label
from gridgov.accounts.models import Department, Team
from gridgov.cases.due import due_words, sla_colour
from gridgov.cases.models import Case, CaseRequest, ReportIn, RequestKind, SlaStatus
from gridgov.cases.page_views import action_buttons
from gridgov.cases.selectors import case_inbox
from gridgov.cases.states import CaseState
from gridgov.core.tabular import FORMATS, bilingual, tabular_response

PAGE_SIZE = 50
REFRESH_SECONDS = 30
TABS = (
    ("accept", gettext_lazy("To accept")),
    ("hand", gettext_lazy("In hand")),
    ("waiting", gettext_lazy("Waiting for a decision")),
    ("report_in", gettext_lazy("Report in asked")),
    ("all", gettext_lazy("All open")),
)
EMPTY = {
    "accept": gettext_lazy("Nothing is waiting to be accepted."),
    "hand": gettext_lazy("No case is in hand."),
    "waiting": gettext_lazy("No application of yours is waiting for a decision."),
    "report_in": gettext_lazy("No whistle is calling your department to report in."),
    "all": gettext_lazy("No open case is with your teams."),
}
# the actions offered as buttons on a row (the case page offers the rest)
QUICK_ACTIONS = ("accept", "report_back", "report_in", "request_extension", "return")


class InboxFilterForm(forms.Form):
    tab = forms.ChoiceField(label=gettext_lazy("Show"), choices=TABS, required=False)
    team = forms.TypedChoiceField(label=gettext_lazy("Team"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, teams: list[Team], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("All my teams"))] + [(t.pk, team_label(t)) for t in teams]
        self.fields["team"].error_messages["invalid_choice"] = _("Choose one of your teams.")
        self.fields["tab"].error_messages["invalid_choice"] = _("Choose one of the tabs.")


@dataclass
class Scope:
    """The teams and departments the inbox is about (all of mine, or the one team chosen)."""

    teams: list[Team]
    departments: list[Department]

    @property
    def team_ids(self) -> list[int]:
        return [t.pk for t in self.teams]

    @property
    def department_ids(self) -> list[int]:
        return [d.pk for d in self.departments]

    def calling(self) -> QuerySet:
        """Case ids with a whistle my departments have not yet reported in to."""
        return ReportIn.objects.filter(department_id__in=self.department_ids,
                                       reported_at__isnull=True).values("escalation__case_id")

    def mine_q(self) -> Q:
        return Q(assignee_team_id__in=self.team_ids)

    def calling_q(self) -> Q:
        return Q(pk__in=self.calling())


def _scope(teams: list[Team]) -> Scope:
    departments = {t.department_id: t.department for t in teams}
    return Scope(teams, list(departments.values()))


def inbox_cases(user, scope: Scope) -> QuerySet[Case]:
    """The user's inbox (`selectors.case_inbox`) narrowed to what concerns their teams: cases assigned to a
    team, and whistles waiting for one of their departments to report in."""
    waiting = case_inbox(user).order_by().values("pk")
    return Case.objects.filter(pk__in=waiting).filter(scope.mine_q() | scope.calling_q())


def tab_q(tab: str, scope: Scope) -> Q:
    pending = CaseRequest.objects.filter(state=CaseRequest.State.PENDING).values("case_id")
    mine = scope.mine_q()
    return {
        "accept": mine & Q(state=CaseState.DISPATCHED),
        "hand": mine & Q(state=CaseState.IN_PROGRESS),
        "waiting": mine & Q(pk__in=pending),
        "report_in": scope.calling_q(),
        "all": Q(),
    }[tab]


def _annotated(qs: QuerySet[Case], scope: Scope, tab: str) -> QuerySet[Case]:
    calls = (ReportIn.objects.filter(escalation__case=OuterRef("pk"), department_id__in=scope.department_ids,
                                     reported_at__isnull=True).order_by("escalation__report_in_due_at", "pk"))
    pending = CaseRequest.objects.filter(case=OuterRef("pk"), state=CaseRequest.State.PENDING)
    qs = qs.annotate(
        mine=models.Case(models.When(scope.mine_q(), then=Value(True)), default=Value(False),
                         output_field=models.BooleanField()),
        report_in_due=Subquery(calls.values("escalation__report_in_due_at")[:1]),
        report_in_asked=Subquery(calls.values("escalation__raised_at")[:1]),
        report_in_department=Subquery(calls.values("department_id")[:1]),
        extension_asked=Exists(pending.filter(kind=RequestKind.EXTENSION)),
        parking_asked=Exists(pending.filter(kind=RequestKind.PARKING)),
    )
    # the deadline that matters here: the report-in's on that tab and for whistles only, else the case's
    if tab == "report_in":
        qs = qs.annotate(inbox_due=F("report_in_due"))
    else:
        qs = qs.annotate(inbox_due=models.Case(models.When(scope.mine_q(), then=F("due_at")),
                                               default=F("report_in_due")))
    return (qs.select_related("node", "matter", "scheme", "assignee_team__department")
            .order_by(F("inbox_due").asc(nulls_last=True), "reported_at", "pk"))


def _row(case: Case, *, tab: str, departments: dict[int, Department], now: dt.datetime) -> dict:
    """What one row shows (and exports): never anything about the reporter."""
    whistle = not case.mine or tab == "report_in"
    due = case.report_in_due if whistle else case.due_at
    if whistle:
        sla = SlaStatus.NONE if due is None else SlaStatus.OVERDUE if due <= now else SlaStatus.ON_TIME
    else:
        sla = sla_colour(case, now)
    notes = []
    if case.state == CaseState.IN_PROGRESS and case.rework_count:
        notes.append(_("rework"))
    if case.extension_asked:
        notes.append(_("extension requested"))
    if case.parking_asked:
        notes.append(_("parking requested"))
    if case.report_in_department:
        notes.append(_("report in asked"))
    department = departments.get(case.report_in_department)
    team = team_label(case.assignee_team) if case.mine and case.assignee_team_id else ""
    return {
        "case": case,
        "number": case.number,
        "matter": case.matter.name if case.matter_id else _("not classified yet"),
        "cell": case.node.name,
        "received_at": case.report_in_asked if whistle else case.dispatched_at,
        "due_at": due,
        "sla": sla,
        "sla_words": due_words(due, now) if due else _("no time limit"),
        "state": CaseState(case.state).label,
        "notes": notes,
        "team": team or (_("report in: %(department)s") % {"department": department.name} if department else ""),
        "report_level": case.report_level,
        "report_level_label": case.get_report_level_display(),
    }


def _export(rows: list[dict], fmt: str) -> HttpResponse:
    headers = [bilingual(gettext_lazy("Number")), bilingual(gettext_lazy("Matter")), bilingual(gettext_lazy("Cell")),
               bilingual(gettext_lazy("Received at")), bilingual(gettext_lazy("Due at")),
               bilingual(gettext_lazy("Time limit")), bilingual(gettext_lazy("State")),
               bilingual(gettext_lazy("Notes")), bilingual(gettext_lazy("Team"))]
    lines = ([r["number"], r["matter"], r["cell"], r["received_at"], r["due_at"], r["sla_words"], str(r["state"]),
              ", ".join(str(n) for n in r["notes"]), r["team"]] for r in rows)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return tabular_response(fmt=fmt, filename=f"inbox-{stamp}", title=_("Department inbox"), headers=headers,
                            rows=lines)


def _login_for_htmx(view):
    """A poll from a page whose session ended sends the whole page to the login, not the login form into the
    list."""
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated and request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Redirect"] = redirect_to_login(request.get_full_path()).url
            return response
        return view(request, *args, **kwargs)
    wrapped.__name__, wrapped.__doc__ = view.__name__, view.__doc__
    return wrapped


@require_safe
@_login_for_htmx
@login_required
@never_cache
def index(request):
    user = request.user
    teams = list(Team.objects.filter(members=user, department__active=True).select_related("department")
                 .order_by("department__key", "name"))
    if not teams:
        return render(request, "cases/inbox/index.html", {"no_team": True})
    form = InboxFilterForm(request.GET, teams=teams)
    status = 200
    if form.is_valid():
        tab = form.cleaned_data["tab"] or "accept"
        chosen = [t for t in teams if t.pk == form.cleaned_data["team"]] or teams
    else:
        status = 400
        tab = request.GET.get("tab") if request.GET.get("tab") in dict(TABS) else "accept"
        chosen = teams
    scope = _scope(chosen)
    base = inbox_cases(user, scope)
    counts = {key: base.filter(tab_q(key, scope)).count() for key, _label in TABS}
    shown = _annotated(base.filter(tab_q(tab, scope)), scope, tab)
    departments = {d.pk: d for d in Department.objects.filter(pk__in=scope.department_ids)}
    now = timezone.now()

    fmt = request.GET.get("format", "")
    if fmt in FORMATS and status == 200:
        return _export([_row(c, tab=tab, departments=departments, now=now) for c in shown], fmt)

    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page"))
    params = {"tab": tab, **({"team": chosen[0].pk} if len(chosen) == 1 and len(teams) > 1 else {})}
    here = f"{request.path}?{urlencode({**params, **({'page': page.number} if page.number > 1 else {})})}"
    rows = []
    for case in page.object_list:
        row = _row(case, tab=tab, departments=departments, now=now)
        row["actions"] = [b for b in action_buttons(user, case, next_url=here) if b["action"] in QUICK_ACTIONS]
        if case.extension_asked:
            row["actions"] = [b for b in row["actions"] if b["action"] != "request_extension"]
        rows.append(row)
    context = {
        "form": form, "tab": tab, "tab_label": dict(TABS)[tab], "empty": EMPTY[tab],
        "tabs": [{"key": key, "label": label, "count": counts[key], "current": key == tab,
                  "query": urlencode({**params, "tab": key})} for key, label in TABS],
        "rows": rows, "page": page, "query": urlencode(params), "refresh_url": here,
        "refresh_seconds": REFRESH_SECONDS, "several_teams": len(teams) > 1, "teams": teams, "now": now,
    }
    template = "cases/inbox/_list.html" if request.headers.get("HX-Request") == "true" else "cases/inbox/index.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response

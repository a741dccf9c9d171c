"""Public pages of the loop, for residents without an account:

- the report form of a cell (reached from the QR code on its card): who is in charge of the cell, then a
  description, a photo from the phone's camera, the place in words and/or the phone's position, and an
  optional phone; the case goes in through the same intake as every channel and the reporter gets a
  tracking code;
- the tracking page: the reporter follows the case with that code — the steps reported → registered →
  dispatched → handled → closed and when each was reached, never who, never why, never the description —
  and, once the case is closed, rates how it was handled (once per case).

Lookups, reports and ratings are rate-limited per address."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from gridgov.accounts.selectors import node_public_people
from gridgov.cases.errors import CaseConflict
from gridgov.cases.forms import PhotosField
from gridgov.cases.models import Case, Channel
from gridgov.cases.selectors import case_by_tracking_code, case_public_progress
from gridgov.cases.services import DESCRIPTION_MAX_LENGTH, PHOTOS_MAX, PLACE_MAX_LENGTH, case_evaluate, case_report
from gridgov.cases.states import CaseState
from gridgov.core.api import client_address
from gridgov.core.ratelimit import ratelimit_hit
from gridgov.territory.views import public_cell


def _over_limit(request, *, what: str, limit: int, seconds: int) -> bool:
    """Count this request against the caller's address (behind a trusted proxy: the client's, see
    `client_address`) in the shared limits cache; True once `limit` is passed within `seconds`."""
    return ratelimit_hit(scope=what, key=client_address(request) or "unknown", limit=limit, seconds=seconds).over


# =========================================================================== report form
class PublicReportForm(forms.Form):
    description = forms.CharField(label=gettext_lazy("What is the problem?"), max_length=DESCRIPTION_MAX_LENGTH,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    place = forms.CharField(label=gettext_lazy("Where exactly (street, building)?"), max_length=PLACE_MAX_LENGTH,
                            required=False, help_text=gettext_lazy("Type the place, or use your phone's position, or both."))
    photo = PhotosField(label=gettext_lazy("Photo"), camera=True, limit=PHOTOS_MAX,
                        help_text=gettext_lazy("Take a photo of the problem or choose one (optional)."))
    phone = forms.CharField(label=gettext_lazy("Your phone (optional, to be called back)"), max_length=20,
                            required=False,
                            help_text=gettext_lazy("With a mobile number you also get a text message at each step."),
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}))
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")  # the labels are questions: no colon after "？"
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            self.add_error("place", _("Your position came through incomplete: use your position again, or type "
                                      "the place."))
        return data


def _report_page(request, node, form, *, status: int = 200) -> HttpResponse:
    return render(request, "cases/report.html", {"node": node, "form": form, "people": list(node_public_people(node))},
                  status=status)


def _forget_position(form: PublicReportForm) -> None:
    """Drop a refused position from the re-rendered form, keeping everything typed."""
    form.data = form.data.copy()
    form.data["lon"] = form.data["lat"] = ""


@require_http_methods(["GET", "HEAD", "POST"])
def case_public_report(request, scheme_key: str, code: str):
    """A resident reports a problem in the cell of the QR code they scanned, without an account."""
    node = public_cell(scheme_key, code)
    if request.method != "POST":
        return _report_page(request, node, PublicReportForm(initial={"token": secrets.token_urlsafe(16)}))
    form = PublicReportForm(request.POST, request.FILES)
    if _over_limit(request, what="case-report", limit=settings.CASE_PUBLIC_REPORTS_PER_HOUR, seconds=3600):
        form.add_error(None, _("Too many reports from your address: please try again later, or call the hotline."))
        return _report_page(request, node, form, status=429)
    if form.is_valid():
        data = form.cleaned_data
        positioned = data["lon"] is not None and data["lat"] is not None
        try:
            result = case_report(actor=None, channel=Channel.RESIDENT, scheme=node.scheme, node=node,
                                 lon=data["lon"] if positioned else None, lat=data["lat"] if positioned else None,
                                 description=data["description"], place=data["place"],
                                 photos=data["photo"] or None, reporter_phone=data["phone"],
                                 anonymous=not data["phone"], idempotency_key=data["token"], client="public-form")
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field == "location" and positioned:
                    form.add_error("place", _("Your position is outside %(cell)s. Report from inside it, or type "
                                              "where the problem is and send again without your position.")
                                   % {"cell": node.name})
                    _forget_position(form)
                    continue
                target = {"photos": "photo", "reporter_phone": "phone", "location": "place"}.get(field, field)
                form.add_error(target if target in form.fields else None, errors)
        else:
            return render(request, "cases/report_done.html", {"node": node, "case": result.case})
    elif "lon" in form.errors or "lat" in form.errors:
        form.add_error("place", _("Your position could not be read: use your position again, or type the place."))
        _forget_position(form)
    return _report_page(request, node, form, status=400)


# =========================================================================== tracking page
# the steps a reporter follows, in order; each is reached by some of the public milestones
STEPS = (
    ("REPORTED", gettext_lazy("Reported")),
    ("REGISTERED", gettext_lazy("Registered")),
    ("DISPATCHED", gettext_lazy("Dispatched")),
    ("HANDLED", gettext_lazy("Handled")),
    ("CLOSED", gettext_lazy("Closed")),
)
_STEP_OF_STATE = {"REPORTED": 0, "REGISTERED": 1, "DISPATCHED": 2, "IN_PROGRESS": 2, "REPORTED_BACK": 3,
                  "CLOSED": 4, "EVALUATED": 4}
# states that end the case before its last step, shown instead of the steps it will not reach
_ENDED = {"REJECTED": gettext_lazy("Not taken up as a case"), "MERGED": gettext_lazy("Merged with another report of "
                                                                                      "the same problem")}


@dataclass
class Step:
    label: str
    at: object | None
    status: str  # done / current / todo / ended

    @property
    def status_text(self) -> str:
        return {"done": _("done"), "current": _("in progress"), "todo": _("not yet"), "ended": _("final")}[self.status]


def public_steps(case: Case) -> list[Step]:
    """The reporter's progress list from the case's public milestones. A step a case falls back from (rework,
    reopening, a returned case) is no longer done; when it is reached again it shows the new time."""
    reached: dict[int, object] = {}
    ended: tuple[str, object] | None = None
    for state, at in case_public_progress(case):
        if state in _ENDED:
            ended = (state, at)
            continue
        if state not in _STEP_OF_STATE:
            continue  # parked: the steps stay where they were
        index = _STEP_OF_STATE[state]
        for later in [i for i in reached if i > index]:
            del reached[later]
        # IN_PROGRESS belongs to the dispatched step: it keeps the time of the dispatch
        if state in ("IN_PROGRESS", "EVALUATED", "REGISTERED") and index in reached:
            continue
        reached[index] = at
    # a step is passed once a later one is reached (a case handled on the spot is never dispatched)
    last = max(reached, default=-1)
    steps = []
    for index, (_key, label) in enumerate(STEPS):
        if ended is not None and index > last:
            break
        done = index <= last
        current = not done and ended is None and index == last + 1
        steps.append(Step(str(label), reached.get(index), "done" if done else "current" if current else "todo"))
    if ended is not None:
        steps.append(Step(str(_ENDED[ended[0]]), ended[1], "ended"))
    return steps


SCORES = (
    (1, gettext_lazy("Very dissatisfied")),
    (2, gettext_lazy("Dissatisfied")),
    (3, gettext_lazy("Neither satisfied nor dissatisfied")),
    (4, gettext_lazy("Satisfied")),
    (5, gettext_lazy("Very satisfied")),
)


class RatingForm(forms.Form):
    satisfaction = forms.TypedChoiceField(label=gettext_lazy("How satisfied are you with how your report was "
                                                             "handled?"),
                                          choices=SCORES, coerce=int, widget=forms.RadioSelect,
                                          error_messages={"required": gettext_lazy("Choose one of the five answers.")})
    comment = forms.CharField(label=gettext_lazy("Anything to add? (optional)"), max_length=500, required=False,
                              help_text=gettext_lazy("Only the staff who handle reports read this; it is never "
                                                     "shown on this page."),
                              widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def _rateable(case: Case) -> bool:
    """A case is rated once: when closed and not rated yet (a rating that reopened it counts)."""
    return case.state == CaseState.CLOSED and case.satisfaction is None


def _score_label(score: int | None) -> str:
    return str(dict(SCORES).get(score, "")) if score else ""


def _track_page(request, case: Case, *, form: RatingForm | None = None, rating_error: str = "",
                status: int = 200) -> HttpResponse:
    rateable = _rateable(case)
    if rateable and form is None:
        form = RatingForm()
    options = [(radio, "★" * int(radio.data["value"]) + "☆" * (5 - int(radio.data["value"])))
               for radio in form["satisfaction"]] if form is not None else []
    response = render(request, "cases/track.html", {
        "case": case, "state": CaseState(case.state).label, "steps": public_steps(case),
        "closed": case.state in (CaseState.CLOSED, CaseState.EVALUATED),
        "rating_form": form if rateable else None, "rating_options": options, "rating_error": rating_error,
        "rated": case.satisfaction, "rated_label": _score_label(case.satisfaction),
        "reopened": case.satisfaction is not None and case.state not in (CaseState.CLOSED, CaseState.EVALUATED),
    }, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _not_found(request) -> HttpResponse:
    return render(request, "cases/track.html", {"error": _("No case has this tracking code. Check the code you were "
                                                           "given and try again.")}, status=404)


@require_http_methods(["GET", "HEAD", "POST"])
def case_track(request, code: str = ""):
    if request.method == "POST":
        return _case_rate(request, code)
    code = code or request.GET.get("code", "")
    if not code:
        return render(request, "cases/track.html", {})
    if request.GET.get("code"):
        return redirect("cases:track", code=code.strip().upper()[:16])
    if _over_limit(request, what="case-track", limit=settings.CASE_TRACK_LOOKUPS_PER_MINUTE, seconds=60):
        response = render(request, "cases/track.html", {"error": _("Too many lookups from your address: wait a "
                                                                    "minute and try again.")}, status=429)
        response["Retry-After"] = "60"
        return response
    case = case_by_tracking_code(code)
    if case is None:
        return _not_found(request)
    return _track_page(request, case)


def _not_rated(request, *, error: str, status: int) -> HttpResponse:
    """The one answer to a rating that is not taken, whether the code is unknown, the case not closed or
    already rated, or the form incomplete: the POST never tells a real code from a made-up one (the page for a
    real code is reached by the rate-limited lookup)."""
    response = render(request, "cases/track.html", {"error": error}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _case_rate(request, code: str) -> HttpResponse:
    """The reporter rates the closed case. The tracking code is what proves they reported it: the page acts
    as the system (actor None), which the `evaluate` and `reopen` grants allow (migration 0004).

    A rating counts as a lookup and as a rating of the address before anything is looked up; the form is
    checked before the code; an unknown code and a case that cannot be rated get the same answer, after the
    same work."""
    form = RatingForm(request.POST)
    over_lookups = _over_limit(request, what="case-track", limit=settings.CASE_TRACK_LOOKUPS_PER_MINUTE, seconds=60)
    if over_lookups or _over_limit(request, what="case-rate", limit=settings.CASE_PUBLIC_RATINGS_PER_HOUR,
                                   seconds=3600):
        response = _not_rated(request, status=429, error=_("Too many ratings from your address: please try again "
                                                          "in an hour."))
        response["Retry-After"] = "3600"
        return response
    if not form.is_valid():
        return _not_rated(request, status=400, error=_("Choose one of the five answers, then send your rating "
                                                       "again from the tracking page."))
    case = case_by_tracking_code(code)
    if case is None or not _rateable(case):
        return _not_rated(request, status=409, error=_("No rating can be taken for this code now: a case is rated "
                                                       "once, after it is closed. Open the tracking page with your "
                                                       "code to see where it stands."))
    score, comment = form.cleaned_data["satisfaction"], form.cleaned_data["comment"].strip()
    # the comment stays with the staff: it goes to the case's internal timeline, never to this page
    reason = _("rated %(score)s of 5 by the reporter on the tracking page") % {"score": score}
    if comment:
        reason = f"{reason}: {comment}"
    try:
        case_evaluate(case=case, actor=None, satisfaction=score, reason=reason, expected_version=case.version)
    except CaseConflict:
        return _track_page(request, Case.objects.select_related("matter", "node").get(pk=case.pk), form=form,
                           status=409, rating_error=_("This case changed while you were rating it: reload the page "
                                                      "and try again."))
    except PermissionDenied:
        return _track_page(request, case, form=form, status=403,
                           rating_error=_("Rating on this page is switched off here: please call the hotline."))
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _track_page(request, case, form=form, status=400)
    messages.success(request, _("Thank you for your rating."))
    return redirect("cases:track", code=case.tracking_code)

"""Public pages of the loop, for residents without an account:

- the report form of a cell (reached from the QR code on its card): a description, an optional photo, place
  and phone; the case goes in through the same intake as every channel and the reporter gets a tracking code;
- the tracking page: the reporter follows the case with that code. It shows what happened and when — never
  who, never why, never the description.

Both are rate-limited per address (reports per hour, lookups per minute)."""

from __future__ import annotations

import secrets

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from gridgov.cases.models import CaseState, Channel
from gridgov.cases.selectors import case_by_tracking_code, case_public_progress
from gridgov.cases.services import case_report
from gridgov.core.api import client_address
from gridgov.territory.views import public_cell


def _over_limit(request, *, what: str, limit: int, seconds: int) -> bool:
    """Count this request against the caller's address; True once `limit` is passed within `seconds`."""
    key = f"{what}:{client_address(request) or 'unknown'}"
    if cache.add(key, 1, timeout=seconds):
        return False
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=seconds)
        return False


class PublicReportForm(forms.Form):
    description = forms.CharField(label=gettext_lazy("What is the problem?"), max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    place = forms.CharField(label=gettext_lazy("Where exactly (street, building)?"), max_length=200, required=False)
    photo = forms.FileField(label=gettext_lazy("Photo"), required=False)
    phone = forms.CharField(label=gettext_lazy("Your phone (optional, to be called back)"), max_length=20,
                            required=False)
    token = forms.CharField(widget=forms.HiddenInput)


@require_http_methods(["GET", "HEAD", "POST"])
def case_public_report(request, scheme_key: str, code: str):
    """A resident reports a problem in the cell of the QR code they scanned, without an account."""
    node = public_cell(scheme_key, code)
    if request.method != "POST":
        form = PublicReportForm(initial={"token": secrets.token_urlsafe(16)})
        return render(request, "cases/report.html", {"node": node, "form": form})
    form = PublicReportForm(request.POST, request.FILES)
    if _over_limit(request, what="case-report", limit=settings.CASE_PUBLIC_REPORTS_PER_HOUR, seconds=3600):
        form.add_error(None, _("Too many reports from your address: please try again later, or call the hotline."))
        return render(request, "cases/report.html", {"node": node, "form": form}, status=429)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = case_report(actor=None, channel=Channel.RESIDENT, scheme=node.scheme, node=node,
                                 description=data["description"], place=data["place"],
                                 photos=[data["photo"]] if data["photo"] else None, reporter_phone=data["phone"],
                                 anonymous=not data["phone"], idempotency_key=data["token"], client="public-form")
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = {"photos": "photo", "reporter_phone": "phone", "location": "place"}.get(field, field)
                form.add_error(target if target in form.fields else None, messages)
        else:
            return render(request, "cases/report_done.html", {"node": node, "case": result.case})
    return render(request, "cases/report.html", {"node": node, "form": form}, status=400)


@require_safe
def case_track(request, code: str = ""):
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
        return render(request, "cases/track.html", {"error": _("No case has this tracking code. Check the code "
                                                                "you were given and try again.")}, status=404)
    steps = [(CaseState(state).label, at) for state, at in case_public_progress(case)]
    response: HttpResponse = render(request, "cases/track.html", {
        "case": case, "state": CaseState(case.state).label, "steps": steps,
        "closed": case.state in (CaseState.CLOSED, CaseState.EVALUATED)})
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response

"""The public tracking page: a reporter follows their case with the tracking code they were given,
without an account. It shows what happened and when — never who, never why, never the description — and
lookups are rate-limited per address so codes cannot be guessed by trying."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from gridgov.cases.models import CaseState
from gridgov.cases.selectors import case_by_tracking_code, case_public_progress
from gridgov.core.api import client_address


def _over_limit(request) -> bool:
    """Count this lookup against the caller's address; True once CASE_TRACK_LOOKUPS_PER_MINUTE is passed."""
    key = f"case-track:{client_address(request) or 'unknown'}"
    limit = getattr(settings, "CASE_TRACK_LOOKUPS_PER_MINUTE", 20)
    if cache.add(key, 1, timeout=60):
        return False
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=60)
        return False


@require_safe
def case_track(request, code: str = ""):
    code = code or request.GET.get("code", "")
    if not code:
        return render(request, "cases/track.html", {})
    if request.GET.get("code"):
        return redirect("cases:track", code=code.strip().upper()[:16])
    if _over_limit(request):
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

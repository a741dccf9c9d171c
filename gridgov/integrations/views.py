"""Staff pages of the integrations: publishing a case on the public Open311 feed, or hiding it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridgov.cases.models import Case
from gridgov.cases.selectors import case_scope
from gridgov.core.api import client_address
from gridgov.integrations.services import case_hide, case_publish


@require_POST
@login_required
def case_publication(request, number: str):
    """POST `action=publish` (optionally a reworded `public_description`) or `action=hide` with a
    `reason`; back to the case page with the outcome. A case outside the user's scope is a 404, a user
    who may not decide gets a 403 (`PermissionDenied` from the service)."""
    pk = Case.pk_from_number(number)
    if pk is None:
        raise Http404
    case = get_object_or_404(case_scope(Case.objects.all(), request.user), pk=pk)
    if case.number != number:
        raise Http404
    action = request.POST.get("action", "")
    try:
        if action == "publish":
            text = request.POST.get("public_description")
            case_publish(case=case, actor=request.user, description=text if text and text.strip() else None,
                         address=client_address(request))
            messages.success(request, _("Published on the public feed."))
        elif action == "hide":
            case_hide(case=case, actor=request.user, reason=request.POST.get("reason", ""),
                      address=client_address(request))
            messages.success(request, _("Hidden from the public feed."))
        else:
            messages.error(request, _("action: one of publish, hide"))
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            for error in errors:
                messages.error(request, f"{field}: {error}")
    return redirect("cases:detail", number)

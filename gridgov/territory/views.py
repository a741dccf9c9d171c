"""Public pages of the territory: the cell card (who is in charge, how to reach them) and its
printable version with a QR code. No login; nothing is shown beyond the work contacts that people
in charge publish for that purpose (name, role, work phone)."""

from __future__ import annotations

import io

import segno
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from gridgov.accounts.selectors import node_public_people
from gridgov.core.site import site_base_url
from gridgov.territory.models import Node

QR_ERROR_LEVEL = "m"  # survives a crease or a smudge on a printed card


def public_cell(scheme_key: str, code: str) -> Node:
    """The cell in force today with this code; a retired, future or unknown cell is a 404."""
    node = (Node.objects.active().select_related("scheme", "level")
            .filter(scheme__key=scheme_key, code=code).first())
    if node is None:
        raise Http404(_("No cell with this code is in force."))
    return node


def _card_url(node: Node, request) -> str:
    """The absolute address printed in the QR code: SITE_URL, or the address the request came in on when it
    is not set (`site_base_url`; a system check warns)."""
    return site_base_url(request) + reverse("territory:cell-card", args=[node.scheme.key, node.code])


def _qr(node: Node, request):
    return segno.make(_card_url(node, request), error=QR_ERROR_LEVEL, micro=False)


def _card_context(node: Node, request) -> dict:
    ancestors = sorted(Node.objects.filter(pk__in=node.ancestor_ids()).select_related("level"),
                       key=lambda n: n.path.count("/"))
    return {
        "node": node,
        "ancestors": ancestors,
        "people": list(node_public_people(node)),
        "card_url": _card_url(node, request),
    }


@require_safe
def home(request):
    """The public home page; a logged-in user is sent on to the workspace of their role."""
    if request.user.is_authenticated:
        from gridgov.accounts.workspaces import UserWorkspaces

        home_workspace = UserWorkspaces(request.user).home
        if home_workspace is not None:
            return redirect(home_workspace.url)
    return render(request, "territory/home.html")


@require_safe
def cell_card(request, scheme_key: str, code: str):
    node = public_cell(scheme_key, code)
    return render(request, "territory/cell_card.html", _card_context(node, request))


@require_safe
def cell_card_print(request, scheme_key: str, code: str):
    node = public_cell(scheme_key, code)
    context = _card_context(node, request)
    title = _("QR code: %(name)s") % {"name": node.name}
    # segno writes the SVG itself from the code's modules: nothing user-supplied is in it but the title,
    # which segno escapes.
    context["qr_svg"] = mark_safe(_qr(node, request).svg_inline(border=2, omitsize=True, title=title, svgclass="qr"))  # noqa: S308
    return render(request, "territory/cell_card_print.html", context)


@require_safe
def cell_qr_svg(request, scheme_key: str, code: str):
    node = public_cell(scheme_key, code)
    out = io.BytesIO()
    _qr(node, request).save(out, kind="svg", scale=8, border=4, title=node.code)
    response = HttpResponse(out.getvalue(), content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="{node.scheme.key}-{node.code}.svg"'
    return response

"""Management pages beyond the Django admin: the overview, the imports hub, and what every management page
shares (who may open them, the user's part of the territory).

The pages themselves live with their domain and are all routed from `core.manage_urls` (namespace
"manage"): the territory tree, its map and the grid-map import in `territory.manage_views`, people in charge
in `accounts.views`, the matter catalogue, duty lists and admission requests in `catalogue.views`.

Who: `UserWorkspaces(user).manage` (superusers, district-wide staff, grid office roles); anyone else gets a
403 (a management page is not a record, so its existence is no secret). Department handlers also reach the
catalogue, duty lists and admission requests, where they apply for changes. Every list is scoped to the
user's territory through the `*_scope` selectors; a record outside it is a 404."""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from gridgov.accounts.models import Assignment, Team
from gridgov.accounts.selectors import assignment_scope, user_is_district_wide, user_scheme_id, user_scope_paths
from gridgov.core import import_log
from gridgov.core.workspaces import UserWorkspaces
from gridgov.territory.models import Level, LevelScheme, Node
from gridgov.territory.selectors import node_list_for_user

RECENT = 8
COUNT_LABELS = {"imported": _lazy("imported"), "created": _lazy("created"), "updated": _lazy("updated"),
                "unchanged": _lazy("unchanged"), "rejected": _lazy("rejected"), "rejected_rows": _lazy("rejected"),
                "categories": _lazy("categories"), "errors": _lazy("errors")}


def count_list(counts: dict) -> list[dict]:
    """Counts of an import as labelled figures, in a fixed order, leaving out what is not there. Only numbers:
    a base-data summary keeps its first errors as a list (row, column, reason) beside their number
    (`errors_total`), and the number is what is shown."""
    out = []
    for key, label in COUNT_LABELS.items():
        value = counts.get(key)
        if key == "errors" and isinstance(value, list):
            value = counts.get("errors_total", len(value))
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        if value or key in ("imported", "created"):
            out.append({"label": label, "value": value})
    return out


def _by(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _guard(view, allowed):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not allowed(UserWorkspaces(request.user)):
            raise PermissionDenied(_("The management pages are for the grid office and district staff."))
        return view(request, *args, **kwargs)

    return login_required(never_cache(wrapper))


def manage_page(view):
    """Login required; 403 unless the user runs a territory's management (grid office, district staff)."""
    return _guard(view, lambda ws: ws.manage)


def catalogue_page(view):
    """Like `manage_page`, and also open to department handlers (they apply for admission of matters)."""
    return _guard(view, lambda ws: ws.manage or ws.in_team)


def is_fragment(request, target: str | None = None) -> bool:
    """An htmx request for a part of the page (not a history restore, which needs the whole page)."""
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-History-Restore-Request") == "true":
        return False
    return target is None or request.headers.get("HX-Target") == target


def errors_to_form(form, exc: ValidationError, fields: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form: each message on the field it names (renamed through
    `fields` where the form calls it otherwise), the rest above the form."""
    fields = fields or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, messages in exc.message_dict.items():
        target = fields.get(name, name)
        form.add_error(target if target in form.fields else None, messages)


def visible_schemes(user) -> QuerySet[LevelScheme]:
    """The level schemes the user works in: all for platform-wide users, their own for district-wide staff,
    and those of their current
    assignments and of their teams' departments."""
    if user_scope_paths(user) is None:
        return LevelScheme.objects.all()
    ids = set(Assignment.objects.current().filter(person__user=user).values_list("node__scheme_id", flat=True))
    ids |= set(Team.objects.filter(members=user).values_list("department__scheme_id", flat=True))
    if user_is_district_wide(user):
        ids.add(user_scheme_id(user))
    return LevelScheme.objects.filter(pk__in=ids)


def scope_roots(user) -> QuerySet[Node]:
    """The tops of the user's territory: the top nodes for district-wide staff, else the cells of their
    assignments that grant scope (nested ones left out)."""
    qs = Node.objects.current().select_related("level", "scheme")
    paths = user_scope_paths(user)
    if paths is None:
        return qs.filter(parent__isnull=True)
    return qs.filter(path__in=paths)


def with_child_counts(qs: QuerySet[Node]) -> QuerySet[Node]:
    return qs.annotate(child_count=Count("children", filter=Q(children__valid_to__isnull=True), distinct=True))


def recent_imports(user, *, limit: int = RECENT) -> list[dict]:
    """The user's recent imports of every kind, newest first: base data (data jobs), grid maps, catalogues."""
    from django.urls import reverse

    from gridgov.people.import_views import KIND_LABELS
    from gridgov.people.models import DataJob, JobKind
    from gridgov.people.selectors import job_scope

    out = []
    jobs = job_scope(DataJob.objects.filter(kind=JobKind.IMPORT), user).select_related("scheme", "owner")[:limit]
    for job in jobs:
        summary = job.summary or {}
        out.append({
            "kind": _("Base data"), "what": str(KIND_LABELS.get(job.record_type, job.record_type)),
            "source": job.file_name, "at": job.created_at, "by": _by(job.owner), "state": job.get_status_display(),
            "counts": count_list(summary),
            "url": reverse("people:import", args=[job.pk]),
            "rejected_url": reverse("people:import_rejected", args=[job.pk]) if job.result_path else "",
        })
    for kind, label, detail, rejected in (("gridmap", _("Grid map"), "manage:gridmap_report", "manage:gridmap_rejected"),
                                          ("catalogue", _("Matter catalogue"), "manage:catalogue_import_result", "")):
        records = import_log.records_for(user, kind=kind, limit=limit)
        owners = get_user_model().objects.in_bulk({r.owner_id for r in records})
        for record in records:
            out.append({
                "kind": label, "what": record.options.get("scheme") or record.options.get("key") or "",
                "source": record.source, "at": record.created, "by": _by(owners.get(record.owner_id)),
                "state": record.state_label,
                "counts": count_list(record.counts),
                "url": reverse(detail, args=[record.token]),
                "rejected_url": reverse(rejected, args=[record.token])
                if rejected and record.counts.get("rejected") else "",
            })
    out.sort(key=lambda item: item["at"], reverse=True)
    return out[:limit]


@require_safe
@manage_page
def index(request):
    """The overview: each part of the management with what it holds in the user's territory."""
    from gridgov.catalogue import admission
    from gridgov.catalogue.models import AdmissionRequest, AdmissionState, DutyList

    user = request.user
    nodes = node_list_for_user(user)
    per_level = dict(nodes.order_by().values_list("level").annotate(n=Count("id")))
    assignments = assignment_scope(Assignment.objects.current(), user).filter(node__valid_to__isnull=True)
    schemes = list(visible_schemes(user))
    catalogues = {c.pk: c for s in schemes if (c := admission.scheme_catalogue(s)) is not None}
    pending = admission.admission_request_scope(AdmissionRequest.objects.filter(state=AdmissionState.PENDING), user)
    context = {
        "node_count": nodes.count(),
        "levels": [{"level": level, "count": per_level[level.pk]}
                   for level in Level.objects.filter(pk__in=per_level).order_by("scheme__key", "depth")],
        "assignment_count": assignments.count(),
        "people_count": assignments.values("person").distinct().count(),
        "catalogues": [{"catalogue": c, "matters": c.matters.filter(active=True).count()}
                       for c in catalogues.values()],
        "duty_list_count": DutyList.objects.filter(scheme__in=schemes).count(),
        "pending_count": pending.count(),
        "imports": recent_imports(user),
    }
    return render(request, "core/manage_index.html", context)


@require_safe
@manage_page
def imports(request):
    """Every recent import the user ran: base data, grid maps, catalogues, with their state and reports."""
    return render(request, "manage/imports.html", {"imports": recent_imports(request.user, limit=50)})

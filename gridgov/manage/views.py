"""The management overview and the imports hub (/manage/, namespace "manage").

The management pages themselves live with their domain and are all routed from `manage.urls`: the territory
tree, its map and the grid-map import in `territory.manage_views`, people in charge in `accounts.views`, the
matter catalogue, duty lists and admission requests in `catalogue.views`. Who may open them:
`accounts.workspaces.manage_page` / `catalogue_page` (a management page is not a record, so a refusal is a
403). Every list is scoped to the user's territory through the `*_scope` selectors; a record outside it is a
404."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_safe

from gridgov.accounts.display import user_label
from gridgov.accounts.models import Assignment
from gridgov.accounts.selectors import assignment_scope, user_schemes
from gridgov.accounts.workspaces import manage_page
from gridgov.catalogue import admission
from gridgov.catalogue.models import AdmissionRequest, AdmissionState, DutyList
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.core import import_log
from gridgov.people.import_views import KIND_LABELS
from gridgov.people.models import DataJob, JobKind
from gridgov.people.selectors import job_scope
from gridgov.territory.models import Level
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


def recent_imports(user, *, limit: int = RECENT) -> list[dict]:
    """The user's recent imports of every kind, newest first: base data (data jobs), grid maps, catalogues."""
    out = []
    jobs = job_scope(DataJob.objects.filter(kind=JobKind.IMPORT), user).select_related("scheme", "owner")[:limit]
    for job in jobs:
        summary = job.summary or {}
        out.append({
            "kind": _("Base data"), "what": str(KIND_LABELS.get(job.record_type, job.record_type)),
            "source": job.file_name, "at": job.created_at, "by": user_label(job.owner) if job.owner_id else "",
            "state": job.get_status_display(),
            "counts": count_list(summary),
            "url": reverse("people:import", args=[job.pk]),
            "rejected_url": reverse("people:import_rejected", args=[job.pk]) if job.result_path else "",
        })
    for kind, label, detail, rejected in (("gridmap", _("Grid map"), "manage:gridmap_report", "manage:gridmap_rejected"),
                                          ("catalogue", _("Matter catalogue"), "manage:catalogue_import_result", "")):
        records = import_log.records_for(user, kind=kind, limit=limit)
        owners = get_user_model().objects.in_bulk({r.owner_id for r in records})
        for record in records:
            owner = owners.get(record.owner_id)
            out.append({
                "kind": label, "what": record.options.get("scheme") or record.options.get("key") or "",
                "source": record.source, "at": record.created, "by": user_label(owner) if owner else "",
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
    user = request.user
    nodes = node_list_for_user(user)
    per_level = dict(nodes.order_by().values_list("level").annotate(n=Count("id")))
    assignments = assignment_scope(Assignment.objects.current(), user).filter(node__valid_to__isnull=True)
    schemes = list(user_schemes(user))
    catalogues = {c.pk: c for s in schemes if (c := scheme_catalogue(s)) is not None}
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
    return render(request, "manage/index.html", context)


@require_safe
@manage_page
def imports(request):
    """Every recent import the user ran: base data, grid maps, catalogues, with their state and reports."""
    return render(request, "manage/imports.html", {"imports": recent_imports(request.user, limit=50)})

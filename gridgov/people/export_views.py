"""Pages of list exports (login required): the export control of the base-data lists, the job page with its
progress, the download and the list of one's own exports.

An export holds exactly the rows its list shows: the list page's own filter form (gridgov/people/views.py)
validates the filters sent with the export, and `ExportList.params` maps each of them to the filter of the
same meaning in gridgov/people/filters.py, which `export_jobs.export_job_create` applies. The filters are
non-personal and travel as hidden fields of a POST; the file is written by `exports` (masked unless revealed
with a purpose by someone who may, every export in the access log). A job and its file are its owner's
alone: anyone else gets a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from gridgov.core.api import client_address
from gridgov.people import export_jobs, exports
from gridgov.people import views as list_views
from gridgov.people.models import DataJob, JobKind, JobStatus, RecordState
from gridgov.people.selectors import job_scope
from gridgov.privacy.access import can_reveal, purpose_clean
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope

RUNNING = (JobStatus.QUEUED, JobStatus.RUNNING)
RECENT = 50
YES_NO = {"yes": "true", "no": "false"}


@dataclass(frozen=True)
class ExportList:
    """One list page and the export of its rows.

    `params` maps each filter of the page's form (other than `state`) to the export filter of the same
    meaning; the names in `yes_no` take yes / no on the page and true / false in the export."""

    record_type: str  # key of exports.EXPORT_KINDS, and the list's slug in the export's URL
    list_kind: str  # the page's `list_kind` (model name)
    list_url: str
    filter_form: type[list_views.ListFilter]
    label: str
    params: dict[str, str] = field(default_factory=dict)
    yes_no: frozenset[str] = frozenset()

    def filter_form_for(self, data, *, may_reveal: bool) -> list_views.ListFilter:
        if self.filter_form is list_views.ResidentFilter:
            return self.filter_form(data, may_reveal=may_reveal)
        return self.filter_form(data)

    def export_filters(self, form: list_views.ListFilter, node: Node) -> dict[str, str]:
        """The export filters of a valid page filter form, for the list of `node`'s subtree."""
        data = form.cleaned_data
        filters = {"cell": str(node.pk)}
        state = data.get("state") or RecordState.ACTIVE  # the page lists active records unless told
        if state != list_views.ANY_STATE:
            filters["state"] = state
        for name, export_name in self.params.items():
            value = data.get(name)
            if value:
                filters[export_name] = YES_NO[value] if name in self.yes_no else value
        return filters

    def page_params(self, filters: dict[str, str]) -> dict[str, str]:
        """The list page's query for an export's filters (the inverse of `export_filters`)."""
        state = filters.get("state")
        params = {"state": list_views.ANY_STATE if state is None else state}
        if state == RecordState.ACTIVE:
            del params["state"]
        back = {"true": "yes", "false": "no"}
        for name, export_name in self.params.items():
            value = filters.get(export_name)
            if value:
                params[name] = back.get(value, value) if name in self.yes_no else value
        return params


EXPORT_LISTS: dict[str, ExportList] = {spec.record_type: spec for spec in (
    ExportList("residents", "resident", "people:residents", list_views.ResidentFilter, gettext_lazy("Residents"),
               params={"registered": "registered_here", "actual": "living_here", "gender": "gender",
                       "group": "group", "party": "party", "volunteer": "volunteer"},
               yes_no=frozenset({"registered", "actual", "party", "volunteer"})),
    ExportList("households", "household", "people:households", list_views.HouseholdFilter,
               gettext_lazy("Households"), params={"household_kind": "kind", "paired": "paired"},
               yes_no=frozenset({"paired"})),
    ExportList("houses", "house", "people:houses", list_views.HouseFilter, gettext_lazy("Houses"),
               params={"occupancy": "occupancy"}),
    ExportList("entities", "legalentity", "people:entities", list_views.EntityFilter,
               gettext_lazy("Legal entities")),
)}
BY_LIST_KIND = {spec.list_kind: spec for spec in EXPORT_LISTS.values()}
FORMAT_CHOICES = [("xlsx", gettext_lazy("Excel workbook (XLSX)")), ("csv", gettext_lazy("CSV text (UTF-8)"))]


def may_export(user, spec: ExportList) -> bool:
    """The permission the export API asks for: to see records of this kind."""
    return user.has_perm(f"people.view_{exports.EXPORT_KINDS[spec.record_type].model._meta.model_name}")


class ExportForm(forms.Form):
    """Format, and for users who may reveal personal data in the cell, the reveal with its purpose."""

    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=FORMAT_CHOICES, initial="xlsx",
                               widget=forms.RadioSelect)
    reveal = forms.BooleanField(label=gettext_lazy("With personal data revealed"), required=False,
                                help_text=gettext_lazy("Names, ID numbers, phones and addresses in clear; each "
                                                       "record is logged with your purpose"))
    purpose = forms.CharField(label=gettext_lazy("Purpose"), required=False, max_length=300,
                              help_text=gettext_lazy("Why you need the personal data in clear (required with "
                                                     "the reveal; it is logged)"),
                              widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, may_reveal: bool, **kwargs):
        super().__init__(*args, prefix="export", **kwargs)
        self.may_reveal = may_reveal
        if not may_reveal:
            del self.fields["reveal"], self.fields["purpose"]

    def clean(self):
        data = super().clean()
        if data.get("reveal"):
            try:
                data["purpose"] = purpose_clean(data.get("purpose", ""))
            except ValidationError as exc:
                self.add_error("purpose", exc.message_dict["purpose"])
        return data


def _page(view):
    return login_required(never_cache(view))


def _job(request, pk: int) -> DataJob:
    """The user's own export (a superuser too sees only their own here: the file holds personal data)."""
    qs = job_scope(DataJob.objects.filter(kind=JobKind.EXPORT, owner=request.user), request.user)
    return get_object_or_404(qs.select_related("scheme"), pk=pk)


def _list_url(spec: ExportList, node_id: int, params: dict[str, str]) -> str:
    url = reverse(spec.list_url, args=[node_id])
    return f"{url}?{urlencode(params)}" if params else url


def _filter_rows(form: list_views.ListFilter) -> list[dict]:
    """The filters chosen, as label / value for the page (a bound, valid page filter form)."""
    rows = []
    for bound in form:
        value = form.cleaned_data.get(bound.name)
        if bound.name == "state" and not value:
            value = RecordState.ACTIVE  # what the list shows when no state is chosen
        if value:
            choices = dict(getattr(bound.field, "choices", ()))
            rows.append({"label": bound.label, "value": choices.get(value, value)})
    return rows


def control_context(*, user, node: Node, list_kind: str, filter_form: list_views.ListFilter) -> dict:
    """What the export control of a list page needs (see templatetags/people_exports.py)."""
    spec = BY_LIST_KIND.get(list_kind)
    if spec is None or not may_export(user, spec) or not filter_form.is_valid():
        return {"show": False}
    return {"show": True, "spec": spec, "node": node,
            "action": reverse("people:export_create", args=[node.pk, spec.record_type]),
            "hidden": sorted(filter_form.params().items()),
            "form": ExportForm(may_reveal=can_reveal(user, node))}


@require_http_methods(["GET", "HEAD", "POST"])
@_page
def export_create(request, node_id: int, record_type: str):
    """GET: the export form for the list's filters (from the query string). POST: the export of exactly the
    rows the list shows for the filters sent; a file written at once is downloaded, a longer one is followed
    on its job page."""
    node = get_object_or_404(node_scope(Node.objects.select_related("scheme"), request.user), pk=node_id)
    spec = EXPORT_LISTS.get(record_type)
    if spec is None:
        raise Http404
    if not may_export(request.user, spec):
        raise PermissionDenied(_("you do not have permission to see these records"))
    may_reveal = can_reveal(request.user, node)
    posted = request.method == "POST"
    if posted and not may_reveal and request.POST.get("export-reveal"):
        raise PermissionDenied(_("your role may not reveal personal data in this cell: export the list masked"))
    filter_form = spec.filter_form_for(request.POST if posted else request.GET, may_reveal=may_reveal)
    form = ExportForm(request.POST if posted else None, may_reveal=may_reveal)
    filters_valid = filter_form.is_valid()
    filters = spec.export_filters(filter_form, node) if filters_valid else {}
    kind = exports.EXPORT_KINDS[spec.record_type]
    if posted and filters_valid and form.is_valid():
        try:
            job = export_jobs.export_job_create(
                user=request.user, scheme=node.scheme, record_type=spec.record_type, filters=filters,
                fmt=form.cleaned_data["format"], reveal=bool(form.cleaned_data.get("reveal")),
                purpose=form.cleaned_data.get("purpose", ""), remote_addr=client_address(request))
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            if job.status == JobStatus.DONE:
                return redirect("people:export_download", pk=job.pk)
            return redirect("people:export", pk=job.pk)
    rows = (exports.export_queryset(kind, scheme=node.scheme, filters=filters, user=request.user).count()
            if filters_valid else None)
    return render(request, "people/exports/new.html", {
        "spec": spec, "node": node, "chain": list_views._chain(node, request.user), "list_kind": spec.list_kind,
        "form": form,
        "filter": filter_form, "filters_valid": filters_valid, "filter_rows": _filter_rows(filter_form)
        if filters_valid else [], "hidden": sorted(filter_form.params().items()) if filters_valid else [],
        "rows": rows, "list_url": _list_url(spec, node.pk, filter_form.params() if filters_valid else {}),
        "action": reverse("people:export_create", args=[node.pk, spec.record_type]),
    }, status=400 if posted else 200)


def _job_context(job: DataJob) -> dict:
    spec = EXPORT_LISTS.get(job.record_type)
    filters = job.options.get("filters", {})
    context = {"job": job, "running": job.status in RUNNING, "format": job.options.get("format", "xlsx"),
               "revealed": bool(job.options.get("reveal")), "label": spec.label if spec else job.record_type,
               "filter_rows": [], "list_url": None}
    cell = filters.get("cell", "")
    if spec is not None and str(cell).isdigit():
        params = spec.page_params(filters)
        form = spec.filter_form_for(params, may_reveal=True)
        if form.is_valid():
            context["filter_rows"] = _filter_rows(form)
        context["list_url"] = _list_url(spec, int(cell), params)
        context["cell"] = Node.objects.filter(pk=int(cell)).first()
    return context


@require_safe
@_page
def export_detail(request, pk: int):
    """An export's page: its progress while it runs (polled), then the download link, or what went wrong."""
    return render(request, "people/exports/detail.html", _job_context(_job(request, pk)))


@require_safe
@_page
def export_progress(request, pk: int):
    """The progress fragment the job page polls (htmx) until the export is done or failed."""
    return render(request, "people/exports/_progress.html", _job_context(_job(request, pk)))


@require_safe
@_page
def export_download(request, pk: int):
    job = _job(request, pk)
    if job.status != JobStatus.DONE or not job.result_path:
        return redirect("people:export", pk=job.pk)  # not ready (or failed): its page says so
    try:
        handle = exports.export_file_open(job=job, user=request.user, remote_addr=client_address(request))
    except OSError:
        messages.error(request, _("The file of this export has been removed: export the list again."))
        return redirect("people:export", pk=job.pk)
    response = FileResponse(handle, as_attachment=True, filename=job.file_name,
                            content_type=exports.FORMATS[job.options.get("format", "xlsx")])
    response["Cache-Control"] = "no-store, private"
    return response


@require_safe
@_page
def export_list(request):
    """The user's own recent exports."""
    jobs = job_scope(DataJob.objects.filter(kind=JobKind.EXPORT, owner=request.user), request.user)
    rows = [_job_context(job) for job in jobs.order_by("-created_at", "-id")[:RECENT]]
    return render(request, "people/exports/list.html", {"rows": rows})

"""Pages of spreadsheet imports (login required): upload → map the columns → dry run → start → progress
→ done, with the rejected rows to download. Each page calls one service of `imports`; a job is its
owner's (anyone else gets a 404), and an import needs the kind's add permission and the scheme in the
user's territory."""

from __future__ import annotations

import contextlib

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from gridgov.accounts.selectors import user_territory_schemes
from gridgov.people import import_jobs, imports
from gridgov.people.bulk import REQUIRED, record_type_label
from gridgov.people.models import DataJob, JobKind, JobStatus
from gridgov.people.selectors import job_scope

KIND_LABELS = {"houses": _("Houses"), "residents": _("Residents and households"),
               "entities": _("Legal entities"), "memberships": _("Special-group memberships"),
               "party_members": _("Party members"), "volunteers": _("Volunteers")}
FIRST_ERRORS = 50
RUNNING = (JobStatus.CHECKING, JobStatus.QUEUED, JobStatus.RUNNING)


def _page(view):
    return login_required(never_cache(view))


class UploadForm(forms.Form):
    scheme = forms.ChoiceField(label=_("Level scheme"))
    record_type = forms.ChoiceField(label=_("Records"))
    file = forms.FileField(label=_("Spreadsheet (.xlsx or .csv)"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.schemes = {s.key: s for s in user_territory_schemes(user).order_by("key")}
        self.fields["scheme"].choices = [(s.key, s.name_zh) for s in self.schemes.values()]
        self.fields["record_type"].choices = [(k, label) for k, label in KIND_LABELS.items()
                                              if user.has_perm(imports.IMPORT_PERMISSIONS[k])]


def _job(request, pk: int) -> DataJob:
    return get_object_or_404(job_scope(DataJob.objects.filter(kind=JobKind.IMPORT), request.user), pk=pk)


def _may(request, job: DataJob) -> None:
    if not imports.import_allowed(user=request.user, scheme=job.scheme, kind=job.record_type):
        raise Http404


@_page
def import_list(request):
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        scheme = form.schemes[form.cleaned_data["scheme"]]
        kind = form.cleaned_data["record_type"]
        if not imports.import_allowed(user=request.user, scheme=scheme, kind=kind):
            raise Http404
        try:
            job = imports.import_job_create(scheme=scheme, owner=request.user, record_type=kind,
                                            uploaded_file=form.cleaned_data["file"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("file", message)
        else:
            return redirect("people:import", pk=job.pk)
    jobs = job_scope(DataJob.objects.filter(kind=JobKind.IMPORT), request.user).select_related("scheme")[:50]
    jobs = [{"job": job, "kind_label": KIND_LABELS.get(job.record_type, job.record_type)} for job in jobs]
    return render(request, "people/imports/list.html", {
        "form": form, "jobs": jobs, "kinds": KIND_LABELS, "may_import": bool(form.fields["record_type"].choices
                                                                            and form.schemes)})


def _mapping_rows(job: DataJob, chosen: dict[str, str], labels: dict[str, str]) -> list[dict]:
    required = REQUIRED.get(job.record_type, ())
    fields = [{"name": name, "label": label, "required": name in required} for name, label in labels.items()]
    return [{"index": i, "header": header, "chosen": chosen.get(header, ""), "fields": fields}
            for i, header in enumerate(job.headers)]


def _summary_types(summary: dict) -> list[tuple[str, int]]:
    """The summary's new records per record type, each type by its name."""
    return [(record_type_label(rtype), count) for rtype, count in summary.get("created_by_type", {}).items()]


@_page
def import_detail(request, pk: int):
    job = _job(request, pk)
    labels = imports.kind_field_labels(job.record_type)
    context = {"job": job, "kind_label": KIND_LABELS.get(job.record_type, job.record_type),
               "required": [labels.get(name, name) for name in REQUIRED.get(job.record_type, ())],
               "running": job.status in RUNNING, "restartable": import_jobs.import_job_restartable(job),
               "errors": job.summary.get("errors", [])[:FIRST_ERRORS], "mapping_errors": {},
               "summary_types": _summary_types(job.summary)}
    if request.method == "POST":
        _may(request, job)
        mapping = {header: request.POST.get(f"field-{i}", "") for i, header in enumerate(job.headers)}
        try:
            imports.import_job_map(job=job, mapping=mapping)
        except ValidationError as exc:
            context["mapping_errors"] = exc.message_dict
            context["mapping"] = _mapping_rows(job, mapping, labels)
            return render(request, "people/imports/detail.html", context, status=400)
        return redirect("people:import", pk=job.pk)
    context["mapping"] = _mapping_rows(job, job.mapping, labels)
    return render(request, "people/imports/detail.html", context)


@_page
@require_POST
def import_check(request, pk: int):
    job = _job(request, pk)
    _may(request, job)
    with contextlib.suppress(ValidationError):  # a job not ready: its page says what it needs next
        import_jobs.import_job_check(job=job)
    return redirect("people:import", pk=job.pk)


@_page
@require_POST
def import_start(request, pk: int):
    job = _job(request, pk)
    _may(request, job)
    with contextlib.suppress(ValidationError):
        import_jobs.import_job_start(job=job)
    return redirect("people:import", pk=job.pk)


@_page
@require_POST
def import_restart(request, pk: int):
    """Start a failed or stalled real run again (`import_jobs.import_job_restart`)."""
    job = _job(request, pk)
    _may(request, job)
    with contextlib.suppress(ValidationError):  # not restartable (any more): its page says what it is
        import_jobs.import_job_restart(job=job, actor=request.user)
    return redirect("people:import", pk=job.pk)


@_page
def import_progress(request, pk: int):
    """The progress fragment the job page polls (htmx) while the job runs."""
    job = _job(request, pk)
    return render(request, "people/imports/_progress.html", {"job": job, "running": job.status in RUNNING})


@_page
def import_rejected(request, pk: int):
    job = _job(request, pk)
    fmt = "csv" if request.GET.get("as") == "csv" else "xlsx"
    path = imports.import_job_rejected_file(job=job, fmt=fmt)
    if path is None:
        raise Http404
    stem = job.file_name.rsplit(".", 1)[0] or "import"
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"{stem}-rejected.{fmt}")

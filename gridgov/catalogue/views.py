"""Management pages of the matter catalogue and of item admission (routed from `manage.urls`, namespace
"manage"): browse a catalogue's categories and matters with their time-limit stages, export them, import
a catalogue workbook (all or nothing, every bad cell listed); duty lists with their versions; admission
requests, where a department applies to put a matter on a duty list (or take it off) and the grid office
decides.

Catalogues are configuration every logged-in user may read. Duty lists are shown for the schemes the user
works in; admission requests through `admission_request_scope` (one outside it is a 404). The writes go
through `catalogue.admission` and `catalogue.xlsx`; the buttons for them are shown only to who may press
them, and the services refuse anyone else anyway (403)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gridgov.accounts.models import Department
from gridgov.accounts.selectors import user_schemes
from gridgov.accounts.workspaces import catalogue_page
from gridgov.catalogue import admission, xlsx
from gridgov.catalogue.models import (
    AdmissionRequest,
    AdmissionState,
    Catalogue,
    DutyList,
    DutyTier,
    Matter,
    ReportLevel,
)
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.core import import_log, uploads
from gridgov.core.pages import errors_to_form
from gridgov.core.tabular import FORMATS, bilingual, tabular_response
from gridgov.workdays.calendar import limit_text

PAGE_SIZE = 100


def stages_text(matter: Matter) -> str:
    """“1. Fence off: 2 hours; 2. Repair: 24 hours”."""
    return "; ".join(f"{s.order}. {s.name}: {limit_text(s.amount, s.unit)}" for s in matter.stages.all())


# =========================================================================== the catalogue
def _default_catalogue(user) -> Catalogue | None:
    for scheme in user_schemes(user).order_by("key"):
        catalogue = scheme_catalogue(scheme)
        if catalogue is not None:
            return catalogue
    return Catalogue.objects.order_by("key").first()


class MatterFilter(forms.Form):
    catalogue = forms.ChoiceField(label=gettext_lazy("Catalogue"), required=False)
    q = forms.CharField(label=gettext_lazy("Code or name"), required=False, max_length=100)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    report_level = forms.ChoiceField(label=gettext_lazy("Report level"), required=False,
                                     choices=[("", gettext_lazy("any")), *ReportLevel.choices])
    duty_tier = forms.ChoiceField(label=gettext_lazy("Duty tier"), required=False,
                                  choices=[("", gettext_lazy("any")), *DutyTier.choices])
    active = forms.ChoiceField(label=gettext_lazy("In use"), required=False,
                               choices=[("yes", gettext_lazy("in use")), ("no", gettext_lazy("retired")),
                                        ("all", gettext_lazy("all"))])

    def __init__(self, *args, catalogues, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["catalogue"].choices = [(c.key, f"{c.name} ({c.key})") for c in catalogues]
        self.fields["category"].choices = [("", _("any"))] + [(c.code, f"{c.code} {c.name}") for c in categories]


def _matters(catalogue: Catalogue, data: dict) -> QuerySet[Matter]:
    qs = catalogue.matters.select_related("category").prefetch_related("stages").order_by("code")
    q = (data.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(code__startswith=q) | Q(name_zh__icontains=q) | Q(name_en__icontains=q))
    if data.get("category"):
        qs = qs.filter(category__code=data["category"])
    if data.get("report_level"):
        qs = qs.filter(report_level=data["report_level"])
    if data.get("duty_tier"):
        qs = qs.filter(duty_tier=data["duty_tier"])
    active = data.get("active") or "yes"
    if active != "all":
        qs = qs.filter(active=active == "yes")
    return qs


MATTER_HEADERS = [gettext_lazy("Code"), gettext_lazy("Name (Chinese)"), gettext_lazy("Name (English)"),
                  gettext_lazy("Category"), gettext_lazy("Report level"), gettext_lazy("Duty tier"),
                  gettext_lazy("Responsible department"), gettext_lazy("Handling mode"),
                  gettext_lazy("Time-limit stages"), gettext_lazy("In use")]


def _matter_row(m: Matter) -> list:
    return [m.code, m.name_zh, m.name_en, f"{m.category.code} {m.category.name}", m.get_report_level_display(),
            m.get_duty_tier_display(), m.department, m.get_handling_mode_display(), stages_text(m), m.active]


@require_safe
@catalogue_page
def catalogue(request):
    """A catalogue's categories and matters (report level, duty tier, department, handling mode, stages),
    searched by code or name; `?as=xlsx|csv` downloads the matters shown."""
    catalogues = list(Catalogue.objects.order_by("key"))
    key = request.GET.get("catalogue")
    current = next((c for c in catalogues if c.key == key), None) if key else _default_catalogue(request.user)
    if key and current is None:
        raise Http404
    categories = (list(current.categories.annotate(n=Count("matters", filter=Q(matters__active=True)))
                       .order_by("code")) if current else [])
    form = MatterFilter(request.GET or None, catalogues=catalogues, categories=categories,
                        initial={"catalogue": current.key if current else ""})
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    status = 200 if valid or not form.is_bound else 400
    qs = _matters(current, data) if current else Matter.objects.none()
    fmt = request.GET.get("as")
    if fmt:
        if fmt not in FORMATS or current is None or status != 200:
            raise Http404
        return tabular_response(fmt=fmt, filename=f"matters-{current.key}", title=_("Matters"),
                                headers=[bilingual(h) for h in MATTER_HEADERS], rows=(_matter_row(m) for m in qs))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k not in ("page", "as") and v}
    if current is not None:
        query.setdefault("catalogue", current.key)
    return render(request, "manage/catalogue.html", {
        "form": form, "catalogue": current, "categories": categories, "page": page,
        "rows": [{"m": m, "stages": [{"name": st.name, "limit": limit_text(st.amount, st.unit)}
                                     for st in m.stages.all()]} for m in page.object_list],
        "query": urlencode(query), "selected_category": data.get("category", ""),
        "may_import": _may_import(request.user),
    }, status=status)


@require_safe
@catalogue_page
def catalogue_workbook(request):
    """The whole catalogue as the re-importable workbook (categories, matters, stages)."""
    current = get_object_or_404(Catalogue, key=request.GET.get("catalogue", ""))
    response = HttpResponse(xlsx.catalogue_export_xlsx(catalogue=current), content_type=xlsx.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="catalogue-{current.key}-v{current.version}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


# =========================================================================== catalogue import
def _may_import(user) -> bool:
    """As the API: staff holding `catalogue.change_catalogue`."""
    return bool(user.is_staff and user.has_perm("catalogue.change_catalogue"))


class CatalogueImportForm(forms.Form):
    key = forms.SlugField(label=gettext_lazy("Catalogue key"), max_length=40,
                          help_text=gettext_lazy("An existing key updates that catalogue; a new key creates one."))
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), required=False, max_length=100,
                              help_text=gettext_lazy("For a new catalogue."))
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), required=False, max_length=100)
    file = forms.FileField(label=gettext_lazy("Workbook (.xlsx)"),
                           help_text=gettext_lazy("The layout of the exported workbook: sheets of categories, "
                                                  "matters and stages."))
    dry_run = forms.BooleanField(label=gettext_lazy("Only check the workbook, write nothing"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() != ".xlsx":
            raise ValidationError(_("choose an .xlsx workbook (save the spreadsheet as Excel Workbook)"))
        try:
            uploads.size_check(kind="catalogue", size=upload.size, name=upload.name)
        except uploads.UploadError as exc:
            raise ValidationError(str(exc)) from None
        return upload


def _error_patterns() -> list[re.Pattern]:
    """The import's messages as it words them in the active language, turned into patterns that give back
    the sheet, the row, the column and the reason."""
    parts = {"sheet": r"(?P<sheet>.+?)", "row": r"(?P<row>\d+)", "column": r"(?P<column>.+?)",
             "reason": r"(?P<reason>.*)"}
    formats = [_("sheet %(sheet)s, row %(row)d, column %(column)s: %(reason)s"),
               _("sheet %(sheet)s, row %(row)d: %(reason)s"),
               _("sheet %(sheet)s, column %(column)s: %(reason)s"),
               _("sheet %(sheet)s: %(reason)s")]
    patterns = []
    for text in formats:
        pattern = re.escape(text)
        for name, group in parts.items():
            pattern = re.sub(re.escape(re.escape(f"%({name})")) + r"[sd]", lambda _m, g=group: g, pattern)
        patterns.append(re.compile(f"^{pattern}$", re.DOTALL))
    return patterns


def error_table(messages_: list[str]) -> list[dict]:
    """Import errors as rows of sheet, row, column and reason (a message about the whole file has only a
    reason)."""
    patterns = _error_patterns()
    rows = []
    for message in messages_:
        for pattern in patterns:
            match = pattern.match(message)
            if match:
                found = match.groupdict()
                rows.append({"sheet": found.get("sheet", ""), "row": int(found["row"]) if found.get("row") else None,
                             "column": found.get("column", ""), "reason": found["reason"]})
                break
        else:
            rows.append({"sheet": "", "row": None, "column": "", "reason": message})
    return rows


def _run_catalogue_import(request, *, record: import_log.ImportRecord, data: bytes, dry_run: bool) -> list[dict]:
    """Run the import of `data` for `record`; returns the errors (empty when it went through)."""
    State = import_log.RecordState
    options = record.options
    try:
        report = xlsx.catalogue_import_xlsx(key=options["key"], file=data, actor=request.user, dry_run=dry_run,
                                            name_zh=options.get("name_zh", ""), name_en=options.get("name_en", ""),
                                            filename=record.source)
    except ValidationError as exc:
        messages_ = (exc.message_dict.get("file") or [m for ms in exc.message_dict.values() for m in ms]
                     if hasattr(exc, "error_dict") else exc.messages)
        errors = error_table(messages_)
        record.state, record.counts = State.REFUSED, {"errors": len(errors)}
        record.message = _("Nothing was written: the workbook has errors.")
        import_log.record_save(record, report={"errors": errors})
        return errors
    except Exception:
        # an unexpected error (logged by Django as a 500): the record must not look checked or running
        record.state, record.message = State.FAILED, _("An unexpected error stopped the import; nothing was written.")
        import_log.record_save(record)
        raise
    record.counts = {"categories": report.categories, "created": report.created, "updated": report.updated,
                     "unchanged": report.unchanged}
    record.state = State.CHECKED if dry_run else State.DONE
    import_log.record_save(record, report={"codes_changed": report.codes_changed, "dry_run": dry_run})
    return []


@require_http_methods(["GET", "HEAD", "POST"])
@catalogue_page
def catalogue_import(request):
    """Import a catalogue workbook, all or nothing; every cell that cannot be read is listed with its sheet,
    row, column and reason. A check writes nothing and can be confirmed from its result page."""
    user = request.user
    may = _may_import(user)
    default = _default_catalogue(user)
    form = CatalogueImportForm(request.POST or None, request.FILES or None,
                               initial={"key": default.key if default else "", "dry_run": True})
    errors: list[dict] = []
    status = 200
    if request.method == "POST":
        if not may:
            raise PermissionDenied(_("You may not change matter catalogues."))
        if form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read()
            dry_run = form.cleaned_data["dry_run"]
            record = import_log.record_create(
                kind="catalogue", owner=user, source=upload.name, upload=data if dry_run else None, suffix=".xlsx",
                state=import_log.RecordState.RUNNING,
                options={"key": form.cleaned_data["key"], "name_zh": form.cleaned_data["name_zh"],
                         "name_en": form.cleaned_data["name_en"]})
            errors = _run_catalogue_import(request, record=record, data=data, dry_run=dry_run)
            if not errors:
                if not dry_run:
                    messages.success(request, _("The catalogue %(key)s was imported.") % {"key": record.options["key"]})
                return redirect("manage:catalogue_import_result", token=record.token)
        status = 400
    return render(request, "manage/catalogue_import.html", {
        "form": form, "may_import": may, "errors": errors, "max_mb": uploads.upload_limits("catalogue").max_bytes >> 20,
        "recent": import_log.records_for(user, kind="catalogue", limit=10),
    }, status=status)


def _catalogue_record(request, token: str) -> import_log.ImportRecord:
    try:
        return import_log.record_get(kind="catalogue", token=token, user=request.user)
    except LookupError:
        raise Http404 from None


@require_safe
@catalogue_page
def catalogue_import_result(request, token: str):
    record = _catalogue_record(request, token)
    report = import_log.record_report(record)
    return render(request, "manage/catalogue_import_result.html", {
        "record": record, "report": report, "errors": report.get("errors", []),
        "may_confirm": record.confirmable and _may_import(request.user),
    })


@require_POST
@catalogue_page
def catalogue_import_confirm(request, token: str):
    """Import a checked workbook for real (once)."""
    if not _may_import(request.user):
        raise PermissionDenied(_("You may not change matter catalogues."))
    record = _catalogue_record(request, token)
    try:
        with import_log.record_lock(record):
            record = _catalogue_record(request, token)
            if not record.confirmable:
                messages.warning(request, _("This import has already run; its result is below."))
                return redirect("manage:catalogue_import_result", token=token)
            try:
                data = import_log.upload_path(record).read_bytes()
            except OSError:
                raise Http404 from None
            record.state = import_log.RecordState.RUNNING
            import_log.record_save(record)
            if _run_catalogue_import(request, record=record, data=data, dry_run=False):
                messages.error(request, _("Nothing was written: the catalogue changed since the check and the "
                                          "workbook no longer goes in; see the errors below."))
            else:
                messages.success(request, _("The catalogue %(key)s was imported.") % {"key": record.options["key"]})
    except import_log.RecordBusy:
        messages.warning(request, _("This import is running already."))
    return redirect("manage:catalogue_import_result", token=token)


# =========================================================================== duty lists
def _duty_lists(user) -> QuerySet[DutyList]:
    return DutyList.objects.filter(scheme__in=user_schemes(user)).select_related("scheme")


@require_safe
@catalogue_page
def duty_lists(request):
    lists = (_duty_lists(request.user)
             .annotate(entry_count=Count("entries", filter=Q(entries__removed_version__isnull=True), distinct=True),
                       pending=Count("requests", filter=Q(requests__state=AdmissionState.PENDING), distinct=True))
             .order_by("scheme__key", "order", "key"))
    return render(request, "manage/duty_lists.html", {"lists": lists})


@require_safe
@catalogue_page
def duty_list(request, pk: int):
    """A duty list's matters now, or as they stood at `?version=N`, and the approved changes that made
    each version."""
    current = get_object_or_404(_duty_lists(request.user), pk=pk)
    version = request.GET.get("version", "")
    error = ""
    status = 200
    as_of = current.version
    entries = admission.duty_list_entries_current(duty_list=current)
    if version != "":
        try:
            entries = admission.duty_list_entries_as_of(duty_list=current, version=version)
            as_of = int(version)
        except ValidationError as exc:
            error = "; ".join(exc.messages)
            status = 400
    changes = (AdmissionRequest.objects.filter(duty_list=current, state=AdmissionState.APPROVED)
               .select_related("matter", "department").order_by("-list_version", "-id"))
    return render(request, "manage/duty_list.html", {
        "duty_list": current, "entries": entries, "as_of": as_of, "versions": range(current.version, -1, -1),
        "version_error": error, "version_typed": version, "changes": changes,
    }, status=status)


# =========================================================================== admission requests
def _requests(user) -> QuerySet[AdmissionRequest]:
    qs = AdmissionRequest.objects.select_related("duty_list__scheme", "matter", "department", "applied_by",
                                                 "decided_by")
    return admission.admission_request_scope(qs, user).order_by("-applied_at", "-id")


def _user_departments(user) -> QuerySet[Department]:
    return Department.objects.filter(teams__members=user, active=True).distinct().order_by("key")


def _may_apply(user) -> bool:
    return admission.admission_may_apply(user) or _user_departments(user).exists()


class AdmissionFilter(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False,
                              choices=[("", gettext_lazy("any")), *AdmissionState.choices])
    duty_list = forms.TypedChoiceField(label=gettext_lazy("Duty list"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, lists, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["duty_list"].choices = [("", _("any"))] + [(dl.pk, dl.name) for dl in lists]


REQUEST_HEADERS = [gettext_lazy("Applied at"), gettext_lazy("Duty list"), gettext_lazy("Change"),
                   gettext_lazy("Matter code"), gettext_lazy("Matter"), gettext_lazy("Applying department"),
                   gettext_lazy("Reason for the application"), gettext_lazy("State"), gettext_lazy("Decided at"),
                   gettext_lazy("Reason for the decision"), gettext_lazy("List version after approval")]


def _request_row(r: AdmissionRequest) -> list:
    return [r.applied_at, r.duty_list.name, r.get_change_display(), r.matter.code, r.matter.name,
            r.department.name if r.department else "", r.reason, r.get_state_display(), r.decided_at,
            r.decision_reason, r.list_version]


@require_safe
@catalogue_page
def admissions(request):
    """Admission requests the user may see, filtered by state and list; `?as=xlsx|csv` downloads them."""
    user = request.user
    form = AdmissionFilter(request.GET or None, lists=_duty_lists(user).order_by("scheme__key", "order", "key"))
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    qs = _requests(user)
    if data.get("state"):
        qs = qs.filter(state=data["state"])
    if data.get("duty_list"):
        qs = qs.filter(duty_list_id=data["duty_list"])
    fmt = request.GET.get("as")
    if fmt:
        if fmt not in FORMATS or not valid:
            raise Http404
        return tabular_response(fmt=fmt, filename="admission-requests", title=_("Admission requests"),
                                headers=[bilingual(h) for h in REQUEST_HEADERS], rows=(_request_row(r) for r in qs))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k not in ("page", "as") and v}
    pending = admission.admission_request_scope(AdmissionRequest.objects.filter(state=AdmissionState.PENDING), user)
    return render(request, "manage/admissions.html", {
        "form": form, "page": page, "query": urlencode(query), "may_apply": _may_apply(user),
        "may_decide": admission.admission_may_decide(user), "pending_count": pending.count(),
    }, status=200 if valid or not form.is_bound else 400)


class ApplyForm(forms.Form):
    duty_list = forms.ModelChoiceField(label=gettext_lazy("Duty list"), queryset=DutyList.objects.none())
    change = forms.ChoiceField(label=gettext_lazy("Change"), choices=AdmissionRequest.Change.choices,
                               widget=forms.RadioSelect, initial=AdmissionRequest.Change.ADD)
    matter = forms.CharField(label=gettext_lazy("Matter code"), max_length=5,
                             widget=forms.TextInput(attrs={"list": "matter-codes", "inputmode": "numeric",
                                                           "autocomplete": "off"}),
                             help_text=gettext_lazy("Five digits, e.g. 01001; matching matters are offered as you "
                                                    "type."))
    department = forms.ModelChoiceField(label=gettext_lazy("Applying department"), queryset=Department.objects.none())
    reason = forms.CharField(label=gettext_lazy("Reason for the application"), widget=forms.Textarea(attrs={"rows": 4}),
                             max_length=2000)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["duty_list"].queryset = _duty_lists(user).order_by("scheme__key", "order", "key")
        self.fields["duty_list"].label_from_instance = lambda dl: f"{dl.name} (v{dl.version})"
        own = _user_departments(user)
        if admission.admission_may_apply(user):
            # the grid office may apply on behalf of any department, or of none
            self.fields["department"].queryset = Department.objects.filter(
                scheme__in=user_schemes(user), active=True).order_by("key")
            self.fields["department"].required = False
        else:
            self.fields["department"].queryset = own
        self.fields["department"].label_from_instance = lambda d: d.name
        if own.count() == 1 and not self.is_bound:
            self.initial.setdefault("department", own.first().pk)

    def clean(self):
        data = super().clean()
        duty_list, code = data.get("duty_list"), (data.get("matter") or "").strip()
        if duty_list is not None and code:
            catalogue = scheme_catalogue(duty_list.scheme_id)
            matter = catalogue.matters.filter(code=code).first() if catalogue else None
            if matter is None:
                self.add_error("matter", _("no matter has the code %(code)s in the catalogue of this list's scheme")
                               % {"code": code})
            else:
                data["matter_obj"] = matter
        return data


def _matter_choices(user) -> list[Matter]:
    catalogues = {c.pk for s in user_schemes(user) if (c := scheme_catalogue(s)) is not None}
    return list(Matter.objects.filter(catalogue_id__in=catalogues, active=True).order_by("code")
                .only("code", "name_zh", "name_en"))


@require_http_methods(["GET", "HEAD", "POST"])
@catalogue_page
def admission_apply(request):
    """A department applies to put a matter on a duty list, or to take it off, with its reason."""
    user = request.user
    if not _may_apply(user):
        raise PermissionDenied(_("Only a department's handlers and the grid office apply for admission of matters."))
    form = ApplyForm(request.POST or None, user=user, initial={"duty_list": request.GET.get("duty_list")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = admission.admission_apply(actor=user, duty_list=data["duty_list"], matter=data["matter_obj"],
                                                    change=data["change"], department=data["department"],
                                                    reason=data["reason"])
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, _("Your request was sent to the grid office."))
                return redirect("manage:admission", pk=created.pk)
        status = 400
    return render(request, "manage/admission_apply.html", {"form": form, "matters": _matter_choices(user)},
                  status=status)


class DecideForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason for the decision"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Required when you reject the request."))


def _request_context(request, item: AdmissionRequest, form: DecideForm | None = None) -> dict:
    user = request.user
    pending = item.state == AdmissionState.PENDING
    return {
        "item": item, "form": form or DecideForm(),
        "may_decide": pending and admission.admission_may_decide(user),
        "may_withdraw": pending and item.applied_by_id == user.pk,
        "on_list": admission.duty_list_entries_current(duty_list=item.duty_list).filter(matter=item.matter).exists(),
    }


@require_safe
@catalogue_page
def admission_detail(request, pk: int):
    item = get_object_or_404(_requests(request.user), pk=pk)
    return render(request, "manage/admission.html", _request_context(request, item))


@require_POST
@catalogue_page
def admission_decide(request, pk: int):
    """The grid office approves or rejects a pending request (a rejection gives its reason)."""
    user = request.user
    item = get_object_or_404(_requests(user), pk=pk)
    if not admission.admission_may_decide(user):
        raise PermissionDenied(_("Only the grid office decides admission requests."))
    form = DecideForm(request.POST)
    decision = request.POST.get("decision")
    if form.is_valid() and decision in ("approve", "reject"):
        try:
            decided = admission.admission_decide(actor=user, request=item, approve=decision == "approve",
                                                 reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            errors_to_form(form, exc, {"state": "__all__", "matter": "__all__"})
        else:
            if decided.state == AdmissionState.APPROVED:
                messages.success(request, _("Approved: %(list)s is now at version %(v)d.")
                                 % {"list": decided.duty_list.name, "v": decided.list_version})
            else:
                messages.success(request, _("The request was rejected."))
            return redirect("manage:admission", pk=item.pk)
    elif decision not in ("approve", "reject"):
        form.add_error(None, _("Choose to approve or to reject the request."))
    item.refresh_from_db()
    return render(request, "manage/admission.html", _request_context(request, item, form), status=400)


@require_POST
@catalogue_page
def admission_withdraw(request, pk: int):
    """The applicant takes back their pending request."""
    user = request.user
    item = get_object_or_404(_requests(user), pk=pk)
    if item.applied_by_id != user.pk:
        raise PermissionDenied(_("Only the applicant withdraws a request."))
    try:
        admission.admission_withdraw(actor=user, request=item)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, _("The request was withdrawn."))
    return redirect("manage:admission", pk=item.pk)


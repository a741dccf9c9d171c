"""Management pages of people in charge (routed from `manage.urls`, namespace "manage"): who holds which
role in which cell of the user's territory, filtered and exported exactly as shown; putting someone in
charge of a cell and ending an assignment, through `accounts.services`.

Assignments are read through `assignment_scope`; a cell or assignment outside the user's territory is a
404. A work phone is shown as the cell card shows it when the assignment is public, masked otherwise
(the list, the export and the pages alike). Nothing personal goes into a URL: the filters are ids and
choices."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from gridgov.accounts import services
from gridgov.accounts.models import Assignment, Person, Role
from gridgov.accounts.selectors import assignment_scope, person_scope, scope_roots
from gridgov.accounts.workspaces import manage_page
from gridgov.core.pages import errors_to_form
from gridgov.core.tabular import FORMATS, bilingual, tabular_response
from gridgov.privacy.masking import mask_phone
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_children, node_scope

PAGE_SIZE = 100
STATES = [("current", gettext_lazy("Current")), ("ended", gettext_lazy("Ended")), ("all", gettext_lazy("All"))]


def phone_shown(assignment: Assignment) -> str:
    """The work phone as the cell card shows it when the assignment is public; masked otherwise."""
    phone = assignment.person.phone
    return phone if assignment.is_public else mask_phone(phone)


def _cell(user, pk) -> Node:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    return get_object_or_404(node_scope(Node.objects.select_related("level", "scheme"), user), pk=pk)


# =========================================================================== the list
class FilterForm(forms.Form):
    cell = forms.TypedChoiceField(label=gettext_lazy("Cell and the cells below it"), required=False, coerce=int,
                                  empty_value=None)
    role = forms.TypedChoiceField(label=gettext_lazy("Role"), required=False, coerce=int, empty_value=None)
    state = forms.ChoiceField(label=gettext_lazy("Assignments"), choices=STATES, required=False)
    public = forms.ChoiceField(label=gettext_lazy("On the cell card"), required=False,
                               choices=[("", gettext_lazy("any")), ("yes", gettext_lazy("yes")),
                                        ("no", gettext_lazy("no"))])

    def __init__(self, *args, cells: list[tuple[int, str]], roles: QuerySet[Role], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cell"].choices = [("", _("my whole territory")), *cells]
        self.fields["role"].choices = [("", _("any role"))] + [(r.pk, r.name) for r in roles]


def _cell_options(user, selected: Node | None) -> list[tuple[int, str]]:
    """The cells to choose from: the tops of the user's territory, the selected cell with its chain from
    them, and its children (choose one and filter again to go further down)."""
    nodes = {n.pk: n for n in scope_roots(user)}
    if selected is not None:
        nodes.update({n.pk: n for n in node_scope(Node.objects.filter(pk__in=selected.ancestor_ids()), user)
                      .select_related("level")})
        nodes[selected.pk] = selected
        nodes.update({n.pk: n for n in node_children(selected)})
    ordered = sorted(nodes.values(), key=lambda n: n.path)
    top = min((n.depth for n in ordered), default=0)
    return [(n.pk, f"{'— ' * (n.depth - top)}{n.name} {n.code}".strip()) for n in ordered]


def _filtered(user, data: dict) -> QuerySet[Assignment]:
    qs = assignment_scope(Assignment.objects.select_related("person", "role", "node__level"), user)
    if data.get("cell_node") is not None:
        qs = qs.filter(node__path__startswith=data["cell_node"].path)
    if data.get("role"):
        qs = qs.filter(role_id=data["role"])
    today = timezone.localdate()
    state = data.get("state") or "current"
    if state == "current":
        qs = qs.filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
    elif state == "ended":
        qs = qs.filter(end_date__lt=today)
    if data.get("public") == "yes":
        qs = qs.filter(is_public=True)
    elif data.get("public") == "no":
        qs = qs.filter(is_public=False)
    return qs.order_by("node__path", "role__order", "person__name", "start_date", "pk")


EXPORT_HEADERS = [gettext_lazy("Person"), gettext_lazy("Role"), gettext_lazy("Cell code"), gettext_lazy("Cell"),
                  gettext_lazy("Level"), gettext_lazy("Since"), gettext_lazy("Until"),
                  gettext_lazy("Shown on the cell card"), gettext_lazy("Work phone")]


def _export_row(a: Assignment) -> list:
    return [a.person.name, a.role.name, a.node.code, a.node.name, a.node.level.name, a.start_date, a.end_date,
            a.is_public, phone_shown(a)]


@require_safe
@manage_page
def people_in_charge(request):
    """Assignments in the user's territory (or below a chosen cell), filtered by role, state and whether
    the card shows them; `?as=xlsx|csv` downloads exactly the filtered rows."""
    user = request.user
    selected = _cell(user, request.GET["cell"]) if request.GET.get("cell") else None
    roles = Role.objects.filter(scheme__in={n.scheme_id for n in scope_roots(user)}).order_by("scheme", "order", "key")
    form = FilterForm(request.GET or None, cells=_cell_options(user, selected), roles=roles)
    valid = form.is_valid()
    data = dict(form.cleaned_data) if valid else {}
    data["cell_node"] = selected
    status = 200 if (valid or not form.is_bound) else 400
    qs = _filtered(user, data)
    fmt = request.GET.get("as")
    if fmt:
        if fmt not in FORMATS or status != 200:
            raise Http404
        return tabular_response(fmt=fmt, filename="people-in-charge", title=_("People in charge"),
                                headers=[bilingual(h) for h in EXPORT_HEADERS], rows=(_export_row(a) for a in qs))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    query = {k: v for k, v in request.GET.items() if k not in ("page", "as") and v}
    return render(request, "manage/people_in_charge.html", {
        "form": form, "page": page, "selected": selected, "today": today,
        "rows": [{"a": a, "phone": phone_shown(a), "ended": a.end_date is not None and a.end_date < today}
                 for a in page.object_list],
        "query": urlencode(query),
    }, status=status)


# =========================================================================== add and end
class AssignmentForm(forms.Form):
    who = forms.ChoiceField(label=gettext_lazy("Who"), widget=forms.RadioSelect, initial="existing",
                            choices=[("existing", gettext_lazy("Someone already on record")),
                                     ("new", gettext_lazy("Someone new"))])
    person = forms.ModelChoiceField(label=gettext_lazy("Person"), queryset=Person.objects.none(), required=False)
    name = forms.CharField(label=gettext_lazy("Name"), required=False, max_length=100)
    phone = forms.CharField(label=gettext_lazy("Work phone"), required=False, max_length=20,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
                            help_text=gettext_lazy("Shown on the cell card when the assignment is public."))
    role = forms.ModelChoiceField(label=gettext_lazy("Role"), queryset=Role.objects.none())
    start_date = forms.DateField(label=gettext_lazy("Since"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=gettext_lazy("Until (empty: open-ended)"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))
    is_public = forms.BooleanField(label=gettext_lazy("Show on the cell card"), required=False, initial=True)
    duties = forms.CharField(label=gettext_lazy("Duties"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Empty: the role's standard duties."))

    def __init__(self, *args, node: Node, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = person_scope(Person.objects.all(), user).order_by("name", "pk")
        self.fields["person"].label_from_instance = lambda p: f"{p.name} ({mask_phone(p.phone)})" if p.phone else p.name
        self.fields["role"].queryset = (Role.objects.filter(scheme=node.scheme_id)
                                        .filter(Q(levels__isnull=True) | Q(levels=node.level_id)).distinct()
                                        .order_by("order", "key"))
        self.fields["role"].label_from_instance = lambda r: r.name

    def clean_phone(self):
        try:
            return services.phone_clean(self.cleaned_data["phone"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["phone"]) from None

    def clean(self):
        data = super().clean()
        if data.get("who") == "new":
            if not (data.get("name") or "").strip():
                self.add_error("name", _("Give the name of the new person in charge."))
        elif data.get("who") == "existing" and not data.get("person"):
            self.add_error("person", _("Choose the person, or choose “Someone new” and type their name."))
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:  # the service says so too, but only after the first other problem
            self.add_error("end_date", _("the end date %(e)s is before the start date %(s)s") % {"e": end, "s": start})
        return data


@require_http_methods(["GET", "HEAD", "POST"])
@manage_page
def assignment_add(request, node_id: int):
    """Put someone (on record, or new: name and work phone) in charge of a cell, in a role of its level."""
    user = request.user
    node = _cell(user, node_id)
    if not node.is_active:
        raise Http404
    form = AssignmentForm(request.POST or None, node=node, user=user,
                          initial={"start_date": timezone.localdate(), "who": "existing", "is_public": True})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    person = data["person"]
                    if data["who"] == "new":
                        person = services.person_create(name=data["name"], phone=data["phone"], actor=user)
                    services.assignment_create(person=person, node=node, role=data["role"],
                                               start_date=data["start_date"], end_date=data["end_date"],
                                               duties=data["duties"], is_public=data["is_public"], actor=user)
            except ValidationError as exc:
                errors_to_form(form, exc, {"node": "__all__"})
            else:
                messages.success(request, _("%(person)s is now %(role)s of %(cell)s.")
                                 % {"person": person.name, "role": data["role"].name, "cell": node.name})
                return redirect(f"{_list_url()}?{urlencode({'cell': node.pk})}")
        status = 400
    return render(request, "manage/assignment_add.html", {"form": form, "node": node}, status=status)


def _list_url() -> str:
    from django.urls import reverse

    return reverse("manage:people_in_charge")


class EndForm(forms.Form):
    end_date = forms.DateField(label=gettext_lazy("Last day in charge"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=200)


@require_http_methods(["GET", "HEAD", "POST"])
@manage_page
def assignment_end(request, pk: int):
    """End an assignment on a given day (kept in the history; the card stops showing it the day after)."""
    user = request.user
    assignment = get_object_or_404(assignment_scope(Assignment.objects.select_related("person", "role", "node"), user),
                                   pk=pk)
    form = EndForm(request.POST or None, initial={"end_date": timezone.localdate()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.assignment_end(assignment, end_date=form.cleaned_data["end_date"],
                                        reason=form.cleaned_data["reason"], actor=user)
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, _("The assignment of %(person)s as %(role)s of %(cell)s ends on %(day)s.")
                                 % {"person": assignment.person.name, "role": assignment.role.name,
                                    "cell": assignment.node.name, "day": form.cleaned_data["end_date"]})
                return redirect(f"{_list_url()}?{urlencode({'cell': assignment.node_id})}")
        status = 400
    return render(request, "manage/assignment_end.html",
                  {"form": form, "a": assignment, "phone": phone_shown(assignment),
                   "ended": assignment.end_date is not None and assignment.end_date < timezone.localdate()},
                  status=status)

"""Forms of the staff case pages: the filter bar of the case list (and of the live queue), and one form per
shape of workflow action. The forms only shape and bound the input; `services.case_transition` decides
what it means, and its `ValidationError`s come back onto the fields they name (`ActionForm.add_service_errors`).

The filter form's values end up in the URL (a list is shareable): they are codes and ids, never anything
personal. It feeds the API's `filters.CaseFilter`, so the page, its export and the API filter identically.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pypinyin import Style, lazy_pinyin

from gridgov.accounts.display import team_label
from gridgov.accounts.models import Assignment, Department, RoleCategory, Team
from gridgov.accounts.selectors import user_schemes
from gridgov.cases.attachments import PHOTOS_MAX
from gridgov.cases.models import Case, Channel, SlaStatus
from gridgov.cases.policy import policy_for
from gridgov.cases.routing import case_route
from gridgov.cases.selectors import case_duplicates, case_scope
from gridgov.cases.services import case_evaluate, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.transitions import TABLE, TRANSITIONS, Evidence, Input, Need, Transition
from gridgov.catalogue.models import Category, HandlingMode, Matter, ReportLevel
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.territory.models import LevelScheme, Node
from gridgov.territory.selectors import node_scope
from gridgov.workdays.calendar import LimitUnit

MAX_ID = 2**63 - 1
# dates a time zone shift cannot push out of what the database driver takes (as the API's filter)
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 2), dt.date(8999, 12, 30)
# the select of cells stops here: a larger territory picks the grid by its code
CELL_SELECT_MAX = 1500


# =========================================================================== what the user works in
def catalogue_ids(schemes: QuerySet[LevelScheme]) -> list[int]:
    """The catalogues of `schemes` (from `accounts.selectors.user_schemes`), each once, in scheme order."""
    found = []
    for scheme in schemes.order_by("key"):
        catalogue = scheme_catalogue(scheme)
        if catalogue is not None and catalogue.pk not in found:
            found.append(catalogue.pk)
    return found


def search_text(*parts: str) -> str:
    """What a matter is found by in the pickers: code, names and the pinyin initials of the Chinese name
    (井盖 → jg), lower case."""
    words = [p for p in parts if p]
    chinese = parts[1] if len(parts) > 1 else ""
    if chinese:
        words.append("".join(lazy_pinyin(chinese, style=Style.FIRST_LETTER)))
    return " ".join(words).lower()


def matter_choices(catalogues: list[int], *, active_only: bool = True) -> tuple[list, dict]:
    """Matters grouped by category for a <select>, and per matter code the attributes of its <option>
    (what it is found by, its default report level and handling mode)."""
    qs = Matter.objects.filter(catalogue_id__in=catalogues).select_related("category").order_by(
        "category__code", "code")
    if active_only:
        qs = qs.filter(active=True)
    groups: dict[str, tuple[str, list]] = {}
    attrs: dict[str, dict] = {}
    for m in qs:
        if m.code in attrs:
            continue
        label = f"{m.category.code} {m.category.name}"
        groups.setdefault(m.category.code, (label, []))[1].append((m.code, f"{m.code} {m.name}"))
        attrs[m.code] = {"data-search": search_text(m.code, m.name_zh, m.name_en), "data-level": m.report_level,
                         "data-mode": m.handling_mode}
    return [(label, options) for label, options in groups.values()], attrs


class SearchableSelect(forms.Select):
    """A <select> whose options carry data attributes (what they are found by, defaults they bring)."""

    def __init__(self, attrs=None, choices=(), option_attrs: dict | None = None):
        super().__init__(attrs, choices)
        self.option_attrs = option_attrs or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"].update(self.option_attrs.get(str(value), {}))
        return option


# =========================================================================== the filter bar
ANY = [("", gettext_lazy("any"))]
OPEN_CHOICES = [("", gettext_lazy("any")), ("1", gettext_lazy("open only")), ("0", gettext_lazy("finished only"))]


def _cell_choices(user) -> list[tuple[str, str]]:
    """Cells of the user's territory down to grid level (not the micro-grids below), as a tree."""
    qs = (node_scope(Node.objects.current(), user)
          .filter(Q(level__is_grid=False) | Q(level__is_grid=True, parent__isnull=True)
                  | Q(level__is_grid=True, parent__level__is_grid=False))
          .values_list("pk", "path", "code", "name", "level__depth"))
    rows = list(qs[:CELL_SELECT_MAX + 1])
    if len(rows) > CELL_SELECT_MAX:  # a large district: the select lists the levels above the grids
        rows = list(qs.filter(level__is_grid=False)[:CELL_SELECT_MAX])
    codes = {pk: code or str(pk) for pk, _p, code, _n, _d in rows}

    def key(row):
        return [codes.get(int(p), p) for p in row[1].strip("/").split("/")]

    rows.sort(key=key)
    top = min((r[4] for r in rows), default=0)
    return [(str(pk), "\u2003" * (depth - top) + f"{name} {code}".strip()) for pk, _p, code, name, depth in rows]


class CaseFilterForm(forms.Form):
    """The filters of the case list and the live queue. All optional; `api_params()` turns them into the
    query of `filters.CaseFilter`."""

    cell = forms.IntegerField(label=gettext_lazy("Cell"), required=False, min_value=1, max_value=MAX_ID,
                              widget=forms.Select)
    cell_code = forms.CharField(label=gettext_lazy("or cell code"), required=False, max_length=32,
                                widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 14}))
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    matter = forms.ChoiceField(label=gettext_lazy("Matter"), required=False)
    state = forms.MultipleChoiceField(label=gettext_lazy("State"), required=False, choices=CaseState.choices,
                                      widget=forms.CheckboxSelectMultiple)
    open = forms.ChoiceField(label=gettext_lazy("Open or finished"), required=False, choices=OPEN_CHOICES)
    channel = forms.MultipleChoiceField(label=gettext_lazy("Channel"), required=False, choices=Channel.choices,
                                        widget=forms.CheckboxSelectMultiple)
    sla_status = forms.MultipleChoiceField(label=gettext_lazy("Time limit"), required=False,
                                           choices=SlaStatus.choices, widget=forms.CheckboxSelectMultiple)
    report_level = forms.MultipleChoiceField(label=gettext_lazy("Report level"), required=False,
                                             choices=ReportLevel.choices, widget=forms.CheckboxSelectMultiple)
    department = forms.TypedChoiceField(label=gettext_lazy("Department"), required=False, coerce=int,
                                        empty_value=None)

    MULTI = ("state", "channel", "sla_status", "report_level")

    def __init__(self, data=None, *, user, choices: bool = True, **kwargs):
        """With `choices=False` (the live queue, polled every few seconds) the codes are checked by their
        shape only and no option lists are read: the form is not shown there."""
        super().__init__(data, **kwargs)
        self.user = user
        self.node: Node | None = None
        self.fields["from"] = forms.DateField(label=gettext_lazy("Reported from"), required=False,
                                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        self.fields["to"] = forms.DateField(label=gettext_lazy("to (inclusive)"), required=False,
                                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        self.has_cells = False
        if not choices:
            self.fields["category"] = forms.RegexField(regex=r"^[0-9]{2}$", required=False,
                                                       label=self.fields["category"].label)
            self.fields["matter"] = forms.RegexField(regex=r"^[0-9]{5}$", required=False,
                                                     label=self.fields["matter"].label)
            self.fields["department"] = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                                           label=self.fields["department"].label)
            return
        schemes = user_schemes(user)
        catalogues = catalogue_ids(schemes)
        categories = (Category.objects.filter(catalogue_id__in=catalogues).order_by("code")
                      .values_list("code", "name_zh", "name_en"))
        seen: dict[str, str] = {}
        for code, zh, en in categories:
            seen.setdefault(code, f"{code} {Category(name_zh=zh, name_en=en).name}")
        self.fields["category"].choices = ANY + list(seen.items())
        groups, attrs = matter_choices(catalogues, active_only=False)
        self.fields["matter"].choices = ANY + groups
        self.fields["matter"].widget = SearchableSelect(choices=self.fields["matter"].choices, option_attrs=attrs)
        departments = Department.objects.filter(active=True, scheme__in=schemes).order_by("scheme_id", "key")
        self.fields["department"].choices = ANY + [(str(d.pk), d.name) for d in departments]
        cells = _cell_choices(user)
        chosen = str((data or {}).get("cell") or "")
        if chosen and chosen not in {v for v, _l in cells}:
            extra = node_scope(Node.objects.filter(pk=int(chosen)), user).first() if chosen.isdigit() \
                and len(chosen) <= 18 else None
            if extra is not None:
                cells.append((chosen, f"{extra.name} {extra.code}".strip()))
        self.fields["cell"].widget.choices = [("", _("whole territory")), *cells]
        self.has_cells = bool(cells)

    def _scoped_nodes(self):
        return node_scope(Node.objects.all(), self.user)

    def clean_cell(self):
        value = self.cleaned_data.get("cell")
        if value is None:
            return None
        node = self._scoped_nodes().filter(pk=value).first()
        if node is None:
            raise ValidationError(_("no cell of your territory has this id: choose a cell from the list"))
        self.node = node
        return value

    def clean_cell_code(self):
        code = (self.cleaned_data.get("cell_code") or "").strip()
        if not code:
            return ""
        node = self._scoped_nodes().filter(code=code).order_by("valid_to", "-pk").first()
        if node is None:
            raise ValidationError(_("no cell of your territory has the code %(code)s") % {"code": code})
        self.node = node  # a code typed wins over the cell chosen
        return code

    def _clean_day(self, name: str):
        day = self.cleaned_data.get(name)
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(_("give a date between %(first)s and %(last)s")
                                  % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()})
        return day

    def clean(self):
        data = super().clean()
        for name in ("from", "to"):
            if name in data:
                try:
                    data[name] = self._clean_day(name)
                except ValidationError as exc:
                    self.add_error(name, exc)
        first, last = data.get("from"), data.get("to")
        if first and last and first > last:
            self.add_error("to", _("the end of the period is before its start"))
        return data

    # ----------------------------------------------------------------------------- outputs
    def api_params(self) -> QueryDict:
        """The cleaned filters as the query of `filters.CaseFilter` (the API's names)."""
        data = self.cleaned_data
        q = QueryDict(mutable=True)
        if self.node is not None:
            q["node"] = str(self.node.pk)
        for name in ("category", "matter"):
            if data.get(name):
                q[name] = data[name]
        for name in self.MULTI:
            if data.get(name):
                q.setlist(name, list(data[name]))
        if data.get("open") in ("0", "1"):
            q["open"] = "true" if data["open"] == "1" else "false"
        if data.get("department"):
            q["department"] = str(data["department"])
        tz = timezone.get_current_timezone()
        if data.get("from"):
            q["reported_after"] = dt.datetime.combine(data["from"], dt.time.min, tzinfo=tz).isoformat()
        if data.get("to"):
            end = data["to"] + dt.timedelta(days=1)
            q["reported_before"] = dt.datetime.combine(end, dt.time.min, tzinfo=tz).isoformat()
        return q

    def url_params(self) -> list[tuple[str, str]]:
        """The cleaned filters as URL parameters of the page (for its pages, export and queue links)."""
        data = self.cleaned_data
        out: list[tuple[str, str]] = []
        if data.get("cell_code"):
            out.append(("cell_code", data["cell_code"]))
        elif data.get("cell"):
            out.append(("cell", str(data["cell"])))
        for name in ("category", "matter", "open"):
            if data.get(name):
                out.append((name, data[name]))
        for name in self.MULTI:
            out += [(name, v) for v in data.get(name) or []]
        if data.get("department"):
            out.append(("department", str(data["department"])))
        for name in ("from", "to"):
            if data.get(name):
                out.append((name, data[name].isoformat()))
        return out

    def active_count(self) -> int:
        return len({k for k, _v in self.url_params()}) if self.is_bound and not self.errors else 0


# =========================================================================== action forms
class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos in one <input type=file multiple accept=image/*>; the services check each one."""

    def __init__(self, *args, limit: int = PHOTOS_MAX, **kwargs):
        self.limit = limit
        attrs = {"accept": "image/*"}
        if kwargs.pop("camera", False):
            attrs["capture"] = "environment"
        kwargs.setdefault("widget", MultipleFileInput(attrs=attrs))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(items) > self.limit:
            raise ValidationError(_("choose at most %(n)d photos") % {"n": self.limit})
        if not items and self.required:
            raise ValidationError(self.error_messages["required"], code="required")
        single = super().clean
        return [single(item, initial) for item in items]


class ActionForm(forms.Form):
    """One workflow action on one case: its inputs, the version of the case the user read (a newer one on
    the server is a conflict), and where to go afterwards."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    next = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)

    note_field = True  # actions without a reason take a free note
    # the inputs and evidence of the actions this form serves, as the registry lists them (`form_for`)
    shape: tuple[tuple[Input, ...], tuple[Evidence, ...]] = ((), ())

    def __init__(self, data=None, files=None, *, case: Case, user, action: str, **kwargs):
        super().__init__(data, files, **kwargs)
        self.case, self.user, self.action = case, user, action
        self.transition = TRANSITIONS[action]
        if self.transition.reason:
            self.fields["reason"] = forms.CharField(
                label=self.transition.reason_label or gettext_lazy("Reason"), max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3}))
        elif self.note_field:
            self.fields["note"] = forms.CharField(
                label=self.transition.note_label or gettext_lazy("Note (optional)"), max_length=2000,
                required=action == "comment", widget=forms.Textarea(attrs={"rows": 3}))
        self.setup()
        # the free text last, the hidden fields first
        order = ["version", "next"] + [n for n in self.fields if n not in ("version", "next", "reason", "note")]
        self.order_fields([*order, "reason", "note"])

    def setup(self) -> None:
        """Add the fields of the action's shape (the case and user are known)."""

    @property
    def has_files(self) -> bool:
        return any(isinstance(f, PhotosField) for f in self.fields.values())

    def inputs(self) -> dict:
        """The action's keyword inputs for `services.case_transition`."""
        data = self.cleaned_data
        out = {}
        if "reason" in self.fields:
            out["reason"] = data.get("reason", "")
        if "note" in self.fields:
            out["note"] = data.get("note", "")
        return out

    def run(self) -> Case:
        return case_transition(case=self.case, actor=self.user, action=self.action,
                               expected_version=self.cleaned_data["version"], **self.inputs())

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the service's errors on the fields they name (the others above the form)."""
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        else:
            self.add_error(None, exc.messages)


class SimpleForm(ActionForm):
    """Actions whose only input is a reason (when the table requires one) or a note."""


class RegisterForm(ActionForm):
    shape = (Input("matter"), Input("report_level"), Input("handling_mode")), ()

    def setup(self):
        catalogue = scheme_catalogue(self.case.scheme)
        groups, attrs = matter_choices([catalogue.pk] if catalogue else [])
        self.fields["matter"] = forms.ChoiceField(
            label=gettext_lazy("Matter"), choices=[("", _("choose the matter")), *groups],
            widget=SearchableSelect(option_attrs=attrs),
            help_text=gettext_lazy("Its category, time limits and handler follow from it."))
        self.fields["report_level"] = forms.ChoiceField(label=gettext_lazy("Report level"),
                                                        choices=ReportLevel.choices)
        self.fields["handling_mode"] = forms.ChoiceField(label=gettext_lazy("Handling mode"),
                                                         choices=HandlingMode.choices)
        self.initial.setdefault("matter", self.case.matter.code if self.case.matter_id else "")
        self.initial.setdefault("report_level", self.case.report_level)
        self.initial.setdefault("handling_mode", self.case.handling_mode)

    def inputs(self):
        data = self.cleaned_data
        return {**super().inputs(), "matter": data["matter"], "report_level": data["report_level"],
                "handling_mode": data["handling_mode"]}


class MergeForm(ActionForm):
    shape = (Input("into", required=True),), ()

    def setup(self):
        self.fields["into"] = forms.RegexField(
            label=gettext_lazy("Merge into case number"), regex=r"^([0-9]{8}-)?[0-9]{1,18}$", max_length=30,
            error_messages={"invalid": _("give a case number such as 20261203-0000042")},
            widget=forms.TextInput(attrs={"list": "merge-candidates", "inputmode": "numeric", "autocomplete": "off"}))
        rows = case_duplicates(self.case)
        visible = set(case_scope(Case.objects.filter(pk__in=[c.pk for c, _d in rows]), self.user)
                      .values_list("pk", flat=True))
        self.candidates = [(c, d) for c, d in rows if c.pk in visible]

    def inputs(self):
        return {**super().inputs(), "into": self.cleaned_data["into"].strip()}


def _assignee_value(assignee) -> str:
    if assignee is None:
        return ""
    if assignee.team is not None:
        return f"team:{assignee.team.pk}"
    if assignee.user is not None:
        return f"worker:{assignee.user.pk}"
    if assignee.node is not None:
        return f"community:{assignee.node.pk}"
    return ""


class AssigneeForm(ActionForm):
    shape = (Input("assignee"),), ()

    """Dispatch or re-route: a department's team, a grid worker in charge of the cell (or above it), the
    community; the routing rules' suggestion preselected."""

    def setup(self):
        case = self.case
        self.suggestion, self.suggestion_error = None, ""
        try:
            _rule, suggested = case_route(case)
            self.suggestion = suggested
        except ValidationError as exc:
            self.suggestion_error = " ".join(exc.messages)
        current = ""
        if case.assignee_team_id:
            current = f"team:{case.assignee_team_id}"
        elif case.assignee_user_id:
            current = f"worker:{case.assignee_user_id}"
        elif case.assignee_node_id:
            current = f"community:{case.assignee_node_id}"
        suggested_value = _assignee_value(self.suggestion)
        ancestors = [*case.node.ancestor_ids(), case.node.pk]
        nodes = Node.objects.filter(pk__in=ancestors).select_related("level").in_bulk()

        def label(value: str, text: str) -> str:
            marks = []
            if value == suggested_value:
                marks.append(_("suggested"))
            if value == current:
                marks.append(_("current handler"))
            return f"{text} ({', '.join(marks)})" if marks else text

        groups = []
        teams = (Team.objects.filter(department__scheme_id=case.scheme_id, department__active=True)
                 .select_related("department").order_by("department__key", "name"))
        by_dept: dict[int, tuple[str, list]] = {}
        for team in teams:
            by_dept.setdefault(team.department_id, (team.department.name, []))[1].append(
                (f"team:{team.pk}", label(f"team:{team.pk}", team_label(team))))
        for name, options in by_dept.values():
            groups.append((_("Department: %(name)s") % {"name": name}, options))
        workers = (Assignment.objects.current().filter(node_id__in=ancestors, role__category=RoleCategory.GRID_WORKER,
                                                       person__user__isnull=False, person__user__is_active=True)
                   .select_related("person__user", "node").order_by("-node__path", "person__name"))
        worker_options, seen = [], set()
        for a in workers:
            if a.person.user_id in seen:
                continue
            seen.add(a.person.user_id)
            value = f"worker:{a.person.user_id}"
            worker_options.append((value, label(value, f"{a.person.name} ({a.person.user.get_username()}) · "
                                                       f"{a.node.name}")))
        if worker_options:
            groups.append((_("Grid worker"), worker_options))
        community = [(f"community:{n.pk}", label(f"community:{n.pk}", f"{n.level.name} · {n.name}"))
                     for pk in ancestors if (n := nodes.get(pk)) is not None and not n.level.is_grid]
        if community:
            groups.append((_("Village / community"), list(reversed(community))))
        route_label = _("As the routing rules decide")
        if self.suggestion is not None:
            route_label = _("As the routing rules decide (now: %(who)s)") % {"who": assignee_label(self.suggestion)}
        self.fields["assignee"] = forms.ChoiceField(
            label=gettext_lazy("Handled by"), choices=[("route", route_label), *groups],
            help_text=self.suggestion_error or None)
        self.initial.setdefault("assignee", suggested_value or "route")
        self.order_fields(["assignee"])

    def inputs(self):
        value = self.cleaned_data["assignee"]
        spec = None
        if value != "route":
            kind, _sep, pk = value.partition(":")
            spec = {"team": {"kind": "DEPARTMENT", "team": int(pk)}, "worker": {"kind": "GRID_WORKER", "user": int(pk)},
                    "community": {"kind": "COMMUNITY", "node": int(pk)}}[kind]
        return {**super().inputs(), "assignee": spec}


def assignee_label(assignee) -> str:
    if assignee.team is not None:
        return team_label(assignee.team)
    if assignee.user is not None:
        person = getattr(assignee.user, "person", None)
        return f"{person.name} ({assignee.user.get_username()})" if person else assignee.user.get_username()
    if assignee.node is not None:
        return assignee.node.name
    return "—"


class ReportBackForm(ActionForm):
    shape = (), (Evidence("AFTER", Need.IF_MATTER_ASKS),)

    def setup(self):
        needs = bool(self.case.matter_id and self.case.matter.evidence_after)
        self.fields["after_photos"] = PhotosField(
            label=gettext_lazy("Photos after handling"), camera=True,
            help_text=(gettext_lazy("Required for this matter.") if needs else None))
        self.fields["photos"] = PhotosField(label=gettext_lazy("Other evidence (photos)"))

    def inputs(self):
        return {**super().inputs(), "after_photos": self.cleaned_data["after_photos"],
                "photos": self.cleaned_data["photos"]}


class SelfHandleForm(ActionForm):
    shape = (), (Evidence("BEFORE", Need.UNLESS_REPORT_PHOTO), Evidence("AFTER"))

    def setup(self):
        has_report_photo = self.case.attachments.filter(purpose="REPORT").exists()
        self.fields["before_photos"] = PhotosField(
            label=gettext_lazy("Photos before handling"), camera=True,
            help_text=(gettext_lazy("The photo of the report counts as the photo before.") if has_report_photo
                       else None))
        self.fields["after_photos"] = PhotosField(label=gettext_lazy("Photos after handling"), camera=True)

    def inputs(self):
        return {**super().inputs(), "before_photos": self.cleaned_data["before_photos"],
                "after_photos": self.cleaned_data["after_photos"]}


class PartialForm(ActionForm):
    shape = (), (Evidence("BEFORE"),)

    def setup(self):
        self.fields["before_photos"] = PhotosField(label=gettext_lazy("Photos of what you handled"), camera=True)

    def inputs(self):
        return {**super().inputs(), "before_photos": self.cleaned_data["before_photos"]}


class ExtensionForm(ActionForm):
    shape = (Input("amount", required=True), Input("unit", required=True)), ()

    def setup(self):
        self.fields["amount"] = forms.DecimalField(label=gettext_lazy("Extra time"), min_value=Decimal("0.01"),
                                                   max_value=10000, max_digits=7, decimal_places=2)
        self.fields["unit"] = forms.ChoiceField(label=gettext_lazy("Unit"), choices=LimitUnit.choices,
                                                initial=LimitUnit.WORKING_DAYS)
        self.order_fields(["amount", "unit"])

    def inputs(self):
        return {**super().inputs(), "amount": self.cleaned_data["amount"], "unit": self.cleaned_data["unit"]}


class WhistleForm(ActionForm):
    shape = (Input("depth"), Input("departments")), ()

    def setup(self):
        case = self.case
        current = case.escalation_depth if case.escalation_depth is not None else case.node.level.depth
        above = (Node.objects.filter(pk__in=case.node.ancestor_ids(), level__depth__lt=current)
                 .select_related("level").order_by("-level__depth"))
        self.fields["depth"] = forms.TypedChoiceField(
            label=gettext_lazy("Raise to"), coerce=int, required=False, empty_value=None,
            choices=[("", _("one level up"))] + [(str(n.level.depth), f"{n.level.name} · {n.name}") for n in above])
        departments = Department.objects.filter(scheme_id=case.scheme_id, active=True).order_by("key")
        self.fields["departments"] = forms.MultipleChoiceField(
            label=gettext_lazy("Departments that must report in"), required=False,
            choices=[(d.key, d.name) for d in departments], widget=forms.CheckboxSelectMultiple)
        self.order_fields(["depth", "departments"])

    def inputs(self):
        return {**super().inputs(), "depth": self.cleaned_data["depth"],
                "departments": list(self.cleaned_data["departments"])}


SATISFACTION = [("5", gettext_lazy("5 · very satisfied")), ("4", gettext_lazy("4 · satisfied")),
                ("3", gettext_lazy("3 · acceptable")), ("2", gettext_lazy("2 · dissatisfied")),
                ("1", gettext_lazy("1 · very dissatisfied"))]


class EvaluateForm(ActionForm):
    shape = (Input("satisfaction", required=True),), ()
    note_field = False

    def setup(self):
        below = policy_for(self.case.scheme).dissatisfied_below
        self.fields["satisfaction"] = forms.TypedChoiceField(
            label=gettext_lazy("Satisfaction"), choices=SATISFACTION, coerce=int, widget=forms.RadioSelect,
            help_text=_("A score below %(n)s reopens the case.") % {"n": below})
        self.fields["reason"] = forms.CharField(label=gettext_lazy("Comment (optional; say why when dissatisfied)"),
                                                required=False, max_length=2000,
                                                widget=forms.Textarea(attrs={"rows": 3}))

    def run(self) -> Case:
        data = self.cleaned_data
        return case_evaluate(case=self.case, actor=self.user, satisfaction=data["satisfaction"],
                             reason=data.get("reason", ""), expected_version=data["version"])


class ReopenForm(ActionForm):
    shape = (Input("satisfaction"),), ()

    def setup(self):
        self.fields["satisfaction"] = forms.TypedChoiceField(
            label=gettext_lazy("Satisfaction (optional)"), choices=SATISFACTION, coerce=int, required=False,
            empty_value=None, widget=forms.RadioSelect)

    def inputs(self):
        return {**super().inputs(), "satisfaction": self.cleaned_data.get("satisfaction")}


# actions only the system takes: no page offers them
SYSTEM_ACTIONS = frozenset(t.action for t in TRANSITIONS.values() if t.holders == ("SYSTEM",))
FORMS = (SimpleForm, RegisterForm, MergeForm, AssigneeForm, ReportBackForm, SelfHandleForm, PartialForm,
         ExtensionForm, WhistleForm, EvaluateForm, ReopenForm)


def form_for(t: Transition) -> type[ActionForm]:
    """The page form of an action: the one whose shape is the action's inputs and evidence."""
    return next(f for f in FORMS if f.shape == (t.fields, t.evidence))


# every action a person takes on the pages has the form its registry entry asks for
ACTION_FORMS: dict[str, type[ActionForm]] = {t.action: form_for(t) for t in TABLE if t.action not in SYSTEM_ACTIONS}

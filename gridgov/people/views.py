"""Pages of base data (login required): the figures of a cell with drill-down, lists of its residents,
households, houses and units, the detail of one record with its history, and the reveal of personal data.

Every page reads through the `*_scope` selectors: a cell or record outside the user's territory is a 404.
Personal fields are shown masked; the clear values are only ever in the response to a reveal (a POST that
states a purpose and is logged). Nothing personal goes into a URL: filters are on non-personal fields only,
and the exact search by ID number or phone is a POST. Every response says `Cache-Control: no-store`.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from gridgov.accounts.display import user_label
from gridgov.accounts.selectors import user_scope_paths
from gridgov.core.api import client_address
from gridgov.people.history import SKIP, record_as_of, record_history
from gridgov.people.models import (
    Gender,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordState,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.search import SearchThrottled, resident_search
from gridgov.people.selectors import (
    entity_scope,
    house_scope,
    household_scope,
    membership_visible,
    record_scope,
    resident_scope,
)
from gridgov.people.stats import cell_figures, cell_stats, current_q
from gridgov.privacy.access import (
    PERSONAL_FIELDS,
    SEALED,
    can_reveal,
    derived_visible,
    masked_value,
    personal_data_reveal,
    reveal_paths,
)
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope

PAGE_SIZE = 50
RECORD_MODELS = {"resident": Resident, "household": Household, "house": House, "legalentity": LegalEntity}
DETAIL_URLS = {"resident": "people:resident", "household": "people:household", "house": "people:house",
               "legalentity": "people:entity"}


def _page(view):
    """Logged in, and never cached anywhere (every page here is about people)."""
    return login_required(never_cache(view))


# --------------------------------------------------------------------------------------------- helpers

def _cell(request, node_id: int) -> Node:
    return get_object_or_404(node_scope(Node.objects.select_related("level", "scheme"), request.user), pk=node_id)


def _chain(node: Node, user) -> list[Node]:
    """The node's ancestors the user may see, top first (the breadcrumb stops at the top of their scope)."""
    ancestors = node_scope(Node.objects.filter(pk__in=node.ancestor_ids()), user)
    return sorted(ancestors, key=lambda n: n.path.count("/"))


def _record(request, model, pk: int):
    qs = record_scope(model.objects.select_related("node", "node__level"), request.user)
    return get_object_or_404(qs, pk=pk)


def _field_label(model, name: str) -> str:
    if name in SEALED:
        name = f"{SEALED[name]}_masked"
    return str(model._meta.get_field(name).verbose_name)


def _personal_rows(record) -> list[dict]:
    model = type(record)
    return [{"field": f, "label": capfirst(_field_label(model, f)), "value": masked_value(record, f)}
            for f in PERSONAL_FIELDS.get(model._meta.model_name, ())]


def _changed_labels(model, changed: list[str]) -> list[str]:
    """Field names of a history row as labels; a sealed field's three columns read as one."""
    labels: list[str] = []
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    for name in changed:
        for personal, prefix in SEALED.items():
            if name.startswith(f"{prefix}_") and name.rsplit("_", 1)[-1] in ("sealed", "digest", "masked"):
                name = personal
                break
        field = by_attname.get(name)
        label = _field_label(model, name) if name in SEALED else str(field.verbose_name if field else name)
        if label not in labels:
            labels.append(label)
    return labels


def _history(record) -> list[dict]:
    model = type(record)
    return [{"at": h.at, "actor": user_label(h.actor), "action": h.get_action_display(), "source": h.source,
             "changed": _changed_labels(model, h.changed), "version": h.version}
            for h in record_history(record).select_related("actor__person").order_by("-version")]


# what a resident's ID number encodes beyond its mask (`access.derived_visible`)
DERIVED = {"birth_date"}


def _snapshot_rows(model, snapshot: dict, *, derived: bool = False) -> list[dict]:
    """A past state of a record as label / value rows, personal fields masked, sealed columns left out, and
    the birth date only when `derived` (the viewer may reveal in the record's cell)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    instance = model(**{k: v for k, v in snapshot.items() if k in fields})
    personal = PERSONAL_FIELDS.get(model._meta.model_name, ())
    hidden = {f"{p}_{s}" for p in SEALED.values() for s in ("sealed", "digest")} | {"scheme_id", "attributes"}
    if not derived:
        hidden |= DERIVED
    rows = []
    for attname, field in fields.items():
        if field.name in SKIP or attname in hidden or attname not in snapshot:
            continue
        value = snapshot[attname]
        if field.name in personal:
            value = masked_value(instance, field.name)
        elif field.is_relation and value is not None:
            related = field.related_model.objects.filter(pk=value).first()
            value = str(related) if related is not None else f"#{value}"
        elif field.choices and value not in (None, ""):
            value = dict(field.flatchoices).get(value, value)
        elif isinstance(value, bool):
            value = _("yes") if value else _("no")
        rows.append({"label": str(field.verbose_name), "value": "" if value is None else value})
    return rows


def _as_of(request, record) -> dict:
    """The ?as_of=YYYY-MM-DD part of a detail page: the record as it stood at the end of that day."""
    raw = request.GET.get("as_of", "")
    if not raw:
        return {}
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return {"as_of_error": _("Give the date as YYYY-MM-DD.")}
    row = record_as_of(type(record), record.pk, day)
    return {"as_of": day, "as_of_row": row,
            "as_of_rows": _snapshot_rows(type(record), row.snapshot, derived=derived_visible(request.user, record))
            if row is not None else []}


def _detail_context(request, record, **extra) -> dict:
    rtype = record._meta.model_name
    return {
        "record": record,
        "record_type": rtype,
        "node": record.node,
        "chain": _chain(record.node, request.user),
        "personal": _personal_rows(record),
        "may_reveal": can_reveal(request.user, record.node),
        "history": _history(record),
        **_as_of(request, record),
        **extra,
    }


def _query(params: dict) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "", False)}
    return "?" + urlencode(clean) if clean else ""


# ------------------------------------------------------------------------------------------ cells

@require_safe
@_page
def index(request):
    """The top cells of the user's territory with their figures."""
    paths = user_scope_paths(request.user)
    qs = Node.objects.current().select_related("level", "scheme")
    tops = list(qs.filter(parent__isnull=True) if paths is None else qs.filter(path__in=paths))
    tops.sort(key=lambda n: (n.scheme.key, n.path.count("/"), n.code, n.name))
    cells = [(n, cell_stats(node=n, user=request.user)) for n in tops]
    return render(request, "people/index.html", {"cells": cells})


FIGURE_LINKS = [
    # (figure, label, list, query)
    ("residents", gettext_lazy("Residents"), "people:residents", {}),
    ("residents_registered", gettext_lazy("registered here"), "people:residents", {"registered": "yes"}),
    ("residents_actual", gettext_lazy("actually living here"), "people:residents", {"actual": "yes"}),
    ("households", gettext_lazy("Households"), "people:households", {}),
    ("paired_households", gettext_lazy("paired with a party member"), "people:households", {"paired": "yes"}),
    ("houses", gettext_lazy("Houses"), "people:houses", {}),
    ("houses_owner", gettext_lazy("owner-occupied"), "people:houses", {"occupancy": Occupancy.OWNER}),
    ("houses_rented", gettext_lazy("rented"), "people:houses", {"occupancy": Occupancy.RENTED}),
    ("houses_vacant", gettext_lazy("vacant"), "people:houses", {"occupancy": Occupancy.VACANT}),
    ("buildings", gettext_lazy("Buildings"), None, {}),
    ("entities", gettext_lazy("Legal entities"), "people:entities", {}),
    ("party_members", gettext_lazy("Party members"), "people:residents", {"party": "yes"}),
    ("volunteers", gettext_lazy("Volunteers"), "people:residents", {"volunteer": "yes"}),
]
CHILD_COLUMNS = ["residents", "residents_registered", "residents_actual", "households", "houses", "entities",
                 "party_members", "volunteers"]


def _figure_rows(node: Node, figures: dict, groups: list[SpecialGroup], *,
                 may_reveal: bool) -> tuple[list[dict], list[dict]]:
    rows, group_rows = [], []
    for figure, label, list_name, query in FIGURE_LINKS:
        url = reverse(list_name, args=[node.pk]) + _query(query) if list_name else None
        rows.append({"label": label, "value": figures[figure], "url": url,
                     "sub": figure not in ("residents", "households", "houses", "buildings", "entities",
                                           "party_members", "volunteers")})
    for group in groups:
        url = (reverse("people:residents", args=[node.pk]) + _query({"group": group.key})
               if may_reveal or not group.sensitive else None)
        group_rows.append({"label": group.name, "value": figures["groups"].get(group.key, 0), "url": url})
    return rows, group_rows


@require_safe
@_page
def cell(request, node_id: int):
    """A cell's figures and the drill-down table of its children in force."""
    node = _cell(request, node_id)
    figures, children = cell_figures(node=node, user=request.user)
    groups = list(SpecialGroup.objects.order_by("order", "key"))
    labels = {figure: label for figure, label, _list, _q in FIGURE_LINKS}
    child_rows = []
    for child, child_figures in children:
        links = {figure: url for figure, _label, url_name, query in FIGURE_LINKS
                 if url_name and (url := reverse(url_name, args=[child.pk]) + _query(query))}
        child_rows.append({"node": child, "cells": [{"value": child_figures[c], "url": links.get(c)}
                                                    for c in CHILD_COLUMNS]})
    rows, group_rows = _figure_rows(node, figures, groups, may_reveal=can_reveal(request.user, node))
    return render(request, "people/cell.html", {
        "node": node,
        "chain": _chain(node, request.user),
        "figures": rows,
        "group_figures": group_rows,
        "columns": [labels[c] for c in CHILD_COLUMNS],
        "children": child_rows,
    })


# ------------------------------------------------------------------------------------------ lists

YES_NO = [("", gettext_lazy("any")), ("yes", gettext_lazy("yes")), ("no", gettext_lazy("no"))]
ANY_STATE = "all"


def _state_choices(kind: str):
    from gridgov.people.models import STATES_BY_MODEL

    states = [RecordState.ACTIVE, *sorted(STATES_BY_MODEL[kind])]
    return [(s.value, s.label) for s in states] + [(ANY_STATE, gettext_lazy("any state"))]


class ListFilter(forms.Form):
    """Filters of a list, on non-personal fields only (they end up in the URL)."""

    kind = ""

    def __init__(self, data, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["state"] = forms.ChoiceField(label=_("State"), choices=_state_choices(self.kind), required=False)

    def params(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if value}

    def apply(self, qs):
        state = self.cleaned_data.get("state") or RecordState.ACTIVE
        return qs if state == ANY_STATE else qs.filter(state=state)


def _yes_no(qs, value: str, q: Q):
    if value == "yes":
        return qs.filter(q)
    if value == "no":
        return qs.exclude(q)
    return qs


class ResidentFilter(ListFilter):
    kind = "resident"
    registered = forms.ChoiceField(label=gettext_lazy("Registered here"), choices=YES_NO, required=False)
    actual = forms.ChoiceField(label=gettext_lazy("Actually living here"), choices=YES_NO, required=False)
    gender = forms.ChoiceField(label=gettext_lazy("Gender"), choices=[("", gettext_lazy("any")), *Gender.choices],
                               required=False)
    group = forms.ChoiceField(label=gettext_lazy("Special group"), required=False)
    party = forms.ChoiceField(label=gettext_lazy("Party member"), choices=YES_NO, required=False)
    volunteer = forms.ChoiceField(label=gettext_lazy("Volunteer"), choices=YES_NO, required=False)

    def __init__(self, data, *, may_reveal: bool, **kwargs):
        super().__init__(data, **kwargs)
        # members of a sensitive group are listed only to users who may reveal in the cell
        groups = SpecialGroup.objects.order_by("order", "key")
        if not may_reveal:
            groups = groups.filter(sensitive=False)
        self.fields["group"].choices = [("", _("any")), *((g.key, g.name) for g in groups)]

    def apply(self, qs):
        qs = super().apply(qs)
        data = self.cleaned_data
        today = timezone.localdate()
        qs = _yes_no(qs, data.get("registered"), Q(registered_here=True))
        qs = _yes_no(qs, data.get("actual"), Q(living_here=True))
        if data.get("gender"):
            qs = qs.filter(gender=data["gender"])
        if data.get("group"):
            qs = qs.filter(Exists(GroupMembership.objects.filter(current_q(today), resident=OuterRef("pk"),
                                                                 group__key=data["group"])))
        qs = _yes_no(qs, data.get("party"), Q(Exists(PartyMember.objects.filter(current_q(today),
                                                                                  resident=OuterRef("pk")))))
        return _yes_no(qs, data.get("volunteer"), Q(Exists(Volunteer.objects.filter(current_q(today),
                                                                                      resident=OuterRef("pk")))))


class HouseholdFilter(ListFilter):
    kind = "household"
    household_kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False,
                                       choices=[("", gettext_lazy("any")), *Household.Kind.choices])
    paired = forms.ChoiceField(label=gettext_lazy("Paired with a party member"), choices=YES_NO, required=False)

    def apply(self, qs):
        qs = super().apply(qs)
        if self.cleaned_data.get("household_kind"):
            qs = qs.filter(kind=self.cleaned_data["household_kind"])
        pairing = HouseholdPairing.objects.filter(current_q(timezone.localdate()), household=OuterRef("pk"))
        return _yes_no(qs, self.cleaned_data.get("paired"), Q(Exists(pairing)))


class HouseFilter(ListFilter):
    kind = "house"
    occupancy = forms.ChoiceField(label=gettext_lazy("Occupancy"), choices=[("", gettext_lazy("any")),
                                                                            *Occupancy.choices], required=False)

    def apply(self, qs):
        qs = super().apply(qs)
        return qs.filter(occupancy=self.cleaned_data["occupancy"]) if self.cleaned_data.get("occupancy") else qs


class EntityFilter(ListFilter):
    kind = "legalentity"


def _list(request, node: Node, *, kind: str, qs, filter_form: ListFilter, title: str, extra: dict | None = None):
    if filter_form.is_valid():
        qs = filter_form.apply(qs)
        params = filter_form.params()
    else:
        qs, params = qs.none(), {}
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"record": r, "personal": {f: masked_value(r, f) for f in PERSONAL_FIELDS[kind]}} for r in page]
    return render(request, f"people/list_{kind}.html", {
        "node": node, "chain": _chain(node, request.user), "title": title, "filter": filter_form, "page": page,
        "rows": rows, "query": urlencode(params), "list_kind": kind, **(extra or {}),
    })


class SearchForm(forms.Form):
    """Exact search by ID number or phone: posted, never in a URL, never echoed back; with the purpose
    it is logged under (`search.resident_search`)."""

    by = forms.ChoiceField(label=gettext_lazy("Search by"), choices=[("id_number", gettext_lazy("ID number")),
                                                                     ("phone", gettext_lazy("phone"))])
    value = forms.CharField(label=gettext_lazy("Number"), max_length=40,
                            widget=forms.TextInput(attrs={"autocomplete": "off"}))
    purpose = forms.CharField(label=gettext_lazy("Purpose"), max_length=300, required=False,
                              help_text=gettext_lazy("Why you search (it is logged)"),
                              widget=forms.TextInput(attrs={"autocomplete": "off", "size": 30}))


def _residents_qs(request, node: Node):
    return (resident_scope(Resident.objects.filter(node__path__startswith=node.path), request.user)
            .select_related("node", "household").order_by("pk"))


@require_http_methods(["GET", "HEAD", "POST"])
@_page
def residents(request, node_id: int):
    """Residents of a cell subtree (GET, filtered), or the exact search by ID number / phone (POST; only for
    users who may reveal personal data, among the residents of the cells where they may)."""
    node = _cell(request, node_id)
    may_reveal = can_reveal(request.user, node)
    may_search = reveal_paths(request.user) != []
    qs = _residents_qs(request, node)
    found, search_errors, by, purpose, status = None, [], "id_number", "", 200
    if request.method == "POST":
        posted = SearchForm(request.POST)
        if not may_search:
            raise PermissionDenied(_("your role may not reveal personal data, so it may not search by ID number, "
                                     "phone or name either: find the resident through the lists"))
        if posted.is_valid():
            by, purpose = posted.cleaned_data["by"], posted.cleaned_data["purpose"]
            try:
                result = resident_search(user=request.user, qs=qs, by=by, value=posted.cleaned_data["value"],
                                         purpose=purpose, remote_addr=client_address(request), limit=PAGE_SIZE)
            except SearchThrottled as exc:
                search_errors, status = [str(exc.args[0])], 429
            except ValidationError as exc:
                search_errors, status = exc.messages, 400
            else:
                found = [{"record": r, "personal": {f: masked_value(r, f) for f in PERSONAL_FIELDS["resident"]}}
                         for r in result.rows]
        else:
            search_errors, status = [m for errors in posted.errors.values() for m in errors], 400
    # the form comes back without the number: the number searched for is never sent back in the page
    search = SearchForm(initial={"by": by, "purpose": purpose})
    response = _list(request, node, kind="resident", qs=qs, title=_("Residents"),
                     filter_form=ResidentFilter(request.GET, may_reveal=may_reveal),
                     extra={"search": search, "may_search": may_search, "found": found,
                            "search_errors": search_errors})
    response.status_code = status
    return response


@require_safe
@_page
def households(request, node_id: int):
    node = _cell(request, node_id)
    qs = (household_scope(Household.objects.filter(node__path__startswith=node.path), request.user)
          .select_related("node", "house")
          .annotate(member_count=Count("members", filter=Q(members__state=RecordState.ACTIVE))).order_by("pk"))
    return _list(request, node, kind="household", qs=qs, title=_("Households"), filter_form=HouseholdFilter(request.GET))


@require_safe
@_page
def houses(request, node_id: int):
    node = _cell(request, node_id)
    qs = (house_scope(House.objects.filter(node__path__startswith=node.path), request.user)
          .select_related("node", "building").order_by("pk"))
    return _list(request, node, kind="house", qs=qs, title=_("Houses"), filter_form=HouseFilter(request.GET))


@require_safe
@_page
def entities(request, node_id: int):
    node = _cell(request, node_id)
    qs = (entity_scope(LegalEntity.objects.filter(node__path__startswith=node.path), request.user)
          .select_related("node").order_by("pk"))
    return _list(request, node, kind="legalentity", qs=qs, title=_("Legal entities"),
                 filter_form=EntityFilter(request.GET))


# ----------------------------------------------------------------------------------------- details

def _members(request, household: Household) -> list[dict]:
    members = resident_scope(Resident.objects.filter(household=household), request.user).order_by("state", "pk")
    return [{"record": m, "name": masked_value(m, "name"), "id_number": masked_value(m, "id_number")}
            for m in members]


@require_safe
@_page
def resident_detail(request, pk: int):
    resident = _record(request, Resident, pk)
    memberships = (membership_visible(GroupMembership.objects.filter(resident=resident), request.user)
                   .select_related("group").order_by("-start_date"))
    household = None
    if resident.household_id and household_scope(Household.objects.filter(pk=resident.household_id),
                                                 request.user).exists():
        household = resident.household
    return render(request, "people/resident.html", _detail_context(
        request, resident,
        masked_name=masked_value(resident, "name"),
        household=household,
        members=_members(request, household) if household else [],
        memberships=list(memberships),
        party_member=PartyMember.objects.filter(resident=resident).select_related("branch_node").first(),
        volunteer=Volunteer.objects.filter(resident=resident).select_related("node").first(),
        today=timezone.localdate(),
    ))


@require_safe
@_page
def household_detail(request, pk: int):
    household = _record(request, Household, pk)
    pairings = (HouseholdPairing.objects.filter(household=household).select_related("member__resident")
                .order_by("-start_date"))
    return render(request, "people/household.html", _detail_context(
        request, household,
        members=_members(request, household),
        pairings=[{"pairing": p, "name": masked_value(p.member.resident, "name")} for p in pairings],
    ))


@require_safe
@_page
def house_detail(request, pk: int):
    house = _record(request, House, pk)
    dwellers = resident_scope(Resident.objects.filter(house=house), request.user).order_by("state", "pk")
    return render(request, "people/house.html", _detail_context(
        request, house,
        households=household_scope(Household.objects.filter(house=house), request.user).order_by("pk"),
        residents=[{"record": r, "name": masked_value(r, "name"), "id_number": masked_value(r, "id_number")}
                   for r in dwellers],
    ))


@require_safe
@_page
def entity_detail(request, pk: int):
    entity = _record(request, LegalEntity, pk)
    return render(request, "people/entity.html", _detail_context(request, entity))


# ------------------------------------------------------------------------------------------ reveal

class RevealForm(forms.Form):
    purpose = forms.CharField(label=gettext_lazy("Purpose"), max_length=300,
                              help_text=gettext_lazy("Why you need to see this personal data (it is logged)"),
                              widget=forms.TextInput(attrs={"autocomplete": "off", "size": 40}))
    which = forms.MultipleChoiceField(label=gettext_lazy("Fields to reveal"), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, record, **kwargs):
        super().__init__(*args, **kwargs)
        names = PERSONAL_FIELDS[record._meta.model_name]
        self.fields["which"].choices = [(f, _field_label(type(record), f)) for f in names]
        self.fields["which"].initial = list(names)


@require_http_methods(["GET", "HEAD", "POST"])
@_page
def reveal(request, record_type: str, pk: int):
    """GET: the form (purpose, fields). POST: log the reveal and answer the clear values, as a fragment for
    htmx or as a page. Only users whose role may reveal in the record's cell; everyone else gets 403."""
    model = RECORD_MODELS.get(record_type)
    if model is None:
        raise Http404
    record = _record(request, model, pk)
    if not can_reveal(request.user, record.node):
        raise PermissionDenied(_("your role may not reveal personal data in this cell"))
    fragment = request.headers.get("HX-Request") == "true"
    form = RevealForm(request.POST or None, record=record)
    context = {"record": record, "record_type": record_type, "form": form, "fragment": fragment,
               "node": record.node, "chain": _chain(record.node, request.user),
               "detail_url": reverse(DETAIL_URLS[record_type], args=[record.pk])}
    if request.method == "POST" and form.is_valid():
        try:
            values = personal_data_reveal(user=request.user, record=record, fields=form.cleaned_data["which"],
                                          purpose=form.cleaned_data["purpose"],
                                          remote_addr=client_address(request))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error({"fields": "which"}.get(field, field) if field in ("purpose", "fields") else None, errors)
        else:
            context["revealed"] = [{"label": _field_label(model, f), "value": v} for f, v in values.items()]
    return render(request, "people/reveal.html" if not fragment else "people/_reveal.html", context)


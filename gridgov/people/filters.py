"""List filters of base data, shared by the API lists and the exports (an export takes the same filters
as the list it comes from).

Only non-personal fields are filtered on: a name, ID number or phone never travels in a URL (it would
end up in access logs, browser history and proxies); those searches are POSTed (`residents/search/`).
`cell` takes a node id and matches its whole subtree (by path prefix).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters

from gridgov.accounts.selectors import paths_q
from gridgov.core.filters import IdFilter
from gridgov.people.models import (
    Building,
    Gender,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordState,
    Relation,
    Resident,
    Volunteer,
)
from gridgov.people.selectors import membership_visible
from gridgov.privacy.access import reveal_paths
from gridgov.privacy.models import AccessKind, AccessLog
from gridgov.territory.models import Node

# query parameters refused outright: personal data must not be put in a URL
PERSONAL_QUERY_PARAMS = frozenset({
    "name", "id_number", "idnumber", "id_card", "phone", "mobile", "address", "registered_address",
    "actual_address", "representative",
})


def personal_query_refuse(params) -> None:
    """A 400 naming the parameter when a query string carries a personal field."""
    for key in params:
        if key.lower() in PERSONAL_QUERY_PARAMS:
            raise ValidationError({key: _("personal data is never searched through the URL: POST it to "
                                          "/api/people/residents/search/")})


class YearField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1850)
        kwargs.setdefault("max_value", 2200)
        super().__init__(*args, **kwargs)


class YearFilter(filters.NumberFilter):
    field_class = YearField


class CellFilter(IdFilter):
    """A node id: rows in that cell or anywhere below it."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        path = Node.objects.filter(pk=value).values_list("path", flat=True).first()
        if path is None:
            return qs.none()
        return qs.filter(**{f"{self.field_name}__startswith": path})


class ScopedFilterSet(filters.FilterSet):
    """A filter set that knows the user it filters for (from the request, or given by an export)."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, user=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.user = user if user is not None else getattr(request, "user", None)


class RecordFilter(ScopedFilterSet):
    scheme = filters.CharFilter(field_name="scheme__key", max_length=40)
    cell = CellFilter(field_name="node__path")
    state = filters.ChoiceFilter(choices=RecordState.choices)


class ResidentFilter(RecordFilter):
    registered_here = filters.BooleanFilter()
    living_here = filters.BooleanFilter()
    gender = filters.ChoiceFilter(choices=Gender.choices)
    relation = filters.ChoiceFilter(choices=Relation.choices)
    group = filters.CharFilter(method="filter_group", max_length=40,
                               help_text="special-group key: residents in that group today")
    party = filters.BooleanFilter(method="filter_party", help_text="true: a registered party member today")
    volunteer = filters.BooleanFilter(method="filter_volunteer", help_text="true: a volunteer registered today")
    household = IdFilter(field_name="household_id")
    house = IdFilter(field_name="house_id")
    birth_year_min = YearFilter(method="filter_birth_year_min")
    birth_year_max = YearFilter(method="filter_birth_year_max")

    class Meta:
        model = Resident
        fields = ["scheme", "cell", "state", "registered_here", "living_here", "gender", "relation", "group",
                  "party", "volunteer", "household", "house", "birth_year_min", "birth_year_max"]

    # group, party and volunteer read registrations running today, the rule of the figures and of the list
    # pages (gridgov/people/views.py), so that an export holds exactly the rows the page listed
    def filter_group(self, qs, _name, value):
        # a sensitive group filters only among the residents whose membership the user may see
        memberships = membership_visible(
            GroupMembership.objects.filter(open_on(timezone.localdate()), group__key=value), self.user)
        return qs.filter(pk__in=memberships.values("resident_id"))

    def filter_party(self, qs, _name, value):
        running = Exists(PartyMember.objects.filter(open_on(timezone.localdate()), resident=OuterRef("pk")))
        return qs.filter(running) if value else qs.exclude(running)

    def filter_volunteer(self, qs, _name, value):
        running = Exists(Volunteer.objects.filter(open_on(timezone.localdate()), resident=OuterRef("pk")))
        return qs.filter(running) if value else qs.exclude(running)

    # a birth year is what the ID number's mask hides: filtering on it would tell a user who may not reveal
    # the hidden digits one query at a time, so it filters only among residents of the cells where the
    # user may reveal (`access.derived_visible`), and is refused to users who may reveal nowhere
    def _revealable(self, qs, name):
        paths = reveal_paths(self.user)
        if paths == []:
            raise ValidationError({name: _("filtering by birth year needs a role that may reveal personal data")})
        return qs if paths is None else qs.filter(paths_q(paths, "node__path"))

    def filter_birth_year_min(self, qs, name, value):
        return self._revealable(qs, name).filter(birth_date__gte=dt.date(int(value), 1, 1))

    def filter_birth_year_max(self, qs, name, value):
        return self._revealable(qs, name).filter(birth_date__lte=dt.date(int(value), 12, 31))


class HouseholdFilter(RecordFilter):
    kind = filters.ChoiceFilter(choices=Household.Kind.choices)
    house = IdFilter(field_name="house_id")
    paired = filters.BooleanFilter(method="filter_paired", help_text="true: paired with a party member today")

    class Meta:
        model = Household
        fields = ["scheme", "cell", "state", "kind", "house", "paired"]

    def filter_paired(self, qs, _name, value):
        running = Exists(HouseholdPairing.objects.filter(open_on(timezone.localdate()), household=OuterRef("pk")))
        return qs.filter(running) if value else qs.exclude(running)


class HouseFilter(RecordFilter):
    occupancy = filters.ChoiceFilter(choices=Occupancy.choices)
    building = IdFilter(field_name="building_id")

    class Meta:
        model = House
        fields = ["scheme", "cell", "state", "occupancy", "building"]


class BuildingFilter(RecordFilter):
    class Meta:
        model = Building
        fields = ["scheme", "cell", "state"]


class EntityFilter(RecordFilter):
    industry = filters.CharFilter(max_length=100)
    dedicated_node = IdFilter(field_name="dedicated_node_id")

    class Meta:
        model = LegalEntity
        fields = ["scheme", "cell", "state", "industry", "dedicated_node"]


class CurrentFilterMixin(ScopedFilterSet):
    current = filters.BooleanFilter(method="filter_current", help_text="true: not ended; false: ended")

    def filter_current(self, qs, _name, value):
        return qs.filter(end_date__isnull=value)


class MembershipFilter(CurrentFilterMixin):
    scheme = filters.CharFilter(field_name="resident__scheme__key", max_length=40)
    cell = CellFilter(field_name="resident__node__path")
    group = filters.CharFilter(field_name="group__key", max_length=40)
    resident = IdFilter(field_name="resident_id")
    resident_state = filters.ChoiceFilter(field_name="resident__state", choices=RecordState.choices)

    class Meta:
        model = GroupMembership
        fields = ["scheme", "cell", "group", "resident", "resident_state", "current"]


class PartyMemberFilter(CurrentFilterMixin):
    cell = CellFilter(field_name="resident__node__path")
    branch = CellFilter(field_name="branch_node__path", help_text="party branch cell (and below)")
    resident = IdFilter(field_name="resident_id")

    class Meta:
        model = PartyMember
        fields = ["cell", "branch", "resident", "current"]


class VolunteerFilter(CurrentFilterMixin):
    cell = CellFilter(field_name="node__path")
    resident = IdFilter(field_name="resident_id")

    class Meta:
        model = Volunteer
        fields = ["cell", "resident", "current"]


class AccessLogFilter(ScopedFilterSet):
    kind = filters.ChoiceFilter(choices=AccessKind.choices)
    user = IdFilter(field_name="user_id")
    record_type = filters.CharFilter(max_length=40)
    record_id = IdFilter()
    cell = CellFilter(field_name="node__path")
    since = filters.DateFilter(field_name="at", lookup_expr="date__gte")
    until = filters.DateFilter(field_name="at", lookup_expr="date__lte")

    class Meta:
        model = AccessLog
        fields = ["kind", "user", "record_type", "record_id", "cell", "since", "until"]


FILTERS_BY_TYPE: dict[str, type[ScopedFilterSet]] = {
    "resident": ResidentFilter,
    "household": HouseholdFilter,
    "house": HouseFilter,
    "building": BuildingFilter,
    "legalentity": EntityFilter,
    "groupmembership": MembershipFilter,
}


def filtered(filterset_class: type[ScopedFilterSet], qs: QuerySet, data: dict, *, user) -> QuerySet:
    """`qs` filtered by `data` (a dict of filter names → values); invalid values are a ValidationError
    keyed by the filter's name, unknown names too."""
    unknown = sorted(set(data) - set(filterset_class.base_filters))
    if unknown:
        raise ValidationError({unknown[0]: _("not a filter of this list")})
    fs = filterset_class({k: v for k, v in data.items() if v not in (None, "")}, qs, user=user)
    if not fs.is_valid():
        raise ValidationError({name: list(errors) for name, errors in fs.errors.items()})
    return fs.qs


def open_on(on: dt.date, prefix: str = "") -> Q:
    """Registrations running on day `on` (the same rule as the figures)."""
    return Q(**{f"{prefix}start_date__lte": on}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gt": on}))

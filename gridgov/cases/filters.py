"""List filters of cases (/api/cases/ and the inbox). Only non-personal fields are filtered on; `node`
takes a cell id and matches its whole subtree."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters

from gridgov.cases.models import AssigneeKind, Case, Channel, Notification, SlaStatus
from gridgov.cases.selectors import case_overdue_q
from gridgov.cases.states import OPEN_STATES, CaseState
from gridgov.catalogue.models import HandlingMode, ReportLevel
from gridgov.core.filters import IdFilter
from gridgov.territory.models import Node


class BoundedIsoDateTimeField(filter_fields.IsoDateTimeField):
    """An ISO 8601 date-time between the years 1900 and 9000: beyond them a time zone shift would
    overflow in the database driver."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None and not 1900 <= result.year <= 9000:
            raise ValidationError(_("give a date-time between the years 1900 and 9000"))
        return result


class DateTimeFilter(filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class CellFilter(IdFilter):
    """A node id: cases in that cell or anywhere below it."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        path = Node.objects.filter(pk=value).values_list("path", flat=True).first()
        if path is None:
            return qs.none()
        return qs.filter(node__path__startswith=path)


class CaseFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=CaseState.choices)
    sla_status = filters.MultipleChoiceFilter(choices=SlaStatus.choices)
    channel = filters.MultipleChoiceFilter(choices=Channel.choices)
    report_level = filters.MultipleChoiceFilter(choices=ReportLevel.choices)
    handling_mode = filters.ChoiceFilter(choices=HandlingMode.choices)
    matter = filters.CharFilter(field_name="matter__code", max_length=5, help_text="five-digit matter code")
    category = filters.CharFilter(field_name="matter__category__code", max_length=2,
                                  help_text="two-digit category code")
    node = CellFilter(help_text="cell id: cases in that cell and below")
    assignee_kind = filters.ChoiceFilter(choices=AssigneeKind.choices)
    department = IdFilter(field_name="assignee_team__department",
                          help_text="department id: cases assigned to one of its teams")
    open = filters.BooleanFilter(method="filter_open", help_text="true: not finished (reported, registered, "
                                                                 "dispatched, being handled, reported back, parked)")
    reported_after = DateTimeFilter(field_name="reported_at", lookup_expr="gte")
    reported_before = DateTimeFilter(field_name="reported_at", lookup_expr="lt")
    overdue = filters.BooleanFilter(method="filter_overdue",
                                    help_text="true: over a running time limit (red, or past due while handled)")
    ordering = filters.OrderingFilter(fields=(("reported_at", "reported_at"), ("due_at", "due_at"),
                                              ("state", "state"), ("sla_status", "sla_status"), ("id", "id")))

    class Meta:
        model = Case
        fields = ["state", "sla_status", "channel", "report_level", "handling_mode", "matter", "category", "node",
                  "assignee_kind", "department", "open", "reported_after", "reported_before", "overdue"]

    def filter_open(self, qs, _name, value):
        if value is None:
            return qs
        return qs.filter(state__in=OPEN_STATES) if value else qs.exclude(state__in=OPEN_STATES)

    def filter_overdue(self, qs, _name, value):
        over = case_overdue_q(timezone.now())
        return qs.filter(over) if value else qs.exclude(over)


class NotificationFilter(filters.FilterSet):
    unread = filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", help_text="true: not read yet")

    class Meta:
        model = Notification
        fields = ["unread"]

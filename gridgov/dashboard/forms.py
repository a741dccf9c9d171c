"""The filter bars of the command centre and the dashboard. Their GET names are the ones `cases:list` and
`cases:queue` take (cell, category, report_level, state, channel, from, to), so one query string serves the page, its
data endpoints and the embedded queue."""

from __future__ import annotations

import contextlib
import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.cases.models import Channel
from gridgov.cases.states import OPEN_STATES
from gridgov.catalogue.models import ReportLevel
from gridgov.dashboard.kpi import PERIODS

MAX_DAYS = 366 * 5
MAX_DAY_BUCKETS = 400
PERIOD_LABELS = dict(zip(PERIODS, (_("Day"), _("Week"), _("Month")), strict=True))
EXPORTS = ("cells", "categories", "departments", "trend", "satisfaction")


def _blank(label) -> list[tuple[str, str]]:
    return [("", label)]


class _Filters(forms.Form):
    """Cell (its choices are the moves the place allows: the top cells, the chain and the children),
    scheme, category, channel and the report period."""

    cell = forms.IntegerField(label=_("Cell"), required=False, min_value=1, widget=forms.Select)
    scheme = forms.SlugField(label=_("Level scheme"), required=False, widget=forms.Select)
    category = forms.ChoiceField(label=_("Category"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False,
                                choices=_blank(_("All channels")) + list(Channel.choices))
    report_level = forms.ChoiceField(label=_("Report level"), required=False,
                                     choices=_blank(_("All levels")) + list(ReportLevel.choices))

    field_order = ["cell", "scheme", "category", "report_level", "channel"]

    def __init__(self, data=None, *, place=None, categories=()):
        super().__init__(data)
        self.fields["from"] = forms.DateField(label=_("From"), required=False,
                                              widget=forms.DateInput(attrs={"type": "date"}))
        self.fields["to"] = forms.DateField(label=_("To"), required=False,
                                            widget=forms.DateInput(attrs={"type": "date"}))
        self.order_fields([*self.field_order, "from", "to"])
        self.fields["category"].choices = _blank(_("All categories")) + [
            (c.code, f"{c.code} {c.name}") for c in categories]
        if place is not None:
            self.fields["cell"].widget.choices = place.cell_choices()
            if len(place.schemes) > 1:
                self.fields["scheme"].widget.choices = [(s.key, s.name) for s in place.schemes]
            else:
                del self.fields["scheme"]
        else:
            del self.fields["scheme"]

    def clean(self):
        data = super().clean()
        first, last = data.get("from"), data.get("to")
        if first and last and first > last:
            self.add_error("to", _("the end date is before the start date: choose a later end or an earlier start"))
        elif first and last and (last - first).days > MAX_DAYS:
            self.add_error("from", _("choose a period of at most five years"))
        for name in ("from", "to"):
            day = data.get(name)
            if day and not 1990 <= day.year <= 2100:
                self.add_error(name, _("give a date between 1990 and 2100"))
        return data

    def query(self, cell_id: int, keys: tuple[str, ...]) -> str:
        """The cleaned filters as a query string (what the page shows, for its data and exports)."""
        params = {"cell": cell_id}
        for key in keys:
            value = self.cleaned_data.get(key)
            if value not in (None, ""):
                params[key] = value.isoformat() if isinstance(value, dt.date) else value
        return urlencode(params)


class CentreFilters(_Filters):
    state = forms.ChoiceField(label=_("State"), required=False,
                              choices=_blank(_("Every open state")) + [(s.value, s.label) for s in OPEN_STATES])
    QUERY_KEYS = ("category", "report_level", "state", "channel", "from", "to")

    field_order = ["cell", "scheme", "category", "report_level", "state", "channel"]


class DashboardFilters(_Filters):
    period = forms.ChoiceField(label=_("Trend by"), required=False, choices=list(PERIOD_LABELS.items()))
    QUERY_KEYS = ("category", "report_level", "channel", "from", "to", "period")

    field_order = ["cell", "scheme", "category", "report_level", "channel"]

    def __init__(self, data=None, **kw):
        # an empty from, to or trend means the last 30 days by day: shown in the bar as such
        if data is not None:
            data = data.copy()
            last = data.get("to") or ""
            if not data.get("to"):
                last = timezone.localdate().isoformat()
                data["to"] = last
            if not data.get("from"):
                with contextlib.suppress(ValueError):  # an end that is not a date has its own error
                    data["from"] = (dt.date.fromisoformat(last) - dt.timedelta(days=29)).isoformat()
            data["period"] = data.get("period") or "day"
        super().__init__(data, **kw)

    def clean(self):
        data = super().clean()
        first, last = data.get("from"), data.get("to")
        if not self.errors and first and last and data.get("period") == "day" \
                and (last - first).days >= MAX_DAY_BUCKETS:
            self.add_error("period", _("a trend by day covers at most %(n)s days: choose week or month")
                           % {"n": MAX_DAY_BUCKETS})
        return data


class ExportChoice(forms.Form):
    export = forms.ChoiceField(choices=[(k, k) for k in EXPORTS])
    format = forms.ChoiceField(choices=[("xlsx", "XLSX"), ("csv", "CSV")], required=False)


"""Key figures of the case loop: the one definition used by the dashboard, its exports and (later) the
evaluation of cells, departments and people. Never count these anywhere else.

Every function takes a queryset of cases the caller has already scoped to the user
(`cases.selectors.case_scope`) and filtered (cell, category, channel ...), and a `Period` [start, end)
of aware datetimes (`Period.of_days` turns local calendar days into one). The queryset must not carry
joins that repeat a case (no `.distinct()` over many-valued relations).

Figures over the period:
- reported: cases whose `reported_at` falls in the period;
- registered: cases whose `registered_at` falls in the period (a case handled on the spot is registered
  when it is handled);
- closed: cases whose `closed_at` falls in the period (verified, or closed without sampled verification;
  a reopened case is not closed until it is closed again, and then counts in the period of that closing);
- closure rate = closed ÷ registered. Both are flows of the same period, so the rate passes 100 % when a
  period closes cases registered before it;
- on-time rate = closed on time ÷ closed. A closed case is on time when none of its time-limit stages
  was completed after its limit (`cases.due.case_late_stage`, the rule the case pages show too; approved
  extensions and parking have already moved a stage's `due_at`). `Case.due_at` cannot serve: it is the running clock's
  summary and is emptied when the clock stops at the report back. A case without stages (handled on
  the spot, or no matter) is on time;
- rework rate = closed cases with `rework_count > 0` (verification failed or reopened at least once)
  ÷ closed;
- average handling time = mean of `closed_at − reported_at` over the closed cases, in hours;
- satisfaction = mean score (1–5) of the closed cases that were rated, with the number rated.
A rate or mean is None when there is nothing to divide by.

Groupings: by the children of a node (a case counts for the child whose path prefixes its cell's path;
cases on the node itself are the rest, key None), by matter category (`matter__category`; no matter:
key None), by department (`assignee_team__department`, the team handling the case now; none: key None)
and by period bucket (day, ISO week starting Monday, month) in local time (`settings.TIME_ZONE`,
Asia/Shanghai), each figure in the bucket of its own timestamp.

Aggregation runs in the database, the same SQL on SQLite and PostgreSQL: one query per grouping (three
for the trend, one for the distribution of scores), whatever the number of cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models import Case as CaseExpr
from django.db.models.functions import Cast, StrIndex, Substr, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from gridgov.cases.due import case_late_stage
from gridgov.cases.models import Case

PERIODS = ("day", "week", "month")
_TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


@dataclass(frozen=True)
class Period:
    """[start, end) as aware datetimes."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of_days(cls, first: dt.date, last: dt.date) -> Period:
        """From local midnight of `first` to local midnight after `last` (both days included)."""
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        return cls(start, end)

    def q(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Figures:
    reported: int = 0
    registered: int = 0
    closed: int = 0
    closed_on_time: int = 0
    reworked: int = 0
    handling_hours: float | None = None
    rated: int = 0
    satisfaction: float | None = None

    @property
    def closure_rate(self) -> float | None:
        return _ratio(self.closed, self.registered)

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.closed_on_time, self.closed)

    @property
    def rework_rate(self) -> float | None:
        return _ratio(self.reworked, self.closed)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(closure_rate=self.closure_rate, on_time_rate=self.on_time_rate, rework_rate=self.rework_rate)
        return out


@dataclass(frozen=True)
class Row:
    """One group of a breakdown: its key (node id, category id, department id, bucket date; None for
    the rest), a label and its figures."""

    key: Any
    label: str
    figures: Figures


def _handling() -> ExpressionWrapper:
    return ExpressionWrapper(F("closed_at") - F("reported_at"), output_field=DurationField())


def _closed_measures(closed: Q) -> dict[str, Any]:
    rated = closed & Q(satisfaction__isnull=False)
    return {
        "closed": Count("pk", filter=closed),
        "closed_on_time": Count("pk", filter=closed & ~Q(case_late_stage())),
        "reworked": Count("pk", filter=closed & Q(rework_count__gt=0)),
        "handling": Avg(_handling(), filter=closed),
        "rated": Count("pk", filter=rated),
        "satisfaction": Avg("satisfaction", filter=rated),
    }


def _measures(period: Period) -> dict[str, Any]:
    return {"reported": Count("pk", filter=period.q("reported_at")),
            "registered": Count("pk", filter=period.q("registered_at")),
            **_closed_measures(period.q("closed_at"))}


def _hours(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 3600
    return float(value) / 3_600_000_000  # a backend handing back microseconds


def _figures(row: dict[str, Any]) -> Figures:
    sat = row.get("satisfaction")
    return Figures(reported=row.get("reported", 0) or 0, registered=row.get("registered", 0) or 0,
                   closed=row.get("closed", 0) or 0, closed_on_time=row.get("closed_on_time", 0) or 0,
                   reworked=row.get("reworked", 0) or 0, handling_hours=_hours(row.get("handling")),
                   rated=row.get("rated", 0) or 0, satisfaction=float(sat) if sat is not None else None)


def _in_period(cases: QuerySet[Case], period: Period) -> QuerySet[Case]:
    # order_by(): the model's default ordering would otherwise join the GROUP BY
    return cases.filter(period.q("reported_at") | period.q("registered_at") | period.q("closed_at")).order_by()


def _grouped(cases: QuerySet[Case], period: Period, key) -> dict[Any, Figures]:
    rows = _in_period(cases, period).annotate(group_key=key).values("group_key").annotate(**_measures(period))
    return {row["group_key"]: _figures(row) for row in rows}


def kpi_figures(cases: QuerySet[Case], period: Period) -> Figures:
    """The figures of every case in `cases` over the period (one query)."""
    return _figures(_in_period(cases, period).aggregate(**_measures(period)))


def child_key(node) -> CaseExpr:
    """An expression giving, for a case below `node`, the id (as text) of the child of `node` whose subtree
    holds the case's cell: the path segment right after `node.path`. None for a case on `node` itself."""
    rest = Substr("node__path", len(node.path) + 1)
    segment = Substr(rest, 1, StrIndex(rest, Value("/")) - 1)
    return CaseExpr(When(node__path=node.path, then=Value(None)), default=Cast(segment, IntegerField()),
                 output_field=IntegerField())


def _rest_label(node) -> str:
    from django.utils.translation import gettext

    return gettext("%(cell)s itself") % {"cell": node.name}


def kpi_by_child(cases: QuerySet[Case], period: Period, *, node) -> list[Row]:
    """Figures per child of `node`: every current child (zeros included), a retired child that holds cases
    of the period, and a last row for cases on `node` itself when there are any."""
    from gridgov.territory.models import Node

    data = _grouped(cases.filter(node__path__startswith=node.path), period, child_key(node))
    children = list(Node.objects.filter(parent=node).filter(Q(valid_to__isnull=True) | Q(pk__in=[
        k for k in data if k is not None])).order_by("code", "name").only("id", "name", "code", "path"))
    rows = [Row(child.pk, child.name, data.get(child.pk, Figures())) for child in children]
    if None in data:
        rows.append(Row(None, _rest_label(node), data[None]))
    return rows


def kpi_by_category(cases: QuerySet[Case], period: Period) -> list[Row]:
    """Figures per matter category, categories with cases in the period only; cases without a matter last."""
    from django.utils.translation import gettext

    from gridgov.catalogue.models import Category

    data = _grouped(cases, period, F("matter__category_id"))
    rows = [Row(c.pk, f"{c.code} {c.name}", data[c.pk])
            for c in Category.objects.filter(pk__in=[k for k in data if k is not None]).order_by("code", "id")]
    if None in data:
        rows.append(Row(None, gettext("No matter chosen"), data[None]))
    return rows


def kpi_by_department(cases: QuerySet[Case], period: Period) -> list[Row]:
    """Figures per department of the team handling the case now; cases with no department's team last."""
    from django.utils.translation import gettext

    from gridgov.accounts.models import Department

    data = _grouped(cases, period, F("assignee_team__department_id"))
    rows = [Row(d.pk, d.name, data[d.pk])
            for d in Department.objects.filter(pk__in=[k for k in data if k is not None]).order_by("key", "id")]
    if None in data:
        rows.append(Row(None, gettext("Not with a department"), data[None]))
    return rows


def bucket_start(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next_bucket(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day + dt.timedelta(days=7)
    if period == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


def period_buckets(period: Period, unit: str) -> list[dt.date]:
    """The local start dates of the buckets covering the period, oldest first."""
    tz = timezone.get_current_timezone()
    first = bucket_start(timezone.localtime(period.start, tz).date(), unit)
    last = timezone.localtime(period.end - dt.timedelta(microseconds=1), tz).date()
    out, day = [], first
    while day <= last:
        out.append(day)
        day = _next_bucket(day, unit)
    return out


def _bucketed(qs: QuerySet[Case], field: str, unit: str, measures: dict[str, Any]) -> dict[dt.date, dict]:
    tz = timezone.get_current_timezone()
    rows = qs.annotate(bucket=_TRUNC[unit](field, tzinfo=tz)).values("bucket").annotate(**measures)
    out: dict[dt.date, dict] = {}
    for row in rows:
        value = row.pop("bucket")
        day = timezone.localtime(value, tz).date() if isinstance(value, dt.datetime) else value
        out[day] = row
    return out


def kpi_by_period(cases: QuerySet[Case], period: Period, *, unit: str = "day") -> list[Row]:
    """Figures per day, week or month of the period (every bucket, zeros included; key = its first local
    day). Reported, registered and closed each fall in the bucket of their own timestamp (three queries)."""
    if unit not in PERIODS:
        raise ValueError(f"unknown period unit {unit!r}")
    base = cases.order_by()
    reported = _bucketed(base.filter(period.q("reported_at")), "reported_at", unit,
                         {"reported": Count("pk")})
    registered = _bucketed(base.filter(period.q("registered_at")), "registered_at", unit,
                           {"registered": Count("pk")})
    closed_q = Q(closed_at__isnull=False)
    closed = _bucketed(base.filter(period.q("closed_at")), "closed_at", unit, _closed_measures(closed_q))
    rows = []
    for day in period_buckets(period, unit):
        merged = {**reported.get(day, {}), **registered.get(day, {}), **closed.get(day, {})}
        rows.append(Row(day, day.isoformat() if unit != "month" else f"{day:%Y-%m}", _figures(merged)))
    return rows


def kpi_satisfaction(cases: QuerySet[Case], period: Period) -> dict[int, int]:
    """How many cases closed in the period were rated each score, 1 to 5 (zeros included)."""
    rows = (cases.order_by().filter(period.q("closed_at"), satisfaction__isnull=False)
            .values("satisfaction").annotate(n=Count("pk")))
    counts = {score: 0 for score in range(1, 6)}
    counts.update({row["satisfaction"]: row["n"] for row in rows})
    return counts


__all__ = ["PERIODS", "Figures", "Period", "Row", "child_key", "kpi_by_category", "kpi_by_child",
           "kpi_by_department", "kpi_by_period", "kpi_figures", "kpi_satisfaction", "period_buckets"]

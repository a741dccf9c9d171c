"""Reads of the command centre and the dashboard: where in the territory the user is looking (`Place`),
the cases under it with the bar's filters, the open / warning / overdue counts of the cells on the map,
case markers, the latest positions of the workers of a subtree, and the dashboard's tables (the same rows
feed the charts, the tables on screen and the exports).

Everything starts from the user's scope: cells through `accounts.selectors.user_scope_paths`, cases
through `cases.selectors.case_scope`. A cell outside the scope is a 404."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.accounts.display import user_label
from gridgov.accounts.models import Assignment, PositionReport
from gridgov.accounts.selectors import user_scope_paths
from gridgov.cases.models import Case, SlaStatus
from gridgov.cases.selectors import case_overdue_q, case_scope
from gridgov.cases.states import OPEN_STATES
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.core.i18n import localized
from gridgov.dashboard import kpi
from gridgov.territory.models import LevelScheme, Node

MARKER_LIMIT = 3000


# ---------------------------------------------------------------------------------------------- the place
@dataclass
class Place:
    """The cell a user looks at, and the moves open from it: up the chain (as far as their territory
    goes), down to its children, across to their other top cells and schemes."""

    scheme: LevelScheme
    cell: Node
    roots: list[Node]
    chain: list[Node]
    children: list[Node]
    schemes: list[LevelScheme] = field(default_factory=list)

    def cell_choices(self) -> list[tuple[str, list[tuple[int, str]]]]:
        """Options of the cell select, grouped by level, top down."""
        seen: dict[int, Node] = {}
        for node in [*self.roots, *self.chain, *self.children]:
            seen.setdefault(node.pk, node)
        groups: dict[int, tuple[str, list[tuple[int, str]]]] = {}
        for node in sorted(seen.values(), key=lambda n: (n.level.depth, n.code, n.name)):
            options = groups.setdefault(node.level.depth, (node.level.name, []))[1]
            options.append((node.pk, node.name))
        return [groups[depth] for depth in sorted(groups)]


def _in_paths(path: str, paths: list[str] | None) -> bool:
    return paths is None or any(path.startswith(p) for p in paths)


def place_for(user, *, cell_id: int | None = None, scheme_key: str | None = None) -> Place | None:
    """The place the user asks for (a cell id, or the top of their territory in a scheme). None when the
    user sees no territory at all; Http404 for a cell or scheme outside it."""
    paths = user_scope_paths(user)
    if paths == []:
        if cell_id is not None or scheme_key:
            raise Http404
        return None
    nodes = Node.objects.current().select_related("scheme", "level")
    roots_qs = nodes.filter(parent__isnull=True) if paths is None else nodes.filter(path__in=paths)
    roots = sorted(roots_qs, key=lambda n: (n.scheme.key, n.level.depth, n.code, n.name))
    schemes = list({n.scheme_id: n.scheme for n in roots}.values())
    if cell_id is not None:
        cell = nodes.filter(pk=cell_id).first()
        if cell is None or not _in_paths(cell.path, paths):
            raise Http404
        scheme = cell.scheme
        if scheme.pk not in {s.pk for s in schemes}:
            schemes.append(scheme)
    else:
        if not schemes:
            return None
        scheme = next((s for s in schemes if s.key == scheme_key), None) if scheme_key else schemes[0]
        if scheme is None:
            raise Http404
        cell = next(n for n in roots if n.scheme_id == scheme.pk)
    ancestors = {n.pk: n for n in nodes.filter(pk__in=cell.ancestor_ids())}
    chain = [ancestors[i] for i in cell.ancestor_ids() if i in ancestors and _in_paths(ancestors[i].path, paths)]
    children = list(nodes.filter(parent=cell).order_by("code", "name"))
    return Place(scheme=scheme, cell=cell, roots=[n for n in roots if n.scheme_id == scheme.pk],
                 chain=[*chain, cell], children=children, schemes=schemes)


def scheme_categories(scheme) -> list:
    """The categories of the scheme's matter catalogue (the category filter's choices)."""
    catalogue = scheme_catalogue(scheme)
    return list(catalogue.categories.order_by("code")) if catalogue else []


# ---------------------------------------------------------------------------------------------- cases
def filtered_cases(user, cell: Node, filters: dict[str, Any], *, period_field: str | None = "reported_at"
                   ) -> QuerySet[Case]:
    """Cases the user may see in the cell's subtree, with the bar's category, report level and channel; and, when
    `period_field` is given, reported (by default) within from–to. States are left to the caller."""
    qs = case_scope(Case.objects.all(), user).filter(node__path__startswith=cell.path)
    if filters.get("category"):
        qs = qs.filter(matter__category__code=filters["category"])
    if filters.get("channel"):
        qs = qs.filter(channel=filters["channel"])
    if filters.get("report_level"):
        qs = qs.filter(report_level=filters["report_level"])
    if period_field and (filters.get("from") or filters.get("to")):
        first = filters.get("from") or dt.date(1990, 1, 1)
        last = filters.get("to") or dt.date(2100, 12, 31)
        qs = qs.filter(kpi.Period.of_days(first, last).q(period_field))
    return qs


def _states(filters: dict[str, Any]) -> list[str]:
    return [filters["state"]] if filters.get("state") else list(OPEN_STATES)


def _counts(now: dt.datetime) -> dict[str, Any]:
    over = case_overdue_q(now)
    return {"open": Count("pk"), "overdue": Count("pk", filter=over),
            "warning": Count("pk", filter=Q(sla_status=SlaStatus.WARNING) & ~over)}


def centre_headline(user, cell: Node, filters: dict[str, Any], *, now: dt.datetime | None = None) -> dict[str, int]:
    """The centre's figures for the cell: open (in the chosen open state), of them close to the limit and overdue, and
    reported today (any state) — one query."""
    now = now or timezone.now()
    midnight = dt.datetime.combine(timezone.localdate(now), dt.time.min, tzinfo=timezone.get_current_timezone())
    over = case_overdue_q(now)
    chosen = Q(state__in=_states(filters))
    return filtered_cases(user, cell, filters).order_by().aggregate(
        open=Count("pk", filter=chosen), overdue=Count("pk", filter=chosen & over),
        warning=Count("pk", filter=chosen & Q(sla_status=SlaStatus.WARNING) & ~over),
        today=Count("pk", filter=Q(reported_at__gte=midnight)))


def cell_counts(user, place: Place, filters: dict[str, Any], *, now: dt.datetime | None = None
                ) -> list[dict[str, Any]]:
    """Open, warning and overdue counts of each child of the place's cell (zeros included), one query."""
    now = now or timezone.now()
    qs = filtered_cases(user, place.cell, filters).filter(state__in=_states(filters)).order_by()
    rows = qs.annotate(child=kpi.child_key(place.cell)).values("child").annotate(**_counts(now))
    by_child = {row["child"]: row for row in rows}
    empty = {"open": 0, "warning": 0, "overdue": 0}
    return [{"node": child, **{k: by_child.get(child.pk, empty)[k] for k in empty}} for child in place.children]


def case_markers(user, cell: Node, filters: dict[str, Any], *, limit: int = MARKER_LIMIT) -> tuple[list[dict], bool]:
    """Open cases (matching the filters) that have a point, most urgent first: what a marker's popup shows
    (number, matter, state, time-limit status as shown — `sla_shown` — and due time; nothing about who
    reported). Returns the rows and whether the limit cut them."""
    now = timezone.now()
    qs = (filtered_cases(user, cell, filters).filter(state__in=_states(filters), lon__isnull=False,
                                                      lat__isnull=False)
          .annotate(overdue=ExpressionWrapper(case_overdue_q(now), output_field=BooleanField()))
          .order_by(F("due_at").asc(nulls_last=True), "-reported_at", "-id")
          .values("id", "reported_at", "lon", "lat", "state", "sla_status", "due_at", "report_level",
                  "matter__code", "matter__name_zh", "matter__name_en", "overdue"))
    rows = list(qs[: limit + 1])
    for row in rows:
        # the watch may lag: overdue by the one rule is shown red (as the cells' counts say)
        row["sla_shown"] = SlaStatus.OVERDUE if row.pop("overdue") else row["sla_status"]
    return rows[:limit], len(rows) > limit


def case_number(row: dict) -> str:
    return Case(pk=row["id"], reported_at=row["reported_at"]).number


def worker_positions(cell: Node, *, max_age_minutes: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The latest position (no older than `max_age_minutes`) of each login assigned in the cell's subtree
    now, with their roles there: username, name (as the cell card publishes it), roles, cells, where and
    when. No phone, no personal data beyond the staff member's login, name and role."""
    now = now or timezone.now()
    assignments = (Assignment.objects.current()
                   .filter(node__path__startswith=cell.path, node__valid_to__isnull=True,
                           person__user__isnull=False, person__user__is_active=True)
                   .values("person__user_id", "role__name_zh", "role__name_en", "role__category", "node__name"))
    roles: dict[int, dict[str, list[str]]] = {}
    for row in assignments:
        item = roles.setdefault(row["person__user_id"], {"roles": [], "cells": [], "categories": []})
        role = localized(SimpleNamespace(name_zh=row["role__name_zh"], name_en=row["role__name_en"]))
        for key, value in (("roles", role), ("cells", row["node__name"]), ("categories", row["role__category"])):
            if value not in item[key]:
                item[key].append(value)
    if not roles:
        return []
    latest = PositionReport.objects.filter(user=OuterRef("user")).order_by("-reported_at", "-id").values("id")[:1]
    reports = (PositionReport.objects.filter(user_id__in=list(roles),
                                             reported_at__gte=now - dt.timedelta(minutes=max_age_minutes))
               .filter(id=Subquery(latest)).select_related("user__person").order_by("user__username"))
    return [{"user_id": r.user_id, "username": r.user.get_username(), "name": user_label(r.user),
             "lon": r.lon, "lat": r.lat,
             "accuracy_m": r.accuracy_m, "reported_at": r.reported_at, **roles[r.user_id]} for r in reports]


# ---------------------------------------------------------------------------------------------- dashboard
FIGURE_HEADERS = (pgettext_lazy("number of cases", "Reported"), pgettext_lazy("number of cases", "Registered"),
                  pgettext_lazy("number of cases", "Closed"), _("Closure rate (%)"), _("On-time rate (%)"),
                  _("Rework rate (%)"), _("Average handling time (h)"), _("Satisfaction (1–5)"), _("Rated"))


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def figure_values(f: kpi.Figures) -> list[Any]:
    """A figures row as shown and exported: counts, rates in per cent (one decimal), hours (one decimal),
    satisfaction (two decimals); None where undefined."""
    return [f.reported, f.registered, f.closed, _pct(f.closure_rate), _pct(f.on_time_rate), _pct(f.rework_rate),
            None if f.handling_hours is None else round(f.handling_hours, 1),
            None if f.satisfaction is None else round(f.satisfaction, 2), f.rated]


@dataclass
class Table:
    """One breakdown of the dashboard: the chart draws it, the page shows it as a table, the export writes
    exactly these headers and rows. `links` drill down (cells only); `keys` identify the rows."""

    key: str
    title: Any
    headers: list[Any]
    rows: list[list[Any]]
    keys: list[Any] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)

    @property
    def lines(self) -> list[tuple[list[Any], str | None]]:
        return list(zip(self.rows, self.links or [None] * len(self.rows), strict=True))


def _kpi_table(key: str, title, first, rows: list[kpi.Row], links=None) -> Table:
    return Table(key=key, title=title, headers=[first, *FIGURE_HEADERS],
                 rows=[[r.label, *figure_values(r.figures)] for r in rows], keys=[r.key for r in rows],
                 links=links or [None] * len(rows))


def dashboard_tables(cases: QuerySet[Case], period: kpi.Period, *, place: Place, unit: str, link) -> dict[str, Table]:
    """The dashboard's five tables over the filtered cases. `link(node_id)` gives a child's drill-down URL."""
    children = kpi.kpi_by_child(cases, period, node=place.cell) if place.children else []
    current = {c.pk for c in place.children}
    tables = {
        "cells": _kpi_table("cells", _("By cell below"), _("Cell"), children,
                            [link(r.key) if r.key in current else None for r in children]),
        "categories": _kpi_table("categories", _("By category"), _("Category"), kpi.kpi_by_category(cases, period)),
        "trend": _kpi_table("trend", _("Trend"), _("Period"), kpi.kpi_by_period(cases, period, unit=unit)),
        "departments": _kpi_table("departments", _("By department"), _("Department"),
                                  kpi.kpi_by_department(cases, period)),
    }
    scores = kpi.kpi_satisfaction(cases, period)
    tables["satisfaction"] = Table(key="satisfaction", title=_("Satisfaction"), headers=[_("Score"), _("Cases")],
                                   rows=[[score, n] for score, n in scores.items()], keys=list(scores))
    return tables

"""Command centre (map + live queue) and dashboard (key figures with drill-down). Login required;
everything scoped to the user's territory: a cell outside it is a 404.

Both pages read their place from `?cell=<node id>` (default: the top of the user's territory, in the
scheme chosen by `?scheme=<key>` when the user sees several) and the filter bar from the same GET names
as the case list. The centre's map draws from three JSON endpoints taking the same query string."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_safe

from gridgov.cases.models import SlaStatus
from gridgov.cases.states import CaseState
from gridgov.core.i18n import localized
from gridgov.core.tabular import bilingual, tabular_response
from gridgov.dashboard import kpi
from gridgov.dashboard.forms import PERIOD_LABELS, CentreFilters, DashboardFilters, ExportChoice
from gridgov.dashboard.selectors import (
    Place,
    case_markers,
    case_number,
    cell_counts,
    centre_headline,
    dashboard_tables,
    figure_values,
    filtered_cases,
    place_for,
    scheme_categories,
    worker_positions,
)


def _place(request: HttpRequest) -> Place | None:
    raw = (request.GET.get("cell") or "").strip()
    if raw and not (raw.isdigit() and len(raw) <= 18):
        raise Http404
    scheme_key = (request.GET.get("scheme") or "").strip() or None
    place = place_for(request.user, cell_id=int(raw) if raw else None, scheme_key=scheme_key)
    if place is not None and scheme_key and raw and place.scheme.key != scheme_key:
        # the scheme select changed under a cell of another scheme: go to the top of the chosen scheme
        place = place_for(request.user, scheme_key=scheme_key)
    return place


def _bound(request: HttpRequest, form_class, place: Place):
    data = request.GET.copy()
    data["cell"] = str(place.cell.pk)
    data["scheme"] = place.scheme.key
    return form_class(data, place=place, categories=scheme_categories(place.scheme))


def _no_territory(request: HttpRequest, title: str) -> HttpResponse:
    return render(request, "dashboard/no_territory.html", {"title": title})


def _keep(query: str) -> str:
    """The query without its cell: what the breadcrumbs carry up the chain."""
    return urlencode([(k, v) for k, v in parse_qsl(query) if k != "cell"])


def _url(name: str, query: str, **changes) -> str:
    params = dict(parse_qsl(query))
    params.update({k: v for k, v in changes.items() if v is not None})
    return f"{reverse(name)}?{urlencode(params)}"


# ---------------------------------------------------------------------------------------------- centre
def _centre_form(request: HttpRequest):
    place = _place(request)
    if place is None:
        return None, None
    return place, _bound(request, CentreFilters, place)


@require_safe
@login_required
def centre(request: HttpRequest) -> HttpResponse:
    place, form = _centre_form(request)
    if place is None:
        return _no_territory(request, _("Command centre"))
    context = {"place": place, "form": form}
    if not form.is_valid():
        return render(request, "dashboard/centre.html", context, status=400)
    filters = form.cleaned_data
    query = form.query(place.cell.pk, CentreFilters.QUERY_KEYS)
    rows = cell_counts(request.user, place, filters)
    for row in rows:
        row["url"] = _url("centre:index", query, cell=row["node"].pk)
    context.update(
        query=query, keep=_keep(query), headline=centre_headline(request.user, place.cell, filters), cells=rows,
        dashboard_url=_url("dashboard:index", form.query(place.cell.pk, ("category", "report_level", "channel"))),
        data_urls={name: _url(f"centre:{name}", query) for name in ("cells", "cases", "workers")},
        texts={"open": _("open"), "warning": _("close to the limit"), "overdue": _("overdue"), "worker": _("Worker"),
               "details": _("Open the case"), "due": _("Due"), "truncated": _("Only the most urgent %(n)s cases "
                                                                                 "are drawn"),
               "failed": _("The map data could not be loaded: reload the page"), "position_at": _("Position at"),
               "accuracy": _("accuracy"), "case": _("Case"), "nothing": _("No open case with a location")},
        max_age=_position_max_age(),
    )
    return render(request, "dashboard/centre.html", context)


def _position_max_age() -> int:
    return int(settings.CENTRE_POSITION_MAX_AGE_MINUTES)


def _json_form_or_error(request: HttpRequest):
    place, form = _centre_form(request)
    if place is None:
        raise Http404
    if not form.is_valid():
        return place, None, JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    return place, form, None


def _bbox(node) -> list[float] | None:
    values = [node.min_lon, node.min_lat, node.max_lon, node.max_lat]
    return None if any(v is None for v in values) else values


@require_safe
@login_required
def centre_cells(request: HttpRequest) -> JsonResponse:
    """GeoJSON of the cells one level below the current one, with their open / warning / overdue counts."""
    place, form, error = _json_form_or_error(request)
    if error:
        return error
    filters = form.cleaned_data
    query = form.query(place.cell.pk, CentreFilters.QUERY_KEYS)
    features = []
    for row in cell_counts(request.user, place, filters):
        node = row["node"]
        if not node.geometry:
            continue
        features.append({"type": "Feature", "id": node.pk, "geometry": node.geometry, "properties": {
            "id": node.pk, "name": node.name, "code": node.code, "level": node.level.name,
            "open": row["open"], "warning": row["warning"], "overdue": row["overdue"],
            "url": _url("centre:index", query, cell=node.pk)}})
    return JsonResponse({"type": "FeatureCollection", "features": features,
                         "cell": {"id": place.cell.pk, "name": place.cell.name, "bbox": _bbox(place.cell),
                                  "geometry": place.cell.geometry},
                         "totals": centre_headline(request.user, place.cell, filters)})


@require_safe
@login_required
def centre_cases(request: HttpRequest) -> JsonResponse:
    """GeoJSON points of the open cases matching the filters (the most urgent first, at most MARKER_LIMIT)."""
    place, form, error = _json_form_or_error(request)
    if error:
        return error
    rows, truncated = case_markers(request.user, place.cell, form.cleaned_data)
    features = []
    for row in rows:
        number = case_number(row)
        matter = (localized(SimpleNamespace(name_zh=row["matter__name_zh"] or "", name_en=row["matter__name_en"] or ""))
                  if row["matter__code"] else _("No matter chosen"))
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                         "properties": {
                             "number": number, "matter": matter, "state": row["state"],
                             "state_label": str(CaseState(row["state"]).label), "sla": row["sla_shown"],
                             "sla_label": str(SlaStatus(row["sla_shown"]).label),
                             "due": date_format(timezone.localtime(row["due_at"]), "SHORT_DATETIME_FORMAT")
                             if row["due_at"] else "",
                             "level": row["report_level"],
                             "url": reverse("cases:detail", kwargs={"number": number})}})
    return JsonResponse({"type": "FeatureCollection", "features": features, "truncated": truncated})


@require_safe
@login_required
def centre_workers(request: HttpRequest) -> JsonResponse:
    """GeoJSON points of the latest positions of the workers assigned in the cell's subtree."""
    place, _form, error = _json_form_or_error(request)
    if error:
        return error
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [w["lon"], w["lat"]]},
                 "properties": {"username": w["username"], "name": w["name"], "roles": w["roles"], "cells": w["cells"],
                                "accuracy_m": w["accuracy_m"],
                                "reported_at": date_format(timezone.localtime(w["reported_at"]),
                                                           "SHORT_DATETIME_FORMAT")}}
                for w in worker_positions(place.cell, max_age_minutes=_position_max_age())]
    return JsonResponse({"type": "FeatureCollection", "features": features})


# ---------------------------------------------------------------------------------------------- dashboard
RATE_KEYS = {"closure": 3, "on_time": 4}  # positions in figure_values


def _chart(table, *, kind: str = "bar") -> dict:
    if table.key == "satisfaction":
        return {"type": "bar", "labels": [str(r[0]) for r in table.rows],
                "series": [{"name": str(table.headers[1]), "data": [r[1] for r in table.rows]}],
                "links": table.links}
    return {"type": kind, "labels": [str(r[0]) for r in table.rows],
            "series": [{"name": str(table.headers[i]), "data": [r[i] for r in table.rows]} for i in (1, 2, 3)],
            "links": table.links}


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    place = _place(request)
    if place is None:
        return _no_territory(request, _("Dashboard"))
    form = _bound(request, DashboardFilters, place)
    context = {"place": place, "form": form}
    if not form.is_valid():
        return render(request, "dashboard/dashboard.html", context, status=400)
    filters = form.cleaned_data
    query = form.query(place.cell.pk, DashboardFilters.QUERY_KEYS)
    period = kpi.Period.of_days(filters["from"], filters["to"])
    cases = filtered_cases(request.user, place.cell, filters, period_field=None)
    tables = dashboard_tables(cases, period, place=place, unit=filters["period"],
                              link=lambda node_id: _url("dashboard:index", query, cell=node_id))
    if "export" in request.GET:
        return _export(request, place, filters, tables)
    figures = kpi.kpi_figures(cases, period)
    cells = tables["cells"]
    map_features = []
    by_id = {c.pk: c for c in place.children}
    for key, row, link in zip(cells.keys, cells.rows, cells.links, strict=True):
        node = by_id.get(key)
        if node is None or not node.geometry:
            continue
        map_features.append({"type": "Feature", "geometry": node.geometry, "properties": {
            "name": node.name, "closure": row[1 + RATE_KEYS["closure"]], "on_time": row[1 + RATE_KEYS["on_time"]],
            "url": link}})
    context.update(
        query=query, keep=_keep(query), figures=figures, figure_cards=_figure_cards(figures), tables=list(tables.values()),
        charts={key: _chart(t, kind="line" if key == "trend" else "bar") for key, t in tables.items()},
        child_map={"type": "FeatureCollection", "features": map_features},
        period_label=PERIOD_LABELS[filters["period"]], centre_url=_url("centre:index", form.query(
            place.cell.pk, ("category", "report_level", "channel"))),
        texts={"closure": _("Closure rate"), "on_time": _("On-time rate"), "none": _("no cases"),
               "drill": _("Click to open this cell")},
    )
    return render(request, "dashboard/dashboard.html", context)


def _figure_cards(f: kpi.Figures) -> list[dict]:
    values = figure_values(f)
    labels = [pgettext("number of cases", "Reported"), pgettext("number of cases", "Registered"),
              pgettext("number of cases", "Closed"), _("Closure rate"), _("On-time rate"), _("Rework rate"),
              _("Average handling time"), _("Satisfaction")]
    units = ["", "", "", "%", "%", "%", _("h"), "/ 5"]
    cards = [{"key": key, "label": label, "value": value, "unit": unit, "note": ""}
             for key, label, value, unit in zip(("reported", "registered", "closed", "closure_rate", "on_time_rate",
                                                 "rework_rate", "handling_hours", "satisfaction"),
                                                labels, values[:8], units, strict=True)]
    cards[-1]["note"] = _("%(n)s rated") % {"n": f.rated}
    return cards


def _export(request: HttpRequest, place: Place, filters: dict, tables: dict) -> HttpResponse:
    choice = ExportChoice(request.GET)
    if not choice.is_valid():
        return HttpResponse(_("Choose what to export (cells, categories, departments, trend or satisfaction) and "
                              "the format xlsx or csv."), status=400, content_type="text/plain; charset=utf-8")
    table = tables[choice.cleaned_data["export"]]
    name = f"dashboard-{table.key}-{place.cell.code or place.cell.pk}-{filters['from']:%Y%m%d}-{filters['to']:%Y%m%d}"
    return tabular_response(fmt=choice.cleaned_data["format"] or "xlsx", filename=name, title=str(table.title),
                            headers=[bilingual(h) for h in table.headers], rows=table.rows)

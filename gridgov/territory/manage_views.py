"""Management pages of the territory: the tree of the user's part of it (children loaded on demand), a
cell's facts, map, people in charge and links, a search by name or code, and the grid-map import.

Every node is read through `node_scope`: one outside the user's territory is a 404. The grid-map import
runs `gridmaps.gridmap_import` (the service of `manage.py import_gridmap` and the API): the upload is
first run as a dry run whose report (rejected rows with their reasons, invalid polygons, polygons
sticking out of their parent, overlaps, gaps) is shown before anything is written; confirming runs the
same file for real (`gridmaps.runs`). Both run inside the request for a file of up to
GRIDMAP_INLINE_FEATURES features, seconds of work; a larger file is checked and run by a background
task while its report page shows the progress and refreshes until the report is there. Rows that would
write outside the user's territory are refused for anyone but district-wide staff."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gridgov.accounts.models import Assignment
from gridgov.accounts.selectors import scope_roots, user_schemes
from gridgov.accounts.workspaces import manage_page
from gridgov.core import import_log, uploads
from gridgov.core.pages import errors_to_form, is_fragment
from gridgov.core.tabular import FORMATS, bilingual, tabular_response
from gridgov.privacy.masking import mask_phone
from gridgov.territory import gridmaps, services
from gridgov.territory.gridmaps import runs
from gridgov.territory.models import Level, LevelScheme, Node
from gridgov.territory.selectors import node_children, node_list_for_user, node_scope, with_child_counts
from gridgov.territory.tasks import gridmap_check_task, gridmap_run_task

SEARCH_LIMIT = 50
IMPORT_PERMISSION = "territory.import_territory"
DETAIL_TARGET = "node-detail"
FIELD_LABELS = {"geometry": gettext_lazy("Polygon"), "parent_code": gettext_lazy("Parent code"),
                "code": gettext_lazy("Code"), "level": gettext_lazy("Level"), "name": gettext_lazy("Name"),
                "node_type": gettext_lazy("Type"), "management_class": gettext_lazy("Management class"),
                "attributes": gettext_lazy("Attributes"), "__all__": gettext_lazy("Row")}
STATUS_LABELS = {"imported": gettext_lazy("new"), "updated": gettext_lazy("updated"),
                 "unchanged": gettext_lazy("unchanged"), "rejected": gettext_lazy("rejected")}


# =========================================================================== reading nodes
def _node(user, pk: int) -> Node:
    qs = node_scope(Node.objects.select_related("level", "scheme", "parent", "node_type", "management_class"), user)
    return get_object_or_404(qs, pk=pk)


def _item(node: Node, *, open_ids: set[int], selected: Node | None, by_parent: dict[int, list[Node]]) -> dict:
    is_open = node.pk in open_ids and bool(node.child_count)
    return {
        "node": node, "count": node.child_count, "open": is_open,
        "selected": selected is not None and node.pk == selected.pk,
        "children": [_item(c, open_ids=open_ids, selected=selected, by_parent=by_parent)
                     for c in by_parent.get(node.pk, [])] if is_open else [],
    }


def _tree(user, selected: Node | None) -> list[dict]:
    """The roots of the user's territory, opened down to the selected node (and its children)."""
    roots = list(with_child_counts(scope_roots(user)).order_by("scheme__key", "code", "name"))
    open_ids = {*selected.ancestor_ids(), selected.pk} if selected is not None else set()
    by_parent: dict[int, list[Node]] = defaultdict(list)
    if open_ids:
        for child in with_child_counts(Node.objects.current().filter(parent_id__in=open_ids)
                                       .select_related("level")).order_by("code", "name"):
            by_parent[child.parent_id].append(child)
    return [_item(root, open_ids=open_ids, selected=selected, by_parent=by_parent) for root in roots]


def _phone_shown(assignment: Assignment) -> str:
    """The work phone as the card shows it when the assignment is public; masked otherwise."""
    phone = assignment.person.phone
    return phone if assignment.is_public else mask_phone(phone)


def _links(request, node: Node) -> list[dict]:
    links = []
    if node.code and node.is_active:
        links += [{"label": _("Public card"), "url": reverse("territory:cell-card", args=[node.scheme.key, node.code])},
                  {"label": _("QR card to print"),
                   "url": reverse("territory:cell-card-print", args=[node.scheme.key, node.code])}]
    user = request.user
    if user.is_staff and (user.has_perm("territory.change_node") or user.has_perm("territory.view_node")):
        links.append({"label": _("Edit in the admin"), "url": reverse("admin:territory_node_change", args=[node.pk])})
    links.append({"label": _("People figures"), "url": reverse("people:cell", args=[node.pk])})
    links.append({"label": _("People in charge"), "url": reverse("manage:people_in_charge") + f"?cell={node.pk}"})
    links.append({"label": _("Command centre"), "url": reverse("centre:index") + f"?cell={node.pk}"})
    return links


def _detail_context(request, node: Node) -> dict:
    user = request.user
    ancestor_ids = node.ancestor_ids()
    ancestors = list(Node.objects.filter(pk__in=ancestor_ids).select_related("level").order_by("path"))
    visible = set(node_scope(Node.objects.filter(pk__in=ancestor_ids), user).values_list("pk", flat=True))
    children = list(with_child_counts(node_children(node)))
    below = (Node.objects.current().descendants_of(node).order_by().values_list("level")
             .annotate(n=Count("id")))
    below_counts = dict(below)
    levels_below = [{"level": level, "count": below_counts[level.pk]}
                    for level in Level.objects.filter(pk__in=below_counts).order_by("depth")]
    people = [{"assignment": a, "phone": _phone_shown(a)} for a in
              Assignment.objects.current().filter(node=node).select_related("person", "role")
              .order_by("role__order", "role__key", "person__name")]
    return {
        "node": node,
        "chain": [{"node": a, "in_scope": a.pk in visible} for a in ancestors],
        "children": children,
        "levels_below": levels_below,
        "people": people,
        "links": _links(request, node),
        "area_km2": node.area_m2 / 1_000_000 if node.area_m2 is not None else None,
        "may_add_people": node.is_active,
    }


def _search(user, q: str) -> list[Node]:
    from django.db.models import Q

    return list(node_list_for_user(user).filter(Q(name__icontains=q) | Q(code__startswith=q))
                .order_by("path")[:SEARCH_LIMIT])


# =========================================================================== pages
@require_safe
@manage_page
def territory(request, node_id: int | None = None):
    """The tree of the user's territory with the selected cell's facts, map, people and links. An htmx
    request aimed at the detail panel gets the panel alone (the tree stays as it is)."""
    user = request.user
    selected = _node(user, node_id) if node_id is not None else None
    if selected is None:
        roots = list(scope_roots(user)[:2])
        if len(roots) == 1:
            selected = _node(user, roots[0].pk)
    if selected is not None and is_fragment(request, DETAIL_TARGET):
        return render(request, "manage/_node_detail.html", _detail_context(request, selected))
    q = request.GET.get("q", "").strip()[:100]
    context = {"tree": _tree(user, selected), "q": q, "results": _search(user, q) if q else None,
               "selected": selected, "may_import": user.has_perm(IMPORT_PERMISSION)}
    if selected is not None:
        context.update(_detail_context(request, selected))
    return render(request, "manage/territory.html", context)


@require_safe
@manage_page
def territory_children(request, node_id: int):
    """The children of a cell as items of the tree (loaded when the cell is opened)."""
    node = _node(request.user, node_id)
    items = [_item(child, open_ids=set(), selected=None, by_parent={})
             for child in with_child_counts(node_children(node))]
    return render(request, "manage/_tree_items.html", {"items": items, "parent": node})


@require_safe
@manage_page
def territory_search(request):
    """Cells of the user's territory whose name holds, or whose code starts with, the query (a fragment)."""
    q = request.GET.get("q", "").strip()[:100]
    return render(request, "manage/_search_results.html", {"q": q, "results": _search(request.user, q) if q else None})


def _feature(node: Node, role: str) -> dict:
    return {
        "type": "Feature", "id": node.pk, "geometry": node.geometry or None,
        "properties": {
            "id": node.pk, "role": role, "code": node.code, "name": node.name, "level": node.level.name,
            "children": getattr(node, "child_count", None),
            "url": reverse("manage:territory_node", args=[node.pk]),
        },
    }


@require_safe
@manage_page
def territory_map(request, node_id: int):
    """The cell's polygon and its children's polygons as a GeoJSON FeatureCollection for the map."""
    node = _node(request.user, node_id)
    children = with_child_counts(node_children(node))
    features = [_feature(node, "node"), *(_feature(child, "child") for child in children)]
    return JsonResponse({"type": "FeatureCollection", "features": features})


# =========================================================================== grid-map import
class GridMapForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Grid map file"),
        help_text=gettext_lazy("GeoJSON (.geojson, .json) or a zipped Shapefile (.zip holding the .shp, .shx, .dbf "
                               "and .prj files), longitude/latitude on WGS-84 or CGCS2000."))
    scheme = forms.ChoiceField(label=gettext_lazy("Level scheme"))
    level = forms.ChoiceField(label=gettext_lazy("Level of the rows that name none"), required=False,
                              help_text=gettext_lazy("Rows may name their own level in a “level” / 层级 property."))
    mode = forms.ChoiceField(
        label=gettext_lazy("When some rows are rejected"), widget=forms.RadioSelect, initial="per_row",
        choices=[("per_row", gettext_lazy("Import the good rows, list the rejected ones")),
                 ("all_or_nothing", gettext_lazy("Import nothing unless every row is good"))])
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=300,
                             help_text=gettext_lazy("Kept in the history of every cell the import changes."))

    def __init__(self, *args, schemes, **kwargs):
        super().__init__(*args, **kwargs)
        self.schemes = {s.key: s for s in schemes}
        self.fields["scheme"].choices = [(s.key, f"{s.name} ({s.key})") for s in self.schemes.values()]
        levels = Level.objects.filter(scheme__in=self.schemes.values()).select_related("scheme").order_by(
            "scheme__key", "depth")
        self.fields["level"].choices = [("", _("— as each row says —"))] + [
            (f"{lv.scheme.key}:{lv.key}", f"{lv.name} ({lv.scheme.key})" if len(self.schemes) > 1 else lv.name)
            for lv in levels]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            uploads.size_check(kind=gridmaps.UPLOAD_KIND, size=upload.size, name=upload.name)
        except uploads.UploadError as exc:
            raise ValidationError(str(exc)) from None
        suffix = Path(upload.name).suffix.lower()
        if suffix not in (".geojson", ".json", ".zip"):
            raise ValidationError(_("use a GeoJSON file (.geojson, .json) or a Shapefile zipped with its .shx, .dbf "
                                    "and .prj files (.zip)"))
        return upload

    def clean(self):
        data = super().clean()
        scheme_key, level = data.get("scheme"), data.get("level")
        if scheme_key and level:
            level_scheme, _sep, level_key = level.partition(":")
            if level_scheme != scheme_key:
                self.add_error("level", _("this level belongs to another scheme than the one chosen"))
            else:
                data["level_key"] = level_key
        return data


def _may_import(user) -> bool:
    return user.has_perm(IMPORT_PERMISSION)


@require_http_methods(["GET", "HEAD", "POST"])
@manage_page
def gridmap_import(request):
    """Upload a grid map: it is run as a dry run at once and its report shown; nothing is written yet."""
    user = request.user
    may = _may_import(user)
    schemes = list(user_schemes(user).order_by("key"))
    form = GridMapForm(request.POST or None, request.FILES or None, schemes=schemes)
    status = 200
    if request.method == "POST":
        if not may:
            raise PermissionDenied(_("You may not import grid maps: ask for the permission to import territory."))
        if form.is_valid():
            upload = form.cleaned_data["file"]
            scheme = form.schemes[form.cleaned_data["scheme"]]
            try:
                data = uploads.read_capped(upload, kind=gridmaps.UPLOAD_KIND, name=upload.name)
                rows = gridmaps.gridmap_read(path_or_file=io.BytesIO(data), filename=upload.name)
                level = form.cleaned_data.get("level_key") or None
                if level:
                    services.level_resolve(scheme=scheme, value=level)
            except (gridmaps.GridMapError, uploads.UploadError) as exc:
                form.add_error("file", str(exc))
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                background = runs.gridmap_in_background(features=len(rows))
                record = import_log.record_create(
                    kind="gridmap", owner=user, source=upload.name, upload=data, suffix=Path(upload.name).suffix,
                    state=import_log.RecordState.CHECKING if background else import_log.RecordState.CHECKED,
                    options={"scheme": scheme.key, "level": level or "", "mode": form.cleaned_data["mode"],
                             "reason": form.cleaned_data["reason"], "features": len(rows)})
                if background:
                    record.counts = {"done": 0, "total": len(rows)}
                    import_log.record_save(record)
                    gridmap_check_task(record.token, user.pk)
                else:
                    record = runs.gridmap_record_check(record=record, user=user, rows=rows)
                    if record.state == import_log.RecordState.FAILED:
                        form.add_error("file", record.message)
                        return render(request, "manage/gridmap_import.html", {
                            "form": form, "may_import": may, "recent": import_log.records_for(
                                user, kind="gridmap", limit=10),
                            "max_mb": uploads.upload_limits(gridmaps.UPLOAD_KIND).max_bytes >> 20}, status=400)
                return redirect("manage:gridmap_report", token=record.token)
        status = 400
    recent = import_log.records_for(user, kind="gridmap", limit=10)
    return render(request, "manage/gridmap_import.html",
                  {"form": form, "may_import": may, "max_mb": uploads.upload_limits(gridmaps.UPLOAD_KIND).max_bytes >> 20, "recent": recent}, status=status)


def _record(request, token: str) -> import_log.ImportRecord:
    try:
        return import_log.record_get(kind="gridmap", token=token, user=request.user)
    except LookupError:
        raise Http404 from None


def _rejected_lines(report: dict) -> list[dict]:
    lines = []
    for row in report.get("rows", []):
        if row.get("status") != gridmaps.RowStatus.REJECTED:
            continue
        for field, messages_ in (row.get("errors") or {}).items():
            for message in messages_:
                lines.append({"row": row["row"], "code": row.get("code", ""), "name": row.get("name", ""),
                              "level": row.get("level", ""), "parent_code": row.get("parent_code", ""),
                              "field": field, "field_label": FIELD_LABELS.get(field, field), "reason": message})
    for row in report.get("outside_scope", []):
        lines.append({"row": row["row"], "code": row.get("code", ""), "name": row.get("name", ""), "level": "",
                      "parent_code": row.get("parent_code", ""), "field": "parent_code",
                      "field_label": FIELD_LABELS["parent_code"], "reason": row["reason"]})
    return sorted(lines, key=lambda line: line["row"])


@require_safe
@manage_page
def gridmap_report(request, token: str):
    """The report of a grid-map run: what each row did or would do and why, and what is wrong with the
    polygons; a dry run can be confirmed from here."""
    record = _record(request, token)
    report = import_log.record_report(record)
    counts = report.get("counts", record.counts)
    outside = report.get("outside_scope", [])
    writes = counts.get("imported", 0) + counts.get("updated", 0)
    all_or_nothing_blocked = record.options.get("mode") == "all_or_nothing" and counts.get("rejected", 0) > 0
    return render(request, "manage/gridmap_report.html", {
        "record": record, "report": report, "counts": counts, "rejected": _rejected_lines(report),
        "working": record.working, "progress": record.progress,
        "outside": outside, "writes": writes, "all_or_nothing_blocked": all_or_nothing_blocked,
        "may_confirm": (record.confirmable and _may_import(request.user) and writes > 0 and not outside
                        and not all_or_nothing_blocked),
        "rows": [{**r, "status_label": STATUS_LABELS.get(r.get("status") or "", "")} for r in report.get("rows", [])],
    })


@require_POST
@manage_page
def gridmap_confirm(request, token: str):
    """Run a checked grid map for real. Only once (a second click finds it running or done)."""
    record = _record(request, token)
    user = request.user
    if not _may_import(user):
        raise PermissionDenied(_("You may not import grid maps: ask for the permission to import territory."))
    background = False
    try:
        with import_log.record_lock(record):
            record = _record(request, token)  # as it is now, not as it was before the lock
            if not record.confirmable:
                messages.warning(request, _("This import has already run; its report is below."))
                return redirect("manage:gridmap_report", token=token)
            scheme = LevelScheme.objects.filter(key=record.options.get("scheme")).first()
            if scheme is None or scheme not in user_schemes(user):
                raise Http404
            record.state = import_log.RecordState.RUNNING
            background = runs.gridmap_in_background(features=int(record.options.get("features") or 0))
            if background:
                record.counts = {"done": 0, "total": int(record.options.get("features") or 0)}
            import_log.record_save(record)
            if not background:
                _run_import(request, record)
    except import_log.RecordBusy:
        messages.warning(request, _("This import is running already; its report shows the result when it is done."))
    else:
        if background:
            gridmap_run_task(record.token, user.pk)  # after the lock: the task takes it itself
    return redirect("manage:gridmap_report", token=token)


def _run_import(request, record: import_log.ImportRecord) -> None:
    record = runs.gridmap_record_run(record=record, user=request.user)
    if record.state == import_log.RecordState.DONE:
        messages.success(request, _("The grid map was imported: %(imported)d new cells, %(updated)d updated.")
                         % record.counts)
    else:
        messages.error(request, record.message)


@require_safe
@manage_page
def gridmap_rejected(request, token: str):
    """The rejected rows of a grid-map run with their reasons, as XLSX (or CSV with ?as=csv)."""
    record = _record(request, token)
    fmt = request.GET.get("as", "xlsx")
    if fmt not in FORMATS:
        raise Http404
    lines = _rejected_lines(import_log.record_report(record))
    headers = [bilingual(gettext_lazy("Row")), bilingual(gettext_lazy("Code")), bilingual(gettext_lazy("Name")),
               bilingual(gettext_lazy("Level")), bilingual(gettext_lazy("Parent code")),
               bilingual(gettext_lazy("Field")), bilingual(gettext_lazy("Reason"))]
    rows = ([line["row"], line["code"], line["name"], line["level"], line["parent_code"], line["field_label"],
             line["reason"]] for line in lines)
    stem = Path(record.source).stem or "gridmap"
    return tabular_response(fmt=fmt, filename=f"{stem}-rejected", title=_("Rejected rows"), headers=headers,
                            rows=rows)

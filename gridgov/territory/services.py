"""Writes to the territory: schemes, nodes, codes, reorganisation (split / merge / move / retire).

Every function here validates first and raises django.core.exceptions.ValidationError naming the
field and the reason; it then writes inside one transaction, so a failure leaves nothing half-done.
Every change appends a NodeVersion, records issued codes, and bumps the territory version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.audit import audit_record
from gridgov.territory import geometry as geo
from gridgov.territory.codes import DIGITS, code_format_error
from gridgov.territory.models import (
    ChangeKind,
    IssuedCode,
    Level,
    LevelScheme,
    Node,
    NodeLineage,
    NodeVersion,
    Term,
    TerritoryVersion,
    Vocabulary,
)

NODE_FIELDS = ("name", "geometry", "node_type", "management_class", "attributes")

# Other apps register here (in their AppConfig.ready) the rows that must follow a cell when it is split,
# merged or retired (people in charge, households ...):
#   fn(*, predecessor, successors, heir, effective_date, actor, reason) -> None
# `heir` is computed once, here: the successor that takes what has no place of its own (a split: the part
# holding most of the predecessor's area; a merge: the new cell); a retirement passes no successors and
# heir None. Called explicitly by node_split / node_merge / node_retire inside their transaction (no signals).
REORGANISE_FOLLOWERS: list[Callable[..., None]] = []


def _followers_call(*, predecessor: Node, successors: Sequence[Node], heir: Node | None, on: dt.date, actor,
                    reason: str) -> None:
    for follower in REORGANISE_FOLLOWERS:
        follower(predecessor=predecessor, successors=list(successors), heir=heir, effective_date=on, actor=actor,
                 reason=reason)


def split_heir(old_geom, successors: Sequence[tuple[Node, Any]]) -> Node:
    """The part of a split holding most of the old cell's area (the first part when there are no polygons)."""
    return max(successors, key=lambda s: geo.overlap_area_m2(old_geom, s[1]) if (old_geom and s[1]) else 0)[0]


# --------------------------------------------------------------------------- version
def territory_version_bump() -> int:
    """Tell every process its spatial index is stale. Call inside the writing transaction."""
    updated = TerritoryVersion.objects.filter(pk=1).update(value=F("value") + 1, changed_at=timezone.now())
    if not updated:
        try:
            with transaction.atomic():
                TerritoryVersion.objects.create(pk=1, value=1)
        except IntegrityError:
            TerritoryVersion.objects.filter(pk=1).update(value=F("value") + 1, changed_at=timezone.now())
    return TerritoryVersion.objects.values_list("value", flat=True).get(pk=1)


# --------------------------------------------------------------------------- schemes
@transaction.atomic
def scheme_create(
    *,
    key: str,
    name_zh: str,
    name_en: str = "",
    levels: Sequence[dict[str, Any]],
    terms: dict[str, Sequence[dict[str, Any]]] | None = None,
    description: str = "",
) -> LevelScheme:
    """Create a level scheme with its levels (top first) and vocabularies.

    `levels`: dicts with key, name_zh, name_en, is_grid, admin_rank, code_digits.
    `terms`: {"NODE_TYPE": [{key, name_zh, name_en}], "MANAGEMENT_CLASS": [...]}."""
    if LevelScheme.objects.filter(key=key).exists():
        raise ValidationError({"key": _("a level scheme with key %(key)s already exists") % {"key": key}})
    if not levels:
        raise ValidationError({"levels": _("a scheme needs at least one level")})
    scheme = LevelScheme.objects.create(key=key, name_zh=name_zh, name_en=name_en, description=description)
    seen: set[str] = set()
    for depth, spec in enumerate(levels):
        lkey = spec.get("key", "")
        if not lkey or lkey in seen:
            raise ValidationError({"levels": _("level %(n)d: key missing or repeated (%(key)r)") % {"n": depth + 1, "key": lkey}})
        seen.add(lkey)
        level = Level(
            scheme=scheme,
            key=lkey,
            name_zh=spec.get("name_zh", lkey),
            name_en=spec.get("name_en", ""),
            depth=depth,
            is_grid=bool(spec.get("is_grid", False)),
            admin_rank=spec.get("admin_rank"),
            code_digits=spec.get("code_digits"),
        )
        try:
            level.full_clean(exclude=["scheme"])
        except ValidationError as exc:
            raise ValidationError({"levels": [f"{lkey}: {m}" for m in exc.messages]}) from exc
        level.save()
    for vocabulary, items in (terms or {}).items():
        if vocabulary not in Vocabulary.values:
            raise ValidationError({"terms": _("unknown vocabulary %(v)r") % {"v": vocabulary}})
        for order, item in enumerate(items):
            term_create(scheme=scheme, vocabulary=vocabulary, order=order, **item)
    return scheme


def term_create(*, scheme: LevelScheme, vocabulary: str, key: str, name_zh: str, name_en: str = "",
                order: int = 0) -> Term:
    if Term.objects.filter(scheme=scheme, vocabulary=vocabulary, key=key).exists():
        raise ValidationError({"key": _("term %(key)s already exists in %(v)s") % {"key": key, "v": vocabulary}})
    return Term.objects.create(scheme=scheme, vocabulary=vocabulary, key=key, name_zh=name_zh,
                               name_en=name_en, order=order)


def term_resolve(*, scheme: LevelScheme, vocabulary: str, value: Term | str | None, field: str) -> Term | None:
    """A Term from a Term, its key or its Chinese / English name; None for empty."""
    if value is None or value == "":
        return None
    if isinstance(value, Term):
        term = value
    else:
        term = (
            Term.objects.filter(scheme=scheme, vocabulary=vocabulary, key=value).first()
            or Term.objects.filter(scheme=scheme, vocabulary=vocabulary, name_zh=value).first()
            or Term.objects.filter(scheme=scheme, vocabulary=vocabulary, name_en__iexact=value).first()
        )
        if term is None:
            known = ", ".join(Term.objects.filter(scheme=scheme, vocabulary=vocabulary).values_list("key", flat=True))
            raise ValidationError({field: _("unknown %(field)s %(value)r; known: %(known)s")
                                   % {"field": field, "value": value, "known": known or "-"}})
    if term.scheme_id != scheme.pk or term.vocabulary != vocabulary:
        raise ValidationError({field: _("%(value)s is not a %(vocab)s of scheme %(scheme)s")
                               % {"value": term, "vocab": vocabulary, "scheme": scheme.key}})
    return term


def level_resolve(*, scheme: LevelScheme, value: Level | str) -> Level:
    if isinstance(value, Level):
        if value.scheme_id != scheme.pk:
            raise ValidationError({"level": _("level %(level)s is not in scheme %(scheme)s")
                                   % {"level": value.key, "scheme": scheme.key}})
        return value
    level = (Level.objects.filter(scheme=scheme, key=value).first()
             or Level.objects.filter(scheme=scheme, name_zh=value).first()
             or Level.objects.filter(scheme=scheme, name_en__iexact=value).first())
    if level is None:
        known = ", ".join(scheme.levels.values_list("key", flat=True))
        raise ValidationError({"level": _("unknown level %(value)r in scheme %(scheme)s; known: %(known)s")
                               % {"value": value, "scheme": scheme.key, "known": known}})
    return level


# --------------------------------------------------------------------------- codes
def code_validate(*, scheme: LevelScheme, level: Level, parent: Node | None, code: str,
                  node: Node | None = None, check_prefix: bool = True) -> None:
    """Format (`codes.code_format_error`) and uniqueness of a node code at `level` under `parent`; codes are
    never reused in a scheme. Raises ValidationError('code')."""
    if not code:
        return
    problem = code_format_error(level=level, code=code, parent_code=parent.code if parent else None,
                                parent_level=parent.level if parent else None, check_prefix=check_prefix)
    if problem:
        raise ValidationError({"code": problem})
    issued = IssuedCode.objects.filter(scheme=scheme, code=code)
    if node is not None and node.pk:
        issued = issued.exclude(node=node)
    others = Node.objects.filter(scheme=scheme, code=code).exclude(code="")  # lets SQLite use the partial index
    if issued.exists() or others.exclude(pk=getattr(node, "pk", None)).exists():
        raise ValidationError({"code": _("code %(code)s is already used or was used before in scheme %(scheme)s; "
                                         "codes are never reused") % {"code": code, "scheme": scheme.key}})


def code_next(*, parent: Node, level: Level, count: int = 1) -> list[str]:
    """The next `count` sequence codes under `parent` at `level`, after every code ever issued there."""
    if not level.code_digits:
        raise ValidationError({"level": _("level %(level)s has no sequence codes") % {"level": level.key}})
    if not parent.code:
        raise ValidationError({"parent": _("the parent %(p)s has no code to extend") % {"p": parent.name}})
    width = level.code_digits
    prefix = parent.code
    length = len(prefix) + width
    used = [c for c in IssuedCode.objects.filter(scheme=parent.scheme_id, code__startswith=prefix)
            .values_list("code", flat=True) if len(c) == length and DIGITS.match(c)]
    start = max((int(c[len(prefix):]) for c in used), default=0) + 1
    if start + count - 1 >= 10 ** width:
        raise ValidationError({"code": _("no %(n)d-digit codes left under %(p)s") % {"n": width, "p": prefix}})
    return [f"{prefix}{seq:0{width}d}" for seq in range(start, start + count)]


def _issue_code(node: Node) -> None:
    if node.code and not IssuedCode.objects.filter(scheme_id=node.scheme_id, code=node.code).exists():
        IssuedCode.objects.create(scheme_id=node.scheme_id, code=node.code, node=node)


# --------------------------------------------------------------------------- geometry checks
def area_tolerance_m2(geom=None) -> float:
    base = settings.TERRITORY_AREA_TOLERANCE_M2
    if geom is None:
        return base
    # floating-point slivers grow with the size of the shape: allow one part in a million as well
    return max(base, geo.area_m2(geom) * 1e-6)


def geometry_check_within_parent(*, geom, parent: Node | None, field: str = "geometry") -> None:
    if parent is None or geom is None or not parent.geometry:
        return
    outside = geo.outside_area_m2(geom, geo.parse_geometry(parent.geometry))
    if outside > area_tolerance_m2(geom):
        raise ValidationError({field: _("%(area).0f m² of the polygon lies outside its parent %(code)s %(name)s")
                               % {"area": outside, "code": parent.code, "name": parent.name}})


def _parse_geometry_field(value, field: str = "geometry"):
    if value in (None, "", {}):
        return None
    try:
        return geo.parse_geometry(value)
    except geo.GeometryError as exc:
        raise ValidationError({field: str(exc)}) from exc


def _apply_geometry(node: Node, geom) -> None:
    if geom is None:
        node.geometry = None
        node.area_m2 = node.centroid_lon = node.centroid_lat = None
        node.min_lon = node.min_lat = node.max_lon = node.max_lat = None
        return
    node.geometry = geo.to_geojson(geom)
    m = geo.measure(geom)
    node.area_m2, node.centroid_lon, node.centroid_lat = m.area_m2, m.centroid_lon, m.centroid_lat
    node.min_lon, node.min_lat, node.max_lon, node.max_lat = m.min_lon, m.min_lat, m.max_lon, m.max_lat


# --------------------------------------------------------------------------- history
def _open_version(node: Node, *, change: str, valid_from: dt.date, actor=None, reason: str = "") -> NodeVersion:
    return NodeVersion.objects.create(
        node=node, parent_id=node.parent_id, level_id=node.level_id, code=node.code, name=node.name,
        node_type_id=node.node_type_id, management_class_id=node.management_class_id,
        geometry=node.geometry, attributes=node.attributes, valid_from=valid_from, valid_to=None,
        change=change, reason=reason, actor=_user(actor),
    )


def _close_version(node: Node, *, on: dt.date) -> None:
    current = NodeVersion.objects.filter(node=node, valid_to__isnull=True).first()
    if current is None:
        return
    if on < current.valid_from:
        raise ValidationError({"effective_date": _("%(on)s is before the last change of %(node)s on %(last)s")
                               % {"on": on, "node": node, "last": current.valid_from}})
    current.valid_to = on
    current.save(update_fields=["valid_to"])


def _new_version(node: Node, *, change: str, on: dt.date, actor=None, reason: str = "") -> None:
    _close_version(node, on=on)
    _open_version(node, change=change, valid_from=on, actor=actor, reason=reason)


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _today(value: dt.date | None) -> dt.date:
    return value or timezone.localdate()


# --------------------------------------------------------------------------- nodes
def _check_parentage(*, scheme: LevelScheme, level: Level, parent: Node | None) -> None:
    if parent is None:
        return
    if parent.scheme_id != scheme.pk:
        raise ValidationError({"parent": _("the parent %(p)s belongs to another scheme") % {"p": parent}})
    if not parent.is_active:
        raise ValidationError({"parent": _("the parent %(p)s was retired on %(d)s")
                               % {"p": parent, "d": parent.valid_to}})
    if parent.level.depth >= level.depth:
        raise ValidationError({"level": _("a %(level)s cannot sit under a %(plevel)s: its level must be deeper "
                                          "than its parent's") % {"level": level.name_zh,
                                                                  "plevel": parent.level.name_zh}})


@transaction.atomic
def node_create(
    *,
    level: Level,
    name: str,
    parent: Node | None = None,
    code: str = "",
    geometry: Any = None,
    node_type: Term | str | None = None,
    management_class: Term | str | None = None,
    attributes: dict | None = None,
    valid_from: dt.date | None = None,
    auto_code: bool = False,
    check_containment: bool = True,
    actor=None,
    reason: str = "",
    bump_version: bool = True,
) -> Node:
    """Create a node under `parent` at `level`.

    The code is validated (format, prefix, never used before); with `auto_code` and a grid-type level
    the next sequence code is given. The polygon must be valid and lie inside the parent's."""
    scheme = level.scheme
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("a name is required")})
    _check_parentage(scheme=scheme, level=level, parent=parent)
    if parent is None and level.depth != 0 and not level.admin_rank:
        raise ValidationError({"parent": _("a %(level)s needs a parent") % {"level": level.name_zh}})
    code = (code or "").strip()
    if not code and auto_code and level.code_digits and parent is not None:
        code = code_next(parent=parent, level=level)[0]
    code_validate(scheme=scheme, level=level, parent=parent, code=code)
    geom = _parse_geometry_field(geometry)
    if check_containment:
        geometry_check_within_parent(geom=geom, parent=parent)
    if attributes is not None and not isinstance(attributes, dict):
        raise ValidationError({"attributes": _("attributes must be a JSON object")})
    node = Node(
        scheme=scheme, level=level, parent=parent, code=code, name=name[:200],
        node_type=term_resolve(scheme=scheme, vocabulary=Vocabulary.NODE_TYPE, value=node_type, field="node_type"),
        management_class=term_resolve(scheme=scheme, vocabulary=Vocabulary.MANAGEMENT_CLASS,
                                      value=management_class, field="management_class"),
        attributes=attributes or {}, valid_from=_today(valid_from),
    )
    _apply_geometry(node, geom)
    node.save()
    node.path = f"{parent.path}{node.pk}/" if parent else f"/{node.pk}/"
    node.save(update_fields=["path"])
    _issue_code(node)
    _open_version(node, change=ChangeKind.CREATE, valid_from=node.valid_from, actor=actor, reason=reason)
    if bump_version:
        territory_version_bump()
    if _user(actor) is not None:
        audit_record(actor=actor, action="territory.node_create", target=node, summary=reason,
                     changes={"code": node.code, "parent": node.parent_id, "level": level.key})
    return node


@transaction.atomic
def node_update(node: Node, *, actor=None, reason: str = "", effective_date: dt.date | None = None,
                check_containment: bool = True, **changes: Any) -> Node:
    """Change name, geometry, type, management class or attributes; appends a version."""
    unknown = set(changes) - set(NODE_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("this field cannot be changed here")})
    node = Node.objects.select_for_update(of=("self",)).get(pk=node.pk)
    if not node.is_active:
        raise ValidationError({"node": _("%(node)s was retired on %(d)s") % {"node": node, "d": node.valid_to}})
    old = {f: getattr(node, f if f not in ("node_type", "management_class") else f + "_id") for f in NODE_FIELDS}
    geometry_changed = False
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise ValidationError({"name": _("a name is required")})
        node.name = name[:200]
    if "geometry" in changes:
        geom = _parse_geometry_field(changes["geometry"])
        if check_containment:
            geometry_check_within_parent(geom=geom, parent=node.parent)
            if geom is not None:
                for child in node.children.current().exclude(geometry=None):
                    outside = geo.outside_area_m2(geo.parse_geometry(child.geometry), geom)
                    if outside > area_tolerance_m2(geom):
                        raise ValidationError({"geometry": _("the new boundary leaves %(a).0f m² of child %(c)s "
                                                             "outside") % {"a": outside, "c": child}})
        _apply_geometry(node, geom)
        geometry_changed = True
    if "node_type" in changes:
        node.node_type = term_resolve(scheme=node.scheme, vocabulary=Vocabulary.NODE_TYPE,
                                      value=changes["node_type"], field="node_type")
    if "management_class" in changes:
        node.management_class = term_resolve(scheme=node.scheme, vocabulary=Vocabulary.MANAGEMENT_CLASS,
                                             value=changes["management_class"], field="management_class")
    if "attributes" in changes:
        if not isinstance(changes["attributes"], dict):
            raise ValidationError({"attributes": _("attributes must be a JSON object")})
        node.attributes = changes["attributes"]
    new = {f: getattr(node, f if f not in ("node_type", "management_class") else f + "_id") for f in NODE_FIELDS}
    if new == old:
        return node  # nothing changed: no version, no audit entry, the index stays valid
    node.save()
    _new_version(node, change=ChangeKind.UPDATE, on=_today(effective_date), actor=actor, reason=reason)
    diff = {f: [old[f], new[f]] for f in NODE_FIELDS if old[f] != new[f] and f != "geometry"}
    if geometry_changed and old["geometry"] != new["geometry"]:
        diff["geometry"] = ["…", "…"]
        territory_version_bump()
    audit_record(actor=actor, action="territory.node_update", target=node, summary=reason, changes=diff)
    return node


def _subtree(node: Node):
    return Node.objects.filter(path__startswith=node.path)


def _recode_subtree(node: Node, *, new_code: str, on: dt.date, actor, reason: str) -> None:
    """Give `node` `new_code`; descendants whose codes extend the old one get the new prefix."""
    old_code = node.code
    node.code = new_code
    node.save(update_fields=["code"])
    _issue_code(node)
    if not old_code:
        return
    for desc in _subtree(node).exclude(pk=node.pk).filter(code__startswith=old_code).select_related("level"):
        if not desc.level.code_digits:
            continue
        desc.code = new_code + desc.code[len(old_code):]
        if IssuedCode.objects.filter(scheme_id=desc.scheme_id, code=desc.code).exclude(node=desc).exists():
            raise ValidationError({"code": _("recoding %(d)s would reuse code %(c)s") % {"d": desc, "c": desc.code}})
        desc.save(update_fields=["code"])
        _issue_code(desc)
        _new_version(desc, change=ChangeKind.RECODE, on=on, actor=actor, reason=reason)


@transaction.atomic
def node_move(node: Node, *, new_parent: Node, effective_date: dt.date | None = None, actor=None,
              reason: str = "", new_code: str | None = None, check_containment: bool = True) -> Node:
    """Move a node (and its subtree) under another parent, e.g. an estate to another community.

    Sequence-coded nodes get the next code under the new parent and their descendants follow with the
    new prefix; national-coded nodes keep their statistical code unless `new_code` is given.
    Assignments, and everything else pointing at the nodes, stay attached: identities do not change."""
    on = _today(effective_date)
    node = Node.objects.select_for_update(of=("self",)).select_related("level", "parent").get(pk=node.pk)
    if not node.is_active:
        raise ValidationError({"node": _("%(node)s was retired on %(d)s") % {"node": node, "d": node.valid_to}})
    if new_parent.pk == node.parent_id:
        raise ValidationError({"new_parent": _("%(node)s is already under %(p)s") % {"node": node, "p": new_parent}})
    if new_parent.path.startswith(node.path):
        raise ValidationError({"new_parent": _("cannot move %(node)s under itself or its own descendant %(p)s")
                               % {"node": node, "p": new_parent}})
    _check_parentage(scheme=node.scheme, level=node.level, parent=new_parent)
    if check_containment and node.geometry:
        geometry_check_within_parent(geom=geo.parse_geometry(node.geometry), parent=new_parent, field="new_parent")
    old_path = node.path
    new_path = f"{new_parent.path}{node.pk}/"
    node.parent = new_parent
    node.path = new_path
    node.save(update_fields=["parent", "path", "updated_at"])
    Node.objects.filter(path__startswith=old_path).exclude(pk=node.pk).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
    )
    old_code = node.code
    if new_code is None and node.level.code_digits and node.code:
        new_code = code_next(parent=new_parent, level=node.level)[0]
    if new_code and new_code != old_code:
        code_validate(scheme=node.scheme, level=node.level, parent=new_parent, code=new_code, node=node,
                      check_prefix=not node.level.admin_rank)
        _recode_subtree(node, new_code=new_code, on=on, actor=actor, reason=reason)
    _new_version(node, change=ChangeKind.MOVE, on=on, actor=actor, reason=reason)
    territory_version_bump()
    audit_record(actor=actor, action="territory.node_move", target=node, summary=reason,
                 changes={"parent": [old_path, new_path], "code": [old_code, node.code]})
    return node


def _retire(node: Node, *, on: dt.date, change: str, actor, reason: str) -> None:
    """Close the node's period. What points at it is carried (split / merge) or ended by the followers."""
    if on <= node.valid_from:
        raise ValidationError({"effective_date": _("%(node)s only came into force on %(d)s")
                               % {"node": node, "d": node.valid_from}})
    node.valid_to = on
    node.save(update_fields=["valid_to", "updated_at"])
    _close_version(node, on=on)


def _best_successor(geom, successors: Sequence[tuple[Node, Any]]) -> Node:
    if geom is None:
        return successors[0][0]
    point = geom.representative_point()
    for node, sgeom in successors:
        if sgeom is not None and sgeom.covers(point):
            return node
    return max(successors, key=lambda s: geo.overlap_area_m2(geom, s[1]) if s[1] is not None else -1)[0]


@transaction.atomic
def node_split(node: Node, *, parts: Sequence[dict[str, Any]], effective_date: dt.date | None = None,
               actor=None, reason: str = "") -> list[Node]:
    """Split a cell into parts (each {name, geometry, code?, node_type?, management_class?, attributes?}).

    The old cell is retired; the parts are created under the same parent; its children go to the part
    containing them; lineage links old → new; the registered followers re-point their rows, with the part
    holding most of its area as the heir (accounts moves the people in charge there)."""
    on = _today(effective_date)
    node = Node.objects.select_for_update(of=("self",)).select_related("level", "parent", "scheme").get(pk=node.pk)
    if not node.is_active:
        raise ValidationError({"node": _("%(node)s was retired on %(d)s") % {"node": node, "d": node.valid_to}})
    if len(parts) < 2:
        raise ValidationError({"parts": _("a split needs at least two parts")})
    old_geom = geo.parse_geometry(node.geometry) if node.geometry else None
    geoms = []
    for i, part in enumerate(parts):
        geom = _parse_geometry_field(part.get("geometry"), field=f"parts[{i}].geometry")
        if old_geom is not None and geom is not None:
            outside = geo.outside_area_m2(geom, old_geom)
            if outside > area_tolerance_m2(geom):
                raise ValidationError({f"parts[{i}].geometry": _("%(a).0f m² of part %(n)s lies outside %(node)s")
                                       % {"a": outside, "n": part.get("name"), "node": node}})
        geoms.append(geom)
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            if geoms[i] is not None and geoms[j] is not None:
                overlap = geo.overlap_area_m2(geoms[i], geoms[j])
                if overlap > area_tolerance_m2(geoms[i]):
                    raise ValidationError({f"parts[{j}].geometry": _("part %(j)d overlaps part %(i)d by %(a).0f m²")
                                           % {"i": i + 1, "j": j + 1, "a": overlap}})
    codes = iter(code_next(parent=node.parent, level=node.level, count=len(parts))
                 if node.level.code_digits and node.parent and node.parent.code else [])
    _retire(node, on=on, change=ChangeKind.SPLIT, actor=actor, reason=reason)
    successors: list[tuple[Node, Any]] = []
    for part, geom in zip(parts, geoms, strict=True):
        new = node_create(
            level=node.level, parent=node.parent, name=part.get("name", ""),
            code=part.get("code") or next(codes, ""), geometry=geo.to_geojson(geom) if geom is not None else None,
            node_type=part.get("node_type", node.node_type), management_class=part.get("management_class",
                                                                                       node.management_class),
            attributes=part.get("attributes", dict(node.attributes)), valid_from=on, actor=actor,
            reason=reason, bump_version=False,
        )
        NodeLineage.objects.create(predecessor=node, successor=new, kind=ChangeKind.SPLIT, effective_date=on,
                                   reason=reason)
        successors.append((new, geom))
    for child in node.children.current().select_related("level"):
        target = _best_successor(geo.parse_geometry(child.geometry) if child.geometry else None, successors)
        node_move(child, new_parent=target, effective_date=on, actor=actor, reason=reason, check_containment=False)
    _followers_call(predecessor=node, successors=[s[0] for s in successors], heir=split_heir(old_geom, successors),
                    on=on, actor=actor, reason=reason)
    territory_version_bump()
    audit_record(actor=actor, action="territory.node_split", target=node, summary=reason,
                 changes={"successors": [s[0].pk for s in successors]})
    return [s[0] for s in successors]


@transaction.atomic
def node_merge(nodes: Sequence[Node], *, name: str, code: str = "", geometry: Any = None,
               effective_date: dt.date | None = None, actor=None, reason: str = "",
               node_type: Term | str | None = None, management_class: Term | str | None = None,
               attributes: dict | None = None) -> Node:
    """Merge sibling cells of one level into a new cell (the union of their polygons by default).

    The merged cells are retired; their children move to the new cell, and the registered followers move
    their rows (the people in charge: accounts) with the new cell as the heir."""
    on = _today(effective_date)
    if len(nodes) < 2:
        raise ValidationError({"nodes": _("a merge needs at least two cells")})
    locked = list(Node.objects.select_for_update(of=("self",)).select_related("level", "parent")
                  .filter(pk__in=[n.pk for n in nodes]).order_by("pk"))
    if len(locked) != len({n.pk for n in nodes}):
        raise ValidationError({"nodes": _("some cells to merge do not exist")})
    first = locked[0]
    for n in locked:
        if not n.is_active:
            raise ValidationError({"nodes": _("%(node)s was retired on %(d)s") % {"node": n, "d": n.valid_to}})
        if n.parent_id != first.parent_id or n.level_id != first.level_id:
            raise ValidationError({"nodes": _("only cells of the same level under the same parent can be merged; "
                                              "%(a)s and %(b)s differ") % {"a": first, "b": n}})
    if geometry is None and all(n.geometry for n in locked):
        from shapely import union_all

        merged = union_all([geo.parse_geometry(n.geometry) for n in locked])
        geometry = geo.to_geojson(merged) if merged.is_valid else geo.to_geojson(merged.buffer(0))
    if not code and first.level.code_digits and first.parent and first.parent.code:
        code = code_next(parent=first.parent, level=first.level)[0]
    for n in locked:
        _retire(n, on=on, change=ChangeKind.MERGE, actor=actor, reason=reason)
    new = node_create(level=first.level, parent=first.parent, name=name, code=code, geometry=geometry,
                      node_type=node_type if node_type is not None else first.node_type,
                      management_class=management_class if management_class is not None else first.management_class,
                      attributes=attributes if attributes is not None else dict(first.attributes), valid_from=on,
                      actor=actor, reason=reason, bump_version=False)
    for n in locked:
        NodeLineage.objects.create(predecessor=n, successor=new, kind=ChangeKind.MERGE, effective_date=on,
                                   reason=reason)
        for child in n.children.current():
            node_move(child, new_parent=new, effective_date=on, actor=actor, reason=reason, check_containment=False)
        _followers_call(predecessor=n, successors=[new], heir=new, on=on, actor=actor, reason=reason)
    territory_version_bump()
    audit_record(actor=actor, action="territory.node_merge", target=new, summary=reason,
                 changes={"predecessors": [n.pk for n in locked]})
    return new


@transaction.atomic
def node_retire(node: Node, *, effective_date: dt.date | None = None, actor=None, reason: str = "") -> Node:
    """Retire a cell that has no active children; the followers end what points at it (its open assignments
    end the day before)."""
    on = _today(effective_date)
    node = Node.objects.select_for_update(of=("self",)).get(pk=node.pk)
    if not node.is_active:
        raise ValidationError({"node": _("%(node)s was already retired on %(d)s") % {"node": node, "d": node.valid_to}})
    if node.children.current().exists():
        raise ValidationError({"node": _("%(node)s still has active children; move or retire them first")
                               % {"node": node}})
    _retire(node, on=on, change=ChangeKind.RETIRE, actor=actor, reason=reason)
    _followers_call(predecessor=node, successors=[], heir=None, on=on, actor=actor, reason=reason)
    territory_version_bump()
    audit_record(actor=actor, action="territory.node_retire", target=node, summary=reason)
    return node


@transaction.atomic
def node_assign_codes(*, parent: Node, level: Level | None = None, recode_all: bool = False,
                      actor=None) -> list[Node]:
    """Give sequence codes to the children of `parent` that have none, in reading order
    (north → south, west → east). With `recode_all` every sequence-coded child is recoded in that
    order (old codes stay issued and are not reused). Returns the nodes that got a code."""
    children = list(parent.children.current().select_related("level").order_by("pk"))
    if level is not None:
        children = [c for c in children if c.level_id == level.pk]
    targets = [c for c in children if c.level.code_digits and (recode_all or not c.code)]
    if not targets:
        return []
    points = [((c.centroid_lon or 0.0), (c.centroid_lat or 0.0)) for c in targets]
    ordered = [targets[i] for i in geo.reading_order(points)]
    by_level: dict[int, list[Node]] = {}
    for c in ordered:
        by_level.setdefault(c.level_id, []).append(c)
    on = timezone.localdate()
    for items in by_level.values():
        codes = code_next(parent=parent, level=items[0].level, count=len(items))
        for child, code in zip(items, codes, strict=True):
            if child.code:
                _recode_subtree(child, new_code=code, on=on, actor=actor, reason="recode in reading order")
            else:
                child.code = code
                child.save(update_fields=["code"])
                _issue_code(child)
            _new_version(child, change=ChangeKind.RECODE, on=on, actor=actor, reason="codes in reading order")
    return ordered



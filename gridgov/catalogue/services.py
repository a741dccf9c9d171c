"""Writes of the matter catalogue. `catalogue_load` upserts a whole catalogue from data (the shipped
default, a deployment's own file) all or nothing; errors name the matter code and the field."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gridgov.catalogue.models import (
    Catalogue,
    Category,
    CategoryKind,
    DutyTier,
    HandlingMode,
    Matter,
    MatterStage,
    ReportLevel,
    SchemeCatalogue,
)
from gridgov.core.audit import audit_record, setting_delete, setting_save
from gridgov.workdays.calendar import LimitUnit, deadline

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "default_catalogue.json"
OPEN311_TYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
MATTER_FIELDS = ("name_zh", "name_en", "report_level", "duty_tier", "department", "handling_mode",
                 "registration_condition", "closing_condition", "evidence_before", "evidence_after", "attributes")


@dataclass
class LoadReport:
    categories: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    codes_changed: list[str] = field(default_factory=list)


def _err(code: str, name: str, reason: str) -> ValidationError:
    return ValidationError({name: f"{code}: {reason}"})


def _choice(code: str, name: str, value: Any, choices) -> str:
    if value not in choices.values:
        raise _err(code, name, _("unknown value %(v)r; one of %(c)s") % {"v": value, "c": ", ".join(choices.values)})
    return value


def _flag(code: str, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _err(code, name, _("true or false, not %(v)r") % {"v": value})


def attributes_clean(code: str, attributes: Any) -> list[dict]:
    """Open311 service-definition attributes: code, datatype, description, required, values for lists."""
    if attributes in (None, ""):
        return []
    if not isinstance(attributes, list):
        raise _err(code, "attributes", _("a list of attributes"))
    seen, cleaned = set(), []
    for a in attributes:
        if not isinstance(a, dict) or not str(a.get("code", "")).strip():
            raise _err(code, "attributes", _("every attribute needs a code"))
        key = str(a["code"]).strip()
        if key in seen:
            raise _err(code, "attributes", _("attribute %(a)s repeats") % {"a": key})
        seen.add(key)
        datatype = a.get("datatype", "string")
        if datatype not in OPEN311_TYPES:
            raise _err(code, "attributes", _("attribute %(a)s: datatype one of %(t)s") % {
                "a": key, "t": ", ".join(sorted(OPEN311_TYPES))})
        values = a.get("values") or []
        if datatype.endswith("valuelist") and not values:
            raise _err(code, "attributes", _("attribute %(a)s: a list needs values") % {"a": key})
        cleaned.append({"code": key, "datatype": datatype, "description": str(a.get("description", ""))[:200],
                        "required": bool(a.get("required", False)),
                        "values": [{"key": str(v["key"]), "name": str(v.get("name", v["key"]))} for v in values]})
    return cleaned


def stages_clean(code: str, stages: Any) -> list[dict]:
    if not isinstance(stages, list) or not stages:
        raise _err(code, "stages", _("at least one stage with its time limit"))
    cleaned = []
    for i, s in enumerate(stages, start=1):
        try:
            amount = Decimal(str(s.get("amount")))
        except (InvalidOperation, TypeError, AttributeError):
            raise _err(code, "stages", _("stage %(i)d: the time limit is not a number") % {"i": i}) from None
        if not amount.is_finite() or amount <= 0:
            raise _err(code, "stages", _("stage %(i)d: the time limit must be positive") % {"i": i})
        if amount >= 100_000 or amount != amount.quantize(Decimal("0.01")):
            # what the column stores: a finer limit would be rounded, and look changed at every load
            raise _err(code, "stages", _("stage %(i)d: the time limit is at most 99999.99, with two decimals")
                       % {"i": i})
        unit = s.get("unit")
        if unit not in LimitUnit.values:
            raise _err(code, "stages", _("stage %(i)d: unit one of %(u)s") % {"i": i, "u": ", ".join(LimitUnit.values)})
        if not str(s.get("name_zh", "")).strip():
            raise _err(code, "stages", _("stage %(i)d needs a name") % {"i": i})
        cleaned.append({"order": i, "name_zh": str(s["name_zh"]).strip()[:60], "name_en": str(s.get("name_en", ""))[:60],
                        "amount": amount, "unit": unit, "closing_condition": str(s.get("closing_condition", ""))})
    return cleaned


PUBLIC_FLAGS = ("public_feed", "public_space")


def public_defaults(kind: str) -> dict[str, bool]:
    """The public-feed flags a new matter gets from its category's kind when the data does not set them:
    social-governance matters (disputes, security, welfare) are never published, parts (facilities)
    are in public space, events are published with a rounded position."""
    return {"public_feed": kind != CategoryKind.SOCIAL, "public_space": kind == CategoryKind.PART}


def matter_clean(item: dict[str, Any], categories: dict[str, Category]) -> tuple[dict[str, Any], list[dict]]:
    code = str(item.get("code", "")).strip()
    if len(code) != 5 or not code.isdigit():
        raise ValidationError({"code": _("a matter code is five digits, not %(c)r") % {"c": code}})
    category = categories.get(str(item.get("category", code[:2])))
    if category is None or not code.startswith(category.code):
        raise _err(code, "category", _("the code must start with its category's two digits"))
    if not str(item.get("name_zh", "")).strip():
        raise _err(code, "name_zh", _("a Chinese name is required"))
    values = {
        "category": category, "name_zh": str(item["name_zh"]).strip()[:100], "name_en": str(item.get("name_en", ""))[:100],
        "report_level": _choice(code, "report_level", item.get("report_level", "ROUTINE"), ReportLevel),
        "duty_tier": _choice(code, "duty_tier", item.get("duty_tier", "GRID"), DutyTier),
        "department": str(item.get("department", "")).strip()[:100],
        "handling_mode": _choice(code, "handling_mode", item.get("handling_mode", "HANDOVER"), HandlingMode),
        "registration_condition": str(item.get("registration_condition", "")),
        "closing_condition": str(item.get("closing_condition", "")),
        "evidence_before": bool(item.get("evidence_before", False)),
        "evidence_after": bool(item.get("evidence_after", False)),
        "attributes": attributes_clean(code, item.get("attributes")),
    }
    if "active" in item:  # absent: a stored matter keeps its state, a new one is active
        values["active"] = _flag(code, "active", item["active"])
    for name in PUBLIC_FLAGS:  # absent: a stored matter keeps its flag, a new one gets its kind's default
        if name in item:
            values[name] = _flag(code, name, item[name])
    if values["duty_tier"] == DutyTier.DEPARTMENT and not values["department"]:
        raise _err(code, "department", _("a department matter names its department"))
    return values, stages_clean(code, item.get("stages"))


@transaction.atomic
def catalogue_load(*, key: str, data: dict[str, Any], name_zh: str = "", name_en: str = "", actor=None) -> LoadReport:
    """Upsert a catalogue's categories and matters from data (see data/default_catalogue.json). All or
    nothing: the first invalid entry raises, naming its code and field, and nothing is written. Matters
    missing from the data are left as they are (deactivate them explicitly, with `"active": false`; a
    matter without the key keeps its state); a changed catalogue gets a new version."""
    report = LoadReport()
    catalogue, _created = Catalogue.objects.get_or_create(key=key, defaults={"name_zh": name_zh or key,
                                                                            "name_en": name_en})
    categories = {c.code: c for c in catalogue.categories.all()}
    for item in data.get("categories", []):
        code = str(item.get("code", "")).strip()
        if len(code) != 2 or not code.isdigit():
            raise ValidationError({"code": _("a category code is two digits, not %(c)r") % {"c": code}})
        kind = _choice(code, "kind", item.get("kind", "EVENT"), CategoryKind)
        defaults = {"name_zh": str(item.get("name_zh", "")).strip()[:100] or code,
                    "name_en": str(item.get("name_en", ""))[:100], "kind": kind}
        category, _c = Category.objects.update_or_create(catalogue=catalogue, code=code, defaults=defaults)
        categories[code] = category
        report.categories += 1
    stored = {m.code: m for m in catalogue.matters.prefetch_related("stages")}
    seen = set()
    for item in data.get("matters", []):
        values, stages = matter_clean(item, categories)
        code = str(item["code"]).strip()
        if code in seen:
            raise _err(code, "code", _("repeats an earlier matter"))
        seen.add(code)
        matter = stored.get(code)
        if matter is None:
            values = {**public_defaults(values["category"].kind), **values}
            matter = Matter.objects.create(catalogue=catalogue, code=code, **values)
            MatterStage.objects.bulk_create([MatterStage(matter=matter, **s) for s in stages])
            report.created += 1
            report.codes_changed.append(code)
            continue
        current = [{"order": s.order, "name_zh": s.name_zh, "name_en": s.name_en, "amount": s.amount, "unit": s.unit,
                    "closing_condition": s.closing_condition} for s in matter.stages.all()]
        changed = [f for f in ("category", *MATTER_FIELDS, "active", *PUBLIC_FLAGS)
                   if f in values and getattr(matter, f) != values[f]]
        if not changed and current == stages:
            report.unchanged += 1
            continue
        for f in changed:
            setattr(matter, f, values[f])
        matter.save()
        if current != stages:
            matter.stages.all().delete()
            MatterStage.objects.bulk_create([MatterStage(matter=matter, **s) for s in stages])
        report.updated += 1
        report.codes_changed.append(code)
    if report.created or report.updated:
        Catalogue.objects.filter(pk=catalogue.pk).update(version=catalogue.version + (0 if _created else 1))
        audit_record(actor=actor, action="catalogue.load", target=catalogue,
                     summary=f"{report.created} created, {report.updated} updated",
                     changes={"codes": report.codes_changed[:200]})
    return report


def catalogue_load_default(*, actor=None) -> LoadReport:
    data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    return catalogue_load(key="default", data=data, name_zh="默认事项清单", name_en="Default matter catalogue",
                          actor=actor)


def matter_stage_plan(*, matter: Matter, start: dt.datetime, scheme=None) -> list[tuple[MatterStage, dt.datetime]]:
    """The planned deadline of each stage when the case starts at `start`: each stage's limit counts from
    the planned end of the stage before it (a stage finished early leaves the next one more time; the case
    recomputes from the real end)."""
    plan, at = [], start
    for stage in matter.stages.all():
        at = deadline(at, float(stage.amount), stage.unit, scheme=scheme)
        plan.append((stage, at))
    return plan


# ------------------------------------------------------------------------------ a scheme's catalogue
def scheme_catalogue_save(link: SchemeCatalogue, *, actor, address: str | None = None) -> SchemeCatalogue:
    """Save which catalogue a scheme uses (the admin's form), audited (`catalogue.schemecatalogue_add|change`)
    with the old and new values."""
    setting_save(link, actor=actor, address=address)
    return link


def scheme_catalogue_delete(link: SchemeCatalogue, *, actor, address: str | None = None) -> None:
    """The scheme falls back to the shipped `default` catalogue; audited (`catalogue.schemecatalogue_delete`)."""
    setting_delete(link, actor=actor, address=address)


@transaction.atomic
def scheme_catalogue_set(*, scheme, catalogue: Catalogue | None, actor=None,
                         address: str | None = None) -> SchemeCatalogue | None:
    """Make `scheme` use `catalogue` (None: the shipped default again). Nothing is written, nor audited, when
    the scheme already uses it."""
    link = SchemeCatalogue.objects.select_for_update().filter(scheme=scheme).first()
    if catalogue is None:
        if link is not None:
            scheme_catalogue_delete(link, actor=actor, address=address)
        return None
    if link is None:
        link = SchemeCatalogue(scheme=scheme)
    elif link.catalogue_id == catalogue.pk:
        return link
    link.catalogue = catalogue
    return scheme_catalogue_save(link, actor=actor, address=address)

"""Intake: `case_report` creates a case from any channel — patrol, resident, hotline, police, camera,
department, Open311 — with its cell, photos, protected reporter contact, an idempotency key and the nearby
open cases of the same matter offered as duplicates."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from gridgov.accounts.selectors import user_report_paths
from gridgov.cases.attachments import PHOTOS_MAX, attachments_add, photos_check
from gridgov.cases.models import Attachment, Case, CaseEvent, Channel, IntakeKey
from gridgov.cases.policy import policy_for
from gridgov.cases.selectors import case_duplicates
from gridgov.cases.services.events import case_snapshot, event_build, event_write
from gridgov.cases.services.notifications import level_notify
from gridgov.cases.services.resolve import matter_resolve, node_resolve, scheme_resolve
from gridgov.cases.services.transition import case_transition
from gridgov.cases.states import CaseState
from gridgov.catalogue.models import HandlingMode, Matter, ReportLevel
from gridgov.core.names import name_clean
from gridgov.core.statements import rows_create
from gridgov.privacy import crypto
from gridgov.privacy.identifiers import phone_clean
from gridgov.privacy.masking import mask_phone
from gridgov.territory.models import LevelScheme, Node

# the limits of a report, the same on every channel; forms and serializers import them
DESCRIPTION_MAX_LENGTH = 4000
PLACE_MAX_LENGTH = 300  # Case.place
ATTRIBUTE_MAX_LENGTH = 2000  # a text answer to one of the matter's attributes

STAFF_CHANNELS = (Channel.PATROL, Channel.HOTLINE, Channel.POLICE, Channel.DEPARTMENT)
SELF_SERVICE_CHANNELS = (Channel.RESIDENT, Channel.OPEN311, Channel.CAMERA)


@dataclass(frozen=True)
class Written:
    """Every row a report wrote beside its case (a new case that was not handled on the spot): its photos
    and its report event; no stages, applications or escalations yet. An answer can show the case from
    these without reading it again."""

    attachments: list[Attachment]
    events: list[CaseEvent]


@dataclass
class IntakeResult:
    case: Case
    created: bool
    duplicates: list[tuple[Case, float]] = field(default_factory=list)
    written: Written | None = None  # None: a replayed or self-handled case, read it again to show it


def _fingerprint(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _tracking_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out on the phone
    return "".join(secrets.choice(alphabet) for _ in range(10))


def case_report(*, actor, channel: str, description: str, scheme: LevelScheme | str | None = None,
                matter: Matter | str | None = None, node: Node | str | None = None, lon: float | None = None,
                lat: float | None = None, place: str = "", photos: list | None = None,
                reporter_name: str = "", reporter_phone: str = "", anonymous: bool = False,
                report_level: str | None = None, handling_mode: str | None = None, external_ref: str = "",
                attributes: dict | None = None, idempotency_key: str = "", client: str = "",
                self_handled: bool = False, before_photos: list | None = None, after_photos: list | None = None,
                note: str = "", at: dt.datetime | None = None) -> IntakeResult:
    """Create a case from any channel. Validates everything before writing anything; with an
    `idempotency_key`, a retried submission (same client, same key, same content) returns the first case
    and creates nothing. A reporter who handled the problem on the spot (巡办合一, `self_handled` with
    before and after photos) closes it at once unless it is sampled for verification."""
    if channel not in Channel.values:
        raise ValidationError({"channel": _("unknown channel %(channel)s") % {"channel": channel}})
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": _("describe the problem")})
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError({"description": _("the description is longer than %(n)s characters")
                               % {"n": DESCRIPTION_MAX_LENGTH}})
    place = (place or "").strip()
    if len(place) > PLACE_MAX_LENGTH:
        raise ValidationError({"place": _("the place is longer than %(n)s characters") % {"n": PLACE_MAX_LENGTH}})
    for name, items in (("photos", photos), ("before_photos", before_photos), ("after_photos", after_photos)):
        if len(items or []) > PHOTOS_MAX:  # before anything is decoded or stored
            raise ValidationError({name: _("at most %(n)s photos") % {"n": PHOTOS_MAX}})
    scheme_obj = scheme_resolve(scheme, node)
    policy = policy_for(scheme_obj)
    matter_obj = matter_resolve(scheme=scheme_obj, matter=matter)
    if channel in STAFF_CHANNELS and channel != Channel.DEPARTMENT and matter_obj is None and self_handled:
        raise ValidationError({"matter": _("choose the matter of a problem handled on the spot")})
    cell, lon_f, lat_f = node_resolve(scheme=scheme_obj, node=node, lon=lon, lat=lat, place=place)
    if channel == Channel.PATROL:
        paths = user_report_paths(actor)
        if paths is not None and not any(cell.path.startswith(p) for p in paths):
            raise ValidationError({"location": _("cell %(code)s is outside your territory") % {"code": cell.code}})
    if report_level and report_level not in ReportLevel.values:
        raise ValidationError({"report_level": _("unknown report level %(level)s") % {"level": report_level}})
    if handling_mode and handling_mode not in HandlingMode.values:
        raise ValidationError({"handling_mode": _("unknown handling mode %(mode)s") % {"mode": handling_mode}})
    phone = ""
    if reporter_phone:
        try:
            phone = phone_clean(reporter_phone)
        except ValidationError:
            raise ValidationError({"reporter_phone": _("not a valid phone number")}) from None
    reporter_name = name_clean(reporter_name, field="reporter_name", label=_("reporter's name"), limit=10**6,
                               required=False)
    if len(reporter_name) > 50:
        raise ValidationError({"reporter_name": _("at most 50 characters")})
    report_photos = photos_check(photos, field="photos")
    before = photos_check(before_photos, field="before_photos")
    after = photos_check(after_photos, field="after_photos")
    if matter_obj and matter_obj.evidence_before and channel == Channel.PATROL and not (report_photos or before):
        raise ValidationError({"photos": _("matter %(code)s needs a photo of the problem") % {"code": matter_obj.code}})
    if self_handled:
        if channel != Channel.PATROL:
            raise ValidationError({"self_handled": _("only a patrol's reporter handles a problem on the spot")})
        if not (before or report_photos) or not after:
            raise ValidationError({"after_photos" if not after else "before_photos":
                                   _("a problem handled on the spot needs photos before and after")})
    if attributes is not None and not isinstance(attributes, dict):
        raise ValidationError({"attributes": _("give the attributes as a mapping of code to value")})
    attributes = _attributes_clean(matter_obj, attributes or {}, channel=channel)

    key = (idempotency_key or "").strip()
    client_id = client or (f"user:{actor.pk}" if getattr(actor, "is_authenticated", False) else "anonymous")
    if len(key) > 100:
        raise ValidationError({"idempotency_key": _("at most 100 characters")})
    fingerprint = _fingerprint(channel=channel, description=description, matter=getattr(matter_obj, "pk", None),
                               node=cell.pk, lon=lon_f, lat=lat_f, place=place, attributes=attributes,
                               photos=[p.sha256 for p in report_photos + before + after],
                               external_ref=external_ref, reporter=[reporter_name.strip(), phone, anonymous],
                               level=report_level, mode=handling_mode, self_handled=self_handled)
    # A retried key is found by the key's unique constraint (the IntegrityError below), not by a look-up
    # before every report: the first statement of a report is its INSERT.
    now = at or timezone.now()
    user = actor if getattr(actor, "is_authenticated", False) else None
    try:
        # one transaction: a self-handled report whose handling fails leaves no case and no key behind, so
        # the retry (same key) creates it instead of returning a half-done case
        with transaction.atomic():
            case = Case(
                scheme=scheme_obj, node=cell, lon=lon_f, lat=lat_f, place=place, matter=matter_obj,
                channel=channel, external_ref=external_ref[:64], description=description,
                report_level=report_level or (matter_obj.report_level if matter_obj else ReportLevel.ROUTINE),
                handling_mode=(HandlingMode.SELF if self_handled else handling_mode
                               or (matter_obj.handling_mode if matter_obj else HandlingMode.HANDOVER)),
                tracking_code=_tracking_code(), reported_at=now, reporter=user,
                reporter_name_sealed=crypto.seal(reporter_name.strip(), field="cases.case.reporter_name"),
                reporter_phone_sealed=crypto.seal(phone, field="cases.case.reporter_phone"),
                reporter_phone_masked=mask_phone(phone) if phone else "", anonymous=anonymous,
                owner=user if channel in STAFF_CHANNELS else None, attributes=attributes)
            # the key right with the case: a retry stops there, before any photo is stored
            linked = [IntakeKey(client=client_id, key=key, fingerprint=fingerprint, case=case)] if key else []
            # the channel is the report's data, not a role: the report event has no acting role
            report = {"case": case, "kind": "report", "actor": user, "to_state": CaseState.REPORTED, "note": note,
                      "new": {"channel": channel, **case_snapshot(case)}, "at": now, "seq": 1}
            if report_photos:  # the photos' rows need the case's key, and the event names them
                rows_create(case, *linked, link="case")
                stored = attachments_add(case=case, photos=report_photos, purpose=Attachment.Purpose.REPORT,
                                         actor=user)
                event = event_write(**report, attachments=stored)
            else:  # the case, its key and its report event: one statement on PostgreSQL
                stored, event = [], event_build(**report)
                rows_create(case, *linked, event, link="case")
            level_notify(case, policy=policy)
            if self_handled:
                case = case_transition(case=case, actor=actor, action="self_handle",
                                       before_photos=before or report_photos, after_photos=after, note=note, at=at)
                case = _sample_or_close(case, policy=policy, at=at)
    except IntegrityError:
        existing = _replayed(client_id, key, fingerprint) if key else None
        if existing is None:
            raise
        return IntakeResult(existing, created=False, duplicates=case_duplicates(existing))
    if self_handled:
        return IntakeResult(case, created=True, duplicates=case_duplicates(case, policy=policy))
    return IntakeResult(case, created=True, duplicates=case_duplicates(case, policy=policy), written=Written(
        attachments=stored, events=[event]))


def _replayed(client: str, key: str, fingerprint: str) -> Case | None:
    found = IntakeKey.objects.filter(client=client, key=key).select_related("case").first()
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise ValidationError({"idempotency_key": _("this Idempotency-Key was used for a different report")})
    return found.case


# attributes a channel may add beside the matter's declared ones: Open311's media_url, a link to the
# reporter's photo kept as given (never fetched)
CHANNEL_ATTRIBUTES = frozenset({"media_url"})


# channels where the reporter fills in the matter's form; relayed reports (hotline, police, camera,
# department systems) may lack an answer to a required attribute, the registrar completes it
FORM_CHANNELS = (Channel.PATROL, Channel.RESIDENT, Channel.OPEN311)


def attribute_label(spec: dict) -> str:
    """What a person calls one of a matter's attributes: its description (its code when it has none)."""
    return str(spec.get("description") or "").strip() or str(spec["code"])


def attribute_error_key(code: str) -> str:
    """The key of an error about one attribute in a ValidationError's mapping (`attributes.<code>`); the
    message names the attribute by its label."""
    return f"attributes.{code}"


def _answers(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in items if v is not None and str(v).strip() != ""]


def _attribute_value(matter: Matter, spec: dict, value: Any) -> Any:
    code, datatype = spec["code"], spec.get("datatype", "string")
    keys = [str(v["key"]) for v in spec.get("values", [])]
    items = _answers(value)

    def bad(reason):
        return ValidationError({attribute_error_key(code): _("attribute %(code)s of matter %(matter)s: %(reason)s")
                                % {"code": attribute_label(spec), "matter": matter.code, "reason": reason}})

    if datatype == "multivaluelist":
        if any(v not in keys for v in items):
            raise bad(_("takes values among %(keys)s") % {"keys": ", ".join(keys)})
        return items
    if isinstance(value, dict) or len(items) > 1:
        raise bad(_("takes a single value"))
    text = items[0]
    if datatype == "singlevaluelist":
        if text not in keys:
            raise bad(_("takes one of %(keys)s") % {"keys": ", ".join(keys)})
        return text
    if datatype == "number":
        try:
            number = float(text)
        except ValueError:
            raise bad(_("takes a number")) from None
        if not math.isfinite(number):
            raise bad(_("takes a number"))
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if datatype == "datetime":
        try:
            moment = parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            raise bad(_("takes a date and time (ISO 8601)"))
        return (timezone.make_aware(moment) if timezone.is_naive(moment) else moment).isoformat()
    if len(text) > ATTRIBUTE_MAX_LENGTH:
        raise bad(_("at most %(n)s characters") % {"n": ATTRIBUTE_MAX_LENGTH})
    return text


def _attributes_clean(matter: Matter | None, values: dict, *, channel: str) -> dict:
    """THE check of submitted attributes against the matter's declared ones (its Open311 service
    definition), for every channel: known codes, values of the declared type (numbers and date-times
    normalised); required ones present on form channels. An error about one attribute is keyed
    `attributes.<code>` and names it by its label."""
    if matter is None:
        if values:
            raise ValidationError({"attributes": _("choose the matter the attributes belong to")})
        return {}
    declared = {str(a["code"]): a for a in (matter.attributes or [])}
    out: dict[str, Any] = {}
    for code, value in values.items():
        code = str(code)
        spec = declared.get(code)
        if spec is None and code in CHANNEL_ATTRIBUTES:
            out[code] = str(value)[:ATTRIBUTE_MAX_LENGTH]
            continue
        if spec is None:
            raise ValidationError({attribute_error_key(code): _("matter %(matter)s has no attribute %(code)s")
                                   % {"matter": matter.code, "code": code}})
        if not _answers(value):
            continue
        out[code] = _attribute_value(matter, spec, value)
    missing = [a for c, a in declared.items() if a.get("required") and c not in out]
    if missing and channel in FORM_CHANNELS:
        raise ValidationError({attribute_error_key(a["code"]): _("required attributes missing: %(codes)s")
                               % {"codes": attribute_label(a)} for a in missing})
    return out


def _sample_or_close(case: Case, *, policy, at: dt.datetime | None = None) -> Case:
    """巡办合一: a self-handled case closes at once, except a sample (the policy's share, chosen by a hash
    of the case id so a retry decides the same) left for verification. Runs inside the intake's
    transaction."""
    share = float(policy.verification_sample_share)
    bucket = int(hashlib.sha256(f"sample:{case.pk}".encode()).hexdigest()[:8], 16) % 1000
    if bucket < share * 1000:
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        event_write(case=locked, kind="sampled", actor=None, actor_role="SYSTEM", at=at,
                    from_state=locked.state, to_state=locked.state,
                    note=_("sampled for verification (%(share)s %% of self-handled cases)")
                    % {"share": round(share * 100)})
        return Case.objects.get(pk=case.pk)
    return case_transition(case=case, actor=None, action="auto_close", at=at)

"""Writes of the closed loop. Two entry points change cases:

- `case_report` (intake) creates a case from any channel — patrol, resident, hotline, police, camera,
  department, Open311 — with its cell, photos, protected reporter contact, an idempotency key and
  the nearby open cases of the same matter offered as duplicates;
- `case_transition` is the only code that changes a case's state: it locks the row, checks the
  transition table and the grants, applies the action, bumps `version`, writes one typed event (and the
  notices) in the same transaction.

The `case_<action>` helpers at the end are thin names for `case_transition` calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment, Department, RoleCategory, Team
from gridgov.cases import clock
from gridgov.cases.attachments import Photo, attachments_add, photos_check
from gridgov.cases.errors import ActionForbidden, CaseConflict
from gridgov.cases.grants import action_allowed_as, duty_refusal, sees_reporter, user_standing
from gridgov.cases.models import (
    AssigneeKind,
    Attachment,
    Case,
    CaseEvent,
    CaseRequest,
    CaseState,
    Channel,
    Escalation,
    IntakeKey,
    ReportIn,
    RequestKind,
    RoutingRule,
)
from gridgov.cases.notify import ancestors_at_depths, assignee_users, leaders_at, notify, offices_over
from gridgov.cases.policy import level_notify_depths, policy_catalogue, policy_for
from gridgov.cases.reporter_notices import reporter_notice_after
from gridgov.cases.routing import Assignee, case_route, completion_predict, target_resolve
from gridgov.cases.selectors import case_duplicates
from gridgov.cases.transitions import TRANSITIONS, Clock
from gridgov.catalogue.models import HandlingMode, Matter, ReportLevel
from gridgov.core.audit import audit_record
from gridgov.core.names import name_clean
from gridgov.privacy import crypto
from gridgov.privacy.access import access_log_write, purpose_clean
from gridgov.privacy.identifiers import phone_clean
from gridgov.privacy.masking import mask_phone
from gridgov.privacy.models import AccessKind
from gridgov.territory.locate import locate
from gridgov.territory.models import LevelScheme, Node
from gridgov.workdays.calendar import LimitUnit, deadline

TRACKED = ("state", "matter_id", "report_level", "handling_mode", "owner_id", "assignee_kind", "assignee_user_id",
           "assignee_node_id", "assignee_team_id", "routing_rule_id", "due_at", "escalation_depth", "merged_into_id",
           "satisfaction", "rework_count", "predicted_at", "parked_at")
STAFF_CHANNELS = (Channel.PATROL, Channel.HOTLINE, Channel.POLICE, Channel.DEPARTMENT)
SELF_SERVICE_CHANNELS = (Channel.RESIDENT, Channel.OPEN311, Channel.CAMERA)


# =========================================================================== events
def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _snapshot(case: Case) -> dict[str, Any]:
    return {name: _jsonable(getattr(case, name)) for name in TRACKED}


def event_write(*, case: Case, kind: str, actor=None, actor_role: str = "", from_state: str = "", to_state: str = "",
                note: str = "", old: dict | None = None, new: dict | None = None,
                attachments: list[Attachment] | None = None, at: dt.datetime | None = None) -> CaseEvent:
    """Append the case's next event. The caller holds the case row's lock (or just created the case), so
    numbering by the current maximum cannot race; the (case, seq) constraint catches any that would."""
    seq = (CaseEvent.objects.filter(case=case).aggregate(m=Max("seq"))["m"] or 0) + 1
    user = actor if getattr(actor, "is_authenticated", False) else None
    return CaseEvent.objects.create(
        case=case, seq=seq, kind=kind, at=at or timezone.now(), actor=user, actor_role=actor_role[:60],
        node_id=case.node_id, from_state=from_state, to_state=to_state, note=note, old_values=old or {},
        new_values=new or {}, attachments=[{"id": a.pk, "purpose": a.purpose, "sha256": a.sha256} for a in
                                           (attachments or [])])


# =========================================================================== intake
@dataclass
class IntakeResult:
    case: Case
    created: bool
    duplicates: list[tuple[Case, float]] = field(default_factory=list)


def _scheme_resolve(scheme, node) -> LevelScheme:
    if isinstance(scheme, LevelScheme):
        return scheme
    if scheme:
        found = LevelScheme.objects.filter(key=str(scheme)).first()
        if found is None:
            raise ValidationError({"scheme": _("unknown level scheme %(key)s") % {"key": scheme}})
        return found
    if isinstance(node, Node):
        return node.scheme
    schemes = list(LevelScheme.objects.all()[:2])
    if len(schemes) == 1:
        return schemes[0]
    raise ValidationError({"scheme": _("name the level scheme (jurisdiction) of the report")})


def matter_resolve(*, scheme: LevelScheme, matter, field: str = "matter", policy=None) -> Matter | None:
    """A matter of the scheme's catalogue, by instance, id or five-digit code."""
    if matter in (None, ""):
        return None
    catalogue = policy_catalogue(policy or policy_for(scheme))
    if isinstance(matter, Matter):
        found = matter if catalogue is None or matter.catalogue_id == catalogue.pk else None
    else:
        code = str(matter).strip()
        found = (Matter.objects.filter(catalogue=catalogue, code=code).select_related("category").first()
                 if catalogue else None)
    if found is None:
        raise ValidationError({field: _("unknown matter %(code)s") % {"code": getattr(matter, "code", matter)}})
    if not found.active:
        raise ValidationError({field: _("matter %(code)s is no longer in use") % {"code": found.code}})
    return found


def _node_resolve(*, scheme: LevelScheme, node, lon, lat, place: str) -> tuple[Node, float | None, float | None]:
    if node not in (None, ""):
        if not isinstance(node, Node):
            key = str(node)
            node = (Node.objects.filter(scheme=scheme, code=key).first()
                    or (Node.objects.filter(scheme=scheme, pk=int(key)).first() if key.isdigit() and len(key) <= 18
                        else None))
            if node is None:
                raise ValidationError({"node": _("unknown cell %(code)s") % {"code": key}})
        if node.scheme_id != scheme.pk:
            raise ValidationError({"node": _("the cell belongs to another level scheme")})
        if node.valid_to is not None:
            raise ValidationError({"node": _("the cell %(code)s is retired") % {"code": node.code}})
        if lon is not None and lat is not None:
            try:
                found = locate(float(lon), float(lat), scheme=scheme)
            except (TypeError, ValueError) as exc:
                raise ValidationError({"location": str(exc)}) from None
            if found is None or not found.path.startswith(node.path):
                raise ValidationError({"location": _("the point (%(lon).6f, %(lat).6f) lies outside cell %(code)s")
                                       % {"lon": float(lon), "lat": float(lat), "code": node.code}})
            return found, float(lon), float(lat)
        return node, lon, lat
    if lon is not None and lat is not None:
        try:
            found = locate(float(lon), float(lat), scheme=scheme)
        except (TypeError, ValueError) as exc:
            raise ValidationError({"location": str(exc)}) from None
        if found is None:
            raise ValidationError({"location": _("the point (%(lon).6f, %(lat).6f) lies outside every cell")
                                   % {"lon": float(lon), "lat": float(lat)}})
        return found, float(lon), float(lat)
    if place:
        from gridgov.people.models import Building

        building = (Building.objects.filter(scheme=scheme, address=place.strip()).select_related("node").first()
                    or Building.objects.filter(scheme=scheme, name=place.strip()).select_related("node").first())
        if building is not None:
            return building.node, building.lon, building.lat
        raise ValidationError({"location": _("the address %(place)s is not a known building; give the point or "
                                             "the cell") % {"place": place}})
    raise ValidationError({"location": _("give the point (longitude and latitude), the cell or a known address")})


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
    and creates nothing. A finder who handled the problem on the spot (巡办合一, `self_handled` with
    before and after photos) closes it at once unless it is sampled for verification."""
    if channel not in Channel.values:
        raise ValidationError({"channel": _("unknown channel %(channel)s") % {"channel": channel}})
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": _("describe the problem")})
    if len(description) > 4000:
        raise ValidationError({"description": _("the description is longer than 4000 characters")})
    scheme_obj = _scheme_resolve(scheme, node)
    policy = policy_for(scheme_obj)
    matter_obj = matter_resolve(scheme=scheme_obj, matter=matter, policy=policy)
    if channel in STAFF_CHANNELS and channel != Channel.DEPARTMENT and matter_obj is None and self_handled:
        raise ValidationError({"matter": _("choose the matter of a problem handled on the spot")})
    cell, lon_f, lat_f = _node_resolve(scheme=scheme_obj, node=node, lon=lon, lat=lat, place=place)
    if channel == Channel.PATROL:
        from gridgov.accounts.selectors import user_scope_paths

        paths = user_scope_paths(actor)
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
            raise ValidationError({"self_handled": _("only a patrol's finder handles a problem on the spot")})
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
                               node=cell.pk, lon=lon_f, lat=lat_f, place=place.strip(), attributes=attributes,
                               photos=[p.sha256 for p in report_photos + before + after],
                               external_ref=external_ref, reporter=[reporter_name.strip(), phone, anonymous],
                               level=report_level, mode=handling_mode, self_handled=self_handled)
    if key:
        existing = _replayed(client_id, key, fingerprint)
        if existing:
            return IntakeResult(existing, created=False, duplicates=case_duplicates(existing, policy=policy))

    now = at or timezone.now()
    user = actor if getattr(actor, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            case = Case.objects.create(
                scheme=scheme_obj, node=cell, lon=lon_f, lat=lat_f, place=place.strip()[:300], matter=matter_obj,
                channel=channel, external_ref=external_ref[:64], description=description,
                report_level=report_level or (matter_obj.report_level if matter_obj else ReportLevel.ROUTINE),
                handling_mode=(HandlingMode.SELF if self_handled else handling_mode
                               or (matter_obj.handling_mode if matter_obj else HandlingMode.HANDOVER)),
                tracking_code=_tracking_code(), reported_at=now, reporter=user,
                reporter_name_sealed=crypto.seal(reporter_name.strip(), field="cases.case.reporter_name"),
                reporter_phone_sealed=crypto.seal(phone, field="cases.case.reporter_phone"),
                reporter_phone_masked=mask_phone(phone) if phone else "", anonymous=anonymous,
                owner=user if channel in STAFF_CHANNELS else None, attributes=attributes)
            stored = attachments_add(case=case, photos=report_photos, purpose=Attachment.Purpose.REPORT, actor=user)
            event_write(case=case, kind="report", actor=user, actor_role=f"channel:{channel}",
                        to_state=CaseState.REPORTED, note=note, new={"channel": channel, **_snapshot(case)},
                        attachments=stored, at=now)
            if key:
                IntakeKey.objects.create(client=client_id, key=key, fingerprint=fingerprint, case=case)
            _notify_level(case, kind="report", policy=policy)
    except IntegrityError:
        existing = _replayed(client_id, key, fingerprint) if key else None
        if existing is None:
            raise
        return IntakeResult(existing, created=False, duplicates=case_duplicates(existing))
    if self_handled:
        case = case_transition(case=case, actor=actor, action="self_handle", before_photos=before or report_photos,
                               after_photos=after, note=note, at=at)
        case = _sample_or_close(case, at=at)
    return IntakeResult(case, created=True, duplicates=case_duplicates(case, policy=policy))


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


def _attribute_value(matter: Matter, spec: dict, value: Any) -> Any:
    code, datatype = spec["code"], spec.get("datatype", "string")
    keys = [str(v["key"]) for v in spec.get("values", [])]

    def bad(reason):
        return ValidationError({"attributes": _("attribute %(code)s of matter %(matter)s: %(reason)s")
                                % {"code": code, "matter": matter.code, "reason": reason}})

    if datatype == "multivaluelist":
        items = value if isinstance(value, list) else [value]
        if any(str(v) not in keys for v in items):
            raise bad(_("takes values among %(keys)s") % {"keys": ", ".join(keys)})
        return [str(v) for v in items]
    if isinstance(value, list | dict):
        raise bad(_("takes a single value"))
    text = str(value).strip()
    if datatype == "singlevaluelist":
        if text not in keys:
            raise bad(_("takes one of %(keys)s") % {"keys": ", ".join(keys)})
        return text
    if datatype == "number":
        try:
            number = float(text)
        except ValueError:
            raise bad(_("takes a number")) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise bad(_("takes a number"))
        return number
    if datatype == "datetime":
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            raise bad(_("takes a date and time (ISO 8601)")) from None
        return text
    if len(text) > 2000:
        raise bad(_("at most 2000 characters"))
    return text


def _attributes_clean(matter: Matter | None, values: dict, *, channel: str) -> dict:
    """Check submitted attributes against the matter's declared ones (its Open311 service definition):
    known codes, values of the declared type; required ones present on form channels."""
    if matter is None:
        if values:
            raise ValidationError({"attributes": _("choose the matter the attributes belong to")})
        return {}
    declared = {a["code"]: a for a in (matter.attributes or [])}
    out: dict[str, Any] = {}
    for code, value in values.items():
        spec = declared.get(str(code))
        if spec is None and str(code) in CHANNEL_ATTRIBUTES:
            out[str(code)] = str(value)[:2000]
            continue
        if spec is None:
            raise ValidationError({"attributes": _("matter %(matter)s has no attribute %(code)s")
                                   % {"matter": matter.code, "code": code}})
        if value in (None, "", []):
            continue
        out[str(code)] = _attribute_value(matter, spec, value)
    missing = [c for c, a in declared.items() if a.get("required") and c not in out]
    if missing and channel in FORM_CHANNELS:
        raise ValidationError({"attributes": _("required attributes missing: %(codes)s")
                               % {"codes": ", ".join(missing)}})
    return out


def _sample_or_close(case: Case, *, at: dt.datetime | None = None) -> Case:
    """巡办合一: a self-handled case closes at once, except a sample (the policy's share, chosen by a hash
    of the case id so a retry decides the same) left for verification."""
    share = float(policy_for(case.scheme).verification_sample_share)
    bucket = int(hashlib.sha256(f"sample:{case.pk}".encode()).hexdigest()[:8], 16) % 1000
    if bucket < share * 1000:
        with transaction.atomic():
            locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
            event_write(case=locked, kind="sampled", actor=None, actor_role="SYSTEM", at=at,
                        from_state=locked.state, to_state=locked.state,
                        note=_("sampled for verification (%(share)s %% of self-handled cases)")
                        % {"share": round(share * 100)})
        return Case.objects.get(pk=case.pk)
    return case_transition(case=case, actor=None, action="auto_close", at=at)


def _notify_level(case: Case, *, kind: str, policy=None) -> None:
    """Urgent and major cases are told to the leaders and offices of the levels the policy names."""
    depths = level_notify_depths(policy or policy_for(case.scheme), case.report_level)
    if not depths:
        return
    users = set()
    for node in ancestors_at_depths(case.node, depths):
        users |= leaders_at(node)
    notify(users=users, case=case, kind=f"level_{case.report_level.lower()}",
           key=f"case{case.pk}:level:{case.report_level}",
           text=_("%(level)s case %(number)s in %(cell)s") % {"level": case.get_report_level_display(),
                                                           "number": case.number, "cell": case.node.name})


# =========================================================================== transitions
def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: _("not a number")}) from None
    if not number.is_finite() or number <= 0 or number > 10000:
        raise ValidationError({field: _("must be a positive number up to 10000")})
    return number


def _assignee_from(spec: dict | Assignee | None, case: Case) -> Assignee | None:
    """An explicit assignee: {"kind": GRID_WORKER, "user": id} / {"kind": COMMUNITY, "node": id} /
    {"kind": DEPARTMENT, "team": id} or {"kind": DEPARTMENT, "department": id or key}."""
    if spec is None or isinstance(spec, Assignee):
        return spec
    if not isinstance(spec, dict) or spec.get("kind") not in AssigneeKind.values:
        raise ValidationError({"assignee": _("give the assignee's kind (GRID_WORKER, COMMUNITY or DEPARTMENT)")})
    kind = spec["kind"]
    from django.contrib.auth import get_user_model

    if kind == AssigneeKind.GRID_WORKER:
        if spec.get("user") in (None, ""):
            return target_resolve(kind=kind, case=case)
        user = get_user_model().objects.filter(pk=spec["user"], is_active=True).first()
        ancestors = [int(p) for p in case.node.path.strip("/").split("/") if p]
        if user is None or not Assignment.objects.current().filter(
                person__user=user, node_id__in=ancestors, role__category=RoleCategory.GRID_WORKER).exists():
            raise ValidationError({"assignee": _("the person must be a grid worker in charge of the case's cell or "
                                                 "of a cell above it")})
        return Assignee(kind, user=user)
    if kind == AssigneeKind.COMMUNITY:
        if spec.get("node") in (None, ""):
            return target_resolve(kind=kind, case=case)
        node = Node.objects.filter(pk=spec["node"], scheme_id=case.scheme_id, valid_to__isnull=True).first()
        if node is None or f"/{node.pk}/" not in case.node.path:
            raise ValidationError({"assignee": _("the community must be an active cell above the case's cell")})
        return Assignee(kind, node=node)
    if spec.get("team") not in (None, ""):
        team = Team.objects.filter(pk=spec["team"], department__scheme_id=case.scheme_id).first()
        if team is None:
            raise ValidationError({"assignee": _("unknown team")})
        return Assignee(kind, team=team)
    value = spec.get("department")
    dept = (Department.objects.filter(scheme_id=case.scheme_id, active=True, key=str(value)).first()
            or (Department.objects.filter(scheme_id=case.scheme_id, active=True, pk=value).first()
                if str(value).isdigit() else None))
    if dept is None:
        raise ValidationError({"assignee": _("unknown department %(value)s") % {"value": value}})
    return target_resolve(kind=kind, case=case, department=dept)


def _admission_check(case: Case, assignee: Assignee) -> None:
    if assignee.kind != AssigneeKind.GRID_WORKER:
        return
    from gridgov.catalogue.admission import matter_admitted

    if case.matter_id and not matter_admitted(matter=case.matter, scheme=case.scheme):
        raise ValidationError({"assignee": _("matter %(code)s %(name)s is not on an admitted duty list: it cannot "
                                             "be given to a grid worker; dispatch it to its department")
                               % {"code": case.matter.code, "name": case.matter.name_zh}})


def _evidence(case: Case, t, kw: dict) -> dict[str, list[Photo]]:
    """The photos an action carries, checked, with the matter's required evidence enforced."""
    photos = {
        Attachment.Purpose.BEFORE: photos_check(kw.get("before_photos"), field="before_photos"),
        Attachment.Purpose.AFTER: photos_check(kw.get("after_photos"), field="after_photos"),
        Attachment.Purpose.EVIDENCE: photos_check(kw.get("photos"), field="photos"),
    }
    required = set(t.evidence)
    if t.action in ("report_back",) and case.matter_id and case.matter.evidence_after:
        required.add(Attachment.Purpose.AFTER)
    if t.action == "self_handle" and case.attachments.filter(purpose=Attachment.Purpose.REPORT).exists():
        required.discard(Attachment.Purpose.BEFORE)
    for purpose in sorted(required):
        if not photos[purpose]:
            name = {"BEFORE": "before_photos", "AFTER": "after_photos"}.get(purpose, "photos")
            raise ValidationError({name: _("%(action)s needs a photo (%(purpose)s)")
                                   % {"action": t.label, "purpose": Attachment.Purpose(purpose).label}})
    return photos


def case_transition(*, case: Case | int, actor, action: str, note: str = "", reason: str = "",
                    expected_version: int | None = None, at: dt.datetime | None = None, **kw: Any) -> Case:
    """Take `action` on the case as `actor` (None = the system). The only way a case changes state.

    Locks the case row; refuses (and changes nothing) when the action is unknown (ValidationError), not
    allowed in the current state or the case moved on since `expected_version` (CaseConflict → 409), refused
    to the actor by the separation of duties (they handled this round: ActionForbidden → 403 naming the
    rule) or not granted to them (ActionForbidden → 403), or its input is bad (ValidationError naming the
    field).
    Otherwise applies the action and the clock rule, bumps the version and writes one event, in one
    transaction."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise ValidationError({"action": _("unknown action %(action)s") % {"action": action}})
    reason = (reason or "").strip()
    note = (note or "").strip()
    if t.reason and not reason:
        raise ValidationError({"reason": _("%(action)s needs a reason") % {"action": t.label}})
    case_id = case.pk if isinstance(case, Case) else int(case)
    with transaction.atomic():
        # of=self: matter and team are outer joins, which PostgreSQL refuses to lock
        locked = (Case.objects.select_for_update(of=("self",))
                  .select_related("scheme", "node", "matter", "assignee_team").filter(pk=case_id).first())
        if locked is None:
            raise Case.DoesNotExist(f"case {case_id}")
        if expected_version is not None and int(expected_version) != locked.version:
            raise CaseConflict(_("the case changed since you loaded it (your version %(mine)s, now %(now)s); "
                                 "reload it and try again") % {"mine": expected_version, "now": locked.version},
                               code="version", state=locked.state, version=locked.version)
        if locked.state not in t.sources:
            raise CaseConflict(_("%(action)s is not possible while the case is %(state)s")
                               % {"action": t.label, "state": locked.get_state_display()},
                               code="state", state=locked.state, version=locked.version)
        standing = user_standing(actor, locked)
        refusal = duty_refusal(standing, action)  # 监督与处置分离: above every grant
        if refusal:
            raise ActionForbidden(refusal)
        as_role = action_allowed_as(actor, locked, action, standing=standing)
        if as_role is None:
            raise ActionForbidden(_("you may not %(action)s this case") % {"action": str(t.label).lower()})
        now = at or timezone.now()
        before = _snapshot(locked)
        from_state = locked.state
        policy = policy_for(locked.scheme)
        photos = _evidence(locked, t, kw)
        extra_new: dict[str, Any] = {}
        handler = _HANDLERS.get(action)
        if handler:
            extra_new = handler(locked, actor=actor, reason=reason, now=now, policy=policy, **kw) or {}
        if t.target:
            locked.state = t.target
        _clock_apply(locked, t.clock, now=now, policy=policy)
        clock.case_clock_refresh(locked, now=now)
        locked.version += 1
        locked.save()
        stored = []
        for purpose, items in photos.items():
            stored += attachments_add(case=locked, photos=items, purpose=purpose, actor=actor)
        after = _snapshot(locked)
        old = {k: v for k, v in before.items() if after[k] != v}
        new = {k: after[k] for k in old}
        new.update(extra_new)
        event = event_write(case=locked, kind=action, actor=actor, actor_role=as_role, from_state=from_state,
                            to_state=locked.state, note="\n".join(x for x in (reason, note) if x), old=old, new=new,
                            attachments=stored, at=now)
        _notify_after(locked, t.action, event=event, policy=policy)
    return locked


def _clock_apply(case: Case, rule: Clock, *, now: dt.datetime, policy) -> None:
    if rule == Clock.START:
        if not case.stages.exists():
            clock.stages_plan(case, start=now, policy=policy)
    elif rule == Clock.COMPLETE_STAGE:
        if not clock.stages_complete(case, now=now, only_first=True):
            raise ValidationError({"action": _("no stage of this case is open")})
    elif rule == Clock.STOP:
        if case.state == CaseState.REPORTED_BACK and not case.stages.exists():  # handled on the spot
            clock.stages_plan(case, start=case.reported_at, policy=policy)
        clock.stages_complete(case, now=now)
    elif rule == Clock.PAUSE:
        case.parked_at = now
    elif rule == Clock.RESUME:
        clock.stages_resume(case, since=case.parked_at or now, now=now)
        case.parked_at = None
    elif rule == Clock.RESTART:
        clock.stages_restart(case, now=now, policy=policy)


# --------------------------------------------------------------------------- per-action handlers
def _h_register(case: Case, *, actor, now, policy, matter=None, report_level=None, handling_mode=None,
                **kw) -> dict:
    if matter not in (None, ""):
        case.matter = matter_resolve(scheme=case.scheme, matter=matter, policy=policy)
    if case.matter_id is None:
        raise ValidationError({"matter": _("choose the matter before registering the case")})
    if report_level:
        if report_level not in ReportLevel.values:
            raise ValidationError({"report_level": _("unknown report level %(level)s") % {"level": report_level}})
        case.report_level = report_level
    if handling_mode:
        if handling_mode not in HandlingMode.values:
            raise ValidationError({"handling_mode": _("unknown handling mode %(mode)s") % {"mode": handling_mode}})
        case.handling_mode = handling_mode
    case.registered_at = now
    if case.owner_id is None and getattr(actor, "is_authenticated", False):
        case.owner = actor  # 首问首办: the first to take it up owns it until it is handed on
    return {}


def _h_merge(case: Case, *, actor, now, into=None, reason="", **kw) -> dict:
    target_id = Case.pk_from_number(into) if isinstance(into, str) and "-" in into else into
    if target_id in (None, ""):
        raise ValidationError({"into": _("name the case to merge into")})
    from gridgov.cases.selectors import case_scope

    visible = case_scope(Case.objects.all(), actor) if actor is not None else Case.objects.all()
    target = (Case.objects.select_for_update(of=("self",))
              .filter(pk=target_id, scheme_id=case.scheme_id, pk__in=visible.values("pk")).first())
    if target is None or target.pk == case.pk:
        raise ValidationError({"into": _("the case to merge into must be another case of the same territory")})
    if target.state in (CaseState.MERGED, CaseState.REJECTED, CaseState.EVALUATED):
        raise ValidationError({"into": _("case %(number)s is %(state)s and cannot take another")
                               % {"number": target.number, "state": target.get_state_display()}})
    case.merged_into = target
    event_write(case=target, kind="comment", actor=actor, actor_role="merge", from_state=target.state,
                to_state=target.state, note=_("case %(number)s merged into this one: %(reason)s")
                % {"number": case.number, "reason": reason}, new={"merged_case": case.pk}, at=now)
    return {"merged_into_number": target.number}


def _dispatch_to(case: Case, *, assignee: Assignee, now) -> None:
    _admission_check(case, assignee)
    for name, value in assignee.as_values().items():
        setattr(case, name, value)
    if assignee.kind == AssigneeKind.GRID_WORKER:
        case.owner = assignee.user  # handed on: the grid worker now owns it
    case.dispatched_at = now
    case.predicted_at = completion_predict(case, start=now)


def _h_dispatch(case: Case, *, actor, now, assignee=None, **kw) -> dict:
    chosen = _assignee_from(assignee, case)
    rule = None
    if chosen is None:
        rule, chosen = case_route(case, at=now)
    case.routing_rule = rule
    _dispatch_to(case, assignee=chosen, now=now)
    return {"assignee": chosen.describe(), "routing_rule": getattr(rule, "name", "")}


def _h_reroute(case: Case, *, actor, now, assignee=None, **kw) -> dict:
    chosen = _assignee_from(assignee, case)
    rule = None
    if chosen is None:
        rule, chosen = case_route(case, at=now)
    if chosen.describe() == Assignee(case.assignee_kind, case.assignee_user, case.assignee_node,
                                     case.assignee_team).describe():
        raise ValidationError({"assignee": _("the case is already with this handler")})
    case.routing_rule = rule
    case.dispatched_at = case.dispatched_at or now
    for name, value in chosen.as_values().items():
        setattr(case, name, value)
    _admission_check(case, chosen)
    return {"assignee": chosen.describe()}


def _h_accept(case: Case, *, actor, now, **kw) -> dict:
    if case.assignee_kind != AssigneeKind.GRID_WORKER and getattr(actor, "is_authenticated", False):
        # the one who accepts for a team or community owns it from now on (首问首办: re-routing, parking
        # requests, notes); owning never makes them its verifier (OWNER holds no verification grant, and
        # `grants.duty_refusal` refuses every handler of the round whatever they hold)
        case.owner = actor
    return {}


def _h_return(case: Case, *, actor, now, **kw) -> dict:
    case.assignee_kind, case.assignee_user, case.assignee_node, case.assignee_team = "", None, None, None
    return {}


def _h_report_back(case: Case, *, actor, now, **kw) -> dict:
    case.handled_at = now
    return {}


def _h_self_handle(case: Case, *, actor, now, **kw) -> dict:
    case.handling_mode = HandlingMode.SELF
    case.registered_at = case.registered_at or now
    case.handled_at = now
    case.owner = case.owner or (actor if getattr(actor, "is_authenticated", False) else None)
    return {}


def _h_partial(case: Case, *, actor, now, **kw) -> dict:
    case.handling_mode = HandlingMode.COLLABORATIVE
    return {}


def _h_close(case: Case, *, actor, now, **kw) -> dict:
    case.closed_at = now
    return {}


def _h_verify_fail(case: Case, *, actor, now, **kw) -> dict:
    case.rework_count += 1
    case.handled_at = None
    return {}


def _satisfaction(value) -> int:
    try:
        score = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"satisfaction": _("give a score from 1 to 5")}) from None
    if not 1 <= score <= 5:
        raise ValidationError({"satisfaction": _("give a score from 1 to 5")})
    return score


def _h_evaluate(case: Case, *, actor, now, policy, satisfaction=None, **kw) -> dict:
    score = _satisfaction(satisfaction)
    if score < policy.dissatisfied_below:
        raise ValidationError({"satisfaction": _("a score below %(n)s reopens the case: use reopen with a reason")
                               % {"n": policy.dissatisfied_below}})
    case.satisfaction = score
    return {}


def _h_reopen(case: Case, *, actor, now, policy, satisfaction=None, **kw) -> dict:
    if satisfaction not in (None, ""):
        case.satisfaction = _satisfaction(satisfaction)
    case.rework_count += 1
    case.closed_at = None
    case.handled_at = None
    return {}


def _request_open(case: Case, kind: str, *, actor, now, reason: str, amount=None, unit="") -> CaseRequest:
    if CaseRequest.objects.filter(case=case, kind=kind, state=CaseRequest.State.PENDING).exists():
        raise ValidationError({"action": _("an application of this kind is already waiting for a decision")})
    return CaseRequest.objects.create(case=case, kind=kind, amount=amount, unit=unit, reason=reason,
                                      requested_by=actor, requested_at=now)


def _request_pending(case: Case, kind: str) -> CaseRequest:
    found = CaseRequest.objects.filter(case=case, kind=kind, state=CaseRequest.State.PENDING).first()
    if found is None:
        raise ValidationError({"action": _("there is no application waiting for a decision")})
    return found


def _request_decide(req: CaseRequest, *, approved: bool, actor, now, note: str) -> None:
    req.state = CaseRequest.State.APPROVED if approved else CaseRequest.State.REJECTED
    req.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    req.decided_at = now
    req.decision_note = note
    req.save()


def _h_request_extension(case: Case, *, actor, now, reason, amount=None, unit=None, **kw) -> dict:
    number = _decimal(amount, "amount")
    if unit not in LimitUnit.values:
        raise ValidationError({"unit": _("give the unit of the extra time")})
    if not case.stages.filter(completed_at__isnull=True).exists():
        raise ValidationError({"action": _("no time limit is running on this case")})
    req = _request_open(case, RequestKind.EXTENSION, actor=actor, now=now, reason=reason, amount=number, unit=unit)
    return {"request": req.pk, "amount": str(number), "unit": unit}


def _h_approve_extension(case: Case, *, actor, now, note="", **kw) -> dict:
    req = _request_pending(case, RequestKind.EXTENSION)
    new_due = clock.stages_extend(case, amount=req.amount, unit=req.unit, now=now)
    _request_decide(req, approved=True, actor=actor, now=now, note=note)
    return {"request": req.pk, "stage_due_at": _jsonable(new_due)}


def _h_reject_request(kind: str):
    def handler(case: Case, *, actor, now, reason, **kw) -> dict:
        req = _request_pending(case, kind)
        _request_decide(req, approved=False, actor=actor, now=now, note=reason)
        return {"request": req.pk}
    return handler


def _h_request_parking(case: Case, *, actor, now, reason, **kw) -> dict:
    return {"request": _request_open(case, RequestKind.PARKING, actor=actor, now=now, reason=reason).pk}


def _h_approve_parking(case: Case, *, actor, now, note="", **kw) -> dict:
    req = _request_pending(case, RequestKind.PARKING)
    _request_decide(req, approved=True, actor=actor, now=now, note=note)
    return {"request": req.pk}


def _h_whistle(case: Case, *, actor, now, policy, reason, depth=None, departments=None, **kw) -> dict:
    """吹哨: raise the case to a level above its cell; the named departments must report in."""
    ancestors = ancestors_at_depths(case.node, range(0, case.node.level.depth))
    ancestors.sort(key=lambda n: n.level.depth)
    if not ancestors:
        raise ValidationError({"depth": _("the case's cell has no level above it")})
    if depth in (None, ""):
        current = case.escalation_depth if case.escalation_depth is not None else case.node.level.depth
        above = [n for n in ancestors if n.level.depth < current]
        if not above:
            raise ValidationError({"depth": _("the case is already at the top level")})
        target = above[-1]
    else:
        target = next((n for n in ancestors if n.level.depth == int(depth)), None)
        if target is None:
            raise ValidationError({"depth": _("no level at depth %(d)s above the case's cell") % {"d": depth}})
        if case.escalation_depth is not None and target.level.depth >= case.escalation_depth:
            raise ValidationError({"depth": _("the case is already escalated to that level or above")})
    names = departments or []
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    depts = []
    for value in names:
        found = (Department.objects.filter(scheme_id=case.scheme_id, active=True, key=str(value).strip()).first()
                 or (Department.objects.filter(scheme_id=case.scheme_id, pk=value).first()
                     if str(value).isdigit() else None))
        if found is None:
            raise ValidationError({"departments": _("unknown department %(value)s") % {"value": value}})
        depts.append(found)
    due = deadline(now, float(policy.report_in_amount), policy.report_in_unit, scheme=case.scheme_id)
    escalation = Escalation.objects.create(case=case, depth=target.level.depth, node=target,
                                           raised_by=actor if getattr(actor, "is_authenticated", False) else None,
                                           raised_at=now, reason=reason, report_in_due_at=due)
    for dept in depts:
        ReportIn.objects.create(escalation=escalation, department=dept)
    case.escalation_depth = target.level.depth
    return {"escalation": escalation.pk, "raised_to": target.pk, "report_in_due_at": due.isoformat(),
            "departments": [d.key for d in depts]}


def _h_report_in(case: Case, *, actor, now, **kw) -> dict:
    pending = ReportIn.objects.filter(escalation__case=case, reported_at__isnull=True,
                                      department__teams__members=actor).distinct()
    done = []
    for row in pending:
        row.reported_at, row.reported_by = now, actor
        row.save(update_fields=["reported_at", "reported_by"])
        done.append(row.department.key)
    return {"reported_in": done}


_HANDLERS = {
    "register": _h_register,
    "merge": _h_merge,
    "self_handle": _h_self_handle,
    "auto_close": _h_close,
    "unpark": _h_return,
    "dispatch": _h_dispatch,
    "reroute": _h_reroute,
    "accept": _h_accept,
    "return": _h_return,
    "partial_handle": _h_partial,
    "report_back": _h_report_back,
    "verify_pass": _h_close,
    "verify_fail": _h_verify_fail,
    "evaluate": _h_evaluate,
    "reopen": _h_reopen,
    "request_extension": _h_request_extension,
    "approve_extension": _h_approve_extension,
    "reject_extension": _h_reject_request(RequestKind.EXTENSION),
    "request_parking": _h_request_parking,
    "approve_parking": _h_approve_parking,
    "reject_parking": _h_reject_request(RequestKind.PARKING),
    "whistle": _h_whistle,
    "report_in": _h_report_in,
}


def _notify_after(case: Case, action: str, *, event: CaseEvent, policy) -> None:
    reporter_notice_after(case, action, event=event)  # a text message to a reporter who left a mobile, on commit
    key = f"case{case.pk}:e{event.seq}"
    number = case.number
    if action in ("dispatch", "reroute", "verify_fail", "reopen"):
        notify(users=assignee_users(case), case=case, kind=action, key=key,
               text=_("case %(number)s is yours to handle") % {"number": number})
    elif action == "return":
        notify(users={case.owner} if case.owner_id else set(), case=case, kind=action, key=key,
               text=_("case %(number)s: %(what)s") % {"number": number, "what": TRANSITIONS[action].label})
    elif action in ("report_back", "request_extension", "request_parking"):
        # told to who checks or decides: the owner and the grid offices over the cell, never the round's
        # handlers (an owner who accepted the case is one of them: 监督与处置分离)
        users = ({case.owner} if case.owner_id else set()) | offices_over(case.node)
        notify(users={u for u in users if not user_standing(u, case).handled_round}, case=case, kind=action,
               key=key, text=_("case %(number)s: %(what)s") % {"number": number, "what": TRANSITIONS[action].label})
    elif action in ("approve_extension", "reject_extension", "approve_parking", "reject_parking"):
        notify(users=assignee_users(case), case=case, kind=action, key=key,
               text=_("case %(number)s: %(what)s") % {"number": number, "what": TRANSITIONS[action].label})
    elif action == "whistle":
        escalation = case.escalations.order_by("-raised_at", "-pk").first()
        users = leaders_at(escalation.node)
        for row in escalation.report_ins.select_related("department"):
            for team in row.department.teams.all():
                users |= set(team.members.filter(is_active=True))
        notify(users=users, case=case, kind="whistle", key=key,
               text=_("whistle on case %(number)s: report in by %(due)s")
               % {"number": number, "due": timezone.localtime(escalation.report_in_due_at).strftime("%m-%d %H:%M")})
    elif action == "register":
        _notify_level(case, kind="register", policy=policy)


# =========================================================================== thin names
def case_register(*, case, actor, **kw) -> Case:
    return case_transition(case=case, actor=actor, action="register", **kw)


def case_dispatch(*, case, actor, assignee: dict | None = None, **kw) -> Case:
    return case_transition(case=case, actor=actor, action="dispatch", assignee=assignee, **kw)


def case_reroute(*, case, actor, reason: str, assignee: dict | None = None, **kw) -> Case:
    return case_transition(case=case, actor=actor, action="reroute", reason=reason, assignee=assignee, **kw)


def case_evaluate(*, case, actor, satisfaction: int, reason: str = "", **kw) -> Case:
    """综合评价: a score at or above the policy's threshold ends the case; below it reopens it (with the
    reason the person gave, or a default one)."""
    score = _satisfaction(satisfaction)
    case_obj = case if isinstance(case, Case) else Case.objects.get(pk=case)
    if score < policy_for(case_obj.scheme).dissatisfied_below:
        return case_transition(case=case_obj, actor=actor, action="reopen", satisfaction=score,
                               reason=reason or _("dissatisfied (score %(s)s)") % {"s": score}, **kw)
    return case_transition(case=case_obj, actor=actor, action="evaluate", satisfaction=score, note=reason, **kw)


def reporter_contact(case: Case) -> dict[str, str]:
    """The reporter's contact in clear: only for callers that checked `grants.sees_reporter` and log it."""
    return {"name": crypto.unseal(case.reporter_name_sealed, field="cases.case.reporter_name"),
            "phone": crypto.unseal(case.reporter_phone_sealed, field="cases.case.reporter_phone")}


# =========================================================================== reporter, routing rules
@transaction.atomic
def case_reporter_reveal(*, user, case: Case, purpose: str, remote_addr: str | None = None) -> dict:
    """The reporter's clear contact for a user allowed to see who reported the case, after logging the
    reveal (who, when, which case, why) in the personal-data access log."""
    if not sees_reporter(user, case):
        raise PermissionDenied(_("your role may not see who reported this case"))
    purpose = purpose_clean(purpose)
    access_log_write(user=user, kind=AccessKind.REVEAL, purpose=purpose, record=case, node=case.node,
                     fields=("reporter_name", "reporter_phone"), remote_addr=remote_addr)
    contact = reporter_contact(case)
    return {"user": case.reporter.get_username() if case.reporter_id else None, "name": contact["name"],
            "phone": contact["phone"], "anonymous": case.anonymous}


def routing_rule_save(rule: RoutingRule | None, values: dict, *, actor=None) -> RoutingRule:
    """Create or change a routing rule from checked values (the API's serializer checks them against the
    scheme); two rules of a scheme cannot share an order. Logged in the audit log."""
    rule = rule or RoutingRule()
    for name, value in values.items():
        setattr(rule, name, value)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ValidationError({"order": _("rule #%(order)s already exists in this level scheme")
                               % {"order": rule.order}}) from None
    audit_record(actor=actor, action="cases.routing_rule_save", target=rule, summary=f"#{rule.order} {rule.name}"[:300])
    return rule

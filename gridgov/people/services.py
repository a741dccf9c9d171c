"""Writes of base data, one record at a time (forms, API). Spreadsheet imports go through `bulk`, which
applies the same cleaning (`*_clean_fields`) row by row.

Every write validates, saves, bumps the record's `version` and appends a `RecordHistory` row in one
transaction; a write that names an expected version fails if someone else changed the record first.
Errors are `ValidationError`s keyed by field and never repeat a personal value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.audit import audit_record
from gridgov.core.names import name_clean
from gridgov.people.history import history_append, history_erase
from gridgov.people.models import (
    STATES_BY_MODEL,
    Building,
    GroupMembership,
    HistoryAction,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordState,
    Relation,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.selectors import cell_in_scope, scoped_record_get
from gridgov.privacy import crypto
from gridgov.privacy.access import access_log_write, seal_field
from gridgov.privacy.identifiers import PERSON, UNIT, id_number_clean, phone_clean, uscc_clean
from gridgov.privacy.masking import mask_id_number, mask_phone
from gridgov.privacy.models import AccessKind
from gridgov.territory.locate import cell_resolve
from gridgov.territory.models import LevelScheme, Node

# ---------------------------------------------------------------------------------------------- cells


def record_cell(*, scheme: LevelScheme, node: Node | None = None, lon: float | None = None,
                lat: float | None = None, within: models.Model | None = None, field: str = "node") -> Node:
    """The cell a record sits in: the node given, else the cell of the house / household / building it
    belongs to (`within`), else the cell whose polygon holds (lon, lat) — by `territory.locate.cell_resolve`.
    A record's point is where it stands, not a check of the cell named: with a node, the point is not
    located."""
    if node is None and within is not None:
        return within.node
    cell = cell_resolve(scheme=scheme, node=node, lon=None if node is not None else lon,
                        lat=None if node is not None else lat, node_field=field, point_field=field,
                        coordinates_field="lon")
    if cell is None:
        raise ValidationError({field: _("give the cell, the coordinates or the house it belongs to")})
    return cell


# -------------------------------------------------------------------------------------------- writing

def personal_value_seal(record_type: str, field: str, value: str) -> tuple[str, str]:
    """The sealed token and the keyed digest of a cleaned personal value, under the field's label: the one
    way ID numbers and phones are stored, one record at a time here and in bulk (`bulk`)."""
    label = seal_field(record_type, field)
    return crypto.seal(value, field=label), crypto.digest(value, field=label)


def _write(obj: models.Model, changes: dict[str, Any], *, actor, source: str, action: str = HistoryAction.UPDATE,
           expected_version: int | None = None) -> list[str]:
    """Apply `changes` to a locked, current copy of `obj`; save, bump the version and log history when
    anything differs. Returns the names of the fields that changed."""
    locked = type(obj).objects.select_for_update().get(pk=obj.pk)
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError({"version": _("someone else changed this record (now version %(v)d); reload it and "
                                            "apply your change again") % {"v": locked.version}})
    changed = [name for name, value in changes.items() if getattr(locked, name) != value]
    if not changed:
        obj.__dict__.update(locked.__dict__)
        return []
    for name in changed:
        setattr(locked, name, changes[name])
    locked.version += 1
    locked.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    locked.save()
    history_append(obj=locked, action=action, actor=actor, source=source, changed=changed)
    obj.__dict__.update(locked.__dict__)
    return changed


def _create(obj: models.Model, *, actor, source: str, unique_error: dict[str, str]) -> models.Model:
    obj.created_by = obj.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            obj.save(force_insert=True)
    except IntegrityError:
        raise ValidationError(unique_error) from None
    history_append(obj=obj, action=HistoryAction.CREATE, actor=actor, source=source)
    return obj


def _text(value: Any, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def _coords(lon, lat) -> tuple[float | None, float | None]:
    if lon is None and lat is None:
        return None, None
    if lon is None or lat is None:
        raise ValidationError({"lon": _("give both longitude and latitude, or neither")})
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValidationError({"lon": _("coordinates must be numbers")}) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError({"lon": _("coordinates out of range (longitude −180…180, latitude −90…90)")})
    return lon, lat


def _check_choice(field: str, value: str, choices) -> str:
    if value not in choices.values:
        raise ValidationError({field: _("unknown value; one of %(c)s") % {"c": ", ".join(choices.values)}})
    return value


def _same_scheme(scheme: LevelScheme, **records) -> None:
    for field, record in records.items():
        if record is not None and record.scheme_id != scheme.pk:
            raise ValidationError({field: _("belongs to another level scheme")})


# -------------------------------------------------------------------------------------- buildings/houses

@transaction.atomic
def building_create(*, scheme: LevelScheme, code: str, name: str, node: Node | None = None, address: str = "",
                    floors: int | None = None, lon=None, lat=None, attributes: dict | None = None, actor=None,
                    source: str = "") -> Building:
    code = _text(code, 40)
    if not code:
        raise ValidationError({"code": _("a building code is required")})
    lon, lat = _coords(lon, lat)
    cell = record_cell(scheme=scheme, node=node, lon=lon, lat=lat)
    obj = Building(scheme=scheme, node=cell, code=code, name=_text(name, 200) or code, address=_text(address, 300),
                   floors=floors, lon=lon, lat=lat, attributes=attributes or {})
    return _create(obj, actor=actor, source=source,
                   unique_error={"code": _("building %(c)s already exists") % {"c": code}})


@transaction.atomic
def house_create(*, scheme: LevelScheme, code: str, address: str, node: Node | None = None,
                 building: Building | None = None, building_no: str = "", entrance_no: str = "",
                 floor: int | None = None, room: str = "", occupancy: str = Occupancy.OWNER,
                 area_m2: float | None = None, lon=None, lat=None, attributes: dict | None = None, actor=None,
                 source: str = "") -> House:
    code = _text(code, 60)
    if not code:
        raise ValidationError({"code": _("a house code is required")})
    address = _text(address, 300)
    if not address:
        raise ValidationError({"address": _("an address is required")})
    _check_choice("occupancy", occupancy, Occupancy)
    if area_m2 is not None and area_m2 < 0:
        raise ValidationError({"area_m2": _("the floor area cannot be negative")})
    _same_scheme(scheme, building=building)
    lon, lat = _coords(lon, lat)
    cell = record_cell(scheme=scheme, node=node, lon=lon, lat=lat, within=building)
    obj = House(scheme=scheme, node=cell, code=code, building=building, address=address,
                building_no=_text(building_no, 20) or (building.code if building else ""),
                entrance_no=_text(entrance_no, 20), floor=floor, room=_text(room, 20), occupancy=occupancy,
                area_m2=area_m2, lon=lon, lat=lat, attributes=attributes or {})
    return _create(obj, actor=actor, source=source, unique_error={"code": _("house %(c)s already exists") % {"c": code}})


BUILDING_FIELDS = {"name", "address", "floors", "node", "lon", "lat", "attributes"}


@transaction.atomic
def building_update(*, building: Building, actor=None, source: str = "", expected_version: int | None = None,
                    **fields) -> list[str]:
    _only(fields, BUILDING_FIELDS)
    if "name" in fields:
        fields["name"] = _text(fields["name"], 200)
        if not fields["name"]:
            raise ValidationError({"name": _("a name is required")})
    if "address" in fields:
        fields["address"] = _text(fields["address"], 300)
    if "node" in fields:
        fields["node"] = record_cell(scheme=building.scheme, node=fields["node"])
    return _write(building, fields, actor=actor, source=source, expected_version=expected_version)


HOUSE_FIELDS = {"address", "building", "building_no", "entrance_no", "floor", "room", "occupancy", "area_m2", "node",
                "lon", "lat", "attributes"}


@transaction.atomic
def house_update(*, house: House, actor=None, source: str = "", expected_version: int | None = None,
                 **fields) -> list[str]:
    _only(fields, HOUSE_FIELDS)
    if "occupancy" in fields:
        _check_choice("occupancy", fields["occupancy"], Occupancy)
    if "address" in fields:
        fields["address"] = _text(fields["address"], 300)
        if not fields["address"]:
            raise ValidationError({"address": _("an address is required")})
    if "building" in fields:
        _same_scheme(house.scheme, building=fields["building"])
    if "node" in fields:
        fields["node"] = record_cell(scheme=house.scheme, node=fields["node"])
    return _write(house, fields, actor=actor, source=source, expected_version=expected_version)


def _only(fields: dict, allowed: set[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValidationError({unknown[0]: _("this field cannot be changed here")})


# ----------------------------------------------------------------------------------------- households

@transaction.atomic
def household_create(*, scheme: LevelScheme, number: str, node: Node | None = None, house: House | None = None,
                     address: str = "", kind: str = Household.Kind.FAMILY, lon=None, lat=None,
                     attributes: dict | None = None, actor=None, source: str = "") -> Household:
    number = _text(number, 40)
    if not number:
        raise ValidationError({"number": _("a household number is required")})
    _check_choice("kind", kind, Household.Kind)
    _same_scheme(scheme, house=house)
    lon, lat = _coords(lon, lat)
    cell = record_cell(scheme=scheme, node=node, lon=lon, lat=lat, within=house)
    obj = Household(scheme=scheme, node=cell, number=number, house=house,
                    address=_text(address, 300) or (house.address if house else ""), kind=kind, lon=lon, lat=lat,
                    attributes=attributes or {})
    return _create(obj, actor=actor, source=source,
                   unique_error={"number": _("household %(n)s already exists") % {"n": number}})


HOUSEHOLD_FIELDS = {"house", "address", "kind", "node", "lon", "lat", "attributes"}


@transaction.atomic
def household_update(*, household: Household, actor=None, source: str = "", expected_version: int | None = None,
                     **fields) -> list[str]:
    _only(fields, HOUSEHOLD_FIELDS)
    if "kind" in fields:
        _check_choice("kind", fields["kind"], Household.Kind)
    if "node" in fields:
        fields["node"] = record_cell(scheme=household.scheme, node=fields["node"])
    return _write(household, fields, actor=actor, source=source, expected_version=expected_version)


# ------------------------------------------------------------------------------------------ residents

def resident_identity_fields(id_number: str) -> dict[str, Any]:
    """The stored columns derived from an ID number: sealed, digest, masked, gender, birth date."""
    info = id_number_clean(id_number)
    sealed, digest = personal_value_seal("resident", "id_number", info.number)
    return {"id_sealed": sealed, "id_digest": digest, "id_masked": mask_id_number(info.number),
            "gender": info.gender, "birth_date": info.birth_date}


def phone_fields(record_type: str, phone: str) -> dict[str, str]:
    """A unit's phone may be a service number, a resident's never (`identifiers.phone_clean`)."""
    cleaned = phone_clean(phone, kind=UNIT if record_type == "legalentity" else PERSON)
    return phone_columns(record_type, cleaned)


def phone_columns(record_type: str, phone: str) -> dict[str, str]:
    """The stored columns of a cleaned phone: sealed, digest, masked."""
    sealed, digest = personal_value_seal(record_type, "phone", phone)
    return {"phone_sealed": sealed, "phone_digest": digest, "phone_masked": mask_phone(phone)}


def _membership_check(household: Household | None, relation: str, *, resident: Resident | None = None) -> str:
    if household is None:
        return ""
    if not relation:
        raise ValidationError({"relation": _("say how the resident is related to the head of the household")})
    _check_choice("relation", relation, Relation)
    if household.state != RecordState.ACTIVE:
        raise ValidationError({"household": _("household %(n)s is no longer active") % {"n": household.number}})
    if relation == Relation.HEAD:
        other = Resident.objects.filter(household=household, relation=Relation.HEAD, state=RecordState.ACTIVE)
        if resident is not None:
            other = other.exclude(pk=resident.pk)
        if other.exists():
            raise ValidationError({"relation": _("household %(n)s already has a head") % {"n": household.number}})
    return relation


@transaction.atomic
def resident_create(*, scheme: LevelScheme, name: str, id_number: str, node: Node | None = None,
                    phone: str = "", household: Household | None = None, relation: str = "",
                    house: House | None = None, registered_here: bool = True, living_here: bool = True,
                    registered_address: str = "", actual_address: str = "", moved_in_date: dt.date | None = None,
                    lon=None, lat=None, attributes: dict | None = None, actor=None, source: str = "") -> Resident:
    """A resident, placed in the cell given, else their household's, else their house's, else the cell at
    their coordinates. The ID number must not be stored yet in this scheme (in any state)."""
    name = name_clean(name, field="name", limit=100, required=False)
    if not name:
        raise ValidationError({"name": _("a name is required")})
    identity = resident_identity_fields(id_number)
    _same_scheme(scheme, household=household, house=house)
    relation = _membership_check(household, relation)
    lon, lat = _coords(lon, lat)
    cell = record_cell(scheme=scheme, node=node, lon=lon, lat=lat, within=household or house)
    obj = Resident(scheme=scheme, node=cell, name=name, **identity, **phone_fields("resident", phone),
                   household=household, relation=relation, house=house or (household.house if household else None),
                   registered_here=registered_here, living_here=living_here,
                   registered_address=_text(registered_address, 300), actual_address=_text(actual_address, 300),
                   moved_in_date=moved_in_date, lon=lon, lat=lat, attributes=attributes or {})
    return _create(obj, actor=actor, source=source,
                   unique_error={"id_number": _("a resident with this ID number is already stored")})


RESIDENT_FIELDS = {"name", "id_number", "phone", "household", "relation", "house", "registered_here", "living_here",
                   "registered_address", "actual_address", "moved_in_date", "node", "lon", "lat", "attributes"}


@transaction.atomic
def resident_update(*, resident: Resident, actor=None, source: str = "", expected_version: int | None = None,
                    **fields) -> list[str]:
    """Change a resident. Changing `household` moves them to another household (they leave the old one);
    the ID number and phone are re-sealed; a name or address change is kept in the history."""
    _only(fields, RESIDENT_FIELDS)
    changes: dict[str, Any] = {}
    if "name" in fields:
        changes["name"] = name_clean(fields.pop("name"), field="name", limit=100, required=False)
        if not changes["name"]:
            raise ValidationError({"name": _("a name is required")})
    if "id_number" in fields:
        identity = resident_identity_fields(fields.pop("id_number"))
        if identity["id_digest"] != resident.id_digest:
            if Resident.objects.filter(scheme=resident.scheme, id_digest=identity["id_digest"]).exists():
                raise ValidationError({"id_number": _("a resident with this ID number is already stored")})
            changes.update(identity)
    if "phone" in fields:
        phone = phone_fields("resident", fields.pop("phone"))
        if phone["phone_digest"] != resident.phone_digest:
            changes.update(phone)
    for name in ("registered_address", "actual_address"):
        if name in fields:
            changes[name] = _text(fields.pop(name), 300)
    household = fields.get("household", resident.household)
    relation = fields.get("relation", resident.relation)
    if "household" in fields or "relation" in fields:
        _same_scheme(resident.scheme, household=household)
        fields["relation"] = _membership_check(household, relation, resident=resident)
    if "node" in fields:
        fields["node"] = record_cell(scheme=resident.scheme, node=fields["node"])
    elif "household" in fields and household is not None:
        fields["node"] = household.node
    changes.update(fields)
    return _write(resident, changes, actor=actor, source=source, expected_version=expected_version)


# ------------------------------------------------------------------------------------- legal entities

@transaction.atomic
def entity_create(*, scheme: LevelScheme, name: str, credit_code: str, node: Node | None = None,
                  industry: str = "", address: str = "", representative: str = "", phone: str = "",
                  employees: int | None = None, dedicated_node: Node | None = None, lon=None, lat=None,
                  attributes: dict | None = None, actor=None, source: str = "") -> LegalEntity:
    name = name_clean(name, field="name", label=_("entity name"), limit=200, required=False)
    if not name:
        raise ValidationError({"name": _("a name is required")})
    representative = name_clean(representative, field="representative", label=_("legal representative"),
                                limit=100, required=False)
    code = uscc_clean(credit_code, field="credit_code")
    if dedicated_node is not None:
        record_cell(scheme=scheme, node=dedicated_node, field="dedicated_node")
    lon, lat = _coords(lon, lat)
    cell = record_cell(scheme=scheme, node=node or dedicated_node, lon=lon, lat=lat)
    obj = LegalEntity(scheme=scheme, node=cell, name=name, credit_code=code, industry=_text(industry, 100),
                      address=_text(address, 300), representative=representative,
                      **phone_fields("legalentity", phone), employees=employees, dedicated_node=dedicated_node,
                      lon=lon, lat=lat, attributes=attributes or {})
    return _create(obj, actor=actor, source=source,
                   unique_error={"credit_code": _("a legal entity with this credit code is already stored")})


ENTITY_FIELDS = {"name", "industry", "address", "representative", "phone", "employees", "dedicated_node", "node",
                 "lon", "lat", "attributes"}


@transaction.atomic
def entity_update(*, entity: LegalEntity, actor=None, source: str = "", expected_version: int | None = None,
                  **fields) -> list[str]:
    _only(fields, ENTITY_FIELDS)
    if "name" in fields:
        fields["name"] = name_clean(fields["name"], field="name", label=_("entity name"), limit=200, required=False)
        if not fields["name"]:
            raise ValidationError({"name": _("a name is required")})
    if "representative" in fields:
        fields["representative"] = name_clean(fields["representative"], field="representative",
                                              label=_("legal representative"), limit=100, required=False)
    if "phone" in fields:
        phone = phone_fields("legalentity", fields.pop("phone"))
        if phone["phone_digest"] != entity.phone_digest:
            fields.update(phone)
    for name in ("node", "dedicated_node"):
        if fields.get(name) is not None:
            fields[name] = record_cell(scheme=entity.scheme, node=fields[name], field=name)
    return _write(entity, fields, actor=actor, source=source, expected_version=expected_version)


# ------------------------------------------------------------------------------ states and erasure

@transaction.atomic
def record_set_state(*, record: models.Model, state: str, date: dt.date, reason: str = "", actor=None,
                     source: str = "") -> list[str]:
    """Move out, death, closure, demolition, removal (or back to active): a state with a date, never a
    delete. A household that moves out takes its active members with it."""
    kind = record._meta.model_name
    allowed = STATES_BY_MODEL[kind] | {RecordState.ACTIVE}
    if state not in allowed:
        raise ValidationError({"state": _("a %(kind)s cannot be %(state)s") % {"kind": record._meta.verbose_name,
                                                                               "state": state}})
    if date is None:
        raise ValidationError({"state_date": _("give the date of the change")})
    if date > timezone.localdate():
        raise ValidationError({"state_date": _("the date cannot be in the future")})
    changes: dict[str, Any] = {"state": state, "state_date": date, "state_reason": _text(reason, 200)}
    if kind == "resident":
        if state == RecordState.MOVED_OUT:
            changes["moved_out_date"] = date
            if record.moved_in_date and date < record.moved_in_date:
                raise ValidationError({"state_date": _("the move-out date is before the move-in date")})
        elif state == RecordState.ACTIVE:
            if record.relation == Relation.HEAD and record.household_id and Resident.objects.filter(
                    household_id=record.household_id, relation=Relation.HEAD, state=RecordState.ACTIVE).exclude(
                    pk=record.pk).exists():
                raise ValidationError({"state": _("the household has another head now")})
            changes["moved_out_date"] = None
    changed = _write(record, changes, actor=actor, source=source, action=HistoryAction.STATE)
    if kind == "household" and state in (RecordState.MOVED_OUT, RecordState.CLOSED, RecordState.REMOVED):
        for member in Resident.objects.filter(household=record, state=RecordState.ACTIVE):
            record_set_state(record=member, state=RecordState.MOVED_OUT if state != RecordState.REMOVED else state,
                             date=date, reason=reason, actor=actor, source=source)
    return changed


@transaction.atomic
def record_erase(*, record: models.Model, actor, reason: str, remote_addr: str | None = None) -> None:
    """Delete a record for good on a personal-information request (PIPL art. 47): the row, its group
    memberships, party and volunteer registrations, and the content of its history. Only for users with
    ``people.erase_personal_data``; the erasure itself is logged (who, when, which record, why) without
    any of the erased data."""
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm("people.erase_personal_data"):
        raise PermissionDenied(_("erasing a record needs the permission to erase personal data"))
    reason = _text(reason, 300)
    if len(reason) < 4:
        raise ValidationError({"reason": _("state the request the erasure answers")})
    model, pk, kind = type(record), record.pk, record._meta.model_name
    if kind == "household" and Resident.objects.filter(household=record).exists():
        raise ValidationError({"record": _("the household still has members: erase or move them first")})
    if kind == "house" and (Resident.objects.filter(house=record).exists()
                            or Household.objects.filter(house=record).exists()):
        raise ValidationError({"record": _("households or residents still refer to this house")})
    access_log_write(user=actor, kind=AccessKind.ERASE, purpose=reason, record=record, remote_addr=remote_addr)
    audit_record(actor=actor, action="people.record_erase", target=record, summary=reason)
    record.delete()
    history_erase(model, pk, actor=actor, source="erase")


# -------------------------------------------------------------------------------- special groups

def group_attributes_clean(group: SpecialGroup, attributes: dict[str, Any] | None) -> dict[str, Any]:
    """Check attributes against the group's declared fields (unknown keys refused, required present,
    types converted); errors are keyed by the attribute's key."""
    attributes = dict(attributes or {})
    declared = {f["key"]: f for f in group.fields}
    unknown = sorted(set(attributes) - set(declared))
    if unknown:
        raise ValidationError({unknown[0]: _("not an attribute of %(g)s") % {"g": group.name_zh}})
    cleaned: dict[str, Any] = {}
    for key, spec in declared.items():
        value = attributes.get(key)
        if value in (None, ""):
            if spec.get("required"):
                raise ValidationError({key: _("required for %(g)s") % {"g": group.name_zh}})
            continue
        kind = spec.get("type", "text")
        try:
            if kind == "int":
                value = int(value)
            elif kind == "bool":
                value = value if isinstance(value, bool) else str(value).strip().lower() in {"1", "true", "yes", "是"}
            elif kind == "date":
                value = value.isoformat() if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)).isoformat()
            else:
                value = _text(value, 200)
        except ValueError:
            raise ValidationError({key: _("expected a %(t)s") % {"t": kind}}) from None
        if kind == "choice" and value not in spec.get("choices", []):
            raise ValidationError({key: _("one of %(c)s") % {"c": ", ".join(spec.get("choices", []))}})
        cleaned[key] = value
    return cleaned


@transaction.atomic
def membership_add(*, resident: Resident, group: SpecialGroup, start_date: dt.date,
                   attributes: dict | None = None, actor=None) -> GroupMembership:
    if resident.state != RecordState.ACTIVE:
        raise ValidationError({"resident": _("the resident is not active")})
    attributes = group_attributes_clean(group, attributes)
    if GroupMembership.objects.filter(resident=resident, group=group, end_date__isnull=True).exists():
        raise ValidationError({"group": _("already in %(g)s") % {"g": group.name_zh}})
    membership = GroupMembership.objects.create(resident=resident, group=group, attributes=attributes,
                                                start_date=start_date)
    audit_record(actor=actor, action="people.membership_add", target=membership)
    return membership


@transaction.atomic
def membership_end(*, membership: GroupMembership, end_date: dt.date, actor=None) -> GroupMembership:
    if membership.end_date is not None:
        raise ValidationError({"end_date": _("this membership has already ended")})
    if end_date < membership.start_date:
        raise ValidationError({"end_date": _("the end is before the start")})
    membership.end_date = end_date
    membership.save(update_fields=["end_date"])
    audit_record(actor=actor, action="people.membership_end", target=membership)
    return membership


# ------------------------------------------------------------------------- party members, volunteers

@transaction.atomic
def party_member_register(*, resident: Resident, branch_node: Node, start_date: dt.date,
                          joined_date: dt.date | None = None, work_unit: str = "", actor=None) -> PartyMember:
    record_cell(scheme=resident.scheme, node=branch_node, field="branch_node")
    if PartyMember.objects.filter(resident=resident).exists():
        raise ValidationError({"resident": _("already registered as a party member")})
    member = PartyMember.objects.create(resident=resident, branch_node=branch_node, start_date=start_date,
                                        joined_date=joined_date, work_unit=_text(work_unit, 200))
    audit_record(actor=actor, action="people.party_member_register", target=member)
    return member


@transaction.atomic
def household_pair(*, member: PartyMember, household: Household, start_date: dt.date, actor=None) -> HouseholdPairing:
    """Pair a party member with a household (包户)."""
    if household.scheme_id != member.resident.scheme_id:
        raise ValidationError({"household": _("belongs to another level scheme")})
    if household.state != RecordState.ACTIVE:
        raise ValidationError({"household": _("household %(n)s is no longer active") % {"n": household.number}})
    if HouseholdPairing.objects.filter(member=member, household=household, end_date__isnull=True).exists():
        raise ValidationError({"household": _("already paired with this party member")})
    pairing = HouseholdPairing.objects.create(member=member, household=household, start_date=start_date)
    audit_record(actor=actor, action="people.household_pair", target=pairing)
    return pairing


@transaction.atomic
def household_unpair(*, pairing: HouseholdPairing, end_date: dt.date, actor=None) -> HouseholdPairing:
    if pairing.end_date is not None:
        raise ValidationError({"end_date": _("this pairing has already ended")})
    if end_date < pairing.start_date:
        raise ValidationError({"end_date": _("the end is before the start")})
    pairing.end_date = end_date
    pairing.save(update_fields=["end_date"])
    audit_record(actor=actor, action="people.household_unpair", target=pairing)
    return pairing


@transaction.atomic
def party_member_end(*, member: PartyMember, end_date: dt.date, actor=None) -> PartyMember:
    """A party member leaves the branch here (transferred, moved away): their open household pairings end
    the same day."""
    if member.end_date is not None:
        raise ValidationError({"end_date": _("this registration has already ended")})
    if end_date < member.start_date:
        raise ValidationError({"end_date": _("the end is before the start")})
    for pairing in HouseholdPairing.objects.filter(member=member, end_date__isnull=True):
        household_unpair(pairing=pairing, end_date=max(end_date, pairing.start_date), actor=actor)
    member.end_date = end_date
    member.save(update_fields=["end_date"])
    audit_record(actor=actor, action="people.party_member_end", target=member)
    return member


@transaction.atomic
def volunteer_end(*, volunteer: Volunteer, end_date: dt.date, actor=None) -> Volunteer:
    if volunteer.end_date is not None:
        raise ValidationError({"end_date": _("this registration has already ended")})
    if end_date < volunteer.start_date:
        raise ValidationError({"end_date": _("the end is before the start")})
    volunteer.end_date = end_date
    volunteer.save(update_fields=["end_date"])
    audit_record(actor=actor, action="people.volunteer_end", target=volunteer)
    return volunteer


@transaction.atomic
def volunteer_register(*, resident: Resident, start_date: dt.date, node: Node | None = None, skills: str = "",
                       actor=None) -> Volunteer:
    cell = record_cell(scheme=resident.scheme, node=node or resident.node)
    if Volunteer.objects.filter(resident=resident).exists():
        raise ValidationError({"resident": _("already registered as a volunteer")})
    volunteer = Volunteer.objects.create(resident=resident, node=cell, skills=_text(skills, 300), start_date=start_date)
    audit_record(actor=actor, action="people.volunteer_register", target=volunteer)
    return volunteer


# ------------------------------------------------------------------------------------ creating by ids

# per record type: its create service, the ids it takes (body field → model, in the order in which they
# name the scheme) and those whose cell a new record inherits when no cell is given
_CREATES: dict[str, tuple[Any, tuple[tuple[str, type[models.Model]], ...], tuple[str, ...]]] = {
    "resident": (resident_create, (("node", Node), ("household", Household), ("house", House)),
                 ("household", "house")),
    "household": (household_create, (("node", Node), ("house", House)), ("house",)),
    "house": (house_create, (("node", Node), ("building", Building)), ("building",)),
    "building": (building_create, (("node", Node),), ()),
    "legalentity": (entity_create, (("node", Node), ("dedicated_node", Node)), ()),
}


def _named_scheme(key: str | None, *records) -> LevelScheme:
    """The scheme of the first record given, else the one named by `key`."""
    for record in records:
        if record is not None:
            if key and record.scheme.key != key:
                raise ValidationError({"scheme": _("the records given belong to another level scheme")})
            return record.scheme
    if not key:
        raise ValidationError({"scheme": _("give the level scheme, or a cell or record it belongs to")})
    scheme = LevelScheme.objects.filter(key=key).first()
    if scheme is None:
        raise ValidationError({"scheme": _("unknown level scheme")})
    return scheme


@transaction.atomic
def record_create(*, record_type: str, values: dict[str, Any], actor, source: str) -> models.Model:
    """A base-data record (`record_type`: resident, household, house, building, legalentity) from input
    that names its cell and the records it belongs to by id, as the API takes it.

    Every id is resolved within `actor`'s territory (one outside is refused like an unknown one). The
    scheme is that of the first of the cell and those records given, else the one `values["scheme"]`
    names; the cell is the one given (a unit's: else its dedicated cell), else that of the household /
    house / building it belongs to, else the cell at its coordinates, and it must lie in the territory.
    The rest of `values` goes to the record type's create service."""
    create, refs, within = _CREATES[record_type]
    v = dict(values)
    found = {field: scoped_record_get(model=model, pk=v.pop(field, None), user=actor, field=field)
             for field, model in refs}
    node = found.pop("node") or found.get("dedicated_node")
    scheme = _named_scheme(v.pop("scheme", None), node, *found.values())
    parent = next((found[field] for field in within if found[field] is not None), None)
    cell = cell_in_scope(cell=record_cell(scheme=scheme, node=node, lon=v.get("lon"), lat=v.get("lat"), within=parent),
                         user=actor)
    if record_type == "building":
        v.setdefault("name", "")
    return create(scheme=scheme, node=cell, **found, **v, actor=actor, source=source)


# ------------------------------------------------------------------------------------ changing by ids

# per record type: its update service, the keyword naming the record there, and the ids its input may
# name (body field → model)
_UPDATES: dict[str, tuple[Any, str, tuple[tuple[str, type[models.Model]], ...]]] = {
    "resident": (resident_update, "resident", (("household", Household), ("house", House), ("node", Node))),
    "household": (household_update, "household", (("house", House), ("node", Node))),
    "house": (house_update, "house", (("building", Building), ("node", Node))),
    "building": (building_update, "building", (("node", Node),)),
    "legalentity": (entity_update, "entity", (("node", Node), ("dedicated_node", Node))),
}


@transaction.atomic
def record_update(*, record_type: str, record: models.Model, values: dict[str, Any], expected_version: int | None,
                  actor, source: str) -> list[str]:
    """Change a base-data record (`record_type`: resident, household, house, building, legalentity) from
    input that names the records it belongs to by id, as the API takes it; returns the fields changed.

    Every id given is resolved within `actor`'s territory (one outside is refused like an unknown one; a
    null id unlinks). The rest goes to the record type's update service, which checks `expected_version`
    (someone else's change first is a conflict), re-seals personal fields, bumps the version and writes
    the history row, all in this one transaction."""
    update, keyword, refs = _UPDATES[record_type]
    v = dict(values)
    for field, model in refs:
        if field in v:
            v[field] = scoped_record_get(model=model, pk=v[field], user=actor, field=field)
    return update(**{keyword: record}, expected_version=expected_version, actor=actor, source=source, **v)

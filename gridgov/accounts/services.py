"""Writes for people in charge: roles, people, assignments to cells, staff logins."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment, Person, PositionReport, Role, RoleCategory
from gridgov.core.audit import audit_record
from gridgov.core.names import name_clean
from gridgov.territory.models import Level, LevelScheme, Node

PHONE = re.compile(r"^(\+?86)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{3,5}|400-?\d{3}-?\d{4})$")


@transaction.atomic
def role_create(*, scheme: LevelScheme, key: str, name_zh: str, name_en: str = "",
                category: str = RoleCategory.OTHER, levels: Iterable[Level | str] = (), grants_scope: bool = True,
                duties: str = "", order: int = 0, reveals_personal_data: bool = False) -> Role:
    """Add a role to a scheme's catalogue; `levels` (objects or keys) limit where it may be assigned."""
    if category not in RoleCategory.values:
        raise ValidationError({"category": _("unknown role category %(c)r") % {"c": category}})
    if Role.objects.filter(scheme=scheme, key=key).exists():
        raise ValidationError({"key": _("role %(key)s already exists in scheme %(s)s") % {"key": key, "s": scheme.key}})
    role = Role.objects.create(scheme=scheme, key=key, name_zh=name_zh, name_en=name_en, category=category,
                               grants_scope=grants_scope, duties=duties, order=order,
                               reveals_personal_data=reveals_personal_data)
    resolved = []
    for level in levels:
        obj = level if isinstance(level, Level) else Level.objects.filter(scheme=scheme, key=level).first()
        if obj is None or obj.scheme_id != scheme.pk:
            raise ValidationError({"levels": _("unknown level %(l)r in scheme %(s)s") % {"l": level, "s": scheme.key}})
        resolved.append(obj)
    role.levels.set(resolved)
    return role


def phone_clean(phone: str, *, field: str = "phone") -> str:
    cleaned = re.sub(r"[\s()]", "", phone or "")
    if cleaned and not PHONE.match(cleaned):
        raise ValidationError({field: _("%(p)r is not a mobile (11 digits starting with 1), landline (0xx-xxxxxxx) "
                                        "or service number") % {"p": phone}})
    return cleaned


def person_create(*, name: str, phone: str = "", organisation: str = "", note: str = "", user=None,
                  actor=None) -> Person:
    name = name_clean(name, field="name", limit=100, required=False)
    if not name:
        raise ValidationError({"name": _("a name is required")})
    person = Person.objects.create(name=name, phone=phone_clean(phone), organisation=organisation[:200],
                                   note=note, user=user)
    audit_record(actor=actor, action="accounts.person_create", target=person)
    return person


@transaction.atomic
def staff_user_create(*, username: str, password: str, person: Person | None = None, sees_everything: bool = False,
                      is_staff: bool = True, is_superuser: bool = False, actor=None):
    """A login for a person in charge (or a district-wide operator with `sees_everything`)."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError({"username": _("the username %(u)s is taken") % {"u": username}})
    user = user_model(username=username, is_staff=is_staff, is_superuser=is_superuser,
                      sees_everything=sees_everything)
    user.set_password(password)
    user.save()
    if person is not None:
        if person.user_id:
            raise ValidationError({"person": _("%(p)s already has a login") % {"p": person}})
        person.user = user
        person.save(update_fields=["user"])
    audit_record(actor=actor, action="accounts.user_create", target=user)
    return user


@transaction.atomic
def assignment_create(*, person: Person, node: Node, role: Role, start_date: dt.date | None = None,
                      end_date: dt.date | None = None, duties: str = "", is_public: bool = True,
                      actor=None) -> Assignment:
    """Put `person` in charge of `node` as `role` for [start_date, end_date].

    Refused: a role of another scheme, a level the role is not for, a retired node, an end before the
    start, or an overlapping assignment of the same person, node and role."""
    start = start_date or timezone.localdate()
    if end_date is not None and end_date < start:
        raise ValidationError({"end_date": _("the end date %(e)s is before the start date %(s)s")
                               % {"e": end_date, "s": start}})
    if role.scheme_id != node.scheme_id:
        raise ValidationError({"role": _("role %(r)s belongs to another scheme than %(n)s") % {"r": role, "n": node}})
    allowed = list(role.levels.all())
    if allowed and node.level_id not in {lv.pk for lv in allowed}:
        raise ValidationError({"role": _("a %(r)s cannot be assigned to a %(l)s; allowed levels: %(a)s")
                               % {"r": role.name_zh, "l": node.level.name_zh,
                                  "a": "、".join(lv.name_zh for lv in allowed)}})
    if not node.is_active or (node.valid_to and (end_date is None or end_date >= node.valid_to)):
        raise ValidationError({"node": _("%(n)s was retired on %(d)s") % {"n": node, "d": node.valid_to}})
    if start < node.valid_from:
        raise ValidationError({"start_date": _("%(n)s only exists from %(d)s") % {"n": node, "d": node.valid_from}})
    overlapping = Assignment.objects.select_for_update().filter(person=person, node=node, role=role).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=start))
    if end_date is not None:
        overlapping = overlapping.filter(start_date__lte=end_date)
    if overlapping.exists():
        other = overlapping.first()
        raise ValidationError({"role": _("%(p)s already holds %(r)s in %(n)s from %(s)s to %(e)s")
                               % {"p": person.name, "r": role.name_zh, "n": node.name, "s": other.start_date,
                                  "e": other.end_date or "…"}})
    assignment = Assignment.objects.create(person=person, node=node, role=role, start_date=start, end_date=end_date,
                                           duties=duties or role.duties, is_public=is_public,
                                           created_by=actor if getattr(actor, "is_authenticated", False) else None)
    audit_record(actor=actor, action="accounts.assignment_create", target=assignment,
                 changes={"person": person.pk, "node": node.pk, "role": role.key})
    return assignment


@transaction.atomic
def assignment_end(assignment: Assignment, *, end_date: dt.date | None = None, reason: str = "",
                   actor=None) -> Assignment:
    end = end_date or timezone.localdate()
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.end_date is not None and assignment.end_date <= end:
        raise ValidationError({"end_date": _("the assignment already ended on %(d)s") % {"d": assignment.end_date}})
    if end < assignment.start_date:
        raise ValidationError({"end_date": _("the end date %(e)s is before the start date %(s)s")
                               % {"e": end, "s": assignment.start_date}})
    assignment.end_date = end
    assignment.end_reason = reason[:200]
    assignment.save(update_fields=["end_date", "end_reason"])
    audit_record(actor=actor, action="accounts.assignment_end", target=assignment, summary=reason)
    return assignment


# ------------------------------------------------------------------ positions of field workers
POSITION_EVERY = dt.timedelta(minutes=1)


def position_record(*, user, lon: float, lat: float, accuracy_m: int | None,
                    now: dt.datetime | None = None) -> PositionReport | None:
    """Keep where a field worker's phone says they are: at most one report per user and minute (None when
    the last one is more recent). The user's row is locked so two tabs cannot both pass the check."""
    now = now or timezone.now()
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if PositionReport.objects.filter(user=user, reported_at__gt=now - POSITION_EVERY).exists():
            return None
        return PositionReport.objects.create(user=user, lon=lon, lat=lat, accuracy_m=accuracy_m, reported_at=now)


# =========================================================================== identity (MLPS 身份鉴别)
def user_tokens_revoke(*, user) -> int:
    """End every API token of `user` (on a password change, a lock, a deactivation); returns how many."""
    from knox.models import AuthToken

    deleted, _detail = AuthToken.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def user_unlock(*, actor, user, address: str | None = None) -> bool:
    """An administrator lifts the lock of an account and its count of failures; audited. False when there
    was nothing to lift."""
    user_model = get_user_model()
    locked = user_model.objects.select_for_update().filter(pk=user.pk).values("locked_until", "failed_login_count")
    before = locked.first() or {}
    if not before.get("locked_until") and not before.get("failed_login_count"):
        return False
    user_model.objects.filter(pk=user.pk).update(locked_until=None, failed_login_count=0)
    user.locked_until, user.failed_login_count = None, 0
    audit_record(actor=actor, action="accounts.user_unlock", target=user, address=address,
                 summary=f"{user.get_username()} unlocked",
                 changes={"locked_until": [before["locked_until"].isoformat() if before.get("locked_until") else None,
                                           None],
                          "failed_login_count": [before.get("failed_login_count", 0), 0]})
    return True


@transaction.atomic
def user_two_factor_reset(*, actor, user, address: str | None = None) -> int:
    """Recovery of a lost authenticator: an administrator removes the user's TOTP devices, so the next login
    enrols a new one after the password step; the user's API tokens end too. Audited."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if actor is not None and getattr(actor, "pk", None) == user.pk:
        raise ValidationError({"user": _("another administrator must reset your own two-factor login")})
    removed, _detail = TOTPDevice.objects.filter(user=user).delete()
    user_tokens_revoke(user=user)
    audit_record(actor=actor, action="accounts.two_factor_reset", target=user, address=address,
                 summary=f"two-factor login of {user.get_username()} reset", changes={"devices_removed": removed})
    return removed


@transaction.atomic
def user_two_factor_enrol(*, user, device, address: str | None = None) -> None:
    """The user proved their new authenticator with a valid code: it becomes their device (others go)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(actor=user, action="accounts.two_factor_enrol", target=user, address=address,
                 summary=f"{user.get_username()} set up two-factor login")


@transaction.atomic
def user_password_change(*, user, password: str, actor=None, address: str | None = None) -> None:
    """Set a new password (already validated against the policy by the form) and end everything obtained
    with the old one: API tokens now, other sessions at their next request (their session hash no longer
    matches). The caller keeps its own session with `update_session_auth_hash`."""
    user.set_password(password)
    user.save()
    user_tokens_revoke(user=user)
    audit_record(actor=actor or user, action="accounts.password_change", target=user, address=address,
                 summary=f"password of {user.get_username()} changed")

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

from gridgov.accounts.admin_roles import admin_role_may_configure, admin_role_may_grant
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
                      is_staff: bool = True, is_superuser: bool = False, scheme: LevelScheme | None = None,
                      actor=None):
    """A login for a person in charge (or a district-wide operator with `sees_everything`, who then needs
    the scheme they work in: district-wide means for that one deployment)."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError({"username": _("the username %(u)s is taken") % {"u": username}})
    if sees_everything and scheme is None:
        raise ValidationError({"scheme": _("a district-wide login needs the scheme it works in")})
    if (sees_everything or is_superuser) and not admin_role_may_grant(actor):
        raise ValidationError({"sees_everything": _("only the security administrator grants district-wide "
                                                    "or superuser rights")})
    user = user_model(username=username, is_staff=is_staff, is_superuser=is_superuser,
                      sees_everything=sees_everything, scheme=scheme)
    user.set_password(password)
    user.save()
    if person is not None:
        if person.user_id:
            raise ValidationError({"person": _("%(p)s already has a login") % {"p": person}})
        person.user = user
        person.save(update_fields=["user"])
    audit_record(actor=actor, action="accounts.user_create", target=user,
                 changes={"grants": [None, user_grants_snapshot(user)]})
    return user


# ------------------------------------------------------------------ powers of logins (audited, 三员分立)
GRANT_FLAGS = ("is_active", "is_staff", "is_superuser", "sees_everything", "platform_wide", "admin_role", "scheme_id")


def user_grants_snapshot(user) -> dict:
    """Everything that gives a login power, as plain values: flags, administrator role, scheme, groups and
    direct permissions ('app.codename', sorted)."""
    user = get_user_model().objects.get(pk=user.pk)
    return {
        **{flag: getattr(user, flag) for flag in GRANT_FLAGS},
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(f"{a}.{c}" for a, c in user.user_permissions.values_list(
            "content_type__app_label", "codename")),
    }


def grants_diff(before: dict, after: dict) -> dict:
    """{key: [old, new]} for every key that changed."""
    return {key: [before.get(key), after.get(key)] for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)}


def user_grants_audit(*, user, before: dict, actor, address: str | None = None) -> dict:
    """Write one `accounts.user_grants_change` row with old and new values when anything that gives `user`
    power changed since `before` (a `user_grants_snapshot`); returns the changes ({} = nothing changed)."""
    changes = grants_diff(before, user_grants_snapshot(user))
    if changes:
        audit_record(actor=actor, action="accounts.user_grants_change", target=user, changes=changes,
                     summary=", ".join(changes), address=address)
    return changes


def user_grants_check(*, actor, user, before: dict, after: dict) -> None:
    """Refuse a change of powers `actor` may not make (三员分立): only the security administrator (or the
    installation superuser) grants; nobody raises their own powers or changes their own administrator
    role; only the superuser makes superusers; a district-wide login needs a scheme."""
    changes = grants_diff(before, after)
    if not changes or changes == {"is_active": [True, False]}:
        return  # switching a login off takes powers away: whoever may edit the login may do it
    field = next(iter(changes))
    if not admin_role_may_grant(actor):
        raise ValidationError({field: _("only the security administrator grants or takes powers")})
    if actor is not None and actor.pk == user.pk and not actor.is_superuser:
        raise ValidationError({field: _("nobody changes their own powers; ask another security administrator")})
    if "is_superuser" in changes and actor is not None and not actor.is_superuser:
        raise ValidationError({"is_superuser": _("only the installation superuser makes superusers")})
    if after.get("sees_everything") and not after.get("scheme_id"):
        raise ValidationError({"scheme": _("a district-wide login needs the scheme it works in")})


@transaction.atomic
def user_grants_update(*, user, actor, address: str | None = None, groups=None, user_permissions=None,
                       **flags) -> dict:
    """Change what gives `user` power (flags in GRANT_FLAGS, groups, direct permissions) through the rules of
    `user_grants_check`, and audit it with old and new values. Returns the changes."""
    unknown = set(flags) - set(GRANT_FLAGS) - {"scheme"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("not a power of a login")})
    if "scheme" in flags:
        scheme = flags.pop("scheme")
        flags["scheme_id"] = scheme.pk if scheme is not None else None
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    before = user_grants_snapshot(user)
    after = {**before, **flags}
    if groups is not None:
        after["groups"] = sorted(g.name for g in groups)
    if user_permissions is not None:
        after["user_permissions"] = sorted(f"{p.content_type.app_label}.{p.codename}" for p in user_permissions)
    user_grants_check(actor=actor, user=user, before=before, after=after)
    for flag, value in flags.items():
        setattr(user, flag, value)
    try:
        user.full_clean(exclude=["password", "username", "first_name", "last_name", "email"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    user.save()
    if groups is not None:
        user.groups.set(groups)
    if user_permissions is not None:
        user.user_permissions.set(user_permissions)
    return user_grants_audit(user=user, before=before, actor=actor, address=address)


@transaction.atomic
def user_deactivate(*, user, actor, reason: str = "", address: str | None = None):
    """Logins are never deleted (audit and history rows point at them): this switches one off."""
    if not reason.strip():
        raise ValidationError({"reason": _("say why the login is switched off")})
    if not admin_role_may_grant(actor):
        raise ValidationError({"is_active": _("only the security administrator switches logins off")})
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise ValidationError({"is_active": _("%(u)s is already inactive") % {"u": user.username}})
    before = user_grants_snapshot(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_tokens_revoke(user=user)  # its sessions end by themselves: Django's backend refuses inactive logins
    audit_record(actor=actor, action="accounts.user_deactivate", target=user, summary=reason,
                 changes=grants_diff(before, user_grants_snapshot(user)), address=address)
    return user


def user_delete(*, user, actor):
    """Always refused: a login is deactivated instead (`user_deactivate`)."""
    raise ValidationError({"user": _("logins are never deleted: %(u)s can be deactivated instead")
                           % {"u": user.username}})


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
    if role.reveals_personal_data and not admin_role_may_grant(actor):
        raise ValidationError({"role": _("%(r)s may reveal personal data: only the security administrator assigns it")
                               % {"r": role.name_zh}})
    if not role.reveals_personal_data and not admin_role_may_configure(actor):
        raise ValidationError({"role": _("%(r)s grants nothing: assigning it is the system administrator's work")
                               % {"r": role.name_zh}})
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

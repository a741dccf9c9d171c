"""Item admission (事项准入): which matters of the catalogue a deployment pushes down to its duty lists.

A department applies to put a matter on a duty list (or take it off), giving its reason; the grid office
approves or rejects it, giving its reason when it rejects. Only an approved request changes a list, and
each change bumps the list's version, so the list as it stood at any version can be read back
(`duty_list_entries_as_of`). The case dispatch asks `matter_admitted` before giving a case to a grid
worker: a matter on no list that admits to the grid stays its department's duty.

Invariants (the database holds the first two):
- at most one current entry (removed_version null) per (list, matter), and one pending request;
- every entry is written by an approved request, which records the list version it produced;
- a list's version only grows, by one per approved request (by one per `duty_list_seed` call).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment, Department, Team
from gridgov.accounts.selectors import user_is_district_wide, user_scheme_id, user_scope_paths
from gridgov.catalogue.models import (
    AdmissionRequest,
    AdmissionState,
    DutyList,
    DutyListEntry,
    DutyTier,
    Matter,
)
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.core.audit import audit_record

SEED_REASON = "initial list"


# =========================================================================== helpers
def _authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def _central(user) -> bool:
    return _authenticated(user) and user_is_district_wide(user)


def admission_may_decide(user) -> bool:
    """The grid office: superusers, district-wide staff, and holders of `catalogue.change_dutylist`."""
    return _central(user) or (_authenticated(user) and user.has_perm("catalogue.change_dutylist"))


def admission_may_apply(user, *, department: Department | None = None) -> bool:
    """Holders of `catalogue.add_admissionrequest`, district-wide staff, and members of a team of the
    applying department."""
    if not _authenticated(user):
        return False
    if _central(user) or user.has_perm("catalogue.add_admissionrequest"):
        return True
    return department is not None and Team.objects.filter(department=department, members=user).exists()


def _current_entry(duty_list: DutyList, matter: Matter) -> DutyListEntry | None:
    return DutyListEntry.objects.filter(duty_list=duty_list, matter=matter, removed_version__isnull=True).first()


def _matter_check(duty_list: DutyList, matter: Matter) -> None:
    catalogue = scheme_catalogue(duty_list.scheme_id)
    if catalogue is None or matter.catalogue_id != catalogue.pk:
        raise ValidationError({"matter": _("matter %(code)s is not in the catalogue of this scheme")
                               % {"code": matter.code}})
    if not matter.active:
        raise ValidationError({"matter": _("matter %(code)s is no longer active") % {"code": matter.code}})


# =========================================================================== services
@transaction.atomic
def duty_list_create(*, scheme, key: str, name_zh: str, name_en: str = "", duty_tier: str,
                     admits_to_grid: bool = True, order: int = 0, actor=None) -> DutyList:
    """A new, empty duty list (version 0) of the scheme; fill it through admission requests, or at setup
    through `duty_list_seed`."""
    key = str(key or "").strip()
    if not key or slugify(key) != key.lower() or len(key) > 40:
        raise ValidationError({"key": _("a key of letters, digits, - and _, at most 40 characters")})
    name_zh = str(name_zh or "").strip()
    if not name_zh:
        raise ValidationError({"name_zh": _("a Chinese name is required")})
    if duty_tier not in DutyTier.values:
        raise ValidationError({"duty_tier": _("unknown value %(v)r; one of %(c)s")
                               % {"v": duty_tier, "c": ", ".join(DutyTier.values)}})
    if DutyList.objects.filter(scheme=scheme, key=key).exists():
        raise ValidationError({"key": _("the scheme already has a duty list %(key)s") % {"key": key}})
    duty_list = DutyList.objects.create(scheme=scheme, key=key, name_zh=name_zh[:100], name_en=str(name_en)[:100],
                                        duty_tier=duty_tier, admits_to_grid=bool(admits_to_grid), order=order)
    audit_record(actor=actor, action="catalogue.duty_list_create", target=duty_list,
                 summary=f"{scheme.key}: {key} {name_zh}")
    return duty_list


def admission_apply(*, actor, duty_list: DutyList, matter: Matter, change: str = AdmissionRequest.Change.ADD,
                    department: Department | None = None, reason: str) -> AdmissionRequest:
    """Apply to add `matter` to `duty_list` (or, with change REMOVE, to take it off). Refused unless the
    reason is given, the matter is an active matter of the scheme's catalogue, the change makes sense
    (not adding what is on the list, nor removing what is not) and no other request for the matter on
    the list is pending."""
    if not admission_may_apply(actor, department=department):
        raise PermissionDenied(_("you may not apply for admission of matters"))
    if change not in AdmissionRequest.Change.values:
        raise ValidationError({"change": _("unknown value %(v)r; one of %(c)s")
                               % {"v": change, "c": ", ".join(AdmissionRequest.Change.values)}})
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("give the reason for the application")})
    if department is not None:
        if department.scheme_id != duty_list.scheme_id:
            raise ValidationError({"department": _("the department belongs to another scheme than the list")})
        if not department.active:
            raise ValidationError({"department": _("the department is no longer active")})
    _matter_check(duty_list, matter)
    on_list = _current_entry(duty_list, matter) is not None
    if change == AdmissionRequest.Change.ADD and on_list:
        raise ValidationError({"matter": _("matter %(code)s is already on the list") % {"code": matter.code}})
    if change == AdmissionRequest.Change.REMOVE and not on_list:
        raise ValidationError({"matter": _("matter %(code)s is not on the list") % {"code": matter.code}})
    try:
        with transaction.atomic():
            request = AdmissionRequest.objects.create(duty_list=duty_list, matter=matter, change=change,
                                                      department=department, reason=reason, applied_by=actor)
            audit_record(actor=actor, action="catalogue.admission_apply", target=request,
                         summary=f"{change} {matter.code} → {duty_list.key}",
                         changes={"duty_list": duty_list.key, "matter": matter.code, "change": change,
                                  "department": department.key if department else None, "reason": reason})
    except IntegrityError:
        raise ValidationError({"matter": _("matter %(code)s already has a pending request on this list")
                               % {"code": matter.code}}) from None
    return request


def _lock_pending(request: AdmissionRequest) -> AdmissionRequest:
    locked = (AdmissionRequest.objects.select_for_update(of=("self",)).select_related("duty_list", "matter", "department")
              .get(pk=request.pk))
    if locked.state != AdmissionState.PENDING:
        raise ValidationError({"state": _("the request is already %(state)s") % {"state": locked.get_state_display()}})
    return locked


@transaction.atomic
def admission_decide(*, actor, request: AdmissionRequest, approve: bool, reason: str = "") -> AdmissionRequest:
    """Approve or reject a pending request; a rejection states its reason. Approving changes the list:
    its version goes up by one (the list row is locked, so concurrent approvals queue) and the matter's
    entry is opened (ADD) or closed (REMOVE) at that version, which the request records."""
    if not admission_may_decide(actor):
        raise PermissionDenied(_("you may not decide admission requests"))
    locked = _lock_pending(request)
    reason = str(reason or "").strip()
    if not approve and not reason:
        raise ValidationError({"reason": _("give the reason for rejecting the request")})
    if approve:
        duty_list = DutyList.objects.select_for_update().get(pk=locked.duty_list_id)
        current = _current_entry(duty_list, locked.matter)
        if locked.change == AdmissionRequest.Change.ADD:
            if current is not None:
                raise ValidationError({"matter": _("matter %(code)s is already on the list")
                                       % {"code": locked.matter.code}})
            _matter_check(duty_list, locked.matter)
        elif current is None:
            raise ValidationError({"matter": _("matter %(code)s is not on the list") % {"code": locked.matter.code}})
        version = duty_list.version + 1
        DutyList.objects.filter(pk=duty_list.pk).update(version=version)
        if locked.change == AdmissionRequest.Change.ADD:
            DutyListEntry.objects.create(duty_list=duty_list, matter=locked.matter, added_version=version,
                                         request=locked)
        else:
            current.removed_version = version
            current.save(update_fields=["removed_version"])
        locked.list_version = version
    locked.state = AdmissionState.APPROVED if approve else AdmissionState.REJECTED
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.decision_reason = reason
    locked.save(update_fields=["state", "decided_by", "decided_at", "decision_reason", "list_version"])
    audit_record(actor=actor, action="catalogue.admission_decide", target=locked,
                 summary=f"{locked.state} {locked.change} {locked.matter.code} → {locked.duty_list.key}",
                 changes={"state": locked.state, "reason": reason, "list_version": locked.list_version})
    return locked


@transaction.atomic
def admission_withdraw(*, actor, request: AdmissionRequest) -> AdmissionRequest:
    """The applicant (or the grid office) takes back a pending request."""
    if not (_authenticated(actor) and (request.applied_by_id == actor.pk or admission_may_decide(actor))):
        raise PermissionDenied(_("only the applicant may withdraw the request"))
    locked = _lock_pending(request)
    locked.state = AdmissionState.WITHDRAWN
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.save(update_fields=["state", "decided_by", "decided_at"])
    audit_record(actor=actor, action="catalogue.admission_withdraw", target=locked,
                 summary=f"{locked.change} {locked.matter.code} → {locked.duty_list.key}")
    return locked


@transaction.atomic
def duty_list_seed(*, duty_list: DutyList, matters: Iterable[Matter], actor=None, approver=None,
                   department: Department | None = None, applicant=None, reason: str = SEED_REASON) -> int:
    """Fill a list at setup: each matter not yet on it gets an approved ADD request (reason "initial
    list", or `reason`) and an entry, all at one new version. Matters already on the list are skipped; when
    none is left nothing changes (idempotent). Returns the matters added.

    The requests name `approver` (default: `actor`) as who decided, so one of them must be a user allowed to
    decide, and as who applied unless `department` applied (a department pushing its matters down to the
    grids: then `applicant`, a member of one of its teams, applied); `actor` is who the audit log names
    (None: the system, e.g. a profile loaded from the command line, which names the profile's grid office
    login as approver)."""
    approver = approver if approver is not None else actor
    if not _authenticated(approver):
        raise ValidationError({"actor": _("seeding a list writes approved requests: name the user who approves "
                                          "them")})
    if not admission_may_decide(approver):
        raise PermissionDenied(_("you may not decide admission requests"))
    if department is not None:
        if department.scheme_id != duty_list.scheme_id:
            raise ValidationError({"department": _("the department belongs to another scheme than the list")})
        if not admission_may_apply(applicant, department=department):
            raise PermissionDenied(_("you may not apply for admission of matters"))
    applicant = applicant if department is not None else approver
    locked = DutyList.objects.select_for_update().get(pk=duty_list.pk)
    catalogue = scheme_catalogue(locked.scheme_id)
    on_list = set(DutyListEntry.objects.filter(duty_list=locked, removed_version__isnull=True)
                  .values_list("matter_id", flat=True))
    pending = set(AdmissionRequest.objects.filter(duty_list=locked, state=AdmissionState.PENDING)
                  .values_list("matter_id", flat=True))
    todo: dict[int, Matter] = {}
    for matter in matters:
        if catalogue is None or matter.catalogue_id != catalogue.pk:
            raise ValidationError({"matters": _("matter %(code)s is not in the catalogue of this scheme")
                                   % {"code": matter.code}})
        if not matter.active:
            raise ValidationError({"matters": _("matter %(code)s is no longer active") % {"code": matter.code}})
        if matter.pk in pending:
            raise ValidationError({"matters": _("matter %(code)s already has a pending request on this list")
                                   % {"code": matter.code}})
        if matter.pk not in on_list:
            todo.setdefault(matter.pk, matter)
    if not todo:
        return 0
    version = locked.version + 1
    now = timezone.now()
    requests = AdmissionRequest.objects.bulk_create([
        AdmissionRequest(duty_list=locked, matter=m, change=AdmissionRequest.Change.ADD, reason=reason,
                         department=department, state=AdmissionState.APPROVED, applied_by=applicant,
                         decided_by=approver, decided_at=now, decision_reason=SEED_REASON, list_version=version)
        for m in todo.values()])
    if any(r.pk is None for r in requests):  # backends that do not return ids from a bulk insert
        requests = list(AdmissionRequest.objects.filter(duty_list=locked, list_version=version,
                                                        state=AdmissionState.APPROVED))
    DutyListEntry.objects.bulk_create([DutyListEntry(duty_list=locked, matter_id=r.matter_id, added_version=version,
                                                     request=r) for r in requests])
    DutyList.objects.filter(pk=locked.pk).update(version=version)
    duty_list.version = version
    audit_record(actor=actor, action="catalogue.duty_list_seed", target=locked,
                 summary=f"{locked.key} v{version}: {len(todo)} matters",
                 changes={"codes": sorted(m.code for m in todo.values())[:200], "approver": approver.get_username(),
                          **({"department": department.key, "applicant": applicant.get_username(), "reason": reason}
                             if department is not None else {})})
    return len(todo)


# =========================================================================== selectors
def matter_admitted(*, matter: Matter, scheme) -> bool:
    """May a case of `matter` in `scheme` be given to a grid worker? True when the matter is currently
    on a duty list of the scheme that admits to the grid.

    Also True when the scheme has no duty list at all: admission control is not configured there, and
    every matter may go to the grid as before. A scheme with lists but none holding the matter gives
    False: the matter stays its department's duty."""
    scheme_id = getattr(scheme, "pk", scheme)
    matter_id = getattr(matter, "pk", matter)
    if DutyListEntry.objects.filter(duty_list__scheme_id=scheme_id, duty_list__admits_to_grid=True,
                                    matter_id=matter_id, removed_version__isnull=True).exists():
        return True
    return not DutyList.objects.filter(scheme_id=scheme_id).exists()


def duty_list_entries_as_of(*, duty_list: DutyList, version: int) -> QuerySet[DutyListEntry]:
    """The list as it stood at `version` (0 = before any change): entries added at or before it and not
    removed by then."""
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError({"version": _("a version is a whole number")}) from None
    latest = DutyList.objects.filter(pk=duty_list.pk).values_list("version", flat=True).get()  # not a stale copy's
    if version < 0 or version > latest:
        raise ValidationError({"version": _("the list has versions 0 to %(v)d") % {"v": latest}})
    return (DutyListEntry.objects.filter(duty_list=duty_list, added_version__lte=version)
            .filter(Q(removed_version__isnull=True) | Q(removed_version__gt=version))
            .select_related("matter").order_by("matter__code"))


def duty_list_entries_current(*, duty_list: DutyList) -> QuerySet[DutyListEntry]:
    return (DutyListEntry.objects.filter(duty_list=duty_list, removed_version__isnull=True)
            .select_related("matter").order_by("matter__code"))


def admission_request_scope(qs: QuerySet[AdmissionRequest], user) -> QuerySet[AdmissionRequest]:
    """Requests the user may see: all for platform-wide users, those of their scheme for district-wide
    staff; else those they applied
    for, those of their teams' departments, and those on lists of schemes where they hold a current
    assignment."""
    paths = user_scope_paths(user)
    if paths is None:
        return qs
    if not _authenticated(user):
        return qs.none()
    schemes = Assignment.objects.current().filter(person__user=user).values("node__scheme_id")
    departments = Team.objects.filter(members=user).values("department_id")
    own = Q(duty_list__scheme_id=user_scheme_id(user)) if user_is_district_wide(user) else Q(pk__in=[])
    return qs.filter(Q(applied_by=user) | Q(duty_list__scheme_id__in=schemes) | Q(department_id__in=departments)
                     | own)

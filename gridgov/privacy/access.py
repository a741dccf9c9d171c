"""Who may see personal data in clear, and the log of every time someone did.

Personal fields per record type (`PERSONAL_FIELDS`) are shown masked everywhere. A user may reveal
them for a record when, on the day, they hold either
- the permission ``people.reveal_personal_data`` and the record's cell is in their territory, or
- a current assignment to the record's cell or an ancestor, in a role that `reveals_personal_data`.
Each reveal states a purpose and writes one `AccessLog` row per field, in the same transaction as the
read, before the clear values leave the service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment
from gridgov.accounts.selectors import user_scope_paths
from gridgov.privacy.crypto import unseal
from gridgov.privacy.masking import mask_address, mask_name
from gridgov.privacy.models import AccessKind, AccessLog

# The personal fields of each record type, in display order, and how each is masked and opened.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "resident": ("name", "id_number", "phone", "registered_address", "actual_address"),
    "household": ("address",),
    "house": ("address",),
    "legalentity": ("representative", "phone"),
}
SEALED = {"id_number": "id", "phone": "phone"}  # field → column prefix of *_sealed / *_masked


def seal_field(record_type: str, field: str) -> str:
    """The associated-data label a sealed value is bound to."""
    return f"{record_type}.{field}"


def masked_value(record: models.Model, field: str) -> str:
    if field in SEALED:
        return getattr(record, f"{SEALED[field]}_masked")
    value = getattr(record, field)
    if field in ("name", "representative"):
        return mask_name(value)
    return mask_address(value)


def clear_value(record: models.Model, field: str) -> str:
    if field in SEALED:
        return unseal(getattr(record, f"{SEALED[field]}_sealed"), field=seal_field(record._meta.model_name, field))
    return getattr(record, field)


def masked_values(record: models.Model) -> dict[str, str]:
    return {f: masked_value(record, f) for f in PERSONAL_FIELDS.get(record._meta.model_name, ())}


def reveal_paths(user, *, on: dt.date | None = None) -> list[str] | None:
    """Node paths under which `user` may reveal personal data: None = their whole territory when that is
    everything, [] = nowhere."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cache = user.__dict__.setdefault("_gridgov_reveal_cache", {})
    if on in cache:
        return cache[on]
    if user.has_perm("people.reveal_personal_data"):
        paths = user_scope_paths(user, on=on)
    else:
        paths = sorted(set(
            Assignment.objects.current(on).filter(person__user=user, role__reveals_personal_data=True,
                                                  node__valid_to__isnull=True)
            .values_list("node__path", flat=True)))
    cache[on] = paths
    return paths


def can_reveal(user, node) -> bool:
    paths = reveal_paths(user)
    if paths is None:
        return True
    return any(node.path.startswith(p) for p in paths)


def derived_visible(user, record: models.Model) -> bool:
    """May `user` be shown what a resident's ID number encodes beyond its mask (birth date, birth year, age
    band)? The mask (region + last four) leaves the eight birth-date digits hidden; a listed birth year would
    cut their candidates from thousands to a few dozen, so the listing would undo the mask. Only where the
    user may reveal anyway (the mask already shows the gender digit, so gender stays listed)."""
    return can_reveal(user, record.node)


def purpose_clean(purpose: str) -> str:
    purpose = " ".join((purpose or "").split())
    if len(purpose) < settings.REVEAL_PURPOSE_MIN_LENGTH:
        raise ValidationError({"purpose": _("state why you need to see this personal data (at least %(n)d "
                                            "characters)") % {"n": settings.REVEAL_PURPOSE_MIN_LENGTH}})
    return purpose[:300]


@transaction.atomic
def personal_data_reveal(*, user, record: models.Model, fields: Iterable[str] | None = None, purpose: str,
                         remote_addr: str | None = None) -> dict[str, str]:
    """The clear values of the record's personal `fields` (all of them when None), after logging the
    reveal. The caller has already found `record` through the user's scope (out of scope is a 404)."""
    rtype = record._meta.model_name
    allowed = PERSONAL_FIELDS.get(rtype, ())
    wanted = list(allowed) if fields is None else list(dict.fromkeys(fields))
    unknown = [f for f in wanted if f not in allowed]
    if unknown or not wanted:
        raise ValidationError({"fields": _("personal fields of this record: %(f)s") % {"f": ", ".join(allowed)}})
    purpose = purpose_clean(purpose)
    node = record.node
    if not can_reveal(user, node):
        raise PermissionDenied(_("your role may not reveal personal data in this cell"))
    AccessLog.objects.bulk_create([
        AccessLog(user=user, kind=AccessKind.REVEAL, record_type=rtype, record_id=record.pk, node=node, fields=field,
                  purpose=purpose, remote_addr=remote_addr)
        for field in wanted
    ])
    return {field: clear_value(record, field) for field in wanted}


def access_log_write(*, user, kind: str, purpose: str, record: models.Model | None = None, node=None,
                     fields: Iterable[str] = (), rows: int | None = None, detail: dict[str, Any] | None = None,
                     remote_addr: str | None = None) -> AccessLog:
    """One entry for an export, import or erasure (no personal data in `detail`)."""
    return AccessLog.objects.create(
        user=user, kind=kind, purpose=purpose[:300], record_type=record._meta.model_name if record is not None else "",
        record_id=record.pk if record is not None else None, node=node if node is not None else getattr(record, "node", None),
        fields=",".join(fields)[:200], rows=rows, detail=detail or {}, remote_addr=remote_addr)

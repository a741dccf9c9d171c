"""Writing the audit log. Called explicitly by services, in their transaction."""

from __future__ import annotations

from typing import Any

from gridgov.core.models import AuditEntry


def audit_record(*, actor, action: str, target=None, summary: str = "", changes: dict[str, Any] | None = None,
                 address: str | None = None) -> AuditEntry:
    """One audit row. `target` may be None for events about no stored record (a failed login for an
    unknown name); `address` is the client address of the request, when there is one."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        actor=user,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        changes=changes or {},
        address=address or None,
    )

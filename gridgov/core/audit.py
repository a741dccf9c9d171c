"""Writing the audit log. Called explicitly by services, in their transaction."""

from __future__ import annotations

from typing import Any

from gridgov.core.models import AuditEntry


def audit_record(*, actor, action: str, target, summary: str = "", changes: dict[str, Any] | None = None) -> AuditEntry:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        actor=user,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        summary=summary[:300],
        changes=changes or {},
    )

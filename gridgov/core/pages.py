"""What every server-rendered page shares, whatever its app: htmx fragments and a service's errors on a form."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def is_fragment(request, target: str | None = None) -> bool:
    """An htmx request for a part of the page (not a history restore, which needs the whole page)."""
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-History-Restore-Request") == "true":
        return False
    return target is None or request.headers.get("HX-Target") == target


def errors_to_form(form, exc: ValidationError, fields: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form: each message on the field it names (renamed through
    `fields` where the form calls it otherwise), the rest above the form."""
    fields = fields or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, messages in exc.message_dict.items():
        target = fields.get(name, name)
        form.add_error(target if target in form.fields else None, messages)

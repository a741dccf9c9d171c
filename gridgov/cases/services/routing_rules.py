"""Writes of routing rules (the settings that choose a case's handler): from the API and the admin alike,
each change audited with its old and new values."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gridgov.cases.models import Case, RoutingRule
from gridgov.core.audit import setting_delete, setting_save


def routing_rule_save(rule: RoutingRule | None, values: dict | None = None, *, actor=None,
                      address: str | None = None) -> RoutingRule:
    """Create or change a routing rule from checked values (the API's serializer checks them against the
    scheme; the admin's form has set them on `rule`); two rules of a scheme cannot share an order. Audited
    (`cases.routingrule_add|change`, old and new values)."""
    rule = rule or RoutingRule()
    for name, value in (values or {}).items():
        setattr(rule, name, value)
    try:
        with transaction.atomic():
            setting_save(rule, actor=actor, address=address)
    except IntegrityError:
        raise ValidationError({"order": _("rule #%(order)s already exists in this level scheme")
                               % {"order": rule.order}}) from None
    return rule


def routing_rule_kept(rule: RoutingRule) -> str | None:
    """Why the rule may not be deleted (a case was routed by it: kept for the record), or None."""
    if Case.objects.filter(routing_rule=rule).exists():
        return _("cases were routed by this rule: deactivate it instead")
    return None


def routing_rule_delete(rule: RoutingRule, *, actor=None, address: str | None = None) -> None:
    """Delete a routing rule no case was routed by (one that routed a case is kept for the record:
    deactivate it instead). Audited (`cases.routingrule_delete`, its values)."""
    refusal = routing_rule_kept(rule)
    if refusal:
        raise ValidationError({"active": refusal})
    setting_delete(rule, actor=actor, address=address)

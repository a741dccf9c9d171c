"""Writes of routing rules (the settings that choose a case's handler)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gridgov.cases.models import RoutingRule
from gridgov.core.audit import audit_record


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

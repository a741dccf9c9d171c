"""Writes of the loop's other settings — a scheme's case policy and the action grants — from the admin
(or any page), each change audited with its old and new values (`cases.casepolicy_*`,
`cases.actiongrant_*`)."""

from __future__ import annotations

from gridgov.cases.models import ActionGrant, CasePolicy
from gridgov.core.audit import setting_delete, setting_save


def case_policy_save(policy: CasePolicy, *, actor, address: str | None = None) -> CasePolicy:
    setting_save(policy, actor=actor, address=address)
    return policy


def case_policy_delete(policy: CasePolicy, *, actor, address: str | None = None) -> None:
    """The scheme falls back to the default policy (`policy.policy_for`)."""
    setting_delete(policy, actor=actor, address=address)


def action_grant_save(grant: ActionGrant, *, actor, address: str | None = None) -> ActionGrant:
    setting_save(grant, actor=actor, address=address)
    return grant


def action_grant_delete(grant: ActionGrant, *, actor, address: str | None = None) -> None:
    setting_delete(grant, actor=actor, address=address)

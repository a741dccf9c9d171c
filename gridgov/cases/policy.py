"""A deployment's loop policy, with defaults for schemes that have not set one."""

from __future__ import annotations

from decimal import Decimal

from gridgov.cases.models import CasePolicy
from gridgov.core import versioned

DEFAULT_LEVEL_FACTORS = {"ROUTINE": 1.0, "URGENT": 0.5, "MAJOR": 0.25}
DEFAULT_NOTIFY_DEPTHS = {"ROUTINE": [], "URGENT": [1], "MAJOR": [0, 1]}


def policy_for(scheme) -> CasePolicy:
    """The scheme's policy row, or an unsaved one holding the defaults. Cached per process until a policy
    changes (`core.versioned`, POLICY): read-only, shared by every caller."""
    scheme_id = getattr(scheme, "pk", scheme)
    return versioned.versioned_get(versioned.POLICY, scheme_id, lambda: _policy_read(scheme_id))


def _policy_read(scheme_id) -> CasePolicy:
    policy = CasePolicy.objects.filter(scheme_id=scheme_id).first()
    return policy or CasePolicy(scheme_id=scheme_id)


def level_factor(policy: CasePolicy, level: str) -> Decimal:
    factors = {**DEFAULT_LEVEL_FACTORS, **(policy.level_factors or {})}
    return Decimal(str(factors.get(level, 1.0)))


def level_notify_depths(policy: CasePolicy, level: str) -> list[int]:
    depths = {**DEFAULT_NOTIFY_DEPTHS, **(policy.level_notify_depths or {})}
    return [int(d) for d in depths.get(level, [])]

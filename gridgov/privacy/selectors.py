"""Reads of the access log."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from gridgov.accounts.selectors import paths_q, user_scope_paths
from gridgov.privacy.models import AccessLog


def access_log_scope(qs: QuerySet[AccessLog], user) -> QuerySet[AccessLog]:
    """Access-log entries about cells in the user's territory, and the user's own entries (an export
    that named no cell); everything for users who see everything."""
    paths = user_scope_paths(user)
    if paths is None:
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(paths_q(paths, "node__path") | Q(user=user))

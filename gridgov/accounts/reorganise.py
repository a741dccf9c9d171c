"""The people in charge follow the territory when a cell is split, merged or retired.

`territory.services.node_split` / `node_merge` / `node_retire` call the registered followers inside their
transaction (registered in `AccountsConfig.ready`) with the heir they computed: the open assignments of the
retired cell end the day before and open the same on the heir; a cell retired without successors only
ends them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils.translation import gettext as _

from gridgov.accounts.models import Assignment
from gridgov.territory.models import Node


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def assignments_follow_reorganise(*, predecessor: Node, successors: Sequence[Node], heir: Node | None,
                                  effective_date: dt.date, actor, reason: str = "") -> int:
    """End the open assignments of `predecessor` and carry them to `heir` (none: only end them). Returns the
    assignments opened on the heir."""
    on = effective_date
    if heir is None:
        Assignment.objects.filter(node=predecessor, end_date__isnull=True).update(
            end_date=on - dt.timedelta(days=1), end_reason=(_("cell retired: %(r)s") % {"r": reason})[:200])
        return 0
    carried = 0
    for a in Assignment.objects.filter(node=predecessor, end_date__isnull=True):
        a.end_date = max(a.start_date, on - dt.timedelta(days=1))
        a.end_reason = (_("reorganised: %(reason)s") % {"reason": reason})[:200]
        a.save(update_fields=["end_date", "end_reason"])
        if Assignment.objects.filter(person=a.person_id, node=heir, role=a.role_id, end_date__isnull=True).exists():
            continue
        Assignment.objects.create(person_id=a.person_id, node=heir, role_id=a.role_id, start_date=on,
                                  duties=a.duties, is_public=a.is_public, created_by=_user(actor))
        carried += 1
    return carried

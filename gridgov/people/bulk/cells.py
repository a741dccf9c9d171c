"""Finding the cells rows name (by code, unique name or "parent/name") or lie in (by coordinates),
within the territory the importing user may write to."""

from __future__ import annotations

import numpy as np
from django.utils.translation import gettext as _

from gridgov.accounts.selectors import user_scope_paths
from gridgov.people.bulk.clean import Row
from gridgov.territory.locate import locate_many
from gridgov.territory.models import LevelScheme, Node


class Unresolved(Exception):
    """Raised by offline `Cells` (in a worker process) where the answer needs a database read."""


class Cells:
    """The active nodes of a scheme, found by code, by a name unique among them, or by "parent/name"."""

    offline = False  # True in a worker process: it never reads the database (see `workers`)

    def __init__(self, scheme: LevelScheme, *, scope_paths: list[str] | None = None):
        self.scheme = scheme
        nodes = list(Node.objects.filter(scheme=scheme, valid_to__isnull=True).order_by()
                     .values_list("id", "code", "name", "parent_id", "path"))
        # the cells the importing user may write to (None: no limit — a superuser, a command-line run)
        self.allowed: set[int] | None = None if scope_paths is None else {
            pk for pk, *_rest, path in nodes if any(path.startswith(p) for p in scope_paths)}
        nodes = [row[:4] for row in nodes]
        names = {pk: name for pk, _code, name, _parent in nodes}
        self.by_code = {code: pk for pk, code, _name, _parent in nodes if code}
        self.by_name: dict[str, list[int]] = {}
        self.by_path: dict[str, list[int]] = {}
        for pk, _code, name, parent_id in nodes:
            self.by_name.setdefault(name, []).append(pk)
            if parent_id in names:
                self.by_path.setdefault(f"{names[parent_id]}/{name}", []).append(pk)
        self.ids = set(names)
        self._answers: dict[str, tuple[int | None, str]] = {}

    def resolve(self, value: str) -> tuple[int | None, str]:
        """(node id, "") or (None, reason)."""
        if value in self._answers:
            return self._answers[value]
        answer = self._resolve(value)
        if answer[0] is not None and not self.in_scope(answer[0]):
            answer = (None, _("grid %(v)s lies outside your territory") % {"v": value})
        if len(self._answers) < 10_000:
            self._answers[value] = answer
        return answer

    def in_scope(self, pk: int) -> bool:
        return self.allowed is None or pk in self.allowed

    def _resolve(self, value: str) -> tuple[int | None, str]:
        if value in self.by_code:
            return self.by_code[value], ""
        for lookup in (self.by_name, self.by_path):
            found = lookup.get(value) or lookup.get(value.replace("／", "/").replace(" / ", "/"))
            if found and len(found) == 1:
                return found[0], ""
            if found:
                return None, _("grid name %(v)s matches %(n)d cells, give its code") % {"v": value, "n": len(found)}
        if self.offline:
            raise Unresolved(value)
        other = Node.objects.filter(code=value).exclude(code="").values_list("scheme_id", "valid_to").first()
        if other is not None and other[0] != self.scheme.pk:
            return None, _("grid %(v)s belongs to another level scheme") % {"v": value}
        if other is not None:
            return None, _("grid %(v)s is retired") % {"v": value}
        return None, _("unknown grid '%(v)s'") % {"v": value}


def scope_paths(actor) -> list[str] | None:
    """The territory an import by `actor` may write to; None = anywhere (no actor: a command-line run)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return user_scope_paths(actor)


def cells_locate(scheme: LevelScheme, rows: list[tuple[Row, float, float]]) -> list[int | None]:
    """The cells of many points at once (None outside every cell)."""
    if not rows:
        return []
    ids = locate_many(np.fromiter((lon for _r, lon, _lat in rows), float, len(rows)),
                      np.fromiter((lat for _r, _lon, lat in rows), float, len(rows)), scheme=scheme)
    return [int(pk) if pk >= 0 else None for pk in ids]

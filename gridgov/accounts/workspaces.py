"""Where each user works: the workspaces their roles open (command centre, grid worker's phone pages,
department inbox, base data, management) and the home page they land on after logging in.

Derived from what the user is (superuser / district-wide staff, current assignments by role category,
membership of a department's team), never stored: a new assignment changes the menu at once."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from gridgov.accounts.models import Assignment, RoleCategory
from gridgov.accounts.selectors import FIELD_CATEGORIES, user_is_district_wide

# Role categories whose holders watch and run a territory (grid offices, leaders, party secretaries).
CENTRE_CATEGORIES = {RoleCategory.OFFICE, RoleCategory.LEADER, RoleCategory.PARTY}


@dataclass(frozen=True)
class Workspace:
    key: str
    label: str
    url_name: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


CENTRE = Workspace("centre", _("Command centre"), "centre:index")
DASHBOARD = Workspace("dashboard", _("Dashboard"), "dashboard:index")
CASES = Workspace("cases", _("Cases"), "cases:list")
FIELD = Workspace("field", _("My grid"), "field:index")
INBOX = Workspace("inbox", _("Department inbox"), "inbox:index")
PEOPLE = Workspace("people", _("Base data"), "people:index")
MANAGE = Workspace("manage", _("Management"), "manage:index")


class UserWorkspaces:
    """The workspaces of one user, worked out once per request."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def categories(self) -> set[str]:
        if not self._active:
            return set()
        return set(Assignment.objects.current().filter(person__user=self.user, node__valid_to__isnull=True)
                   .values_list("role__category", flat=True))

    @property
    def _active(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated and self.user.is_active)

    @property
    def district_wide(self) -> bool:
        return self._active and user_is_district_wide(self.user)

    @cached_property
    def in_team(self) -> bool:
        return self._active and self.user.teams.exists()

    @property
    def centre(self) -> bool:
        return self.district_wide or bool(self.categories & CENTRE_CATEGORIES)

    @property
    def field(self) -> bool:
        return bool(self.categories & FIELD_CATEGORIES)

    @property
    def manage(self) -> bool:
        return self.district_wide or RoleCategory.OFFICE in self.categories

    @cached_property
    def items(self) -> list[Workspace]:
        if not self._active:
            return []
        out = []
        if self.centre:
            out += [CENTRE, DASHBOARD]
        if self.centre or self.field or self.in_team:
            out.append(CASES)
        if self.field:
            out.append(FIELD)
        if self.in_team:
            out.append(INBOX)
        if self.district_wide or self.categories:
            out.append(PEOPLE)
        if self.manage:
            out.append(MANAGE)
        return out

    @property
    def home(self) -> Workspace | None:
        """Where the user lands: the command centre for those who run a territory, the inbox for department
        handlers, the phone pages for grid workers, else the first workspace they have."""
        for workspace, has in ((CENTRE, self.centre), (INBOX, self.in_team), (FIELD, self.field)):
            if has:
                return workspace
        return self.items[0] if self.items else None


def workspaces(request) -> dict:
    """Context processor: `workspaces` (the menu) and the map's base layer for every page."""
    from django.conf import settings

    user = getattr(request, "user", None)
    ws = UserWorkspaces(user)
    return {"workspaces": ws, "map_tiles": settings.MAP_TILES}


# --------------------------------------------------------------------------- who may open a page
def _guard(view, allowed):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not allowed(UserWorkspaces(request.user)):
            raise PermissionDenied(_gettext("The management pages are for the grid office and district staff."))
        return view(request, *args, **kwargs)

    return login_required(never_cache(wrapper))


def manage_page(view):
    """Login required; 403 unless the user runs a territory's management (grid office, district staff)."""
    return _guard(view, lambda ws: ws.manage)


def catalogue_page(view):
    """Like `manage_page`, and also open to department handlers (they apply for admission of matters)."""
    return _guard(view, lambda ws: ws.manage or ws.in_team)

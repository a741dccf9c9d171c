"""How a login and a department's team are named to people: pages, API timelines and exports all use these.

A staff login is shown by the name of its person in charge (`Person.name`), else by the name on the login
(last name first, as Chinese names are written), else by its username: a login name such as `pinggu_admin`
is what a person reads only when nobody gave the login a name. A department's team is shown with its
department; its default team (`Team.DEFAULT_NAME`, answering for the whole territory) by the department
alone, so no untranslatable "默认组" reaches a page.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist


def user_label(user) -> str:
    """The name to show for `user` (a User or None: ""). Loads `user.person` unless it was selected with it
    (`select_related("actor__person")`)."""
    if user is None:
        return ""
    try:
        person = user.person
    except (ObjectDoesNotExist, AttributeError):
        person = None
    if person is not None and person.name:
        return person.name
    full = f"{user.last_name}{user.first_name}".strip() if _cjk(user.last_name + user.first_name) else \
        f"{user.first_name} {user.last_name}".strip()
    return full or user.get_username()


def _cjk(text: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" for char in text)


def team_label(team) -> str:
    """'城管局 · 东片组'; a department's default team is the department: '城管局'."""
    from gridgov.accounts.models import Team

    if team is None:
        return ""
    department = team.department.name
    if team.name == Team.DEFAULT_NAME:
        return department
    return f"{department} · {team.name}"

"""What every base-data API view shares: permissions by action, ids resolved within the caller's
territory, no personal data in a query string."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework import permissions

from gridgov.people.filters import (
    personal_query_refuse,
)
from gridgov.people.selectors import (
    scoped_record_get,
)

SOURCE = "api"

ID_REGEX = r"[0-9]{1,18}"  # 18 digits stay below 2**63: a longer id is a 404 from the router

# ------------------------------------------------------------------------------------------- permissions
class PeoplePermission(permissions.DjangoModelPermissions):
    """Django model permissions by action: every request needs `view` of the view's model (reads too),
    create needs `add`, updates `change`; a view lists what its own actions need in `action_perms`
    (a verb for its model, or 'app.codename')."""

    ACTIONS = {"list": (), "retrieve": (), "metadata": (), "create": ("add",), "partial_update": ("change",),
               "update": ("change",), "destroy": ("delete",)}

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        model = view.perm_model
        app, name = model._meta.app_label, model._meta.model_name
        needs = {**self.ACTIONS, **getattr(view, "action_perms", {})}.get(view.action)
        if needs is None:
            needs = () if request.method in permissions.SAFE_METHODS else ("change",)
        wanted = {f"{app}.view_{name}"} | {p if "." in p else f"{app}.{p}_{name}" for p in needs}
        return user.has_perms(wanted)

class ScopedRefs:
    """Ids in a request body resolved to records in the caller's territory (`selectors.scoped_record_get`)."""

    def __init__(self, user):
        self.user = user

    def get(self, model, pk, field):
        return scoped_record_get(model=model, pk=pk, user=self.user, field=field)

# ------------------------------------------------------------------------------------------------ views
class PeopleViewMixin:
    """Ids are 64-bit integers; personal data in a query string is refused."""

    lookup_value_regex = ID_REGEX
    permission_classes = [PeoplePermission]

    @property
    def perm_model(self):
        return self.queryset.model

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        personal_query_refuse(request.query_params)

    @property
    def refs(self) -> ScopedRefs:
        return ScopedRefs(self.request.user)

def today_or(value: dt.date | None) -> dt.date:
    return value or timezone.localdate()

"""Who handled personal data: /api/people/access-log/."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from gridgov.people.api.base import PeopleViewMixin
from gridgov.people.filters import (
    AccessLogFilter,
)
from gridgov.people.serializers.access_log import AccessLogSerializer
from gridgov.privacy.models import AccessLog
from gridgov.privacy.selectors import access_log_scope


@extend_schema_view(list=extend_schema(tags=["people: access log"]),
                    retrieve=extend_schema(tags=["people: access log"]))
class AccessLogViewSet(PeopleViewMixin, viewsets.ReadOnlyModelViewSet):
    """Who revealed, exported, imported or erased personal data (needs `people.view_accesslog`), about
    the cells of the caller's territory."""

    queryset = AccessLog.objects.all()
    serializer_class = AccessLogSerializer
    filterset_class = AccessLogFilter

    def get_queryset(self):
        return access_log_scope(AccessLog.objects.select_related("user"), self.request.user).order_by("-at", "-id")

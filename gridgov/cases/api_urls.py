"""REST API of the closed loop: /api/cases/... (gridgov.cases.api)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from gridgov.cases import api

router = SimpleRouter()
router.register("routing-rules", api.RoutingRuleViewSet, basename="routing-rule")
router.register("notifications", api.NotificationViewSet, basename="notification")
router.register("", api.CaseViewSet, basename="case")

urlpatterns = [
    path("", include(router.urls)),
]

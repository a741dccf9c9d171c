from django.urls import path
from rest_framework.routers import SimpleRouter

from gridgov.accounts import api
from gridgov.accounts.tokens import TokenView

router = SimpleRouter()
router.register("roles", api.RoleViewSet, basename="role")
router.register("people", api.PersonViewSet, basename="person")
router.register("assignments", api.AssignmentViewSet, basename="assignment")

urlpatterns = [
    path("token", TokenView.as_view(), name="api-token"),
    *router.urls,
]

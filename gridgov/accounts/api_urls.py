from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import SimpleRouter

from gridgov.accounts import api

router = SimpleRouter()
router.register("roles", api.RoleViewSet, basename="role")
router.register("people", api.PersonViewSet, basename="person")
router.register("assignments", api.AssignmentViewSet, basename="assignment")

urlpatterns = [
    path("token", obtain_auth_token, name="api-token"),
    *router.urls,
]

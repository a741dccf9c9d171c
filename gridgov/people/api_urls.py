"""REST API of base data: /api/people/..."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

router = DefaultRouter()
# base data, masked (gridgov.people.api)
from gridgov.people import api as people_api  # noqa: E402

router.register("residents", people_api.ResidentViewSet, basename="resident")
router.register("households", people_api.HouseholdViewSet, basename="household")
router.register("houses", people_api.HouseViewSet, basename="house")
router.register("buildings", people_api.BuildingViewSet, basename="building")
router.register("entities", people_api.EntityViewSet, basename="entity")
router.register("special-groups", people_api.SpecialGroupViewSet, basename="special-group")
router.register("memberships", people_api.MembershipViewSet, basename="membership")
router.register("party-members", people_api.PartyMemberViewSet, basename="party-member")
router.register("volunteers", people_api.VolunteerViewSet, basename="volunteer")
router.register("access-log", people_api.AccessLogViewSet, basename="access-log")
router.register("exports", people_api.ExportViewSet, basename="export")
# spreadsheet imports (gridgov.people.import_api)
from gridgov.people import import_api  # noqa: E402

router.register("imports", import_api.ImportJobViewSet, basename="import-job")

urlpatterns = [
    path("", include(router.urls)),
]

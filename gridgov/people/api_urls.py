"""REST API of base data: /api/people/..."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

router = DefaultRouter()
# base data, masked (gridgov.people.api)
from gridgov.people.api import access_log, exports, groups, records  # noqa: E402

router.register("residents", records.ResidentViewSet, basename="resident")
router.register("households", records.HouseholdViewSet, basename="household")
router.register("houses", records.HouseViewSet, basename="house")
router.register("buildings", records.BuildingViewSet, basename="building")
router.register("entities", records.EntityViewSet, basename="entity")
router.register("special-groups", groups.SpecialGroupViewSet, basename="special-group")
router.register("memberships", groups.MembershipViewSet, basename="membership")
router.register("party-members", groups.PartyMemberViewSet, basename="party-member")
router.register("volunteers", groups.VolunteerViewSet, basename="volunteer")
router.register("access-log", access_log.AccessLogViewSet, basename="access-log")
router.register("exports", exports.ExportViewSet, basename="export")
# spreadsheet imports (gridgov.people.import_api)
from gridgov.people import import_api  # noqa: E402

router.register("imports", import_api.ImportJobViewSet, basename="import-job")

urlpatterns = [
    path("", include(router.urls)),
]

from django.urls import path
from rest_framework.routers import SimpleRouter

from gridgov.catalogue import api

router = SimpleRouter()
router.register("catalogues", api.CatalogueViewSet, basename="catalogue")
router.register("categories", api.CategoryViewSet, basename="category")
router.register("matters", api.MatterViewSet, basename="matter")
router.register("duty-lists", api.DutyListViewSet, basename="duty-list")
router.register("admission-requests", api.AdmissionRequestViewSet, basename="admission-request")

urlpatterns = [
    path("catalogues/<slug:key>/export.xlsx", api.CatalogueExportView.as_view(), name="catalogue-export"),
    *router.urls,
]

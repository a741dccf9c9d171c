from django.urls import path
from rest_framework.routers import SimpleRouter

from gridgov.territory import api

router = SimpleRouter()
router.register("schemes", api.SchemeViewSet, basename="scheme")
router.register("nodes", api.NodeViewSet, basename="node")

urlpatterns = [
    path("locate", api.LocateView.as_view(), name="territory-locate"),
    path("locate/bulk", api.BulkLocateView.as_view(), name="territory-locate-bulk"),
    path("tree", api.TreeView.as_view(), name="territory-tree"),
    path("gridmaps/import", api.GridMapImportView.as_view(), name="territory-gridmap-import"),
    path("gridmaps/runs/<str:token>", api.GridMapRunView.as_view(), name="territory-gridmap-run"),
    path("gridmaps/export", api.GridMapExportView.as_view(), name="territory-gridmap-export"),
    *router.urls,
]

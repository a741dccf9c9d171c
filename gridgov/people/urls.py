"""Pages of base data (login required): /people/..."""

from django.urls import path

from gridgov.people import views

app_name = "people"

urlpatterns: list = []

# figures, lists, details and reveal (gridgov/people/views.py)
urlpatterns += [
    path("", views.index, name="index"),
    path("cells/<int:node_id>/", views.cell, name="cell"),
    path("cells/<int:node_id>/residents/", views.residents, name="residents"),
    path("cells/<int:node_id>/households/", views.households, name="households"),
    path("cells/<int:node_id>/houses/", views.houses, name="houses"),
    path("cells/<int:node_id>/entities/", views.entities, name="entities"),
    path("residents/<int:pk>/", views.resident_detail, name="resident"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("houses/<int:pk>/", views.house_detail, name="house"),
    path("entities/<int:pk>/", views.entity_detail, name="entity"),
    path("reveal/<slug:record_type>/<int:pk>/", views.reveal, name="reveal"),
]

# spreadsheet imports (gridgov/people/import_views.py)
from gridgov.people import import_views  # noqa: E402

urlpatterns += [
    path("imports/", import_views.import_list, name="imports"),
    path("imports/<int:pk>/", import_views.import_detail, name="import"),
    path("imports/<int:pk>/check/", import_views.import_check, name="import_check"),
    path("imports/<int:pk>/start/", import_views.import_start, name="import_start"),
    path("imports/<int:pk>/restart/", import_views.import_restart, name="import_restart"),
    path("imports/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("imports/<int:pk>/rejected/", import_views.import_rejected, name="import_rejected"),
]

# exports of the lists above (gridgov/people/export_views.py)
from gridgov.people import export_views  # noqa: E402

urlpatterns += [
    path("cells/<int:node_id>/<slug:record_type>/export/", export_views.export_create, name="export_create"),
    path("exports/", export_views.export_list, name="exports"),
    path("exports/<int:pk>/", export_views.export_detail, name="export"),
    path("exports/<int:pk>/progress/", export_views.export_progress, name="export_progress"),
    path("exports/<int:pk>/download/", export_views.export_download, name="export_download"),
]

from django.urls import path

from gridgov.dashboard import views

app_name = "centre"
urlpatterns = [
    path("", views.centre, name="index"),
    path("cells.geojson", views.centre_cells, name="cells"),
    path("cases.geojson", views.centre_cases, name="cases"),
    path("workers.geojson", views.centre_workers, name="workers"),
]

"""The grid worker's phone pages (/m/)."""

from django.urls import path

from gridgov.cases import field_views as views

app_name = "field"
urlpatterns = [
    path("", views.index, name="index"),
    path("report/", views.report, name="report"),
    path("report/<str:number>/", views.reported, name="reported"),
    path("matters/", views.matters, name="matters"),
    path("position/", views.position, name="position"),
]

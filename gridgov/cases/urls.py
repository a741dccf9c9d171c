from django.urls import path

from gridgov.cases import views

app_name = "cases"
urlpatterns = [
    path("track/", views.case_track, name="track-form"),
    path("track/<str:code>/", views.case_track, name="track"),
    path("report/<slug:scheme_key>/<slug:code>/", views.case_public_report, name="report"),
]

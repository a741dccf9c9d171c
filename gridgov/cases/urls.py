from django.urls import path, re_path

from gridgov.cases import page_views, views

NUMBER = r"(?P<number>[0-9]{8}-[0-9]{1,18})"

app_name = "cases"
urlpatterns = [
    path("", page_views.case_list, name="list"),
    path("queue/", page_views.case_queue, name="queue"),
    path("track/", views.case_track, name="track-form"),
    path("track/<str:code>/", views.case_track, name="track"),
    path("report/<slug:scheme_key>/<slug:code>/", views.case_public_report, name="report"),
    re_path(rf"^{NUMBER}/$", page_views.case_detail, name="detail"),
    re_path(rf"^{NUMBER}/act/(?P<action>[a-z_]{{1,30}})/$", page_views.case_act, name="act"),
    re_path(rf"^{NUMBER}/attachments/(?P<att_id>[0-9]{{1,18}})/$", page_views.case_attachment, name="attachment"),
    re_path(rf"^{NUMBER}/reporter/$", page_views.case_reveal, name="reveal"),
]

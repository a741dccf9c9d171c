from django.urls import re_path

from gridgov.integrations import views

app_name = "feed"
urlpatterns = [
    re_path(r"^(?P<number>[0-9]{8}-[0-9]{1,18})/publication/$", views.case_publication, name="publication"),
]

from django.urls import path

from gridgov.cases import inbox_views as views

app_name = "inbox"
urlpatterns = [
    path("", views.index, name="index"),
]

"""Pages of base data (login required): /people/..."""

app_name = "people"

urlpatterns: list = []

"""Public pages: the home page and the cell cards (no login)."""

from django.urls import path

from gridgov.territory import views

app_name = "territory"

# Codes are letters, digits, '-' and '_' (see codes.FREE_CODE and the national / sequence codes).
urlpatterns = [
    path("", views.home, name="home"),
    path("cells/<slug:scheme_key>/<slug:code>/", views.cell_card, name="cell-card"),
    path("cells/<slug:scheme_key>/<slug:code>/card/", views.cell_card_print, name="cell-card-print"),
    path("cells/<slug:scheme_key>/<slug:code>/qr.svg", views.cell_qr_svg, name="cell-qr"),
]

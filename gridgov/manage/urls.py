"""Management pages (/manage/, namespace "manage"): each domain keeps its pages, all routed from here."""

from django.urls import path

from gridgov.accounts import views as accounts_views
from gridgov.catalogue import views as catalogue_views
from gridgov.manage import views
from gridgov.territory import manage_views as territory_views

app_name = "manage"
urlpatterns = [
    path("", views.index, name="index"),
    path("imports/", views.imports, name="imports"),
    # the territory tree, its map, the grid-map import
    path("territory/", territory_views.territory, name="territory"),
    path("territory/search/", territory_views.territory_search, name="territory_search"),
    path("territory/<int:node_id>/", territory_views.territory, name="territory_node"),
    path("territory/<int:node_id>/children/", territory_views.territory_children, name="territory_children"),
    path("territory/<int:node_id>/map.json", territory_views.territory_map, name="territory_map"),
    path("territory/import/", territory_views.gridmap_import, name="gridmap_import"),
    path("territory/import/<slug:token>/", territory_views.gridmap_report, name="gridmap_report"),
    path("territory/import/<slug:token>/confirm/", territory_views.gridmap_confirm, name="gridmap_confirm"),
    path("territory/import/<slug:token>/rejected/", territory_views.gridmap_rejected, name="gridmap_rejected"),
    # people in charge
    path("people/", accounts_views.people_in_charge, name="people_in_charge"),
    path("people/add/<int:node_id>/", accounts_views.assignment_add, name="assignment_add"),
    path("people/<int:pk>/end/", accounts_views.assignment_end, name="assignment_end"),
    # the matter catalogue, duty lists, admission requests
    path("catalogue/", catalogue_views.catalogue, name="catalogue"),
    path("catalogue/workbook/", catalogue_views.catalogue_workbook, name="catalogue_workbook"),
    path("catalogue/import/", catalogue_views.catalogue_import, name="catalogue_import"),
    path("catalogue/import/<slug:token>/", catalogue_views.catalogue_import_result, name="catalogue_import_result"),
    path("catalogue/import/<slug:token>/confirm/", catalogue_views.catalogue_import_confirm,
         name="catalogue_import_confirm"),
    path("catalogue/lists/", catalogue_views.duty_lists, name="duty_lists"),
    path("catalogue/lists/<int:pk>/", catalogue_views.duty_list, name="duty_list"),
    path("catalogue/admissions/", catalogue_views.admissions, name="admissions"),
    path("catalogue/admissions/apply/", catalogue_views.admission_apply, name="admission_apply"),
    path("catalogue/admissions/<int:pk>/", catalogue_views.admission_detail, name="admission"),
    path("catalogue/admissions/<int:pk>/decide/", catalogue_views.admission_decide, name="admission_decide"),
    path("catalogue/admissions/<int:pk>/withdraw/", catalogue_views.admission_withdraw, name="admission_withdraw"),
]

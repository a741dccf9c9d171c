from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gridgov.core.api_docs import ApiDocsPermission

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("gridgov.accounts.auth_urls")),  # login, logout, account pages; also /admin/login/
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[ApiDocsPermission]), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[ApiDocsPermission]),
         name="api-docs"),
    path("api/territory/", include("gridgov.territory.api_urls")),
    path("api/accounts/", include("gridgov.accounts.api_urls")),
    path("api/people/", include("gridgov.people.api_urls")),
    path("api/cases/", include("gridgov.cases.api_urls")),
    path("api/catalogue/", include("gridgov.catalogue.api_urls")),
    path("open311/v2/", include("gridgov.integrations.open311_urls")),
    path("feed/", include("gridgov.integrations.urls")),
    path("people/", include("gridgov.people.urls")),
    path("cases/", include("gridgov.cases.urls")),
    path("centre/", include("gridgov.dashboard.centre_urls")),
    path("dashboard/", include("gridgov.dashboard.urls")),
    path("m/", include("gridgov.cases.field_urls")),
    path("inbox/", include("gridgov.cases.inbox_urls")),
    path("manage/", include("gridgov.manage.urls")),
    path("", include("gridgov.territory.urls")),
]
handler404 = "gridgov.core.views.not_found"

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

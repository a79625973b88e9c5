"""URL map: staff UI at /, Django admin at /admin/, the API under /api/v1/ (paths without trailing slash)."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm_project import views

api_v1 = [
    path("", include("accounts.api.urls")),
    # Before customers: `customers/success-tasks` must never be read as a customer id.
    path("", include("success_tasks.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("contracts.api.urls")),
    path("", include("service_records.api.urls")),
    path("", include("communications.api.urls")),
    path("", include("health.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("privacy.api.urls")),
    path("", include("analytics.api.urls")),
    path("", include("webhooks.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: the page needs no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ answers the envelope, whatever DEBUG says (and whatever the method: an API
    # client with a bearer token has no CSRF cookie, so the CSRF check would answer 403 before the 404).
    re_path(r"^.*$", csrf_exempt(views.page_not_found)),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("contracts/", include("contracts.urls")),
    path("service/", include("service_records.urls")),
    path("communications/", include("communications.urls")),
    path("health/", include("health.urls")),
    path("tasks/", include("success_tasks.urls")),
    path("portal/", include("portal.urls")),
    path("segments/", include("segments.urls")),
    path("privacy/", include("privacy.urls")),
    path("analytics/", include("analytics.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler400 = "crm_project.views.bad_request"
handler403 = "crm_project.views.permission_denied"
handler404 = "crm_project.views.page_not_found"
handler500 = "crm_project.views.server_error"

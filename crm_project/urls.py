"""URL map: staff UI at /, Django admin at /admin/, the API under /api/v1/ (paths without trailing slash)."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm_project import views

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("contracts.api.urls")),
    path("", include("communications.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ answers the envelope, whatever DEBUG says.
    re_path(r"^.*$", views.page_not_found),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("contracts/", include("contracts.urls")),
    path("communications/", include("communications.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler400 = "crm_project.views.bad_request"
handler403 = "crm_project.views.permission_denied"
handler404 = "crm_project.views.page_not_found"
handler500 = "crm_project.views.server_error"

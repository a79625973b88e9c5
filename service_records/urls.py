from django.urls import path

from service_records import views

app_name = "service_records"

urlpatterns = [
    path("", views.quality, name="quality"),
    path("records/<int:pk>/", views.record_detail, name="record_detail"),
    path("records/<int:pk>/edit/", views.record_edit, name="record_edit"),
    path("records/<int:pk>/rate/", views.record_rate, name="record_rate"),
    path("customers/<int:customer_pk>/new/", views.record_create, name="record_create"),
    path("customers/<int:customer_pk>/import/", views.record_import, name="record_import"),
    path("customers/<int:customer_pk>/nps/", views.nps_create, name="nps_create"),
    path("customers/<int:customer_pk>/reports/", views.report_archive, name="report_archive"),
    path("customers/<int:customer_pk>/reports/new/", views.report_generate, name="report_generate"),
    path("customers/<int:customer_pk>/reports/<int:rid>/<str:kind>/", views.report_download, name="report_download"),
]

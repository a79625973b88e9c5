from django.urls import path

from service_records.api import views

urlpatterns = [
    path(
        "customers/<int:customer_id>/service-records",
        views.CustomerServiceRecordsView.as_view(),
        name="customer_service_records",
    ),
    path("service-records/<int:record_id>", views.ServiceRecordDetailView.as_view(), name="service_record_detail"),
    path(
        "customers/<int:customer_id>/service-stats",
        views.CustomerServiceStatsView.as_view(),
        name="customer_service_stats",
    ),
    path(
        "contracts/<int:contract_id>/service-stats",
        views.ContractServiceStatsView.as_view(),
        name="contract_service_stats",
    ),
    path("service-stats", views.TenantServiceStatsView.as_view(), name="tenant_service_stats"),
    path("customers/<int:customer_id>/reports", views.CustomerReportsView.as_view(), name="customer_reports"),
    path(
        "customers/<int:customer_id>/reports/<int:report_id>",
        views.CustomerReportDetailView.as_view(),
        name="customer_report_detail",
    ),
    path(
        "customers/<int:customer_id>/reports/<int:report_id>/file",
        views.CustomerReportFileView.as_view(),
        name="customer_report_file",
    ),
    path("customers/<int:customer_id>/nps-responses", views.CustomerNpsView.as_view(), name="customer_nps"),
    path("integrations/tickets", views.IntegrationTicketsView.as_view(), name="integration_tickets"),
]

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("kpis/", views.kpi_dashboard, name="kpi_dashboard"),
    path("kpis/export.xlsx", views.kpi_export_xlsx, name="kpi_export_xlsx"),
    path("kpis/export.pdf", views.kpi_export_pdf, name="kpi_export_pdf"),
    path("grading/", views.suggestion_list, name="suggestion_list"),
    path("grading/<int:pk>/accept", views.suggestion_accept, name="suggestion_accept"),
    path("grading/<int:pk>/reject", views.suggestion_reject, name="suggestion_reject"),
    path("data-quality/", views.data_quality, name="data_quality"),
    path("data-quality/contacts/<int:pk>/mark", views.contact_mark, name="contact_mark"),
    path("data-quality/customers/<int:pk>/manager", views.manager_fill, name="manager_fill"),
]

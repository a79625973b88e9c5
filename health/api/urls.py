from django.urls import path

from health.api import views

urlpatterns = [
    path(
        "customers/<int:customer_id>/health-score/calculate",
        views.HealthCalculateView.as_view(),
        name="health_calculate",
    ),
    path("customers/<int:customer_id>/health-score/trend", views.HealthTrendView.as_view(), name="health_trend"),
    path("customers/<int:customer_id>/analysis/value", views.ValueAnalysisView.as_view(), name="value_analysis"),
    path(
        "contracts/<int:contract_id>/renewal-probability",
        views.RenewalProbabilityView.as_view(),
        name="contract_renewal_probability",
    ),
    path("integrations/usage-events", views.UsageEventsView.as_view(), name="usage_events"),
]

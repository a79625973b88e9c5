from django.urls import path

from analytics.api import views

urlpatterns = [
    path("level-suggestions", views.SuggestionListView.as_view(), name="level_suggestion_list"),
    path(
        "level-suggestions/<int:suggestion_id>/accept",
        views.SuggestionAcceptView.as_view(),
        name="level_suggestion_accept",
    ),
    path(
        "level-suggestions/<int:suggestion_id>/reject",
        views.SuggestionRejectView.as_view(),
        name="level_suggestion_reject",
    ),
    path("customers/<int:customer_id>/decision-chain", views.DecisionChainView.as_view(), name="decision_chain"),
    path("customers/<int:customer_id>/data-quality", views.CustomerQualityView.as_view(), name="customer_data_quality"),
    path("analytics/kpis", views.KpiView.as_view(), name="kpis"),
]

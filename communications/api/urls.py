from django.urls import path

from communications.api import views

urlpatterns = [
    path(
        "customers/<int:customer_id>/communications",
        views.CustomerCommunicationsView.as_view(),
        name="customer_communications",
    ),
    path(
        "customers/<int:customer_id>/communications/bulk",
        views.CustomerCommunicationsBulkView.as_view(),
        name="customer_communications_bulk",
    ),
    path("communications/analyze", views.AnalyzeView.as_view(), name="communication_analyze"),
    path("communications/<int:communication_id>", views.CommunicationDetailView.as_view(), name="communication_detail"),
    path(
        "communications/<int:communication_id>/sentiment",
        views.CommunicationSentimentView.as_view(),
        name="communication_sentiment",
    ),
]

from django.urls import path

from privacy.api import views

urlpatterns = [
    path("privacy/requests", views.RequestListCreateView.as_view(), name="privacy_requests"),
    path("privacy/requests/<int:request_id>", views.RequestDetailView.as_view(), name="privacy_request_detail"),
    path("privacy/requests/<int:request_id>/package", views.RequestPackageView.as_view(), name="privacy_package"),
]

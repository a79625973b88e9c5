from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("requests/", views.request_list, name="request_list"),
    path("requests/<int:request_id>/package/", views.request_package, name="request_package"),
    path("retention/", views.retention, name="retention"),
]

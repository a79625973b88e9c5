from django.urls import path

from segments import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="segment_list"),
    path("new", views.segment_create, name="segment_create"),
    path("<int:pk>/", views.segment_detail, name="segment_detail"),
    path("<int:pk>/edit", views.segment_edit, name="segment_edit"),
    path("<int:pk>/evaluate", views.segment_evaluate, name="segment_evaluate"),
    path("<int:pk>/export", views.segment_export, name="segment_export"),
    path("tag-suggestions/<int:pk>/accept", views.suggestion_accept, name="suggestion_accept"),
    path("tag-suggestions/<int:pk>/dismiss", views.suggestion_dismiss, name="suggestion_dismiss"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/launch", views.campaign_launch, name="campaign_launch"),
    path("campaigns/<int:pk>/attribute", views.campaign_attribute, name="campaign_attribute"),
    path("campaigns/<int:pk>/export", views.campaign_export, name="campaign_export"),
]

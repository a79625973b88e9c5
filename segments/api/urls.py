from django.urls import path

from segments.api import views

urlpatterns = [
    path("segments", views.SegmentListCreateView.as_view(), name="segment_list"),
    path("segments/fields", views.SegmentFieldsView.as_view(), name="segment_fields"),
    path("segments/rfm", views.RfmOverviewView.as_view(), name="segment_rfm"),
    path("segments/<int:segment_id>", views.SegmentDetailView.as_view(), name="segment_detail"),
    path("segments/<int:segment_id>/members", views.SegmentMembersView.as_view(), name="segment_members"),
    path("segments/<int:segment_id>/evaluate", views.SegmentEvaluateView.as_view(), name="segment_evaluate"),
    path("segments/<int:segment_id>/history", views.SegmentHistoryView.as_view(), name="segment_history"),
    path(
        "customers/<int:customer_id>/tag-suggestions",
        views.CustomerTagSuggestionsView.as_view(),
        name="customer_tag_suggestions",
    ),
    path(
        "tag-suggestions/<int:suggestion_id>/accept",
        views.TagSuggestionAcceptView.as_view(),
        name="tag_suggestion_accept",
    ),
    path(
        "tag-suggestions/<int:suggestion_id>/dismiss",
        views.TagSuggestionDismissView.as_view(),
        name="tag_suggestion_dismiss",
    ),
    path("campaigns", views.CampaignListCreateView.as_view(), name="campaign_list"),
    path("campaigns/<int:campaign_id>", views.CampaignDetailView.as_view(), name="campaign_detail"),
    path("campaigns/<int:campaign_id>/launch", views.CampaignLaunchView.as_view(), name="campaign_launch"),
    path("campaigns/<int:campaign_id>/members", views.CampaignMembersView.as_view(), name="campaign_members"),
    path("campaigns/<int:campaign_id>/results", views.CampaignResultsView.as_view(), name="campaign_results"),
]

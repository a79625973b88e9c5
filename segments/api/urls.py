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
]

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
]

from django.urls import path

from communications import views

app_name = "communications"

urlpatterns = [
    path("customers/<int:pk>/log/", views.communication_log, name="communication_log"),
    path("customers/<int:pk>/list/", views.customer_list, name="customer_list"),
    path("customers/<int:pk>/timeline/", views.customer_timeline_page, name="customer_timeline"),
    path("<int:pk>/", views.communication_detail, name="communication_detail"),
    path("<int:pk>/edit/", views.communication_edit, name="communication_edit"),
    path("<int:pk>/delete/", views.communication_delete, name="communication_delete"),
    path("<int:pk>/sentiment/", views.communication_sentiment, name="communication_sentiment"),
    path("follow-ups/<int:pk>/done/", views.follow_up_done, name="follow_up_done"),
]

from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhooks/subscriptions", views.SubscriptionListView.as_view(), name="webhook_subscription_list"),
    path(
        "webhooks/subscriptions/<int:subscription_id>",
        views.SubscriptionDetailView.as_view(),
        name="webhook_subscription_detail",
    ),
    path("webhooks/deliveries", views.DeliveryListView.as_view(), name="webhook_delivery_list"),
    path("webhooks/deliveries/<int:delivery_id>", views.DeliveryDetailView.as_view(), name="webhook_delivery_detail"),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay",
        views.DeliveryReplayView.as_view(),
        name="webhook_delivery_replay",
    ),
]

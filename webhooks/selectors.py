"""Reads of the webhooks app (the active tenant's rows only, through the scoped managers)."""

from __future__ import annotations

from webhooks.models import CircuitBreaker, WebhookDelivery, WebhookSubscription


def subscriptions():
    return WebhookSubscription.objects.order_by("name", "pk")


def subscription_get(pk) -> WebhookSubscription | None:
    return WebhookSubscription.objects.filter(pk=pk).first()


def deliveries(*, status: str = "", event_type: str = "", subscription_id=None):
    queryset = WebhookDelivery.objects.select_related("subscription").order_by("-created_at", "-pk")
    if status:
        queryset = queryset.filter(status=status)
    if event_type:
        queryset = queryset.filter(event_type=event_type)
    if subscription_id:
        queryset = queryset.filter(subscription_id=subscription_id)
    return queryset


def delivery_get(pk) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("subscription").filter(pk=pk).first()


def breakers():
    return CircuitBreaker.objects.order_by("target")

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm_project.api.mixins import RefuseReadOnlyMixin
from webhooks.models import DeliveryAttempt, DeliveryStatus, EventType, WebhookDelivery, WebhookSubscription
from webhooks.services import SUBSCRIBABLE


class SubscriptionSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE))

    class Meta:
        model = WebhookSubscription
        fields = ["id", "name", "target_url", "key_id", "event_types", "is_active", "created_at", "updated_at"]
        read_only_fields = ["id", "key_id", "created_at", "updated_at"]


class SubscriptionWriteSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = ("id", "key_id", "secret", "created_at", "updated_at")

    name = serializers.CharField(max_length=100)
    target_url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE), min_length=1, max_length=len(SUBSCRIBABLE)
    )
    is_active = serializers.BooleanField(required=False, default=True)


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text=_("The signing secret, shown only in this answer."))

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "response_code", "duration_ms", "error", "request_headers", "response_body"]


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.ChoiceField(choices=EventType.choices)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event_id", "event_type", "subscription", "source", "target_url", "status", "attempts",
            "response_code", "last_error", "next_attempt_at", "replay_of", "created_at", "finished_at",
        ]  # fmt: skip


class DeliveryDetailSerializer(DeliverySerializer):
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempt_log"]

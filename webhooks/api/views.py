"""`/api/v1/webhooks/...`: subscriptions CRUD, the delivery log (filterable, failures included) and replay."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from crm_project.api.envelope import api_response
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    SubscriptionCreatedSerializer,
    SubscriptionSerializer,
    SubscriptionWriteSerializer,
)
from webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookSubscription


def _service_errors(call):
    try:
        return call()
    except DjangoValidationError as exc:
        raise ValidationError(getattr(exc, "message_dict", {"non_field_errors": exc.messages})) from None


class _Base(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    filter_backends: list = []
    pagination_class = None


class SubscriptionListView(_Base):
    required_perms = {"GET": "webhooks.view_webhooksubscription", "POST": "webhooks.add_webhooksubscription"}
    queryset = WebhookSubscription.objects.none()
    serializer_class = SubscriptionSerializer
    pagination_class = PageSizePagination

    @extend_schema(responses={200: SubscriptionSerializer(many=True)}, tags=["webhooks"])
    def get(self, request):
        page = self.paginate_queryset(selectors.subscriptions())
        return self.get_paginated_response(SubscriptionSerializer(page, many=True).data)

    @extend_schema(
        request=SubscriptionWriteSerializer, responses={201: SubscriptionCreatedSerializer}, tags=["webhooks"]
    )
    def post(self, request):
        serializer = SubscriptionWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, secret = _service_errors(
            lambda: services.subscription_create(actor=request.user, data=serializer.validated_data, request=request)
        )
        data = {**SubscriptionSerializer(subscription).data, "secret": secret}
        return api_response(data, status=201, message=_("Subscription created; keep the secret, it is shown once."))


class SubscriptionDetailView(_Base):
    required_perms = {
        "GET": "webhooks.view_webhooksubscription",
        "PUT": "webhooks.change_webhooksubscription",
        "PATCH": "webhooks.change_webhooksubscription",
        "DELETE": "webhooks.delete_webhooksubscription",
    }
    queryset = WebhookSubscription.objects.none()
    serializer_class = SubscriptionSerializer

    def _get(self) -> WebhookSubscription:
        subscription = selectors.subscription_get(self.kwargs["subscription_id"])
        if subscription is None:
            raise NotFound(_("Subscription not found."))
        return subscription

    @extend_schema(responses={200: SubscriptionSerializer}, tags=["webhooks"])
    def get(self, request, subscription_id: int):
        return api_response(SubscriptionSerializer(self._get()).data)

    def _update(self, request, partial: bool):
        subscription = self._get()
        serializer = SubscriptionWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        _service_errors(
            lambda: services.subscription_update(
                actor=request.user, subscription=subscription, data=serializer.validated_data, request=request
            )
        )
        return api_response(SubscriptionSerializer(subscription).data)

    @extend_schema(request=SubscriptionWriteSerializer, responses={200: SubscriptionSerializer}, tags=["webhooks"])
    def put(self, request, subscription_id: int):
        return self._update(request, partial=False)

    @extend_schema(request=SubscriptionWriteSerializer, responses={200: SubscriptionSerializer}, tags=["webhooks"])
    def patch(self, request, subscription_id: int):
        return self._update(request, partial=True)

    @extend_schema(responses={200: OpenApiTypes.NONE}, tags=["webhooks"])
    def delete(self, request, subscription_id: int):
        services.subscription_delete(actor=request.user, subscription=self._get(), request=request)
        return api_response(None, message=_("Subscription deleted."))


class DeliveryListView(_Base):
    required_perms = {"GET": "webhooks.view_webhookdelivery"}
    queryset = WebhookDelivery.objects.none()
    serializer_class = DeliverySerializer
    pagination_class = PageSizePagination

    @extend_schema(
        responses={200: DeliverySerializer(many=True)},
        tags=["webhooks"],
        parameters=[
            OpenApiParameter("status", str, enum=DeliveryStatus.values),
            OpenApiParameter("event_type", str, enum=EventType.values),
            OpenApiParameter("subscription", int),
        ],
    )
    def get(self, request):
        params = request.query_params
        status = params.get("status", "")
        if status and status not in DeliveryStatus.values:
            raise ValidationError({"status": [_("Unknown status.")]})
        event_type = params.get("event_type", "")
        if event_type and event_type not in EventType.values:
            raise ValidationError({"event_type": [_("Unknown event type.")]})
        subscription = params.get("subscription", "")
        if subscription and not subscription.isdigit():
            raise ValidationError({"subscription": [_("Must be a whole number.")]})
        queryset = selectors.deliveries(
            status=status, event_type=event_type, subscription_id=int(subscription) if subscription else None
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryDetailView(_Base):
    required_perms = {"GET": "webhooks.view_webhookdelivery"}
    queryset = WebhookDelivery.objects.none()
    serializer_class = DeliveryDetailSerializer

    @extend_schema(responses={200: DeliveryDetailSerializer}, tags=["webhooks"])
    def get(self, request, delivery_id: int):
        delivery = selectors.delivery_get(delivery_id)
        if delivery is None:
            raise NotFound(_("Delivery not found."))
        return api_response(DeliveryDetailSerializer(delivery).data)


class DeliveryReplayView(_Base):
    required_perms = {"POST": "webhooks.change_webhookdelivery"}
    queryset = WebhookDelivery.objects.none()
    serializer_class = DeliverySerializer

    @extend_schema(request=None, responses={201: DeliverySerializer}, tags=["webhooks"])
    def post(self, request, delivery_id: int):
        delivery = selectors.delivery_get(delivery_id)
        if delivery is None:
            raise NotFound(_("Delivery not found."))
        replay = services.delivery_replay(actor=request.user, delivery=delivery, request=request)
        return api_response(DeliverySerializer(replay).data, status=201, message=_("Delivery queued again."))

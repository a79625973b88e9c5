"""Communication REST endpoints. Reads start from the visibility selector (a communication follows its customer)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from accounts.models import User
from communications import nlp, services
from communications.api.serializers import (
    AnalysisSerializer,
    AnalyzeSerializer,
    BulkCreateSerializer,
    CommunicationSerializer,
    CommunicationWriteSerializer,
    SentimentOverrideSerializer,
)
from communications.choices import FollowUpStatus
from communications.filtersets import CommunicationFilterSet
from communications.models import Communication, FollowUp
from communications.selectors import communication_get_visible, communication_list_queryset
from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.exceptions import ApiError
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from crm_project.api.sorting import SortFilter
from customers.models import CustomerContact
from customers.selectors import customer_get_visible

VIEW = "communications.view_communication"
ADD = "communications.add_communication"
CHANGE = "communications.change_communication"
DELETE = "communications.delete_communication"

SORT_FIELDS = {
    "communication_date": "communication_date",
    "importance": "importance",
    "sentiment": "sentiment",
    "created_at": "created_at",
}


def _validation(field: str, message: str) -> ApiError:
    return ApiError(
        codes.VALIDATION_ERROR,
        f"{field}: {message}",
        status_code=400,
        data={"field": field, "errors": {field: [message]}},
    )


def resolve_references(user: User, customer, data: dict) -> dict:
    """contact_id / staff_id as objects; a contact of another customer (or none visible) is a 400 naming it."""
    data = dict(data)
    if "contact_id" in data:
        contact_id = data.pop("contact_id")
        contact = None
        if contact_id is not None:
            contact = CustomerContact.objects.filter(pk=contact_id).first()
            if contact is None or contact.customer_id != customer.pk:
                raise _validation("contact_id", _("The contact belongs to another customer."))
        data["contact"] = contact
    if "staff_id" in data:
        staff = User.objects.filter(pk=data.pop("staff_id"), tenant=user.tenant, is_active=True).first()
        if staff is None:
            raise _validation("staff_id", _("Choose an active user of your organisation."))
        data["staff"] = staff
    return data


def due_dates(communications) -> dict[int, object]:
    ids = [c.pk for c in communications]
    rows = FollowUp.objects.filter(communication_id__in=ids, status=FollowUpStatus.OPEN)
    return dict(rows.values_list("communication_id", "due_date"))


class CommunicationAPIView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": VIEW, "POST": ADD, "PUT": CHANGE, "PATCH": CHANGE, "DELETE": DELETE}
    filter_backends: list = []
    pagination_class = None
    queryset = Communication.objects.none()  # for the schema generator

    def get_communication(self) -> Communication:
        communication = communication_get_visible(self.request.user, self.kwargs["communication_id"])
        if communication is None:
            raise NotFound(_("Communication not found."))
        return communication

    def ok(self, communication: Communication, message: str = "", status: int = 200):
        data = CommunicationSerializer(communication, context={"due": due_dates([communication])}).data
        return api_response(data, message=message, status=status)


class CustomerCommunicationsView(CommunicationAPIView):
    """`GET /customers/{id}/communications` (filters: communication_type, direction, sentiment, importance,
    date_from, date_to, q; sort) and `POST` to log one (analysed at once)."""

    not_found_code = codes.CUSTOMER_NOT_FOUND
    filter_backends = [DjangoFilterBackend, SortFilter]
    filterset_class = CommunicationFilterSet
    sort_fields = SORT_FIELDS
    default_sort = ["-communication_date"]
    pagination_class = PageSizePagination

    def get_customer(self):
        customer = customer_get_visible(self.request.user, self.kwargs["customer_id"])
        if customer is None:
            raise NotFound(_("Customer not found."))
        return customer

    def get_queryset(self):
        return communication_list_queryset(self.request.user).filter(customer=self.get_customer())

    @extend_schema(responses={200: CommunicationSerializer(many=True)}, tags=["communications"])
    def get(self, request, customer_id):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            CommunicationSerializer(page, many=True, context={"due": due_dates(page)}).data
        )

    @extend_schema(
        request=CommunicationWriteSerializer,
        responses={201: CommunicationSerializer},
        tags=["communications"],
        filters=False,
    )
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = CommunicationWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = resolve_references(request.user, customer, serializer.validated_data)
        communication = services.communication_create(actor=request.user, customer=customer, data=data, request=request)
        return self.ok(communication_get_visible(request.user, communication.pk), _("Communication logged"), status=201)


class CustomerCommunicationsBulkView(CustomerCommunicationsView):
    """`POST /customers/{id}/communications/bulk` with `{"items": [...]}` (≤ 500): stored at once, analysed in the
    background."""

    filter_backends: list = []
    pagination_class = None
    http_method_names = ["post", "options"]  # the list GET of the parent view is not part of this route
    required_perms = {"POST": ADD}

    @extend_schema(
        request=BulkCreateSerializer, responses={201: CommunicationSerializer(many=True)}, tags=["communications"]
    )
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = BulkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = []
        for index, item in enumerate(serializer.validated_data["items"]):
            try:
                items.append(resolve_references(request.user, customer, item))
            except ApiError as exc:
                field = f"items[{index}].{exc.data['field']}"
                raise _validation(field, exc.data["errors"][exc.data["field"]][0]) from None
        created = services.communications_bulk_create(
            actor=request.user, customer=customer, items=items, request=request
        )
        data = CommunicationSerializer(created, many=True, context={"due": due_dates(created)}).data
        return api_response(data, message=_("Communications logged; analysis runs in the background"), status=201)


class CommunicationDetailView(CommunicationAPIView):
    """`GET/PUT/PATCH/DELETE /communications/{id}` (delete is soft)."""

    @extend_schema(responses={200: CommunicationSerializer}, tags=["communications"])
    def get(self, request, communication_id):
        return self.ok(self.get_communication())

    def _update(self, request, partial):
        communication = self.get_communication()
        serializer = CommunicationWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = resolve_references(request.user, communication.customer, serializer.validated_data)
        services.communication_update(actor=request.user, communication=communication, data=data, request=request)
        return self.ok(communication_get_visible(request.user, communication.pk), _("Communication updated"))

    @extend_schema(
        request=CommunicationWriteSerializer, responses={200: CommunicationSerializer}, tags=["communications"]
    )
    def put(self, request, communication_id):
        return self._update(request, partial=False)

    @extend_schema(
        request=CommunicationWriteSerializer, responses={200: CommunicationSerializer}, tags=["communications"]
    )
    def patch(self, request, communication_id):
        return self._update(request, partial=True)

    @extend_schema(responses={200: None}, tags=["communications"])
    def delete(self, request, communication_id):
        services.communication_delete(actor=request.user, communication=self.get_communication(), request=request)
        return api_response(None, message=_("Communication deleted"))


class CommunicationSentimentView(CommunicationAPIView):
    """`PUT /communications/{id}/sentiment` with `{"sentiment": 1|2|3|null}`: the staff override (null resets)."""

    required_perms = {"PUT": CHANGE}

    @extend_schema(
        request=SentimentOverrideSerializer, responses={200: CommunicationSerializer}, tags=["communications"]
    )
    def put(self, request, communication_id):
        communication = self.get_communication()
        serializer = SentimentOverrideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.communication_sentiment_override(
            actor=request.user,
            communication=communication,
            sentiment=serializer.validated_data["sentiment"],
            request=request,
        )
        return self.ok(communication_get_visible(request.user, communication.pk), _("Sentiment updated"))


class AnalyzeView(CommunicationAPIView):
    """`POST /communications/analyze` with `{"text": "..."}`: the analysis without storing anything."""

    required_perms = {"POST": VIEW}

    @extend_schema(request=AnalyzeSerializer, responses={200: AnalysisSerializer}, tags=["communications"])
    def post(self, request):
        serializer = AnalyzeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = nlp.analyze(serializer.validated_data["text"])
        return api_response(AnalysisSerializer(result.as_dict()).data)

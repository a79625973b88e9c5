"""Analytics REST endpoints: level suggestions (list, accept, reject), a customer's decision chain and data quality,
the KPI dashboard."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from analytics import decision, grading, kpis, quality, selectors
from analytics.api.serializers import (
    CustomerQualitySerializer,
    DecisionChainSerializer,
    KpiDashboardSerializer,
    LevelSuggestionSerializer,
    RejectSerializer,
)
from analytics.models import LevelSuggestion
from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from customers.selectors import customer_get_visible, customers_visible_to

VIEW = "analytics.view_levelsuggestion"
DECIDE = "analytics.decide_levelsuggestion"


class AnalyticsAPIView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    not_found_code = codes.CUSTOMER_NOT_FOUND
    filter_backends: list = []
    pagination_class = None
    queryset = LevelSuggestion.objects.none()

    def get_suggestion(self) -> LevelSuggestion:
        suggestion = selectors.suggestion_get_visible(self.request.user, self.kwargs["suggestion_id"])
        if suggestion is None:
            raise NotFound(_("Suggestion not found."))
        return suggestion

    def get_customer(self):
        customer = customer_get_visible(self.request.user, self.kwargs["customer_id"])
        if customer is None:
            raise NotFound(_("Customer not found."))
        return customer


def _service_errors(call):
    try:
        return call()
    except DjangoValidationError as exc:
        raise ValidationError(getattr(exc, "message_dict", {"non_field_errors": exc.messages})) from None
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None


class SuggestionListView(AnalyticsAPIView):
    """`GET /level-suggestions`: the pending suggestions of the customers the caller sees (page/size)."""

    required_perms = {"GET": VIEW}
    pagination_class = PageSizePagination

    @extend_schema(responses={200: LevelSuggestionSerializer(many=True)}, tags=["analytics"])
    def get(self, request):
        page = self.paginate_queryset(selectors.pending_suggestions(request.user))
        return self.get_paginated_response(
            LevelSuggestionSerializer(page, many=True, context={"request": request}).data
        )


class SuggestionAcceptView(AnalyticsAPIView):
    """`POST /level-suggestions/{suggestion_id}/accept`: the customer's level becomes the suggested one."""

    required_perms = {"POST": DECIDE}

    @extend_schema(request=None, responses={200: LevelSuggestionSerializer}, tags=["analytics"])
    def post(self, request, suggestion_id):
        suggestion = self.get_suggestion()
        suggestion = _service_errors(
            lambda: grading.suggestion_accept(actor=request.user, suggestion=suggestion, request=request)
        )
        return api_response(
            LevelSuggestionSerializer(suggestion, context={"request": request}).data, message=_("Suggestion accepted")
        )


class SuggestionRejectView(AnalyticsAPIView):
    """`POST /level-suggestions/{suggestion_id}/reject` with an optional `note`."""

    required_perms = {"POST": DECIDE}

    @extend_schema(request=RejectSerializer, responses={200: LevelSuggestionSerializer}, tags=["analytics"])
    def post(self, request, suggestion_id):
        suggestion = self.get_suggestion()
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        suggestion = _service_errors(
            lambda: grading.suggestion_reject(
                actor=request.user, suggestion=suggestion, note=body.validated_data["note"], request=request
            )
        )
        return api_response(
            LevelSuggestionSerializer(suggestion, context={"request": request}).data, message=_("Suggestion rejected")
        )


class DecisionChainView(AnalyticsAPIView):
    """`GET /customers/{customer_id}/decision-chain`: contacts by role and the gaps."""

    required_perms = {"GET": VIEW}

    @extend_schema(responses={200: DecisionChainSerializer}, tags=["analytics"])
    def get(self, request, customer_id):
        return api_response(DecisionChainSerializer(decision.decision_chain(self.get_customer())).data)


class CustomerQualityView(AnalyticsAPIView):
    """`GET /customers/{customer_id}/data-quality`: completeness score, missing items, contact accuracy."""

    required_perms = {"GET": "analytics.view_data_quality"}

    @extend_schema(responses={200: CustomerQualitySerializer}, tags=["analytics"])
    def get(self, request, customer_id):
        customer = self.get_customer()
        row = quality.customers_quality(customers_visible_to(request.user).filter(pk=customer.pk))[0]
        data = {
            "customer_id": row.customer_id,
            "score": row.score,
            "missing": row.missing,
            "contacts": [
                {
                    "contact_id": c.contact_id,
                    "name": c.name,
                    "email_problem": c.email_problem,
                    "mobile_problem": c.mobile_problem,
                    "accurate": c.accurate,
                }
                for c in row.contacts
            ],
        }
        return api_response(CustomerQualitySerializer(data).data)


class KpiView(AnalyticsAPIView):
    """`GET /analytics/kpis?period=12m&csm=&team=&segment=`: every indicator per month and for the period."""

    required_perms = {"GET": "analytics.view_kpi_dashboard"}

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=list(kpis.PERIODS), required=False),
            OpenApiParameter("csm", int, required=False),
            OpenApiParameter("team", int, required=False),
            OpenApiParameter("segment", int, required=False),
        ],
        responses={200: KpiDashboardSerializer},
        tags=["analytics"],
    )
    def get(self, request):
        period = request.query_params.get("period") or kpis.DEFAULT_PERIOD
        if period not in kpis.PERIODS:
            raise ValidationError({"period": [_("Choose one of %(p)s.") % {"p": ", ".join(kpis.PERIODS)}]})
        customers, _applied = selectors.scoped_customers(
            request.user,
            csm=request.query_params.get("csm"),
            team=request.query_params.get("team"),
            segment=request.query_params.get("segment"),
        )
        board = kpis.dashboard(customers, period=period)
        data = {
            "period": board["period"],
            "start": board["start"],
            "end": board["end"],
            "months": [m["month"] for m in board["months"]],
            "indicators": [{**i, "label": str(i["label"])} for i in board["indicators"]],
        }
        return api_response(KpiDashboardSerializer(data).data)

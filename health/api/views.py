"""Health REST endpoints (PRD 4.1.2, 4.1.4) and the usage-event feed for the tenant's product."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from accounts.integration import IntegrationSignatureAuthentication
from contracts import services as contract_services
from contracts.selectors import contracts_visible_to
from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.exceptions import ApiError
from crm_project.api.permissions import RolePermission
from customers.models import Customer
from customers.selectors import customer_get_visible
from health import selectors, services
from health.api.serializers import (
    HealthScoreSerializer,
    RenewalProbabilitySerializer,
    TrendSerializer,
    UsageBatchSerializer,
    UsageResultSerializer,
    ValueAnalysisSerializer,
)

VIEW = "health.view_customerhealthscore"
CALCULATE = "health.calculate_health"


def score_payload(customer: Customer, row, day) -> dict:
    if row is None:
        return {
            "customer_id": customer.pk,
            "score_date": day,
            "status": "unknown",
            "overall_score": None,
            "satisfaction_score": None,
            "activity_score": None,
            "financial_score": None,
            "contract_score": None,
            "risk_level": None,
            "churn_probability": None,
            "churn_source": None,
            "churn_model_version": None,
            "churn_drivers": [],
            "data_completeness": 0,
            "factors": {"positive_factors": [], "negative_factors": []},
            "recommendations": [_("Connect the product's usage feed, log tickets and invoices to score this customer")],
        }
    return {
        "customer_id": customer.pk,
        "score_date": row.score_date,
        "status": "scored",
        "overall_score": row.overall_score,
        "satisfaction_score": row.satisfaction_score,
        "activity_score": row.activity_score,
        "financial_score": row.financial_score,
        "contract_score": row.contract_score,
        "risk_level": row.risk_level,
        "churn_probability": row.churn_probability,
        "churn_source": row.churn_source,
        "churn_model_version": row.churn_model_version,
        "churn_drivers": row.churn_drivers,
        "data_completeness": row.data_completeness,
        "factors": {
            "positive_factors": row.factors.get("positive_factors", []),
            "negative_factors": row.factors.get("negative_factors", []),
        },
        "recommendations": row.recommendations,
    }


class CustomerHealthView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    not_found_code = codes.CUSTOMER_NOT_FOUND
    pagination_class = None
    filter_backends: list = []

    def get_customer(self) -> Customer:
        customer = customer_get_visible(self.request.user, self.kwargs["customer_id"])
        if customer is None:
            raise NotFound(_("Customer not found."))
        return customer


class HealthCalculateView(CustomerHealthView):
    """`POST /customers/{customer_id}/health-score/calculate`: score the customer now (replaces today's row)."""

    required_perms = {"POST": CALCULATE}

    @extend_schema(request=None, responses={200: HealthScoreSerializer}, tags=["health"])
    def post(self, request, customer_id):
        customer = self.get_customer()
        day = timezone.localdate()
        result = services.customer_score_calculate(actor=request.user, customer=customer, day=day, request=request)
        data = HealthScoreSerializer(score_payload(customer, result["row"], day)).data
        return api_response(data, message=_("Health score calculated"))


class HealthTrendView(CustomerHealthView):
    """`GET /customers/{customer_id}/health-score/trend?period=1m|3m|6m|12m` (default 6m)."""

    required_perms = {"GET": VIEW}

    @extend_schema(
        parameters=[OpenApiParameter("period", OpenApiTypes.STR, enum=["1m", "3m", "6m", "12m"], required=False)],
        responses={200: TrendSerializer},
        tags=["health"],
    )
    def get(self, request, customer_id):
        customer = self.get_customer()
        period = request.query_params.get("period", "6m")
        if period not in selectors.PERIOD_DAYS:
            raise ApiError(
                codes.VALIDATION_ERROR,
                _("period: choose 1m, 3m, 6m or 12m."),
                status_code=400,
                data={"field": "period", "errors": {"period": [_("Choose 1m, 3m, 6m or 12m.")]}},
            )
        points = selectors.trend_points(customer, period)
        data = {
            "customer_id": customer.pk,
            "period": period,
            "trend_data": points,
            "trend_analysis": selectors.trend_analysis(points),
        }
        return api_response(TrendSerializer(data).data, message=_("Query succeeded"))


class ValueAnalysisView(CustomerHealthView):
    """`GET /customers/{customer_id}/analysis/value` (PRD 4.1.4)."""

    required_perms = {"GET": VIEW}

    @extend_schema(responses={200: ValueAnalysisSerializer}, tags=["health"])
    def get(self, request, customer_id):
        customer = self.get_customer()
        return api_response(selectors.value_analysis(customer), message=_("Analysis succeeded"))


class RenewalProbabilityView(GenericAPIView):
    """`GET /contracts/{contract_id}/renewal-probability`: 1 - the model's churn probability of the customer, or the
    contracts' rule when no model estimate exists; `source` says which."""

    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": "contracts.view_contract"}
    pagination_class = None
    filter_backends: list = []

    @extend_schema(responses={200: RenewalProbabilitySerializer}, tags=["health"])
    def get(self, request, contract_id):
        contract = (
            contracts_visible_to(request.user)
            .select_related("customer")
            .prefetch_related("invoices")
            .filter(pk=contract_id)
            .first()
        )
        if contract is None:
            raise NotFound(_("Contract not found."))
        estimate = contract_services.renewal_estimate(contract)
        data = {
            "contract_id": contract.pk,
            "customer_id": contract.customer_id,
            "renewal_probability": estimate.probability,
            "source": estimate.source,
            "source_label": str(estimate.source_label),
            "model_version": estimate.model_version,
            "reasons": [str(r) for r in estimate.reasons],
        }
        return api_response(RenewalProbabilitySerializer(data).data, message=_("Query succeeded"))


class UsageEventsView(GenericAPIView):
    """`POST /integrations/usage-events`: the tenant's product sends up to 5,000 usage events per batch.

    Signed with the tenant's integration key (accounts.integration); idempotent on `event_id`."""

    authentication_classes = [IntegrationSignatureAuthentication]
    permission_classes = [IsAuthenticated]
    not_found_code = codes.NOT_FOUND

    @extend_schema(request=UsageBatchSerializer, responses={200: UsageResultSerializer}, tags=["integrations"])
    def post(self, request):
        serializer = UsageBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        events = serializer.validated_data["events"]
        codes_sent = {e["customer_code"] for e in events}
        known = dict(Customer.objects.alive().filter(customer_code__in=codes_sent).values_list("customer_code", "pk"))
        for index, event in enumerate(events):
            if event["customer_code"] not in known:
                raise ApiError(
                    codes.VALIDATION_ERROR,
                    _("events[%(index)d].customer_code: unknown customer.") % {"index": index},
                    status_code=400,
                    data={"field": f"events[{index}].customer_code", "errors": {}},
                )
            event["customer_id"] = known[event["customer_code"]]
        result = services.usage_events_ingest(events=events)
        return api_response(UsageResultSerializer(result).data, message=_("Received"))

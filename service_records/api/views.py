"""Service-record REST endpoints. Reads start from the visibility selector (a ticket follows its customer);
another tenant's or an invisible customer's object answers 404 like a missing id."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from accounts.integration import IntegrationSignatureAuthentication
from contracts.selectors import contracts_visible_to
from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.exceptions import ApiError
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from crm_project.api.sorting import SortFilter
from crm_project.audit import record_export
from customers.models import CustomerContact
from customers.selectors import customers_visible_to
from service_records import selectors, services
from service_records.api.serializers import (
    IngestResultSerializer,
    IntegrationTicketsSerializer,
    NpsSerializer,
    ReportCreateSerializer,
    ReportSerializer,
    ServiceRecordCreateSerializer,
    ServiceRecordSerializer,
    ServiceRecordUpdateSerializer,
    ServiceStatsSerializer,
)
from service_records.choices import PERIODS, ReportStatus
from service_records.filtersets import ServiceRecordFilterSet
from service_records.models import ServiceRecord

VIEW = "service_records.view_servicerecord"
ADD = "service_records.add_servicerecord"
CHANGE = "service_records.change_servicerecord"
RATE = "service_records.rate_servicerecord"
SORT_FIELDS = {
    "opened_at": "opened_at",
    "resolved_at": "resolved_at",
    "priority": "priority",
    "status": "status",
    "category": "category",
    "breach_minutes": "breach_minutes",
    "satisfaction": "satisfaction_overall",
}
PERIOD_PARAM = OpenApiParameter("period", str, enum=list(PERIODS), description="1m, 3m (default), 6m or 12m")


class CustomerScopedView(GenericAPIView):
    """A route under /customers/{id}/: 40001 when the customer is missing or invisible."""

    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": VIEW, "POST": ADD}
    not_found_code = codes.CUSTOMER_NOT_FOUND
    filter_backends: list = []
    pagination_class = None

    def get_customer(self):
        customer_id = self.kwargs["customer_id"]
        # One query: the visibility rule without the contacts and tags the 360° page prefetches.
        customer = (
            customers_visible_to(self.request.user).filter(pk=customer_id).first() if 0 < customer_id < 2**63 else None
        )
        if customer is None:
            raise NotFound(_("Customer not found."))
        return customer


def _period(request) -> str:
    period = request.query_params.get("period") or "3m"
    if period not in PERIODS:
        raise ApiError(
            codes.VALIDATION_ERROR,
            _("period: use one of %(allowed)s.") % {"allowed": ", ".join(PERIODS)},
            status_code=400,
            data={"field": "period", "errors": {"period": [_("Use one of 1m, 3m, 6m, 12m.")]}},
        )
    return period


class CustomerServiceRecordsView(CustomerScopedView):
    """`GET /customers/{id}/service-records` (filters, sort, page/size) and `POST` (a ticket entered by staff)."""

    filter_backends = [DjangoFilterBackend, SortFilter]
    filterset_class = ServiceRecordFilterSet
    queryset = ServiceRecord.objects.none()
    sort_fields = SORT_FIELDS
    default_sort = ["-opened_at", "-id"]
    pagination_class = PageSizePagination

    def get_queryset(self):
        return ServiceRecord.objects.filter(customer=self.get_customer())

    @extend_schema(responses={200: ServiceRecordSerializer(many=True)}, tags=["service records"])
    def get(self, request, customer_id):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ServiceRecordSerializer(page, many=True).data)

    @extend_schema(
        request=ServiceRecordCreateSerializer, responses={201: ServiceRecordSerializer}, tags=["service records"],
        filters=False,
    )  # fmt: skip
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = ServiceRecordCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.record_create(
            actor=request.user, customer=customer, data=dict(serializer.validated_data), request=request
        )
        return api_response(ServiceRecordSerializer(record).data, message=_("Service record created"), status=201)


class ServiceRecordDetailView(GenericAPIView):
    """`GET /service-records/{id}`; `PATCH` the staff-side fields and the ratings."""

    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": VIEW, "PATCH": CHANGE}
    not_found_code = codes.NOT_FOUND
    filter_backends: list = []
    pagination_class = None

    def get_record(self) -> ServiceRecord:
        record = selectors.record_get_visible(self.request.user, self.kwargs["record_id"])
        if record is None:
            raise NotFound(_("Service record not found."))
        return record

    @extend_schema(responses={200: ServiceRecordSerializer}, tags=["service records"])
    def get(self, request, record_id):
        return api_response(ServiceRecordSerializer(self.get_record()).data)

    @extend_schema(
        request=ServiceRecordUpdateSerializer, responses={200: ServiceRecordSerializer}, tags=["service records"]
    )
    def patch(self, request, record_id):
        record = self.get_record()
        serializer = ServiceRecordUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        ratings = data.pop("satisfaction", None)
        if ratings is not None and not request.user.has_perm(RATE):
            raise PermissionDenied(_("You may not enter ratings."))
        if data:
            record = services.record_update(actor=request.user, record=record, data=data, request=request)
        if ratings is not None:
            values = {f"satisfaction_{k}" if k != "comment" else "satisfaction_comment": v for k, v in ratings.items()}
            record = services.rating_set(actor=request.user, record=record, data=values, request=request)
        return api_response(ServiceRecordSerializer(record).data, message=_("Service record updated"))


class CustomerServiceStatsView(CustomerScopedView):
    """`GET /customers/{id}/service-stats?period=1m|3m|6m|12m`: SLA attainment and satisfaction."""

    @extend_schema(parameters=[PERIOD_PARAM], responses={200: ServiceStatsSerializer}, tags=["service records"])
    def get(self, request, customer_id):
        period = _period(request)
        return api_response(selectors.customer_stats(self.get_customer(), period))


class ContractServiceStatsView(GenericAPIView):
    """`GET /contracts/{id}/service-stats?period=...`: the same figures for one contract's tickets."""

    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": VIEW}
    not_found_code = codes.NOT_FOUND
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[PERIOD_PARAM], responses={200: ServiceStatsSerializer}, tags=["service records"])
    def get(self, request, contract_id):
        period = _period(request)
        contract = (
            contracts_visible_to(request.user).filter(pk=contract_id).first() if 0 < contract_id < 2**63 else None
        )
        if contract is None:
            raise NotFound(_("Contract not found."))
        return api_response(selectors.contract_stats(contract, period))


class TenantServiceStatsView(GenericAPIView):
    """`GET /service-stats?period=...`: the figures over every customer the caller sees (from the rollups, kept
    one minute; see selectors.tenant_quality)."""

    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": VIEW}
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[PERIOD_PARAM], responses={200: ServiceStatsSerializer}, tags=["service records"])
    def get(self, request):
        period = _period(request)
        overview = selectors.tenant_quality(request.user, period)
        return api_response({"period": period, "since": overview["since"].isoformat(), **overview["stats"]})


class CustomerReportsView(CustomerScopedView):
    """`GET /customers/{id}/reports` (the archive, newest first) and `POST` (generate one in the background)."""

    required_perms = {"GET": VIEW, "POST": "service_records.add_servicereport"}
    pagination_class = PageSizePagination
    queryset = ServiceRecord.objects.none()

    @extend_schema(responses={200: ReportSerializer(many=True)}, tags=["service records"])
    def get(self, request, customer_id):
        customer = self.get_customer()
        page = self.paginate_queryset(selectors.reports_visible_to(request.user).filter(customer=customer))
        return self.get_paginated_response(ReportSerializer(page, many=True).data)

    @extend_schema(request=ReportCreateSerializer, responses={202: ReportSerializer}, tags=["service records"])
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = services.report_request(
            actor=request.user,
            customer=customer,
            period_start=serializer.validated_data["period_start"],
            period_end=serializer.validated_data["period_end"],
            request=request,
        )
        return api_response(ReportSerializer(report).data, message=_("Report queued"), status=202)


class CustomerReportDetailView(CustomerScopedView):
    """`GET /customers/{id}/reports/{rid}`: status and progress of one report (40001 for the customer, 40400
    for a report that is not this customer's)."""

    def get_report(self):
        customer = self.get_customer()
        report = selectors.report_get_visible(self.request.user, customer, self.kwargs["report_id"])
        if report is None:
            raise ApiError(codes.NOT_FOUND, _("Report not found."), status_code=404)
        return report

    @extend_schema(responses={200: ReportSerializer}, tags=["service records"])
    def get(self, request, customer_id, report_id):
        return api_response(ReportSerializer(self.get_report()).data)


class CustomerReportFileView(CustomerReportDetailView):
    """`GET /customers/{id}/reports/{rid}/file?type=pdf|xlsx`: the file itself (404 until it is ready)."""

    @extend_schema(
        parameters=[OpenApiParameter("type", str, enum=["pdf", "xlsx"])],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        tags=["service records"],
    )
    def get(self, request, customer_id, report_id):
        report = self.get_report()
        kind = request.query_params.get("type") or "pdf"
        if kind not in ("pdf", "xlsx"):
            raise ApiError(codes.VALIDATION_ERROR, _("type: use pdf or xlsx."), status_code=400,
                           data={"field": "type", "errors": {"type": [_("Use pdf or xlsx.")]}})  # fmt: skip
        file = report.pdf_file if kind == "pdf" else report.xlsx_file
        if report.status != ReportStatus.DONE or not file:
            raise ApiError(codes.NOT_FOUND, _("The report file is not ready."), status_code=404)
        response = report_file_response(report, kind)
        record_export(request, "service_report", object_type="service_records.servicereport", report=report.pk,
                      customer=report.customer_id, format=kind)  # fmt: skip
        return response


def report_file_response(report, kind: str) -> FileResponse:
    file = report.pdf_file if kind == "pdf" else report.xlsx_file
    content_type = (
        "application/pdf" if kind == "pdf" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = file.name.rsplit("/", 1)[-1]
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise Http404(_("The report file is missing from the archive.")) from None
    return FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)


class CustomerNpsView(CustomerScopedView):
    """`GET /customers/{id}/nps-responses` and `POST` one contact's answer (0-10 and a reason)."""

    required_perms = {"GET": VIEW, "POST": "service_records.add_npsresponse"}
    pagination_class = PageSizePagination
    queryset = ServiceRecord.objects.none()

    @extend_schema(responses={200: NpsSerializer(many=True)}, tags=["service records"])
    def get(self, request, customer_id):
        customer = self.get_customer()
        page = self.paginate_queryset(selectors.nps_visible_to(request.user).filter(customer=customer))
        return self.get_paginated_response(NpsSerializer(page, many=True).data)

    @extend_schema(request=NpsSerializer, responses={201: NpsSerializer}, tags=["service records"])
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = NpsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact = None
        if data.get("contact_id") is not None:
            contact = CustomerContact.objects.filter(customer=customer, pk=data["contact_id"]).first()
            if contact is None:
                raise ApiError(
                    codes.VALIDATION_ERROR,
                    _("contact_id: unknown contact of this customer."),
                    status_code=400,
                    data={"field": "contact_id", "errors": {"contact_id": [_("Unknown contact.")]}},
                )
        response = services.nps_record(
            actor=request.user,
            customer=customer,
            contact=contact,
            score=data["score"],
            reason=data.get("reason", ""),
            responded_at=data.get("responded_at"),
            request=request,
        )
        return api_response(NpsSerializer(response).data, message=_("NPS answer recorded"), status=201)


class IntegrationTicketsView(GenericAPIView):
    """`POST /integrations/tickets`: the ticket system upserts up to 1,000 tickets by (source_system, external_id).

    Signed with the tenant's integration key (accounts.integration). Invalid tickets are reported in
    `failed` (index, external_id, field, message) and do not stop the valid ones.
    """

    authentication_classes = [IntegrationSignatureAuthentication]
    permission_classes = [IsAuthenticated]
    not_found_code = codes.NOT_FOUND

    @extend_schema(request=IntegrationTicketsSerializer, responses={200: IngestResultSerializer}, tags=["integrations"])
    def post(self, request):
        serializer = IntegrationTicketsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.tickets_ingest(tickets=serializer.validated_data["tickets"], request=request)
        return api_response(result.as_data(), message=_("Received"))

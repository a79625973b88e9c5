"""Contract REST endpoints. Reads start from the visibility selector (a contract follows its customer)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from accounts.integration import IntegrationSignatureAuthentication
from accounts.models import User
from accounts.roles import can_see_contact_details
from accounts.stepup import check_api_step_up, value_differs
from contracts import services
from contracts.api.serializers import (
    ChangeRequestCreateSerializer,
    ChangeRequestSerializer,
    ContractSerializer,
    ContractUpdateSerializer,
    ContractWriteSerializer,
    DecisionSerializer,
    IntegrationPaymentsSerializer,
    InvoiceSerializer,
    MilestoneSerializer,
    PaymentSerializer,
    PreviewResultSerializer,
    PreviewSerializer,
    SignSerializer,
    SlaBindingSerializer,
    TerminateSerializer,
)
from contracts.choices import TicketPriority
from contracts.documents import TemplateRenderError, render_template_text
from contracts.filtersets import ContractFilterSet
from contracts.masking import can_see_amount
from contracts.models import ChangeRequest, Contract, ContractTemplate, Invoice, Milestone
from contracts.selectors import contracts_visible_to
from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.exceptions import ApiError
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from crm_project.api.sorting import SortFilter
from crm_project.audit import CONTRACT_DOCUMENT_VIEWED, record_access
from customers.selectors import customer_get_visible

VIEW = "contracts.view_contract"
CHANGE = "contracts.change_contract"
SIGN = "contracts.sign_contract"

SORT_FIELDS = {
    "end_date": "end_date",
    "start_date": "start_date",
    "contract_code": "contract_code",
    "contract_name": "contract_name",
    "status": "status",
    "created_at": "created_at",
}


def state_conflict(exc: Exception) -> Exception:
    """A service's ContractStateError (wrong contract state, decided change request) as a 409 in the envelope."""
    if isinstance(exc, services.ContractStateError):
        return ApiError(codes.CONFLICT, str(exc), status_code=409, data=exc.data or None)
    return exc


class ContractAPIView(GenericAPIView):
    """Permissions per method, 40005 for rule violations, 409 for illegal transitions, 404 when not visible."""

    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": VIEW, "POST": "contracts.add_contract", "PUT": CHANGE, "PATCH": CHANGE}
    filter_backends: list = []
    pagination_class = None

    def validation_error_code(self, errors: dict) -> int:
        rule_fields = {"contract_amount", "start_date", "end_date", "currency"}
        if any(key.split(".")[-1] in rule_fields for key in errors):
            return codes.CONTRACT_INVALID
        return codes.VALIDATION_ERROR

    def get_contract(self) -> Contract:
        queryset = contracts_visible_to(self.request.user).select_related("customer")
        contract = queryset.filter(pk=self.kwargs["contract_id"]).first()
        if contract is None:
            raise NotFound(_("Contract not found."))
        return contract

    def handle_exception(self, exc):
        return super().handle_exception(state_conflict(exc))

    def ok(self, contract: Contract, message: str = "", status: int = 200):
        return api_response(
            ContractSerializer(contract, context={"request": self.request}).data, message=message, status=status
        )


class ContractListCreateView(ContractAPIView):
    """`GET /contracts` (filters status, customer, contract_type, end_from/end_to, q) and `POST /contracts`."""

    filter_backends = [DjangoFilterBackend, SortFilter]
    filterset_class = ContractFilterSet
    queryset = Contract.objects.none()  # for the schema generator
    sort_fields = SORT_FIELDS
    default_sort = ["end_date"]
    pagination_class = PageSizePagination

    def get_queryset(self):
        return contracts_visible_to(self.request.user)

    @extend_schema(responses={200: ContractSerializer(many=True)}, tags=["contracts"])
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ContractSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        request=ContractWriteSerializer, responses={201: ContractSerializer}, tags=["contracts"], filters=False
    )
    def post(self, request, customer_id=None):
        serializer = ContractWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        target = customer_id or data.pop("customer_id", None)
        data.pop("customer_id", None)
        if target is None:
            raise ApiError(
                codes.VALIDATION_ERROR,
                _("customer_id: This field is required."),
                status_code=400,
                data={"field": "customer_id", "errors": {"customer_id": [_("This field is required.")]}},
            )
        customer = customer_get_visible(request.user, target)
        if customer is None:
            raise ApiError(codes.CUSTOMER_NOT_FOUND, _("Customer not found."), status_code=404)
        contract = services.contract_create(actor=request.user, customer=customer, data=data, request=request)
        return self.ok(contract, _("Contract created"), status=201)


class CustomerContractsView(ContractListCreateView):
    """`GET/POST /customers/{customer_id}/contracts`."""

    not_found_code = codes.CUSTOMER_NOT_FOUND

    def get_queryset(self):
        customer = customer_get_visible(self.request.user, self.kwargs["customer_id"])
        if customer is None:
            raise NotFound(_("Customer not found."))
        return contracts_visible_to(self.request.user).filter(customer=customer)

    @extend_schema(responses={200: ContractSerializer(many=True)}, tags=["contracts"])
    def get(self, request, customer_id):
        return super().get(request)

    @extend_schema(
        request=ContractWriteSerializer, responses={201: ContractSerializer}, tags=["contracts"], filters=False
    )
    def post(self, request, customer_id):
        return super().post(request, customer_id=customer_id)


class ContractDetailView(ContractAPIView):
    """`GET /contracts/{id}`; `PUT/PATCH` while the contract is a draft (409 otherwise)."""

    @extend_schema(responses={200: ContractSerializer}, tags=["contracts"])
    def get(self, request, contract_id):
        return self.ok(self.get_contract())

    def _update(self, request, partial):
        contract = self.get_contract()
        serializer = ContractUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "contract_amount" in data and value_differs(contract.contract_amount, data["contract_amount"]):
            check_api_step_up(request)  # a browser session confirms its second factor again (PRD 7.1)
        contract = services.contract_update(actor=request.user, contract=contract, data=data, request=request)
        return self.ok(contract, _("Contract updated"))

    @extend_schema(request=ContractUpdateSerializer, responses={200: ContractSerializer}, tags=["contracts"])
    def put(self, request, contract_id):
        return self._update(request, partial=False)

    @extend_schema(request=ContractUpdateSerializer, responses={200: ContractSerializer}, tags=["contracts"])
    def patch(self, request, contract_id):
        return self._update(request, partial=True)


class ContractSignView(ContractAPIView):
    required_perms = {"POST": SIGN}

    @extend_schema(request=SignSerializer, responses={200: ContractSerializer}, tags=["contracts"])
    def post(self, request, contract_id):
        serializer = SignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract = services.contract_sign(
            actor=request.user,
            contract=self.get_contract(),
            request=request,
            signed_date=serializer.validated_data.get("signed_date"),
        )
        return self.ok(contract, _("Contract signed"))


class ContractTerminateView(ContractAPIView):
    required_perms = {"POST": SIGN}

    @extend_schema(request=TerminateSerializer, responses={200: ContractSerializer}, tags=["contracts"])
    def post(self, request, contract_id):
        serializer = TerminateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract = services.contract_terminate(
            actor=request.user,
            contract=self.get_contract(),
            reason=serializer.validated_data["reason"],
            request=request,
        )
        return self.ok(contract, _("Contract terminated"))


class ContractRenewView(ContractAPIView):
    required_perms = {"POST": SIGN}

    @extend_schema(request=None, responses={201: ContractSerializer}, tags=["contracts"])
    def post(self, request, contract_id):
        successor = services.contract_renew(actor=request.user, contract=self.get_contract(), request=request)
        return self.ok(successor, _("Renewal contract created"), status=201)


class ChangeRequestListCreateView(ContractAPIView):
    required_perms = {"GET": VIEW, "POST": "contracts.add_changerequest"}

    @extend_schema(responses={200: ChangeRequestSerializer(many=True)}, tags=["contracts"])
    def get(self, request, contract_id):
        changes = self.get_contract().change_requests.all()
        return api_response(ChangeRequestSerializer(changes, many=True, context={"request": request}).data)

    @extend_schema(request=ChangeRequestCreateSerializer, responses={201: ChangeRequestSerializer}, tags=["contracts"])
    def post(self, request, contract_id):
        contract = self.get_contract()
        serializer = ChangeRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = services.change_request_create(
            actor=request.user, contract=contract, request=request, **serializer.validated_data
        )
        return api_response(
            ChangeRequestSerializer(change, context={"request": request}).data,
            message=_("Change requested"),
            status=201,
        )


class ChangeRequestDecisionView(ContractAPIView):
    """`POST /change-requests/{id}/approve` or `/reject` (by someone other than the requester)."""

    required_perms = {"POST": "contracts.approve_changerequest"}
    decision = "approve"

    def get_change(self) -> ChangeRequest:
        visible = ChangeRequest.objects.filter(contract__in=contracts_visible_to(self.request.user))
        return get_object_or_404(visible.select_related("contract"), pk=self.kwargs["change_id"])

    @extend_schema(request=DecisionSerializer, responses={200: ChangeRequestSerializer}, tags=["contracts"])
    def post(self, request, change_id):
        change = self.get_change()
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = serializer.validated_data.get("note", "")
        if self.decision == "approve" and "contract_amount" in (change.changes or {}):
            check_api_step_up(request)
        if self.decision == "approve":
            services.change_request_approve(actor=request.user, change=change, note=note, request=request)
        else:
            services.change_request_reject(actor=request.user, change=change, note=note, request=request)
        change.refresh_from_db()
        return api_response(ChangeRequestSerializer(change, context={"request": request}).data)


class SlaBindingListView(ContractAPIView):
    @extend_schema(responses={200: SlaBindingSerializer(many=True)}, tags=["contracts"])
    def get(self, request, contract_id):
        return api_response(SlaBindingSerializer(self.get_contract().sla_bindings.all(), many=True).data)


class SlaBindingDetailView(ContractAPIView):
    """`PUT /contracts/{id}/sla-bindings/{priority}`: set the targets of one priority (P1..P4)."""

    @extend_schema(request=SlaBindingSerializer, responses={200: SlaBindingSerializer}, tags=["contracts"])
    def put(self, request, contract_id, priority):
        if priority not in TicketPriority.values:
            raise NotFound(_("Unknown priority."))
        serializer = SlaBindingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        binding = services.sla_binding_set(
            actor=request.user,
            contract=self.get_contract(),
            priority=priority,
            data=serializer.validated_data,
            request=request,
        )
        return api_response(SlaBindingSerializer(binding).data, message=_("SLA saved"))


class MilestoneOwnerMixin:
    def _owner(self, data):
        owner_id = data.pop("owner_id", None)
        if owner_id is not None:
            owner = User.objects.filter(pk=owner_id, tenant=self.request.user.tenant, is_active=True).first()
            if owner is None:
                raise ApiError(
                    codes.VALIDATION_ERROR,
                    _("owner_id: No active user with this id in your tenant."),
                    status_code=400,
                    data={"field": "owner_id", "errors": {}},
                )
            data["owner"] = owner
        return data


class MilestoneListCreateView(MilestoneOwnerMixin, ContractAPIView):
    required_perms = {"GET": VIEW, "POST": CHANGE}

    @extend_schema(responses={200: MilestoneSerializer(many=True)}, tags=["contracts"])
    def get(self, request, contract_id):
        return api_response(MilestoneSerializer(self.get_contract().milestones.all(), many=True).data)

    @extend_schema(request=MilestoneSerializer, responses={201: MilestoneSerializer}, tags=["contracts"])
    def post(self, request, contract_id):
        serializer = MilestoneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        milestone = services.milestone_save(
            actor=request.user,
            contract=self.get_contract(),
            request=request,
            data=self._owner(dict(serializer.validated_data)),
        )
        return api_response(MilestoneSerializer(milestone).data, message=_("Milestone saved"), status=201)


class MilestoneDetailView(MilestoneOwnerMixin, ContractAPIView):
    """`GET` / `PATCH /contracts/{id}/milestones/{milestone_id}` (no POST: milestones are created on the list)."""

    required_perms = {"GET": VIEW, "PATCH": CHANGE}

    def get_milestone(self, contract: Contract) -> Milestone:
        return get_object_or_404(Milestone.objects.filter(contract=contract), pk=self.kwargs["milestone_id"])

    @extend_schema(responses={200: MilestoneSerializer}, tags=["contracts"])
    def get(self, request, contract_id, milestone_id):
        return api_response(MilestoneSerializer(self.get_milestone(self.get_contract())).data)

    @extend_schema(request=MilestoneSerializer, responses={200: MilestoneSerializer}, tags=["contracts"])
    def patch(self, request, contract_id, milestone_id):
        contract = self.get_contract()
        milestone = self.get_milestone(contract)
        serializer = MilestoneSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        milestone = services.milestone_save(
            actor=request.user,
            contract=contract,
            milestone=milestone,
            data=self._owner(dict(serializer.validated_data)),
            request=request,
        )
        return api_response(MilestoneSerializer(milestone).data, message=_("Milestone saved"))


class InvoiceListCreateView(ContractAPIView):
    """Invoices of a contract; creating one needs the amount permission (finance, leads, admins)."""

    required_perms = {"GET": "contracts.view_contract_amount", "POST": "contracts.view_contract_amount"}

    @extend_schema(responses={200: InvoiceSerializer(many=True)}, tags=["invoices"])
    def get(self, request, contract_id):
        return api_response(InvoiceSerializer(self.get_contract().invoices.all(), many=True).data)

    @extend_schema(request=InvoiceSerializer, responses={201: InvoiceSerializer}, tags=["invoices"])
    def post(self, request, contract_id):
        contract = self.get_contract()
        serializer = InvoiceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = services.invoice_upsert(
            actor=request.user, contract=contract, data=serializer.validated_data, request=request
        )
        return api_response(InvoiceSerializer(invoice).data, message=_("Invoice saved"), status=201)


class PaymentCreateView(ContractAPIView):
    required_perms = {"POST": "contracts.view_contract_amount"}

    @extend_schema(request=PaymentSerializer, responses={201: PaymentSerializer}, tags=["invoices"])
    def post(self, request, invoice_id):
        visible = Invoice.objects.filter(contract__in=contracts_visible_to(request.user))
        invoice = get_object_or_404(visible, pk=invoice_id)
        serializer = PaymentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = services.payment_upsert(
            actor=request.user, invoice=invoice, data=serializer.validated_data, request=request
        )
        return api_response(PaymentSerializer(payment).data, message=_("Payment saved"), status=201)


class ContractPreviewView(ContractAPIView):
    """`POST /contracts/{id}/preview {"template_id"}`: the rendered document HTML, nothing stored."""

    required_perms = {"POST": VIEW}

    @extend_schema(request=PreviewSerializer, responses={200: PreviewResultSerializer}, tags=["contracts"])
    def post(self, request, contract_id):
        contract = self.get_contract()
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = ContractTemplate.objects.filter(pk=serializer.validated_data["template_id"], is_active=True).first()
        if template is None:
            raise NotFound(_("Template not found."))
        show_amounts = can_see_amount(request.user)
        try:
            html = render_template_text(
                template, contract, show_amounts=show_amounts,
                show_contact_details=can_see_contact_details(request.user),
            )  # fmt: skip
        except TemplateRenderError as exc:
            raise ApiError(codes.VALIDATION_ERROR, str(exc), status_code=400) from None
        record_access(request, contract, CONTRACT_DOCUMENT_VIEWED, format="preview", template=template.pk)
        return api_response({"html": html, "amounts_masked": not show_amounts})


class IntegrationPaymentsView(GenericAPIView):
    """`POST /integrations/payments`: the finance system upserts invoices and payments by its own ids.

    Signed with the tenant's integration key (see accounts.integration); idempotent on `external_id`.
    """

    authentication_classes = [IntegrationSignatureAuthentication]
    permission_classes = [IsAuthenticated]
    not_found_code = codes.NOT_FOUND

    @extend_schema(request=IntegrationPaymentsSerializer, responses={200: None}, tags=["integrations"])
    def post(self, request):
        serializer = IntegrationPaymentsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            results = services.payments_ingest(items=serializer.validated_data["items"], request=request)
        except services.UnknownContract as exc:
            raise ApiError(
                codes.CONTRACT_INVALID,
                _("items[%(index)d].contract_code: unknown contract.") % {"index": exc.index},
                status_code=400,
                data={"field": exc.field, "errors": {}},
            ) from None
        return api_response({"items": results}, message=_("Received"))

    def handle_exception(self, exc):
        return super().handle_exception(state_conflict(exc))

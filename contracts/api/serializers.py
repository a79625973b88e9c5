"""Contract API shapes (PRD 3.2.3 field names). `contract_amount` is `***` for callers without the permission."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts.choices import ContractType, MilestoneStatus, RenewalType, ServiceHours, TicketPriority
from contracts.masking import MASK, can_see_amount
from crm_project.api.mixins import RefuseReadOnlyMixin

READ_ONLY_CONTRACT_FIELDS = (
    "contract_id",
    "tenant",
    "contract_code",
    "status",
    "signed_date",
    "contract_file_url",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "enum": ["***"]}]})
class MaskedAmountField(serializers.Field):
    """The amount as a number, or `***` when the caller may not see amounts."""

    def to_representation(self, value):
        request = self.context.get("request")
        if request is None or not can_see_amount(request.user):
            return MASK
        return float(value)


class ContractSerializer(serializers.Serializer):
    contract_id = serializers.IntegerField(source="pk")
    customer_id = serializers.IntegerField()
    contract_code = serializers.CharField()
    contract_name = serializers.CharField()
    contract_type = serializers.IntegerField()
    contract_amount = MaskedAmountField()
    currency = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    status = serializers.IntegerField()
    renewal_type = serializers.IntegerField()
    renewal_notice_days = serializers.IntegerField()
    payment_terms = serializers.CharField()
    service_level = serializers.CharField()
    contract_file_url = serializers.CharField()
    signed_date = serializers.DateField(allow_null=True)
    created_by = serializers.IntegerField(source="created_by_id")
    version = serializers.IntegerField()
    predecessor_id = serializers.IntegerField(allow_null=True)
    terminated_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ContractWriteSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = READ_ONLY_CONTRACT_FIELDS

    customer_id = serializers.IntegerField(required=False)
    contract_name = serializers.CharField(max_length=200)
    contract_type = serializers.ChoiceField(choices=ContractType.choices, required=False)
    contract_amount = serializers.DecimalField(max_digits=15, decimal_places=2)
    currency = serializers.CharField(max_length=10, required=False)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    renewal_type = serializers.ChoiceField(choices=RenewalType.choices, required=False)
    renewal_notice_days = serializers.IntegerField(min_value=1, max_value=730, required=False)
    payment_terms = serializers.CharField(max_length=100, required=False, allow_blank=True)
    service_level = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ContractUpdateSerializer(ContractWriteSerializer):
    """The terms of a draft; its customer is fixed (`customer_id` is refused as read-only)."""

    refused_fields = (*READ_ONLY_CONTRACT_FIELDS, "customer_id")
    customer_id = None


class TerminateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class SignSerializer(serializers.Serializer):
    signed_date = serializers.DateField(required=False)


class ChangeRequestCreateSerializer(serializers.Serializer):
    changes = serializers.DictField(help_text=_('New values by field name, e.g. {"contract_amount": 120000}.'))
    reason = serializers.CharField(max_length=2000)


class ChangeRequestSerializer(serializers.Serializer):
    change_request_id = serializers.IntegerField(source="pk")
    contract_id = serializers.IntegerField()
    requested_by = serializers.IntegerField(source="requested_by_id")
    reason = serializers.CharField()
    changes = serializers.SerializerMethodField()
    base_version = serializers.IntegerField()
    status = serializers.CharField()
    decided_by = serializers.IntegerField(source="decided_by_id", allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_changes(self, obj):
        request = self.context.get("request")
        if request is not None and not can_see_amount(request.user) and "contract_amount" in obj.changes:
            return {**obj.changes, "contract_amount": {"old": MASK, "new": MASK}}
        return obj.changes


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class SlaBindingSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=TicketPriority.choices, read_only=True)
    first_response_minutes = serializers.IntegerField(min_value=1)
    resolution_minutes = serializers.IntegerField(min_value=1)
    service_hours = serializers.ChoiceField(choices=ServiceHours.choices, required=False)
    business_calendar = serializers.DictField(required=False)
    availability_target = serializers.DecimalField(
        max_digits=6, decimal_places=3, min_value=0, max_value=100, required=False, coerce_to_string=False
    )


class MilestoneSerializer(serializers.Serializer):
    milestone_id = serializers.IntegerField(source="pk", read_only=True)
    title = serializers.CharField(max_length=200)
    due_date = serializers.DateField()
    status = serializers.ChoiceField(choices=MilestoneStatus.choices, required=False)
    owner_id = serializers.IntegerField(required=False, allow_null=True)
    completed_at = serializers.DateTimeField(read_only=True)


class InvoiceSerializer(serializers.Serializer):
    invoice_id = serializers.IntegerField(source="pk", read_only=True)
    invoice_number = serializers.CharField(max_length=64)
    amount = serializers.DecimalField(max_digits=15, decimal_places=2, min_value=0)
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    paid_date = serializers.DateField(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)

    def validate(self, attrs):
        if attrs["due_date"] < attrs["issue_date"]:
            raise serializers.ValidationError({"due_date": [_("The due date cannot be before the issue date.")]})
        return attrs


class PaymentSerializer(serializers.Serializer):
    payment_id = serializers.IntegerField(source="pk", read_only=True)
    amount = serializers.DecimalField(max_digits=15, decimal_places=2, min_value=0)
    paid_date = serializers.DateField()
    method = serializers.CharField(max_length=50, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)


class IntegrationPaymentItemSerializer(serializers.Serializer):
    """One finance-system record: an invoice of a contract, optionally with a payment against it."""

    contract_code = serializers.CharField(max_length=50)
    invoice = InvoiceSerializer()
    payment = PaymentSerializer(required=False)

    def validate_invoice(self, value):
        if not value.get("external_id"):
            raise serializers.ValidationError({"external_id": [_("The sender's id is required.")]})
        return value


class IntegrationPaymentsSerializer(serializers.Serializer):
    items = IntegrationPaymentItemSerializer(many=True, allow_empty=False, max_length=500)


class PreviewSerializer(serializers.Serializer):
    template_id = serializers.IntegerField()


class PreviewResultSerializer(serializers.Serializer):
    html = serializers.CharField(help_text=_("The rendered body (sanitised HTML fragment)."))
    amounts_masked = serializers.BooleanField(
        help_text=_("True when the caller may not see amounts: they are *** and the fragment says so.")
    )

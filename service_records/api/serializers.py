"""Service-record API shapes (PRD 3.1 `customer_service_records` column names)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from contracts.choices import TicketPriority
from customers.api.serializers import RefuseReadOnlyMixin
from service_records.choices import Channel, ReportKind, TicketStatus


class TicketStatusField(serializers.CharField):
    """The ticket status: open, in_progress, resolved or closed. A plain string in the schema: drf-spectacular
    would otherwise add a third colliding `status` enum component (contracts already have two)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "open | in_progress | resolved | closed")
        super().__init__(max_length=20, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in TicketStatus.values:
            raise serializers.ValidationError(
                _("Unknown value; use one of %(allowed)s.") % {"allowed": ", ".join(TicketStatus.values)}
            )
        return value


class SatisfactionSerializer(serializers.Serializer):
    overall = serializers.IntegerField(source="satisfaction_overall", allow_null=True)
    response_speed = serializers.IntegerField(source="satisfaction_response_speed", allow_null=True)
    professionalism = serializers.IntegerField(source="satisfaction_professionalism", allow_null=True)
    resolution_quality = serializers.IntegerField(source="satisfaction_resolution_quality", allow_null=True)
    comment = serializers.CharField(source="satisfaction_comment")
    rated_at = serializers.DateTimeField(allow_null=True)


class SlaSerializer(serializers.Serializer):
    first_response_minutes = serializers.IntegerField(source="sla_first_response_minutes", allow_null=True)
    resolution_minutes = serializers.IntegerField(source="sla_resolution_minutes", allow_null=True)
    service_hours = serializers.CharField(source="sla_service_hours")
    response_due_at = serializers.DateTimeField(allow_null=True)
    resolution_due_at = serializers.DateTimeField(allow_null=True)
    response_breached = serializers.BooleanField()
    resolution_breached = serializers.BooleanField()
    breach_minutes = serializers.IntegerField(allow_null=True)
    state = serializers.CharField(source="sla_state")


class ServiceRecordSerializer(serializers.Serializer):
    record_id = serializers.IntegerField(source="pk")
    customer_id = serializers.IntegerField()
    contract_id = serializers.IntegerField(allow_null=True)
    source_system = serializers.CharField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    priority = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    opened_at = serializers.DateTimeField()
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    handling_minutes = serializers.IntegerField(allow_null=True)
    response_minutes = serializers.IntegerField(allow_null=True)
    resolution_minutes = serializers.IntegerField(allow_null=True)
    solution = serializers.CharField()
    assignee = serializers.CharField()
    breached = serializers.BooleanField()
    sla = SlaSerializer(source="*")
    satisfaction = SatisfactionSerializer(source="*")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


READ_ONLY = ("record_id", "customer_id", "contract_id", "source_system", "external_id", "priority", "opened_at",
             "sla", "breached", "response_minutes", "resolution_minutes", "created_at", "updated_at")  # fmt: skip


class RatingWriteSerializer(serializers.Serializer):
    overall = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    response_speed = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    professionalism = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    resolution_quality = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ServiceRecordUpdateSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    """PATCH: the staff-side fields and the ratings; the ticket's identity and SLA copy are read-only."""

    refused_fields = READ_ONLY

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    category = serializers.CharField(max_length=50, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    status = TicketStatusField(required=False)
    first_response_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    closed_at = serializers.DateTimeField(required=False, allow_null=True)
    handling_minutes = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, allow_null=True)
    solution = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    assignee = serializers.CharField(max_length=100, required=False, allow_blank=True)
    satisfaction = RatingWriteSerializer(required=False)


class ServiceRecordCreateSerializer(serializers.Serializer):
    """POST: a ticket entered by staff."""

    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    category = serializers.CharField(max_length=50, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=TicketPriority.choices)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    status = TicketStatusField(required=False)
    opened_at = serializers.DateTimeField(required=False)
    first_response_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    closed_at = serializers.DateTimeField(required=False, allow_null=True)
    solution = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    assignee = serializers.CharField(max_length=100, required=False, allow_blank=True)


class IntegrationTicketsSerializer(serializers.Serializer):
    """Only the envelope is validated here; each ticket is checked on its own (failures are reported per index)."""

    tickets = serializers.ListField(
        child=serializers.JSONField(), allow_empty=False, max_length=1000, help_text=_("Up to 1,000 tickets.")
    )


class IngestResultSerializer(serializers.Serializer):
    class FailureSerializer(serializers.Serializer):
        index = serializers.IntegerField()
        external_id = serializers.CharField(allow_null=True)
        field = serializers.CharField()
        message = serializers.CharField()

    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    failed = FailureSerializer(many=True)


class MinutesSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    median = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)


class ServiceStatsSerializer(serializers.Serializer):
    period = serializers.CharField()
    since = serializers.DateField()
    tickets = serializers.IntegerField()
    open = serializers.IntegerField()
    first_response_compliance = serializers.FloatField(allow_null=True)
    resolution_compliance = serializers.FloatField(allow_null=True)
    breaches = serializers.IntegerField()
    response_minutes = MinutesSerializer()
    resolution_minutes = MinutesSerializer()
    by_category = serializers.ListField(child=serializers.DictField())
    by_priority = serializers.ListField(child=serializers.DictField())
    satisfaction = serializers.DictField()
    csat = serializers.FloatField(allow_null=True)
    nps = serializers.FloatField(allow_null=True)
    nps_answers = serializers.IntegerField()


class ReportSerializer(serializers.Serializer):
    report_id = serializers.IntegerField(source="pk")
    customer_id = serializers.IntegerField()
    kind = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    error = serializers.CharField()
    has_pdf = serializers.SerializerMethodField()
    has_xlsx = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_has_pdf(self, obj) -> bool:
        return bool(obj.pdf_file)

    def get_has_xlsx(self, obj) -> bool:
        return bool(obj.xlsx_file)


class ReportCreateSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    kind = serializers.ChoiceField(choices=[(ReportKind.ON_DEMAND, ReportKind.ON_DEMAND.label)], required=False)

    def validate(self, attrs):
        if attrs["period_end"] < attrs["period_start"]:
            raise serializers.ValidationError({"period_end": [_("The end cannot be before the start.")]})
        return attrs


class NpsSerializer(serializers.Serializer):
    nps_id = serializers.IntegerField(source="pk", read_only=True)
    contact_id = serializers.IntegerField(required=False, allow_null=True)
    score = serializers.IntegerField(min_value=0, max_value=10)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    responded_at = serializers.DateTimeField(required=False)

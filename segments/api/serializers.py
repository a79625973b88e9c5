"""Serializers of the segment endpoints; rules are checked by segments.rules (errors name the failing path)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm_project.api.mixins import RefuseReadOnlyMixin


class ConditionSerializer(serializers.Serializer):
    """Documentation only: a condition `{"field", "operator", "value"}` or a nested group."""

    field = serializers.CharField(required=False)
    operator = serializers.ChoiceField(choices=["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains"], required=False)
    value = serializers.JSONField(required=False)
    op = serializers.ChoiceField(choices=["and", "or"], required=False)
    conditions = serializers.ListField(child=serializers.JSONField(), required=False)


class RuleGroupSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["and", "or"])
    conditions = ConditionSerializer(many=True)


class SegmentWriteSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = ("segment_id", "tenant", "member_count", "evaluated_at", "created_by", "created_at", "updated_at")

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    is_shared = serializers.BooleanField(required=False)
    rules = serializers.JSONField()

    def to_representation(self, instance):  # pragma: no cover - write-only
        return {}


class OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else None


class SegmentSerializer(serializers.Serializer):
    segment_id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    description = serializers.CharField()
    rules = RuleGroupSerializer()
    is_shared = serializers.BooleanField()
    owner = serializers.SerializerMethodField()
    member_count = serializers.IntegerField()
    evaluated_at = serializers.SerializerMethodField()
    created_at = serializers.SerializerMethodField()
    updated_at = serializers.SerializerMethodField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["rules"] = instance.rules  # nested groups as stored (the schema documents one level)
        return data

    @extend_schema_field(OwnerSerializer(allow_null=True))
    def get_owner(self, obj):
        user = obj.created_by
        return {"id": user.pk, "name": user.get_display_name()} if user else None

    def get_evaluated_at(self, obj) -> str | None:
        return _local(obj.evaluated_at)

    def get_created_at(self, obj) -> str:
        return _local(obj.created_at)

    def get_updated_at(self, obj) -> str:
        return _local(obj.updated_at)


class SegmentCreatedSerializer(serializers.Serializer):
    segment_id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    member_count = serializers.IntegerField()


class EvaluationSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    entered = serializers.IntegerField()
    left = serializers.IntegerField()


class MembershipEventSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField(source="customer.customer_name")
    entered_at = serializers.SerializerMethodField()
    left_at = serializers.SerializerMethodField()

    def get_entered_at(self, obj) -> str:
        return _local(obj.entered_at)

    def get_left_at(self, obj) -> str | None:
        return _local(obj.left_at)


class FieldSerializer(serializers.Serializer):
    field = serializers.CharField()
    type = serializers.CharField()
    operators = serializers.ListField(child=serializers.CharField())


class RfmSegmentCountSerializer(serializers.Serializer):
    rfm_segment = serializers.CharField()
    label = serializers.CharField()
    customers = serializers.IntegerField()
    average_health = serializers.FloatField(allow_null=True)


class ClusterRunSerializer(serializers.Serializer):
    computed_at = serializers.CharField()
    customers = serializers.IntegerField()
    k = serializers.IntegerField()
    silhouette = serializers.FloatField(allow_null=True)
    features = serializers.ListField(child=serializers.CharField())
    centres = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    sizes = serializers.ListField(child=serializers.IntegerField())


class RfmOverviewSerializer(serializers.Serializer):
    segments = RfmSegmentCountSerializer(many=True)
    clusters = ClusterRunSerializer(allow_null=True)


# --- Tag recommendations ------------------------------------------------------------------------------------------
class TagSuggestionSerializer(serializers.Serializer):
    suggestion_id = serializers.IntegerField(source="pk")
    customer_id = serializers.IntegerField()
    tag_name = serializers.CharField()
    tag_category = serializers.CharField()
    confidence = serializers.DecimalField(max_digits=5, decimal_places=4)
    source = serializers.CharField()
    reason = serializers.CharField()
    status = serializers.CharField()


class AcceptedTagSerializer(serializers.Serializer):
    tag_id = serializers.IntegerField(source="pk")
    tag_name = serializers.CharField()
    tag_type = serializers.IntegerField()
    tag_category = serializers.CharField()
    confidence = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    source = serializers.CharField()


# --- Campaigns ----------------------------------------------------------------------------------------------------
GOALS = ["renewal", "upsell", "training", "satisfaction"]


class CampaignWriteSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = ("campaign_id", "tenant", "status", "launched_at", "launched_by", "attributed_at", "created_by")

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    segment_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    goal = serializers.ChoiceField(choices=GOALS)
    send_email = serializers.BooleanField(required=False)
    email_subject = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email_body = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    create_tasks = serializers.BooleanField(required=False)
    task_title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    cost = serializers.DecimalField(max_digits=15, decimal_places=2, min_value=0, required=False)
    control_percent = serializers.IntegerField(min_value=0, max_value=50, required=False)
    control_seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    attribution_days = serializers.IntegerField(min_value=1, max_value=365, required=False)

    def to_representation(self, instance):  # pragma: no cover - write-only
        return {}


class CampaignSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    description = serializers.CharField()
    segment_id = serializers.IntegerField(allow_null=True)
    goal = serializers.CharField()
    send_email = serializers.BooleanField()
    email_subject = serializers.CharField()
    email_body = serializers.CharField()
    create_tasks = serializers.BooleanField()
    task_title = serializers.CharField()
    cost = serializers.SerializerMethodField()
    control_percent = serializers.IntegerField()
    control_seed = serializers.IntegerField()
    attribution_days = serializers.IntegerField()
    status = serializers.CharField()
    launched_at = serializers.SerializerMethodField()
    attributed_at = serializers.SerializerMethodField()
    created_at = serializers.SerializerMethodField()

    def get_cost(self, obj) -> str | None:
        return str(obj.cost) if self.context.get("see_money", True) else None

    def get_launched_at(self, obj) -> str | None:
        return _local(obj.launched_at)

    def get_attributed_at(self, obj) -> str | None:
        return _local(obj.attributed_at)

    def get_created_at(self, obj) -> str:
        return _local(obj.created_at)


class LaunchSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    control = serializers.IntegerField()
    emails = serializers.IntegerField()
    tasks = serializers.IntegerField()


class CampaignMemberSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField(source="customer.customer_name")
    is_control = serializers.BooleanField()
    email_sent = serializers.BooleanField()
    task_id = serializers.IntegerField(allow_null=True)
    contacted_at = serializers.SerializerMethodField()
    responded_at = serializers.SerializerMethodField()
    converted_at = serializers.DateField(allow_null=True)
    revenue = serializers.SerializerMethodField()

    def get_contacted_at(self, obj) -> str | None:
        return _local(obj.contacted_at)

    def get_responded_at(self, obj) -> str | None:
        return _local(obj.responded_at)

    def get_revenue(self, obj) -> str | None:
        return str(obj.revenue) if self.context.get("see_money", True) else None


class GroupResultSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    contacted = serializers.IntegerField()
    responded = serializers.IntegerField()
    converted = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    conversion_rate = serializers.FloatField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True)
    revenue_per_member = serializers.FloatField(allow_null=True)


class CampaignResultsSerializer(serializers.Serializer):
    treated = GroupResultSerializer()
    control = GroupResultSerializer()
    cost = serializers.DecimalField(max_digits=15, decimal_places=2, allow_null=True)
    revenue = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    conversion_rate = serializers.FloatField(allow_null=True)
    roi = serializers.FloatField(allow_null=True)
    uplift = serializers.FloatField(allow_null=True)
    incremental_revenue = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    incremental_roi = serializers.FloatField(allow_null=True)

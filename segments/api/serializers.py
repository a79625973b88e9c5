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

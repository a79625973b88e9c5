from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from health.choices import UsageEventType

MAX_BATCH = 5000


class FactorsSerializer(serializers.Serializer):
    positive_factors = serializers.ListField(child=serializers.CharField())
    negative_factors = serializers.ListField(child=serializers.CharField())


class DriverSerializer(serializers.Serializer):
    feature = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    direction = serializers.ChoiceField(choices=["raises", "lowers"])
    impact = serializers.FloatField()


class HealthScoreSerializer(serializers.Serializer):
    """PRD 4.1.2 plus `status`, `data_completeness`, `churn_source` and `churn_drivers` (additions)."""

    customer_id = serializers.IntegerField()
    score_date = serializers.DateField()
    status = serializers.ChoiceField(choices=["scored", "unknown"], help_text=_("unknown = no input data at all"))
    overall_score = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False, allow_null=True)
    satisfaction_score = serializers.DecimalField(
        max_digits=5, decimal_places=2, coerce_to_string=False, allow_null=True
    )
    activity_score = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False, allow_null=True)
    financial_score = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False, allow_null=True)
    contract_score = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False, allow_null=True)
    risk_level = serializers.IntegerField(allow_null=True)
    churn_probability = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False, allow_null=True
    )
    churn_source = serializers.ChoiceField(choices=["model", "rules"], allow_null=True)
    churn_model_version = serializers.IntegerField(allow_null=True)
    churn_drivers = DriverSerializer(many=True)
    data_completeness = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False)
    factors = FactorsSerializer()
    recommendations = serializers.ListField(child=serializers.CharField())


class TrendPointSerializer(serializers.Serializer):
    score_date = serializers.DateField()
    overall_score = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    risk_level = serializers.IntegerField()


class TrendAnalysisSerializer(serializers.Serializer):
    direction = serializers.CharField()
    change_rate = serializers.FloatField()
    stability = serializers.CharField()


class TrendSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    period = serializers.ChoiceField(choices=["1m", "3m", "6m", "12m"])
    trend_data = TrendPointSerializer(many=True)
    trend_analysis = TrendAnalysisSerializer()


class ValueAnalysisSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    value_analysis = serializers.DictField()
    financial_metrics = serializers.DictField()
    growth_potential = serializers.DictField()


class RenewalProbabilitySerializer(serializers.Serializer):
    contract_id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    renewal_probability = serializers.FloatField(min_value=0, max_value=1)
    source = serializers.ChoiceField(choices=["model", "rules"])
    source_label = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())


class UsageEventSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=100)
    customer_code = serializers.CharField(max_length=50)
    user_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    event_type = serializers.ChoiceField(choices=UsageEventType.choices)
    feature_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField()


class UsageBatchSerializer(serializers.Serializer):
    events = UsageEventSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)


class UsageResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()

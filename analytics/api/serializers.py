"""Serializers of the analytics API (schema + output shapes)."""

from __future__ import annotations

from rest_framework import serializers

from analytics.models import LevelSuggestion


class LevelSuggestionSerializer(serializers.ModelSerializer):
    suggestion_id = serializers.IntegerField(source="pk", read_only=True)
    customer_id = serializers.IntegerField(read_only=True)
    customer_name = serializers.CharField(source="customer.customer_name", read_only=True)
    reasons = serializers.SerializerMethodField()

    class Meta:
        model = LevelSuggestion
        fields = [
            "suggestion_id",
            "customer_id",
            "customer_name",
            "current_level",
            "suggested_level",
            "value_score",
            "potential_score",
            "risk_score",
            "grade_score",
            "reasons",
            "status",
            "computed_on",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields

    def get_reasons(self, obj) -> list[str]:
        from accounts.roles import can_see_amounts
        from analytics.grading import reason_lines

        request = self.context.get("request")
        return reason_lines(obj, see_money=can_see_amounts(request.user) if request else False)


class RejectSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ChainContactSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField()
    contact_name = serializers.CharField()
    position = serializers.CharField()
    department = serializers.CharField()
    influence_level = serializers.IntegerField()
    is_primary = serializers.BooleanField()
    last_communication = serializers.DateTimeField(allow_null=True)


class GapSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class DecisionChainSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    decision_makers = ChainContactSerializer(many=True)
    influencers = ChainContactSerializer(many=True)
    users = ChainContactSerializer(many=True)
    gaps = GapSerializer(many=True)


class ContactCheckSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField()
    name = serializers.CharField()
    email_problem = serializers.CharField()
    mobile_problem = serializers.CharField()
    accurate = serializers.BooleanField()


class CustomerQualitySerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    score = serializers.FloatField()
    missing = serializers.ListField(child=serializers.CharField())
    contacts = ContactCheckSerializer(many=True)


class KpiIndicatorSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    target = serializers.FloatField(allow_null=True)
    direction = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    met = serializers.BooleanField(allow_null=True)
    series = serializers.ListField(child=serializers.FloatField(allow_null=True))


class KpiDashboardSerializer(serializers.Serializer):
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    months = serializers.ListField(child=serializers.DateField())
    indicators = KpiIndicatorSerializer(many=True)

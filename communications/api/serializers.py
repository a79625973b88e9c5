"""Communication API shapes (PRD 3.2.6 field names) plus the analysis and the open follow-up."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from communications.choices import CommunicationType, Direction, Importance, Sentiment
from communications.nlp import MAX_TEXT
from customers.api.serializers import RefuseReadOnlyMixin


class NeedSerializer(serializers.Serializer):
    tag = serializers.CharField()
    evidence = serializers.CharField()


class CommunicationSerializer(serializers.Serializer):
    communication_id = serializers.IntegerField(source="pk")
    customer_id = serializers.IntegerField()
    contact_id = serializers.IntegerField(allow_null=True)
    communication_type = serializers.IntegerField()
    direction = serializers.IntegerField()
    subject = serializers.CharField()
    content = serializers.CharField()
    duration_minutes = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField()
    next_action = serializers.CharField()
    next_action_due = serializers.SerializerMethodField()
    sentiment = serializers.IntegerField(allow_null=True)
    sentiment_score = serializers.SerializerMethodField()
    sentiment_overridden = serializers.SerializerMethodField()
    keywords = serializers.SerializerMethodField()
    needs = serializers.SerializerMethodField()
    language = serializers.SerializerMethodField()
    importance = serializers.IntegerField()
    staff_id = serializers.IntegerField()
    communication_date = serializers.DateTimeField()
    created_at = serializers.DateTimeField()

    def _analysis(self, obj):
        return getattr(obj, "analysis", None) if hasattr(obj, "analysis") else None

    def get_next_action_due(self, obj) -> str | None:
        due = self.context.get("due", {}).get(obj.pk)
        return due.isoformat() if due else None

    def get_sentiment_score(self, obj) -> float | None:
        analysis = self._analysis(obj)
        return analysis.score if analysis and analysis.analyzed_at else None

    def get_sentiment_overridden(self, obj) -> bool:
        analysis = self._analysis(obj)
        return bool(analysis and analysis.override_sentiment)

    def get_keywords(self, obj) -> list[str]:
        analysis = self._analysis(obj)
        return list(analysis.keywords) if analysis else []

    def get_needs(self, obj) -> list[dict]:
        analysis = self._analysis(obj)
        return list(analysis.needs) if analysis else []

    def get_language(self, obj) -> str | None:
        analysis = self._analysis(obj)
        return analysis.language if analysis and analysis.language else None


READ_ONLY_FIELDS = (
    "communication_id",
    "tenant",
    "customer_id",
    "sentiment_score",
    "sentiment_overridden",
    "keywords",
    "needs",
    "language",
    "created_at",
)


class CommunicationWriteSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = READ_ONLY_FIELDS

    contact_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    communication_type = serializers.ChoiceField(choices=CommunicationType.choices)
    direction = serializers.ChoiceField(choices=Direction.choices)
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True)
    content = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    duration_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=24 * 60)
    outcome = serializers.CharField(max_length=100, required=False, allow_blank=True)
    next_action = serializers.CharField(max_length=200, required=False, allow_blank=True)
    next_action_due = serializers.DateField(required=False, allow_null=True)
    sentiment = serializers.ChoiceField(choices=Sentiment.choices, required=False, allow_null=True)
    importance = serializers.ChoiceField(choices=Importance.choices, required=False)
    staff_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    communication_date = serializers.DateTimeField(required=False)


class BulkCreateSerializer(serializers.Serializer):
    items = CommunicationWriteSerializer(many=True, allow_empty=False, max_length=500)


class AnalyzeSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=MAX_TEXT,
        allow_blank=False,
        trim_whitespace=True,
        help_text=_("At most 20,000 characters."),
    )


class AnalysisSerializer(serializers.Serializer):
    sentiment = serializers.ChoiceField(choices=Sentiment.choices)
    score = serializers.FloatField(min_value=-1, max_value=1)
    keywords = serializers.ListField(child=serializers.CharField())
    needs = NeedSerializer(many=True)
    language = serializers.ChoiceField(choices=[("zh", "zh"), ("en", "en")])


class SentimentOverrideSerializer(serializers.Serializer):
    sentiment = serializers.ChoiceField(choices=Sentiment.choices, allow_null=True)

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from privacy.models import DataSubjectRequest, RequestKind
from privacy.services import CORRECTABLE_FIELDS


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    contact_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, trim_whitespace=True)
    changes = serializers.DictField(
        child=serializers.CharField(max_length=100, allow_blank=True),
        required=False,
        help_text=_("Correction only: contact fields to set (%s).") % ", ".join(CORRECTABLE_FIELDS),
    )

    def validate_reason(self, value):
        if "\x00" in value:
            raise serializers.ValidationError(_("Null characters are not allowed."))
        return value

    def validate(self, attrs):
        if attrs["kind"] == RequestKind.CORRECTION and not attrs.get("changes"):
            raise serializers.ValidationError({"changes": [_("A correction names the fields to correct.")]})
        if attrs["kind"] != RequestKind.CORRECTION and attrs.get("changes"):
            raise serializers.ValidationError({"changes": [_("Only a correction takes changes.")]})
        unknown = sorted(set(attrs.get("changes") or {}) - set(CORRECTABLE_FIELDS))
        if unknown:
            raise serializers.ValidationError({"changes": [_("Unknown fields: %s") % ", ".join(unknown)]})
        for key, value in (attrs.get("changes") or {}).items():
            if "\x00" in value:
                raise serializers.ValidationError({f"changes.{key}": [_("Null characters are not allowed.")]})
        return attrs


class RequestSerializer(serializers.ModelSerializer):
    request_id = serializers.IntegerField(source="pk", read_only=True)
    download_available = serializers.SerializerMethodField()

    class Meta:
        model = DataSubjectRequest
        fields = [
            "request_id",
            "kind",
            "status",
            "contact_id",
            "customer_id",
            "reason",
            "deadline",
            "created_at",
            "completed_at",
            "result_summary",
            "download_available",
        ]
        read_only_fields = fields

    def get_download_available(self, obj) -> bool:
        return bool(obj.package_name)

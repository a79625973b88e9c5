from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class TokenObtainSerializer(serializers.Serializer):
    """Credentials for `POST /api/v1/auth/token`."""

    username = serializers.CharField(max_length=150, label=_("username"))
    password = serializers.CharField(max_length=128, label=_("password"), trim_whitespace=False, write_only=True)
    otp_code = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        write_only=True,
        label=_("second factor"),
        help_text=_("Authenticator or recovery code; required when the account has two-step sign-in."),
    )


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text=_("Access token, valid for 2 hours."))
    refresh = serializers.CharField(help_text=_("Refresh token, valid for 7 days; rotated on every refresh."))


class TokenRefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField(required=False, help_text=_("The refresh token to end as well."))


class NotificationSerializer(serializers.Serializer):
    notification_id = serializers.IntegerField(source="pk", read_only=True)
    kind = serializers.CharField(read_only=True)
    message = serializers.CharField(read_only=True)
    link = serializers.CharField(read_only=True)
    object_type = serializers.CharField(read_only=True)
    object_id = serializers.CharField(read_only=True)
    is_read = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    read_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_is_read(self, obj) -> bool:
        return obj.read_at is not None

"""JWT endpoints: obtain (with lockout and audit) and refresh (rotation + blacklist)."""

import contextlib

from django.contrib.auth import authenticate
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.views import TokenRefreshView as SimpleTokenRefreshView

from accounts import totp
from accounts.api.serializers import (
    LogoutRequestSerializer,
    NotificationSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    TokenRefreshRequestSerializer,
)
from accounts.authentication import TenantTokenRefreshSerializer
from accounts.lockout import lockout_response
from accounts.models import Notification, User
from accounts.oidc import local_login_refusal
from accounts.services import account_refusal, audit_record, notification_mark_read
from crm_project.api import codes
from crm_project.api.envelope import api_error, api_response
from crm_project.api.permissions import AUTHENTICATED

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}


def _refused_by_credentials(credentials: dict) -> str | None:
    """With the right password, say why the account is refused (deactivated tenant); otherwise nothing."""
    user = User.objects.select_related("tenant").filter(username=credentials["username"]).first()
    if user is not None and user.check_password(credentials["password"]):
        return account_refusal(user)
    return None


class TokenObtainView(APIView):
    """Exchange username and password for an access and a refresh token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenObtainSerializer, responses={200: TokenPairSerializer}, tags=["auth"])
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The plain Django request: django-axes counts failures and locks out on it.
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None:
            refused = _refused_by_credentials(serializer.validated_data)
            return api_error(
                codes.NOT_AUTHENTICATED,
                refused or _("Invalid username or password."),
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        refused = local_login_refusal(user)
        if refused is not None:
            return api_error(codes.NOT_AUTHENTICATED, refused, status=401, headers=_CHALLENGE)
        if totp.has_device(user):
            # The password alone does not open an account with a second factor, here either.
            if totp.is_locked(user):
                return lockout_response(request._request)
            otp_code = serializer.validated_data.get("otp_code") or ""
            if not otp_code:
                return api_error(
                    codes.SECOND_FACTOR_REQUIRED,
                    _("This account uses two-step sign-in: send `otp_code` with the password."),
                    status=401,
                    headers=_CHALLENGE,
                )
            if totp.verify(user, otp_code) is None:
                audit_record(
                    action="crm.auth.second_factor_failed",
                    actor=user,
                    obj=user,
                    request=request._request,
                    tenant=user.tenant,
                )
                if totp.is_locked(user):
                    return lockout_response(request._request)
                return api_error(
                    codes.SECOND_FACTOR_REQUIRED,
                    _("The second-factor code is wrong or was already used."),
                    status=401,
                    headers=_CHALLENGE,
                )
        refresh = RefreshToken.for_user(user)
        audit_record(action="crm.auth.token_issued", actor=user, obj=user, request=request._request, tenant=user.tenant)
        return api_response({"access": str(refresh.access_token), "refresh": str(refresh)})


class LogoutView(APIView):
    """End this access token at once (and the refresh token sent along): both answer 401 afterwards."""

    required_perms = {"POST": AUTHENTICATED}  # one's own tokens only
    required_scopes = {"POST": None}

    @extend_schema(request=LogoutRequestSerializer, responses={200: None}, tags=["auth"])
    def post(self, request):
        serializer = LogoutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        from accounts.authentication import deny_access_token

        if isinstance(request.auth, AccessToken):
            deny_access_token(request.auth)
        raw = serializer.validated_data.get("refresh")
        if raw:
            try:
                refresh = RefreshToken(raw)
            except TokenError:
                refresh = None
            if refresh is not None and str(refresh.get("user_id")) == str(request.user.pk):
                with contextlib.suppress(TokenError):  # already blacklisted
                    refresh.blacklist()
        audit_record(action="crm.auth.logout", actor=request.user, obj=request.user, request=request._request)
        return api_response(None)


class TokenRefreshView(SimpleTokenRefreshView):
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted."""

    authentication_classes = []
    serializer_class = TenantTokenRefreshSerializer

    @extend_schema(request=TokenRefreshRequestSerializer, responses={200: TokenPairSerializer}, tags=["auth"])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class NotificationListView(ListAPIView):
    """The caller's own notifications, newest first; `unread=true` keeps only unread ones."""

    serializer_class = NotificationSerializer
    required_perms = {"GET": AUTHENTICATED}  # one's own notifications only
    queryset = Notification.objects.none()  # for the schema generator; requests use get_queryset()
    sort_fields = {"created_at": "created_at", "kind": "kind", "read_at": "read_at"}
    default_sort = ["-created_at"]

    @extend_schema(
        tags=["notifications"],
        parameters=[OpenApiParameter("unread", bool, description="only unread notifications")],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        queryset = Notification.objects.filter(recipient=self.request.user)
        unread = self.request.query_params.get("unread")
        if unread not in (None, "", "true", "false"):
            raise ValidationError({"unread": [_("Must be 'true' or 'false'.")]})
        if unread == "true":
            queryset = queryset.filter(read_at__isnull=True)
        return queryset


class NotificationReadView(APIView):
    """Mark one of the caller's notifications as read (another user's id answers 404)."""

    required_perms = {"POST": AUTHENTICATED}  # one's own notifications only

    @extend_schema(request=None, responses={200: NotificationSerializer}, tags=["notifications"])
    def post(self, request, notification_id: int):
        notification = get_object_or_404(Notification.objects.filter(recipient=request.user), pk=notification_id)
        notification_mark_read(user=request.user, notification_id=notification.pk)
        notification.refresh_from_db()
        return api_response(NotificationSerializer(notification).data)

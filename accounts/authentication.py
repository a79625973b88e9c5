"""DRF authentication that also activates the caller's tenant (JWT users are only known inside the view)."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts.tenancy import activate_tenant


def _activate(request, result):
    """Make the authenticated user's tenant the active scope for the rest of the request."""
    if result is None:
        return None
    user = result[0]
    activate_tenant(user.tenant)
    request._request.tenant = user.tenant
    return result


class TenantJWTAuthentication(JWTAuthentication):
    """Bearer access tokens (simplejwt), then the user's tenant becomes the active scope."""

    www_authenticate_realm = "api"

    def authenticate(self, request):
        return _activate(request, super().authenticate(request))

    def get_user(self, validated_token):
        # simplejwt's checks, with the tenant loaded in the same query (every request needs it).
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError:
            raise InvalidToken(_("Token contained no recognizable user identification")) from None
        user = get_user_model().objects.select_related("tenant").filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return user


class TenantSessionAuthentication(SessionAuthentication):
    """The staff session (browsable docs, htmx calls), with CSRF enforced as usual."""

    def authenticate(self, request):
        return _activate(request, super().authenticate(request))

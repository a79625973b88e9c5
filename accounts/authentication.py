"""DRF authentication that also activates the caller's tenant (JWT users are only known inside the view).

A token stops working when its user is deactivated, when the user's tenant is deactivated, and when the
user's password changes (the `hash_password` claim no longer matches; see `accounts.services.account_refusal`).
"""

from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.backends import authz_cache_keys
from accounts.services import account_refusal
from accounts.tenancy import activate_tenant


def _activate(request, result):
    """Make the authenticated user's tenant the active scope for the rest of the request."""
    if result is None:
        return None
    user = result[0]
    activate_tenant(user.tenant)
    request._request.tenant = user.tenant
    return result


def user_for_token(token):
    """The user a token names; 401 when inactive, of an inactive tenant, or issued before a password change."""
    from django.utils.translation import gettext_lazy as _

    try:
        user_id = token[api_settings.USER_ID_CLAIM]
    except KeyError:
        raise InvalidToken(_("Token contained no recognizable user identification")) from None
    user = get_user_model().objects.select_related("tenant").filter(**{api_settings.USER_ID_FIELD: user_id}).first()
    if user is None:
        raise AuthenticationFailed(_("User not found"), code="user_not_found")
    refusal = account_refusal(user)
    if refusal is not None:
        raise AuthenticationFailed(refusal, code="account_refused")
    if api_settings.CHECK_REVOKE_TOKEN and token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        raise AuthenticationFailed(_("The password has changed since this token was issued."), code="password_changed")
    return user


def _denied_key(jti: str) -> str:
    return f"secauth:jwt-denied:{jti}"


def deny_access_token(token) -> None:
    """Refuse this access token until it expires (API sign-out); kept in the cache for its remaining life."""
    import time

    remaining = int(token.get("exp", 0) - time.time())
    if remaining > 0 and token.get("jti"):
        cache.set(_denied_key(token["jti"]), 1, timeout=remaining + 60)


class TenantJWTAuthentication(JWTAuthentication):
    """Bearer access tokens (simplejwt), then the user's tenant becomes the active scope."""

    www_authenticate_realm = "api"

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        jti = token.get("jti")
        user_id = token.get(api_settings.USER_ID_CLAIM)
        # One cache round trip for the sign-out check and the user's cached permissions (accounts.backends).
        keys = [_denied_key(jti)] if jti else []
        if user_id is not None:
            keys += authz_cache_keys(user_id)
        found = cache.get_many(keys) if keys else {}
        if jti and found.get(_denied_key(jti)):
            from django.utils.translation import gettext_lazy as _

            raise InvalidToken(_("This token was signed out."))
        self._authz_prefetched = found if user_id is not None else None
        return token

    def authenticate(self, request):
        return _activate(request, super().authenticate(request))

    def get_user(self, validated_token):
        # simplejwt's checks plus the tenant's, with the tenant loaded in the same query (every request needs it).
        user = user_for_token(validated_token)
        prefetched = getattr(self, "_authz_prefetched", None)
        if prefetched is not None:
            user._crm_authz_prefetched = prefetched
        return user


class TenantSessionAuthentication(SessionAuthentication):
    """The staff session (browsable docs, htmx calls), with CSRF enforced as usual. A session that must still
    enrol its second factor (see `accounts.stepup.ForceEnrollmentMiddleware`) gets 403, code 40302."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            from accounts.stepup import EnrolmentRequired, enrolment_pending

            if enrolment_pending(request._request, result[0]):
                raise EnrolmentRequired()
        return _activate(request, result)


class TenantTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh (rotation + blacklist), refused like an access token for a refused account."""

    def validate(self, attrs):
        user_for_token(RefreshToken(attrs["refresh"]))
        return super().validate(attrs)

"""DRF authentication that also activates the caller's tenant (JWT users are only known inside the view)."""

from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.tenancy import activate_tenant


def _activate(result):
    if result is not None:
        user, _auth = result
        if not user.is_active:
            return None
        activate_tenant(user.tenant)
        # Views and serializers read the tenant from the request, as staff views do.
        return result
    return None


class TenantJWTAuthentication(JWTAuthentication):
    """Bearer access tokens (simplejwt), then the user's tenant becomes the active scope."""

    www_authenticate_realm = "api"

    def authenticate(self, request):
        result = super().authenticate(request)
        outcome = _activate(result)
        if outcome is not None:
            request._request.tenant = outcome[0].tenant
        return outcome


class TenantSessionAuthentication(SessionAuthentication):
    """The staff session (browsable docs, htmx calls), with CSRF enforced as usual."""

    def authenticate(self, request):
        result = super().authenticate(request)
        outcome = _activate(result)
        if outcome is not None:
            request._request.tenant = outcome[0].tenant
        return outcome

"""Activates the tenant of the signed-in user for the whole request, and restores the scope afterwards."""

from accounts.tenancy import tenant_scope


class TenantMiddleware:
    """Staff session requests run inside their user's tenant; API token users are activated by authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        tenant = user.tenant if user is not None and user.is_authenticated else None
        request.tenant = tenant
        # The scope wraps the whole request; whatever a view switches to is undone when it ends.
        with tenant_scope(tenant):
            return self.get_response(request)

"""Role permission per HTTP method, failing closed.

A view declares `required_perms = {"GET": "app.view_thing", "POST": "app.add_thing", ...}`. A method the view
implements but does not list is refused (403, code 40004): forgetting a method can no longer open it to every
role. `HEAD` follows `GET`; `OPTIONS` is answered to a caller who may use at least one method of the view (it only
describes the endpoint). A method the view does not implement is left to DRF, which answers 405.

`AUTHENTICATED` as a value means "any signed-in user of the tenant" (e.g. one's own notifications): it must be
written down, never implied by a missing entry.

A caller authenticated by a service-account API token (accounts.api_tokens) also needs the method's scope:
`required_scopes = {"GET": "read:customers"}` on the view, or else the scope derived from `required_perms`
(`view_*` -> `read:<area>`, anything else -> `write:<area>`). A method without a scope refuses tokens (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

AUTHENTICATED = "__authenticated__"


def _as_tuple(perm: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if perm is None:
        return None
    if isinstance(perm, str):
        return (perm,)
    return tuple(perm)


def required_permissions(view, method: str) -> tuple[str, ...] | None:
    """The permissions a method needs on `view` (all of them), or None when the view does not say."""
    declared = getattr(view, "required_perms", None) or {}
    method = method.upper()
    if method in declared:
        return _as_tuple(declared[method])
    if method == "HEAD" and "GET" in declared:
        return _as_tuple(declared["GET"])
    return None


def implemented_methods(view) -> list[str]:
    """Methods the view has a handler for (HEAD and OPTIONS excluded: they follow the others)."""
    return [
        method.upper()
        for method in view.http_method_names
        if method not in ("head", "options") and hasattr(view, method)
    ]


def user_may(user, perms: tuple[str, ...]) -> bool:
    if perms == (AUTHENTICATED,):
        return bool(user and user.is_authenticated)
    return bool(user and user.is_authenticated and user.has_perms(perms))


def _api_token(request):
    from accounts.models_auth import ApiToken

    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


def token_may(request, view, method: str) -> bool:
    """True unless the caller is an API token lacking the scope of `method` (or the method declares none)."""
    token = _api_token(request)
    if token is None:
        return True
    from accounts.api_tokens import token_allows

    return token_allows(token, view, method)


class RolePermission(BasePermission):
    """Model permission per HTTP method; methods a view does not list are refused (fail closed)."""

    message = _("You do not have permission to perform this action.")

    def _refuse_scope(self, request, view, method: str) -> bool:
        if token_may(request, view, method):
            return False
        from accounts.api_tokens import required_scopes

        needed = required_scopes(view, method)
        if needed:
            self.message = _("This API token lacks the scope %(scope)s.") % {"scope": ", ".join(needed)}
        else:
            self.message = _("This endpoint cannot be used with an API token.")
        return True

    def has_permission(self, request, view):
        method = request.method.upper()
        if method == "OPTIONS":
            return any(
                user_may(request.user, perms) and token_may(request, view, name)
                for name, perms in ((name, required_permissions(view, name)) for name in implemented_methods(view))
                if perms is not None
            )
        handler_name = "get" if method == "HEAD" else method.lower()
        if method.lower() not in view.http_method_names or not hasattr(view, handler_name):
            return True  # no handler: DRF answers 405 Method Not Allowed
        perms = required_permissions(view, method)
        if perms is None:
            return False
        if not user_may(request.user, perms):
            return False
        return not self._refuse_scope(request, view, method)

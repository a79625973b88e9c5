"""API tokens for service accounts: `Authorization: Bearer crm_<prefix>_<secret>`.

* Created by a tenant administrator with a role, scopes and an expiry; each token acts as its own service-account
  user (no password, cannot sign in to pages) whose role bounds what the scopes allow.
* Stored as SHA-256 of the whole token (the secret has 256 bits, so a plain hash suffices); shown once.
* Revocable; the last use (time, address) is recorded at most once a minute.
* Scopes: every API method needs `read:<area>` (view permissions) or `write:<area>` (any other permission), derived
  from the view's `required_perms` unless the view declares `required_scopes`. A method with neither (e.g. one's
  own notifications, or a permission outside the scoped areas) refuses tokens: fail closed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import User
from accounts.models_auth import ApiToken
from accounts.roles import ROLE_CODES, TENANT_ADMIN
from accounts.tenancy import activate_tenant, tenant_scope, unscoped

TOKEN_PREFIX = "crm_"
# Permission app label -> scope area.
SCOPE_AREAS = {
    "customers": "customers",
    "contracts": "contracts",
    "service_records": "tickets",
    "communications": "communications",
    "health": "health",
    "success_tasks": "tasks",
    "segments": "segments",
}
AREA_LABELS = {
    "customers": _("customers and contacts"),
    "contracts": _("contracts, invoices and payments"),
    "tickets": _("service tickets"),
    "communications": _("communications"),
    "health": _("health scores"),
    "tasks": _("success tasks"),
    "segments": _("segments"),
}


def all_scopes() -> list[tuple[str, str]]:
    """(scope, label) of every scope a token may carry."""
    choices = []
    for area, label in AREA_LABELS.items():
        choices.append((f"read:{area}", _("Read %(area)s") % {"area": label}))
        choices.append((f"write:{area}", _("Write %(area)s") % {"area": label}))
    return choices


def scope_for_permission(perm: str) -> str | None:
    app_label, _dot, codename = perm.partition(".")
    area = SCOPE_AREAS.get(app_label)
    if area is None:
        return None
    return f"{'read' if codename.startswith('view_') else 'write'}:{area}"


def required_scopes(view, method: str) -> tuple[str, ...] | None:
    """The scopes a token needs for `method` on `view` (all of them), or None when tokens are refused."""
    from crm_project.api.permissions import AUTHENTICATED, required_permissions

    declared = getattr(view, "required_scopes", None) or {}
    method = method.upper()
    if method == "HEAD":
        method = "GET"
    if method in declared:
        value = declared[method]
        return (value,) if isinstance(value, str) else tuple(value) if value else None
    perms = required_permissions(view, method)
    if not perms or perms == (AUTHENTICATED,):
        return None
    scopes = tuple(scope_for_permission(perm) for perm in perms)
    if any(scope is None for scope in scopes):
        return None
    # write implies nothing about read and vice versa: each is asked for explicitly.
    return tuple(sorted(set(scopes)))


def token_allows(token: ApiToken, view, method: str) -> bool:
    needed = required_scopes(view, method)
    return needed is not None and set(needed) <= set(token.scopes or ())


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_token(
    *, tenant, created_by, name: str, role: str, scopes: list[str], expires_in_days: int | None
) -> tuple[ApiToken, str]:
    """A new token and its service account; returns (token row, clear token). The clear token is never stored."""
    if role not in ROLE_CODES or role == TENANT_ADMIN:
        raise ValueError(f"role {role!r} cannot be given to a service account")
    known = {scope for scope, _label in all_scopes()}
    unknown = set(scopes) - known
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")
    prefix = secrets.token_hex(6)
    clear = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    service_user = User(tenant=tenant, username=f"svc-{prefix}", display_name=name[:100], is_staff=False, email="")
    service_user.set_unusable_password()
    service_user.save()
    service_user.groups.set([Group.objects.get(name=role)])
    with tenant_scope(tenant):
        token = ApiToken.objects.create(
            tenant=tenant,
            name=name,
            user=service_user,
            prefix=prefix,
            token_hash=_hash(clear),
            scopes=sorted(set(scopes)),
            expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
            created_by=created_by,
        )
    return token, clear


def revoke_token(token: ApiToken) -> None:
    with tenant_scope(token.tenant):
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer crm_…`; any other bearer value is left to the JWT authenticator."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword or not parts[1].startswith(TOKEN_PREFIX.encode()):
            return None
        try:
            clear = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("Invalid API token."), code="token_invalid") from None
        prefix = clear[len(TOKEN_PREFIX) :].split("_", 1)[0]
        with unscoped("an API token names its tenant"):
            token = ApiToken.objects.select_related("user", "tenant").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.token_hash, _hash(clear)):
            raise AuthenticationFailed(_("Invalid API token."), code="token_invalid")
        if token.revoked_at is not None:
            raise AuthenticationFailed(_("This API token has been revoked."), code="token_revoked")
        if token.is_expired:
            raise AuthenticationFailed(_("This API token has expired."), code="token_expired")
        user = token.user
        if not user.is_active or not token.tenant.is_active or user.tenant_id != token.tenant_id:
            raise AuthenticationFailed(_("This API token's account is disabled."), code="account_refused")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            with unscoped("recording the token's last use"):
                ApiToken.objects.filter(pk=token.pk).update(
                    last_used_at=now, last_used_ip=request.META.get("REMOTE_ADDR") or None
                )
        user.tenant = token.tenant
        activate_tenant(token.tenant)
        request._request.tenant = token.tenant
        return user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

"""System-to-system authentication: per-tenant key pairs and HMAC-SHA256 signed requests.

A request carries `X-CRM-Key: KEY_ID`, `X-CRM-Timestamp: <unix seconds>` and
`X-CRM-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`. Older than 300 s,
a wrong signature, an unknown or disabled key, or the same signature twice → 401.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import IntegrationKey, Tenant
from accounts.tenancy import activate_tenant, tenant_scope, unscoped

MAX_SKEW_SECONDS = 300


def integration_key_create(*, tenant: Tenant, name: str = "") -> tuple[IntegrationKey, str]:
    """A new key for `tenant`; returns it with its secret (shown once, to the caller)."""
    secret = secrets.token_hex(32)
    with tenant_scope(tenant):
        key = IntegrationKey.objects.create(name=name, key_id=f"ck_{secrets.token_hex(8)}", secret=secret)
    return key, secret


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body (what a client computes)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class IntegrationPrincipal:
    """The caller of an integration endpoint: a key of one tenant, not a person."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False

    def __init__(self, key: IntegrationKey):
        self.key = key
        self.tenant = key.tenant
        self.pk = f"key:{key.key_id}"
        self.username = f"integration:{key.key_id}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def get_username(self) -> str:
        return self.username


class IntegrationSignatureAuthentication(BaseAuthentication):
    """Authenticates signed requests and activates the key's tenant for the rest of the request."""

    def authenticate_header(self, request) -> str:
        return 'CRM-HMAC realm="integrations"'

    def authenticate(self, request):
        key_id = request.headers.get("X-CRM-Key")
        if not key_id:
            return None
        timestamp = request.headers.get("X-CRM-Timestamp", "")
        signature = request.headers.get("X-CRM-Signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise AuthenticationFailed(_("Missing or stale X-CRM-Timestamp (older than 300 seconds)."))
        with unscoped("an integration key is looked up by its globally unique id"):
            key = IntegrationKey.objects.select_related("tenant").filter(key_id=key_id, is_active=True).first()
        if key is None or not key.tenant.is_active:
            raise AuthenticationFailed(_("Unknown or disabled integration key."))
        expected = sign(key.secret, timestamp, request.body)
        if not hmac.compare_digest(expected, signature):
            raise AuthenticationFailed(_("Invalid X-CRM-Signature."))
        # The same signed request twice is a replay, even inside the time window.
        if not cache.add(f"crm:hmac:{key_id}:{signature}", 1, timeout=MAX_SKEW_SECONDS * 2):
            raise AuthenticationFailed(_("This request was already received (replay)."))
        with unscoped("integration keys are global rows"):
            IntegrationKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        activate_tenant(key.tenant)
        request._request.tenant = key.tenant
        return IntegrationPrincipal(key), key

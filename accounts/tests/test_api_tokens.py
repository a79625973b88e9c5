"""Service-account API tokens: shown once and stored hashed, scopes enforced by RolePermission (fail closed),
expiry, revocation, last use; the tenant administrators' settings page."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_tokens import create_token, required_scopes, scope_for_permission
from accounts.models import AuditLog
from accounts.models_auth import ApiToken
from accounts.tenancy import tenant_scope, unscoped
from crm_project.api import codes
from crm_project.testing import assert_envelope

pytestmark = pytest.mark.django_db


def _bearer(clear: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    return client


def _token(tenant, owner, scopes, role="cs_lead", days=30):
    return create_token(tenant=tenant, created_by=owner, name="sync", role=role, scopes=scopes, expires_in_days=days)


def test_settings_page_creates_a_token_shown_once_and_stored_hashed(tenant, owner):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)
    assert client.get("/accounts/api-tokens/").status_code == 200
    response = client.post(
        "/accounts/api-tokens/",
        {"name": "BI export", "role": "viewer", "scopes": ["read:customers"], "expires_in_days": 30},
    )
    assert response.status_code == 200
    clear = re.search(r'id="api-token-value">(crm_[^<]+)<', response.content.decode()).group(1)
    with tenant_scope(tenant):
        token = ApiToken.objects.get()
    assert token.token_hash == hashlib.sha256(clear.encode()).hexdigest() and clear not in token.token_hash
    assert token.scopes == ["read:customers"] and token.user.role == "viewer" and not token.user.has_usable_password()
    assert token.created_by == owner and token.user.tenant == tenant
    listing = client.get("/accounts/api-tokens/").content.decode()
    assert token.prefix in listing and clear not in listing  # never shown again
    with unscoped("test reads the audit log"):
        assert AuditLog.objects.filter(action="crm.auth.api_token_created", object_id=str(token.pk)).exists()


def test_other_roles_cannot_open_the_token_page(teammate):
    client = Client()
    client.force_login(teammate)
    assert client.get("/accounts/api-tokens/").status_code == 403
    assert client.post("/accounts/api-tokens/", {"name": "x"}).status_code == 403


def test_scopes_are_enforced_and_missing_scopes_fail_closed(tenant, owner):
    _row, clear = _token(tenant, owner, ["read:customers"])
    client = _bearer(clear)
    assert_envelope(client.get("/api/v1/customers"), 200)
    # A write needs write:customers even though the role (cs_lead) may write.
    refused = client.post("/api/v1/customers", {"customer_name": "X"}, format="json")
    assert_envelope(refused, 403, code=codes.PERMISSION_DENIED)
    assert "write:customers" in refused.json()["message"]
    # Another area's scope is missing.
    assert_envelope(client.get("/api/v1/contracts"), 403, code=codes.PERMISSION_DENIED)
    # An endpoint whose permission maps to no scope (one's own notifications) refuses every token.
    assert_envelope(client.get("/api/v1/notifications"), 403, code=codes.PERMISSION_DENIED)


def test_scopes_never_exceed_the_service_accounts_role(tenant, owner):
    _row, clear = _token(tenant, owner, ["read:customers", "write:customers"], role="viewer")
    client = _bearer(clear)
    assert_envelope(client.get("/api/v1/customers"), 200)
    assert_envelope(client.post("/api/v1/customers", {"customer_name": "X"}, format="json"), 403)


def test_revoked_expired_or_unknown_tokens_are_401(tenant, owner):
    row, clear = _token(tenant, owner, ["read:customers"], days=1)
    client = _bearer(clear)
    assert_envelope(client.get("/api/v1/customers"), 200)
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        assert_envelope(client.get("/api/v1/customers"), 401, code=codes.NOT_AUTHENTICATED)
    assert_envelope(_bearer(clear[:-2] + "xx").get("/api/v1/customers"), 401)
    assert_envelope(_bearer("crm_nope_nope").get("/api/v1/customers"), 401)
    page = Client()
    page.force_login(owner)
    assert page.post(f"/accounts/api-tokens/{row.pk}/revoke/").status_code == 302
    response = client.get("/api/v1/customers")
    assert_envelope(response, 401, code=codes.NOT_AUTHENTICATED)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_last_use_is_recorded(tenant, owner):
    row, clear = _token(tenant, owner, ["read:customers"])
    assert row.last_used_at is None
    _bearer(clear).get("/api/v1/customers", REMOTE_ADDR="10.1.2.3")
    with tenant_scope(tenant):
        row.refresh_from_db()
    assert row.last_used_at is not None and row.last_used_ip == "10.1.2.3"


def test_a_token_of_another_tenant_cannot_be_revoked_or_seen(tenant, owner, outsider, other_tenant):
    row, _clear = _token(tenant, owner, ["read:customers"])
    page = Client()
    page.force_login(outsider)
    assert page.post(f"/accounts/api-tokens/{row.pk}/revoke/").status_code == 404
    assert row.prefix not in page.get("/accounts/api-tokens/").content.decode()


def test_token_callers_are_not_asked_for_a_step_up(tenant, owner):
    # Step-up applies to browser sessions only; a service token deleting needs its scope, nothing more.
    _row, clear = _token(tenant, owner, ["read:customers"])
    assert _bearer(clear).delete("/api/v1/customers/999999").status_code in (403, 404)


def test_scope_derivation():
    assert scope_for_permission("customers.view_customer") == "read:customers"
    assert scope_for_permission("service_records.change_servicerecord") == "write:tickets"
    assert scope_for_permission("accounts.view_auditlog") is None

    class View:
        required_perms = {"GET": "customers.view_customer", "POST": "accounts.add_user"}
        required_scopes = {"DELETE": "write:customers"}

    assert required_scopes(View(), "GET") == ("read:customers",)
    assert required_scopes(View(), "HEAD") == ("read:customers",)
    assert required_scopes(View(), "POST") is None
    assert required_scopes(View(), "DELETE") == ("write:customers",)
    assert required_scopes(View(), "PATCH") is None


def test_superuser_without_a_tenant_uses_the_admin_instead(db, password):
    from accounts.models import User

    root = User.objects.create_superuser("root", "root@example.com", password)
    client = Client()
    client.force_login(root)
    assert client.get("/accounts/api-tokens/")["Location"] == "/admin/accounts/apitoken/"
    assert client.get("/admin/accounts/apitoken/").status_code == 200


def test_admin_lists_tokens_devices_and_providers_of_the_own_tenant_only(
    tenant, owner, outsider, other_tenant, password
):
    from accounts.models import User
    from accounts.models_auth import OIDCProvider

    mine, _clear = _token(tenant, owner, ["read:customers"])
    theirs, _clear = _token(other_tenant, outsider, ["read:customers"])
    with tenant_scope(other_tenant):
        OIDCProvider.objects.create(
            slug="other", name="Other SSO", issuer="https://o.example", client_id="c", client_secret="s"
        )
    client = Client()
    client.force_login(owner)
    listing = client.get("/admin/accounts/apitoken/?q=").content.decode()
    assert mine.prefix in listing and theirs.prefix not in listing
    assert client.get(f"/admin/accounts/apitoken/{theirs.pk}/change/").status_code in (302, 404)
    assert "Other SSO" not in client.get("/admin/accounts/oidcprovider/").content.decode()
    assert client.get("/admin/accounts/totpdevice/").status_code == 200
    # Revoking through the admin action works and is audited.
    response = client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [mine.pk]}, follow=False
    )
    assert response.status_code == 302
    with tenant_scope(tenant):
        assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    root = User.objects.create_superuser("root", "root@example.com", password)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(root)
    for url in ("/admin/accounts/oidcprovider/add/", "/admin/accounts/oidcidentity/", "/admin/accounts/totpdevice/"):
        assert client.get(url).status_code == 200, url
    form = {
        "for_tenant": tenant.pk, "name": "Acme SSO", "slug": "acme", "is_active": "on", "issuer": "https://i.example",
        "client_id": "c", "client_secret": "s", "scopes": "openid", "role_claim": "groups",
        "role_mapping": '{"x": "root"}', "default_role": "", "create_users": "on", "allow_local_login": "on",
    }  # fmt: skip
    refused = client.post("/admin/accounts/oidcprovider/add/", form)
    assert refused.status_code == 200 and b"roles only" in refused.content
    form["role_mapping"] = '{"cs": "csm"}'
    assert client.post("/admin/accounts/oidcprovider/add/", form).status_code == 302
    with tenant_scope(tenant):
        assert OIDCProvider.objects.get(slug="acme").role_mapping == {"cs": "csm"}

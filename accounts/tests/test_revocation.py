"""Deactivated tenants and users, password changes: every way back in is closed (issue 8 items 3 and 4)."""

from __future__ import annotations

import pytest
from django.contrib.auth.forms import SetPasswordForm
from django.core.management import call_command

from accounts import tasks
from accounts.models import Notification
from accounts.tenancy import tenant_scope
from crm_project.api import codes
from crm_project.testing import assert_envelope

NEW_PASSWORD = "Another-Horse-77"


def _tokens(client, username, password):
    response = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    return response


def _pair(client, user, password):
    return assert_envelope(_tokens(client, user.username, password), 200)


def _get(client, access):
    return client.get("/api/v1/notifications", HTTP_AUTHORIZATION=f"Bearer {access}", HTTP_ACCEPT_LANGUAGE="en")


def _refresh(client, refresh):
    return client.post("/api/v1/auth/token/refresh", {"refresh": refresh}, content_type="application/json")


def _deactivate_tenant(tenant):
    tenant.is_active = False
    tenant.save()


# --- Item 3: a deactivated tenant ---------------------------------------------------------------------------------
def test_deactivated_tenant_refuses_existing_access_tokens(client, owner, password):
    pair = _pair(client, owner, password)
    assert _get(client, pair["access"]).status_code == 200
    _deactivate_tenant(owner.tenant)
    response = _get(client, pair["access"])
    assert_envelope(response, 401, code=codes.NOT_AUTHENTICATED)
    assert "deactivated" in response.json()["message"]


def test_deactivated_tenant_gets_no_new_tokens_and_says_why(client, owner, password):
    _deactivate_tenant(owner.tenant)
    response = _tokens(client, "owner", password)
    assert_envelope(response, 401, code=codes.NOT_AUTHENTICATED)
    assert "organisation" in response.json()["message"]
    # A wrong password on the same account learns nothing about the tenant.
    wrong = _tokens(client, "owner", "wrong-password")
    assert "organisation" not in wrong.json()["message"]


def test_deactivated_tenant_cannot_refresh(client, owner, password):
    pair = _pair(client, owner, password)
    _deactivate_tenant(owner.tenant)
    assert_envelope(_refresh(client, pair["refresh"]), 401)


def test_deactivated_tenant_login_page_says_why(client, owner, password):
    _deactivate_tenant(owner.tenant)
    client.cookies["django_language"] = "en"
    response = client.post("/accounts/login/", {"username": "owner", "password": password})
    assert response.status_code == 200
    assert "organisation&#x27;s account is deactivated" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_deactivated_tenant_ends_an_open_session(owner, staff_client_as):
    client = staff_client_as(owner)
    assert client.get("/customers/").status_code == 200
    _deactivate_tenant(owner.tenant)
    response = client.get("/customers/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get("/api/v1/notifications").status_code in (401, 403)


def test_jobs_skip_a_deactivated_tenant(owner):
    with tenant_scope(owner.tenant):
        Notification.objects.create(recipient=owner, kind="k", message="m")
    _deactivate_tenant(owner.tenant)
    assert tasks.purge_read_notifications.apply(args=(owner.tenant_id,)).get() == {
        "skipped": "tenant missing or inactive"
    }


# --- Item 4: password changes and deactivated users ---------------------------------------------------------------
def _assert_all_tokens_dead(client, pair):
    assert_envelope(_get(client, pair["access"]), 401)
    assert_envelope(_refresh(client, pair["refresh"]), 401)


def test_password_change_page_revokes_every_token(client, owner, password, staff_client_as):
    pair = _pair(client, owner, password)
    second = _pair(client, owner, password)
    staff = staff_client_as(owner)
    response = staff.post(
        "/accounts/password/",
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    _assert_all_tokens_dead(client, pair)
    _assert_all_tokens_dead(client, second)
    assert staff.get("/customers/").status_code == 200  # the session that changed it stays signed in
    assert_envelope(_tokens(client, "owner", NEW_PASSWORD), 200)


def test_password_reset_by_an_administrator_revokes_every_token(client, owner, password):
    pair = _pair(client, owner, password)
    form = SetPasswordForm(owner, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()
    _assert_all_tokens_dead(client, pair)


def test_changepassword_command_revokes_every_token(client, owner, password, monkeypatch):
    pair = _pair(client, owner, password)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", "owner", stdout=None)
    _assert_all_tokens_dead(client, pair)


def test_deactivating_a_user_revokes_every_token(client, owner, password):
    pair = _pair(client, owner, password)
    owner.is_active = False
    owner.save()
    _assert_all_tokens_dead(client, pair)
    owner.is_active = True
    owner.save()
    # Reactivated: the refresh tokens issued before stay revoked.
    assert_envelope(_refresh(client, pair["refresh"]), 401)


@pytest.mark.parametrize("field", ["display_name", "email"])
def test_other_user_edits_keep_tokens(client, owner, password, field):
    pair = _pair(client, owner, password)
    setattr(owner, field, "changed@example.com" if field == "email" else "Changed")
    owner.save()
    assert _get(client, pair["access"]).status_code == 200
    assert _refresh(client, pair["refresh"]).status_code == 200

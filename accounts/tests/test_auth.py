import json
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import AuditLog
from accounts.tenancy import unscoped
from crm_project.api import codes
from crm_project.testing import assert_envelope


def _token(client, username, password):
    return client.post(
        "/api/v1/auth/token", {"username": username, "password": password}, content_type="application/json"
    )


def _bearer(client, access, url="/api/v1/notifications"):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {access}")


def test_token_pair_is_issued_and_works(client, owner, password):
    data = assert_envelope(_token(client, "owner", password), status=200)
    assert set(data) == {"access", "refresh"}
    assert_envelope(_bearer(client, data["access"]), status=200)


def test_wrong_password_is_401(client, owner):
    assert_envelope(_token(client, "owner", "wrong-password"), status=401, code=codes.NOT_AUTHENTICATED)


def test_access_token_lives_two_hours(client, owner, password):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        access = assert_envelope(_token(client, "owner", password), status=200)["access"]
        traveller.shift(timedelta(hours=1, minutes=59))
        assert _bearer(client, access).status_code == 200
        traveller.shift(timedelta(minutes=2))
        assert_envelope(_bearer(client, access), status=401, code=codes.NOT_AUTHENTICATED)


def test_refresh_token_expires_after_seven_days(client, owner, password):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        refresh = assert_envelope(_token(client, "owner", password), status=200)["refresh"]
        traveller.shift(timedelta(days=7, minutes=1))
        response = client.post("/api/v1/auth/token/refresh", {"refresh": refresh}, content_type="application/json")
        assert_envelope(response, status=401)


def test_token_signed_with_another_key_is_refused(client, owner, password):
    access = assert_envelope(_token(client, "owner", password), status=200)["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-key-but-long-enough-for-hs256", algorithm="HS256")
    assert_envelope(_bearer(client, forged), status=401)


def test_unsigned_alg_none_token_is_refused(client, owner, password):
    access = assert_envelope(_token(client, "owner", password), status=200)["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    assert_envelope(_bearer(client, unsigned), status=401)


def test_refresh_rotates_and_old_refresh_token_cannot_be_reused(client, owner, password):
    first = assert_envelope(_token(client, "owner", password), status=200)
    rotated = client.post("/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, content_type="application/json")
    second = assert_envelope(rotated, status=200)
    assert second["refresh"] != first["refresh"]
    assert_envelope(_bearer(client, second["access"]), status=200)
    reused = client.post("/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, content_type="application/json")
    assert_envelope(reused, status=401)


def test_repeated_failures_lock_out_the_token_endpoint_with_429(client, owner, password):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _token(client, "owner", "bad").status_code == 401
    response = _token(client, "owner", "bad")
    assert_envelope(response, status=429, code=codes.THROTTLED)
    # Even the right password is refused while locked out.
    assert_envelope(_token(client, "owner", password), status=429, code=codes.THROTTLED)


def test_repeated_failures_lock_out_the_login_page_with_429(client, owner, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/accounts/login/", {"username": "owner", "password": "bad"})
    assert response.status_code == 429
    response = client.post("/accounts/login/", {"username": "owner", "password": password})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_logins_and_failures_are_audited(client, owner, password):
    client.post("/accounts/login/", {"username": "owner", "password": "bad"})
    client.post("/accounts/login/", {"username": "owner", "password": password})
    with unscoped("test reads the audit log"):
        actions = list(AuditLog.objects.filter(object_id=str(owner.pk)).values_list("action", flat=True))
    assert "crm.auth.login_failed" in actions and "crm.auth.login" in actions


def test_login_page_signs_in_and_logout_needs_post(client, teammate, password):
    # A CSM without a second factor; tenant administrators are sent to enrol first (accounts/tests/test_totp.py).
    response = client.post("/accounts/login/", {"username": "teammate", "password": password})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_password_change(client, owner, password):
    client.force_login(owner)
    response = client.post(
        "/accounts/password/",
        {"old_password": password, "new_password1": "An0ther-Secret!", "new_password2": "An0ther-Secret!"},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("An0ther-Secret!")


def test_session_cookie_is_http_only(client, owner, password):
    response = client.post("/accounts/login/", {"username": "owner", "password": password})
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]


@pytest.mark.parametrize("language,expected", [("zh-hans", "登录"), ("en", "Sign in")])
def test_login_page_speaks_both_languages(client, language, expected, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    body = client.get("/accounts/login/").content.decode()
    assert expected in body


def test_default_language_is_simplified_chinese(client, db):
    response = client.get("/accounts/login/")
    assert 'lang="zh-hans"' in response.content.decode()


def test_session_api_call_needs_csrf_for_writes(owner):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(owner)
    assert csrf_client.get("/api/v1/notifications").status_code == 200
    response = csrf_client.post("/api/v1/notifications/1/read")
    assert response.status_code == 403
    assert json.loads(response.content)["code"] == codes.PERMISSION_DENIED


@pytest.mark.django_db
def test_operator_without_a_tenant_gets_a_plain_404_not_a_crash():
    """A superuser bound to no tenant (the operator) renders the staff error pages: the navigation skips the
    tenant-owned badges instead of querying without a tenant."""
    from django.test import Client

    from accounts.models import User

    operator = User.objects.create_superuser("operator", "op@example.com", "x-long-password-1")
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    assert client.get("/no-such-page/").status_code == 404

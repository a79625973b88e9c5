"""Second factor for staff (PRD 7.1): enrolment with QR, sign-in code step, recovery codes, forced enrolment for
tenant administrators, lockout of the code step, and the API's `otp_code`."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.test import Client

from accounts import stepup, totp
from accounts.models import AuditLog
from accounts.models_auth import RecoveryCode, TOTPDevice
from accounts.tenancy import unscoped
from crm_project.api import codes
from crm_project.testing import assert_envelope

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def _enroll(user) -> tuple[str, list[str]]:
    """A confirmed device for `user` (through the service, with a code of the previous step)."""
    secret = totp.new_secret()
    recovery = totp.enroll(user, secret, pyotp.TOTP(secret).at(time.time() - 30))
    assert recovery is not None
    return secret, recovery


def _next_code(secret: str) -> str:
    """A code newer than the one used at enrolment (the device refuses replays)."""
    return pyotp.TOTP(secret).now()


def test_enrolment_page_shows_a_qr_code_and_confirms_with_a_code(teammate):
    client = _client(teammate)
    page = client.get("/accounts/two-factor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml' in html
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
    wrong = client.post("/accounts/two-factor/", {"code": "000000"})
    assert wrong.status_code == 200 and b"does not match" in wrong.content
    assert not TOTPDevice.objects.filter(user=teammate).exists()
    done = client.post("/accounts/two-factor/", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    shown = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.content.decode())
    assert len(shown) == totp.RECOVERY_CODE_COUNT
    assert TOTPDevice.objects.get(user=teammate).confirmed_at is not None
    stored = list(RecoveryCode.objects.filter(user=teammate).values_list("code_hash", flat=True))
    assert len(stored) == totp.RECOVERY_CODE_COUNT
    assert not any(code.replace("-", "") in digest or code in digest for code in shown for digest in stored)
    with unscoped("test reads the audit log"):
        assert AuditLog.objects.filter(action="crm.auth.second_factor_enabled", actor=teammate).exists()


def test_sign_in_asks_for_the_code_and_a_code_works_once(teammate, password):
    secret, _recovery = _enroll(teammate)
    client = _client()
    response = client.post("/accounts/login/", {"username": teammate.username, "password": password})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/verify/"
    assert "_auth_user_id" not in client.session  # the password alone did not sign in
    assert client.get("/").status_code == 302
    code = _next_code(secret)
    assert client.post("/accounts/login/verify/", {"code": code})["Location"] == "/"
    assert client.get("/").status_code == 200
    # The same code cannot sign in a second time (replay).
    other = _client()
    other.post("/accounts/login/", {"username": teammate.username, "password": password})
    replay = other.post("/accounts/login/verify/", {"code": code})
    assert replay.status_code == 200 and "_auth_user_id" not in other.session


def test_recovery_codes_are_single_use_and_can_be_renewed(teammate, password):
    _secret, recovery = _enroll(teammate)

    def sign_in(code):
        client = _client()
        client.post("/accounts/login/", {"username": teammate.username, "password": password})
        client.post("/accounts/login/verify/", {"code": code})
        return "_auth_user_id" in client.session, client

    ok, client = sign_in(recovery[0].upper())  # case and dash are forgiven
    assert ok
    assert sign_in(recovery[0])[0] is False
    assert totp.remaining_recovery_codes(teammate) == totp.RECOVERY_CODE_COUNT - 1
    # Renewing (a sensitive action: the sign-in just confirmed the factor) replaces every old code.
    renewed = client.post("/accounts/two-factor/recovery-codes/")
    assert renewed.status_code == 200
    assert sign_in(recovery[1])[0] is False
    new_codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", renewed.content.decode())
    assert sign_in(new_codes[0])[0] is True


def test_wrong_codes_lock_the_second_step_with_429(teammate, password):
    _enroll(teammate)
    client = _client()
    client.post("/accounts/login/", {"username": teammate.username, "password": password})
    for _attempt in range(totp.FAILURE_LIMIT - 1):
        assert client.post("/accounts/login/verify/", {"code": "123456"}).status_code == 200
    assert client.post("/accounts/login/verify/", {"code": "123456"}).status_code == 429
    # A new password sign-in does not reset the counter of the code step.
    again = _client()
    again.post("/accounts/login/", {"username": teammate.username, "password": password})
    assert again.get("/accounts/login/verify/").status_code == 429


def test_tenant_admin_must_enrol_at_the_next_sign_in(owner, password):
    client = _client()
    response = client.post("/accounts/login/", {"username": "owner", "password": password})
    assert response.status_code == 302
    for url in ("/", "/customers/", "/accounts/audit/"):
        assert client.get(url)["Location"] == "/accounts/two-factor/", url
    page = client.get("/accounts/two-factor/")
    assert b"must use two-step sign-in" in page.content
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.content.decode()).group(1)
    client.post("/accounts/two-factor/", {"code": pyotp.TOTP(secret).now()})
    assert client.get("/").status_code == 200
    # Tenant administrators cannot turn it off again.
    client.post("/accounts/two-factor/disable/", {"code": pyotp.TOTP(secret).now()})
    assert TOTPDevice.objects.filter(user=owner).exists()


def test_forced_enrolment_also_blocks_session_api_calls_but_not_tokens(owner, password, api_as):
    client = _client()
    client.post("/accounts/login/", {"username": "owner", "password": password})
    for method, url in (("get", "/api/v1/customers"), ("post", "/api/v1/customers"), ("get", "/api/v1/notifications")):
        response = getattr(client, method)(url, {} if method == "get" else {"customer_name": "X"})
        assert_envelope(response, 403)
        assert response.json()["code"] == codes.ENROLMENT_REQUIRED, url
        assert "/accounts/two-factor/" in response.json()["message"], url
    # A JWT client (no session) keeps its own rules.
    assert api_as(owner).get("/api/v1/customers").status_code == 200
    # Once enrolled, the same session may use the API.
    page = client.get("/accounts/two-factor/")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.content.decode()).group(1)
    client.post("/accounts/two-factor/", {"code": pyotp.TOTP(secret).now()})
    assert client.get("/api/v1/customers").status_code == 200


def test_tenant_policy_makes_every_user_enrol(teammate, password, tenant):
    open_client = _client()
    open_client.post("/accounts/login/", {"username": teammate.username, "password": password})
    assert open_client.get("/customers/").status_code == 200  # a CSM of a tenant without the policy
    tenant.require_second_factor = True
    tenant.save(update_fields=["require_second_factor"])
    client = _client()
    client.post("/accounts/login/", {"username": teammate.username, "password": password})
    assert client.get("/customers/")["Location"] == "/accounts/two-factor/"
    assert client.get("/api/v1/customers").json()["code"] == codes.ENROLMENT_REQUIRED


def test_csm_may_turn_the_second_factor_off_with_a_code(teammate):
    secret, _recovery = _enroll(teammate)
    client = _client(teammate)
    client.post("/accounts/two-factor/disable/", {"code": "000000"})
    assert TOTPDevice.objects.filter(user=teammate).exists()
    client.post("/accounts/two-factor/disable/", {"code": _next_code(secret)})
    assert not TOTPDevice.objects.filter(user=teammate).exists()
    assert not RecoveryCode.objects.filter(user=teammate).exists()


def test_step_up_prompt_returns_to_the_page_and_opens_a_window(teammate, settings):
    secret, _recovery = _enroll(teammate)
    client = _client(teammate)  # signed in earlier: no fresh second factor in this session
    response = client.get("/customers/export/?format=csv")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/step-up/?next=")
    prompt = client.get(response["Location"])
    assert prompt.status_code == 200 and b"sensitive action" in prompt.content
    back = client.post("/accounts/step-up/", {"code": _next_code(secret), "next": "/customers/export/?format=csv"})
    assert back["Location"] == "/customers/export/?format=csv"
    assert client.get("/customers/export/?format=csv").status_code == 200
    # After the window the prompt comes back.
    session = client.session
    session[stepup.SESSION_STEP_UP_AT] = time.time() - settings.STEP_UP_WINDOW_SECONDS - 1
    session.save()
    assert client.get("/customers/export/?format=csv").status_code == 302


def test_step_up_next_cannot_leave_the_site(teammate):
    secret, _recovery = _enroll(teammate)
    client = _client(teammate)
    back = client.post("/accounts/step-up/", {"code": _next_code(secret), "next": "https://evil.example/"})
    assert back["Location"] == "/"


def test_token_endpoint_needs_the_second_factor_too(client, teammate, password):
    secret, recovery = _enroll(teammate)
    body = {"username": teammate.username, "password": password}

    def post(data):
        return client.post("/api/v1/auth/token", data, content_type="application/json")

    assert_envelope(post(body), 401, code=codes.SECOND_FACTOR_REQUIRED)
    assert_envelope(post({**body, "otp_code": "000000"}), 401, code=codes.SECOND_FACTOR_REQUIRED)
    data = assert_envelope(post({**body, "otp_code": _next_code(secret)}), 200)
    assert data["access"] and data["refresh"]
    assert_envelope(post({**body, "otp_code": recovery[0]}), 200)


def test_second_factor_failures_on_the_token_endpoint_lock_out(client, teammate, password):
    _enroll(teammate)
    body = {"username": teammate.username, "password": password, "otp_code": "111111"}
    for _attempt in range(totp.FAILURE_LIMIT - 1):
        assert client.post("/api/v1/auth/token", body, content_type="application/json").status_code == 401
    assert_envelope(client.post("/api/v1/auth/token", body, content_type="application/json"), 429, code=codes.THROTTLED)

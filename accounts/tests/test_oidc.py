"""Single sign-on through OpenID Connect, against a fake provider in-process: discovery, token and JWKS endpoints
answered by a replaced `urlopen`, id_tokens really signed with RS256."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import urllib.parse

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from accounts import oidc
from accounts.models import User
from accounts.models_auth import OIDCIdentity, OIDCProvider
from accounts.tenancy import tenant_scope
from crm_project.api import codes
from crm_project.testing import assert_envelope

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.example.com"


def _private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY = _private_key()
OTHER_KEY = _private_key()


class FakeProvider:
    """Answers discovery, token and JWKS requests; `claims` and `signing_key` decide the next id_token."""

    def __init__(self):
        self.signing_key = KEY
        self.claims: dict = {}
        self.codes: dict[str, dict] = {}  # code -> the authorization request's parameters
        self.header: dict = {"kid": "k1"}
        self.calls: list[str] = []

    def authorize(self, url: str, code: str = "the-code") -> dict:
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.codes[code] = params
        return params

    def urlopen(self, request, timeout=None):
        url = request.full_url
        self.calls.append(url)
        if url == f"{ISSUER}/.well-known/openid-configuration":
            body = {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
            }
        elif url == f"{ISSUER}/jwks":
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
            body = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        elif url == f"{ISSUER}/token":
            form = dict(urllib.parse.parse_qsl(request.data.decode()))
            params = self.codes.pop(form.get("code"), None)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=")
            if params is None or challenge.decode() != params["code_challenge"] or form["client_secret"] != "s3cret":
                raise OSError("HTTP 400 invalid_grant")
            now = int(time.time())
            claims = {
                "iss": ISSUER,
                "aud": "crm-client",
                "iat": now,
                "exp": now + 300,
                "nonce": params["nonce"],
                **self.claims,
            }
            token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers=self.header)
            body = {"access_token": "at", "token_type": "Bearer", "id_token": token}
        else:
            raise OSError(f"unexpected URL {url}")
        return io.BytesIO(json.dumps(body).encode())


@pytest.fixture
def provider(tenant):
    with tenant_scope(tenant):
        return OIDCProvider.objects.create(
            slug="acme",
            name="Acme SSO",
            issuer=ISSUER,
            client_id="crm-client",
            client_secret="s3cret",
            role_claim="groups",
            role_mapping={"crm-admins": "tenant_admin", "cs": "csm"},
        )


@pytest.fixture
def idp(monkeypatch):
    fake = FakeProvider()
    monkeypatch.setattr(oidc, "urlopen", fake.urlopen)
    return fake


def _sign_in(client: Client, idp: FakeProvider, claims: dict, *, code: str = "the-code"):
    idp.claims = claims
    start = client.get("/accounts/sso/acme/login/?next=/customers/")
    assert start.status_code == 302 and start["Location"].startswith(f"{ISSUER}/authorize?")
    params = idp.authorize(start["Location"], code)
    assert params["code_challenge_method"] == "S256" and params["client_id"] == "crm-client"
    return client.get("/accounts/sso/callback/", {"code": code, "state": params["state"]})


def test_login_page_shows_the_provider_button(client, provider):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert b"/accounts/sso/acme/login/" in page.content and b"Acme SSO" in page.content


def test_first_sign_in_creates_the_user_with_the_mapped_role(tenant, provider, idp):
    client = Client()
    claims = {"sub": "u-1", "email": "li@acme.test", "email_verified": True, "groups": ["cs"], "name": "Li"}
    response = _sign_in(client, idp, claims)
    assert response.status_code == 302 and response["Location"] == "/customers/"
    user = User.objects.get(email="li@acme.test")
    assert user.tenant == tenant and user.role == "csm" and not user.has_usable_password()
    assert client.get("/customers/").status_code == 200
    # The next sign-in finds the same user by `sub` and follows a role change at the provider.
    second = Client()
    _sign_in(second, idp, {**claims, "email": "renamed@acme.test", "groups": ["cs", "crm-admins"]})
    user = User.objects.get(pk=user.pk)
    assert User.objects.filter(tenant=tenant, email__startswith="li").count() == 1
    assert user.role == "tenant_admin"
    with tenant_scope(tenant):
        assert OIDCIdentity.objects.filter(provider=provider, subject="u-1", user=user).exists()


def test_existing_user_with_verified_email_is_linked(tenant, teammate, provider, idp):
    response = _sign_in(Client(), idp, {"sub": "t", "email": teammate.email, "email_verified": True, "groups": "cs"})
    assert response.status_code == 302 and response["Location"] == "/customers/"
    with tenant_scope(tenant):
        assert OIDCIdentity.objects.get(subject="t").user == teammate


def test_unverified_email_does_not_take_over_an_existing_user(tenant, teammate, provider, idp):
    _sign_in(Client(), idp, {"sub": "evil", "email": teammate.email, "email_verified": False, "groups": "cs"})
    with tenant_scope(tenant):
        assert OIDCIdentity.objects.get(subject="evil").user != teammate


@pytest.mark.parametrize(
    "change",
    [
        "wrong_key",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "wrong_nonce",
        "no_role",
        "alg_none",
    ],
)
def test_forged_or_unusable_id_tokens_are_refused(change, provider, idp):
    claims = {"sub": "x", "email": "x@acme.test", "email_verified": True, "groups": ["cs"]}
    if change == "wrong_key":
        idp.signing_key = OTHER_KEY
    elif change == "expired":
        claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    elif change == "wrong_audience":
        claims["aud"] = "someone-else"
    elif change == "wrong_issuer":
        claims["iss"] = "https://evil.example.com"
    elif change == "wrong_nonce":
        claims["nonce"] = "replayed"
    elif change == "no_role":
        claims["groups"] = ["marketing"]
    elif change == "alg_none":
        original = idp.urlopen

        def unsigned(request, timeout=None):
            answer = original(request, timeout)
            if request.full_url.endswith("/token"):
                body = json.loads(answer.getvalue())
                payload = jwt.decode(body["id_token"], options={"verify_signature": False})
                body["id_token"] = jwt.encode(payload, None, algorithm="none")
                return io.BytesIO(json.dumps(body).encode())
            return answer

        idp.urlopen = unsigned
        oidc.urlopen = unsigned
    client = Client()
    response = _sign_in(client, idp, claims)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(email="x@acme.test").exists()


def test_callback_without_a_started_flow_or_with_a_wrong_state_is_refused(provider, idp):
    client = Client()
    assert client.get("/accounts/sso/callback/", {"code": "c", "state": "s"})["Location"] == "/accounts/login/"
    start = client.get("/accounts/sso/acme/login/")
    idp.authorize(start["Location"])
    assert client.get("/accounts/sso/callback/", {"code": "the-code", "state": "forged"}).status_code == 302
    assert "_auth_user_id" not in client.session
    assert not any(call.endswith("/token") for call in idp.calls)  # no code was exchanged


def test_callback_abuse_is_locked_out_with_429(provider, idp):
    client = Client()
    for _attempt in range(oidc.FAILURE_LIMIT):
        assert client.get("/accounts/sso/callback/", {"code": "c", "state": "s"}).status_code == 302
    assert client.get("/accounts/sso/callback/", {"code": "c", "state": "s"}).status_code == 429
    assert client.get("/accounts/sso/acme/login/").status_code == 429


def test_disabling_local_login_refuses_passwords_but_not_superusers(tenant, teammate, password, provider):
    provider.allow_local_login = False
    with tenant_scope(tenant):
        provider.save()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = client.post("/accounts/login/", {"username": teammate.username, "password": password})
    assert page.status_code == 200 and b"Sign in with Acme SSO" in page.content
    assert "_auth_user_id" not in client.session
    token = client.post(
        "/api/v1/auth/token", {"username": teammate.username, "password": password}, content_type="application/json"
    )
    assert_envelope(token, 401, code=codes.NOT_AUTHENTICATED)
    assert "Acme SSO" in token.json()["message"]
    # Break-glass: a superuser still signs in with a password.
    User.objects.create_superuser("root", "root@example.com", password)
    assert Client().post("/accounts/login/", {"username": "root", "password": password}).status_code == 302


def test_unknown_provider_is_404(db):
    assert Client().get("/accounts/sso/nope/login/").status_code == 404


# --- The CRM's second factor after an SSO sign-in -------------------------------------------------------------------
ADMIN_CLAIMS = {"sub": "adm-1", "email": "boss@acme.test", "email_verified": True, "groups": ["crm-admins"]}


def test_sso_admin_without_device_must_enrol_before_anything(provider, idp):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = _sign_in(client, idp, {**ADMIN_CLAIMS, "amr": ["pwd", "mfa"]})  # MFA not trusted by this tenant
    assert response.status_code == 302
    for url in ("/", "/customers/"):
        assert client.get(url)["Location"] == "/accounts/two-factor/", url
    api = client.get("/api/v1/customers")
    assert_envelope(api, 403)
    assert api.json()["code"] == codes.ENROLMENT_REQUIRED
    assert client.get("/accounts/two-factor/").status_code == 200


def test_sso_user_with_a_device_passes_the_crm_code_step(tenant, provider, idp):
    import pyotp

    from accounts import totp

    claims = {"sub": "u-7", "email": "wu@acme.test", "email_verified": True, "groups": ["cs"]}
    _sign_in(Client(), idp, claims)  # first sign-in creates the user
    user = User.objects.get(email="wu@acme.test")
    secret = totp.new_secret()
    totp.enroll(user, secret, pyotp.TOTP(secret).at(time.time() - 30))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = _sign_in(client, idp, claims)
    assert response["Location"] == "/accounts/login/verify/"
    assert "_auth_user_id" not in client.session  # no session before the CRM code
    assert client.get("/customers/").status_code == 302
    assert client.get("/api/v1/customers").status_code in (401, 403)
    done = client.post("/accounts/login/verify/", {"code": pyotp.TOTP(secret).now()})
    assert done["Location"] == "/customers/"
    assert client.get("/customers/").status_code == 200


def test_tenant_policy_applies_to_sso_users_too(tenant, provider, idp):
    tenant.require_second_factor = True
    tenant.save(update_fields=["require_second_factor"])
    client = Client()
    _sign_in(client, idp, {"sub": "u-8", "email": "ma@acme.test", "email_verified": True, "groups": ["cs"]})
    assert client.get("/customers/")["Location"] == "/accounts/two-factor/"


@pytest.mark.parametrize(
    ("amr", "trusted"),
    [(["pwd", "mfa"], True), (["otp"], True), (["hwk", "pwd"], True), (["pwd"], False), (None, False)],
)
def test_trusted_idp_mfa_counts_only_when_the_amr_claim_shows_it(provider, idp, amr, trusted):
    provider.trust_idp_mfa = True
    provider.save(update_fields=["trust_idp_mfa"])
    claims = {**ADMIN_CLAIMS, **({"amr": amr} if amr is not None else {})}
    client = Client()
    _sign_in(client, idp, claims)
    if trusted:
        assert client.get("/customers/").status_code == 200
        assert client.get("/api/v1/customers").status_code == 200
    else:
        assert client.get("/customers/")["Location"] == "/accounts/two-factor/"
        assert client.get("/api/v1/customers").json()["code"] == codes.ENROLMENT_REQUIRED

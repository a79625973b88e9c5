"""Per-tenant single sign-on through OpenID Connect: the authorization-code flow with PKCE, state and nonce.

A small implementation on PyJWT (see docs/decisions.md): discovery document, token endpoint (client_secret_post),
id_token verified against the provider's JWKS (RS256/ES256 only: `alg: none` and HMAC algorithms are refused),
`iss`, `aud`, `exp`, `iat` and the session's `nonce` checked. The user is found by (provider, `sub`); a first
sign-in links an existing user of the tenant with the same verified e-mail, or creates one when the provider allows
it. The role follows the mapped claim on every sign-in.

Also here: `local_login_refusal(user)` — password sign-in refused for tenants whose provider disables it
(superusers, who have no tenant or are the break-glass accounts, are never refused).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import jwt
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.models_auth import OIDCIdentity, OIDCProvider
from accounts.roles import ROLE_CODES
from accounts.tenancy import tenant_scope, unscoped

SESSION_KEY = "secauth_oidc_flow"
FLOW_MAX_AGE = 10 * 60
HTTP_TIMEOUT = 10
ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "PS256"]
# RFC 8176 `amr` values that show the provider itself used more than a password (multi-factor, one-time code,
# hardware or software key, smart card). Only counted when the tenant's provider has `trust_idp_mfa` on.
MFA_AMR_VALUES = frozenset({"mfa", "otp", "hwk", "swk", "sc"})
FAILURE_LIMIT = 10
LOCKOUT_SECONDS = 15 * 60
urlopen = urllib.request.urlopen  # tests replace this with a fake provider


class OIDCError(Exception):
    """The sign-in cannot go on; the message is shown to the user."""


def active_providers():
    with unscoped("the sign-in page lists every tenant's provider"):
        return list(OIDCProvider.objects.filter(is_active=True).select_related("tenant").order_by("name"))


def provider_by_slug(slug: str) -> OIDCProvider | None:
    with unscoped("the provider is chosen before anyone is signed in"):
        return OIDCProvider.objects.select_related("tenant").filter(slug=slug, is_active=True).first()


def local_login_refusal(user) -> str | None:
    """Why password sign-in is refused for `user` (the tenant signs in through its provider), or None."""
    if user is None or user.is_superuser or user.tenant_id is None:
        return None
    with unscoped("checked before the user's tenant is active"):
        provider = OIDCProvider.objects.filter(tenant_id=user.tenant_id, is_active=True).first()
    if provider is None or provider.allow_local_login:
        return None
    return _("Your organisation signs in through %(name)s: use the “Sign in with %(name)s” button.") % {
        "name": provider.name
    }


# --- HTTP ----------------------------------------------------------------------------------------------------------
def _http_json(url: str, data: dict | None = None) -> dict:
    if not url.startswith("https://") and not url.startswith("http://"):
        raise OIDCError(_("The identity provider is misconfigured."))
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Accept": "application/json"})
    try:
        with urlopen(request, timeout=HTTP_TIMEOUT) as response:
            payload = response.read(1_000_000)
        parsed = json.loads(payload)
    except Exception as exc:  # network error, HTTP error, not JSON: one message for the user
        raise OIDCError(_("The identity provider could not be reached; try again later.")) from exc
    if not isinstance(parsed, dict):
        raise OIDCError(_("The identity provider answered something unexpected."))
    return parsed


@dataclass
class Endpoints:
    authorization: str
    token: str
    jwks: str


def endpoints(provider: OIDCProvider) -> Endpoints:
    if provider.authorization_endpoint and provider.token_endpoint and provider.jwks_uri:
        return Endpoints(provider.authorization_endpoint, provider.token_endpoint, provider.jwks_uri)
    key = f"secauth:oidc-discovery:{provider.pk}:{hashlib.sha256(provider.issuer.encode()).hexdigest()[:16]}"
    document = cache.get(key)
    if document is None:
        document = _http_json(provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
        cache.set(key, document, 3600)
    try:
        return Endpoints(
            provider.authorization_endpoint or document["authorization_endpoint"],
            provider.token_endpoint or document["token_endpoint"],
            provider.jwks_uri or document["jwks_uri"],
        )
    except KeyError:
        raise OIDCError(_("The identity provider's discovery document is incomplete.")) from None


# --- The flow ------------------------------------------------------------------------------------------------------
def _pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def start(request, provider: OIDCProvider, redirect_uri: str, next_url: str) -> str:
    """Remember state, nonce and PKCE verifier in the session; return the provider's authorization URL."""
    flow = {
        "provider": provider.pk,
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(48),
        "next": next_url,
        "at": time.time(),
    }
    request.session[SESSION_KEY] = flow
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": provider.scopes,
            "state": flow["state"],
            "nonce": flow["nonce"],
            "code_challenge": _pkce_challenge(flow["verifier"]),
            "code_challenge_method": "S256",
        }
    )
    authorization = endpoints(provider).authorization
    return f"{authorization}{'&' if '?' in authorization else '?'}{query}"


def verify_id_token(provider: OIDCProvider, id_token: str, nonce: str) -> dict:
    """The id_token's claims after checking signature (JWKS), issuer, audience, expiry and nonce."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise OIDCError(_("The identity provider's answer could not be verified.")) from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise OIDCError(_("The identity provider's answer could not be verified."))
    jwks = _http_json(endpoints(provider).jwks)
    keys = [key for key in jwks.get("keys", []) if isinstance(key, dict)]
    kid = header.get("kid")
    candidates = [key for key in keys if kid is None or key.get("kid") == kid]
    if not candidates:
        raise OIDCError(_("The identity provider's answer could not be verified."))
    for candidate in candidates:
        try:
            signing_key = jwt.PyJWK(candidate, algorithm=header["alg"])
            claims = jwt.decode(
                id_token,
                key=signing_key.key,
                algorithms=[header["alg"]],
                audience=provider.client_id,
                issuer=provider.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=60,
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OIDCError(_("The sign-in could not be verified (nonce mismatch); start again."))
        return claims
    raise OIDCError(_("The identity provider's answer could not be verified."))


def _role_from_claims(provider: OIDCProvider, claims: dict) -> str | None:
    value = claims.get(provider.role_claim)
    values = value if isinstance(value, list) else [value] if value is not None else []
    mapped = (
        {provider.role_mapping.get(str(item)) for item in values} if isinstance(provider.role_mapping, dict) else set()
    )
    for code in ROLE_CODES:  # the highest role wins when several claims map
        if code in mapped:
            return code
    return provider.default_role if provider.default_role in ROLE_CODES else None


@transaction.atomic
def _user_for_claims(provider: OIDCProvider, claims: dict, role: str) -> User:
    subject = str(claims["sub"])[:255]
    with tenant_scope(provider.tenant):
        identity = OIDCIdentity.objects.select_related("user").filter(provider=provider, subject=subject).first()
        if identity is not None:
            user = identity.user
        else:
            email = str(claims.get("email") or "")[:254]
            user = None
            if email and claims.get("email_verified") is True:
                user = User.objects.filter(tenant=provider.tenant, email__iexact=email, is_superuser=False).first()
            if user is None:
                if not provider.create_users:
                    raise OIDCError(_("No account of this organisation matches you; ask your administrator."))
                base = str(claims.get("preferred_username") or email.split("@")[0] or f"sso-{subject}")[:100]
                username = base
                while User.objects.filter(username=username).exists():
                    username = f"{base[:90]}-{secrets.token_hex(3)}"
                user = User(
                    tenant=provider.tenant,
                    username=username,
                    email=email,
                    display_name=str(claims.get("name") or "")[:100],
                )
                user.set_unusable_password()
                user.save()
            identity = OIDCIdentity.objects.create(provider=provider, subject=subject, user=user)
        if user.tenant_id != provider.tenant_id or user.is_superuser:
            raise OIDCError(_("This identity belongs to another organisation."))
        OIDCIdentity.objects.filter(pk=identity.pk).update(last_login_at=timezone.now())
    current = set(user.groups.values_list("name", flat=True))
    if current & set(ROLE_CODES) != {role}:
        others = [group for group in user.groups.all() if group.name not in ROLE_CODES]
        user.groups.set([*others, Group.objects.get(name=role)])
    return user


def idp_mfa_accepted(provider: OIDCProvider, claims: dict) -> bool:
    """True when the tenant trusts its provider's MFA and this ID token's `amr` claim shows a second factor."""
    if not provider.trust_idp_mfa:
        return False
    amr = claims.get("amr")
    values = amr if isinstance(amr, list) else [amr] if isinstance(amr, str) else []
    return any(str(value).lower() in MFA_AMR_VALUES for value in values)


def finish(request, redirect_uri: str) -> tuple[User, str, bool]:
    """Complete the flow from the callback's query; returns (user, next URL, whether the provider's MFA counts as
    the second factor). Raises OIDCError."""
    flow = request.session.pop(SESSION_KEY, None)
    if not isinstance(flow, dict) or time.time() - flow.get("at", 0) > FLOW_MAX_AGE:
        raise OIDCError(_("The sign-in has expired or was not started here; start again."))
    state = request.GET.get("state", "")
    if not state or not secrets.compare_digest(state, flow["state"]):
        raise OIDCError(_("The sign-in could not be verified (state mismatch); start again."))
    if request.GET.get("error"):
        raise OIDCError(_("The identity provider refused the sign-in."))
    code = request.GET.get("code", "")
    if not code or len(code) > 2000:
        raise OIDCError(_("The identity provider sent no authorization code."))
    with unscoped("the provider named by the flow"):
        provider = OIDCProvider.objects.select_related("tenant").filter(pk=flow["provider"], is_active=True).first()
    if provider is None or not provider.tenant.is_active:
        raise OIDCError(_("This sign-in method is no longer available."))
    tokens = _http_json(
        endpoints(provider).token,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
            "code_verifier": flow["verifier"],
        },
    )
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise OIDCError(_("The identity provider sent no identity token."))
    claims = verify_id_token(provider, id_token, flow["nonce"])
    role = _role_from_claims(provider, claims)
    if role is None:
        raise OIDCError(_("Your identity provider gives you no role in this CRM; ask your administrator."))
    user = _user_for_claims(provider, claims, role)
    if not user.is_active:
        raise OIDCError(_("This account is deactivated."))
    return user, flow.get("next") or "", idp_mfa_accepted(provider, claims)


# --- Abuse of the callback: failures per address → 429 -------------------------------------------------------------
def _lock_key(ip: str) -> str:
    return f"secauth:oidc-failures:{hashlib.sha256(ip.encode()).hexdigest()[:32]}"


def is_locked(ip: str) -> bool:
    return (cache.get(_lock_key(ip)) or 0) >= FAILURE_LIMIT


def record_failure(ip: str) -> None:
    key = _lock_key(ip)
    if not cache.add(key, 1, timeout=LOCKOUT_SECONDS):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=LOCKOUT_SECONDS)

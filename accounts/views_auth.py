"""Staff pages of the second factor, single sign-on and API tokens (PRD 7.1)."""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts import api_tokens, oidc, stepup, totp
from accounts.lockout import lockout_response
from accounts.models_auth import ApiToken
from accounts.roles import ROLE_CODES, TENANT_ADMIN
from accounts.services import account_refusal, audit_record

PENDING_KEY = "secauth_pending_user"
PENDING_BACKEND_KEY = "secauth_pending_backend"
PENDING_AT_KEY = "secauth_pending_at"
PENDING_NEXT_KEY = "secauth_pending_next"
PENDING_MAX_AGE = 5 * 60
SETUP_SECRET_KEY = "secauth_totp_setup"
ROLE_LABELS = {
    "cs_lead": gettext_lazy("Customer success lead"),
    "csm": gettext_lazy("Customer success manager"),
    "finance": gettext_lazy("Finance"),
    "viewer": gettext_lazy("Viewer"),
}


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Authenticator code or recovery code"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )


def _safe_next(request, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _too_many(request):
    return lockout_response(request)


# --- Sign-in: the password step hands over to the code step when the user has a device ----------------------------
def begin_second_step(request, user, next_url: str):
    """Called by the login view after a right password: remember who, ask for the code."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = user.pk
    request.session[PENDING_BACKEND_KEY] = getattr(user, "backend", None) or settings.AUTHENTICATION_BACKENDS[1]
    request.session[PENDING_AT_KEY] = time.time()
    request.session[PENDING_NEXT_KEY] = next_url
    return redirect("accounts:login_verify")


def _pending_user(request):
    user_id = request.session.get(PENDING_KEY)
    at = request.session.get(PENDING_AT_KEY) or 0
    if not user_id or time.time() - at > PENDING_MAX_AGE:
        return None
    user = get_user_model().objects.select_related("tenant").filter(pk=user_id).first()
    if user is None or account_refusal(user) is not None:
        return None
    return user


def _clear_pending(request) -> None:
    for key in (PENDING_KEY, PENDING_BACKEND_KEY, PENDING_AT_KEY, PENDING_NEXT_KEY):
        request.session.pop(key, None)


def login_verify(request):
    """The second sign-in step: authenticator code or a recovery code."""
    user = _pending_user(request)
    if user is None:
        _clear_pending(request)
        messages.info(request, _("Sign in again."))
        return redirect("accounts:login")
    if totp.is_locked(user):
        _clear_pending(request)
        return _too_many(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kind = totp.verify(user, form.cleaned_data["code"])
        if kind is None:
            audit_record(
                action="crm.auth.second_factor_failed", actor=user, obj=user, request=request, tenant=user.tenant
            )
            if totp.is_locked(user):
                _clear_pending(request)
                return _too_many(request)
            form.add_error("code", _("The code is wrong or was already used."))
        else:
            backend = request.session.get(PENDING_BACKEND_KEY)
            next_url = request.session.get(PENDING_NEXT_KEY, "")
            _clear_pending(request)
            auth_login(request, user, backend=backend)
            stepup.mark_verified(request)
            if kind == "recovery":
                messages.warning(
                    request,
                    _("You signed in with a recovery code; %(count)d are left.")
                    % {"count": totp.remaining_recovery_codes(user)},
                )
            return redirect(_safe_next(request, next_url))
    return render(request, "registration/login_verify.html", {"form": form})


def after_password_login(request, user) -> None:
    """Users who need a second factor (tenant administrators; everyone of a tenant requiring it) and have no device
    must enrol before using the product (forced at this sign-in, pages and session API calls alike)."""
    if totp.second_factor_required(user) and not totp.has_device(user):
        request.session[stepup.SESSION_ENROLL_REQUIRED] = True


# --- Enrolment and management of one's own device ------------------------------------------------------------------
@login_required
def two_factor(request):
    user = request.user
    device = totp.confirmed_device(user)
    forced = bool(request.session.get(stepup.SESSION_ENROLL_REQUIRED))
    context = {"device": device, "forced": forced, "is_admin": user.has_role(TENANT_ADMIN)}
    if device is None:
        secret = request.session.get(SETUP_SECRET_KEY) or totp.new_secret()
        request.session[SETUP_SECRET_KEY] = secret
        form = CodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            codes = totp.enroll(user, secret, form.cleaned_data["code"])
            if codes is None:
                form.add_error("code", _("The code does not match; check the time on your phone and try again."))
            else:
                request.session.pop(SETUP_SECRET_KEY, None)
                request.session.pop(stepup.SESSION_ENROLL_REQUIRED, None)
                stepup.mark_verified(request)
                audit_record(action="crm.auth.second_factor_enabled", actor=user, obj=user, request=request)
                return render(request, "accounts/recovery_codes.html", {"codes": codes})
        uri = totp.provisioning_uri(user, secret)
        context.update({"form": form, "secret": secret, "qr": totp.qr_svg_data_uri(uri), "uri": uri, "setup": True})
        return render(request, "accounts/two_factor.html", context)
    context["remaining"] = totp.remaining_recovery_codes(user)
    context["form"] = CodeForm()
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_POST
@stepup.step_up_required
def recovery_codes_regenerate(request):
    codes = totp.generate_recovery_codes(request.user)
    audit_record(action="crm.auth.recovery_codes_regenerated", actor=request.user, obj=request.user, request=request)
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@login_required
@require_POST
def two_factor_disable(request):
    user = request.user
    if user.has_role(TENANT_ADMIN):
        messages.error(request, _("Tenant administrators must keep a second factor."))
        return redirect("accounts:two_factor")
    form = CodeForm(request.POST)
    if not form.is_valid() or totp.verify(user, form.cleaned_data["code"]) is None:
        messages.error(request, _("The code is wrong or was already used."))
        return redirect("accounts:two_factor")
    totp.disable(user)
    audit_record(action="crm.auth.second_factor_disabled", actor=user, obj=user, request=request)
    messages.success(request, _("Two-step sign-in is now off."))
    return redirect("accounts:two_factor")


@login_required
def step_up(request):
    """Confirm the second factor again before a sensitive action; then back to where the user was."""
    user = request.user
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if not totp.has_device(user):
        return redirect(next_url)
    if totp.is_locked(user):
        return _too_many(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp.verify(user, form.cleaned_data["code"]) is not None:
            stepup.mark_verified(request)
            audit_record(action="crm.auth.step_up", actor=user, obj=user, request=request)
            return redirect(next_url)
        audit_record(action="crm.auth.second_factor_failed", actor=user, obj=user, request=request)
        if totp.is_locked(user):
            return _too_many(request)
        form.add_error("code", _("The code is wrong or was already used."))
    minutes = stepup.window_seconds() // 60
    return render(request, "registration/step_up.html", {"form": form, "next": next_url, "minutes": minutes})


# --- Single sign-on --------------------------------------------------------------------------------------------------
def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "-"


@require_GET
def oidc_login(request, slug: str):
    if oidc.is_locked(_client_ip(request)):
        return _too_many(request)
    provider = oidc.provider_by_slug(slug)
    if provider is None:
        from django.http import Http404

        raise Http404
    try:
        url = oidc.start(
            request,
            provider,
            request.build_absolute_uri(reverse("accounts:oidc_callback")),
            request.GET.get("next", ""),
        )
    except oidc.OIDCError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:login")
    return redirect(url)


@require_GET
def oidc_callback(request):
    ip = _client_ip(request)
    if oidc.is_locked(ip):
        return _too_many(request)
    try:
        user, next_url, idp_mfa = oidc.finish(request, request.build_absolute_uri(reverse("accounts:oidc_callback")))
    except oidc.OIDCError as exc:
        oidc.record_failure(ip)
        audit_record(action="crm.auth.login_failed", object_type="oidc", object_repr=str(exc)[:200], request=request)
        messages.error(request, str(exc))
        return redirect("accounts:login")
    refusal = account_refusal(user)
    if refusal is not None:
        oidc.record_failure(ip)
        messages.error(request, refusal)
        return redirect("accounts:login")
    user.backend = "accounts.backends.CachedModelBackend"
    if idp_mfa:
        # The tenant trusts its provider's MFA and the ID token's `amr` shows it: that is the sign-in's second
        # factor. Sensitive actions still ask for the CRM code (step-up) when the user has a device.
        auth_login(request, user, backend=user.backend)
        return redirect(_safe_next(request, next_url))
    if totp.has_device(user):
        # Same second step as after a password: no session until the CRM code (or a recovery code) is entered.
        return begin_second_step(request, user, next_url)
    auth_login(request, user, backend=user.backend)
    after_password_login(request, user)  # a user who needs a second factor can only enrol (pages and session API)
    return redirect(_safe_next(request, next_url))


# --- API tokens of the tenant (tenant administrators) ---------------------------------------------------------------
class ApiTokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    role = forms.ChoiceField(label=gettext_lazy("Role of the service account"))
    scopes = forms.MultipleChoiceField(label=gettext_lazy("Scopes"), widget=forms.CheckboxSelectMultiple)
    expires_in_days = forms.IntegerField(
        label=gettext_lazy("Expires after (days)"), min_value=1, max_value=730, initial=90
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [
            (code, ROLE_LABELS.get(code, code)) for code in ROLE_CODES if code != TENANT_ADMIN
        ]
        self.fields["scopes"].choices = api_tokens.all_scopes()


@login_required
@permission_required("accounts.view_apitoken", raise_exception=True)
def api_token_list(request):
    from django.core.exceptions import PermissionDenied

    if request.user.tenant_id is None:
        return redirect("admin:accounts_apitoken_changelist")  # tokens belong to a tenant: the admin lists all
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("accounts.add_apitoken"):
            raise PermissionDenied
        if form.is_valid():
            return _api_token_create(request, form)
    tokens = ApiToken.objects.select_related("user", "created_by").order_by("-created_at")[:200]
    return render(request, "accounts/api_tokens.html", {"form": form, "tokens": tokens})


@stepup.step_up_required
def _api_token_create(request, form):
    with transaction.atomic():
        token, clear = api_tokens.create_token(
            tenant=request.user.tenant,
            created_by=request.user,
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            scopes=form.cleaned_data["scopes"],
            expires_in_days=form.cleaned_data["expires_in_days"],
        )
        audit_record(
            action="crm.auth.api_token_created",
            actor=request.user,
            obj=token,
            changes={"scopes": (None, ", ".join(token.scopes)), "role": (None, form.cleaned_data["role"])},
            request=request,
        )
    return render(request, "accounts/api_token_created.html", {"token": token, "clear": clear})


@login_required
@permission_required("accounts.change_apitoken", raise_exception=True)
@require_POST
def api_token_revoke(request, pk: int):
    if request.user.tenant_id is None:
        from django.http import Http404

        raise Http404
    token = get_object_or_404(ApiToken.objects.all(), pk=pk)
    if token.revoked_at is None:
        api_tokens.revoke_token(token)
        audit_record(action="crm.auth.api_token_revoked", actor=request.user, obj=token, request=request)
        messages.success(request, _("The token %(name)s is revoked.") % {"name": token.name})
    return redirect("accounts:api_tokens")

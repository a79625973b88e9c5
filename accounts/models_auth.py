"""Authentication models (PRD 7.1): TOTP devices and recovery codes, per-tenant OpenID Connect, API tokens.

Imported by accounts.models so Django sees them; kept apart so other changes to accounts.models stay additive.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel
from crm_project.crypto import EncryptedCharField


class TOTPDevice(models.Model):
    """A staff user's authenticator app (RFC 6238, 30 s steps, 6 digits). One per user.

    Belongs to a user, not a tenant row: it is only ever read through `request.user` (never listed per tenant).
    `last_step` is the last accepted time step, so a code cannot be replayed.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = EncryptedCharField(_("secret"), max_length=64, editable=False)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    last_step = models.BigIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "totp_devices"
        verbose_name = _("two-factor device")
        verbose_name_plural = _("two-factor devices")

    def __str__(self) -> str:
        return str(self.user)


class RecoveryCode(models.Model):
    """A single-use recovery code of a user, stored as a keyed hash (shown once when generated)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64, editable=False)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        db_table = "totp_recovery_codes"
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="uk_recovery_code")]

    def __str__(self) -> str:
        return f"{self.user} #{self.pk}"


class OIDCProvider(TenantOwnedModel):
    """A tenant's OpenID Connect identity provider (authorization-code flow with PKCE)."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True, help_text=_("Used in the sign-in URL."))
    name = models.CharField(_("button label"), max_length=100)
    issuer = models.URLField(_("issuer"), max_length=300)
    client_id = models.CharField(_("client id"), max_length=200)
    client_secret = EncryptedCharField(_("client secret"), max_length=300)
    authorization_endpoint = models.URLField(
        _("authorization endpoint"), max_length=300, blank=True, help_text=_("Empty: read from the discovery document.")
    )
    token_endpoint = models.URLField(_("token endpoint"), max_length=300, blank=True)
    jwks_uri = models.URLField(_("JWKS URI"), max_length=300, blank=True)
    scopes = models.CharField(_("scopes"), max_length=200, default="openid email profile")
    role_claim = models.CharField(_("role claim"), max_length=100, default="groups")
    role_mapping = models.JSONField(
        _("claim to role mapping"),
        default=dict,
        blank=True,
        help_text=_('Claim value to CRM role, e.g. {"crm-admins": "tenant_admin", "cs": "csm"}.'),
    )
    default_role = models.CharField(
        _("default role"), max_length=30, blank=True, help_text=_("Empty: users without a mapped claim are refused.")
    )
    create_users = models.BooleanField(_("create users on first sign-in"), default=True)
    allow_local_login = models.BooleanField(
        _("allow password sign-in"),
        default=True,
        help_text=_("Off: the tenant's users sign in only through this provider (superusers are not affected)."),
    )
    trust_idp_mfa = models.BooleanField(
        _("trust the provider's multi-factor sign-in"),
        default=False,
        help_text=_(
            "On: a sign-in whose ID token says it used several factors (amr claim: mfa, otp, hwk, ...) skips the "
            "CRM authenticator code. Off: users who need a second factor enter the CRM code after the provider."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "oidc_providers"
        verbose_name = _("OpenID Connect provider")
        verbose_name_plural = _("OpenID Connect providers")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uk_oidc_provider_tenant")]

    def __str__(self) -> str:
        return self.name


class OIDCIdentity(TenantOwnedModel):
    """Links the provider's subject (`sub`) to a staff user, so a renamed e-mail still finds the same user."""

    provider = models.ForeignKey(OIDCProvider, on_delete=models.CASCADE, related_name="identities")
    subject = models.CharField(_("subject"), max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_login_at = models.DateTimeField(_("last sign-in"), null=True, blank=True)

    class Meta:
        db_table = "oidc_identities"
        verbose_name = _("OpenID Connect identity")
        verbose_name_plural = _("OpenID Connect identities")
        constraints = [models.UniqueConstraint(fields=["provider", "subject"], name="uk_oidc_identity")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"


class ApiToken(TenantOwnedModel):
    """A service account's API token: hashed, scoped, expiring, revocable. Shown once when created."""

    name = models.CharField(_("name"), max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service account"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
        editable=False,
    )
    prefix = models.CharField(_("token prefix"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "api_tokens"
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired

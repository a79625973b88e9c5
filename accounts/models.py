"""Tenants, staff users, the audit log, in-app notifications and job runs."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantManager, TenantOwnedModel, TenantQuerySet
from crm_project.crypto import EncryptedCharField


class Tenant(models.Model):
    """A service provider using the CRM; every business row belongs to exactly one."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    require_second_factor = models.BooleanField(
        _("second factor required for every user"),
        default=False,
        help_text=_("Off: only tenant administrators must use an authenticator app."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "tenants"
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A staff user. Belongs to one tenant; only a superuser may have none."""

    tenant = models.ForeignKey(
        Tenant, verbose_name=_("tenant"), on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    objects = UserManager()

    class Meta:
        db_table = "users"
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [models.Index(fields=["tenant", "is_active"], name="idx_user_tenant_active")]

    def __str__(self) -> str:
        return self.get_display_name()

    def get_display_name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @cached_property
    def role(self) -> str | None:
        """The role code (group name) of the user; the highest one when several were given."""
        from accounts.backends import user_authz

        return user_authz(self)["role"] or None

    def has_role(self, *codes: str) -> bool:
        return self.role in codes


class CodeSequence(TenantOwnedModel):
    """Last number handed out per tenant, prefix and day, for codes like CUST202508150001."""

    prefix = models.CharField(max_length=10)
    day = models.DateField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "code_sequences"
        constraints = [models.UniqueConstraint(fields=["tenant", "prefix", "day"], name="uk_code_sequence")]

    def __str__(self) -> str:
        return f"{self.prefix}{self.day:%Y%m%d}:{self.last_value}"


class AuditLogQuerySet(TenantQuerySet):
    """Audit entries are append-only: bulk edits and deletes are refused."""

    def update(self, **kwargs):
        raise PermissionError("the audit log is append-only")

    def delete(self):
        raise PermissionError("the audit log is append-only")


class AuditLog(TenantOwnedModel):
    """One audited action: who did what to which object, with old and new values (sensitive ones masked)."""

    tenant = models.ForeignKey(
        Tenant,
        verbose_name=_("tenant"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    actor = models.ForeignKey(
        User, verbose_name=_("actor"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    trace_id = models.CharField(_("trace id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = TenantManager.from_queryset(AuditLogQuerySet)()

    class Meta:
        db_table = "audit_logs"
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="idx_audit_tenant_time"),
            models.Index(fields=["object_type", "object_id"], name="idx_audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the audit log is append-only")


class Notification(TenantOwnedModel):
    """An in-app message for one user; `dedup_key` makes a rerun of the same job a no-op."""

    recipient = models.ForeignKey(
        User, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=50)
    message = models.CharField(_("message"), max_length=500)
    link = models.CharField(_("link"), max_length=300, blank=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    dedup_key = models.CharField(_("de-duplication key"), max_length=200, null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        db_table = "notifications"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["recipient", "dedup_key"], name="uk_notification_dedup")]
        indexes = [models.Index(fields=["recipient", "read_at"], name="idx_notification_unread")]

    def __str__(self) -> str:
        return self.message


class JobRun(TenantOwnedModel):
    """One execution of a scheduled or background job, for admins to see what ran and what failed."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        # The worker died (SIGKILL, OOM, machine lost) before it could close the run: found by the sweeper.
        ABANDONED = "abandoned", _("abandoned (worker lost)")

    tenant = models.ForeignKey(
        Tenant,
        verbose_name=_("tenant"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    job_name = models.CharField(_("job"), max_length=100, db_index=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Touched while the run is alive (a heartbeat thread, and `accounts.services.job_heartbeat` per chunk); a
    # running row whose heartbeat is older than JOB_ABANDONED_AFTER_SECONDS is marked abandoned by the sweeper.
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    trace_id = models.CharField(_("trace id"), max_length=64, blank=True)

    class Meta:
        db_table = "job_runs"
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_runs_status_heartbeat")]

    def __str__(self) -> str:
        return f"{self.job_name} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class IntegrationKey(TenantOwnedModel):
    """A key pair another system signs its requests with (HMAC-SHA256); see accounts.integration."""

    name = models.CharField(_("name"), max_length=100, blank=True)
    key_id = models.CharField(_("key id"), max_length=40, unique=True, editable=False)
    secret = EncryptedCharField(_("secret"), max_length=128, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "integration_keys"
        verbose_name = _("integration key")
        verbose_name_plural = _("integration keys")

    def __str__(self) -> str:
        return self.key_id


# Authentication models (TOTP, OpenID Connect, API tokens) live in their own module; imported for Django.
from accounts.models_auth import ApiToken, OIDCIdentity, OIDCProvider, RecoveryCode, TOTPDevice  # noqa: E402,F401

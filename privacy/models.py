"""Data-subject requests and retention policies. A request row outlives the erasure it records: it keeps ids,
dates, status and counts, never the contact's personal data."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel


class RequestKind(models.TextChoices):
    EXPORT = "export", _("Export (access, portability)")
    ERASURE = "erasure", _("Erasure")
    CORRECTION = "correction", _("Correction")


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


def default_deadline():
    return timezone.localdate() + timedelta(days=settings.PRIVACY_REQUEST_DEADLINE_DAYS)


class DataSubjectRequest(TenantOwnedModel):
    """A contact's request to see, take away, correct or erase their personal data (PIPL 45-47, GDPR 15-17, 20)."""

    kind = models.CharField(_("kind"), max_length=12, choices=RequestKind.choices)
    # Plain ids, no foreign keys: the request stays readable whatever happens to the contact.
    contact_id = models.PositiveBigIntegerField(_("contact id"), db_index=True)
    customer_id = models.PositiveBigIntegerField(_("customer id"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    deadline = models.DateField(_("deadline"), default=default_deadline)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Counts per source, corrected field names, package size: never the personal values themselves.
    result_summary = models.JSONField(_("result"), default=dict, blank=True)
    package_name = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        db_table = "privacy_requests"
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "deadline"], name="idx_privacy_req_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def overdue(self) -> bool:
        return self.status == RequestStatus.PENDING and self.deadline < timezone.localdate()


class RetentionPolicy(TenantOwnedModel):
    """How long a tenant keeps one data class (privacy.registry.retention_classes); no row = the default."""

    data_class = models.CharField(_("data class"), max_length=50)
    retention_days = models.PositiveIntegerField(_("retention (days)"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "privacy_retention_policies"
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        ordering = ["data_class"]
        constraints = [models.UniqueConstraint(fields=["tenant", "data_class"], name="uk_retention_class")]

    def __str__(self) -> str:
        return f"{self.data_class}: {self.retention_days}"

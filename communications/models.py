"""Customer communications (PRD 3.2.6, table and column names as written there), their analysis and follow-ups."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantManager, TenantOwnedModel, TenantQuerySet
from communications.choices import CommunicationType, Direction, FollowUpStatus, Importance, Sentiment
from customers.models import Customer, CustomerContact


class CommunicationQuerySet(TenantQuerySet):
    def alive(self):
        """Rows not soft-deleted: what every list, page, API and job reads."""
        return self.filter(deleted_at__isnull=True)


class Communication(TenantOwnedModel):
    """One call, e-mail, meeting or chat with a customer (PRD 3.2.6). `sentiment` is the effective value
    (the staff override when there is one, otherwise the analyser's); the analysis details live in
    `CommunicationAnalysis`."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="communications", db_index=False
    )
    contact = models.ForeignKey(
        CustomerContact,
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="communications",
        db_index=False,
    )
    communication_type = models.PositiveSmallIntegerField(_("type"), choices=CommunicationType.choices)
    direction = models.PositiveSmallIntegerField(_("direction"), choices=Direction.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    content = models.TextField(_("content"), blank=True)
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), null=True, blank=True, validators=[MaxValueValidator(24 * 60)]
    )
    outcome = models.CharField(_("outcome"), max_length=100, blank=True)
    next_action = models.CharField(_("next action"), max_length=200, blank=True)
    sentiment = models.PositiveSmallIntegerField(_("sentiment"), choices=Sentiment.choices, null=True, blank=True)
    importance = models.PositiveSmallIntegerField(
        _("importance"), choices=Importance.choices, default=Importance.MEDIUM
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.PROTECT, related_name="+"
    )
    communication_date = models.DateTimeField(_("date"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)

    objects = TenantManager.from_queryset(CommunicationQuerySet)()

    class Meta:
        db_table = "customer_communications"
        verbose_name = _("communication")
        verbose_name_plural = _("communications")
        ordering = ["-communication_date", "-id"]
        indexes = [
            models.Index(fields=["tenant", "customer"], name="idx_comm_tenant_customer"),
            models.Index(fields=["contact"], name="idx_comm_contact_id"),
            models.Index(fields=["communication_type"], name="idx_comm_type"),
            models.Index(fields=["communication_date"], name="idx_comm_date"),
            # The customer's timeline: live rows of one customer, newest first.
            models.Index(fields=["customer", "deleted_at", "communication_date"], name="idx_comm_customer_live"),
        ]

    def __str__(self) -> str:
        return self.subject or f"{self.get_communication_type_display()} {self.communication_date:%Y-%m-%d}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class CommunicationAnalysis(TenantOwnedModel):
    """What the offline analyser found in a communication, and the staff override of its sentiment."""

    communication = models.OneToOneField(Communication, on_delete=models.CASCADE, related_name="analysis")
    language = models.CharField(_("language"), max_length=5, blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    # [{"tag": "renewal_risk", "evidence": "不续约"}, ...]: the task rules read these.
    needs = models.JSONField(_("needs"), default=list, blank=True)
    score = models.FloatField(_("sentiment score"), default=0.0)
    auto_sentiment = models.PositiveSmallIntegerField(choices=Sentiment.choices, null=True, blank=True)
    override_sentiment = models.PositiveSmallIntegerField(choices=Sentiment.choices, null=True, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)
    analyzer_version = models.CharField(max_length=20, blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "communication_analyses"
        verbose_name = _("communication analysis")
        verbose_name_plural = _("communication analyses")

    def __str__(self) -> str:
        return f"analysis of {self.communication_id}"

    @property
    def need_tags(self) -> list[str]:
        return [need.get("tag", "") for need in self.needs or []]


class FollowUpQuerySet(TenantQuerySet):
    def open(self):
        return self.filter(status=FollowUpStatus.OPEN, communication__deleted_at__isnull=True)


class FollowUp(TenantOwnedModel):
    """A next action with a due date, owned by the staff member who logged the communication."""

    communication = models.ForeignKey(Communication, on_delete=models.CASCADE, related_name="follow_ups")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(_("next action"), max_length=200)
    due_date = models.DateField(_("due date"))
    status = models.PositiveSmallIntegerField(_("status"), choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager.from_queryset(FollowUpQuerySet)()

    class Meta:
        db_table = "communication_follow_ups"
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["tenant", "status", "due_date"], name="idx_followup_due"),
            models.Index(fields=["customer", "status"], name="idx_followup_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.action} ({self.due_date})"

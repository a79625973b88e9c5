"""Grading suggestions and KPI teams of the analytics app (PRD 2.1.1, 1.2, 10.1.3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel
from customers.choices import CustomerLevel


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class LevelSuggestion(TenantOwnedModel):
    """A suggested customer level computed nightly from value, potential and risk; a lead accepts or rejects it.

    At most one pending suggestion per customer: the nightly run updates it in place (idempotent) and withdraws it
    when the customer's level already matches.
    """

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    current_level = models.PositiveSmallIntegerField(_("current level"), choices=CustomerLevel.choices)
    suggested_level = models.PositiveSmallIntegerField(_("suggested level"), choices=CustomerLevel.choices)
    value_score = models.DecimalField(_("value score"), max_digits=5, decimal_places=1)
    potential_score = models.DecimalField(_("potential score"), max_digits=5, decimal_places=1)
    risk_score = models.DecimalField(_("risk score"), max_digits=5, decimal_places=1)
    grade_score = models.DecimalField(_("grade score"), max_digits=5, decimal_places=1)
    # The figures that drove the suggestion: ltv, arpu, estimated_growth, risk_level, churn_probability, ...
    reasons = models.JSONField(_("reasons"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    computed_on = models.DateField(_("computed on"))
    pending_marker = models.PositiveSmallIntegerField(null=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "analytics_level_suggestions"
        verbose_name = _("level suggestion")
        verbose_name_plural = _("level suggestions")
        ordering = ["-computed_on", "-id"]
        constraints = [
            # 1 while pending, NULL otherwise (MariaDB has no partial unique index): one pending row per customer.
            models.UniqueConstraint(fields=["tenant", "customer", "pending_marker"], name="uk_one_pending_suggestion"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "customer"], name="idx_suggestion_status")]
        permissions = [
            ("decide_levelsuggestion", "Can accept or reject level suggestions"),
            ("view_kpi_dashboard", "Can view the KPI dashboard"),
            ("view_data_quality", "Can view the data quality report"),
            ("fix_data_quality", "Can apply data quality fixes"),
        ]

    def save(self, *args, **kwargs):
        self.pending_marker = 1 if self.status == SuggestionStatus.PENDING else None
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.current_level} -> {self.suggested_level} ({self.status})"


class Team(TenantOwnedModel):
    """A team of customer success managers (the KPI dashboard's team filter); kept in Django admin."""

    name = models.CharField(_("name"), max_length=100)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="+", blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "analytics_teams"
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uk_team_name")]

    def __str__(self) -> str:
        return self.name

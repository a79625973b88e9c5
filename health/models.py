"""Health scores (PRD 3.2.4), product usage events, churn models and the tenant's health settings."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel
from health.choices import AlertKind, ChurnSource, ModelStatus, RiskLevel, UsageEventType

SCORE_FIELDS = ("overall_score", "satisfaction_score", "activity_score", "financial_score", "contract_score")


WEIGHT_FIELDS = ("weight_satisfaction", "weight_activity", "weight_financial", "weight_contract")
THRESHOLD_FIELDS = ("low_risk_min", "medium_risk_min", "high_risk_min")


def _percent(label, default):
    return models.PositiveSmallIntegerField(label, default=default, validators=[MaxValueValidator(100)])


def _score_field(label, *, null=True):
    return models.DecimalField(
        label,
        max_digits=5,
        decimal_places=2,
        null=null,
        blank=null,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )


class CustomerHealthScore(TenantOwnedModel):
    """One row per customer per day; recomputing the same day replaces the row."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="health_scores"
    )
    score_date = models.DateField(_("score date"))
    overall_score = _score_field(_("overall health score"), null=False)
    satisfaction_score = _score_field(_("satisfaction score"))
    activity_score = _score_field(_("activity score"))
    financial_score = _score_field(_("financial health score"))
    contract_score = _score_field(_("contract stability score"))
    risk_level = models.PositiveSmallIntegerField(_("risk level"), choices=RiskLevel.choices, default=RiskLevel.LOW)
    churn_probability = models.DecimalField(_("churn probability"), max_digits=5, decimal_places=4, null=True)
    churn_source = models.CharField(
        _("churn estimate source"), max_length=10, choices=ChurnSource.choices, default=ChurnSource.RULES
    )
    churn_model_version = models.PositiveIntegerField(_("churn model version"), null=True, blank=True)
    # {"positive_factors": [...], "negative_factors": [...]} (PRD shape) plus "details": measured values.
    factors = models.JSONField(_("factors"), default=dict)
    recommendations = models.JSONField(_("recommendations"), default=list)
    # Share of the weights with data (0-1) and the measured inputs of every component.
    data_completeness = models.DecimalField(_("data completeness"), max_digits=4, decimal_places=3, default=1)
    inputs = models.JSONField(_("inputs"), default=dict)
    churn_drivers = models.JSONField(_("churn drivers"), default=list)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "customer_health_scores"
        verbose_name = _("health score")
        verbose_name_plural = _("health scores")
        ordering = ["-score_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer", "score_date"], name="uk_health_customer_day"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{f}__isnull": True}) | Q(**{f"{f}__gte": 0, f"{f}__lte": 100}),
                    name=f"ck_health_{f}_range",
                )
                for f in SCORE_FIELDS
            ],
            models.CheckConstraint(condition=Q(risk_level__gte=1, risk_level__lte=4), name="ck_health_risk_level"),
            models.CheckConstraint(
                condition=Q(churn_probability__isnull=True) | Q(churn_probability__gte=0, churn_probability__lte=1),
                name="ck_health_churn_range",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "customer"], name="idx_tenant_customer"),
            models.Index(fields=["score_date"], name="idx_score_date"),
            models.Index(fields=["risk_level"], name="idx_risk_level"),
            models.Index(fields=["overall_score"], name="idx_overall_score"),
            models.Index(fields=["tenant", "score_date"], name="idx_health_tenant_date"),
        ]
        permissions = [
            ("calculate_health", "Can recalculate health scores"),
            ("manage_health", "Can change health settings and train churn models"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.score_date} {self.overall_score}"


class UsageEvent(TenantOwnedModel):
    """A product usage event sent by the tenant's product (login, feature use, ...)."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="usage_events"
    )
    event_id = models.CharField(_("event id"), max_length=100)
    user_identifier = models.CharField(_("user"), max_length=100, blank=True)
    event_type = models.CharField(_("event type"), max_length=20, choices=UsageEventType.choices)
    feature_name = models.CharField(_("feature"), max_length=100, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        db_table = "customer_usage_events"
        verbose_name = _("usage event")
        verbose_name_plural = _("usage events")
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="uk_usage_event_id")]
        # Covering for the nightly usage aggregate (a chunk's customer range is read from the index alone: with
        # the narrower (tenant, customer, occurred_at) index MariaDB fetched ~200,000 rows a chunk, 2.5 s).
        indexes = [
            models.Index(
                fields=["tenant", "customer", "occurred_at", "event_type", "user_identifier", "feature_name"],
                name="idx_usage_customer_cover",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.customer_id} {self.occurred_at}"


class ChurnModel(TenantOwnedModel):
    """A trained churn model of one tenant (the registry); at most one is active."""

    version = models.PositiveIntegerField(_("version"))
    trained_at = models.DateTimeField(_("trained at"))
    algorithm = models.CharField(_("algorithm"), max_length=60, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ModelStatus.choices, default=ModelStatus.WEAK)
    features = models.JSONField(_("features"), default=list)
    metrics = models.JSONField(_("metrics"), default=dict)
    feature_importances = models.JSONField(_("feature importances"), default=list)
    threshold = models.DecimalField(_("threshold"), max_digits=5, decimal_places=4, default=Decimal("0.5"))
    n_train = models.PositiveIntegerField(default=0)
    n_test = models.PositiveIntegerField(default=0)
    notes = models.TextField(_("notes"), blank=True)
    artifact = models.BinaryField(editable=False, null=True)

    class Meta:
        db_table = "health_churn_models"
        verbose_name = _("churn model")
        verbose_name_plural = _("churn models")
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["tenant", "version"], name="uk_churn_model_version")]

    def __str__(self) -> str:
        return f"v{self.version} {self.status}"


class HealthSettings(TenantOwnedModel):
    """Weights and thresholds of a tenant (PRD defaults: 30/25/25/20, risk bands 80/60/40)."""

    weight_satisfaction = _percent(_("satisfaction weight (%)"), 30)
    weight_activity = _percent(_("activity weight (%)"), 25)
    weight_financial = _percent(_("financial weight (%)"), 25)
    weight_contract = _percent(_("contract weight (%)"), 20)
    # overall >= low_min -> 1 (low risk); >= medium_min -> 2; >= high_min -> 3; else 4.
    low_risk_min = _percent(_("low risk from score"), 80)
    medium_risk_min = _percent(_("medium risk from score"), 60)
    high_risk_min = _percent(_("high risk from score"), 40)
    alert_drop_points = models.PositiveSmallIntegerField(_("alert on a drop of (points)"), default=10)
    alert_window_days = models.PositiveSmallIntegerField(_("alert window (days)"), default=30)
    service_hour_rate = models.DecimalField(
        _("cost per service hour"), max_digits=10, decimal_places=2, default=Decimal("300")
    )
    hours_per_ticket = models.DecimalField(_("service hours per ticket"), max_digits=6, decimal_places=2, default=2)
    hours_per_month = models.DecimalField(
        _("account management hours per month"), max_digits=6, decimal_places=2, default=2
    )
    min_model_recall = models.DecimalField(
        _("minimum model recall"), max_digits=4, decimal_places=3, default=Decimal("0.750")
    )
    min_model_auc = models.DecimalField(
        _("minimum model ROC AUC"), max_digits=4, decimal_places=3, default=Decimal("0.700")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "health_settings"
        verbose_name = _("health settings")
        verbose_name_plural = _("health settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uk_health_settings_tenant")]

    def __str__(self) -> str:
        return f"health settings {self.tenant_id}"

    def clean(self) -> None:
        """The four weights sum to 100; the risk thresholds are ordered low > medium > high (and > 0)."""
        errors: dict[str, list] = {}
        weights = [getattr(self, name) for name in WEIGHT_FIELDS]
        if all(w is not None for w in weights) and sum(weights) != 100:
            message = _("The four weights must sum to 100 (now %(total)d).") % {"total": sum(weights)}
            for name in WEIGHT_FIELDS:
                errors[name] = [message]
        low, medium, high = self.low_risk_min, self.medium_risk_min, self.high_risk_min
        if low is not None and medium is not None and not medium < low:
            errors["medium_risk_min"] = [_("Must be below the low-risk threshold (%(value)d).") % {"value": low}]
        if medium is not None and high is not None and not high < medium:
            errors["high_risk_min"] = [_("Must be below the medium-risk threshold (%(value)d).") % {"value": medium}]
        if high is not None and high < 1:
            errors.setdefault("high_risk_min", []).append(_("Must be at least 1."))
        if errors:
            raise ValidationError(errors)

    @property
    def weights(self) -> dict[str, int]:
        return {
            "satisfaction": self.weight_satisfaction,
            "activity": self.weight_activity,
            "financial": self.weight_financial,
            "contract": self.weight_contract,
        }


class HealthAlert(TenantOwnedModel):
    """An alert sent once: the unique key makes a rerun send nothing twice."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=AlertKind.choices)
    score_date = models.DateField(_("score date"))
    drop = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    previous_risk_level = models.PositiveSmallIntegerField(null=True)
    risk_level = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "health_alerts"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer", "kind", "score_date"], name="uk_health_alert")
        ]
        indexes = [models.Index(fields=["tenant", "customer", "kind", "score_date"], name="idx_health_alert_lookup")]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer_id} {self.score_date}"

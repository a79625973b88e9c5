from django.db import models
from django.utils.translation import gettext_lazy as _


class RiskLevel(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


class UsageEventType(models.TextChoices):
    LOGIN = "login", _("Login")
    FEATURE_USE = "feature_use", _("Feature use")
    API_CALL = "api_call", _("API call")
    EXPORT = "export", _("Export")
    OTHER = "other", _("Other")


class ChurnSource(models.TextChoices):
    MODEL = "model", _("Model")
    RULES = "rules", _("Rule-based estimate")


class ModelStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    WEAK = "weak", _("Below the bar")
    RETIRED = "retired", _("Retired")
    FAILED = "failed", _("Failed")


class AlertKind(models.TextChoices):
    DROP = "drop", _("Score drop")
    RISK_UP = "risk_up", _("Risk level rise")

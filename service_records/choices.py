"""Enumerations of service records (PRD 2.1.3, 3.1 `customer_service_records`)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class TicketStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("ticket status", "Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    PORTAL = "portal", _("Portal")
    CHAT = "chat", _("Chat")
    ONSITE = "onsite", _("On site")
    OTHER = "other", _("Other")


class SlaState(models.TextChoices):
    NONE = "none", _("No SLA")
    OK = "ok", _("On track")
    AT_RISK = "at_risk", _("Breach within 30 minutes")
    BREACHED = "breached", _("Breached")


class ReportKind(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    ON_DEMAND = "on_demand", _("On demand")


class ReportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Generating")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


# The satisfaction dimensions (1-5 each) and their labels, in the order every chart and table shows them.
DIMENSIONS = ("overall", "response_speed", "professionalism", "resolution_quality")
DIMENSION_LABELS = {
    "overall": _("Overall"),
    "response_speed": _("Response speed"),
    "professionalism": _("Professionalism"),
    "resolution_quality": _("Resolution quality"),
}

# PRD 1.3 / 6: satisfaction ≥ 4.5 and NPS ≥ 50 are the targets drawn on every chart.
SATISFACTION_TARGET = 4.5
NPS_TARGET = 50
# A rating of 4 or 5 (overall) counts as satisfied for CSAT; NPS 9-10 promoters, 0-6 detractors.
CSAT_SATISFIED_MIN = 4
AT_RISK_MINUTES = 30
PERIODS = {"1m": 1, "3m": 3, "6m": 6, "12m": 12}

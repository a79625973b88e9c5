"""Enumerations of customer-success tasks (PRD 3.2.7) and playbook rules."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TaskType(models.IntegerChoices):
    HEALTH = 1, _("Health improvement")
    RENEWAL = 2, _("Renewal follow-up")
    SATISFACTION = 3, _("Satisfaction improvement")
    ISSUE = 4, _("Issue resolution")


class TaskPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class TaskStatus(models.IntegerChoices):
    PENDING = 1, _("Pending")
    IN_PROGRESS = 2, _("In progress")
    DONE = 3, _("Done")
    CANCELLED = 4, _("Cancelled")


OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.IN_PROGRESS)
CLOSED_STATUSES = (TaskStatus.DONE, TaskStatus.CANCELLED)

# Allowed moves of the status flow: pending -> in progress -> done / cancelled (and back to pending from in progress).
TRANSITIONS = {
    TaskStatus.PENDING: {TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED},
    TaskStatus.IN_PROGRESS: {TaskStatus.PENDING, TaskStatus.DONE, TaskStatus.CANCELLED},
    TaskStatus.DONE: set(),
    TaskStatus.CANCELLED: set(),
}


class Trigger(models.TextChoices):
    HEALTH_BELOW = "health_below", _("Health score below X")
    HEALTH_DROP = "health_drop", _("Health dropped by Y points or more within Z days")
    RISK_LEVEL = "risk_level", _("Risk level N or higher")
    RENEWAL_DUE = "renewal_due", _("Renewal within N days")
    SATISFACTION_BELOW = "satisfaction_below", _("Satisfaction rating below X")
    NPS_DETRACTOR = "nps_detractor", _("NPS detractor (0-6)")
    SLA_BREACHES = "sla_breaches", _("K or more SLA breaches in 30 days")
    NEGATIVE_SENTIMENT = "negative_sentiment", _("Negative-sentiment communication")
    RENEWAL_RISK_NEED = "renewal_risk_need", _("Communication shows a renewal risk")
    FOLLOW_UP_DUE = "follow_up_due", _("Communication follow-up overdue")
    NO_CONTACT = "no_contact", _("No contact for N days")


class AssigneeStrategy(models.TextChoices):
    MANAGER = "manager", _("The customer's manager")
    BALANCED = "balanced", _("Balanced within the manager's team")

"""Enumerations of contracts (PRD 3.2.3) and their satellites."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ContractType(models.IntegerChoices):
    SERVICE = 1, _("Service contract")
    PURCHASE = 2, _("Purchase contract")
    FRAMEWORK = 3, _("Framework agreement")


class ContractStatus(models.IntegerChoices):
    DRAFT = 1, _("Draft")
    ACTIVE = 2, _("Active")
    EXPIRED = 3, _("Expired")
    TERMINATED = 4, _("Terminated")


class RenewalType(models.IntegerChoices):
    MANUAL = 1, _("Manual")
    AUTO = 2, _("Automatic")


CURRENCIES = [("CNY", "CNY"), ("USD", "USD"), ("EUR", "EUR"), ("HKD", "HKD"), ("JPY", "JPY"), ("GBP", "GBP")]


class TicketPriority(models.TextChoices):
    P1 = "P1", _("P1 critical")
    P2 = "P2", _("P2 high")
    P3 = "P3", _("P3 medium")
    P4 = "P4", _("P4 low")


class ServiceHours(models.TextChoices):
    ALWAYS = "7x24", _("7x24")
    BUSINESS = "business", _("Business hours")


class ChangeStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class MilestoneStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    PAID = "paid", _("Paid")
    PARTIALLY_PAID = "partial", _("Partially paid")
    CANCELLED = "cancelled", _("Cancelled")

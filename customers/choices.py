"""The PRD's enumerations for customers, contacts and tags (values are the stored integers)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerType(models.IntegerChoices):
    ENTERPRISE = 1, _("Enterprise")
    GOVERNMENT = 2, _("Government")
    INDIVIDUAL = 3, _("Individual")


class CustomerStatus(models.IntegerChoices):
    POTENTIAL = 1, _("Potential")
    FORMAL = 2, _("Formal")
    LOST = 3, _("Lost")


class CustomerLevel(models.IntegerChoices):
    NORMAL = 1, _("Normal")
    IMPORTANT = 2, _("Important")
    VIP = 3, _("VIP")
    STRATEGIC = 4, _("Strategic")


class InfluenceLevel(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")


class TagType(models.IntegerChoices):
    MANUAL = 1, _("Manual")
    AUTOMATIC = 2, _("Automatic")
    SYSTEM = 3, _("System")


class ContactPointStatus(models.TextChoices):
    """Accuracy of a contact's e-mail or mobile (data quality, PRD 8.2.1): blank = not known to be wrong."""

    UNKNOWN = "", _("Not checked")
    BOUNCED = "bounced", _("Bounced")
    WRONG = "wrong", _("Wrong")

"""The PRD's enumerations for communications (values are the stored integers, PRD 3.2.6)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CommunicationType(models.IntegerChoices):
    PHONE = 1, _("Phone")
    EMAIL = 2, _("E-mail")
    MEETING = 3, _("Meeting")
    CHAT = 4, _("Online chat")


class Direction(models.IntegerChoices):
    INBOUND = 1, _("Inbound")
    OUTBOUND = 2, _("Outbound")


class Sentiment(models.IntegerChoices):
    """PRD 3.2.6: 1 negative, 2 neutral, 3 positive (the table is the contract; see docs/decisions.md)."""

    NEGATIVE = 1, _("Negative")
    NEUTRAL = 2, _("Neutral")
    POSITIVE = 3, _("Positive")


class Importance(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")


class FollowUpStatus(models.IntegerChoices):
    OPEN = 1, _("Open")
    DONE = 2, _("Done")
    CANCELLED = 3, _("Cancelled")


# Icon names (templates/communications/_type_icon.html draws them; TimelineEntry.icon carries the name).
TYPE_ICONS = {
    CommunicationType.PHONE: "phone",
    CommunicationType.EMAIL: "mail",
    CommunicationType.MEETING: "meeting",
    CommunicationType.CHAT: "chat",
}
SENTIMENT_TONES = {Sentiment.NEGATIVE: "bad", Sentiment.NEUTRAL: "", Sentiment.POSITIVE: "good"}

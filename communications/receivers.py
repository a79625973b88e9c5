"""What communications do when something happens to a customer, and their entries on the customer timeline."""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse
from django.utils.text import Truncator

from communications.choices import SENTIMENT_TONES, TYPE_ICONS, CommunicationType, Sentiment
from customers.extensions import TimelineEntry
from customers.models import Customer
from customers.signals import customer_merged


@receiver(customer_merged, sender=Customer, dispatch_uid="communications.move_on_merge")
def move_communications_on_merge(sender, survivor, duplicate, actor=None, request=None, **kwargs) -> dict[str, int]:
    """The duplicate's communications and follow-ups belong to the survivor afterwards."""
    from communications import services

    return services.communications_move_to_customer(source=duplicate, target=survivor, actor=actor)


def communication_timeline_entries(request, customer, before, limit: int) -> list[TimelineEntry]:
    """The customer's live communications as timeline entries (newest first, older than `before`)."""
    from communications.selectors import customer_communications

    rows = customer_communications(request.user, customer)
    if before is not None:
        rows = rows.filter(communication_date__lt=before)
    entries = []
    for row in rows.order_by("-communication_date", "-id")[:limit]:
        kind = CommunicationType(row.communication_type)
        sentiment = Sentiment(row.sentiment) if row.sentiment else None
        title = f"{kind.label}: {row.subject}" if row.subject else kind.label
        summary = Truncator(row.content).chars(160)
        if sentiment is not None:
            summary = f"{summary} ({sentiment.label})" if summary else sentiment.label
        entries.append(
            TimelineEntry(
                when=row.communication_date,
                kind="communications",
                title=title,
                actor=row.staff.get_username(),
                summary=summary,
                url=reverse("communications:communication_detail", args=[row.pk]),
                icon=TYPE_ICONS[kind],
                tone=SENTIMENT_TONES.get(sentiment, "") if sentiment else "",
            )
        )
    return entries

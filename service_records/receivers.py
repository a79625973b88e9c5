"""What service records do when something happens to a customer, and their timeline entries."""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse
from django.utils.translation import gettext as _

from customers.extensions import TimelineEntry
from customers.models import Customer
from customers.signals import customer_merged


@receiver(customer_merged, sender=Customer, dispatch_uid="service_records.move_on_merge")
def move_records_on_merge(sender, survivor, duplicate, actor=None, request=None, **kwargs) -> dict[str, int]:
    """The duplicate's tickets, NPS answers and on-demand reports belong to the survivor afterwards."""
    from service_records import services

    return services.records_move_to_customer(source=duplicate, target=survivor, actor=actor)


def service_timeline_entries(request, customer, before, limit: int) -> list[TimelineEntry]:
    """Ticket events of the customer: opened, resolved, SLA breached, rated (three indexed queries)."""
    from service_records.models import ServiceRecord

    base = ServiceRecord.objects.filter(customer=customer)
    events: list[TimelineEntry] = []

    def entry(record, when, title, tone="", icon="ticket"):
        if when is None or (before is not None and when >= before):
            return
        events.append(
            TimelineEntry(
                when=when,
                kind="service",
                title=title,
                actor=record.assignee,
                summary=f"{record.external_id} · {record.priority} · {record.title}",
                url=reverse("service_records:record_detail", args=[record.pk]),
                icon=icon,
                tone=tone,
            )
        )

    opened = base.order_by("-opened_at", "-id")
    resolved = base.filter(resolved_at__isnull=False).order_by("-resolved_at", "-id")
    rated = base.filter(rated_at__isnull=False).order_by("-rated_at", "-id")
    if before is not None:
        opened = opened.filter(opened_at__lt=before)
        resolved = resolved.filter(resolved_at__lt=before)
        rated = rated.filter(rated_at__lt=before)
    for record in opened[:limit]:
        entry(record, record.opened_at, _("Ticket opened"))
        if record.breached:
            due = record.resolution_due_at if record.resolution_breached else record.response_due_at
            entry(record, due, _("SLA breached"), tone="bad")
    for record in resolved[:limit]:
        entry(record, record.resolved_at, _("Ticket resolved"), tone="warn" if record.breached else "good")
    for record in rated[:limit]:
        title = _("Ticket rated %(score)s/5") % {"score": record.satisfaction_overall or "—"}
        tone = "good" if (record.satisfaction_overall or 0) >= 4 else "bad" if record.satisfaction_overall else ""
        entry(record, record.rated_at, title, tone=tone)
    events.sort(key=lambda e: e.when, reverse=True)
    return events[:limit]

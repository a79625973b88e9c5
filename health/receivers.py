"""Merge receiver and timeline source of the health app."""

from __future__ import annotations

from django.dispatch import receiver
from django.utils.translation import gettext as _

from customers.extensions import TimelineEntry
from customers.models import Customer
from customers.signals import customer_merged
from health import services
from health.choices import RiskLevel
from health.models import HealthAlert


@receiver(customer_merged, sender=Customer, dispatch_uid="health.move_on_merge")
def on_customer_merged(sender, survivor, duplicate, **kwargs) -> dict[str, int]:
    """The duplicate's daily scores (where the survivor has none that day) and usage events follow the survivor."""
    return {"health_scores": services.scores_move(survivor=survivor, duplicate=duplicate)}


def health_timeline_entries(request, customer, before, limit) -> list[TimelineEntry]:
    """Alerts (drops and risk rises) of the customer, newest first."""
    alerts = HealthAlert.objects.filter(customer=customer).order_by("-created_at")
    if before is not None:
        alerts = alerts.filter(created_at__lt=before)
    entries = []
    for alert in alerts[:limit]:
        if alert.kind == "drop":
            title = _("Health dropped %(d)s points") % {"d": alert.drop}
        else:
            title = _("Risk level rose to %(r)s") % {"r": RiskLevel(alert.risk_level).label}
        entries.append(
            TimelineEntry(
                when=alert.created_at,
                kind="health",
                title=title,
                summary=_("Score date %(d)s") % {"d": alert.score_date.isoformat()},
                url="?tab=health",
                tone="bad",
            )
        )
    return entries

"""Merge receiver and timeline source of the health app."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from accounts.tenancy import current_tenant, tenant_scope
from contracts.models import Contract
from customers.extensions import TimelineEntry
from customers.models import Customer
from customers.signals import customer_merged
from health import services
from health.choices import RiskLevel
from health.models import HealthAlert


@receiver(customer_merged, sender=Customer, dispatch_uid="health.move_on_merge")
def on_customer_merged(sender, survivor, duplicate, **kwargs) -> dict[str, int]:
    """The duplicate's daily scores (where the survivor has none that day) and usage events follow the survivor."""
    moved = services.scores_move(survivor=survivor, duplicate=duplicate)
    services.ltv_refresh(customer_ids=[survivor.pk, duplicate.pk])
    return {"health_scores": moved}


def _contract_changed(instance: Contract) -> None:
    """customers.ltv follows the customer's contract revenue at once (the nightly run refreshes every customer)."""
    if current_tenant() is not None and current_tenant().pk == instance.tenant_id:
        services.ltv_refresh(customer_ids=[instance.customer_id])
    else:
        with tenant_scope(instance.tenant):
            services.ltv_refresh(customer_ids=[instance.customer_id])


@receiver(post_save, sender=Contract, dispatch_uid="health.ltv_on_contract_saved")
def on_contract_saved(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or (update_fields is not None and not {"status", "contract_amount", "customer"} & set(update_fields)):
        return
    _contract_changed(instance)


@receiver(post_delete, sender=Contract, dispatch_uid="health.ltv_on_contract_deleted")
def on_contract_deleted(sender, instance, **kwargs) -> None:
    _contract_changed(instance)


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

"""What contracts do when something happens to a customer (signals of the customers layer)."""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse

from accounts.models import AuditLog
from accounts.registry import audit_labels
from customers.extensions import TimelineEntry
from customers.models import Customer
from customers.signals import customer_merged


@receiver(customer_merged, sender=Customer, dispatch_uid="contracts.move_on_merge")
def move_contracts_on_merge(sender, survivor, duplicate, actor=None, request=None, **kwargs) -> dict[str, int]:
    """The duplicate's contracts belong to the survivor afterwards; its renewal date follows."""
    from contracts import services

    return {"contracts": services.contracts_move_to_customer(source=duplicate, target=survivor, actor=actor)}


def contract_timeline_entries(request, customer, before, limit: int) -> list[TimelineEntry]:
    """Contract events (signed, renewed, expired, changes approved, ...) of this customer's contracts."""
    from contracts.models import Contract

    contracts = {
        str(pk): code for pk, code in Contract.objects.filter(customer=customer).values_list("pk", "contract_code")
    }
    if not contracts:
        return []
    entries = AuditLog.objects.filter(object_type="contracts.contract", object_id__in=list(contracts))
    if before is not None:
        entries = entries.filter(created_at__lt=before)
    return [
        TimelineEntry(
            when=entry.created_at,
            kind="contracts",
            title=audit_labels.label(entry.action),
            actor=entry.actor_name,
            summary=contracts[entry.object_id],
            url=reverse("contracts:contract_detail", args=[entry.object_id]),
            icon="contract",
        )
        for entry in entries.order_by("-created_at", "-id")[:limit]
    ]

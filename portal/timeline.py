"""The customer timeline's success-plan entries: goal and milestone changes, comments (staff or customer)."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import AuditLog
from accounts.registry import audit_labels
from customers.extensions import TimelineEntry
from portal.models import SuccessGoal


def entries(request, customer, before, limit: int) -> list[TimelineEntry]:
    goals = {
        str(pk): outcome for pk, outcome in SuccessGoal.objects.filter(customer=customer).values_list("pk", "outcome")
    }
    if not goals:
        return []
    rows = AuditLog.objects.filter(object_type="portal.successgoal", object_id__in=list(goals))
    if before is not None:
        rows = rows.filter(created_at__lt=before)
    url = reverse("customers:customer_detail", args=[customer.pk]) + "?tab=portal"
    return [
        TimelineEntry(
            when=row.created_at,
            kind="portal",
            title=audit_labels.label(row.action),
            actor=row.actor_name,
            summary=goals[row.object_id],
            url=url,
            icon="target",
            tone="good" if row.action == "crm.portal.milestone_done" else "",
        )
        for row in rows.order_by("-created_at", "-id")[:limit]
    ]

"""System tags maintained by the nightly job through the customers tag service (issue 14, smart tags).

Each system tag is a set-based rule; the job adds the tag (type SYSTEM, category "system") to customers that match
and removes it (only the SYSTEM-type tag of that name; a manual tag with the same name is left alone) from those
that no longer match. Rules are in docs/segments.md.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet

from customers import services as customer_services
from customers.choices import TagType
from customers.models import Customer, CustomerTag

HIGH_VALUE = "高价值"
RENEWAL_DUE = "续约临近"
AT_RISK = "流失风险"
RENEWAL_WINDOW_DAYS = 90
AT_RISK_HEALTH = 60


def system_tag_rules(today: date) -> dict[str, QuerySet[Customer]]:
    alive = Customer.objects.alive()
    return {
        HIGH_VALUE: alive.filter(rfm_score__m_score=5),
        RENEWAL_DUE: alive.filter(
            next_renewal_date__gte=today, next_renewal_date__lte=today + timedelta(days=RENEWAL_WINDOW_DAYS)
        ),
        AT_RISK: alive.filter(
            Q(health_score__gt=0, health_score__lt=AT_RISK_HEALTH)
            | Q(rfm_score__rfm_segment__in=("at_risk", "hibernating"))
        ),
    }


@transaction.atomic
def system_tags_maintain(*, today: date) -> dict:
    """Add / remove the system tags; counts per tag. Idempotent."""
    counts: dict[str, int] = {"added": 0, "removed": 0}
    for name, matching in system_tag_rules(today).items():
        wanted = set(matching.values_list("pk", flat=True))
        tagged = dict(
            CustomerTag.objects.filter(tag_name=name, tag_type=TagType.SYSTEM).values_list("customer_id", "pk")
        )
        manual = set(
            CustomerTag.objects.filter(tag_name=name)
            .exclude(tag_type=TagType.SYSTEM)
            .values_list("customer_id", flat=True)
        )
        for customer in Customer.objects.filter(pk__in=wanted - tagged.keys() - manual).order_by("pk"):
            customer_services.tag_add(
                actor=None,
                customer=customer,
                data={"tag_name": name, "tag_type": TagType.SYSTEM, "tag_category": "system"},
            )
            counts["added"] += 1
        for tag in CustomerTag.objects.filter(pk__in=[pk for cid, pk in tagged.items() if cid not in wanted]):
            customer_services.tag_remove(actor=None, tag=tag)
            counts["removed"] += 1
    return counts

"""Consistency of the customers' denormalised figures against their sources (drift found and repaired, counted).

| figure | source |
| `customers.health_score` | `overall_score` of the latest `customer_health_scores` row (none: kept as is) |
| `customers.ltv` | sum of the amounts of the customer's non-draft contracts (health's definition) |
| `customers.last_contact_date` | latest `communication_date` of its live communications (not in the future) |
| `customers.next_renewal_date` | earliest `end_date` of its active contracts |

Detection is one grouped query per figure; repairs go through the customers services (`customers_figures_set`,
`customer_renewal_date_set`, `customer_last_contact_touch`). Moving a last-contact date *back* (its communication was
deleted) has no service: the customers' change-tracking queryset does it (it invalidates the list cache too).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, DateTimeField, Max, Min, OuterRef, Subquery, Value, When
from django.utils import timezone

from communications.models import Communication
from communications.services import FUTURE_SLACK
from contracts.choices import ContractStatus
from contracts.models import Contract
from contracts.selectors import amount_totals
from customers import services as customer_services
from customers.models import Customer
from health.models import CustomerHealthScore

FIGURES = ("health_score", "ltv", "last_contact_date", "next_renewal_date")


def _health_drift(customers) -> dict[int, Decimal]:
    latest = (
        CustomerHealthScore.objects.filter(customer_id=OuterRef("pk"))
        .order_by("-score_date", "-id")
        .values("overall_score")[:1]
    )
    rows = (
        customers.annotate(latest_health=Subquery(latest))
        .filter(latest_health__isnull=False)
        .values_list("pk", "health_score", "latest_health")
    )
    return {pk: source for pk, stored, source in rows if stored != source}


def _ltv_drift(customers) -> dict[int, Decimal]:
    totals = amount_totals(  # encrypted at rest: summed in Python
        Contract.objects.exclude(status=ContractStatus.DRAFT).filter(customer__in=customers.values("pk"))
    )
    return {
        pk: totals.get(pk, Decimal(0))
        for pk, stored in customers.values_list("pk", "ltv")
        if stored != totals.get(pk, Decimal(0))
    }


def _last_contact_drift(customers, now: datetime) -> dict[int, datetime | None]:
    latest = dict(
        Communication.objects.alive()
        .filter(customer__in=customers.values("pk"), communication_date__lte=now + FUTURE_SLACK)
        .values_list("customer_id")
        .annotate(last=Max("communication_date"))
        .order_by()
    )
    return {
        pk: latest.get(pk)
        for pk, stored in customers.values_list("pk", "last_contact_date")
        if stored != latest.get(pk)
    }


def _renewal_drift(customers) -> dict[int, object]:
    earliest = dict(
        Contract.objects.active()
        .filter(customer__in=customers.values("pk"))
        .values_list("customer_id")
        .annotate(end=Min("end_date"))
        .order_by()
    )
    return {
        pk: earliest.get(pk)
        for pk, stored in customers.values_list("pk", "next_renewal_date")
        if stored != earliest.get(pk)
    }


def drift(*, now: datetime | None = None) -> dict[str, dict[int, object]]:
    """Customer id -> the value its source says, for every customer whose stored figure differs."""
    now = now or timezone.now()
    customers = Customer.objects.alive()
    return {
        "health_score": _health_drift(customers),
        "ltv": _ltv_drift(customers),
        "last_contact_date": _last_contact_drift(customers, now),
        "next_renewal_date": _renewal_drift(customers),
    }


def _last_contact_set(values: dict[int, datetime | None]) -> int:
    forward = {}
    other = {}
    stored = dict(Customer.objects.filter(pk__in=list(values)).values_list("pk", "last_contact_date"))
    for pk, when in values.items():
        if when is not None and (stored.get(pk) is None or stored[pk] < when):
            forward[pk] = when
        else:
            other[pk] = when
    for pk, when in forward.items():
        customer_services.customer_last_contact_touch(customer_id=pk, contact_id=None, when=when)
    if other:
        case = Case(
            *[When(pk=pk, then=Value(when)) for pk, when in other.items()],
            output_field=DateTimeField(null=True),
        )
        Customer.objects.filter(pk__in=list(other)).update(last_contact_date=case)
    return len(values)


@transaction.atomic
def repair(*, now: datetime | None = None) -> dict[str, int]:
    """Find and repair the drift of the active tenant; counts `<figure>_found` and `<figure>_repaired`."""
    found = drift(now=now)
    counts: dict[str, int] = {}
    for figure in FIGURES:
        counts[f"{figure}_found"] = len(found[figure])
    counts["health_score_repaired"] = (
        customer_services.customers_figures_set(field="health_score", values=found["health_score"])
        if found["health_score"]
        else 0
    )
    counts["ltv_repaired"] = (
        customer_services.customers_figures_set(field="ltv", values=found["ltv"]) if found["ltv"] else 0
    )
    counts["last_contact_date_repaired"] = (
        _last_contact_set(found["last_contact_date"]) if found["last_contact_date"] else 0
    )
    repaired = 0
    for customer in Customer.objects.filter(pk__in=list(found["next_renewal_date"])):
        customer_services.customer_renewal_date_set(
            customer=customer, next_renewal_date=found["next_renewal_date"][customer.pk]
        )
        repaired += 1
    counts["next_renewal_date_repaired"] = repaired
    counts["found"] = sum(counts[f"{f}_found"] for f in FIGURES)
    counts["repaired"] = sum(counts[f"{f}_repaired"] for f in FIGURES)
    return counts

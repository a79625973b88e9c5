"""Reads of communications that pages, the API and jobs share. Visibility follows the customer."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from communications.choices import FollowUpStatus
from communications.models import Communication, FollowUp
from customers.models import Customer
from customers.selectors import customers_visible_to


def communications_visible_to(user: User) -> QuerySet[Communication]:
    """Live communications of live customers the user sees (one visibility rule: the customer's)."""
    return Communication.objects.alive().filter(customer__in=customers_visible_to(user))


def communication_list_queryset(user: User) -> QuerySet[Communication]:
    """What a list row or timeline card shows, in a constant number of queries."""
    return communications_visible_to(user).select_related("contact", "staff", "analysis", "customer")


def communication_get_visible(user: User, pk) -> Communication | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return communication_list_queryset(user).filter(pk=pk).first()


def customer_communications(user: User, customer: Customer) -> QuerySet[Communication]:
    return communication_list_queryset(user).filter(customer=customer)


def customer_open_follow_ups(customer: Customer) -> QuerySet[FollowUp]:
    return FollowUp.objects.open().filter(customer=customer).select_related("staff", "communication")


def customer_needs(customer: Customer, *, since: date | None = None) -> list[dict]:
    """The need tags found in a customer's live communications (newest first), for task rules and health."""
    rows = Communication.objects.alive().filter(customer=customer, analysis__isnull=False)
    if since is not None:
        rows = rows.filter(communication_date__gte=since)
    found = []
    for pk, when, needs in rows.order_by("-communication_date").values_list(
        "pk", "communication_date", "analysis__needs"
    ):
        for need in needs or []:
            found.append({**need, "communication_id": pk, "communication_date": when})
    return found


def customer_trend(customer: Customer, *, months: int = 12) -> dict:
    """Communications per month and the average sentiment score per month over the last `months` months.

    Months are bucketed in Python (local time): SQL month truncation needs MySQL time-zone tables.
    """
    today = timezone.localdate()
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    start = timezone.make_aware(datetime(first.year, first.month, 1))
    buckets: dict[tuple[int, int], list] = {}
    rows = Communication.objects.alive().filter(customer=customer, communication_date__gte=start)
    for when, score in rows.values_list("communication_date", "analysis__score"):
        local = timezone.localtime(when)
        buckets.setdefault((local.year, local.month), []).append(score)
    labels, counts, scores = [], [], []
    cursor = first
    for _ in range(months):
        values = buckets.get((cursor.year, cursor.month), [])
        known = [value for value in values if value is not None]
        labels.append(f"{cursor.year}-{cursor.month:02d}")
        counts.append(len(values))
        scores.append(round(sum(known) / len(known), 2) if known else None)
        cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return {"labels": labels, "counts": counts, "scores": scores}


def follow_ups_overdue(today: date) -> QuerySet[FollowUp]:
    return (
        FollowUp.objects.filter(status=FollowUpStatus.OPEN, due_date__lt=today, reminded_at__isnull=True)
        .filter(communication__deleted_at__isnull=True, customer__deleted_at__isnull=True)
        .select_related("staff", "customer")
    )

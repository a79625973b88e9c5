"""Reads of the portal. Every one takes the portal account and is scoped to its tenant (the request's scope)
AND its customer: another customer's id is simply not in the queryset, so it answers 404 like a missing one."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from contracts.choices import ContractStatus
from contracts.models import Contract, Invoice
from portal.models import (
    ArticleStatus,
    CsmMessage,
    DiagnosisChecklist,
    KbArticle,
    KbCategory,
    SuccessGoal,
    SuccessMilestone,
)
from service_records.choices import ReportStatus, TicketStatus
from service_records.models import ServiceRecord, ServiceReport

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)
RATEABLE = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


def tickets(account) -> QuerySet[ServiceRecord]:
    return ServiceRecord.objects.filter(customer_id=account.customer_id).order_by("-opened_at", "-id")


def open_tickets(account) -> QuerySet[ServiceRecord]:
    return tickets(account).filter(status__in=OPEN_STATUSES)


def pending_ratings(account) -> QuerySet[ServiceRecord]:
    return tickets(account).filter(status__in=RATEABLE, rated_at__isnull=True)


def invoices(account) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(contract__customer_id=account.customer_id)
        .select_related("contract")
        .order_by("-issue_date", "-id")
    )


def reports(account) -> QuerySet[ServiceReport]:
    return ServiceReport.objects.filter(customer_id=account.customer_id, status=ReportStatus.DONE).order_by(
        "-period_end", "-id"
    )


def current_contract(account) -> Contract | None:
    today = timezone.localdate()
    return (
        Contract.objects.filter(customer_id=account.customer_id, status=ContractStatus.ACTIVE, end_date__gte=today)
        .order_by("end_date")
        .first()
    )


def renewal_date(contract: Contract | None) -> date | None:
    """The day the renewal conversation is due: 90 days before the end (the renewal reminders' horizon)."""
    if contract is None or contract.end_date is None:
        return None
    from datetime import timedelta

    return contract.end_date - timedelta(days=90)


def csm_message(account_or_customer) -> CsmMessage | None:
    customer_id = getattr(account_or_customer, "customer_id", None) or account_or_customer.pk
    return CsmMessage.objects.filter(customer_id=customer_id).select_related("author").first()


def articles(*, published_only: bool = True) -> QuerySet[KbArticle]:
    queryset = KbArticle.objects.select_related("category")
    return queryset.filter(status=ArticleStatus.PUBLISHED) if published_only else queryset


def checklists(*, published_only: bool = True) -> QuerySet[DiagnosisChecklist]:
    queryset = DiagnosisChecklist.objects.select_related("category", "article")
    return queryset.filter(is_published=True) if published_only else queryset


def categories() -> QuerySet[KbCategory]:
    """The tenant's categories with how many articles and checklists each has (one query)."""
    from django.db.models import Count

    return KbCategory.objects.annotate(
        article_count=Count("articles", distinct=True), checklist_count=Count("diagnosischecklist", distinct=True)
    )


def goals(account_or_customer_id) -> QuerySet[SuccessGoal]:
    customer_id = getattr(account_or_customer_id, "customer_id", account_or_customer_id)
    return (
        SuccessGoal.objects.filter(customer_id=customer_id)
        .select_related("csm_owner", "customer_owner")
        .prefetch_related("milestones", "comments")
    )


def milestones(account) -> QuerySet[SuccessMilestone]:
    return SuccessMilestone.objects.filter(goal__customer_id=account.customer_id)


def monthly_tickets(account, months: int = 12) -> dict:
    """Tickets opened per month (the usage chart when no usage events are recorded)."""
    from django.db.models import Count

    today = timezone.localdate()
    labels = []
    year, month = today.year, today.month
    for _ in range(months):
        labels.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    labels.reverse()
    counts = dict(
        tickets(account)
        .filter(opened_month__gte=labels[0])
        .values_list("opened_month")
        .annotate(n=Count("id"))
        .values_list("opened_month", "n")
    )
    return {"labels": [d.strftime("%Y-%m") for d in labels], "values": [counts.get(d, 0) for d in labels]}


def _month_starts(months: int) -> list[date]:
    today = timezone.localdate()
    starts = []
    year, month = today.year, today.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    return starts


def usage_summary(account, months: int = 12) -> dict:
    """The customer's own product usage from the health app's usage events: events per month by type (one
    query, month bounds as datetime ranges: no time-zone functions in SQL), top features and active users."""
    from datetime import datetime, time, timedelta

    from django.db.models import Count, Q

    from health.models import UsageEvent

    starts = _month_starts(months)
    zone = timezone.get_current_timezone()
    bounds = [timezone.make_aware(datetime.combine(day, time.min), zone) for day in starts]
    after = starts[-1].replace(day=28) + timedelta(days=4)
    bounds.append(timezone.make_aware(datetime.combine(after.replace(day=1), time.min), zone))
    events = UsageEvent.objects.filter(customer_id=account.customer_id, occurred_at__gte=bounds[0])
    per_month = {
        f"m{i}": Count("id", filter=Q(occurred_at__gte=bounds[i], occurred_at__lt=bounds[i + 1])) for i in range(months)
    }
    rows = events.values("event_type").annotate(**per_month).order_by("event_type")
    series = {row["event_type"]: [row[f"m{i}"] for i in range(months)] for row in rows}
    now = timezone.now()
    recent = events.filter(occurred_at__gte=now - timedelta(days=90))
    features = list(
        recent.exclude(feature_name="")
        .values("feature_name")
        .annotate(n=Count("id"))
        .order_by("-n", "feature_name")[:8]
    )
    active_users = (
        events.filter(occurred_at__gte=now - timedelta(days=30)).exclude(user_identifier="")
        .values("user_identifier").distinct().count()
    )  # fmt: skip
    return {
        "labels": [day.strftime("%Y-%m") for day in starts],
        "series": series,
        "features": features,
        "active_users": active_users,
        "total": sum(sum(values) for values in series.values()),
    }

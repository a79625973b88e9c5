"""Reads of customer-success tasks: visibility follows the customer (customers_visible_to), never a second rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from customers.selectors import customers_visible_to
from success_tasks.choices import OPEN_STATUSES, TaskStatus, TaskType
from success_tasks.models import CsmProfile, CustomerSuccessTask


def tasks_visible_to(user) -> QuerySet[CustomerSuccessTask]:
    """Tasks of the customers `user` may see (live customers of the active tenant)."""
    return CustomerSuccessTask.objects.filter(customer__in=customers_visible_to(user))


def task_list_queryset(user) -> QuerySet[CustomerSuccessTask]:
    return tasks_visible_to(user).select_related("customer", "assigned_to")


def task_get_visible(user, task_id) -> CustomerSuccessTask | None:
    try:
        pk = int(task_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return task_list_queryset(user).filter(pk=pk).first()


def nav_badge(request) -> int | None:
    """Open tasks assigned to the signed-in user that are due today or overdue (one query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    end_of_today = timezone.localtime().replace(hour=23, minute=59, second=59)
    count = CustomerSuccessTask.objects.filter(
        assigned_to=user, status__in=OPEN_STATUSES, due_date__lte=end_of_today
    ).count()
    return count or None


def my_team(user) -> str:
    profile = CsmProfile.objects.filter(user=user).only("team").first()
    return profile.team if profile else ""


def team_names() -> list[str]:
    return sorted(set(CsmProfile.objects.exclude(team="").values_list("team", flat=True)))


def filter_tasks(queryset: QuerySet, user, params) -> QuerySet:
    """Board filters: mine, team, customer, priority, type, overdue (all optional, invalid values ignored)."""
    now = timezone.now()
    if params.get("mine"):
        queryset = queryset.filter(assigned_to=user)
    team = params.get("team") or ""
    if team:
        queryset = queryset.filter(assigned_to__csm_profile__team=team)
    for key, field in (("customer", "customer_id"), ("priority", "priority"), ("type", "task_type")):
        value = params.get(key)
        if value and str(value).isdigit() and len(str(value)) < 19:
            queryset = queryset.filter(**{field: int(value)})
    if params.get("overdue"):
        queryset = queryset.filter(status__in=OPEN_STATUSES, due_date__lt=now)
    return queryset


def my_day(user) -> dict[str, list[CustomerSuccessTask]]:
    """The user's open tasks: overdue, due today, next 7 days (one query)."""
    now = timezone.now()
    end_today = timezone.localtime(now).replace(hour=23, minute=59, second=59, microsecond=0)
    tasks = list(
        tasks_visible_to(user)
        .filter(assigned_to=user, status__in=OPEN_STATUSES, due_date__lte=end_today + timedelta(days=7))
        .select_related("customer")
        .order_by("due_date", "-priority")
    )
    return {
        "overdue": [t for t in tasks if t.due_date < now],
        "today": [t for t in tasks if now <= t.due_date <= end_today],
        "week": [t for t in tasks if t.due_date > end_today],
    }


# --- Success metrics ----------------------------------------------------------------------------------------------
def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def success_metrics(user, *, since: datetime) -> dict[str, Any]:
    """Renewal rate, satisfaction uplift, resolution rate, on-time completion per CSM and team, type x outcome."""
    from contracts.models import Contract
    from service_records.models import ServiceRecord

    tasks = tasks_visible_to(user).filter(created_at__gte=since)
    closed = tasks.filter(status__in=(TaskStatus.DONE, TaskStatus.CANCELLED))

    # Renewal rate: renewal tasks closed in the period whose customer signed a renewal (a successor contract)
    # after the task was created.
    renewed = Contract.objects.filter(
        customer_id=OuterRef("customer_id"), predecessor__isnull=False, created_at__gte=OuterRef("created_at")
    )
    renewal = closed.filter(task_type=TaskType.RENEWAL)
    renewal_total = renewal.count()
    renewal_won = renewal.filter(Exists(renewed)).count()

    # Satisfaction uplift: average overall rating in the 30 days after vs before completion, satisfaction tasks.
    def avg_rating(after: bool):
        window = (
            {
                "rated_at__gte": OuterRef("completion_date"),
                "rated_at__lt": OuterRef("completion_date") + timedelta(days=30),
            }
            if after
            else {
                "rated_at__lt": OuterRef("completion_date"),
                "rated_at__gte": OuterRef("completion_date") - timedelta(days=30),
            }
        )
        return Subquery(
            ServiceRecord.objects.filter(
                customer_id=OuterRef("customer_id"), satisfaction_overall__isnull=False, **window
            )
            .values("customer_id")
            .annotate(a=Avg("satisfaction_overall"))
            .values("a")[:1]
        )

    sat = list(
        tasks.filter(task_type=TaskType.SATISFACTION, status=TaskStatus.DONE)
        .annotate(before=avg_rating(False), after=avg_rating(True))
        .values_list("before", "after")
    )
    pairs = [(b, a) for b, a in sat if b is not None and a is not None]
    uplift = round(sum(a - b for b, a in pairs) / len(pairs), 2) if pairs else None

    issue = closed.filter(task_type=TaskType.ISSUE)
    issue_total = issue.count()
    issue_done = issue.filter(status=TaskStatus.DONE).count()

    done = tasks.filter(status=TaskStatus.DONE, due_date__isnull=False)
    per_csm = list(
        done.values(
            "assigned_to_id", "assigned_to__username", "assigned_to__display_name", "assigned_to__csm_profile__team"
        )
        .annotate(total=Count("id"), on_time=Count("id", filter=Q(completion_date__lte=F("due_date"))))
        .order_by("assigned_to__username")
    )
    for row in per_csm:
        row["rate"] = _rate(row["on_time"], row["total"])
        row["name"] = row["assigned_to__display_name"] or row["assigned_to__username"]
    teams: dict[str, dict[str, int]] = {}
    for row in per_csm:
        team = row["assigned_to__csm_profile__team"] or ""
        bucket = teams.setdefault(team, {"total": 0, "on_time": 0})
        bucket["total"] += row["total"]
        bucket["on_time"] += row["on_time"]
    per_team = [{"team": t, **v, "rate": _rate(v["on_time"], v["total"])} for t, v in sorted(teams.items())]

    by_type = {
        (r["task_type"], r["status"]): r["n"] for r in tasks.values("task_type", "status").annotate(n=Count("id"))
    }
    type_rows = [
        {
            "type": label,
            "counts": [by_type.get((value, status.value), 0) for status in TaskStatus],
            "total": sum(by_type.get((value, status.value), 0) for status in TaskStatus),
        }
        for value, label in TaskType.choices
    ]
    effect = tasks.filter(effectiveness_score__isnull=False).aggregate(
        avg=Avg("effectiveness_score"), change=Avg("health_change")
    )
    return {
        "renewal_rate": _rate(renewal_won, renewal_total),
        "renewal_total": renewal_total,
        "satisfaction_uplift": uplift,
        "satisfaction_pairs": len(pairs),
        "resolution_rate": _rate(issue_done, issue_total),
        "resolution_total": issue_total,
        "per_csm": per_csm,
        "per_team": per_team,
        "type_rows": type_rows,
        "statuses": [status.label for status in TaskStatus],
        "effectiveness_avg": effect["avg"],
        "health_change_avg": effect["change"],
    }

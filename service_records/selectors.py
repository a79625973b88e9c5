"""Reads of service records: visibility (a ticket follows its customer), lists, and the SLA / satisfaction
figures of a customer, a contract or the whole tenant. Every figure comes from SQL aggregates in a constant
number of queries; percentiles read one `values_list` per metric set (docs/performance.md).
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Customer
from customers.selectors import SEE_ALL_ROLES, customers_visible_to
from service_records.choices import (
    CSAT_SATISFIED_MIN,
    DIMENSION_LABELS,
    DIMENSIONS,
    NPS_TARGET,
    OPEN_STATUSES,
    PERIODS,
    SATISFACTION_TARGET,
)
from service_records.models import NpsResponse, ServiceRecord, ServiceReport


# --- Visibility ---------------------------------------------------------------------------------------------------
def _customer_filter(user: User) -> Q:
    if user.is_superuser or user.role in SEE_ALL_ROLES:
        # "Not one of the few deleted customers": a small set built once, instead of a join per ticket row
        # (the join made the tenant-wide aggregates 2x slower over 500k+ tickets).
        deleted = Customer.objects.filter(deleted_at__isnull=False).values("pk")
        return ~Q(customer_id__in=deleted)
    return Q(customer__in=customers_visible_to(user))


def records_visible_to(user: User) -> QuerySet[ServiceRecord]:
    """Tickets of the active tenant whose customer `user` may see."""
    return ServiceRecord.objects.filter(_customer_filter(user))


def record_get_visible(user: User, pk) -> ServiceRecord | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return records_visible_to(user).select_related("customer", "contract").filter(pk=pk).first()


def nps_visible_to(user: User) -> QuerySet[NpsResponse]:
    return NpsResponse.objects.filter(_customer_filter(user))


def reports_visible_to(user: User) -> QuerySet[ServiceReport]:
    return ServiceReport.objects.filter(_customer_filter(user))


def report_get_visible(user: User, customer: Customer, pk) -> ServiceReport | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return ServiceReport.objects.filter(customer=customer, pk=pk).first()


# --- Periods ------------------------------------------------------------------------------------------------------
def months_back(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return date(year, month, min(day.day, last[month - 1]))


def period_since(period: str, now: datetime | None = None) -> datetime:
    """The start of `1m|3m|6m|12m` before now (local midnight)."""
    today = timezone.localdate(now or timezone.now())
    start = months_back(today, PERIODS[period])
    return timezone.make_aware(datetime.combine(start, datetime.min.time()))


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


# --- Figures ------------------------------------------------------------------------------------------------------
def _pct(part: int, whole: int) -> float | None:
    return None if not whole else round(100.0 * part / whole, 1)


def _round(value) -> float | None:
    return None if value is None else round(float(value), 2)


def _minutes_summary(values: list[int]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "p90": None}
    values.sort()
    p90 = values[min(len(values) - 1, max(0, int(round(0.9 * len(values) + 0.5)) - 1))]
    return {"mean": round(statistics.fmean(values), 1), "median": float(statistics.median(values)), "p90": float(p90)}


RESPONDED = Q(first_response_at__isnull=False) | Q(resolved_at__isnull=False) | Q(closed_at__isnull=False)
RESOLVED = Q(resolved_at__isnull=False) | Q(closed_at__isnull=False)
# A target is judged once its outcome is known: met (answered / resolved in time) or already missed.
RESPONSE_JUDGED = Q(sla_first_response_minutes__isnull=False) & (RESPONDED | Q(response_breached=True))
RESOLUTION_JUDGED = Q(sla_resolution_minutes__isnull=False) & (RESOLVED | Q(resolution_breached=True))


def _aggregates() -> dict[str, Any]:
    values: dict[str, Any] = {
        "tickets": Count("id"),
        "open": Count("id", filter=Q(status__in=OPEN_STATUSES)),
        "response_judged": Count("id", filter=RESPONSE_JUDGED),
        "response_met": Count("id", filter=RESPONSE_JUDGED & Q(response_breached=False)),
        "resolution_judged": Count("id", filter=RESOLUTION_JUDGED),
        "resolution_met": Count("id", filter=RESOLUTION_JUDGED & Q(resolution_breached=False)),
        "breaches": Count("id", filter=Q(breached=True)),
        "responses": Count("id", filter=Q(satisfaction_overall__isnull=False)),
        "satisfied": Count("id", filter=Q(satisfaction_overall__gte=CSAT_SATISFIED_MIN)),
    }
    for name in DIMENSIONS:
        values[f"avg_{name}"] = Avg(f"satisfaction_{name}")
    return values


def nps_figures(queryset: QuerySet[NpsResponse]) -> dict[str, Any]:
    row = queryset.aggregate(
        answers=Count("id"),
        promoters=Count("id", filter=Q(score__gte=9)),
        detractors=Count("id", filter=Q(score__lte=6)),
    )
    nps = None
    if row["answers"]:
        nps = round(100.0 * (row["promoters"] - row["detractors"]) / row["answers"], 1)
    return {"nps": nps, "answers": row["answers"], "promoters": row["promoters"], "detractors": row["detractors"]}


def service_stats(records: QuerySet[ServiceRecord], nps: QuerySet[NpsResponse]) -> dict[str, Any]:
    """The figures of PRD 2.1.3 for a set of tickets (already filtered by customer/contract and period).

    Compliance is the share of judged tickets with a target that met it (None without any such ticket).
    Six queries whatever the volume.
    """
    row = records.aggregate(**_aggregates())
    response_values, resolution_values = [], []
    for response, resolution in records.filter(
        Q(response_minutes__isnull=False) | Q(resolution_minutes__isnull=False)
    ).values_list("response_minutes", "resolution_minutes"):
        if response is not None:
            response_values.append(response)
        if resolution is not None:
            resolution_values.append(resolution)
    by_category = [
        {
            "category": entry["category"] or "",
            "tickets": entry["tickets"],
            "breaches": entry["breaches"],
            "satisfaction": _round(entry["avg"]),
        }
        for entry in records.values("category")
        .annotate(tickets=Count("id"), breaches=Count("id", filter=Q(breached=True)), avg=Avg("satisfaction_overall"))
        .order_by("-tickets", "category")[:20]
    ]
    by_priority = [
        {
            "priority": entry["priority"],
            "tickets": entry["tickets"],
            "breaches": entry["breaches"],
            "first_response_compliance": _pct(entry["response_met"], entry["response_judged"]),
            "resolution_compliance": _pct(entry["resolution_met"], entry["resolution_judged"]),
        }
        for entry in records.values("priority")
        .annotate(
            tickets=Count("id"),
            breaches=Count("id", filter=Q(breached=True)),
            response_judged=Count("id", filter=RESPONSE_JUDGED),
            response_met=Count("id", filter=RESPONSE_JUDGED & Q(response_breached=False)),
            resolution_judged=Count("id", filter=RESOLUTION_JUDGED),
            resolution_met=Count("id", filter=RESOLUTION_JUDGED & Q(resolution_breached=False)),
        )
        .order_by("priority")
    ]
    nps_row = nps_figures(nps)
    return {
        "tickets": row["tickets"],
        "open": row["open"],
        "first_response_compliance": _pct(row["response_met"], row["response_judged"]),
        "resolution_compliance": _pct(row["resolution_met"], row["resolution_judged"]),
        "breaches": row["breaches"],
        "response_minutes": _minutes_summary(response_values),
        "resolution_minutes": _minutes_summary(resolution_values),
        "by_category": by_category,
        "by_priority": by_priority,
        "satisfaction": {
            **{name: _round(row[f"avg_{name}"]) for name in DIMENSIONS},
            "responses": row["responses"],
        },
        "csat": _pct(row["satisfied"], row["responses"]),
        "nps": nps_row["nps"],
        "nps_answers": nps_row["answers"],
    }


def customer_stats(customer: Customer, period: str = "3m", *, now: datetime | None = None) -> dict[str, Any]:
    since = period_since(period, now)
    records = ServiceRecord.objects.filter(customer=customer, opened_at__gte=since)
    nps = NpsResponse.objects.filter(customer=customer, responded_at__gte=since)
    return {"period": period, "since": timezone.localdate(since).isoformat(), **service_stats(records, nps)}


def contract_stats(contract, period: str = "3m", *, now: datetime | None = None) -> dict[str, Any]:
    since = period_since(period, now)
    records = ServiceRecord.objects.filter(contract=contract, opened_at__gte=since)
    nps = NpsResponse.objects.filter(customer_id=contract.customer_id, responded_at__gte=since)
    return {"period": period, "since": timezone.localdate(since).isoformat(), **service_stats(records, nps)}


# --- Trends -------------------------------------------------------------------------------------------------------
def month_starts(months: int, today: date | None = None) -> list[date]:
    today = today or timezone.localdate()
    first = today.replace(day=1)
    return [months_back(first, back) for back in range(months - 1, -1, -1)]


def monthly_trends(
    records: QuerySet[ServiceRecord], nps: QuerySet[NpsResponse], *, months: int = 12, today: date | None = None
) -> dict[str, Any]:
    """Per month: average of each dimension, CSAT, tickets, breaches and NPS. Two GROUP BY queries on the stored
    local month (`opened_month` / `responded_month`), so the database needs no time-zone tables."""
    starts = month_starts(months, today)
    index = {start: i for i, start in enumerate(starts)}
    empty: list[Any] = [None] * months
    dims = {name: list(empty) for name in DIMENSIONS}
    tickets, breaches, responses, csat, nps_values = [0] * months, [0] * months, [0] * months, list(empty), list(empty)
    rows = (
        records.filter(opened_month__gte=starts[0], opened_month__lte=starts[-1])
        .values("opened_month")
        .annotate(
            t=Count("id"),
            b=Count("id", filter=Q(breached=True)),
            n=Count("satisfaction_overall"),
            s=Count("id", filter=Q(satisfaction_overall__gte=CSAT_SATISFIED_MIN)),
            **{name: Avg(f"satisfaction_{name}") for name in DIMENSIONS},
        )
        .order_by()
    )
    for row in rows:
        i = index.get(row["opened_month"])
        if i is None:
            continue
        tickets[i], breaches[i], responses[i] = row["t"], row["b"], row["n"]
        csat[i] = _pct(row["s"], row["n"])
        for name in DIMENSIONS:
            dims[name][i] = _round(row[name])
    for row in (
        nps.filter(responded_month__gte=starts[0], responded_month__lte=starts[-1])
        .values("responded_month")
        .annotate(a=Count("id"), p=Count("id", filter=Q(score__gte=9)), d=Count("id", filter=Q(score__lte=6)))
        .order_by()
    ):
        i = index.get(row["responded_month"])
        if i is not None and row["a"]:
            nps_values[i] = round(100.0 * (row["p"] - row["d"]) / row["a"], 1)
    return {
        "labels": [s.strftime("%Y-%m") for s in starts],
        "dimensions": dims,
        "tickets": tickets,
        "breaches": breaches,
        "responses": responses,
        "csat": csat,
        "nps": nps_values,
    }


def trend_charts(trends: dict[str, Any]) -> dict[str, dict]:
    """Chart specs for static/js/charts.js with the PRD targets drawn (satisfaction 4.5, NPS 50)."""
    return {
        "satisfaction": {
            "type": "line",
            "labels": trends["labels"],
            "datasets": [
                {"label": str(DIMENSION_LABELS[name]), "data": trends["dimensions"][name]} for name in DIMENSIONS
            ],
            "targets": [
                {"value": SATISFACTION_TARGET, "label": _("Target %(value)s") % {"value": SATISFACTION_TARGET}}
            ],
            "y": {"min": 1, "max": 5},
        },
        "nps": {
            "type": "line",
            "labels": trends["labels"],
            "datasets": [
                {"label": _("NPS"), "data": trends["nps"]},
                {"label": _("CSAT (%)"), "data": trends["csat"]},
            ],
            "targets": [{"value": NPS_TARGET, "label": _("NPS target %(value)s") % {"value": NPS_TARGET}}],
            "y": {"min": -100, "max": 100},
        },
    }


# --- Suggestions --------------------------------------------------------------------------------------------------
ADVICE = {
    "overall": _("Review the whole service journey with the customer; agree on the two changes they value most."),
    "response_speed": _("Answer faster: check on-call coverage and first-response routing for this customer."),
    "professionalism": _("Coach the engineers on this account; pair junior staff with seniors on its tickets."),
    "resolution_quality": _("Fix root causes: run a problem review on repeated tickets before closing them."),
}
COMPLAINT_MAX_RATING = 3


def suggestions(records: QuerySet[ServiceRecord], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Improvement suggestions, each with the figures it came from (the weakest dimension, the categories
    with the most complaints = tickets rated 3 or less overall, or breached)."""
    out: list[dict[str, Any]] = []
    rated = {name: stats["satisfaction"][name] for name in DIMENSIONS if stats["satisfaction"][name] is not None}
    if rated:
        weakest = min(rated, key=lambda name: (rated[name], DIMENSIONS.index(name)))
        if rated[weakest] < SATISFACTION_TARGET:
            out.append(
                {
                    "kind": "dimension",
                    "key": weakest,
                    "title": _("Weakest dimension: %(name)s") % {"name": DIMENSION_LABELS[weakest]},
                    "advice": str(ADVICE[weakest]),
                    "figures": _("average %(value).2f of 5 over %(count)d rated tickets (target %(target)s)")
                    % {
                        "value": rated[weakest],
                        "count": stats["satisfaction"]["responses"],
                        "target": SATISFACTION_TARGET,
                    },
                }
            )
    complaints = (
        records.filter(Q(satisfaction_overall__lte=COMPLAINT_MAX_RATING) | Q(breached=True))
        .values("category")
        .annotate(count=Count("id"), low=Count("id", filter=Q(satisfaction_overall__lte=COMPLAINT_MAX_RATING)))
        .order_by("-count", "category")[:3]
    )
    for entry in complaints:
        category = entry["category"] or _("uncategorised")
        out.append(
            {
                "kind": "category",
                "key": entry["category"],
                "title": _("Frequent complaints: %(category)s") % {"category": category},
                "advice": _("Look for a common cause in the %(category)s tickets and agree a fix with the customer.")
                % {"category": category},
                "figures": _("%(count)d tickets rated 3 or less or past their SLA (%(low)d low ratings)")
                % {"count": entry["count"], "low": entry["low"]},
            }
        )
    return out


# --- The tenant-wide page -----------------------------------------------------------------------------------------
def tenant_overview(user: User, period: str = "3m", *, now: datetime | None = None) -> dict[str, Any]:
    """Compliance by customer (worst first), worst breaches, satisfaction distribution and the tenant's figures."""
    since = period_since(period, now)
    records = records_visible_to(user).filter(opened_at__gte=since)
    nps = nps_visible_to(user).filter(responded_at__gte=since)
    stats = service_stats(records, nps)
    per_customer = []
    for entry in (
        records.filter(Q(sla_first_response_minutes__isnull=False) | Q(sla_resolution_minutes__isnull=False))
        .values("customer_id", "customer__customer_name")
        .annotate(
            tickets=Count("id"),
            breaches=Count("id", filter=Q(breached=True)),
            judged=Count("id", filter=RESOLUTION_JUDGED),
            met=Count("id", filter=RESOLUTION_JUDGED & Q(resolution_breached=False)),
        )
        .filter(breaches__gt=0)
        .order_by("-breaches", "customer_id")[:20]
    ):
        per_customer.append(
            {
                "customer_id": entry["customer_id"],
                "customer_name": entry["customer__customer_name"],
                "tickets": entry["tickets"],
                "breaches": entry["breaches"],
                "resolution_compliance": _pct(entry["met"], entry["judged"]),
            }
        )
    worst = list(
        records.filter(breached=True, breach_minutes__isnull=False)
        .select_related("customer")
        .order_by("-breach_minutes", "-id")[:10]
    )
    distribution = dict(
        records.filter(satisfaction_overall__isnull=False)
        .values_list("satisfaction_overall")
        .annotate(count=Count("id"))
        .values_list("satisfaction_overall", "count")
    )
    return {
        "period": period,
        "since": timezone.localdate(since),
        "stats": stats,
        "by_customer": per_customer,
        "worst_breaches": worst,
        "distribution": [distribution.get(score, 0) for score in range(1, 6)],
    }


OVERVIEW_TTL = 600
WARM_PERIODS = ("3m",)


def _overview_key(user: User, period: str) -> str:
    audience = "all" if user.is_superuser or user.role in SEE_ALL_ROLES else f"user{user.pk}"
    return f"crm:service_records:overview:{user.tenant_id}:{audience}:{period}:{timezone.localdate().isoformat()}"


def tenant_quality(user: User, period: str, *, refresh: bool = False) -> dict[str, Any]:
    """The tenant-wide page's figures (overview + 12-month trends), cached for 10 minutes per audience.

    Over a million tickets the aggregates take seconds, so the 5-minute breach scan recomputes the
    "everyone" audience for the default period 3m (`warm_tenant_quality`) and the page reads the cached copy;
    the page shows when its figures were computed. Other periods and CSM audiences are computed on first request.
    """
    key = _overview_key(user, period)
    if not refresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    overview = tenant_overview(user, period)
    overview["trends"] = monthly_trends(records_visible_to(user), nps_visible_to(user))
    overview["computed_at"] = timezone.now()
    cache.set(key, overview, OVERVIEW_TTL)
    return overview


def warm_tenant_quality(user: User) -> int:
    for period in WARM_PERIODS:
        tenant_quality(user, period, refresh=True)
    return len(WARM_PERIODS)


def timeline_window(records: QuerySet[ServiceRecord], before: datetime | None, limit: int) -> list[ServiceRecord]:
    """Tickets with an event (opened, resolved, rated) before `before`, newest first (one query)."""
    if before is not None:
        records = records.filter(Q(opened_at__lt=before) | Q(resolved_at__lt=before) | Q(rated_at__lt=before))
    return list(records.order_by("-opened_at", "-id")[: limit * 2])


def default_report_period(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return months_back(today, 1) + timedelta(days=1), today

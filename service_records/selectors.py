"""Reads of service records: visibility (a ticket follows its customer), lists, and the SLA / satisfaction
figures of a customer, a contract or the whole tenant. Every figure comes from SQL aggregates in a constant
number of queries; percentiles read one `values_list` per metric set (docs/performance.md).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Customer
from customers.selectors import SEE_ALL_ROLES, customers_visible_to
from service_records import rollup
from service_records.choices import (
    CSAT_SATISFIED_MIN,
    DIMENSION_LABELS,
    DIMENSIONS,
    NPS_TARGET,
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


RESPONDED = Q(first_response_at__isnull=False) | Q(resolved_at__isnull=False) | Q(closed_at__isnull=False)
RESOLVED = Q(resolved_at__isnull=False) | Q(closed_at__isnull=False)
# A target is judged once its outcome is known: met (answered / resolved in time) or already missed.
RESPONSE_JUDGED = Q(sla_first_response_minutes__isnull=False) & (RESPONDED | Q(response_breached=True))
RESOLUTION_JUDGED = Q(sla_resolution_minutes__isnull=False) & (RESOLVED | Q(resolution_breached=True))


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
    Two queries: the tickets' narrow rows (a customer's or contract's set is small; the index range
    (tenant, customer, opened_at) reads it) and the NPS aggregate; everything else is computed in Python
    (service_records.rollup.stats_from_rows, the same code the tenant-wide rollup figures use).
    """
    stats = rollup.stats_from_rows(records.order_by().values_list(*rollup.RAW_FIELDS), nps_figures(nps))
    stats.pop("distribution")
    return stats


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
    nps_values = _nps_by_month(nps, starts)
    return {
        "labels": [s.strftime("%Y-%m") for s in starts],
        "dimensions": dims,
        "tickets": tickets,
        "breaches": breaches,
        "responses": responses,
        "csat": csat,
        "nps": nps_values,
    }


def _nps_by_month(nps: QuerySet[NpsResponse], starts: list[date]) -> list[float | None]:
    """NPS per month (one GROUP BY on the stored local month of the answers)."""
    index = {start: i for i, start in enumerate(starts)}
    values: list[float | None] = [None] * len(starts)
    for row in (
        nps.filter(responded_month__gte=starts[0], responded_month__lte=starts[-1])
        .values("responded_month")
        .annotate(a=Count("id"), p=Count("id", filter=Q(score__gte=9)), d=Count("id", filter=Q(score__lte=6)))
        .order_by()
    ):
        i = index.get(row["responded_month"])
        if i is not None and row["a"]:
            values[i] = round(100.0 * (row["p"] - row["d"]) / row["a"], 1)
    return values


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
def sees_all(user: User) -> bool:
    return user.is_superuser or user.role in SEE_ALL_ROLES


def _deleted_delta(since: datetime) -> rollup.Delta | None:
    """The contributions of deleted customers' tickets opened since `since` (the rollups count every ticket;
    the figures leave deleted customers out, and they are few)."""
    deleted = list(Customer.objects.filter(deleted_at__isnull=False).order_by().values_list("pk", flat=True))
    if not deleted:
        return None
    delta = rollup.Delta()
    for row in (
        ServiceRecord.objects.filter(customer_id__in=deleted, opened_at__gte=since)
        .order_by()
        .values_list(*rollup.RAW_FIELDS)
    ):
        delta.add(row)
    return delta


def tenant_overview(user: User, period: str = "3m", *, now: datetime | None = None) -> dict[str, Any]:
    """Compliance by customer (worst first), worst breaches, satisfaction distribution, the tenant's figures and
    the 12-month trends.

    A role that sees every customer reads the rollups (service_records.rollup: a few grouped queries over
    day rows, whatever the number of tickets) minus the tickets of deleted customers; a CSM's own book is
    computed from its tickets. The worst customers and breaches read the breached tickets of the period
    through the index (tenant, breached, opened_at, customer).
    """
    since = period_since(period, now)
    today = timezone.localdate(now or timezone.now())
    starts = month_starts(12, today)
    records = records_visible_to(user).filter(opened_at__gte=since)
    nps_all = nps_visible_to(user)
    nps = nps_figures(nps_all.filter(responded_at__gte=since))
    if sees_all(user):
        minus = _deleted_delta(min(since, day_start(starts[0])))
        stats = rollup.stats_from_rollup(timezone.localdate(since), nps, minus)
        trends = _trends(rollup.monthly_from_rollup(starts[0], starts[-1], minus), nps_all, starts)
    else:
        stats = rollup.stats_from_rows(records.order_by().values_list(*rollup.RAW_FIELDS), nps)
        trends = monthly_trends(records_visible_to(user), nps_all, today=today)
    distribution = stats.pop("distribution")
    breached = records.filter(breached=True)
    top = [
        entry["customer_id"]
        for entry in breached.order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
        .order_by("-n", "customer_id")[:20]
    ]
    per_customer = []
    if top:
        for entry in (
            records.filter(customer_id__in=top)
            .filter(Q(sla_first_response_minutes__isnull=False) | Q(sla_resolution_minutes__isnull=False))
            .values("customer_id", "customer__customer_name")
            .annotate(
                tickets=Count("id"),
                breaches=Count("id", filter=Q(breached=True)),
                judged=Count("id", filter=RESOLUTION_JUDGED),
                met=Count("id", filter=RESOLUTION_JUDGED & Q(resolution_breached=False)),
            )
            .order_by("-breaches", "customer_id")
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
    # The ten ids from the index (tenant, breached, opened_at, customer, breach_minutes), then their rows.
    worst_ids = list(
        breached.filter(breach_minutes__isnull=False)
        .order_by("-breach_minutes", "-id")
        .values_list("id", flat=True)[:10]
    )
    worst = list(
        ServiceRecord.objects.filter(pk__in=worst_ids).select_related("customer").order_by("-breach_minutes", "-id")
    )
    return {
        "period": period,
        "since": timezone.localdate(since),
        "stats": stats,
        "by_customer": per_customer,
        "worst_breaches": worst,
        "distribution": distribution,
        "trends": trends,
    }


def _trends(months: dict[date, list[int]], nps: QuerySet[NpsResponse], starts: list[date]) -> dict[str, Any]:
    """monthly_trends' shape from counter vectors per month (the rollup path)."""
    i = rollup.AT
    dims: dict[str, list] = {name: [] for name in DIMENSIONS}
    tickets, breaches, responses, csat = [], [], [], []
    for start in starts:
        v = months.get(start, [0] * rollup.N)
        tickets.append(v[i["tickets"]])
        breaches.append(v[i["breaches"]])
        responses.append(v[i["rated"]])
        satisfied = sum(v[i[f"overall_{score}"]] for score in range(CSAT_SATISFIED_MIN, 6))
        csat.append(_pct(satisfied, v[i["rated"]]))
        dims["overall"].append(rollup.average(v[i["sum_overall"]], v[i["rated"]]))
        for name in DIMENSIONS[1:]:
            dims[name].append(rollup.average(v[i[f"sum_{name}"]], v[i[f"rated_{name}"]]))
    return {
        "labels": [s.strftime("%Y-%m") for s in starts],
        "dimensions": dims,
        "tickets": tickets,
        "breaches": breaches,
        "responses": responses,
        "csat": csat,
        "nps": _nps_by_month(nps, starts),
    }


OVERVIEW_TTL = 60


def _overview_key(user: User, period: str) -> str:
    audience = "all" if sees_all(user) else f"user{user.pk}"
    return f"crm:service_records:overview:{user.tenant_id}:{audience}:{period}:{timezone.localdate().isoformat()}"


def tenant_quality(user: User, period: str, *, refresh: bool = False) -> dict[str, Any]:
    """The tenant-wide page's figures (overview + 12-month trends), computed fresh from the rollups in a few
    queries and kept one minute per audience (a page reload or the API right after reads the copy)."""
    key = _overview_key(user, period)
    if not refresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    overview = tenant_overview(user, period)
    overview["computed_at"] = timezone.now()
    cache.set(key, overview, OVERVIEW_TTL)
    return overview


def timeline_window(records: QuerySet[ServiceRecord], before: datetime | None, limit: int) -> list[ServiceRecord]:
    """Tickets with an event (opened, resolved, rated) before `before`, newest first (one query)."""
    if before is not None:
        records = records.filter(Q(opened_at__lt=before) | Q(resolved_at__lt=before) | Q(rated_at__lt=before))
    return list(records.order_by("-opened_at", "-id")[: limit * 2])


def default_report_period(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return months_back(today, 1) + timedelta(days=1), today

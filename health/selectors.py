"""Reads of the health app: trend, value analysis, tab and dashboard figures."""

from __future__ import annotations

import bisect
import statistics
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from communications.selectors import customer_needs
from contracts.choices import ContractStatus, InvoiceStatus
from contracts.models import Contract, Invoice, Payment
from customers.models import Customer
from health.churn import health_settings
from health.models import CustomerHealthScore
from service_records.models import ServiceRecord

PERIOD_DAYS = {"1m": 30, "3m": 91, "6m": 183, "12m": 365}


def _invoice_figures(today, year_ago, half) -> dict:
    """Invoice aggregates of the value analysis (one customer's or grouped per customer): revenue of the last half
    year, of the half before and of 12 months; invoices due in 12 months and how many of them were paid late."""
    due = Q(due_date__gt=year_ago, due_date__lte=today)
    return {
        "recent": Sum("amount", filter=Q(issue_date__gt=half, issue_date__lte=today)),
        "before": Sum("amount", filter=Q(issue_date__gt=year_ago, issue_date__lte=half)),
        "revenue_12m": Sum("amount", filter=Q(issue_date__gt=year_ago, issue_date__lte=today)),
        "due": Count("id", filter=due),
        "late": Count("id", filter=due & (Q(paid_date__isnull=True) | Q(paid_date__gt=F("due_date")))),
    }


def latest_score(customer: Customer) -> CustomerHealthScore | None:
    return CustomerHealthScore.objects.filter(customer=customer).order_by("-score_date").first()


def trend_points(customer: Customer, period: str, *, today: date | None = None) -> list[dict[str, Any]]:
    """Rows of the period: every day for 1m, the last row of each week for 3m, of each month for 6m and 12m."""
    today = today or timezone.localdate()
    rows = list(
        CustomerHealthScore.objects.filter(
            customer=customer, score_date__gt=today - timedelta(days=PERIOD_DAYS[period]), score_date__lte=today
        )
        .order_by("score_date")
        .values("score_date", "overall_score", "risk_level")
    )
    if period == "1m":
        return rows
    buckets: dict[tuple, dict] = {}
    for row in rows:
        day = row["score_date"]
        key = tuple(day.isocalendar()[:2]) if period == "3m" else (day.year, day.month)
        buckets[key] = row
    return list(buckets.values())


def trend_analysis(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Direction from the least-squares slope (points per 30 days, ±1 = flat), change rate last vs first,
    stability from the standard deviation (< 5 stable, < 10 fluctuating, else volatile)."""
    if len(points) < 2:
        return {"direction": _("Flat"), "change_rate": 0.0, "stability": _("Stable")}
    xs = [(p["score_date"] - points[0]["score_date"]).days for p in points]
    ys = [float(p["overall_score"]) for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread * 30 if spread else 0.0
    direction = _("Rising") if slope > 1 else _("Falling") if slope < -1 else _("Flat")
    change_rate = round((ys[-1] - ys[0]) / ys[0], 3) if ys[0] else 0.0
    deviation = statistics.pstdev(ys)
    stability = _("Stable") if deviation < 5 else _("Fluctuating") if deviation < 10 else _("Volatile")
    return {"direction": direction, "change_rate": change_rate, "stability": stability}


def _months(start: date, end: date) -> float:
    return max((end - start).days / 30.4375, 1.0)


def value_analysis(customer: Customer, *, today: date | None = None) -> dict[str, Any]:
    """PRD 4.1.4. Cost model: (tickets of 12 months × hours per ticket + 12 × account hours per month) × hourly
    rate (tenant health settings); see docs/health.md."""
    today = today or timezone.localdate()
    settings = health_settings()
    contracts = Contract.objects.filter(customer=customer).exclude(status=ContractStatus.DRAFT)
    ltv = customer.ltv or Decimal(0)
    running = contracts.filter(start_date__lte=today, end_date__gte=today, status=ContractStatus.ACTIVE)
    monthly = sum((float(c.contract_amount) / _months(c.start_date, c.end_date) for c in running), 0.0)
    # ARPU over the same contracts as ltv: their revenue per month of the term they cover (first start to last end).
    span = contracts.aggregate(first=Min("start_date"), last=Max("end_date"))
    covered = _months(span["first"], span["last"] + timedelta(days=1)) if span["first"] else 1.0
    total_revenue = float(
        Payment.objects.filter(invoice__contract__customer=customer).aggregate(s=Sum("amount"))["s"] or 0
    )
    invoices = Invoice.objects.filter(contract__customer=customer).exclude(status=InvoiceStatus.CANCELLED)
    year_ago = today - timedelta(days=365)
    half = today - timedelta(days=183)
    figures = invoices.aggregate(**_invoice_figures(today, year_ago, half))
    score = latest_score(customer)
    return _value_result(
        customer_id=customer.pk,
        ltv=ltv,
        covered=covered,
        monthly=monthly,
        total_revenue=total_revenue,
        recent=float(figures["recent"] or 0),
        before=float(figures["before"] or 0),
        revenue_12m=float(figures["revenue_12m"] or 0),
        due=figures["due"],
        late=figures["late"],
        tickets=ServiceRecord.objects.filter(
            customer=customer, opened_at__gte=timezone.now() - timedelta(days=365)
        ).count(),
        share=_rank_share(ltv),
        contract_score=score.contract_score if score else None,
        health=float(score.overall_score) if score else None,
        usage=(score.inputs or {}) if score else {},
        needs={n.get("tag") for n in customer_needs(customer, since=timezone.now() - timedelta(days=180))},
        settings=settings,
    )


def _rank_share(ltv) -> float:
    alive = Customer.objects.alive()
    total = alive.count()
    above = alive.filter(ltv__gt=ltv).count()
    return (above + 1) / total if total else 1


def _value_result(
    *, customer_id, ltv, covered, monthly, total_revenue, recent, before, revenue_12m, due, late, tickets, share,
    contract_score, health, usage, needs, settings,
) -> dict[str, Any]:  # fmt: skip
    """The PRD 4.1.4 shape from the measured figures (one customer; shared by value_analysis / value_analyses)."""
    if before == 0 and recent == 0:
        revenue_trend = _("Flat")
    elif before == 0 or recent > before * 1.05:
        revenue_trend = _("Rising")
    elif recent < before * 0.95:
        revenue_trend = _("Falling")
    else:
        revenue_trend = _("Flat")
    revenue_12m = revenue_12m or monthly * 12
    cost = (tickets * float(settings.hours_per_ticket) + 12 * float(settings.hours_per_month)) * float(
        settings.service_hour_rate
    )
    margin = round((revenue_12m - cost) / revenue_12m, 2) if revenue_12m else None
    rank = next((t for t in (1, 5, 10, 20, 30, 50) if share <= t / 100), 100)
    value_rank = _("Top %(p)d%%") % {"p": rank} if rank < 100 else _("Bottom 50%")
    punctuality = round(1 - late / due, 2) if due else None
    contract_stability = round(float(contract_score) / 100, 2) if contract_score is not None else None
    opportunities = []
    if "upsell_interest" in needs:
        opportunities.append(_("Upgrade the service level (asked for in communications)"))
    if (usage.get("active_users_30d") or 0) >= 5:
        opportunities.append(_("Add user seats (%(n)d active users)") % {"n": usage["active_users_30d"]})
    if (
        usage.get("features_30d") is not None
        and (usage.get("features_30d") or 0) < 3
        and (usage.get("logins_30d") or 0) >= 10
    ):
        opportunities.append(_("Offer add-on modules (frequent use of few features)"))
    if "training_request" in needs:
        opportunities.append(_("Sell a training package"))
    upsell = 0.1
    if health is not None:
        upsell += 0.5 * max(health - 50, 0) / 50
    upsell += 0.15 * len(opportunities)
    upsell = round(min(upsell, 0.95), 2)
    return {
        "customer_id": customer_id,
        "value_analysis": {
            "ltv": float(ltv),
            "arpu": round(float(ltv) / covered, 2),
            "profit_margin": margin,
            "revenue_trend": revenue_trend,
            "value_rank": value_rank,
        },
        "financial_metrics": {
            "total_revenue": round(total_revenue, 2),
            "monthly_revenue": round(monthly, 2),
            "payment_punctuality": punctuality,
            "contract_stability": contract_stability,
        },
        "growth_potential": {
            "upsell_probability": upsell,
            "expansion_opportunities": opportunities,
            "estimated_growth": round(upsell * 0.4, 2),
        },
    }


def value_analyses(customers: list[Customer], *, today: date | None = None, chunk: int = 5000) -> dict[int, dict]:
    """`value_analysis` of many customers at once (customer id -> the same dict), for tenant-wide jobs such as the
    nightly grading: a few grouped queries per chunk of customers instead of ~12 queries a customer."""
    from communications.models import Communication

    today = today or timezone.localdate()
    now = timezone.now()
    settings = health_settings()
    ltvs = sorted(float(v or 0) for v in Customer.objects.alive().values_list("ltv", flat=True))
    total = len(ltvs)
    year_ago, half = today - timedelta(days=365), today - timedelta(days=183)
    out: dict[int, dict] = {}
    for start in range(0, len(customers), chunk):
        part = customers[start : start + chunk]
        ids = [c.pk for c in part]
        running: dict[int, float] = {}
        span: dict[int, list] = {}
        for customer_id, amount, first, last, status in (
            Contract.objects.filter(customer_id__in=ids)
            .exclude(status=ContractStatus.DRAFT)
            .values_list("customer_id", "contract_amount", "start_date", "end_date", "status")
        ):
            if first <= today <= last and status == ContractStatus.ACTIVE:
                running[customer_id] = running.get(customer_id, 0.0) + float(amount) / _months(first, last)
            bounds = span.setdefault(customer_id, [first, last])
            bounds[0], bounds[1] = min(bounds[0], first), max(bounds[1], last)
        paid = dict(
            Payment.objects.filter(invoice__contract__customer_id__in=ids)
            .values_list("invoice__contract__customer_id")
            .annotate(s=Sum("amount"))
            .order_by()
        )
        figures = {
            row.pop("contract__customer_id"): row
            for row in Invoice.objects.filter(contract__customer_id__in=ids)
            .exclude(status=InvoiceStatus.CANCELLED)
            .values("contract__customer_id")
            .annotate(**_invoice_figures(today, year_ago, half))
            .order_by()
        }
        tickets = dict(
            ServiceRecord.objects.filter(customer_id__in=ids, opened_at__gte=now - timedelta(days=365))
            .values_list("customer_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        last_day = dict(
            CustomerHealthScore.objects.filter(customer_id__in=ids)
            .values_list("customer_id")
            .annotate(d=Max("score_date"))
            .order_by()
        )
        scores = {
            customer_id: (contract_score, overall, inputs)
            for customer_id, day, contract_score, overall, inputs in CustomerHealthScore.objects.filter(
                customer_id__in=ids, score_date__in=set(last_day.values())
            ).values_list("customer_id", "score_date", "contract_score", "overall_score", "inputs")
            if last_day.get(customer_id) == day
        }
        needs: dict[int, set] = {}
        for customer_id, found in (
            Communication.objects.alive()
            .filter(customer_id__in=ids, analysis__isnull=False, communication_date__gte=now - timedelta(days=180))
            .values_list("customer_id", "analysis__needs")
        ):
            needs.setdefault(customer_id, set()).update(n.get("tag") for n in found or [])
        for customer in part:
            pk = customer.pk
            first_last = span.get(pk)
            covered = _months(first_last[0], first_last[1] + timedelta(days=1)) if first_last else 1.0
            f = figures.get(pk, {})
            recent, before = float(f.get("recent") or 0), float(f.get("before") or 0)
            ltv = customer.ltv or Decimal(0)
            above = total - bisect.bisect_right(ltvs, float(ltv))
            contract_score, overall, inputs = scores.get(pk, (None, None, None))
            out[pk] = _value_result(
                customer_id=pk,
                ltv=ltv,
                covered=covered,
                monthly=running.get(pk, 0.0),
                total_revenue=float(paid.get(pk) or 0),
                recent=recent,
                before=before,
                revenue_12m=float(f.get("revenue_12m") or 0),
                due=f.get("due") or 0,
                late=f.get("late") or 0,
                tickets=tickets.get(pk, 0),
                share=(above + 1) / total if total else 1,
                contract_score=contract_score,
                health=float(overall) if overall is not None else None,
                usage=inputs or {},
                needs=needs.get(pk, set()),
                settings=settings,
            )
    return out


# --- Dashboard -----------------------------------------------------------------------------------------------------
def latest_day() -> date | None:
    return CustomerHealthScore.objects.order_by("-score_date").values_list("score_date", flat=True).first()


def distribution(customers) -> dict[str, Any]:
    day = latest_day()
    if day is None:
        return {"day": None, "levels": []}
    rows = dict(
        CustomerHealthScore.objects.filter(score_date=day, customer__in=customers)
        .values_list("risk_level")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {"day": day, "levels": [(level, rows.get(level, 0)) for level in (1, 2, 3, 4)]}


def at_risk(customers, limit: int = 8):
    day = latest_day()
    if day is None:
        return []
    return list(
        CustomerHealthScore.objects.filter(score_date=day, customer__in=customers, risk_level__gte=3)
        .select_related("customer")
        .order_by("overall_score")[:limit]
    )


def biggest_drops(customers, limit: int = 8) -> list[dict[str, Any]]:
    day = latest_day()
    if day is None:
        return []
    week = CustomerHealthScore.objects.filter(customer__in=customers, score_date=day - timedelta(days=7))
    before = dict(week.values_list("customer_id", "overall_score"))
    if not before:
        return []
    now = CustomerHealthScore.objects.filter(
        customer__in=customers, score_date=day, customer_id__in=list(before)
    ).select_related("customer")
    drops = [
        {"customer": r.customer, "score": r.overall_score, "drop": before[r.customer_id] - r.overall_score} for r in now
    ]
    return sorted((d for d in drops if d["drop"] > 0), key=lambda d: -d["drop"])[:limit]


def renewals_at_risk(customers, *, days: int = 90, limit: int = 8) -> list[dict[str, Any]]:
    today = timezone.localdate()
    day = latest_day()
    contracts = (
        Contract.objects.filter(
            customer__in=customers,
            status=ContractStatus.ACTIVE,
            end_date__gte=today,
            end_date__lte=today + timedelta(days=days),
        )
        .select_related("customer")
        .order_by("end_date")[:200]
    )
    contracts = list(contracts)
    churn = (
        dict(
            CustomerHealthScore.objects.filter(
                score_date=day, customer_id__in=[c.customer_id for c in contracts]
            ).values_list("customer_id", "churn_probability")
        )
        if day
        else {}
    )
    items = []
    for c in contracts:
        p = churn.get(c.customer_id)
        if p is None:
            continue
        items.append({"contract": c, "customer": c.customer, "churn": p, "at_risk": c.contract_amount * p})
    return sorted(items, key=lambda i: -i["at_risk"])[:limit]


def score_trend(customers, *, weeks: int = 12) -> list[tuple[date, float]]:
    from django.db.models import Avg

    today = timezone.localdate()
    days = [today - timedelta(days=7 * i) for i in range(weeks)][::-1]
    rows = dict(
        CustomerHealthScore.objects.filter(customer__in=customers, score_date__in=days)
        .values_list("score_date")
        .annotate(avg=Avg("overall_score"))
        .order_by()
    )
    return [(d, round(float(rows[d]), 1)) for d in days if d in rows]

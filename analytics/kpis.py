"""The KPI dashboard (PRD 1.2, 10.1.3): the business indicators per month and for the whole period, each against its
target. Definitions (formula, sources, period semantics): docs/kpis.md. Four queries whatever the volume: the
contracts of the customers in scope, their tickets grouped by month, their NPS answers grouped by month (plus the
customer subquery each of them embeds).
"""

from __future__ import annotations

from calendar import monthrange
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contracts.choices import ContractStatus
from contracts.models import Contract
from health.selectors import _months as contract_months  # health's monthly-revenue rule (value analysis)
from service_records.models import NpsResponse, ServiceRecord

# First response as service_records computes `response_minutes`: first response (else resolution) − opening, wall
# clock; computed here from the timestamps, so tickets written without the SLA pass (bulk feeds) count too.
RESPONDED = Q(first_response_at__isnull=False) | Q(resolved_at__isnull=False)
RESPONSE_SPAN = ExpressionWrapper(
    Coalesce(F("first_response_at"), F("resolved_at")) - F("opened_at"), output_field=DurationField()
)

PERIODS = {"3m": 3, "6m": 6, "12m": 12}
DEFAULT_PERIOD = "12m"


@dataclass(frozen=True)
class Indicator:
    key: str
    label: Any
    unit: str  # "%", "h", "/5", "" (NPS points), "CNY"
    target: float | None
    direction: str  # "min": value ≥ target is met; "max": value ≤ target is met
    target_label: Any


INDICATORS = (
    Indicator("retention", _("Customer retention"), "%", 95, "min", "≥ 95 %"),
    Indicator("churn", _("Customer churn"), "%", 5, "max", "≤ 5 %"),
    Indicator("satisfaction", _("Customer satisfaction"), "/5", 4.5, "min", "≥ 4.5"),
    Indicator("nps", _("Net promoter score"), "", 50, "min", "≥ 50"),
    Indicator("renewal_rate", _("Renewal rate"), "%", 90, "min", "≥ 90 %"),
    Indicator("ltv_growth", _("LTV growth"), "%", 0, "min", "> 0 %"),
    Indicator("arpu_growth", _("ARPU growth"), "%", 0, "min", "> 0 %"),
    Indicator("upsell_rate", _("Upsell rate"), "%", 25, "min", "≥ 25 %"),
    Indicator("first_response_hours", _("First response time"), "h", 2, "max", "≤ 2 h"),
    Indicator("resolution_rate", _("Resolution rate"), "%", 95, "min", "≥ 95 %"),
)
BY_KEY = {i.key: i for i in INDICATORS}


def month_windows(period: str, today: date) -> list[tuple[date, date]]:
    """The calendar months of the period, oldest first, the current one cut at today."""
    count = PERIODS.get(period, PERIODS[DEFAULT_PERIOD])
    year, month = today.year, today.month
    windows = []
    for _i in range(count):
        start = date(year, month, 1)
        end = min(date(year, month, monthrange(year, month)[1]), today)
        windows.append((start, end))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return windows[::-1]


def _pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _growth(new: float | None, old: float | None) -> float | None:
    if new is None or not old:
        return None
    return round(100 * (new - old) / old, 1)


class ContractBook:
    """The non-draft contracts of the customers in scope, answering 'as of day D' questions in Python."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows
        self.by_id = {r["id"]: r for r in rows}
        self.successor_of = {r["predecessor_id"]: r for r in rows if r["predecessor_id"]}
        self.by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            r["ended_on"] = timezone.localdate(r["terminated_at"]) if r["terminated_at"] else None
            self.by_customer[r["customer_id"]].append(r)

    @staticmethod
    def running(r: dict[str, Any], day: date) -> bool:
        return r["start_date"] <= day <= r["end_date"] and (r["ended_on"] is None or r["ended_on"] > day)

    def paying(self, day: date) -> set[int]:
        return {r["customer_id"] for r in self.rows if self.running(r, day)}

    def ltv(self, day: date) -> float | None:
        """Average lifetime value per customer as of `day`: contract amounts started by then / customers having one."""
        totals: dict[int, float] = defaultdict(float)
        for r in self.rows:
            if r["start_date"] <= day:
                totals[r["customer_id"]] += float(r["contract_amount"])
        return round(sum(totals.values()) / len(totals), 2) if totals else None

    def arpu(self, day: date) -> float | None:
        """Monthly revenue of the contracts running on `day` per paying customer (health's monthly revenue)."""
        monthly = 0.0
        customers = set()
        for r in self.rows:
            if self.running(r, day):
                monthly += float(r["contract_amount"]) / contract_months(r["start_date"], r["end_date"])
                customers.add(r["customer_id"])
        return round(monthly / len(customers), 2) if customers else None

    def window(self, start: date, end: date) -> dict[str, Any]:
        base = self.paying(start)
        retained = base & self.paying(end)
        ending = [r for r in self.rows if start <= r["end_date"] <= end]
        renewed = [r for r in ending if r["id"] in self.successor_of]
        expanded = set()
        for r in self.rows:
            if not (start <= r["start_date"] <= end) or r["customer_id"] not in base:
                continue
            previous = self.by_id.get(r["predecessor_id"]) if r["predecessor_id"] else None
            if previous is not None:
                if r["contract_amount"] > previous["contract_amount"]:
                    expanded.add(r["customer_id"])
            elif any(
                o["id"] != r["id"] and self.running(o, r["start_date"]) for o in self.by_customer[r["customer_id"]]
            ):
                expanded.add(r["customer_id"])  # an add-on contract next to a running one
        before = start - timedelta(days=1)
        return {
            "base": len(base),
            "retained": len(retained),
            "retention": _pct(len(retained), len(base)),
            "churn": _pct(len(base) - len(retained), len(base)),
            "ending": len(ending),
            "renewed": len(renewed),
            "renewal_rate": _pct(len(renewed), len(ending)),
            "expanded": len(expanded),
            "upsell_rate": _pct(len(expanded), len(base)),
            "ltv": self.ltv(end),
            "ltv_growth": _growth(self.ltv(end), self.ltv(before)),
            "arpu": self.arpu(end),
            "arpu_growth": _growth(self.arpu(end), self.arpu(before)),
        }


def _service_rows(customers, first: date, last: date) -> dict[date, dict[str, Any]]:
    rows = (
        ServiceRecord.objects.filter(customer__in=customers, opened_month__gte=first, opened_month__lte=last)
        .values("opened_month")
        .annotate(
            tickets=Count("id"),
            resolved=Count("id", filter=Q(resolved_at__isnull=False) | Q(closed_at__isnull=False)),
            rated=Count("id", filter=Q(satisfaction_overall__isnull=False)),
            rating_sum=Sum("satisfaction_overall"),
            responded=Count("id", filter=RESPONDED),
            response_sum=Sum(RESPONSE_SPAN, filter=RESPONDED),
        )
        .order_by()
    )
    return {r["opened_month"]: r for r in rows}


def _nps_rows(customers, first: date, last: date) -> dict[date, dict[str, Any]]:
    rows = (
        NpsResponse.objects.filter(customer__in=customers, responded_month__gte=first, responded_month__lte=last)
        .values("responded_month")
        .annotate(
            answers=Count("id"),
            promoters=Count("id", filter=Q(score__gte=9)),
            detractors=Count("id", filter=Q(score__lte=6)),
        )
        .order_by()
    )
    return {r["responded_month"]: r for r in rows}


def _service_figures(rows: list[dict[str, Any]], nps: list[dict[str, Any]]) -> dict[str, Any]:
    tickets = sum(r["tickets"] for r in rows)
    rated = sum(r["rated"] for r in rows)
    responded = sum(r["responded"] for r in rows)
    answers = sum(r["answers"] for r in nps)
    return {
        "tickets": tickets,
        "resolution_rate": _pct(sum(r["resolved"] for r in rows), tickets),
        "satisfaction": round(sum(r["rating_sum"] or 0 for r in rows) / rated, 2) if rated else None,
        "ratings": rated,
        "first_response_hours": round(
            sum((r["response_sum"] or timedelta(0)).total_seconds() for r in rows) / responded / 3600, 2
        )
        if responded
        else None,
        "nps": round(100 * (sum(r["promoters"] for r in nps) - sum(r["detractors"] for r in nps)) / answers, 1)
        if answers
        else None,
        "nps_answers": answers,
    }


def met(indicator: Indicator, value: float | None) -> bool | None:
    if value is None or indicator.target is None:
        return None
    if indicator.key in {"ltv_growth", "arpu_growth"}:
        return value > indicator.target
    return value >= indicator.target if indicator.direction == "min" else value <= indicator.target


def dashboard(customers, *, period: str = DEFAULT_PERIOD, today: date | None = None) -> dict[str, Any]:
    """Every indicator for each month of the period and for the period as a whole (the headline vs the target)."""
    today = today or timezone.localdate()
    period = period if period in PERIODS else DEFAULT_PERIOD
    windows = month_windows(period, today)
    first, last = windows[0][0], windows[-1][0]
    book = ContractBook(
        list(
            Contract.objects.filter(customer__in=customers)
            .exclude(status=ContractStatus.DRAFT)
            .values(
                "id",
                "customer_id",
                "contract_amount",
                "start_date",
                "end_date",
                "terminated_at",
                "predecessor_id",
            )
        )
    )
    service = _service_rows(customers, first, last)
    nps = _nps_rows(customers, first, last)
    months = []
    for start, end in windows:
        figures = book.window(start, end)
        figures.update(
            _service_figures([service[start]] if start in service else [], [nps[start]] if start in nps else [])
        )
        months.append({"month": start, "end": end, **figures})
    whole = book.window(windows[0][0], windows[-1][1])
    whole.update(_service_figures(list(service.values()), list(nps.values())))
    indicators = []
    for indicator in INDICATORS:
        value = whole.get(indicator.key)
        indicators.append(
            {
                "key": indicator.key,
                "label": indicator.label,
                "unit": indicator.unit,
                "target": indicator.target,
                "target_label": indicator.target_label,
                "direction": indicator.direction,
                "value": value,
                "met": met(indicator, value),
                "series": [m.get(indicator.key) for m in months],
            }
        )
    return {
        "period": period,
        "start": windows[0][0],
        "end": windows[-1][1],
        "months": months,
        "whole": whole,
        "indicators": indicators,
    }

"""Dynamic grading (PRD 2.1.1): a suggested customer level from value, potential and risk.

Inputs come from the health app and nowhere else: `health.selectors.value_analyses` (ltv, ARPU, estimated growth)
and the latest `customer_health_scores` row (risk level, churn probability). Formula (docs/analytics.md):

    value     = 60 × ltv / max ltv  +  40 × arpu / max arpu           (maxima over the customers graded in the run)
    potential = 100 × estimated_growth / 0.38                          (0.38 = the largest growth health estimates)
    risk      = 50 × churn_probability  +  50 × (risk_level − 1) / 3   (no health row: 50, "unknown")
    grade     = 0.6 × value + 0.25 × potential + 0.15 × (100 − risk)
    level     = strategic ≥ 75 > VIP ≥ 55 > important ≥ 35 > normal
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import MASK
from accounts.services import audit_record
from analytics.models import LevelSuggestion, SuggestionStatus
from customers import services as customer_services
from customers.choices import CustomerLevel, CustomerStatus
from customers.models import Customer
from health.models import CustomerHealthScore
from health.selectors import value_analyses

MAX_GROWTH = 0.38  # 0.4 × the highest upsell probability (0.95) of health's value analysis
THRESHOLDS = ((75, CustomerLevel.STRATEGIC), (55, CustomerLevel.VIP), (35, CustomerLevel.IMPORTANT))
UNKNOWN_RISK = 50.0
REJECTION_MEMORY_DAYS = 90  # a rejected suggestion is not made again for the same move within this many days


@dataclass
class Grade:
    customer_id: int
    current_level: int
    suggested_level: int
    value: float
    potential: float
    risk: float
    score: float
    reasons: dict[str, Any] = field(default_factory=dict)


def _one(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def level_for(score: float) -> int:
    for minimum, level in THRESHOLDS:
        if score >= minimum:
            return int(level)
    return int(CustomerLevel.NORMAL)


def risk_points(risk_level: int | None, churn: float | None) -> float:
    if risk_level is None:
        return UNKNOWN_RISK
    return 50 * float(churn or 0) + 50 * (int(risk_level) - 1) / 3


def grade_customers(customers: list[Customer], *, today: date | None = None) -> list[Grade]:
    """Grades of these customers (nothing is written). The value analyses come from health's set-based function (a
    few grouped queries per 5,000 customers; the per-customer one took ~40 ms a customer)."""
    today = today or timezone.localdate()
    latest: dict[int, tuple[int, Any]] = {}
    for customer_id, risk_level, churn in (
        CustomerHealthScore.objects.filter(customer_id__in=[c.pk for c in customers])
        .order_by("customer_id", "score_date")
        .values_list("customer_id", "risk_level", "churn_probability")
    ):
        latest[customer_id] = (risk_level, churn)  # ordered by day: the last one wins
    analyses = value_analyses(customers, today=today)
    max_ltv = max((a["value_analysis"]["ltv"] for a in analyses.values()), default=0.0)
    max_arpu = max((a["value_analysis"]["arpu"] for a in analyses.values()), default=0.0)
    grades = []
    for customer in customers:
        analysis = analyses[customer.pk]
        ltv, arpu = analysis["value_analysis"]["ltv"], analysis["value_analysis"]["arpu"]
        growth = analysis["growth_potential"]["estimated_growth"]
        value = (60 * ltv / max_ltv if max_ltv else 0) + (40 * arpu / max_arpu if max_arpu else 0)
        potential = min(100.0, 100 * growth / MAX_GROWTH)
        risk_level, churn = latest.get(customer.pk, (None, None))
        risk = risk_points(risk_level, churn)
        score = 0.6 * value + 0.25 * potential + 0.15 * (100 - risk)
        value, potential, risk, score = (round(x, 1) for x in (value, potential, risk, score))
        grades.append(
            Grade(
                customer_id=customer.pk,
                current_level=int(customer.level),
                suggested_level=level_for(score),
                value=value,
                potential=potential,
                risk=risk,
                score=score,
                reasons={
                    "ltv": round(ltv, 2),
                    "arpu": arpu,
                    "max_ltv": round(max_ltv, 2),
                    "max_arpu": max_arpu,
                    "estimated_growth": growth,
                    "upsell_probability": analysis["growth_potential"]["upsell_probability"],
                    "risk_level": risk_level,
                    "churn_probability": float(churn) if churn is not None else None,
                },
            )
        )
    return grades


def suggestions_refresh(*, today: date | None = None) -> dict[str, int]:
    """The nightly run for the active tenant: one pending suggestion per customer whose grade differs from its level.

    Idempotent: a rerun updates the pending rows in place; a suggestion the level already matches is withdrawn; a
    move a lead rejected in the last 90 days is not suggested again.
    """
    today = today or timezone.localdate()
    customers = list(Customer.objects.alive().exclude(status=CustomerStatus.LOST).order_by("pk"))
    counts = {"graded": 0, "created": 0, "updated": 0, "withdrawn": 0, "unchanged": 0, "kept_rejected": 0}
    grades = grade_customers(customers, today=today)
    counts["graded"] = len(grades)
    pending = {s.customer_id: s for s in LevelSuggestion.objects.filter(status=SuggestionStatus.PENDING)}
    since = timezone.now() - timedelta(days=REJECTION_MEMORY_DAYS)
    rejected = set(
        LevelSuggestion.objects.filter(status=SuggestionStatus.REJECTED, decided_at__gte=since).values_list(
            "customer_id", "current_level", "suggested_level"
        )
    )
    with transaction.atomic():
        for grade in grades:
            existing = pending.get(grade.customer_id)
            same = grade.suggested_level == grade.current_level
            remembered = (grade.customer_id, grade.current_level, grade.suggested_level) in rejected
            if same or remembered:
                if existing is not None:
                    existing.status = SuggestionStatus.WITHDRAWN
                    existing.save(update_fields=["status", "pending_marker", "updated_at"])
                    counts["withdrawn"] += 1
                counts["kept_rejected" if remembered and not same else "unchanged"] += 1
                continue
            values = {
                "current_level": grade.current_level,
                "suggested_level": grade.suggested_level,
                "value_score": _one(grade.value),
                "potential_score": _one(grade.potential),
                "risk_score": _one(grade.risk),
                "grade_score": _one(grade.score),
                "reasons": grade.reasons,
                "computed_on": today,
            }
            if existing is None:
                LevelSuggestion.objects.create(customer_id=grade.customer_id, **values)
                counts["created"] += 1
            else:
                for key, value in values.items():
                    setattr(existing, key, value)
                existing.save()
                counts["updated"] += 1
        # Customers no longer graded (lost or deleted since) keep no pending suggestion.
        counts["withdrawn"] += (
            LevelSuggestion.objects.filter(status=SuggestionStatus.PENDING)
            .exclude(customer_id__in=[c.pk for c in customers])
            .update(status=SuggestionStatus.WITHDRAWN, pending_marker=None, updated_at=timezone.now())
        )
    return counts


def _check_pending(suggestion: LevelSuggestion) -> None:
    if suggestion.status != SuggestionStatus.PENDING:
        raise ValidationError({"status": [_("This suggestion has already been decided.")]})


@transaction.atomic
def suggestion_accept(*, actor: User, suggestion: LevelSuggestion, request=None) -> LevelSuggestion:
    """The customer's level becomes the suggested one (through the customers service, audited there too)."""
    suggestion = LevelSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    _check_pending(suggestion)
    customer = Customer.objects.get(pk=suggestion.customer_id)
    old_level = customer.level
    customer_services.customer_update(
        actor=actor, customer=customer, data={"level": suggestion.suggested_level}, request=request
    )
    suggestion.status = SuggestionStatus.ACCEPTED
    suggestion.decided_by = actor
    suggestion.decided_at = timezone.now()
    suggestion.save()
    audit_record(
        action="crm.level_suggestion.accepted",
        actor=actor,
        obj=customer,
        changes={"level": (old_level, suggestion.suggested_level)},
        request=request,
    )
    return suggestion


@transaction.atomic
def suggestion_reject(*, actor: User, suggestion: LevelSuggestion, note: str = "", request=None) -> LevelSuggestion:
    suggestion = LevelSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    _check_pending(suggestion)
    suggestion.status = SuggestionStatus.REJECTED
    suggestion.decided_by = actor
    suggestion.decided_at = timezone.now()
    suggestion.decision_note = (note or "")[:500]
    suggestion.save()
    audit_record(
        action="crm.level_suggestion.rejected",
        actor=actor,
        obj=suggestion.customer,
        changes={"suggested_level": (suggestion.suggested_level, None)},
        request=request,
    )
    return suggestion


def reason_lines(suggestion: LevelSuggestion, *, see_money: bool = True) -> list[str]:
    """The figures that drove the suggestion, as sentences for the pages (money masked for who may not see it)."""
    r = dict(suggestion.reasons or {})
    if not see_money:
        r.update({"ltv": MASK, "max_ltv": MASK, "arpu": MASK})
    lines = [
        _("Value %(v)s of 100: lifetime value %(ltv)s (tenant maximum %(max)s), ARPU %(arpu)s per month")
        % {"v": suggestion.value_score, "ltv": r.get("ltv"), "max": r.get("max_ltv"), "arpu": r.get("arpu")},
        _("Potential %(p)s of 100: estimated growth %(g)s (upsell probability %(u)s)")
        % {"p": suggestion.potential_score, "g": r.get("estimated_growth"), "u": r.get("upsell_probability")},
    ]
    if r.get("risk_level") is None:
        lines.append(_("Risk %(r)s of 100: no health score yet") % {"r": suggestion.risk_score})
    else:
        lines.append(
            _("Risk %(r)s of 100: risk level %(l)s, churn probability %(c)s")
            % {"r": suggestion.risk_score, "l": r.get("risk_level"), "c": r.get("churn_probability")}
        )
    return lines

"""Test data for health: usage events and score rows written directly inside the customer's tenant scope."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import count

from django.utils import timezone

from accounts.tenancy import tenant_scope
from health.models import CustomerHealthScore, UsageEvent

_ids = count(1)


def aware(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def usage(customer, when: datetime, *, event_type="login", feature="", user="u1", event_id=None) -> UsageEvent:
    with tenant_scope(customer.tenant):
        return UsageEvent.objects.create(
            customer=customer,
            event_id=event_id or f"ev-{next(_ids)}",
            user_identifier=user,
            event_type=event_type,
            feature_name=feature,
            occurred_at=when,
        )


def score_row(customer, day: date, overall, risk_level: int = 1, **fields) -> CustomerHealthScore:
    with tenant_scope(customer.tenant):
        return CustomerHealthScore.objects.create(
            customer=customer, score_date=day, overall_score=Decimal(str(overall)), risk_level=risk_level, **fields
        )

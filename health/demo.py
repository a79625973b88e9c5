"""Demo step of health: product usage driven by the latent health, a year of weekly health rows, a churn model."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.utils import timezone

from health import churn, services
from health.models import UsageEvent

FEATURES = ["dashboard", "reports", "alerts", "tickets", "billing", "sso", "api", "export"]


def _poisson(rng, lam):
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def usage(tenant, rng, context) -> dict:
    health_at = context.get("health_at")
    if health_at is None:
        return {"skipped": "no latent health"}
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    rows, n = [], 0
    for customer in context["customers"]:
        lost_after = None
        if customer.status == 3:  # lost: usage stops with the last contract
            lost_after = customer.contracts.order_by("-end_date").values_list("end_date", flat=True).first()
        for week in range(60, -1, -1):
            start = today - timedelta(days=7 * week + 6)
            if lost_after is not None and start > lost_after:
                continue
            h = health_at(customer.pk, start)
            users = max(1, round(1 + 8 * h))
            depth = max(1, round(1 + 6 * h + rng.gauss(0, 0.7)))
            for _i in range(_poisson(rng, 1 + 8 * h)):
                n += 1
                when = datetime.combine(start + timedelta(days=rng.randint(0, 6)), datetime.min.time()).replace(
                    hour=rng.randint(8, 20), tzinfo=tz
                )
                feature_use = rng.random() < 0.5
                rows.append(
                    UsageEvent(
                        customer=customer,
                        event_id=f"demo-{customer.pk}-{n}",
                        user_identifier=f"user{rng.randint(1, users)}",
                        event_type="feature_use" if feature_use else "login",
                        feature_name=rng.choice(FEATURES[:depth]) if feature_use else "",
                        occurred_at=when,
                    )
                )
    UsageEvent.objects.bulk_create(rows, batch_size=2000)
    return {"usage_events": len(rows)}


def history(tenant, rng, context) -> dict:
    """Weekly scores for a year (the nightly job's result on those days), then today's, then the churn model."""
    today = timezone.localdate()
    days = [today - timedelta(days=7 * i) for i in range(52, 0, -1)] + [today]
    for day in days[:-1]:
        services.scores_save(day, alerts=False)  # a backfill: no notifications for the past
    result = churn.train(today=today)
    scored = services.scores_save(today)  # today's row uses the model when it is good enough
    model = result.model
    return {
        "days": len(days),
        "scored_today": scored["scored"],
        "model": f"v{model.version} {model.status} {model.metrics}" if model else result.reason,
    }

"""Demo step of service records: tickets, ratings and NPS answers driven by the shared latent health."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.utils import timezone

from service_records.choices import TicketStatus
from service_records.models import NpsResponse, ServiceRecord


def _poisson(rng, lam):
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def run(tenant, rng, context) -> dict:
    health_at = context.get("health_at")
    if health_at is None:
        return {"skipped": "no latent health"}
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    records, answers, number = [], [], 0
    for customer in context["customers"]:
        for month in range(24, -1, -1):
            first = (today.replace(day=1) - timedelta(days=30 * month)).replace(day=1)
            h = health_at(customer.pk, first)
            for _i in range(_poisson(rng, 0.3 + 3.5 * (1 - h))):
                opened = datetime.combine(first + timedelta(days=rng.randint(0, 27)), datetime.min.time()).replace(
                    hour=rng.randint(8, 18), tzinfo=tz
                )
                if opened.date() > today:
                    continue
                number += 1
                resolved = opened + timedelta(hours=rng.randint(1, 72))
                rated = resolved.date() <= today and rng.random() < 0.7
                rating = max(1, min(5, round(1 + 4 * h + rng.gauss(0, 0.6)))) if rated else None
                records.append(
                    ServiceRecord(
                        customer=customer,
                        source_system="demo",
                        external_id=f"DEMO-{customer.pk}-{number}",
                        title=rng.choice(
                            ["网络中断", "登录失败", "报表错误", "性能下降", "Backup failed", "VPN issue"]
                        ),
                        priority=rng.choice(["P1", "P2", "P3", "P3", "P4"]),
                        status=TicketStatus.CLOSED if resolved.date() <= today else TicketStatus.OPEN,
                        opened_at=opened,
                        opened_month=opened.date().replace(day=1),
                        first_response_at=opened + timedelta(minutes=rng.randint(5, 90)),
                        resolved_at=resolved if resolved.date() <= today else None,
                        satisfaction_overall=rating,
                        rated_at=resolved + timedelta(hours=2) if rated else None,
                    )
                )
            if month % 3 == 0 and rng.random() < 0.6:
                when = datetime.combine(first + timedelta(days=14), datetime.min.time()).replace(hour=10, tzinfo=tz)
                if when.date() <= today:
                    answers.append(
                        NpsResponse(
                            customer=customer,
                            score=max(0, min(10, round(10 * h + rng.gauss(0, 1.5)))),
                            responded_at=when,
                            responded_month=when.date().replace(day=1),
                        )
                    )
    ServiceRecord.objects.bulk_create(records, batch_size=1000)
    NpsResponse.objects.bulk_create(answers, batch_size=1000)
    from service_records import rollup

    rollup.rebuild()  # the tickets above bypass the services: count them into the tenant-wide rollups
    return {"tickets": len(records), "nps": len(answers)}

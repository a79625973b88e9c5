"""Demo step of communications: calls and e-mails whose sentiment follows the shared latent health."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from communications.choices import CommunicationType, Direction, Sentiment
from communications.models import Communication

SUBJECTS = {
    Sentiment.NEGATIVE: ("投诉：故障反复出现", "对服务响应不满", "Considering other vendors"),
    Sentiment.NEUTRAL: ("月度例会", "Quarterly review", "工单进展同步"),
    Sentiment.POSITIVE: ("感谢快速响应", "Great support this month", "讨论扩容需求"),
}


def run(tenant, rng, context) -> dict:
    health_at = context.get("health_at")
    if health_at is None:
        return {"skipped": "no latent health"}
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    staff = list(User.objects.filter(tenant=tenant, is_active=True).order_by("pk"))
    rows = []
    for customer in context["customers"]:
        for month in range(18, -1, -1):
            day = today - timedelta(days=30 * month + rng.randint(0, 20))
            if rng.random() > 0.7 or day > today:
                continue
            h = health_at(customer.pk, day)
            roll = rng.random()
            sentiment = (
                Sentiment.NEGATIVE
                if roll < (1 - h) * 0.8
                else Sentiment.POSITIVE
                if roll > 1 - h * 0.6
                else Sentiment.NEUTRAL
            )
            subject = rng.choice(SUBJECTS[sentiment])
            rows.append(
                Communication(
                    customer=customer,
                    communication_type=rng.choice(list(CommunicationType)),
                    direction=rng.choice(list(Direction)),
                    subject=subject,
                    content=subject,
                    sentiment=sentiment,
                    staff=customer.assigned_manager or rng.choice(staff),
                    communication_date=datetime.combine(day, datetime.min.time()).replace(hour=15, tzinfo=tz),
                )
            )
    Communication.objects.bulk_create(rows, batch_size=1000)
    return {"communications": len(rows)}

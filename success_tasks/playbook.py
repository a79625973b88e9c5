"""When each trigger holds: on the events of the lower apps, and in the nightly sweep (after health scoring).

Every check returns a `Firing` (why, the value, the event key) or None; `services.rule_fire` does the writing,
so the once-only guarantees are the same whichever path noticed the condition first.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer
from success_tasks import services
from success_tasks.choices import Trigger
from success_tasks.services import Firing

NPS_DETRACTOR_MAX = 6


def _num(value) -> str:
    value = Decimal(str(value)).quantize(Decimal("0.1"))
    return f"{value.normalize():f}"


# --- Event checks -------------------------------------------------------------------------------------------------
def check_health_below(rule, score) -> Firing | None:
    if score is not None and 0 < Decimal(str(score)) < rule.threshold:
        return Firing(
            _("health score %(score)s below %(x)s") % {"score": _num(score), "x": _num(rule.threshold)}, _num(score)
        )
    return None


def check_risk_level(rule, level) -> Firing | None:
    if level is not None and int(level) >= int(rule.threshold):
        return Firing(
            _("risk level %(level)s (rule: %(n)s or higher)") % {"level": level, "n": int(rule.threshold)}, level
        )
    return None


def check_drop(rule, drop, window_days) -> Firing | None:
    if drop is not None and Decimal(str(drop)) >= rule.threshold and (window_days or 0) <= rule.window_days:
        return Firing(
            _("health dropped %(drop)s points within %(days)s days")
            % {"drop": _num(drop), "days": window_days or rule.window_days},
            _num(drop),
        )
    return None


def check_rating(rule, record) -> Firing | None:
    rating = record.satisfaction_overall
    if rating is not None and rating < rule.threshold:
        return Firing(
            _("ticket %(ticket)s rated %(rating)s (below %(x)s)")
            % {"ticket": record.external_id, "rating": rating, "x": _num(rule.threshold)},
            rating,
            f"rating:{record.pk}",
        )
    return None


def check_nps(rule, response) -> Firing | None:
    limit = int(rule.threshold) if rule.threshold else NPS_DETRACTOR_MAX
    if response.score is not None and response.score <= limit:
        return Firing(
            _("NPS answer %(score)s (detractor)") % {"score": response.score}, response.score, f"nps:{response.pk}"
        )
    return None


def sla_breach_count(customer_id: int, days: int, now: datetime) -> int:
    from service_records.models import ServiceRecord

    return ServiceRecord.objects.filter(
        customer_id=customer_id, breached=True, opened_at__gte=now - timedelta(days=days)
    ).count()


def sla_breach_counts(customer_ids, days: int, now: datetime) -> dict[int, int]:
    """sla_breach_count for many customers in one grouped query (a batch of ingested tickets)."""
    from django.db.models import Count

    from service_records.models import ServiceRecord

    return dict(
        ServiceRecord.objects.filter(
            customer_id__in=list(customer_ids), breached=True, opened_at__gte=now - timedelta(days=days)
        )
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )


def check_sla(rule, count: int) -> Firing | None:
    if count >= max(int(rule.threshold), 1):
        return Firing(_("%(count)s SLA breaches in %(days)s days") % {"count": count, "days": rule.window_days}, count)
    return None


def check_sentiment(rule, communication, sentiment) -> Firing | None:
    if sentiment == 1:
        subject = communication.subject or communication.communication_date.strftime("%Y-%m-%d")
        return Firing(
            _("negative communication “%(subject)s”") % {"subject": subject[:80]}, 1, f"comm:{communication.pk}"
        )
    return None


def check_need(rule, communication, needs) -> Firing | None:
    for need in needs or []:
        if isinstance(need, dict) and need.get("tag") == "renewal_risk":
            evidence = str(need.get("evidence") or "")[:60]
            return Firing(
                _("renewal risk mentioned: “%(evidence)s”") % {"evidence": evidence},
                evidence,
                f"comm:{communication.pk}",
            )
    return None


def check_follow_up(rule, follow_up) -> Firing | None:
    return Firing(
        _("follow-up “%(action)s” was due on %(day)s") % {"action": follow_up.action[:80], "day": follow_up.due_date},
        follow_up.due_date,
        f"followup:{follow_up.pk}",
    )


# --- Nightly sweep ------------------------------------------------------------------------------------------------
def _customers(ids) -> dict[int, Customer]:
    return {c.pk: c for c in Customer.objects.alive().filter(pk__in=set(ids)).select_related("assigned_manager")}


def _fire_all(rule, pairs, counts: dict[str, int]) -> None:
    """pairs: iterable of (customer_id, Firing)."""
    pairs = [(cid, firing) for cid, firing in pairs if firing is not None]
    customers = _customers(cid for cid, _firing in pairs)
    for cid, firing in pairs:
        customer = customers.get(cid)
        if customer is None or customer.merged_into_id:
            continue
        counts["checked"] += 1
        if services.rule_fire(rule, customer, firing) is not None:
            counts["created"] += 1


def run_nightly(*, today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled rule against the tenant's current data. Idempotent (see rule_fire)."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    counts = {"rules": 0, "checked": 0, "created": 0}
    alive = Customer.objects.alive().filter(merged_into__isnull=True)
    health = services.health_model()
    for rule in services.rules_for(*Trigger.values):
        counts["rules"] += 1
        trigger = rule.trigger
        since = now - timedelta(days=rule.window_days)
        if trigger == Trigger.HEALTH_BELOW:
            rows = alive.filter(health_score__gt=0, health_score__lt=rule.threshold).values_list("pk", "health_score")
            _fire_all(rule, ((pk, check_health_below(rule, s)) for pk, s in rows), counts)
        elif trigger == Trigger.RISK_LEVEL:
            if health is not None:
                latest = health.objects.filter(score_date__gte=today - timedelta(days=7)).order_by(
                    "customer_id", "-score_date"
                )
                seen: dict[int, int] = {}
                for cid, level in latest.values_list("customer_id", "risk_level"):
                    seen.setdefault(cid, level)
                pairs = ((cid, check_risk_level(rule, level)) for cid, level in seen.items())
            else:
                rows = alive.filter(health_score__gt=0).values_list("pk", "health_score")
                pairs = ((pk, check_risk_level(rule, services.risk_level_from_score(s))) for pk, s in rows)
            _fire_all(rule, pairs, counts)
        elif trigger == Trigger.HEALTH_DROP and health is not None:
            window = health.objects.filter(score_date__gte=today - timedelta(days=rule.window_days))
            peaks = dict(window.values("customer_id").annotate(m=Max("overall_score")).values_list("customer_id", "m"))
            rows = alive.filter(pk__in=list(peaks)).values_list("pk", "health_score")
            _fire_all(rule, ((pk, check_drop(rule, peaks[pk] - s, rule.window_days)) for pk, s in rows if s), counts)
        elif trigger == Trigger.RENEWAL_DUE:
            from contracts.models import RenewalReminder

            reminders = RenewalReminder.objects.filter(
                term_end_date__gte=today,
                term_end_date__lte=today + timedelta(days=int(rule.threshold or rule.window_days)),
                contract__status=2,
            ).values_list("pk", "contract__customer_id", "contract__contract_code", "term_end_date")
            _fire_all(
                rule,
                (
                    (
                        cid,
                        Firing(
                            _("contract %(code)s ends on %(day)s (%(days)s days)")
                            % {"code": code, "day": end, "days": (end - today).days},
                            (end - today).days,
                            f"renewal:{pk}",
                        ),
                    )
                    for pk, cid, code, end in reminders
                ),
                counts,
            )
        elif trigger == Trigger.SATISFACTION_BELOW:
            from service_records.models import ServiceRecord

            records = ServiceRecord.objects.filter(rated_at__gte=since, satisfaction_overall__lt=rule.threshold)
            _fire_all(rule, ((r.customer_id, check_rating(rule, r)) for r in records), counts)
        elif trigger == Trigger.NPS_DETRACTOR:
            from service_records.models import NpsResponse

            responses = NpsResponse.objects.filter(responded_at__gte=since)
            _fire_all(rule, ((r.customer_id, check_nps(rule, r)) for r in responses), counts)
        elif trigger == Trigger.SLA_BREACHES:
            from service_records.models import ServiceRecord

            per_customer = (
                ServiceRecord.objects.filter(breached=True, opened_at__gte=since)
                .values("customer_id")
                .annotate(n=Count("id"))
                .values_list("customer_id", "n")
            )
            _fire_all(rule, ((cid, check_sla(rule, n)) for cid, n in per_customer), counts)
        elif trigger == Trigger.NEGATIVE_SENTIMENT:
            from communications.models import Communication

            comms = Communication.objects.filter(deleted_at__isnull=True, sentiment=1, communication_date__gte=since)
            _fire_all(rule, ((c.customer_id, check_sentiment(rule, c, c.sentiment)) for c in comms), counts)
        elif trigger == Trigger.FOLLOW_UP_DUE:
            from communications.models import FollowUp

            due = FollowUp.objects.open().filter(due_date__lt=today, reminded_at__isnull=False)
            _fire_all(rule, ((f.customer_id, check_follow_up(rule, f)) for f in due), counts)
        elif trigger == Trigger.NO_CONTACT:
            cutoff = now - timedelta(days=rule.window_days)
            rows = alive.filter(
                Q(last_contact_date__lt=cutoff) | Q(last_contact_date__isnull=True, created_at__lt=cutoff)
            ).values_list("pk", "last_contact_date")
            _fire_all(
                rule,
                (
                    (
                        pk,
                        Firing(
                            _("no contact since %(day)s") % {"day": timezone.localdate(last)}
                            if last
                            else _("no contact recorded in %(days)s days") % {"days": rule.window_days},
                            rule.window_days,
                        ),
                    )
                    for pk, last in rows
                ),
                counts,
            )
        # RENEWAL_RISK_NEED is event-only (the analysis' needs are read when the communication is logged).
    return counts

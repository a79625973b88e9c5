"""System tags maintained by the nightly job through the customers tag service (issue 14, smart tags).

Each system tag is a set-based rule; the job adds the tag (type SYSTEM, category "system") to customers that match
and removes it (only the SYSTEM-type tag of that name; a manual tag with the same name is left alone) from those
that no longer match. Rules are in docs/segments.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.services import audit_record
from communications.models import Communication
from customers import services as customer_services
from customers.choices import TagType
from customers.models import Customer, CustomerTag
from health.models import CustomerHealthScore, UsageEvent
from segments.models import SuggestionStatus, TagSuggestion

HIGH_VALUE = "高价值"
RENEWAL_DUE = "续约临近"
AT_RISK = "流失风险"
RENEWAL_WINDOW_DAYS = 90
AT_RISK_HEALTH = 60


def system_tag_rules(today: date) -> dict[str, QuerySet[Customer]]:
    alive = Customer.objects.alive()
    return {
        HIGH_VALUE: alive.filter(rfm_score__m_score=5),
        RENEWAL_DUE: alive.filter(
            next_renewal_date__gte=today, next_renewal_date__lte=today + timedelta(days=RENEWAL_WINDOW_DAYS)
        ),
        AT_RISK: alive.filter(
            Q(health_score__gt=0, health_score__lt=AT_RISK_HEALTH)
            | Q(rfm_score__rfm_segment__in=("at_risk", "hibernating"))
        ),
    }


@transaction.atomic
def system_tags_maintain(*, today: date) -> dict:
    """Add / remove the system tags; counts per tag. Idempotent."""
    counts: dict[str, int] = {"added": 0, "removed": 0}
    for name, matching in system_tag_rules(today).items():
        wanted = set(matching.values_list("pk", flat=True))
        tagged = dict(
            CustomerTag.objects.filter(tag_name=name, tag_type=TagType.SYSTEM).values_list("customer_id", "pk")
        )
        manual = set(
            CustomerTag.objects.filter(tag_name=name)
            .exclude(tag_type=TagType.SYSTEM)
            .values_list("customer_id", flat=True)
        )
        for customer in Customer.objects.filter(pk__in=wanted - tagged.keys() - manual).order_by("pk"):
            customer_services.tag_add(
                actor=None,
                customer=customer,
                data={"tag_name": name, "tag_type": TagType.SYSTEM, "tag_category": "system"},
            )
            counts["added"] += 1
        for tag in CustomerTag.objects.filter(pk__in=[pk for cid, pk in tagged.items() if cid not in wanted]):
            customer_services.tag_remove(actor=None, tag=tag)
            counts["removed"] += 1
    return counts


# --- Auto tags and recommendations (confidence from models and rules) -----------------------------------------------
AUTO_THRESHOLD = Decimal("0.80")  # at or above: applied as an AUTOMATIC tag
SUGGEST_THRESHOLD = Decimal("0.50")  # at or above (and below AUTO_THRESHOLD): recommended on the customer page
NEEDS_WINDOW_DAYS = 90
USAGE_WINDOW_DAYS = 30

CHURN_LIKELY = "流失概率高"
UPSELL_INTEREST = "增购意向"
TRAINING_NEED = "培训需求"
RENEWAL_RISK = "续约风险"
USAGE_DROP = "使用下降"

SOURCE_CHURN = "health.churn"
SOURCE_NEEDS = "communications.needs"
SOURCE_USAGE = "health.usage"
AUTO_SOURCES = (SOURCE_CHURN, SOURCE_NEEDS, SOURCE_USAGE)

# need tag of the communications analyser → (tag, category)
NEED_TAGS = {
    "upsell_interest": (UPSELL_INTEREST, "opportunity"),
    "training_request": (TRAINING_NEED, "needs"),
    "renewal_risk": (RENEWAL_RISK, "risk"),
}

# Categories of the tags the platform writes (the column is free text for manual tags).
TAG_CATEGORIES = {
    "system": _("System"),
    "risk": _("Risk"),
    "opportunity": _("Opportunity"),
    "needs": _("Needs"),
    "usage": _("Usage"),
}


@dataclass(frozen=True)
class Candidate:
    customer_id: int
    tag_name: str
    category: str
    confidence: Decimal
    source: str
    reason: str


def _conf(value: float) -> Decimal:
    return Decimal(str(round(min(max(value, 0.0), 1.0), 4)))


def tag_candidates(*, now: datetime) -> list[Candidate]:
    """Every (customer, tag) the models and rules propose now, with its confidence (set-based reads only)."""
    alive = Customer.objects.alive()
    found: list[Candidate] = []
    # 1. Churn probability of the latest health score (the health app's model or rules estimate).
    latest = (
        CustomerHealthScore.objects.filter(customer__in=alive, churn_probability__isnull=False)
        .order_by("customer_id", "-score_date", "-id")
        .values_list("customer_id", "churn_probability", "churn_source")
    )
    seen: set[int] = set()
    for customer_id, probability, source in latest:
        if customer_id in seen:
            continue
        seen.add(customer_id)
        if probability >= SUGGEST_THRESHOLD:
            found.append(
                Candidate(
                    customer_id,
                    CHURN_LIKELY,
                    "risk",
                    _conf(float(probability)),
                    SOURCE_CHURN,
                    f"churn probability {float(probability):.2f} ({source})",
                )
            )
    # 2. Needs found in the last 90 days of communications: confidence 1 - 0.5^mentions (0.5, 0.75, 0.875, ...).
    since = now - timedelta(days=NEEDS_WINDOW_DAYS)
    mentions: dict[tuple[int, str], int] = defaultdict(int)
    rows = Communication.objects.alive().filter(
        customer__in=alive, analysis__isnull=False, communication_date__gte=since
    )
    for customer_id, needs in rows.values_list("customer_id", "analysis__needs"):
        for need in {n.get("tag") for n in needs or [] if isinstance(n, dict)}:
            if need in NEED_TAGS:
                mentions[(customer_id, need)] += 1
    for (customer_id, need), n in sorted(mentions.items()):
        name, category = NEED_TAGS[need]
        found.append(
            Candidate(customer_id, name, category, _conf(1 - 0.5**n), SOURCE_NEEDS, f"{need} × {n} in 90 days")
        )
    # 3. Usage: events of the last 30 days against the 30 days before; a drop of half or more is proposed with the
    # drop as confidence (only customers with at least 10 events before, so one quiet week is no signal).
    recent_start = now - timedelta(days=USAGE_WINDOW_DAYS)
    before_start = recent_start - timedelta(days=USAGE_WINDOW_DAYS)
    usage = (
        UsageEvent.objects.filter(customer__in=alive, occurred_at__gte=before_start, occurred_at__lt=now)
        .values("customer_id")
        .annotate(
            recent=Count("pk", filter=Q(occurred_at__gte=recent_start)),
            before=Count("pk", filter=Q(occurred_at__lt=recent_start)),
        )
        .order_by("customer_id")
    )
    for row in usage:
        if row["before"] >= 10:
            drop = 1 - row["recent"] / row["before"]
            if drop >= float(SUGGEST_THRESHOLD):
                found.append(
                    Candidate(
                        row["customer_id"],
                        USAGE_DROP,
                        "usage",
                        _conf(drop),
                        SOURCE_USAGE,
                        f"usage events {row['before']} → {row['recent']} (30 days)",
                    )
                )
    return found


@transaction.atomic
def smart_tags_maintain(*, now: datetime) -> dict:
    """Apply high-confidence candidates as AUTOMATIC tags (confidence and source recorded), recommend the middle
    band, drop automatic tags and pending recommendations whose signal is gone. A dismissed recommendation is never
    proposed again (nor applied automatically). Idempotent."""
    counts = {"tagged": 0, "untagged": 0, "updated": 0, "suggested": 0, "withdrawn": 0}
    candidates = {(c.customer_id, c.tag_name.casefold()): c for c in tag_candidates(now=now)}
    names = (
        {c.tag_name for c in candidates.values()}
        | {name for name, _cat in NEED_TAGS.values()}
        | {CHURN_LIKELY, USAGE_DROP}
    )
    tags = {
        (row[0], row[1].casefold()): row
        for row in CustomerTag.objects.filter(tag_name__in=names).values_list(
            "customer_id", "tag_name", "pk", "tag_type", "source", "confidence"
        )
    }
    suggestions = {(s.customer_id, s.tag_name.casefold()): s for s in TagSuggestion.objects.filter(tag_name__in=names)}
    customers = Customer.objects.in_bulk({key[0] for key in candidates})

    for key, cand in sorted(candidates.items()):
        suggestion = suggestions.get(key)
        if suggestion is not None and suggestion.status == SuggestionStatus.DISMISSED:
            continue
        tag = tags.get(key)
        if cand.confidence >= AUTO_THRESHOLD:
            if tag is None:
                customer_services.tag_add(
                    actor=None,
                    customer=customers[cand.customer_id],
                    data={
                        "tag_name": cand.tag_name,
                        "tag_type": TagType.AUTOMATIC,
                        "tag_category": cand.category,
                        "confidence": cand.confidence,
                        "source": cand.source,
                        "tag_value": cand.reason[:200],
                    },
                )
                counts["tagged"] += 1
            elif tag[3] == TagType.AUTOMATIC and tag[4] == cand.source and tag[5] != cand.confidence:
                CustomerTag.objects.filter(pk=tag[2]).update(confidence=cand.confidence, tag_value=cand.reason[:200])
                counts["updated"] += 1
            if suggestion is not None and suggestion.status == SuggestionStatus.PENDING:
                suggestion.delete()
            continue
        if tag is not None and not (tag[3] == TagType.AUTOMATIC and tag[4] in AUTO_SOURCES):
            continue  # the customer carries it already (manual, system or accepted)
        if tag is not None:  # automatic tag whose confidence fell under the threshold: back to a recommendation
            customer_services.tag_remove(actor=None, tag=CustomerTag.objects.get(pk=tag[2]))
            counts["untagged"] += 1
        if suggestion is None:
            TagSuggestion.objects.create(
                customer_id=cand.customer_id,
                tag_name=cand.tag_name,
                tag_category=cand.category,
                confidence=cand.confidence,
                source=cand.source,
                reason=cand.reason[:300],
            )
            counts["suggested"] += 1
        elif suggestion.status == SuggestionStatus.PENDING and suggestion.confidence != cand.confidence:
            suggestion.confidence, suggestion.reason = cand.confidence, cand.reason[:300]
            suggestion.save(update_fields=["confidence", "reason", "updated_at"])
    # Signals gone: automatic tags of our sources and pending recommendations without a candidate.
    for key, row in tags.items():
        if key not in candidates and row[3] == TagType.AUTOMATIC and row[4] in AUTO_SOURCES:
            customer_services.tag_remove(actor=None, tag=CustomerTag.objects.get(pk=row[2]))
            counts["untagged"] += 1
    stale = [s.pk for key, s in suggestions.items() if key not in candidates and s.status == SuggestionStatus.PENDING]
    if stale:
        counts["withdrawn"] = TagSuggestion.objects.filter(pk__in=stale).delete()[0]
    return counts


def suggestions_pending(customer: Customer):
    """Recommendations still to decide for a customer (the customer page and the API), best first; a customer who
    meanwhile carries the tag (any case) does not see it."""
    carried = CustomerTag.objects.filter(customer=customer).values_list("tag_name", flat=True)
    carried_folded = {name.casefold() for name in carried}
    return [
        s
        for s in TagSuggestion.objects.filter(customer=customer, status=SuggestionStatus.PENDING).order_by(
            "-confidence", "tag_name", "pk"
        )
        if s.tag_name.casefold() not in carried_folded
    ]


class SuggestionDecided(ValidationError):
    pass


@transaction.atomic
def suggestion_accept(*, actor, suggestion: TagSuggestion, request=None) -> CustomerTag:
    """The recommendation becomes a real tag (type MANUAL: a person decided; confidence and source kept)."""
    suggestion = TagSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    if suggestion.status != SuggestionStatus.PENDING:
        raise SuggestionDecided({"status": [gettext("This recommendation was already decided.")]})
    existing = CustomerTag.objects.filter(customer_id=suggestion.customer_id, tag_name__iexact=suggestion.tag_name)
    tag = existing.first()
    if tag is None:
        tag = customer_services.tag_add(
            actor=actor,
            customer=suggestion.customer,
            data={
                "tag_name": suggestion.tag_name,
                "tag_type": TagType.MANUAL,
                "tag_category": suggestion.tag_category,
                "confidence": suggestion.confidence,
                "source": suggestion.source,
            },
            request=request,
        )
    suggestion.status, suggestion.decided_by, suggestion.decided_at = SuggestionStatus.ACCEPTED, actor, timezone.now()
    suggestion.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(
        action="crm.tag_suggestion.accepted",
        actor=actor,
        obj=suggestion.customer,
        changes={"tag": (None, tag.tag_name)},
        request=request,
    )
    return tag


@transaction.atomic
def suggestion_dismiss(*, actor, suggestion: TagSuggestion, request=None) -> TagSuggestion:
    """Remembered: the job never proposes this tag for this customer again."""
    suggestion = TagSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    if suggestion.status != SuggestionStatus.PENDING:
        raise SuggestionDecided({"status": [gettext("This recommendation was already decided.")]})
    suggestion.status, suggestion.decided_by, suggestion.decided_at = SuggestionStatus.DISMISSED, actor, timezone.now()
    suggestion.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(
        action="crm.tag_suggestion.dismissed",
        actor=actor,
        obj=suggestion.customer,
        changes={"tag": (suggestion.tag_name, None)},
        request=request,
    )
    return suggestion

"""Writes of the segments app: segment CRUD, (re-)evaluation with membership history, RFM and clustering."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from accounts.tenancy import current_tenant
from contracts.models import Contract, Payment
from contracts.selectors import amount_totals
from customers.models import Customer
from segments.models import ClusterRun, RfmScore, Segment, SegmentMembership, SegmentSnapshot
from segments.rfm import score_customers
from segments.rules import SIGNED, _annotations, apply_rules, validate_rules

AT_RISK_HEALTH = 60  # a member below this health score counts as churn risk on the page


class SegmentNameTaken(ValidationError):
    pass


def _check_name(name: str, *, exclude_pk=None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("This field is required.")]})
    if len(name) > 100:
        raise ValidationError({"name": [_("At most 100 characters.")]})
    clash = Segment.objects.filter(name=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": [_("A segment with this name already exists.")]})
    return name


@transaction.atomic
def segment_create(
    *, actor: User, name: str, rules: dict, description: str = "", is_shared: bool = False, request=None
) -> Segment:
    """A saved rule segment (rules validated: RuleError names the problem), evaluated at once."""
    segment = Segment(
        name=_check_name(name),
        rules=validate_rules(rules),
        description=description or "",
        is_shared=bool(is_shared),
        created_by=actor,
    )
    segment.full_clean()
    segment.save()
    audit_record(action="crm.segment.created", actor=actor, obj=segment, request=request)
    segment_evaluate(segment=segment)
    return segment


@transaction.atomic
def segment_update(*, actor: User, segment: Segment, data: dict, request=None) -> Segment:
    """Change name, description, sharing or rules (then membership is re-evaluated)."""
    changes = {}
    if "name" in data:
        data["name"] = _check_name(data["name"], exclude_pk=segment.pk)
    if "rules" in data:
        data["rules"] = validate_rules(data["rules"])
    for key in ("name", "description", "is_shared", "rules"):
        if key in data and getattr(segment, key) != data[key]:
            changes[key] = (getattr(segment, key), data[key])
            setattr(segment, key, data[key])
    if not changes:
        return segment
    segment.full_clean()
    segment.save()
    audit_record(action="crm.segment.updated", actor=actor, obj=segment, changes=changes, request=request)
    if "rules" in changes:
        segment_evaluate(segment=segment)
    return segment


@transaction.atomic
def segment_delete(*, actor: User, segment: Segment, request=None) -> None:
    audit_record(action="crm.segment.deleted", actor=actor, obj=segment, request=request)
    segment.delete()


@transaction.atomic
def segment_evaluate(*, segment: Segment, now: datetime | None = None) -> dict:
    """Re-run the rule over every live customer of the tenant: open a stay for who entered, close it for who left,
    store today's figures. Idempotent: a second run the same day changes nothing but the snapshot."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    members_qs = apply_rules(Customer.objects.alive(), segment.rules, today=today)
    members = set(members_qs.values_list("pk", flat=True))
    open_rows = dict(
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).values_list("customer_id", "pk")
    )
    entered = members - open_rows.keys()
    left = [open_rows[pk] for pk in open_rows.keys() - members]
    tenant = segment.tenant
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(tenant=tenant, segment=segment, customer_id=pk, entered_at=now) for pk in sorted(entered)]
    )
    if left:
        SegmentMembership.objects.filter(pk__in=left).update(left_at=now)
    figures = members_qs.aggregate(
        size=Count("pk"),
        health=Avg("health_score"),
        revenue=Sum("ltv"),
        at_risk=Count("pk", filter=Q(health_score__lt=AT_RISK_HEALTH)),
    )
    SegmentSnapshot.objects.update_or_create(
        segment=segment,
        day=today,
        defaults={
            "tenant": tenant,
            "size": figures["size"] or 0,
            "average_health": Decimal(str(round(figures["health"] or 0, 2))),
            "revenue": figures["revenue"] or 0,
            "at_risk": figures["at_risk"] or 0,
        },
    )
    Segment.objects.filter(pk=segment.pk).update(member_count=len(members), evaluated_at=now)
    segment.member_count, segment.evaluated_at = len(members), now
    return {"members": len(members), "entered": len(entered), "left": len(left)}


@transaction.atomic
def segment_evaluate_now(*, actor: User, segment: Segment, request=None) -> dict:
    """On-demand re-evaluation (audited: it writes the membership history)."""
    result = segment_evaluate(segment=segment)
    audit_record(
        action="crm.segment.evaluated",
        actor=actor,
        obj=segment,
        changes={"members": (None, result["members"])},
        request=request,
    )
    return result


def segments_evaluate_all(*, now: datetime | None = None) -> dict:
    """The nightly job: every segment of the active tenant."""
    totals = {"segments": 0, "entered": 0, "left": 0}
    for segment in Segment.objects.order_by("pk"):
        result = segment_evaluate(segment=segment, now=now)
        totals["segments"] += 1
        totals["entered"] += result["entered"]
        totals["left"] += result["left"]
    return totals


# --- RFM ----------------------------------------------------------------------------------------------------------
def rfm_facts(*, today: date) -> list[dict]:
    """Per live customer with a signed contract: days since the last purchase (contract start / signing or payment),
    purchases (signed contracts, renewals included) and revenue (their amounts). Two grouped queries."""
    signed_contracts = Contract.objects.filter(status__in=SIGNED, customer__deleted_at__isnull=True)
    contracts = (
        signed_contracts.values("customer_id")
        .annotate(n=Count("pk"), start=Max("start_date"), signed=Max("signed_date"))
        .order_by()
    )
    money = amount_totals(signed_contracts)  # encrypted at rest: summed in Python
    paid = dict(
        Payment.objects.filter(invoice__contract__customer__deleted_at__isnull=True)
        .values("invoice__contract__customer_id")
        .annotate(last=Max("paid_date"))
        .order_by()
        .values_list("invoice__contract__customer_id", "last")
    )
    rows = []
    for row in contracts:
        dates = [d for d in (row["start"], row["signed"], paid.get(row["customer_id"])) if d is not None]
        last = min(max(dates), today)
        rows.append(
            {
                "customer_id": row["customer_id"],
                "recency_days": (today - last).days,
                "frequency": row["n"],
                "monetary": money.get(row["customer_id"]) or Decimal("0"),
            }
        )
    return sorted(rows, key=lambda r: r["customer_id"])


@transaction.atomic
def rfm_compute(*, now: datetime | None = None) -> dict:
    """The nightly RFM scoring of the active tenant (upsert per customer; customers without purchases dropped)."""
    now = now or timezone.now()
    scored = score_customers(rfm_facts(today=timezone.localdate(now)))
    tenant = current_tenant()
    existing = {score.customer_id: score for score in RfmScore.objects.all()}
    fields = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_segment")
    create, update = [], []
    for row in scored:
        score = existing.pop(row["customer_id"], None) or RfmScore(tenant=tenant, customer_id=row["customer_id"])
        for key in fields:
            setattr(score, key, row[key])
        score.computed_at = now
        (update if score.pk else create).append(score)
    RfmScore.objects.bulk_create(create)
    RfmScore.objects.bulk_update(update, [*fields, "computed_at"])
    dropped = RfmScore.objects.filter(pk__in=[s.pk for s in existing.values()]).delete()[0]
    clusters = behaviour_clusters(now=now)
    return {"scored": len(scored), "dropped": dropped, "clusters": clusters}


CLUSTER_FEATURES = ("health_score", "recency_days", "frequency", "log_revenue", "tickets_90d", "breaches_90d")


def behaviour_clusters(*, now: datetime, max_k: int = 6, seed: int = 0) -> int:
    """k-means over health, RFM facts and service use (standardised); k in 2..max_k by the best silhouette.
    Stores a ClusterRun (silhouette, centres) and each score's cluster. Returns k (0 when too few customers)."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    annotations = _annotations(timezone.localdate(now))
    rows = list(
        Customer.objects.filter(rfm_score__isnull=False)
        .annotate(tickets=annotations["seg_tickets_90d"], breaches=annotations["seg_breaches_90d"])
        .values_list(
            "rfm_score__pk",
            "health_score",
            "rfm_score__recency_days",
            "rfm_score__frequency",
            "rfm_score__monetary",
            "tickets",
            "breaches",
        )
        .order_by("pk")
    )
    tenant = current_tenant()
    if len(rows) < 4:
        ClusterRun.objects.create(tenant=tenant, computed_at=now, customers=len(rows), features=list(CLUSTER_FEATURES))
        return 0
    data = np.array(
        [
            [float(h), float(r), float(f), math.log1p(float(m)), float(t or 0), float(b or 0)]
            for _, h, r, f, m, t, b in rows
        ]
    )
    scaled = StandardScaler().fit_transform(data)
    best = None
    distinct = len(np.unique(scaled, axis=0))
    for k in range(2, min(max_k, distinct, len(rows) - 1) + 1):
        model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(scaled)
        score = float(silhouette_score(scaled, model.labels_))
        if best is None or score > best[0]:
            best = (score, k, model)
    if best is None:
        ClusterRun.objects.create(tenant=tenant, computed_at=now, customers=len(rows), features=list(CLUSTER_FEATURES))
        return 0
    score, k, model = best
    labels = model.labels_
    centres = [[round(float(v), 2) for v in data[labels == c].mean(axis=0)] for c in range(k)]
    sizes = [int((labels == c).sum()) for c in range(k)]
    ClusterRun.objects.create(
        tenant=tenant,
        computed_at=now,
        customers=len(rows),
        k=k,
        silhouette=round(score, 4),
        features=list(CLUSTER_FEATURES),
        centres=centres,
        sizes=sizes,
    )
    by_cluster: dict[int, list[int]] = {}
    for (pk, *_rest), label in zip(rows, labels, strict=True):
        by_cluster.setdefault(int(label), []).append(pk)
    for label, pks in by_cluster.items():
        RfmScore.objects.filter(pk__in=pks).update(cluster=label)
    return k

"""Writes of the health app: daily scores (set-based, idempotent), alerts, usage events, settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record, notify
from contracts.choices import ContractStatus
from contracts.models import Contract
from contracts.selectors import amount_totals
from customers.choices import CustomerStatus
from customers.models import Customer
from customers.services import customers_figures_set
from health import churn, scoring
from health.choices import AlertKind, ChurnSource
from health.features import load_inputs, moment
from health.models import CustomerHealthScore, HealthAlert, HealthSettings, UsageEvent
from health.signals import health_alert, health_score_changed, health_scores_changed
from service_records.signals import batch as signal_batch

CHUNK = 5000
TWO = Decimal("0.01")
FOUR = Decimal("0.0001")


def _dec(value, quantum=TWO) -> Decimal | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return Decimal(str(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)


def settings_for_tenant() -> HealthSettings:
    return churn.health_settings()


def config_from(settings: HealthSettings) -> scoring.Config:
    return scoring.Config(settings.weights, (settings.low_risk_min, settings.medium_risk_min, settings.high_risk_min))


def compute(
    day: date,
    *,
    customer_ids: Iterable[int] | None = None,
    id_range: tuple[int, int] | None = None,
    settings: HealthSettings | None = None,
):
    """Inputs, scores and churn estimates of the active tenant's customers for `day` (nothing is written)."""
    settings = settings or settings_for_tenant()
    inputs = load_inputs(moment(day), customer_ids=customer_ids, id_range=id_range)
    scores = scoring.score_frame(inputs, config_from(settings)) if not inputs.empty else pd.DataFrame()
    if inputs.empty:
        return inputs, scores, {}, None
    model = churn.active_model()
    known = scores["overall"].notna()
    predicted = churn.predict(inputs[known], model) if known.any() else None
    scores["churn_source"] = ChurnSource.RULES
    scores["churn"] = scoring.rule_churn(inputs, scores)
    drivers: dict = {}
    if predicted is not None:
        proba, drivers = predicted
        scores.loc[proba.index, "churn"] = proba.clip(0, 1)
        scores.loc[proba.index, "churn_source"] = ChurnSource.MODEL
    return inputs, scores, drivers, (model if predicted is not None else None)


_NOT_INPUTS = {"level", "customer_type", "industry", "status", "assigned_manager_id"}


def _records(frame: pd.DataFrame) -> list[dict]:
    """The rows as dicts of Python values, in order (`to_dict("index")` boxes every cell separately: 3x slower)."""
    columns = list(frame.columns)
    return [dict(zip(columns, row, strict=True)) for row in frame.to_numpy(dtype=object).tolist()]


def _inputs_records(inputs: pd.DataFrame) -> list[dict]:
    """The stored `inputs` of each row, for a whole chunk at once: every numeric input rounded to 4 places, None
    when missing (a non-numeric column, e.g. a date, only appears when missing)."""
    frame = inputs.drop(columns=[c for c in _NOT_INPUTS if c in inputs.columns])
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    values = frame[numeric].astype(float).round(4)
    array = values.to_numpy(dtype=object)
    array[values.isna().to_numpy()] = None
    records = [dict(zip(numeric, row, strict=True)) for row in array.tolist()]
    for column in frame.columns.difference(numeric):
        for position in np.flatnonzero(frame[column].isna().to_numpy()):
            records[position][column] = None
    return records


def scores_save(
    day: date,
    *,
    customer_ids: Iterable[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    fail_after_chunks: int | None = None,
    alerts: bool = True,
    id_range: tuple[int, int] | None = None,
    refresh_ltv: bool = True,
) -> dict[str, int]:
    """Score the active tenant's customers for `day`: one row per customer and day (an existing row of the day is
    replaced), `customers.health_score` updated, then alerts. Safe to rerun after a crash at any point.
    `id_range` scores one chunk of the nightly fan-out (health.tasks)."""
    started = time.monotonic()
    settings = settings_for_tenant()
    inputs, scores, drivers, model = compute(day, customer_ids=customer_ids, id_range=id_range, settings=settings)
    counts = {"customers": len(inputs), "scored": 0, "unknown": 0, "alerts": 0, "model_used": int(model is not None)}
    if inputs.empty:
        return counts
    known = scores.index[scores["overall"].notna()]
    counts["unknown"] = int(len(scores) - len(known))
    chunks = [known[i : i + CHUNK] for i in range(0, len(known), CHUNK)]
    for number, ids in enumerate(chunks):
        if fail_after_chunks is not None and number >= fail_after_chunks:
            raise RuntimeError("simulated crash")
        counts["alerts"] += _save_chunk(
            day, ids, inputs, scores, drivers, model, settings, alerts=alerts, batched=customer_ids is None
        )
        counts["scored"] += len(ids)
        if progress is not None:
            progress(counts["scored"], len(known))
    # The whole tenant in one grouped query when scoring everyone (no 100k-id IN list).
    if refresh_ltv:
        counts["ltv_updated"] = ltv_refresh(customer_ids=None if customer_ids is None else list(inputs.index))
    counts["seconds"] = round(time.monotonic() - started, 2)
    return counts


def score_ranges(*, chunk: int) -> list[tuple[int, int]]:
    """(first pk, last pk) of consecutive chunks of `chunk` scorable customers of the active tenant."""
    ids = list(Customer.objects.alive().exclude(status=CustomerStatus.LOST).order_by("pk").values_list("pk", flat=True))
    return [(ids[i], ids[min(i + chunk, len(ids)) - 1]) for i in range(0, len(ids), chunk)]


def _save_chunk(
    day, ids, inputs, scores, drivers, model, settings, *, alerts: bool = True, batched: bool = False
) -> int:
    ids = [int(i) for i in ids]
    window = int(settings.alert_window_days)
    history = pd.DataFrame.from_records(
        list(
            CustomerHealthScore.objects.filter(
                customer_id__in=ids, score_date__gte=day - timedelta(days=window), score_date__lt=day
            )
            .order_by("customer_id", "score_date")
            .values("customer_id", "score_date", "overall_score", "risk_level")
        )
    )
    previous: dict[int, tuple[Decimal, int]] = {}
    peak: dict[int, Decimal] = {}
    if not history.empty:
        last = history.groupby("customer_id").tail(1)
        previous = {int(r.customer_id): (r.overall_score, int(r.risk_level)) for r in last.itertuples()}
        peak = history.groupby("customer_id")["overall_score"].max().to_dict()
    rows = []
    # One conversion per chunk (row-by-row .loc costs ~0.5 ms a customer).
    score_rows = _records(scores.loc[ids])
    chunk_inputs = inputs.loc[ids]
    input_rows = _records(chunk_inputs)
    stored_inputs = _inputs_records(chunk_inputs)
    version = model.version if model is not None else None
    for customer_id, s, row_inputs, row_stored_inputs in zip(ids, score_rows, input_rows, stored_inputs, strict=True):
        factors, steps = scoring.explain(row_inputs, {"overall": float(s["overall"])})
        rows.append(
            CustomerHealthScore(
                customer_id=customer_id,
                score_date=day,
                overall_score=_dec(s["overall"]),
                satisfaction_score=_dec(s["satisfaction"]),
                activity_score=_dec(s["activity"]),
                financial_score=_dec(s["financial"]),
                contract_score=_dec(s["contract"]),
                risk_level=int(s["risk_level"]),
                churn_probability=_dec(s["churn"], FOUR),
                churn_source=s["churn_source"],
                churn_model_version=version if s["churn_source"] == ChurnSource.MODEL else None,
                factors=factors,
                recommendations=steps,
                data_completeness=_dec(s["completeness"], Decimal("0.001")),
                inputs=row_stored_inputs,
                churn_drivers=drivers.get(customer_id, []),
            )
        )
    fields = [
        f.name
        for f in CustomerHealthScore._meta.concrete_fields
        if f.name not in {"id", "tenant", "customer", "score_date", "created_at"}
    ]
    alerts_made = []
    with transaction.atomic():
        # MySQL/MariaDB upsert on any unique key (ON DUPLICATE KEY UPDATE) and refuse a named target.
        target = (
            {"unique_fields": ["tenant", "customer", "score_date"]}
            if connection.features.supports_update_conflicts_with_target
            else {}
        )
        CustomerHealthScore.objects.bulk_create(rows, update_conflicts=True, update_fields=fields, **target)
        # Only customers whose latest score changed (a rerun of the day writes none).
        current = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "health_score"))
        changed = {r.customer_id: r.overall_score for r in rows if current.get(r.customer_id) != r.overall_score}
        if changed:
            customers_figures_set(field="health_score", values=changed)
        candidates = []
        for r in rows:
            prev = previous.get(r.customer_id)
            drop = (Decimal(peak[r.customer_id]) - r.overall_score) if r.customer_id in peak else Decimal(0)
            if drop >= settings.alert_drop_points:
                candidates.append((r, AlertKind.DROP, max(drop, Decimal(0)), prev))
            if prev is not None and r.risk_level > prev[1]:
                candidates.append((r, AlertKind.RISK_UP, max(drop, Decimal(0)), prev))
        if candidates and alerts:
            alerts_made = _alerts_create(day, candidates, window)
    if alerts_made or health_score_changed.has_listeners() or (batched and health_scores_changed.has_listeners()):
        # The rows as stored, from memory: their ids (and creation times, kept by a rerun) and their customers in
        # two queries instead of reading 10,000 rows with their JSON back.
        stored = {
            c: (pk, created)
            for c, pk, created in CustomerHealthScore.objects.filter(customer_id__in=ids, score_date=day).values_list(
                "customer_id", "pk", "created_at"
            )
        }
        customers = Customer.objects.in_bulk(ids)
        announced = []
        for r in rows:
            if r.customer_id in stored and r.customer_id in customers:
                r.pk, r.created_at = stored[r.customer_id]
                r._state.adding = False
                r.customer = customers[r.customer_id]
                announced.append(r)
        transaction.on_commit(lambda: _announce(announced, previous, alerts_made, window, batched=batched))
    return len(alerts_made)


def _alerts_create(day, candidates, window) -> list[HealthAlert]:
    customer_ids = {r.customer_id for r, *_rest in candidates}
    existing = set(
        HealthAlert.objects.filter(
            customer_id__in=customer_ids, score_date__gt=day - timedelta(days=window)
        ).values_list("customer_id", "kind", "score_date")
    )
    recent_drop = {c for c, k, d in existing if k == AlertKind.DROP}
    new = []
    for r, kind, drop, prev in candidates:
        if kind == AlertKind.DROP and r.customer_id in recent_drop:
            continue  # one drop alert per customer per window
        if (r.customer_id, kind, day) in existing:
            continue
        new.append(
            HealthAlert(
                customer_id=r.customer_id,
                kind=kind,
                score_date=day,
                drop=drop,
                previous_risk_level=prev[1] if prev else None,
                risk_level=r.risk_level,
            )
        )
    HealthAlert.objects.bulk_create(new, ignore_conflicts=True)
    return new


def _announce(scores: list, previous: dict, alerts: list[HealthAlert], window: int, *, batched: bool = False) -> None:
    # One batch of signals: receivers keep what they read for every customer (the playbook rules) for the whole
    # chunk instead of querying it again per customer (at 100,000 customers that was most of the nightly run).
    with signal_batch([s.customer_id for s in scores]):
        if batched:
            health_scores_changed.send(
                sender=CustomerHealthScore, scores=scores, previous=previous, alerts=alerts, window_days=window
            )
        _announce_rows(scores, previous, alerts, window, batched)


def _announce_rows(scores: list, previous: dict, alerts: list[HealthAlert], window: int, batched: bool) -> None:
    if health_score_changed.has_listeners():
        for score in scores:
            prev = previous.get(score.customer_id)
            health_score_changed.send(
                sender=CustomerHealthScore,
                score=score,
                customer=score.customer,
                previous_overall=prev[0] if prev else None,
                previous_risk_level=prev[1] if prev else None,
                batched=batched,
            )
    by_customer = {s.customer_id: s for s in scores}
    managers = {}
    wanted = {by_customer[a.customer_id].customer.assigned_manager_id for a in alerts if a.customer_id in by_customer}
    if wanted - {None}:
        managers = User.objects.filter(pk__in=wanted - {None}, is_active=True).in_bulk()
    for alert in alerts:
        score = by_customer.get(alert.customer_id)
        if score is None:
            continue
        customer = score.customer
        manager = managers.get(customer.assigned_manager_id)
        if manager is not None:
            if alert.kind == AlertKind.DROP:
                message = _("Health of %(c)s dropped %(d)s points to %(s)s") % {
                    "c": customer.customer_name,
                    "d": alert.drop,
                    "s": score.overall_score,
                }
            else:
                message = _("Risk level of %(c)s rose from %(p)s to %(r)s") % {
                    "c": customer.customer_name,
                    "p": alert.previous_risk_level,
                    "r": alert.risk_level,
                }
            notify(
                manager,
                f"health.{alert.kind}",
                customer,
                message,
                dedup_key=f"health:{alert.kind}:{customer.pk}:{alert.score_date.isoformat()}",
                link=reverse("customers:customer_detail", args=[customer.pk]) + "?tab=health",
            )
        health_alert.send(
            sender=CustomerHealthScore,
            customer=customer,
            kind=str(alert.kind),
            score=score,
            drop=alert.drop,
            window_days=window,
            previous_risk_level=alert.previous_risk_level,
            risk_level=alert.risk_level,
            batched=batched,
        )


def customer_score_calculate(*, actor: User | None, customer: Customer, day: date | None = None, request=None) -> dict:
    """Score one customer now (the API's calculate); returns the stored row, or the 'unknown' answer."""
    day = day or timezone.localdate()
    with transaction.atomic():  # one commit for the row, the customer's figures and the audit entry
        counts = scores_save(day, customer_ids=[customer.pk])
        row = CustomerHealthScore.objects.filter(customer=customer, score_date=day).first()
        if actor is not None:
            _audit_calculated(actor, customer, row, request)
    return {"row": row, "counts": counts}


def _audit_calculated(actor, customer, row, request) -> None:
    if actor is not None:
        audit_record(
            actor=actor,
            action="crm.health.calculated",
            obj=customer,
            changes={"overall_score": [None, str(row.overall_score) if row else None]},
            request=request,
        )


def ltv_refresh(*, customer_ids: list[int] | None = None) -> int:
    """customers.ltv = the revenue of the customer's contracts (every non-draft contract's amount), written through
    the customers service (one UPDATE per 1,000 changed customers). One query; encrypted amounts summed in Python."""
    queryset = Contract.objects.exclude(status=ContractStatus.DRAFT)
    if customer_ids is not None:
        queryset = queryset.filter(customer_id__in=customer_ids)
    totals = amount_totals(queryset)  # encrypted at rest: summed in Python
    if customer_ids is not None:
        current = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "ltv"))
    else:
        current = dict(Customer.objects.values_list("pk", "ltv"))
    changed = {pk: totals.get(pk, Decimal(0)) for pk, ltv in current.items() if totals.get(pk, Decimal(0)) != ltv}
    return customers_figures_set(field="ltv", values=changed) if changed else 0


# --- Usage events ---------------------------------------------------------------------------------------------------
def usage_events_ingest(*, events: list[dict[str, Any]]) -> dict[str, int]:
    """Store validated events (customer ids already checked to belong to the tenant); an event id seen before is
    skipped, so a retried batch stores nothing twice."""
    ids = [e["event_id"] for e in events]
    seen = set(UsageEvent.objects.filter(event_id__in=ids).values_list("event_id", flat=True))
    fresh, batch_ids = [], set()
    for e in events:
        if e["event_id"] in seen or e["event_id"] in batch_ids:
            continue
        batch_ids.add(e["event_id"])
        fresh.append(
            UsageEvent(
                customer_id=e["customer_id"],
                event_id=e["event_id"],
                user_identifier=e.get("user_id") or "",
                event_type=e["event_type"],
                feature_name=e.get("feature_name") or "",
                occurred_at=e["occurred_at"],
            )
        )
    with transaction.atomic():
        UsageEvent.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=1000)
    return {"received": len(events), "stored": len(fresh), "duplicates": len(events) - len(fresh)}


def settings_update(*, actor: User, data: dict[str, Any], request=None) -> HealthSettings:
    """Change the tenant's weights / thresholds (validated by HealthSettings.clean: weights sum to 100, thresholds
    ordered); the change is audited with the old and new values. Raises ValidationError naming the field."""
    settings = HealthSettings.objects.first() or HealthSettings()
    before = {k: getattr(settings, k) for k in data}
    for key, value in data.items():
        setattr(settings, key, value)
    settings.full_clean(exclude=["tenant"], validate_unique=False)
    with transaction.atomic():
        settings.save()
        audit_record(
            actor=actor,
            action="crm.health.settings_changed",
            obj=settings,
            changes={k: [str(before[k]), str(v)] for k, v in data.items() if before[k] != v},
            request=request,
        )
    return settings


def churn_model_train(*, actor: User | None = None, today: date | None = None) -> churn.TrainResult:
    result = churn.train(today=today)
    if actor is not None and result.model is not None:
        audit_record(actor=actor, action="crm.health.model_trained", obj=result.model, changes={}, request=None)
    return result


def scores_move(*, survivor: Customer, duplicate: Customer) -> int:
    """Merge: usage events and alerts follow the survivor; the duplicate's daily rows are dropped where the
    survivor has a row that day and moved otherwise."""
    survivor_days = set(CustomerHealthScore.objects.filter(customer=survivor).values_list("score_date", flat=True))
    CustomerHealthScore.objects.filter(customer=duplicate, score_date__in=survivor_days).delete()
    moved = CustomerHealthScore.objects.filter(customer=duplicate).update(customer=survivor)
    moved += UsageEvent.objects.filter(customer=duplicate).update(customer=survivor)
    HealthAlert.objects.filter(customer=duplicate).delete()
    return moved

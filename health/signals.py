"""Signals of the health app, for the apps above it (success_tasks, segments, portal, webhooks).

`health_score_changed` is sent for every new or replaced daily row:
    sender=CustomerHealthScore, score=<CustomerHealthScore>, customer=<Customer>,
    previous_overall=<Decimal | None>  (the latest earlier day's overall score),
    previous_risk_level=<int | None>   (the latest earlier day's risk level),
    batched=<bool>                     (True: the row is also in a `health_scores_changed` batch)

`health_alert` is sent once per alert (alerts are deduplicated in `health_alerts`):
    sender=CustomerHealthScore, customer=<Customer>, kind="drop" | "risk_up", score=<CustomerHealthScore>,
    drop=<Decimal points lost within the window (>= 0)>, window_days=<int, 30 by default>,
    previous_risk_level=<int | None>, risk_level=<int>, batched=<bool> (as above)

`health_scores_changed` is sent once per chunk of the nightly run (never by the single-customer calculate path),
before the per-row signals, with every row of the chunk and the chunk's new alerts:
    sender=CustomerHealthScore, scores=<list[CustomerHealthScore]> (each with `.customer` loaded),
    previous=<dict customer_id -> (previous_overall, previous_risk_level)>,
    alerts=<list[HealthAlert]>, window_days=<int>
A receiver that handles the batch set-based ignores the per-row signals that carry `batched=True`; a receiver
that only needs single rows keeps listening to `health_score_changed` / `health_alert` and sees every row.

All are sent after the rows are committed (`transaction.on_commit`), inside the tenant scope of the run.
"""

from django.dispatch import Signal

health_score_changed = Signal()
health_alert = Signal()
health_scores_changed = Signal()

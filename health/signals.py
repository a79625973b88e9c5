"""Signals of the health app, for the apps above it (success_tasks, segments, portal).

`health_score_changed` is sent for every new or replaced daily row:
    sender=CustomerHealthScore, score=<CustomerHealthScore>, customer=<Customer>,
    previous_overall=<Decimal | None>  (the latest earlier day's overall score),
    previous_risk_level=<int | None>   (the latest earlier day's risk level)

`health_alert` is sent once per alert (alerts are deduplicated in `health_alerts`):
    sender=CustomerHealthScore, customer=<Customer>, kind="drop" | "risk_up", score=<CustomerHealthScore>,
    drop=<Decimal points lost within the window (>= 0)>, window_days=<int, 30 by default>,
    previous_risk_level=<int | None>, risk_level=<int>

Both are sent after the rows are committed (`transaction.on_commit`), inside the tenant scope of the run.
"""

from django.dispatch import Signal

health_score_changed = Signal()
health_alert = Signal()

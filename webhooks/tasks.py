"""Celery tasks: one delivery attempt (re-queued with its backoff), and the sweeper that re-queues deliveries
whose task was lost (broker down, worker killed)."""

from __future__ import annotations

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.tasks.deliver", acks_late=True)
def deliver(delivery_id: int) -> str:
    outcome = services.attempt(delivery_id)
    if outcome.retry_in is not None:
        # A new message, not `self.retry()`: attempts are counted in the row, and the breaker's waits do not
        # use up retries.
        services.queue([delivery_id], countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="webhooks.tasks.redeliver_due")
def redeliver_due() -> dict:
    ids = services.due_deliveries()
    services.queue(ids)
    return {"queued": len(ids)}

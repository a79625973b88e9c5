"""Signals of the service_records layer, for the apps above it (health, success_tasks, portal).

Both are sent inside the writing transaction, after the change.
"""

import contextvars
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.dispatch import Signal

# sender=ServiceRecord, record=ServiceRecord, kind="response"|"resolution", customer=Customer.
# Sent once per ticket and kind, when its breach flag first turns true (ingest, edit or the scan).
sla_breached = Signal()

# sender=ServiceRecord, record=ServiceRecord, customer=Customer, actor=User|None: a satisfaction rating
# arrived or changed (ticket system, staff entry or, later, the portal).
rating_received = Signal()

# sender=NpsResponse, response=NpsResponse, customer=Customer, actor=User|None: an NPS answer was recorded.
nps_received = Signal()


# --- Batches ------------------------------------------------------------------------------------------------------
# An ingest of 1,000 tickets sends up to ~2,000 signals in one transaction. Receivers that read the same thing
# for every signal (the tenant's rules, a customer's breach count: the tickets are all written before the first
# signal) may keep it for the batch with `batch_memo`; outside a batch it computes every time.
_batch: contextvars.ContextVar[dict | None] = contextvars.ContextVar("service_records_signal_batch", default=None)


@contextmanager
def batch(customer_ids: Iterable[int] = ()) -> Iterator[None]:
    """The signals sent inside belong to one write of many tickets (of `customer_ids`: `batch_customers()`)."""
    token = _batch.set({_CUSTOMERS: frozenset(customer_ids)})
    try:
        yield
    finally:
        _batch.reset(token)


_CUSTOMERS = object()


def batch_customers() -> frozenset[int] | None:
    """The customers of the current batch's tickets (a receiver may read for all of them at once), or None."""
    memo = _batch.get()
    return None if memo is None else memo[_CUSTOMERS]


def batch_memo(key: Hashable, compute: Callable[[], Any]) -> Any:
    """`compute()` once per `key` inside a batch (the key must name the tenant), every time outside one."""
    memo = _batch.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]

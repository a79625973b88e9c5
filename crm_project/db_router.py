"""Read replica routing: reports and analytics read from the `replica` database, everything else (and every
write, always) uses `default`.

`DATABASE_REPLICA_URL` configures the `replica` alias; unset, there is no replica and every query goes to
`default`. Reads go to the replica only inside `replica_reads()` (a context manager and decorator a report
selector or job uses), or in a GET/HEAD request to a page named in `DATABASE_REPLICA_URL_NAMES` (the
`ReplicaReadsMiddleware`). A replica lags behind the primary by a little: nothing that reads its own writes
(forms, APIs that write, jobs that update) is routed there. Inside a transaction on `default` reads stay on
`default` too, so a write never depends on a stale read.
"""

from __future__ import annotations

import contextvars
from contextlib import ContextDecorator

from django.db import connections
from django.utils.connection import ConnectionDoesNotExist

REPLICA = "replica"
_replica_wanted: contextvars.ContextVar[bool] = contextvars.ContextVar("crm_replica_reads", default=False)


def replica_available() -> bool:
    """Whether a `replica` connection exists (configured in DATABASES, or registered at run time)."""
    try:
        connections[REPLICA]
    except ConnectionDoesNotExist:
        return False
    return True


class replica_reads(ContextDecorator):  # noqa: N801 (used like a function)
    """Reads inside the block go to the replica (when there is one)."""

    def __enter__(self):
        self._token = _replica_wanted.set(True)
        return self

    def __exit__(self, *exc):
        _replica_wanted.reset(self._token)
        return False


def reading_from_replica() -> bool:
    return _replica_wanted.get() and replica_available() and not connections["default"].in_atomic_block


class ReplicaRouter:
    """DATABASE_ROUTERS entry."""

    def db_for_read(self, model, **hints):
        # None: no opinion, Django keeps the instance's database (a restore into another alias, say) or default.
        return REPLICA if reading_from_replica() else None

    def db_for_write(self, model, **hints):
        instance = hints.get("instance")
        if instance is not None and instance._state.db == REPLICA:
            return "default"  # an object read from the replica is written to the primary
        return None  # the instance's own database, else default: never the replica by routing

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica is a copy of default: objects of both are the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA  # the replica gets its schema by replication


class ReplicaReadsMiddleware:
    """GET/HEAD requests to the report and analytics pages named in DATABASE_REPLICA_URL_NAMES read from the
    replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from django.conf import settings

        match = getattr(request, "resolver_match", None)
        if (
            request.method in ("GET", "HEAD")
            and match is not None
            and match.view_name in getattr(settings, "DATABASE_REPLICA_URL_NAMES", ())
            and replica_available()
        ):
            with replica_reads():
                return view_func(request, *view_args, **view_kwargs)
        return None

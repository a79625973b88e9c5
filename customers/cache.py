"""The tenant "customers version" behind the cached list pages and totals.

COUNT(*) over a large tenant costs more than the page itself, so totals and whole list pages are cached per tenant,
audience and query (customers/selectors.py). Each entry is stored as `(version, value)` under a key without the
version, and read together with the tenant's current version in one `MGET`: an entry computed under an older
version is a miss. Every write to customers, contacts, tags or shares bumps the version: row saves and deletes
through signals (customers/receivers.py), bulk writes and queryset updates through the querysets in
customers/models.py, denormalised figures through the services. The short timeout bounds staleness for anything
that slips past all of them.

A write inside a transaction bumps the version at once *and* again when the transaction commits: a reader that
ran between the first bump and the commit saw the rows before the change and may have cached them under the new
version; the second bump retires that entry.
"""

from __future__ import annotations

import functools
import time

from django.core.cache import cache
from django.db import transaction

COUNT_TTL = 60


def _version_key(tenant_id: int) -> str:
    return f"crm:customers:version:{tenant_id}"


def _fresh_version() -> int:
    # A version never handed out before, even after Redis lost the key (restart, eviction): old entries stay misses.
    return time.time_ns() // 1000


def customers_version(tenant_id: int | None) -> int:
    version = cache.get(_version_key(tenant_id))
    if version is None:
        cache.add(_version_key(tenant_id), _fresh_version(), timeout=None)
        version = cache.get(_version_key(tenant_id), 0)
    return version


def _bump(tenant_id: int) -> None:
    key = _version_key(tenant_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, _fresh_version(), timeout=None)


def customers_changed(tenant_id: int | None) -> None:
    """Invalidate the cached list pages and totals of a tenant (now, and again when the transaction commits)."""
    if tenant_id is None:
        return
    _bump(tenant_id)
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return
    # One commit-time bump per tenant and transaction, however many rows the transaction writes.
    for _savepoints, callback, _robust in connection.run_on_commit:
        if getattr(callback, "crm_customers_tenant", None) == tenant_id:
            return
    callback = functools.partial(_bump, tenant_id)
    callback.crm_customers_tenant = tenant_id
    transaction.on_commit(callback)


def cached_entries(tenant_id: int, keys: list[str]) -> tuple[int, dict]:
    """The tenant's current version and those of `keys` whose entry was stored under it, in one round trip."""
    version_key = _version_key(tenant_id)
    found = cache.get_many([version_key, *keys])
    version = found.get(version_key)
    if version is None:
        return customers_version(tenant_id), {}
    valid = {}
    for key in keys:
        entry = found.get(key)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == version:
            valid[key] = entry[1]
    return version, valid


def cache_entry(key: str, version: int, value) -> None:
    """Store `value` as computed under `version` (read back with cached_entries)."""
    cache.set(key, (version, value), COUNT_TTL)

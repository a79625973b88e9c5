"""Version counter behind the cached customer-list totals.

COUNT(*) over a large tenant costs more than the page itself, so totals are cached per tenant, visibility and
filter under a tenant "version". Every write to customers, contacts, tags or shares bumps it: row saves and
deletes through signals (customers/signals.py), bulk writes and queryset updates through the querysets in
customers/models.py. The short timeout bounds staleness for anything that slips past both.
"""

from django.core.cache import cache

COUNT_TTL = 60


def _version_key(tenant_id: int) -> str:
    return f"crm:customers:version:{tenant_id}"


def customers_version(tenant_id: int | None) -> int:
    return cache.get(_version_key(tenant_id), 0)


def customers_changed(tenant_id: int | None) -> None:
    """Invalidate the cached totals of a tenant's customer lists."""
    if tenant_id is None:
        return
    key = _version_key(tenant_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)

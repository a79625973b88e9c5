"""Permission lookups cached across requests (the model backend otherwise asks the database on every request)."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

_VERSION_KEY = "crm:perms:version"
_TTL = 300


def permissions_version() -> int:
    """Bumped whenever roles, group permissions or user permissions change; part of every cache key."""
    version = cache.get(_VERSION_KEY)
    if version is None:
        cache.add(_VERSION_KEY, 1, timeout=None)
        version = cache.get(_VERSION_KEY, 1)
    return version


def permissions_changed(**_kwargs) -> None:
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:
        cache.set(_VERSION_KEY, 2, timeout=None)


def cached_user_value(user, name: str, compute):
    """A per-user value (permission set, role) cached until the permission version changes."""
    key = f"crm:{name}:{user.pk}:{permissions_version()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, _TTL)
    return value


class CachedModelBackend(ModelBackend):
    """Django's model backend whose permission set is cached (Redis in production) instead of queried each time."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = set(
                cached_user_value(
                    user_obj, "perms", lambda: sorted(super(CachedModelBackend, self).get_all_permissions(user_obj))
                )
            )
        return user_obj._perm_cache

"""Permission lookups cached across requests (the model backend otherwise asks the database on every request)."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

_VERSION_KEY = "crm:perms:version"
_TTL = 300


def permissions_changed(**_kwargs) -> None:
    """Bumped whenever roles, group permissions or users change: every cached permission set becomes stale."""
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:
        cache.set(_VERSION_KEY, 2, timeout=None)


def authz_cache_keys(user_id) -> list[str]:
    """The cache keys `user_authz` reads: an authenticator may fetch them together with its own (one round trip)
    and hand the answer over as `user._crm_authz_prefetched`."""
    return [_VERSION_KEY, f"crm:authz:{user_id}"]


def user_authz(user) -> dict:
    """`{"perms": [...], "role": "csm"}` of a user, from one cache round trip when it is warm.

    The entry carries the permission version it was computed under; a version bump makes it stale.
    """
    memo = getattr(user, "_crm_authz", None)
    if memo is not None:
        return memo
    key = f"crm:authz:{user.pk}"
    found = getattr(user, "_crm_authz_prefetched", None)
    if found is None:
        found = cache.get_many([_VERSION_KEY, key])
    version = found.get(_VERSION_KEY)
    if version is None:
        cache.add(_VERSION_KEY, 1, timeout=None)
        version = cache.get(_VERSION_KEY, 1)
    entry = found.get(key)
    if entry is None or entry.get("version") != version:
        from accounts.roles import ROLE_CODES

        names = {group.name for group in user.groups.all()}
        entry = {
            "version": version,
            "perms": sorted(ModelBackend().get_all_permissions(user)),
            "role": next((code for code in ROLE_CODES if code in names), ""),
        }
        cache.set(key, entry, _TTL)
    user._crm_authz = entry
    return entry


class CachedModelBackend(ModelBackend):
    """Django's model backend whose permission set is cached (Redis in production) instead of queried each time.

    Users of a deactivated tenant cannot sign in, and their open sessions end at the next request.
    """

    def user_can_authenticate(self, user):
        tenant = getattr(user, "tenant", None)
        return super().user_can_authenticate(user) and (tenant is None or tenant.is_active)

    def get_user(self, user_id):
        from django.contrib.auth import get_user_model

        user = get_user_model()._default_manager.select_related("tenant").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = set(user_authz(user_obj)["perms"])
        return user_obj._perm_cache

"""Per-user and per-IP request rates (both apply; rates come from the environment).

Fixed windows counted with one atomic increment per request (a Redis pipeline: INCR + EXPIRE), instead of DRF's
read-modify-write of a timestamp list, which costs two round trips and can lose hits under concurrency.
"""

from django.core.cache import cache, caches
from rest_framework.throttling import SimpleRateThrottle

from crm_project.cache import PooledRedisCache


def _hit(key: str, ttl: int) -> int:
    """Count one hit on `key` (created with a `ttl`); returns the count so far."""
    backend = caches["default"]
    if isinstance(backend, PooledRedisCache):
        return backend.hit(key, ttl)  # one round trip; per-process counting while Redis is down
    if cache.add(key, 1, ttl):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, ttl)
        return 1


class _WindowThrottle(SimpleRateThrottle):
    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = int(self.timer())
        window_start = now - now % self.duration
        count = _hit(f"{self.key}:{window_start}", self.duration + 1)
        self.retry_after = window_start + self.duration - now
        return count <= self.num_requests

    def wait(self):
        return max(1, self.retry_after)


class UserThrottle(_WindowThrottle):
    """Limits each signed-in user (anonymous callers are covered by the IP throttle)."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class IPThrottle(_WindowThrottle):
    """Limits each client address, signed in or not."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

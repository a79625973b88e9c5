"""Per-user and per-IP request rates (both apply; rates come from the environment).

Fixed windows counted with one atomic increment per request (a Redis pipeline: INCR + EXPIRE), instead of DRF's
read-modify-write of a timestamp list, which costs two round trips and can lose hits under concurrency. The first
window throttle a request meets counts the request on every window throttle of the view in the same pipeline
(DRF asks each throttle in turn, and counts a hit on all of them even when one refuses).
"""

from django.core.cache import cache, caches
from rest_framework.throttling import SimpleRateThrottle

from crm_project.cache import PooledRedisCache


def _hit(key: str, ttl: int) -> int:
    """Count one hit on `key` (created with a `ttl`); returns the count so far."""
    return _hit_many({key: ttl})[key]


def _hit_many(windows: dict[str, int]) -> dict[str, int]:
    backend = caches["default"]
    if isinstance(backend, PooledRedisCache):
        return backend.hit_many(windows)  # one round trip; per-process counting while Redis is down
    counts = {}
    for key, ttl in windows.items():
        if cache.add(key, 1, ttl):
            counts[key] = 1
            continue
        try:
            counts[key] = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, ttl)
            counts[key] = 1
    return counts


class _WindowThrottle(SimpleRateThrottle):
    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = int(self.timer())
        window_start = now - now % self.duration
        window_key = f"{self.key}:{window_start}"
        counts = getattr(request, "_crm_throttle_counts", None)
        if counts is None or window_key not in counts:
            counts = _hit_many(self._windows(request, view, now, window_key))
            request._crm_throttle_counts = counts
        self.retry_after = window_start + self.duration - now
        return counts[window_key] <= self.num_requests

    def _windows(self, request, view, now: int, window_key: str) -> dict[str, int]:
        """This throttle's window and those of the view's other window throttles: {key: ttl}."""
        windows = {window_key: self.duration + 1}
        for other in view.get_throttles() if hasattr(view, "get_throttles") else ():
            if type(other) is type(self) or not isinstance(other, _WindowThrottle) or other.rate is None:
                continue
            key = other.get_cache_key(request, view)
            if key is not None:
                windows[f"{key}:{now - now % other.duration}"] = other.duration + 1
        return windows

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

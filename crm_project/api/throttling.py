"""Per-user and per-IP request rates (both apply; rates come from the environment)."""

from rest_framework.throttling import SimpleRateThrottle


class UserThrottle(SimpleRateThrottle):
    """Limits each signed-in user (anonymous callers are covered by the IP throttle)."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class IPThrottle(SimpleRateThrottle):
    """Limits each client address, signed in or not."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

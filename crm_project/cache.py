"""Django's Redis cache, keeping one redis client per connection pool, and surviving a Redis outage.

Django builds a new `redis.Redis` object for every cache call; with redis-py 8 that construction costs more
than the round trip, and a request makes several cache calls (throttles, permission and count caches).

When Redis does not answer, the web keeps serving: reads miss, writes are dropped (the permission sets and
list pages are computed from the database), and `add`/`hit` (replay protection, throttle counters) fall back
to this process's memory. The outage is logged once when it starts and once when Redis is back; while it
lasts Redis is retried every `RETRY_SECONDS`, not on every call.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("crm.cache")

OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)
RETRY_SECONDS = 5.0


class PooledRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class PooledRedisCache(RedisCache):
    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        # A dead Redis must cost milliseconds, not the default (no) timeout.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 1.0)
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._class = PooledRedisCacheClient
        self._local = LocMemCache(f"crm-fallback-{id(self)}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._down_until = 0.0
        self._lock = threading.Lock()

    # --- outage bookkeeping ---------------------------------------------------------------------------------------
    @property
    def is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _went_down(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_until == 0.0
            self._down_until = time.monotonic() + RETRY_SECONDS
        if first:
            logger.warning("cache unavailable, serving without it (throttling per process): %s", exc)

    def _came_back(self) -> None:
        if self._down_until:
            with self._lock:
                was_down, self._down_until = self._down_until, 0.0
            if was_down:
                logger.warning("cache available again")

    def _call(self, name: str, fallback, *args, **kwargs):
        if self.is_down:
            return fallback()
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except OUTAGE_ERRORS as exc:
            self._went_down(exc)
            return fallback()
        self._came_back()
        return result

    # --- the cache API, each with its outage answer ---------------------------------------------------------------
    def get(self, key, default=None, version=None):
        return self._call("get", lambda: default, key, default, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", dict, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", lambda: False, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", lambda: None, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", list, data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", lambda: False, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", lambda: False, key, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", lambda: None, keys, version)

    def incr(self, key, delta=1, version=None):
        def missing():
            raise ValueError(f"Key '{key}' not found (cache unavailable)")

        return self._call("incr", missing, key, delta, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", lambda: self._local.add(key, value, timeout, version), key, value, timeout, version)

    def clear(self):
        self._local.clear()
        return self._call("clear", lambda: None)

    def hit(self, key: str, ttl: int) -> int:
        """Count one hit on a fixed-window counter (INCR + EXPIRE in one round trip); per process when down."""
        return self.hit_many({key: ttl})[key]

    def hit_many(self, windows: dict[str, int]) -> dict[str, int]:
        """`hit` on several counters ({key: ttl}) in one round trip; returns {key: count so far}."""

        def local_one(key: str, ttl: int) -> int:
            if self._local.add(key, 1, ttl):
                return 1
            try:
                return self._local.incr(key)
            except ValueError:
                self._local.set(key, 1, ttl)
                return 1

        def local() -> dict[str, int]:
            return {key: local_one(key, ttl) for key, ttl in windows.items()}

        def remote() -> dict[str, int]:
            full_keys = {key: self.make_and_validate_key(key) for key in windows}
            pipe = self._cache.get_client(next(iter(full_keys.values())), write=True).pipeline()
            for key, ttl in windows.items():
                pipe.incr(full_keys[key])
                pipe.expire(full_keys[key], ttl, nx=True)
            results = pipe.execute()
            return {key: int(results[2 * index]) for index, key in enumerate(windows)}

        if self.is_down:
            return local()
        try:
            counts = remote()
        except OUTAGE_ERRORS as exc:
            self._went_down(exc)
            return local()
        self._came_back()
        return counts

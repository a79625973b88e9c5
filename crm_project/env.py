"""Strict parsing of configuration from environment variables.

A wrong value must stop the process at start with a message that names the variable,
never fall back silently to a default (healthchecks' `envbool` habit).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlparse


class ConfigError(Exception):
    """A configuration variable holds a value we refuse to guess about."""


def env_str(name: str, default: str = "") -> str:
    """A plain string; an empty value counts as unset."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_bool(name: str, default: bool) -> bool:
    """Only `true` or `false` (any case); anything else is an error naming the variable."""
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ConfigError(f"{name} must be 'true' or 'false', got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """A whole number, optionally with a lower bound."""
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks between commas are dropped."""
    raw = os.environ.get(name, "")
    if raw == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: list[str]) -> str:
    """One of a fixed set of values."""
    value = env_str(name, default)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def parse_database_url(name: str, url: str) -> dict:
    """Turn `sqlite:///path` or `mysql://user:pass@host:port/db` into a Django DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif path.startswith("/"):
            path = path[1:]
        if not path:
            raise ConfigError(f"{name} must name a SQLite file, e.g. sqlite:///data/db.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            # A writer waits at most 5 s for another one, then the request answers 503 with Retry-After.
            "OPTIONS": {"timeout": 5, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    if parsed.scheme in ("mysql", "mariadb"):
        database = unquote(parsed.path.lstrip("/"))
        if not parsed.hostname or not database:
            raise ConfigError(f"{name} must look like mysql://user:password@host:3306/database, got {url!r}")
        try:
            port = parsed.port
        except ValueError:
            raise ConfigError(f"{name} has an invalid port in {url!r}") from None
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        # READ COMMITTED (Django's advice for MySQL) avoids gap-lock deadlocks between concurrent writers.
        options = {
            "charset": "utf8mb4",
            # A row lock is waited for at most 10 s (InnoDB's default is 50), then the request answers 503.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES', innodb_lock_wait_timeout=10",
            "isolation_level": "read committed",
        }
        if "unix_socket" in query:
            options["unix_socket"] = query["unix_socket"]
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": database,
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname,
            "PORT": str(port or 3306),
            "OPTIONS": options,
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    raise ConfigError(f"{name} must start with sqlite:// or mysql://, got {url!r}")


def parse_redis_url(name: str, url: str) -> str:
    """Accept only redis:// or rediss:// URLs with a host."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ConfigError(f"{name} must look like redis://host:6379/0, got {url!r}")
    try:
        _port = parsed.port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port in {url!r}") from None
    return url

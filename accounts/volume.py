"""Plumbing of the volume generator (`manage.py generate_volume`, issue 16): the plan, fast multi-row inserts and
the value formats they take. Each app's step (registered in `accounts.registry.volume_steps`) builds its rows with
numpy and writes them with `insert_rows`; nothing here knows a domain app.

Values go to the driver already in the database's text form (`YYYY-MM-DD HH:MM:SS` in UTC for datetimes, as Django
stores them with USE_TZ on SQLite and MariaDB; `YYYY-MM-DD` for dates; decimals as strings), so a row costs one
tuple and no per-value adaptation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
from django.db import connection, transaction


@dataclass
class VolumePlan:
    """Targets of one run (rows for the whole tenant) and what the steps share."""

    customers: int
    tickets: int
    communications: int
    health_rows: int
    months: int = 12
    seed: int = 16
    now: datetime | None = None  # aware; "now" of the data set (the latest timestamp a step writes)
    chunk: int = 2000  # customers per transaction
    log: object = None  # callable(str) for progress lines
    results: dict = field(default_factory=dict)

    def rng(self, key: str, salt: int = 0) -> np.random.Generator:
        """A reproducible random stream per step (and chunk): the same seed gives the same rows."""
        return np.random.default_rng([self.seed, sum(ord(c) * 31**i for i, c in enumerate(key)) % 2**31, salt])

    def say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


def defaults_for(model, columns: list[str]) -> tuple[list[str], tuple]:
    """The columns a raw INSERT must still fill (not in `columns`, not the pk) and their model defaults, in the
    database's form. A NOT NULL column without a default is a programming error."""
    extra_columns, values = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.column in columns:
            continue
        if f.has_default():
            value = f.get_db_prep_save(f.get_default(), connection)
        elif f.null:
            value = None
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            raise ValueError(f"{model.__name__}.{f.name}: give the timestamp")
        elif f.empty_strings_allowed and f.blank:
            value = ""
        else:
            raise ValueError(f"{model.__name__}.{f.name} needs a value")
        extra_columns.append(f.column)
        values.append(value)
    return extra_columns, tuple(values)


def insert_rows(model, columns: list[str], rows, *, batch: int = 5000) -> int:
    """Multi-row INSERT of `rows` (tuples in `columns` order) into the model's table, in the caller's transaction;
    the other columns take their model defaults. MySQLdb turns executemany into multi-row INSERT statements;
    SQLite runs one prepared statement per row."""
    extra_columns, extra = defaults_for(model, columns)
    if extra_columns:
        columns = list(columns) + extra_columns
        rows = [row + extra for row in rows]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            cursor.executemany(sql, part)
            written += len(part)
    return written


def chunked_write(plan: VolumePlan, key: str, ids: np.ndarray, todo: np.ndarray, write) -> int:
    """Call `write(chunk_ids, chunk_index)` for the customers in `ids` whose `todo` is true, `plan.chunk` customers at a
    time, each chunk in one transaction (a chunk is written whole or not at all, so an interrupted run resumes at
    the first missing chunk). Returns the rows written."""
    written = 0
    selected = ids[todo]
    started = time.monotonic()
    for number, start in enumerate(range(0, len(selected), plan.chunk)):
        part = selected[start : start + plan.chunk]
        with transaction.atomic():
            written += write(part, number)
        if number % 10 == 9:
            elapsed = time.monotonic() - started
            plan.say(f"  {key}: {start + len(part)}/{len(selected)} customers, {written} rows, {elapsed:.0f} s")
    return written


def dt_text(seconds: np.ndarray) -> list[str]:
    """Unix seconds (UTC) -> 'YYYY-MM-DD HH:MM:SS' strings."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return [s.replace("T", " ") for s in text.tolist()]


def date_text(days: np.ndarray) -> list[str]:
    """Days since 1970-01-01 -> 'YYYY-MM-DD' strings."""
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist()


def office_times(rng: np.random.Generator, start_s: np.ndarray, end_s: np.ndarray, utc_offset_s: int) -> np.ndarray:
    """Unix seconds between start and end (per row): 85 % on weekdays, mostly 8:00-20:00 local time."""
    n = len(start_s)
    span_days = np.maximum((end_s - start_s) // 86400, 1)
    local_day = (start_s + utc_offset_s) // 86400 + (rng.random(n) * span_days).astype(np.int64)
    weekday = (local_day + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    weekend = weekday >= 5
    move = weekend & (rng.random(n) < 0.56)  # keeps 15 % on weekends; the rest move to the Friday before
    local_day = np.where(move, local_day - (weekday - 4), local_day)
    seconds = np.clip(rng.normal(13.5, 3.0, n), 0, 23.99) * 3600
    t = local_day * 86400 + seconds.astype(np.int64) - utc_offset_s
    t = np.where(t > end_s, end_s - rng.integers(0, 6 * 3600, n), t)  # past the end (later today): earlier
    return np.minimum(np.maximum(t, start_s), end_s)


def epoch_seconds(value: datetime) -> int:
    return int(value.timestamp())


def epoch_days(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def multinomial_counts(rng: np.random.Generator, total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` rows over customers in proportion to `weights` (exactly `total`)."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    return rng.multinomial(total, weights / weights.sum()).astype(np.int64)


def spread_counts(total: int, n: int) -> np.ndarray:
    """`total` rows over `n` customers as evenly as possible (the first ones take the remainder)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    base, extra = divmod(total, n)
    counts = np.full(n, base, dtype=np.int64)
    counts[:extra] += 1
    return counts

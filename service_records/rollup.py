"""Rollups of service records: the tenant-wide figures read a few thousand counter rows, not every ticket.

One row of `ServiceDailyRollup` holds additive counters (tickets, open, judged / met targets, breaches, rating
counts and sums, minute sums) of the tickets opened on one local day (span "d") or in one month (span "m")
with one category and priority; a period reads the day rows of its partial first month and the month rows;
`ServiceMinutesHistogram` holds per day how many tickets took `bucket` minutes to respond / resolve (median
and p90 tenant-wide come from it: exact below 64 minutes, within ±2 % above; docs/decisions.md).

Maintenance is set-based and exact: every write path takes the old contribution of each changed ticket away
and adds the new one (`Delta`), then `apply` sends all increments of the batch in one upsert per table, in the
writer's transaction. `rebuild` recomputes everything from the tickets, month by month, and is idempotent
(the job `service_records.rebuild_rollups`). `stats_from_rows` computes the same figures from ticket rows
(one customer or contract, a CSM's own book); the rollup tests compare both.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.tenancy import current_tenant
from service_records.choices import CSAT_SATISFIED_MIN, DIMENSIONS, OPEN_STATUSES

# The ticket columns a contribution depends on (values_list order).
RAW_FIELDS = (
    "opened_at",
    "category",
    "priority",
    "status",
    "sla_first_response_minutes",
    "sla_resolution_minutes",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "response_breached",
    "resolution_breached",
    "breached",
    "satisfaction_overall",
    "satisfaction_response_speed",
    "satisfaction_professionalism",
    "satisfaction_resolution_quality",
    "response_minutes",
    "resolution_minutes",
)
COUNTERS = (
    "tickets",
    "open_tickets",
    "with_target",
    "response_judged",
    "response_met",
    "resolution_judged",
    "resolution_met",
    "breaches",
    "rated",
    "overall_1",
    "overall_2",
    "overall_3",
    "overall_4",
    "overall_5",
    "sum_overall",
    "sum_response_speed",
    "rated_response_speed",
    "sum_professionalism",
    "rated_professionalism",
    "sum_resolution_quality",
    "rated_resolution_quality",
    "response_count",
    "response_sum",
    "resolution_count",
    "resolution_sum",
)
N = len(COUNTERS)
AT = {name: index for index, name in enumerate(COUNTERS)}  # the position of each counter in a vector
METRICS = ("response", "resolution")

# --- Histogram buckets --------------------------------------------------------------------------------------------
EXACT_BELOW = 64
RATIO = 1.04


def bucket_of(minutes: int) -> int:
    """Minutes below 64 are their own bucket; above, buckets are 4 % wide (log scale)."""
    if minutes < EXACT_BELOW:
        return max(0, int(minutes))
    return EXACT_BELOW + int(math.log(minutes / EXACT_BELOW) / math.log(RATIO))


def bucket_value(bucket: int) -> float:
    """The value reported for a bucket: itself below 64, else the geometric middle of its range (±2 %)."""
    if bucket < EXACT_BELOW:
        return float(bucket)
    low = EXACT_BELOW * RATIO ** (bucket - EXACT_BELOW)
    return float(round(low * math.sqrt(RATIO)))


# --- One ticket's contribution ------------------------------------------------------------------------------------
def snapshot(record) -> tuple:
    """The RAW_FIELDS of a ticket instance (what its contribution depends on), taken before and after a change."""
    return tuple(getattr(record, name) for name in RAW_FIELDS)


def day_of(row: tuple) -> date:
    return timezone.localdate(row[0])


def counters(row: tuple) -> list[int]:
    """The counter vector (COUNTERS order) of one ticket row."""
    (_opened, _category, _priority, status, sla_response, sla_resolution, first_response_at, resolved_at, closed_at,
     response_breached, resolution_breached, breached, overall, speed, professionalism, quality,
     response_minutes, resolution_minutes) = row  # fmt: skip
    v = [0] * N
    v[0] = 1
    if status in OPEN_STATUSES:
        v[1] = 1
    if sla_response is not None or sla_resolution is not None:
        v[2] = 1
    resolved = resolved_at is not None or closed_at is not None
    responded = first_response_at is not None or resolved
    if sla_response is not None and (responded or response_breached):
        v[3] = 1
        v[4] = 0 if response_breached else 1
    if sla_resolution is not None and (resolved or resolution_breached):
        v[5] = 1
        v[6] = 0 if resolution_breached else 1
    if breached:
        v[7] = 1
    if overall is not None:
        v[8] = 1
        if 1 <= overall <= 5:
            v[8 + overall] = 1
        v[14] = overall
    if speed is not None:
        v[15], v[16] = speed, 1
    if professionalism is not None:
        v[17], v[18] = professionalism, 1
    if quality is not None:
        v[19], v[20] = quality, 1
    if response_minutes is not None:
        v[21], v[22] = 1, response_minutes
    if resolution_minutes is not None:
        v[23], v[24] = 1, resolution_minutes
    return v


class Delta:
    """Counter increments per (span, day, category, priority) and histogram increments per (span, day, metric,
    bucket); every ticket counts in its day row ("d") and in its month row ("m", day = the month's first)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, date, str, str], list[int]] = defaultdict(lambda: [0] * N)
        self.hist: dict[tuple[str, date, str, int], int] = defaultdict(int)

    def add(self, row: tuple, sign: int = 1) -> None:
        day = day_of(row)
        vector = counters(row)
        for span, first in (("d", day), ("m", day.replace(day=1))):
            target = self.rows[(span, first, row[1] or "", row[2])]
            for index, value in enumerate(vector):
                if value:
                    target[index] += sign * value
            for metric, minutes in (("response", row[16]), ("resolution", row[17])):
                if minutes is not None:
                    self.hist[(span, first, metric, bucket_of(minutes))] += sign

    def change(self, before: tuple | None, after: tuple | None) -> None:
        """A ticket changed from `before` (None: new) to `after` (None: gone)."""
        if before == after:
            return
        if before is not None:
            self.add(before, -1)
        if after is not None:
            self.add(after, 1)

    def __bool__(self) -> bool:
        return any(any(v) for v in self.rows.values()) or any(self.hist.values())


# --- Writing ------------------------------------------------------------------------------------------------------
def _increment_sql(table: str, keys: list[str], columns: list[str], rows: int) -> str:
    quote = connection.ops.quote_name
    names = ["tenant_id", *keys, *columns]
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    sql = f"INSERT INTO {quote(table)} ({', '.join(quote(n) for n in names)}) VALUES {', '.join([one] * rows)} "
    if connection.vendor == "mysql":
        return (
            sql
            + "ON DUPLICATE KEY UPDATE "
            + ", ".join(f"{quote(c)} = {quote(c)} + VALUES({quote(c)})" for c in columns)
        )
    target = ", ".join(quote(n) for n in ["tenant_id", *keys])
    sets = ", ".join(f"{quote(c)} = {quote(table)}.{quote(c)} + excluded.{quote(c)}" for c in columns)
    return sql + f"ON CONFLICT ({target}) DO UPDATE SET {sets}"


def _upsert_increments(table: str, keys: list[str], columns: list[str], rows: list[list[Any]]) -> None:
    """INSERT the rows; a row whose key exists adds its values to the stored ones (commutative, no read)."""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 400):
            chunk = rows[start : start + 400]
            cursor.execute(_increment_sql(table, keys, columns, len(chunk)), [v for row in chunk for v in row])


def lock() -> None:
    """Serialise rollup writes of the tenant with a rebuild (one locked row per tenant, taken last in a writer's
    transaction, first in a rebuild step: no lock cycle with the ticket rows)."""
    from service_records.models import ServiceRollupState

    def locked() -> bool:
        return bool(list(ServiceRollupState.objects.select_for_update().values_list("pk", flat=True)[:1]))

    if locked():
        return
    try:
        with transaction.atomic():
            ServiceRollupState.objects.create()
    except IntegrityError:  # another writer created it meanwhile
        pass
    locked()


def apply(delta: Delta) -> None:
    """Add the increments to the tenant's rollup (call inside the writing transaction, after the writes)."""
    from service_records.models import ServiceDailyRollup, ServiceMinutesHistogram

    if not delta:
        return
    tenant = current_tenant()
    day = connection.ops.adapt_datefield_value
    rows = [[tenant.pk, k[0], day(k[1]), k[2], k[3], *v] for k, v in sorted(delta.rows.items()) if any(v)]
    hist = [[tenant.pk, k[0], day(k[1]), k[2], k[3], n] for k, n in sorted(delta.hist.items()) if n]
    lock()
    if rows:
        keys = ["span", "day", "category", "priority"]
        _upsert_increments(ServiceDailyRollup._meta.db_table, keys, list(COUNTERS), rows)
    if hist:
        keys = ["span", "day", "metric", "bucket"]
        _upsert_increments(ServiceMinutesHistogram._meta.db_table, keys, ["count"], hist)
    # Keys a ticket left (its day, category or priority changed) are dropped once empty, as a rebuild leaves them.
    emptied = {k[1] for k, v in delta.rows.items() if v[0] < 0}
    if emptied:
        ServiceDailyRollup.objects.filter(day__in=emptied, tickets=0).delete()
    emptied = {k[1] for k, n in delta.hist.items() if n < 0}
    if emptied:
        ServiceMinutesHistogram.objects.filter(day__in=emptied, count=0).delete()


def _month_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day.replace(day=1), datetime.min.time()))


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def rebuild() -> dict[str, int]:
    """Recompute the active tenant's rollups from its tickets, one month per transaction. Idempotent: a rerun
    writes the same rows; months without tickets lose their rows."""
    from service_records.models import ServiceDailyRollup, ServiceMinutesHistogram, ServiceRecord, ServiceRollupState

    months = sorted(
        {m for m in ServiceRecord.objects.order_by().values_list("opened_month", flat=True).distinct() if m is not None}
    )
    counts = {"months": 0, "tickets": 0, "rows": 0}
    for month in months:
        start, end = month, _next_month(month)
        with transaction.atomic():
            lock()
            delta = Delta()
            for row in (
                ServiceRecord.objects.filter(opened_at__gte=_month_start(start), opened_at__lt=_month_start(end))
                .order_by()
                .values_list(*RAW_FIELDS)
                .iterator(chunk_size=5000)
            ):
                delta.add(row)
                counts["tickets"] += 1
            ServiceDailyRollup.objects.filter(day__gte=start, day__lt=end).delete()
            ServiceMinutesHistogram.objects.filter(day__gte=start, day__lt=end).delete()
            ServiceDailyRollup.objects.bulk_create(
                [
                    ServiceDailyRollup(
                        span=k[0], day=k[1], category=k[2], priority=k[3], **dict(zip(COUNTERS, v, strict=True))
                    )
                    for k, v in delta.rows.items()
                    if any(v)
                ],
                batch_size=1000,
            )
            ServiceMinutesHistogram.objects.bulk_create(
                [
                    ServiceMinutesHistogram(span=k[0], day=k[1], metric=k[2], bucket=k[3], count=n)
                    for k, n in delta.hist.items()
                    if n
                ],
                batch_size=2000,
            )
            counts["rows"] += len(delta.rows)
        counts["months"] += 1
    with transaction.atomic():
        lock()
        kept = set(months)
        stale = {
            d
            for d in ServiceDailyRollup.objects.values_list("day", flat=True).distinct()
            if d.replace(day=1) not in kept
        }
        stale |= {
            d
            for d in ServiceMinutesHistogram.objects.values_list("day", flat=True).distinct()
            if d.replace(day=1) not in kept
        }
        if stale:
            ServiceDailyRollup.objects.filter(day__in=stale).delete()
            ServiceMinutesHistogram.objects.filter(day__in=stale).delete()
        ServiceRollupState.objects.update(rebuilt_at=timezone.now())
    counts["stale_days"] = len(stale)
    return counts


# --- Reading ------------------------------------------------------------------------------------------------------
def _pct(part: int, whole: int) -> float | None:
    return None if not whole else round(100.0 * part / whole, 1)


def average(total: int, count: int) -> float | None:
    return None if not count else round(total / count, 2)


def exact_summary(values: list[int]) -> dict[str, float | None]:
    """Mean, median and p90 of exact minutes."""
    if not values:
        return {"mean": None, "median": None, "p90": None}
    values.sort()
    n = len(values)
    median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    return {"mean": round(sum(values) / n, 1), "median": float(median), "p90": float(values[_p90_index(n)])}


def _p90_index(n: int) -> int:
    return min(n - 1, max(0, int(round(0.9 * n + 0.5)) - 1))


def histogram_summary(hist: dict[int, int], total: int, count: int) -> dict[str, float | None]:
    """The same figures from bucket counts: the mean is exact (sum / count), median and p90 are bucket values."""
    n = sum(hist.values())
    if n <= 0 or count <= 0:
        return {"mean": None, "median": None, "p90": None}
    ordered = sorted((b, c) for b, c in hist.items() if c > 0)

    def at(k: int) -> float:
        seen = 0
        for bucket, c in ordered:
            seen += c
            if k < seen:
                return bucket_value(bucket)
        return bucket_value(ordered[-1][0])

    median = at(n // 2) if n % 2 else (at(n // 2 - 1) + at(n // 2)) / 2
    return {"mean": round(total / count, 1), "median": float(median), "p90": float(at(_p90_index(n)))}


def figures(
    groups: dict[tuple[str, str], list[int]], response: dict, resolution: dict, nps: dict[str, Any]
) -> dict[str, Any]:
    """The figures of PRD 2.1.3 from counter vectors per (category, priority)."""
    total = [0] * N
    by_category: dict[str, list[int]] = defaultdict(lambda: [0] * N)
    by_priority: dict[str, list[int]] = defaultdict(lambda: [0] * N)
    for (category, priority), vector in groups.items():
        for target in (total, by_category[category], by_priority[priority]):
            for index, value in enumerate(vector):
                target[index] += value
    satisfied = sum(total[AT[f"overall_{score}"]] for score in range(CSAT_SATISFIED_MIN, 6))
    satisfaction = {"overall": average(total[AT["sum_overall"]], total[AT["rated"]])}
    for name in DIMENSIONS[1:]:
        satisfaction[name] = average(total[AT[f"sum_{name}"]], total[AT[f"rated_{name}"]])
    categories = sorted(((c, v) for c, v in by_category.items() if v[0] > 0), key=lambda cv: (-cv[1][0], cv[0]))
    return {
        "tickets": total[0],
        "open": total[1],
        "first_response_compliance": _pct(total[4], total[3]),
        "resolution_compliance": _pct(total[6], total[5]),
        "breaches": total[7],
        "response_minutes": response,
        "resolution_minutes": resolution,
        "by_category": [
            {
                "category": c,
                "tickets": v[0],
                "breaches": v[7],
                "satisfaction": average(v[AT["sum_overall"]], v[AT["rated"]]),
            }
            for c, v in categories[:20]
        ],
        "by_priority": [
            {
                "priority": p,
                "tickets": v[0],
                "breaches": v[7],
                "first_response_compliance": _pct(v[4], v[3]),
                "resolution_compliance": _pct(v[6], v[5]),
            }
            for p, v in sorted(by_priority.items())
            if v[0] > 0
        ],
        "satisfaction": {**{name: satisfaction[name] for name in DIMENSIONS}, "responses": total[AT["rated"]]},
        "csat": _pct(satisfied, total[AT["rated"]]),
        "nps": nps["nps"],
        "nps_answers": nps["answers"],
        "distribution": [total[AT[f"overall_{score}"]] for score in range(1, 6)],
    }


def stats_from_rows(rows: Iterable[tuple], nps: dict[str, Any]) -> dict[str, Any]:
    """The figures of a set of ticket rows (values_list(*RAW_FIELDS)), percentiles exact."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * N)
    response, resolution = [], []
    for row in rows:
        vector = groups[(row[1] or "", row[2])]
        for index, value in enumerate(counters(row)):
            if value:
                vector[index] += value
        if row[16] is not None:
            response.append(row[16])
        if row[17] is not None:
            resolution.append(row[17])
    return figures(groups, exact_summary(response), exact_summary(resolution), nps)


def _period_rows(model, since: date):
    """The rows of a model covering tickets opened on or after `since`: the day rows of since's month from
    `since` on (none when it is a month's first day), then the month rows."""
    from django.db.models import Q

    boundary = since if since.day == 1 else _next_month(since)
    return model.objects.filter(Q(span="d", day__gte=since, day__lt=boundary) | Q(span="m", day__gte=boundary))


def stats_from_rollup(since: date, nps: dict[str, Any], minus: Delta | None = None) -> dict[str, Any]:
    """The tenant's figures for tickets opened on or after `since` from the rollups (two grouped queries over
    at most a month of day rows plus the month rows); `minus` takes contributions away (deleted customers)."""
    from service_records.models import ServiceDailyRollup, ServiceMinutesHistogram

    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * N)
    for row in (
        _period_rows(ServiceDailyRollup, since)
        .order_by()
        .values("category", "priority")
        .annotate(**{f"s_{name}": Sum(name) for name in COUNTERS})
    ):
        groups[(row["category"], row["priority"])] = [int(row[f"s_{name}"] or 0) for name in COUNTERS]
    hist: dict[str, dict[int, int]] = {metric: defaultdict(int) for metric in METRICS}
    for metric, bucket, count in (
        _period_rows(ServiceMinutesHistogram, since)
        .order_by()
        .values("metric", "bucket")
        .annotate(n=Sum("count"))
        .values_list("metric", "bucket", "n")
    ):
        if metric in hist:
            hist[metric][bucket] += int(count or 0)
    if minus is not None:
        for (span, day, category, priority), vector in minus.rows.items():
            if span == "d" and day >= since:
                target = groups[(category, priority)]
                for index, value in enumerate(vector):
                    target[index] -= value
        for (span, day, metric, bucket), count in minus.hist.items():
            if span == "d" and day >= since:
                hist[metric][bucket] -= count
    total = [0] * N
    for vector in groups.values():
        for index, value in enumerate(vector):
            total[index] += value
    response = histogram_summary(hist["response"], total[AT["response_sum"]], total[AT["response_count"]])
    resolution = histogram_summary(hist["resolution"], total[AT["resolution_sum"]], total[AT["resolution_count"]])
    return figures(groups, response, resolution, nps)


def monthly_from_rollup(first: date, last: date, minus: Delta | None = None) -> dict[date, list[int]]:
    """Counter vectors per month (first day) for the months first..last (one grouped query over month rows)."""
    from service_records.models import ServiceDailyRollup

    months: dict[date, list[int]] = defaultdict(lambda: [0] * N)
    for row in (
        ServiceDailyRollup.objects.filter(span="m", day__gte=first, day__lt=_next_month(last))
        .order_by()
        .values("day")
        .annotate(**{f"s_{name}": Sum(name) for name in COUNTERS})
    ):
        target = months[row["day"].replace(day=1)]
        for index, name in enumerate(COUNTERS):
            target[index] += int(row[f"s_{name}"] or 0)
    if minus is not None:
        for (span, day, _category, _priority), vector in minus.rows.items():
            if span == "d" and first <= day < _next_month(last):
                target = months[day.replace(day=1)]
                for index, value in enumerate(vector):
                    target[index] -= value
    return months

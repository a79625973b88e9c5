"""Measurements at the PRD volume (issue 16): table sizes, monthly distribution of health history and
communications, the queries that read them (EXPLAIN + timings), a retention purge DELETE (rolled back) against
DROP PARTITION on a partitioned copy of one month, and server time of a CSM's per-customer reads.

    manage.py generate_volume --tenant "Volume Co" ...        # first (docs/performance.md)
    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_volume REDIS_URL=redis://127.0.0.1:6379/3 \\
        flock /work/wt/bench.lock .venv/bin/python bench/volume_bench.py --tenant "Volume Co" [--samples 200]

MariaDB only (information_schema, EXPLAIN FORMAT, partitions). Prints everything with the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
os.environ.setdefault("API_RATE_USER", "1000000/min")
os.environ.setdefault("API_RATE_IP", "1000000/min")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

settings.ALLOWED_HOSTS = ["*"]
settings.DEBUG = False

from accounts.models import Tenant, User  # noqa: E402
from accounts.tenancy import tenant_scope  # noqa: E402
from crm_project.testing import api_client_for  # noqa: E402
from customers.choices import CustomerStatus  # noqa: E402
from customers.models import Customer  # noqa: E402

TABLES = [
    "customers",
    "customer_contacts",
    "customer_contracts",
    "customer_service_records",
    "customer_communications",
    "customer_health_scores",
    "customer_service_daily_rollup",
]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pct(values: list[float]) -> str:
    values = sorted(values)
    n = len(values)
    return (
        f"n {n}  p50 {values[n // 2]:.1f} ms  p95 {values[min(n - 1, int(n * 0.95))]:.1f} ms  max {values[-1]:.1f} ms"
    )


def q(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def timed(sql: str, params=()) -> tuple[float, list]:
    start = time.perf_counter()
    rows = q(sql, params)
    return (time.perf_counter() - start) * 1000, rows


def explain(sql: str, params=()) -> None:
    for row in q("EXPLAIN " + sql, params):
        print("    EXPLAIN", row)


def sizes() -> None:
    print(f"\n## Table sizes (load {load()})")
    q("ANALYZE TABLE " + ", ".join(f"`{t}`" for t in TABLES))
    print("| table | rows (exact) | data MB | index MB | bytes/row (data+index) |")
    print("|---|---:|---:|---:|---:|")
    for table in TABLES:
        found = q(
            "SELECT data_length, index_length FROM information_schema.tables WHERE table_schema = DATABASE() "
            "AND table_name = %s",
            [table],
        )
        if not found:
            continue
        data, index = found[0]
        rows = q(f"SELECT COUNT(*) FROM `{table}`")[0][0]
        per = (data + index) / rows if rows else 0
        print(f"| {table} | {rows:,} | {data / 2**20:,.0f} | {index / 2**20:,.0f} | {per:,.0f} |")


def months(tenant_id: int) -> None:
    print(f"\n## Rows per month (load {load()})")
    for table, column in (("customer_health_scores", "score_date"), ("customer_communications", "communication_date")):
        ms, rows = timed(
            f"SELECT DATE_FORMAT({column}, '%%Y-%%m') m, COUNT(*) FROM `{table}` WHERE tenant_id = %s "
            "GROUP BY m ORDER BY m",
            [tenant_id],
        )
        print(f"{table} ({ms:.0f} ms): " + ", ".join(f"{m} {n:,}" for m, n in rows))


def queries(tenant_id: int, customers: list[int], today, samples: int) -> None:
    print(f"\n## Queries (load {load()})")
    year_ago = today - timedelta(days=365)
    trend = (
        "SELECT score_date, overall_score, risk_level FROM customer_health_scores "
        "WHERE tenant_id = %s AND customer_id = %s AND score_date >= %s ORDER BY score_date"
    )
    explain(trend, [tenant_id, customers[0], year_ago])
    times = [timed(trend, [tenant_id, c, year_ago])[0] for c in customers[:samples]]
    print("  health trend, one customer, 12 months (distinct customers):", pct(times))
    comms = (
        "SELECT id, communication_date, communication_type, subject, sentiment FROM customer_communications "
        "WHERE customer_id = %s AND deleted_at IS NULL ORDER BY communication_date DESC LIMIT 20"
    )
    explain(comms, [customers[0]])
    times = [timed(comms, [c])[0] for c in customers[:samples]]
    print("  communications of one customer, newest 20:", pct(times))
    comms_year = (
        "SELECT sentiment, COUNT(*) FROM customer_communications WHERE tenant_id = %s AND customer_id = %s "
        "AND deleted_at IS NULL AND communication_date >= %s GROUP BY sentiment"
    )
    times = [timed(comms_year, [tenant_id, c, year_ago])[0] for c in customers[:samples]]
    print("  communications of one customer, 12-month sentiment counts:", pct(times))

    month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # the last full month
    month_end = today.replace(day=1)
    health_month = (
        "SELECT risk_level, COUNT(*), AVG(overall_score) FROM customer_health_scores "
        "WHERE tenant_id = %s AND score_date >= %s AND score_date < %s GROUP BY risk_level"
    )
    explain(health_month, [tenant_id, month_start, month_end])
    times = [timed(health_month, [tenant_id, month_start, month_end])[0] for _ in range(3)]
    print(f"  health, tenant-wide aggregate of {month_start:%Y-%m} (3 runs):", pct(times))
    comms_month = (
        "SELECT sentiment, COUNT(*) FROM customer_communications WHERE tenant_id = %s "
        "AND communication_date >= %s AND communication_date < %s AND deleted_at IS NULL GROUP BY sentiment"
    )
    explain(comms_month, [tenant_id, month_start, month_end])
    times = [timed(comms_month, [tenant_id, month_start, month_end])[0] for _ in range(3)]
    print(f"  communications, tenant-wide sentiment of {month_start:%Y-%m} (3 runs):", pct(times))


def full_month(table: str, column: str, tenant_id: int):
    """The oldest month holding at least half as many rows as the fullest one (a representative month to purge)."""
    rows = q(
        f"SELECT DATE_FORMAT({column}, '%%Y-%%m-01') m, COUNT(*) FROM `{table}` WHERE tenant_id = %s GROUP BY m "
        "ORDER BY m",
        [tenant_id],
    )
    most = max(n for _m, n in rows)
    month = next(date.fromisoformat(m) for m, n in rows if n >= most / 2)
    return month, (month + timedelta(days=32)).replace(day=1)


def purge(tenant_id: int) -> None:
    print(f"\n## Retention purge of one month: DELETE (rolled back) vs DROP PARTITION (load {load()})")
    for table, column in (("customer_health_scores", "score_date"), ("customer_communications", "communication_date")):
        start, end = full_month(table, column, tenant_id)
        where = f"WHERE tenant_id = %s AND {column} >= %s AND {column} < %s"
        rows = q(f"SELECT COUNT(*) FROM `{table}` {where}", [tenant_id, start, end])[0][0]
        began = time.perf_counter()
        try:
            with transaction.atomic():
                deleted = connection.cursor().execute(f"DELETE FROM `{table}` {where}", [tenant_id, start, end])
                spent = time.perf_counter() - began
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        total = time.perf_counter() - began
        print(
            f"  {table}: DELETE of {start:%Y-%m} ({rows:,} rows, {deleted} deleted) {spent:.1f} s, "
            f"with the rollback {total:.1f} s"
        )

    # What the retention job does today: the ORM delete of the expired communications (it cascades to analyses and
    # follow-ups, so Django collects the ids first), rolled back.
    from communications.models import Communication

    start, end = full_month("customer_communications", "communication_date", tenant_id)
    began = time.perf_counter()
    try:
        with transaction.atomic(), tenant_scope(Tenant.objects.get(pk=tenant_id)):
            since, until = (timezone.make_aware(datetime(d.year, d.month, 1)) for d in (start, end))
            purged = Communication.objects.filter(communication_date__gte=since, communication_date__lt=until).delete()
            spent = time.perf_counter() - began
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    print(f"  communications of {start:%Y-%m}: ORM delete (the retention job's way) {purged}: {spent:.1f} s")

    # A partitioned copy of the health table (monthly RANGE partitions), loaded with the same oldest month.
    q("DROP TABLE IF EXISTS vol_part_health")
    q("CREATE TABLE vol_part_health LIKE customer_health_scores")
    q("ALTER TABLE vol_part_health MODIFY id BIGINT NOT NULL, DROP PRIMARY KEY, ADD PRIMARY KEY (id, score_date)")
    start, _end = full_month("customer_health_scores", "score_date", tenant_id)
    bounds = [start]
    for _ in range(5):
        bounds.append((bounds[-1] + timedelta(days=32)).replace(day=1))
    parts = ", ".join(
        f"PARTITION p{b:%Y%m} VALUES LESS THAN (TO_DAYS('{nxt}'))" for b, nxt in zip(bounds, bounds[1:], strict=False)
    )
    maxvalue = "PARTITION pmax VALUES LESS THAN MAXVALUE"
    q(f"ALTER TABLE vol_part_health PARTITION BY RANGE (TO_DAYS(score_date)) ({parts}, {maxvalue})")
    began = time.perf_counter()
    q(
        "INSERT INTO vol_part_health SELECT * FROM customer_health_scores WHERE tenant_id = %s AND score_date >= %s "
        "AND score_date < %s",
        [tenant_id, bounds[0], bounds[1]],
    )
    copy = time.perf_counter() - began
    rows = q("SELECT COUNT(*) FROM vol_part_health")[0][0]
    began = time.perf_counter()
    q(f"ALTER TABLE vol_part_health DROP PARTITION p{start:%Y%m}")
    dropped = (time.perf_counter() - began) * 1000
    left = q("SELECT COUNT(*) FROM vol_part_health")[0][0]
    print(
        f"  vol_part_health (partitioned copy, {rows:,} rows of {start:%Y-%m} copied in {copy:.1f} s): "
        f"DROP PARTITION {dropped:.0f} ms, rows left {left}"
    )
    q("DROP TABLE vol_part_health")


def api(tenant: Tenant, customers: list[int], samples: int) -> None:
    print(f"\n## Per-customer reads of a CSM, server time in-process, distinct customers (load {load()})")
    admin = User.objects.filter(tenant=tenant, is_active=True).order_by("pk").first()
    client = api_client_for(admin)
    urls = {
        "customer detail": "/api/v1/customers/{}",
        "health trend 12m": "/api/v1/customers/{}/health-score/trend?period=12m",
        "communications list": "/api/v1/customers/{}/communications?page=1&size=20",
        "service records list": "/api/v1/customers/{}/service-records?page=1&size=20",
    }
    for cid in customers[:3]:  # warm-up (imports, connections)
        for url in urls.values():
            client.get(url.format(cid))
    for label, url in urls.items():
        times = []
        for cid in customers[3 : 3 + samples]:
            began = time.perf_counter()
            response = client.get(url.format(cid))
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
        print(f"  {label}: {pct(times)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenant", default="Volume Co")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--skip", default="", help="comma list of sizes,months,queries,purge,api")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    assert connection.vendor == "mysql", "MariaDB only"
    tenant = Tenant.objects.get(name=args.tenant)
    today = timezone.localdate()
    with tenant_scope(tenant):
        ids = list(Customer.objects.alive().filter(status=CustomerStatus.FORMAL).values_list("pk", flat=True))
    random.Random(16).shuffle(ids)
    print(f"# Volume measurements, tenant {tenant.name} (id {tenant.pk}), {len(ids):,} formal customers, load {load()}")
    if "sizes" not in skip:
        sizes()
    if "months" not in skip:
        months(tenant.pk)
    if "queries" not in skip:
        queries(tenant.pk, ids, today, args.samples)
    if "purge" not in skip:
        purge(tenant.pk)
    if "api" not in skip:
        api(tenant, ids, args.samples)
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()

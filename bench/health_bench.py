"""Benchmark of the nightly health scoring (figures for docs/performance.md).

    .venv/bin/python bench/health_bench.py --customers 10000     # SQLite (data/bench_health.sqlite3)
    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_health_bench .venv/bin/python bench/health_bench.py

1. migrate; tenant "Health Bench" gets --customers customers (bulk), each with a signed yearly contract,
   4 quarterly invoices (some late), --tickets tickets (60 % rated) and --events usage events over the last
   90 days, all bulk-inserted. A tenant that already has the volume is reused.
2. one customer: `services.customer_score_calculate` (what the calculate API does), 20 runs: mean / p95.
3. the nightly run for the whole tenant (`health.tasks.score_customers`: id-range chunks of --chunk customers,
   run one after another in this process as a single Celery worker would), wall time, CPU time of the process
   and peak memory (ru_maxrss of the process; --tracemalloc adds a pass with the Python allocation peak, which is
   not timed fairly: tracemalloc slows Python 2-4x), then a rerun (replaces the rows). --fresh deletes today's
   rows first so the first pass is a first run of the day.
   --workers N (MariaDB only: SQLite allows one writer) scores the chunks in N processes at once, the way N
   Celery workers take the chord's chunk tasks.
   --without-receivers disconnects the receivers of `health_score_changed` (success_tasks' playbook rules,
   evaluated per customer) to show the scoring's own cost.

Every timing is printed with the wall time and the CPU time of the process: on the shared machine the wall time
mostly measures the other engineers' load (print `uptime` next to the figures).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'data' / 'bench_health.sqlite3'}")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Tenant, User  # noqa: E402
from accounts.services import tenant_create  # noqa: E402
from accounts.tenancy import tenant_scope  # noqa: E402
from contracts.models import Contract, Invoice  # noqa: E402
from customers.models import Customer  # noqa: E402
from health import services, tasks  # noqa: E402
from health.models import CustomerHealthScore, UsageEvent  # noqa: E402
from service_records.models import ServiceRecord  # noqa: E402

BATCH = 2000


def generate(tenant, n: int, tickets: int, events: int, rng: random.Random) -> None:
    today = timezone.localdate()
    now = timezone.now()
    author = User.objects.filter(tenant=tenant).first()
    have = Customer.objects.count()
    for start in range(have, n, BATCH):
        size = min(BATCH, n - start)
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [
                    Customer(
                        customer_code=f"CB{start + i:08d}",
                        customer_name=f"Bench customer {start + i}",
                        normalized_name=f"bench customer {start + i}",
                        name_key=f"bench customer {start + i}",
                        status=2,
                    )
                    for i in range(size)
                ]
            )
            if customers[0].pk is None:
                customers = list(Customer.objects.filter(customer_code__gte=f"CB{start:08d}").order_by("pk")[:size])
            contracts = Contract.objects.bulk_create(
                [
                    Contract(
                        customer=c,
                        contract_code=f"CTB{c.pk:09d}",
                        contract_name="Bench",
                        contract_amount=Decimal(rng.randint(5, 60) * 10000),
                        start_date=today - timedelta(days=rng.randint(30, 330)),
                        end_date=today + timedelta(days=rng.randint(30, 330)),
                        status=2,
                        created_by=author,
                    )
                    for c in customers
                ]
            )
            if contracts[0].pk is None:
                contracts = list(Contract.objects.filter(customer__in=customers).order_by("pk"))
            Invoice.objects.bulk_create(
                [
                    Invoice(
                        contract=k,
                        invoice_number=f"IB{k.pk}-{q}",
                        amount=k.contract_amount / 4,
                        issue_date=today - timedelta(days=30 + 91 * q),
                        due_date=today - timedelta(days=91 * q),
                        paid_date=today - timedelta(days=91 * q - rng.choice([-3, 0, 0, 10])),
                        status="paid",
                    )
                    for k in contracts
                    for q in range(4)
                ]
            )
            ServiceRecord.objects.bulk_create(
                [
                    ServiceRecord(
                        customer=c,
                        source_system="bench",
                        external_id=f"B{c.pk}-{t}",
                        title="Bench ticket",
                        priority="P3",
                        status="closed",
                        opened_at=now - timedelta(days=rng.randint(1, 170)),
                        satisfaction_overall=rng.randint(2, 5) if rng.random() < 0.6 else None,
                        rated_at=now - timedelta(days=rng.randint(1, 170)),
                    )
                    for c in customers
                    for t in range(tickets)
                ]
            )
            UsageEvent.objects.bulk_create(
                [
                    UsageEvent(
                        customer=c,
                        event_id=f"B{c.pk}-{e}",
                        user_identifier=f"u{e % 5}",
                        event_type="login" if e % 2 else "feature_use",
                        feature_name=f"f{e % 7}",
                        occurred_at=now - timedelta(days=rng.randint(0, 89)),
                    )
                    for c in customers
                    for e in range(events)
                ]
            )
        print(f"  generated {start + size} customers", flush=True)


def _chunk_worker(job):
    """One worker process: score one id range (a chord chunk task's work) with its own DB connection."""
    tenant_id, day, lo, hi = job
    from django.db import connections

    connections.close_all()
    return tasks.score_customers_chunk(tenant_id, day, lo, hi)


def _parallel(tenant_id: int, workers: int, chunk: int) -> dict:
    import multiprocessing

    day = timezone.localdate().isoformat()
    ranges = services.score_ranges(chunk=chunk)
    from django.db import connections

    connections.close_all()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(_chunk_worker, [(tenant_id, day, lo, hi) for lo, hi in ranges], chunksize=1)
    counts = tasks._sum(results)
    counts["ltv_updated"] = services.ltv_refresh()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--tickets", type=int, default=4)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--without-receivers", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="delete today's rows first (a first run of the day)")
    parser.add_argument("--tracemalloc", action="store_true", help="a third pass measuring the Python peak")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(name="Health Bench").first() or tenant_create(
        name="Health Bench", admin_username="hbadmin", admin_password="bench-Passw0rd!"
    )
    rng = random.Random(11)
    with tenant_scope(tenant):
        started = time.perf_counter()
        generate(tenant, args.customers, args.tickets, args.events, rng)
        print(f"data ready: {Customer.objects.count()} customers ({time.perf_counter() - started:.1f} s)")
        actor = User.objects.filter(tenant=tenant).first()
        customer = Customer.objects.order_by("pk").first()
        timings, cpu = [], []
        for _i in range(20):
            t, c = time.perf_counter(), time.process_time()
            services.customer_score_calculate(actor=actor, customer=customer)
            timings.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        timings.sort()
        print(
            f"one customer (calculate): mean {statistics.fmean(timings) * 1000:.1f} ms, "
            f"p95 {timings[int(len(timings) * 0.95) - 1] * 1000:.1f} ms, median {statistics.median(timings) * 1000:.1f}"
            f" ms; CPU mean {statistics.fmean(cpu) * 1000:.1f} ms"
        )
        if args.without_receivers:
            from health.signals import health_score_changed

            health_score_changed.receivers = []
            health_score_changed.sender_receivers_cache.clear()
        if args.fresh:  # the first run of a day: no row for today yet, every customer's score changes
            CustomerHealthScore.objects.filter(score_date=timezone.localdate()).delete()
            Customer.objects.update(health_score=0)
        passes = ["nightly run", "rerun (replaces the day's rows)"]
        if args.tracemalloc:
            passes.append("rerun with tracemalloc (Python peak; tracemalloc slows Python 2-4x)")
        for label in passes:
            if "tracemalloc" in label:
                tracemalloc.start()
            t, c = time.perf_counter(), time.process_time()
            if args.workers > 1:
                counts = _parallel(tenant.pk, args.workers, args.chunk)
            else:  # one worker: the chunks one after another in this process (no chord to queue)
                tasks._chord_available = lambda: False
                counts = tasks.score_customers(tenant.pk, timezone.localdate().isoformat(), chunk=args.chunk)
            elapsed, used = time.perf_counter() - t, time.process_time() - c
            peak = 0
            if tracemalloc.is_tracing():
                _current, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rss_workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            traced = f"{peak / 2**20:.0f} MiB" if peak else "not traced"
            print(
                f"{label}: {counts['scored']} customers in {elapsed:.1f} s wall, {used:.1f} s CPU of this process "
                f"({counts['scored'] / elapsed:.0f}/s); Python peak {traced}; "
                f"process max RSS {rss:.0f} MiB (worker processes {rss_workers:.0f} MiB); workers {args.workers}; "
                f"chunks {counts.get('chunks')}",
                flush=True,
            )
        print(f"rows for today: {CustomerHealthScore.objects.filter(score_date=timezone.localdate()).count()}")


if __name__ == "__main__":
    main()

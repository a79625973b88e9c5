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
   --without-receivers disconnects the receivers of the health signals (success_tasks' playbook rules, webhooks)
   to show the scoring's own cost.
   --celery N starts N real Celery workers (`celery -A crm_project worker -c 1` each, Redis broker and results on
   REDIS_URL), queues `health.tasks.score_customers` for the bench tenant the way beat does (the task splits the
   tenant into chunk tasks, a chord whose callback closes the run record), waits for that JobRun to finish and
   reports the wall time from the run record, the CPU time of the workers (their process trees) and of the MariaDB
   server (`mysqld`/`mariadbd`, from /proc) during the run, and the workers' peak RSS; the workers are stopped at the
   end. The workers run with every receiver connected (the real configuration).

Every timing is printed with the wall time and the CPU time of the process: on the shared machine the wall time
mostly measures the other engineers' load (print `uptime` next to the figures).
"""

from __future__ import annotations

import argparse
import contextlib
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


def _proc_cpu(pid: int) -> float:
    """utime + stime (s) of one process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _mysqld_pids() -> list[int]:
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in {"mysqld", "mariadbd"}:
                pids.append(int(comm.parent.name))
        except OSError:
            pass
    return pids


def _celery_run(tenant, workers: int, chunk: int) -> None:
    """N real workers take the chord's chunk tasks; wall time from the run record."""
    import subprocess

    from accounts.models import JobRun
    from accounts.tenancy import unscoped
    from crm_project.celery import app

    if not os.environ.get("REDIS_URL"):
        raise SystemExit("--celery needs REDIS_URL (the broker and the chord's result backend)")
    app.control.purge()
    procs = [
        subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "crm_project",
                "worker",
                "-c",
                "1",
                "-l",
                "warning",
                "-n",
                f"healthbench{i}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
        )  # fmt: skip
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(app.control.ping(timeout=1.0) or []) < workers:
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not answer within 120 s")
        worker_trees = {p.pid: _tree(p.pid) for p in procs}
        mysqld = _mysqld_pids()
        cpu_workers = sum(_proc_cpu(pid) for pids in worker_trees.values() for pid in pids)
        cpu_db = sum(_proc_cpu(pid) for pid in mysqld)
        load_before = os.getloadavg()
        t = time.perf_counter()
        queued_at = timezone.now()
        result = tasks.score_customers.delay(tenant.pk, timezone.localdate().isoformat(), chunk)
        answer = result.get(timeout=600)
        run_id = answer.get("run")
        while True:
            with unscoped("the bench reads its own run record"):
                run = JobRun.objects.get(pk=run_id) if run_id else JobRun.objects.filter(
                    job_name="score_customers", tenant=tenant, started_at__gte=queued_at
                ).order_by("-pk").first()  # fmt: skip
            if run is not None and run.status != JobRun.Status.RUNNING:
                break
            if time.perf_counter() - t > 900:
                raise SystemExit("the run did not finish within 15 minutes")
            time.sleep(0.2)
        waited = time.perf_counter() - t
        worker_trees = {p.pid: _tree(p.pid) for p in procs}
        cpu_workers = sum(_proc_cpu(pid) for pids in worker_trees.values() for pid in pids) - cpu_workers
        cpu_db = sum(_proc_cpu(pid) for pid in mysqld) - cpu_db
        hwm = max(_hwm_mib(pid) for pids in worker_trees.values() for pid in pids)
        recorded = (run.finished_at - run.started_at).total_seconds() if run.finished_at else float("nan")
        print(
            f"celery, {workers} worker(s) (-c 1 each): run record {run.pk} {run.status}, "
            f"{(run.counts or {}).get('scored')} customers, {(run.counts or {}).get('chunks')} chunks; "
            f"run record wall {recorded:.1f} s (queued to finished {waited:.1f} s); CPU of the workers "
            f"{cpu_workers:.1f} s, of MariaDB {cpu_db:.1f} s; workers' peak RSS {hwm:.0f} MiB; "
            f"load before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        if run.error:
            print(f"  error: {run.error}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--tickets", type=int, default=4)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--celery", type=int, default=0, help="N real Celery workers take the chunk tasks")
    parser.add_argument("--skip-one", action="store_true", help="skip the single-customer timing")
    parser.add_argument("--no-rerun", action="store_true", help="only the first pass")
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
        for _i in range(0 if args.skip_one else 20):
            t, c = time.perf_counter(), time.process_time()
            services.customer_score_calculate(actor=actor, customer=customer)
            timings.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        timings.sort()
        if timings:
            print(
                f"one customer (calculate): mean {statistics.fmean(timings) * 1000:.1f} ms, "
                f"p95 {timings[int(len(timings) * 0.95) - 1] * 1000:.1f} ms, "
                f"median {statistics.median(timings) * 1000:.1f} ms; CPU mean {statistics.fmean(cpu) * 1000:.1f} ms"
            )
        if args.without_receivers:
            from health.signals import health_alert, health_score_changed, health_scores_changed

            for signal in (health_score_changed, health_alert, health_scores_changed):
                signal.receivers = []
                signal.sender_receivers_cache.clear()
        if args.fresh:  # the first run of a day: no row for today yet, every customer's score changes
            CustomerHealthScore.objects.filter(score_date=timezone.localdate()).delete()
            Customer.objects.update(health_score=0)
        if args.celery:
            _celery_run(tenant, args.celery, args.chunk)
            print(f"rows for today: {CustomerHealthScore.objects.filter(score_date=timezone.localdate()).count()}")
            return
        passes = ["nightly run"] if args.no_rerun else ["nightly run", "rerun (replaces the day's rows)"]
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

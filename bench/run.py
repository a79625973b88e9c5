"""Benchmark: demo data load, a 10,000-row import, and API throughput / latency under gunicorn.

    make bench                                                     # SQLite (data/bench.sqlite3)
    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_bench make bench  # MariaDB / MySQL (database created if missing)

Steps (each prints its figures; all of them are appended to bench/results.md):
1. migrate, then make sure the tenant "Bench Tenant" has --customers customers (100,000): the missing ones are
   generated with `generate_demo` and timed. A tenant that already has enough is reused (no timing then).
2. a --import-rows (10,000) row CSV goes through customers.importing (parse, validate, commit) and is timed; the
   commit runs in a transaction that is rolled back afterwards, so repeated runs leave the data unchanged.
3. gunicorn (2 sync workers, DEBUG=false, throttling lifted) on a free loopback port; a JWT for the bench admin
   from POST /api/v1/auth/token; then --duration seconds per endpoint at --concurrency (32) connections with wrk
   when installed (`apt-get install wrk`), else a Python load generator (threads + http.client keep-alive):
   /healthz, the same list page repeated, a stream of distinct list pages (3 statuses × --pages pages × both sort
   directions, walked by bench/stream.lua, every path once, started with the tenant's list cache invalidated;
   needs wrk), and one customer's detail. Only 127.0.0.1 is ever contacted; gunicorn is stopped at the end.
4. the in-process server times (page 700 of a filter, detail, staff list page) are bench/cold_list.py's.

Without DATABASE_URL the bench uses its own SQLite file (data/bench.sqlite3), never the development database.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BENCH_TENANT = "Bench Tenant"
BENCH_ADMIN = "bench-admin"
BENCH_PASSWORD = "Bench-Pass-2025!"
DEMO_SEED = 20250815
HOST = "127.0.0.1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="customers in the bench tenant")
    parser.add_argument("--import-rows", type=int, default=10_000, help="rows of the timed import")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per endpoint (max 60)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections (max 64)")
    parser.add_argument(
        "--stream-duration",
        type=float,
        default=7.0,
        help="seconds of the distinct-pages stream (short enough that it does not come back to a page it asked)",
    )
    parser.add_argument("--pages", type=int, default=700, help="pages per status in the distinct-pages stream")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync", help="gunicorn worker class")
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--only", help="comma-separated endpoint numbers to load (1 healthz, 2 list repeated, "
                        "3 list distinct, 4 detail); default all")  # fmt: skip
    parser.add_argument("--load-tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--skip-http", action="store_true", help="only the data load and the import")
    parser.add_argument("--results", default=str(ROOT / "bench" / "results.md"), help="file the figures go to")
    args = parser.parse_args()
    args.duration = min(max(args.duration, 1.0), 60.0)
    args.concurrency = min(max(args.concurrency, 1), 64)
    return args


# --- Setup -----------------------------------------------------------------------------------------------------------
def configure_environment() -> str:
    """Point Django at the bench database; returns its kind for the report."""
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'data' / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    url = urlparse(os.environ["DATABASE_URL"])
    if url.scheme in ("mysql", "mariadb"):
        create_mysql_database(url)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            version = cursor.fetchone()[0]
        return f"{'MariaDB' if 'mariadb' in version.lower() else 'MySQL'} {version.split('-')[0]}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def create_mysql_database(url) -> None:
    import MySQLdb

    name = url.path.lstrip("/")
    connection = MySQLdb.connect(
        host=url.hostname or HOST, port=url.port or 3306, user=url.username or "root", passwd=url.password or ""
    )
    try:
        connection.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    finally:
        connection.close()


def commit_id() -> str:
    """The checked-out commit, read from .git without running git."""
    git = ROOT / ".git"
    try:
        if git.is_file():  # a worktree: `.git` names the real git directory
            git = Path(git.read_text().split("gitdir:", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:10]
        ref = head[5:]
        common = git / "commondir"
        shared = (git / common.read_text().strip()).resolve() if common.exists() else git
        for base in (git, shared):
            if (base / ref).exists():
                return (base / ref).read_text().strip()[:10]
        for line in (shared / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:10]
    except OSError:
        pass
    return "unknown"


def bench_tenant():
    from accounts.models import Tenant, User
    from accounts.services import tenant_create

    tenant = Tenant.objects.filter(name=BENCH_TENANT).first()
    if tenant is None:
        tenant = tenant_create(name=BENCH_TENANT, admin_username=BENCH_ADMIN, admin_password=BENCH_PASSWORD)
    admin = User.objects.get(username=BENCH_ADMIN)
    if admin.tenant_id != tenant.pk:
        raise SystemExit(f"user {BENCH_ADMIN!r} belongs to another tenant; the bench needs it in {BENCH_TENANT!r}")
    admin.set_password(BENCH_PASSWORD)
    admin.is_active = True
    admin.save(update_fields=["password", "is_active"])
    return tenant, admin


def load_customers(tenant, target: int) -> dict:
    from django.core.management import call_command

    from accounts.tenancy import tenant_scope
    from customers.models import Customer

    with tenant_scope(tenant):
        present = Customer.objects.alive().count()
    missing = max(0, target - present)
    if not missing:
        print(f"[demo] {BENCH_TENANT} already has {present} customers: reused (no timing)")
        return {"present": present, "generated": 0, "seconds": None}
    print(f"[demo] generating {missing} customers into {BENCH_TENANT} ({present} present) ...", flush=True)
    started = time.perf_counter()
    call_command("generate_demo", tenant=BENCH_TENANT, customers=missing, seed=DEMO_SEED, stdout=io.StringIO())
    seconds = time.perf_counter() - started
    print(f"[demo] {missing} customers in {seconds:.1f} s")
    return {"present": present + missing, "generated": missing, "seconds": seconds}


def import_csv(rows: int) -> bytes:
    from customers.importing import COLUMNS

    stamp = datetime.now().strftime("%Y%m%d%H%M%S")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    statuses, levels = ["潜在", "正式", "Lost"], ["1", "2", "VIP", "战略"]
    for number in range(rows):
        values = {
            "customer_name": f"Bench Import {stamp} 客户 {number:05d} 有限公司",
            "customer_type": "1",
            "industry": "软件开发",
            "scale": "50-199",
            "region": "华东",
            "level": levels[number % 4],
            "status": statuses[number % 3],
            "website": f"https://www.bench{number}.example",
            "address": f"上海市浦东新区世纪大道{number}号",
            "source": "导入",
            "tags": "导入;bench",
            "contact_name": f"联系人{number}",
            "position": "IT总监",
            "mobile": f"139{number:08d}",
            "email": f"c{number}@bench.example",
            "is_primary": "1",
        }
        writer.writerow([values.get(column, "") for column in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def time_import(tenant, admin, rows: int) -> dict:
    from django.db import transaction

    from accounts.tenancy import tenant_scope
    from customers import importing

    data = import_csv(rows)
    with tenant_scope(tenant):
        started = time.perf_counter()
        parsed = importing.parse_upload(data, "bench.csv")
        parsed_at = time.perf_counter()
        plan = importing.validate_rows(parsed.rows, user=admin)
        validated_at = time.perf_counter()
        if plan.has_errors:
            raise SystemExit(f"bench import file has errors: {plan.error_rows[:3]}")
        with transaction.atomic():
            result = importing.commit_plan(plan, user=admin, filename="bench.csv")
            committed_at = time.perf_counter()
            transaction.set_rollback(True)  # keep the bench data stable between runs
    figures = {
        "rows": rows,
        "parse": parsed_at - started,
        "validate": validated_at - parsed_at,
        "commit": committed_at - validated_at,
        "total": committed_at - started,
        "created": result.created,
    }
    print(
        f"[import] {rows} rows: parse {figures['parse']:.2f} s, validate {figures['validate']:.2f} s, "
        f"commit {figures['commit']:.2f} s, total {figures['total']:.2f} s ({result.created} customers, rolled back)"
    )
    return figures


# --- HTTP ------------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int, log_path: Path, worker_class: str = "sync", threads: int = 1):
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        API_RATE_USER="1000000/min",
        API_RATE_IP="1000000/min",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn) if gunicorn.exists() else shutil.which("gunicorn") or "gunicorn",
        "crm_project.wsgi",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}; see {log_path}")
        try:
            status, _body = request(port, "GET", "/healthz")
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop_gunicorn(process)
    raise SystemExit(f"gunicorn did not answer /healthz within 60 s; see {log_path}")


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def request(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def obtain_token(port: int) -> str:
    status, body = request(port, "POST", "/api/v1/auth/token", {"username": BENCH_ADMIN, "password": BENCH_PASSWORD})
    if status != 200:
        raise SystemExit(f"token request answered {status}: {body[:300]!r}")
    return json.loads(body)["data"]["access"]


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def python_load(port: int, path: str, headers: dict, duration: float, concurrency: int) -> dict:
    """Threads with one keep-alive http.client connection each (reconnecting when the server closes)."""
    deadline = time.perf_counter() + duration
    max_requests = 500_000  # a bound on the count as well as on the time
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    counter = {"sent": 0}
    lock = threading.Lock()

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        while time.perf_counter() < deadline:
            with lock:
                if counter["sent"] >= max_requests:
                    break
                counter["sent"] += 1
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[slot] += 1
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
            latencies[slot].append(time.perf_counter() - started)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 60)
    elapsed = time.perf_counter() - started
    values = sorted(v for slot in latencies for v in slot)
    return {
        "requests": len(values),
        "errors": sum(errors),
        "rps": len(values) / elapsed if elapsed else 0.0,
        "p50": percentile(values, 0.50) * 1000,
        "p95": percentile(values, 0.95) * 1000,
        "p99": percentile(values, 0.99) * 1000,
    }


WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %f %f %f\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def wrk_load(port: int, path: str, headers: dict, duration: float, concurrency: int, workdir: Path,
             paths: list[str] | None = None) -> dict:  # fmt: skip
    """One wrk run: `path` repeated, or (with `paths`) the paths walked in turn by bench/stream.lua."""
    threads = min(2, concurrency)
    env = dict(os.environ)
    if paths:
        urls = workdir / "paths.txt"
        urls.write_text("\n".join(paths) + "\n")
        script = ROOT / "bench" / "stream.lua"
        env.update(BENCH_URLS=str(urls), BENCH_THREADS=str(threads))
    else:
        script = workdir / "report.lua"
        script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{duration:.0f}s", "--timeout", "10s"]
    command += ["-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://{HOST}:{port}{path}")
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False, env=env)
    line = next((line for line in output.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no report: {output.stdout[-500:]} {output.stderr[-500:]}")
    fields = line.split()[1:]
    requests, micros, socket_errors, status_errors, p50, p95, p99 = fields[:7]
    seconds = int(micros) / 1e6
    figures = {
        "requests": int(requests),
        "errors": int(socket_errors) + int(status_errors),
        "rps": int(requests) / seconds if seconds else 0.0,
        "p50": float(p50) / 1000,
        "p95": float(p95) / 1000,
        "p99": float(p99) / 1000,
    }
    if paths:
        figures["paths"] = int(fields[7])
        figures["repeats"] = max(0, int(requests) - int(fields[7]))
    return figures


def distinct_list_paths(pages: int) -> list[str]:
    """3 statuses × `pages` pages of the health-sorted list, descending then ascending: every path once."""
    paths = []
    for direction in ("desc", "asc"):
        for page in range(1, pages + 1):
            for status in (1, 2, 3):
                paths.append(f"/api/v1/customers?status={status}&sort=health_score,{direction}&page={page}&size=20")
    return paths


def bump_customers_version() -> None:
    """Start the distinct stream with nothing cached: every page (and each filter's total once) is computed."""
    from accounts.models import Tenant
    from customers.cache import customers_changed

    customers_changed(Tenant.objects.get(name=BENCH_TENANT).pk)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by these processes (from /proc; 0 where unreadable)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def gunicorn_pids(process: subprocess.Popen) -> list[int]:
    """The gunicorn master and its workers."""
    pids = [process.pid]
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    except OSError:
        children = []
    return pids + [int(pid) for pid in children]


def measure_http(args, workdir: Path) -> tuple[list[tuple[str, dict]], str]:
    tool = args.load_tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    port = free_port()
    process = start_gunicorn(port, args.workers, workdir / "gunicorn.log", args.worker_class, args.threads)
    results = []
    try:
        token = obtain_token(port)
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        list_path = "/api/v1/customers?status=2&sort=health_score,desc&page=1&size=20"
        status, body = request(port, "GET", list_path, headers=auth)
        if status != 200:
            raise SystemExit(f"{list_path} answered {status}: {body[:300]!r}")
        items = json.loads(body)["data"]["items"]
        if not items:
            raise SystemExit("the customer list is empty: no id for the detail endpoint")
        customer_id = items[0].get("customer_id") or items[0].get("id")
        stream = distinct_list_paths(args.pages)
        endpoints = [
            ("GET /healthz", "/healthz", {}, None),
            ("GET /api/v1/customers (list, same page repeated: status=2, sort health desc, page 1)", list_path, auth,
             None),
            (f"GET /api/v1/customers (distinct pages: 3 statuses × {args.pages} pages × 2 directions, each once)",
             "/api/v1/customers", auth, stream),
            ("GET /api/v1/customers/<id> (detail, same customer)", f"/api/v1/customers/{customer_id}", auth, None),
        ]  # fmt: skip
        if args.only:
            wanted = {int(number) for number in args.only.split(",")}
            endpoints = [endpoint for number, endpoint in enumerate(endpoints, 1) if number in wanted]
        for label, path, headers, paths in endpoints:
            duration = args.duration
            if paths is None:
                for _warm in range(20):
                    request(port, "GET", path, headers=headers)
            else:
                bump_customers_version()
                duration = min(args.duration, args.stream_duration)
            load_before = os.getloadavg()[0]
            cpu_before = cpu_seconds(gunicorn_pids(process))
            if tool == "wrk":
                figures = wrk_load(port, path, headers, duration, args.concurrency, workdir, paths=paths)
            else:
                if paths is not None:
                    print(f"[http] {label}: needs wrk (skipped)")
                    continue
                figures = python_load(port, path, headers, duration, args.concurrency)
            figures["server_cpu_ms"] = (
                (cpu_seconds(gunicorn_pids(process)) - cpu_before) * 1000 / figures["requests"]
                if figures["requests"]
                else float("nan")
            )
            figures["load"] = load_before
            figures["duration"] = duration
            results.append((label, figures))
            extra = f", {figures['repeats']} repeated paths" if "repeats" in figures else ""
            print(
                f"[http] {label}: {figures['rps']:.0f} req/s, p50 {figures['p50']:.1f} ms, "
                f"p95 {figures['p95']:.1f} ms, p99 {figures['p99']:.1f} ms, errors {figures['errors']}, "
                f"gunicorn CPU {figures['server_cpu_ms']:.2f} ms/request, load {load_before:.2f}{extra}",
                flush=True,
            )
    finally:
        stop_gunicorn(process)
    return results, tool


# --- Report ----------------------------------------------------------------------------------------------------------
def report(args, database: str, demo: dict, imported: dict, http_results, tool: str | None) -> str:
    lines = [
        f"## {datetime.now():%Y-%m-%d %H:%M} · {database} · commit {commit_id()}",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; 1-minute load average before the run "
        f"{args.load_before:.2f} (above ~0.5 other processes compete for the CPUs and the figures drop). "
        f"Tenant {BENCH_TENANT!r}: {demo['present']} customers.",
        "",
        "| measurement | result |",
        "| --- | --- |",
    ]
    if demo["seconds"] is not None:
        lines.append(f"| generate_demo {demo['generated']} customers | {demo['seconds']:.1f} s |")
    else:
        lines.append(f"| generate_demo | reused existing {demo['present']} customers (not timed) |")
    lines.append(
        f"| import {imported['rows']} rows (parse + validate + commit) | {imported['total']:.2f} s "
        f"(parse {imported['parse']:.2f}, validate {imported['validate']:.2f}, commit {imported['commit']:.2f}) |"
    )
    if http_results:
        lines += [
            "",
            f"HTTP: gunicorn {args.workers} {args.worker_class} workers"
            f"{f' × {args.threads} threads' if args.worker_class == 'gthread' else ''}, DEBUG=false, "
            f"{args.concurrency} connections, "
            f"{args.duration:.0f} s per endpoint ({args.stream_duration:.0f} s for the distinct pages), "
            f"load by {tool}. "
            "CPU ms/request: user + system time of the gunicorn processes divided by the requests (the work of one "
            "request, whatever the load); load: 1-minute load average before the endpoint's run.",
            "",
            "| endpoint | req/s | p50 ms | p95 ms | p99 ms | errors | gunicorn CPU ms/request | load |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, f in http_results:
            note = f" ({f['repeats']} of {f['requests']} requests repeated a path)" if f.get("repeats") else ""
            lines.append(
                f"| {label}{note} | {f['rps']:.0f} | {f['p50']:.1f} | {f['p95']:.1f} | {f['p99']:.1f} | {f['errors']} "
                f"| {f['server_cpu_ms']:.2f} | {f['load']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    args.load_before = os.getloadavg()[0]
    database = configure_environment()
    print(f"[bench] database: {database} ({os.environ['DATABASE_URL'].split('@')[-1]})", flush=True)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    tenant, admin = bench_tenant()
    demo = load_customers(tenant, args.customers)
    imported = time_import(tenant, admin, args.import_rows)
    http_results, tool = [], None
    if not args.skip_http:
        from django.db import connections

        from customers.management.commands.generate_demo import refresh_statistics

        refresh_statistics()  # planner statistics as a long-running database has them
        connections.close_all()
        with tempfile.TemporaryDirectory(prefix="crm-bench-") as workdir:
            http_results, tool = measure_http(args, Path(workdir))
    text = report(args, database, demo, imported, http_results, tool)
    print()
    print(text)
    results = Path(args.results)
    if not results.exists():
        results.write_text("# Benchmark results\n\nAppended by `make bench` (bench/run.py); newest last.\n\n")
    with results.open("a") as handle:
        handle.write(text + "\n")
    print(f"[bench] appended to {results}")


if __name__ == "__main__":
    main()

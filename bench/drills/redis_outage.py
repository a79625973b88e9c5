"""Drill (PRD 8): Redis (broker and cache) goes down and comes back. The web side keeps writing, the webhook
events of the outage wait in the database, and once Redis is back the sweeper queues them again and the worker
delivers them: nothing lost.

    .venv/bin/python bench/drills/redis_outage.py

It starts its own redis-server on 127.0.0.1:6399 (no persistence), a Celery worker, and a local HTTP target;
it uses a temporary SQLite database and touches no shared service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORT = 6399
WORK = Path(tempfile.mkdtemp(prefix="crm-redis-drill-"))
ENV = {
    **os.environ,
    "CRM_DATA_DIR": str(WORK),
    "DATABASE_URL": f"sqlite:///{WORK}/drill.sqlite3",
    "REDIS_URL": f"redis://127.0.0.1:{PORT}/0",
    "SECRET_KEY": "drill",
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    "DB_CONN_MAX_AGE": "0",
    "DJANGO_SETTINGS_MODULE": "crm_project.settings",
}
os.environ.update(ENV)
sys.path.insert(0, str(ROOT))
received: list[bytes] = []


class Target(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def redis_up() -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> int:
    python = str(ROOT / ".venv/bin/python")
    redis = redis_up()
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=ENV, check=True)
    import django

    django.setup()
    from accounts.models import Tenant
    from accounts.services import user_create
    from accounts.tenancy import tenant_scope, unscoped
    from customers.services import customer_create
    from webhooks import services, tasks
    from webhooks.models import WebhookDelivery

    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "crm_project", "worker", "--concurrency=1", "--loglevel=WARNING",
         "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=ENV, stdout=open(WORK / "worker.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )  # fmt: skip
    try:
        tenant = Tenant.objects.create(name="Redis Drill")
        admin = user_create(tenant=tenant, username="redisdrill", password="x-drill-pass-2025", role="tenant_admin")
        with tenant_scope(tenant):
            services.subscription_create(
                actor=admin, data={"name": "drill", "target_url": url, "event_types": ["customer.created"]}
            )

        def create(name: str) -> None:
            with tenant_scope(tenant):
                customer_create(actor=admin, data={"customer_name": name})

        def wait_delivered(n: int, timeout: float = 60) -> bool:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                with unscoped("drill"):
                    if WebhookDelivery.objects.filter(status="delivered").count() >= n:
                        return True
                time.sleep(0.5)
            return False

        create("Before the outage")
        log(f"customer 1 created with Redis up; delivered: {wait_delivered(1)}")
        redis.send_signal(signal.SIGKILL)
        redis.wait()
        log("Redis killed (SIGKILL)")
        started = time.monotonic()
        create("During the outage")
        log(f"customer 2 created while Redis is down in {time.monotonic() - started:.2f} s (the write succeeded)")
        with unscoped("drill"):
            states = list(WebhookDelivery.objects.order_by("pk").values_list("status", flat=True))
        log(f"deliveries now: {states} (the second waits in the database)")
        time.sleep(2)
        redis = redis_up()
        log("Redis started again (empty: it keeps nothing on disk)")
        with unscoped("drill"):  # make the waiting row overdue instead of waiting the sweeper's grace period
            from datetime import timedelta

            from django.utils import timezone

            WebhookDelivery.objects.filter(status="pending").update(
                next_attempt_at=timezone.now() - timedelta(minutes=1)
            )
        log(f"sweeper (redeliver_due, every minute from beat): {tasks.redeliver_due.run()}")
        ok = wait_delivered(2)
        with unscoped("drill"):
            states = list(WebhookDelivery.objects.order_by("pk").values_list("status", flat=True))
        log(f"deliveries after Redis returned: {states}; target received {len(received)} requests")
        passed = ok and states == ["delivered", "delivered"] and len(received) == 2
        log("DRILL PASSED: nothing lost" if passed else "DRILL FAILED")
        return 0 if passed else 1
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        redis.kill()
        server.shutdown()
        import shutil

        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

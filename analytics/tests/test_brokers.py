"""The same registered job through a real Celery worker process, with RabbitMQ and with Redis as the broker.

A `celery -A crm_project worker` subprocess is started against the test database (MariaDB: the test database by
name; SQLite: the in-memory test database copied to a file and back), a real job (`consistency_check`) is queued
on a queue of its own (the brokers are shared with other work), and its effect and its job-run row are checked.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from accounts.models import JobRun
from accounts.tenancy import tenant_scope, unscoped
from customers.models import Customer
from customers.tests.factories import make_customer

ROOT = Path(settings.BASE_DIR)
AMQP_URL = os.environ.get("CRM_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
JOB_TASK = "analytics.tasks.consistency_check"
WAIT_SECONDS = 120  # a worker boots Django on a busy 2-core machine


def _port_open(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


def _database_url() -> str:
    """The URL of the database the test runs against, for a process that is not this one."""
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"mysql://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


def _start_worker(broker: str, database_url: str, queue: str, workdir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_project.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,  # result backend and cache; without it the worker would use the folder broker
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CACHE_KEY_PREFIX": f"broker-test-{queue}",
        "CRM_DATA_DIR": str(workdir),
        "DB_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "crm_project", "worker", "-Q", queue, "--pool=solo"]
    command += ["-n", f"{queue}@%h", "--without-mingle", "--without-gossip", "--loglevel=INFO"]
    log = (workdir / "worker.log").open("wb")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _drifted_customer(owner) -> Customer:
    customer = make_customer(owner, customer_name="Broker Drift Ltd")
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=customer.pk).update(ltv=Decimal("12345"))  # no contract: the true LTV is 0
    return customer


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_a_registered_job_runs_through_a_real_worker_on_each_broker(broker, owner, tmp_path):
    broker_url = AMQP_URL if broker == "rabbitmq" else REDIS_URL
    if not _port_open(broker_url) or not _port_open(REDIS_URL):
        pytest.skip(f"{broker} (and Redis for results) must listen on loopback: {broker_url}")
    customer = _drifted_customer(owner)
    sqlite_file = None
    if connection.vendor == "sqlite":
        # The test database lives in memory: hand the worker a file copy, read its result back afterwards.
        sqlite_file = tmp_path / "worker.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(sqlite_file) as target:
            connection.connection.backup(target)
        database_url = f"sqlite:///{sqlite_file}"
    else:
        database_url = _database_url()

    queue = f"crm-test-{uuid.uuid4().hex[:12]}"
    worker = _start_worker(broker_url, database_url, queue, tmp_path)
    producer = Celery("broker-test", broker=broker_url)
    try:
        producer.send_task(JOB_TASK, args=(owner.tenant_id,), queue=queue)
        deadline = time.monotonic() + WAIT_SECONDS
        status = None
        while time.monotonic() < deadline and worker.poll() is None:
            status = _job_status(sqlite_file)
            if status in ("succeeded", "failed"):
                break
            time.sleep(0.5)
    finally:
        producer.close()
        _stop(worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert status == "succeeded", f"job run status {status!r}; worker log:\n{log[-4000:]}"
    assert f"{JOB_TASK}[" in log and "succeeded in" in log  # the worker process ran it, not this one

    if sqlite_file is not None:
        with sqlite3.connect(sqlite_file) as source:
            source.backup(connection.connection)
    with unscoped("test reads job runs"):
        run = JobRun.objects.get(job_name="consistency_check")
    assert run.tenant_id == owner.tenant_id and run.finished_at is not None and run.heartbeat_at is not None
    assert run.counts["ltv_found"] == 1 and run.counts["ltv_repaired"] == 1
    with tenant_scope(owner.tenant):
        assert Customer.objects.get(pk=customer.pk).ltv == 0


def _job_status(sqlite_file: Path | None) -> str | None:
    sql = "SELECT status FROM job_runs WHERE job_name = 'consistency_check' ORDER BY id DESC LIMIT 1"
    if sqlite_file is not None:
        with sqlite3.connect(sqlite_file, timeout=5) as db:
            row = db.execute(sql).fetchone()
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
    return row[0] if row else None

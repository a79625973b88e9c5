"""The nightly run fanned out in id-range chunks: same rows as one run, idempotent, a run record with counts."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from accounts.models import JobRun
from accounts.tenancy import tenant_scope, unscoped
from contracts.choices import ContractStatus
from contracts.tests.factories import ContractFactory
from customers.choices import CustomerStatus
from customers.models import Customer
from customers.tests.factories import make_customer
from health import services, tasks
from health.models import CustomerHealthScore

pytestmark = pytest.mark.django_db
NOW = "2026-06-15 20:00:00+08:00"
DAY = "2026-06-15"


@pytest.fixture
def customers(owner):
    made = []
    for n in range(5):
        c = make_customer(owner, customer_name=f"Fan {n} Ltd", status=CustomerStatus.FORMAL)
        ContractFactory(customer=c, status=ContractStatus.ACTIVE, contract_amount=Decimal(10000 * (n + 1)))
        made.append(c)
    return made


def day_rows(tenant):
    with tenant_scope(tenant):
        return list(
            CustomerHealthScore.objects.filter(score_date=date(2026, 6, 15)).values_list("customer_id", "overall_score")
        )


@time_machine.travel(NOW, tick=False)
def test_ranges_cover_every_customer_once(tenant, customers):
    with tenant_scope(tenant):
        ranges = services.score_ranges(chunk=2)
    assert len(ranges) == 3
    ids = sorted(c.pk for c in customers)
    covered = [pk for lo, hi in ranges for pk in ids if lo <= pk <= hi]
    assert covered == ids


@time_machine.travel(NOW, tick=False)
def test_with_a_result_backend_the_run_is_a_chord_of_chunk_tasks(tenant, customers, monkeypatch):
    queued = {}

    def fake_chord(header):
        def run(body):
            queued["header"], queued["body"] = header, body

        return run

    monkeypatch.setattr(tasks, "_chord_available", lambda: True)
    monkeypatch.setattr(tasks, "chord", fake_chord)
    result = tasks.score_customers(tenant.pk, DAY, chunk=2)
    assert result["chunks"] == 3 and len(queued["header"]) == 3
    assert {sig.task for sig in queued["header"]} == {"health.tasks.score_customers_chunk"}
    assert queued["body"].task == "health.tasks.score_customers_finish"
    with unscoped("test reads job runs"):
        run = JobRun.objects.get(pk=result["run"])
    assert run.status == JobRun.Status.RUNNING  # closed by the chord's callback
    # What the workers and the callback then do:
    results = [tasks.score_customers_chunk(*sig.args) for sig in queued["header"]]
    tasks.score_customers_finish(results, *queued["body"].args)
    run.refresh_from_db()
    assert run.status == JobRun.Status.SUCCEEDED and run.counts["scored"] == 5
    assert len(day_rows(tenant)) == 5


@time_machine.travel(NOW, tick=False)
def test_chunked_run_equals_one_run_and_records_counts(tenant, customers, monkeypatch):
    monkeypatch.setattr(tasks, "_chord_available", lambda: False)  # e.g. the embedded queue: chunks inline
    result = tasks.score_customers(tenant.pk, DAY, chunk=2)
    assert result["chunks"] == 3 and result["scored"] == 5 and result["ltv_updated"] == 0
    chunked = sorted(day_rows(tenant))
    with tenant_scope(tenant):
        services.scores_save(date(2026, 6, 15))
    assert sorted(day_rows(tenant)) == chunked and len(chunked) == 5
    with unscoped("test reads job runs"):
        run = JobRun.objects.filter(job_name="score_customers").latest("started_at")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts["scored"] == 5 and run.counts["chunks"] == 3


@time_machine.travel(NOW, tick=False)
def test_a_failed_chunk_marks_the_run_and_a_rerun_leaves_one_row_per_customer(tenant, customers, monkeypatch):
    with tenant_scope(tenant):
        ranges = services.score_ranges(chunk=2)
        run = JobRun.objects.create(job_name="score_customers", tenant=tenant)
    tasks.score_customers_chunk(tenant.pk, DAY, *ranges[0], run.pk)
    original = services.scores_save
    monkeypatch.setattr(services, "scores_save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("db gone")))
    with pytest.raises(RuntimeError):
        tasks.score_customers_chunk(tenant.pk, DAY, *ranges[1], run.pk)
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED and "db gone" in run.error
    monkeypatch.setattr(services, "scores_save", original)
    results = [tasks.score_customers_chunk(tenant.pk, DAY, lo, hi, run.pk) for lo, hi in ranges]  # the retry
    finished = tasks.score_customers_finish(results, tenant.pk, DAY, run.pk)
    assert finished["scored"] == 5
    rows = day_rows(tenant)
    assert len(rows) == 5 and len({c for c, _s in rows}) == 5
    with tenant_scope(tenant):
        assert Customer.objects.get(pk=customers[4].pk).ltv == Decimal("50000.00")


@time_machine.travel(NOW, tick=False)
def test_the_playbook_reads_its_rules_once_per_chunk_not_once_per_customer(
    owner, tenant, django_capture_on_commit_callbacks
):
    """The nightly run announces every score; the success-task rules behind those signals are read per chunk."""
    from django.apps import apps
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    table = apps.get_model("success_tasks", "PlaybookRule")._meta.db_table  # a higher app: no import from health

    def rule_reads(count: int) -> int:
        for n in range(count):
            c = make_customer(owner, customer_name=f"Rules {count} {n}", status=CustomerStatus.FORMAL)
            ContractFactory(customer=c, status=ContractStatus.ACTIVE, contract_amount=Decimal(5000))
        with tenant_scope(tenant), CaptureQueriesContext(connection) as queries:
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                services.scores_save(date(2026, 6, 15), alerts=False)
        assert callbacks, "the scores were announced"
        return sum(1 for q in queries.captured_queries if q["sql"].startswith("SELECT") and table in q["sql"])

    rule_reads(1)  # the first read of a new tenant also creates the default playbook
    few, many = rule_reads(2), rule_reads(6)
    assert 0 < many == few

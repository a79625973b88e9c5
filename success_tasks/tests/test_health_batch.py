"""The nightly run's batch signal (one per chunk) opens exactly the tasks the per-customer signals open."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditLog, Notification
from accounts.tenancy import tenant_scope, unscoped
from customers.tests.factories import CustomerFactory
from health.models import CustomerHealthScore, HealthAlert
from health.signals import health_alert, health_score_changed, health_scores_changed
from health.tests.factories import score_row
from success_tasks.models import CustomerSuccessTask

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = date(2026, 12, 1)
# (overall, risk level, alert kind or None, drop): below 60 / risk >= 3 / drops of 20 and 5 / a healthy one
CASES = [(35, 4, "drop", 20), (55, 2, None, 0), (70, 3, "risk_up", 0), (90, 1, None, 0), (45, 3, "drop", 5)]


@pytest.fixture
def world(tenant, owner, make_user):
    manager = make_user("csm")
    customers = [
        CustomerFactory(actor=owner, customer_name=f"Batch {n} Ltd", assigned_manager=manager if n % 2 else None)
        for n in range(len(CASES))
    ]
    rows, alerts = [], []
    for customer, (overall, risk, kind, drop) in zip(customers, CASES, strict=True):
        row = score_row(customer, DAY, overall, risk_level=risk)
        row.customer = customer
        rows.append(row)
        if kind:
            alerts.append(
                HealthAlert(customer_id=customer.pk, kind=kind, score_date=DAY, drop=Decimal(drop),
                            previous_risk_level=1, risk_level=risk)
            )  # fmt: skip
    return rows, alerts


def per_customer(rows, alerts):
    for row in rows:
        health_score_changed.send(sender=CustomerHealthScore, score=row, customer=row.customer,
                                  previous_overall=Decimal(80), previous_risk_level=1)  # fmt: skip
    by_customer = {row.customer_id: row for row in rows}
    for alert in alerts:
        row = by_customer[alert.customer_id]
        health_alert.send(sender=CustomerHealthScore, customer=row.customer, kind=alert.kind, score=row,
                          drop=alert.drop, window_days=30, previous_risk_level=1,
                          risk_level=alert.risk_level)  # fmt: skip


def batch(rows, alerts):
    previous = {row.customer_id: (Decimal(80), 1) for row in rows}
    health_scores_changed.send(sender=CustomerHealthScore, scores=rows, previous=previous, alerts=alerts,
                               window_days=30)  # fmt: skip
    # The per-row signals still go out (other receivers), marked as handled with their chunk.
    for row in rows:
        health_score_changed.send(sender=CustomerHealthScore, score=row, customer=row.customer,
                                  previous_overall=Decimal(80), previous_risk_level=1, batched=True)  # fmt: skip
    by_customer = {row.customer_id: row for row in rows}
    for alert in alerts:
        row = by_customer[alert.customer_id]
        health_alert.send(sender=CustomerHealthScore, customer=row.customer, kind=alert.kind, score=row,
                          drop=alert.drop, window_days=30, previous_risk_level=1, risk_level=alert.risk_level,
                          batched=True)  # fmt: skip


def snapshot(tenant):
    with tenant_scope(tenant):
        tasks = sorted(
            CustomerSuccessTask.objects.values_list(
                "rule__key", "customer__customer_name", "task_title", "task_description", "assigned_to_id",
                "trigger_condition", "priority", "due_date", "open_rule__key", "trigger_key",
            )
        )  # fmt: skip
        ids = [str(pk) for pk in CustomerSuccessTask.objects.values_list("pk", flat=True)]
    with unscoped("test"):
        audits = AuditLog.objects.filter(action="crm.success_task.generated", object_id__in=ids).count()
        notes = sorted(
            Notification.objects.filter(kind="success_task.assigned", object_id__in=ids).values_list(
                "recipient_id", "message"
            )
        )
    return tasks, audits, notes


def reset(tenant):
    with tenant_scope(tenant):
        CustomerSuccessTask.objects.all().delete()
    with unscoped("test"):
        Notification.objects.filter(kind="success_task.assigned").delete()


@time_machine.travel(NOW, tick=False)
def test_batch_opens_the_same_tasks_as_the_per_customer_signals(tenant, world):
    rows, alerts = world
    with tenant_scope(tenant):
        per_customer(rows, alerts)
    expected = snapshot(tenant)
    tasks, audits, notes = expected
    # health_below: 35, 55, 45; risk_level: 35 (4), 70 (3), 45 (3); health_drop (rule: 15 points): only the 20
    assert sorted(t[0] for t in tasks) == ["health_below"] * 3 + ["health_drop"] + ["risk_level"] * 3
    assert audits == len(tasks) and len(notes) == len(tasks)
    reset(tenant)
    with tenant_scope(tenant):
        batch(rows, alerts)
    assert snapshot(tenant) == expected


@time_machine.travel(NOW, tick=False)
def test_a_second_batch_opens_nothing_more_one_open_task_per_rule_and_customer(tenant, world):
    rows, alerts = world
    with tenant_scope(tenant):
        batch(rows, alerts)
        per_customer(rows, alerts)  # the single-customer path afterwards: the open tasks block it too
        batch(rows, alerts)
        counts = list(CustomerSuccessTask.objects.values("rule", "customer").distinct())
        assert CustomerSuccessTask.objects.count() == len(counts) == 7


@time_machine.travel(NOW, tick=False)
def test_the_batch_writes_in_a_constant_number_of_queries(tenant, owner, make_user):
    manager = make_user("csm")

    def queries_for(n: int) -> int:
        rows = []
        for i in range(n):
            customer = CustomerFactory(actor=owner, customer_name=f"Q{n} {i} Ltd", assigned_manager=manager)
            row = score_row(customer, DAY, 30, risk_level=4)
            row.customer = customer
            rows.append(row)
        with tenant_scope(tenant), CaptureQueriesContext(connection) as captured:
            health_scores_changed.send(sender=CustomerHealthScore, scores=rows, previous={}, alerts=[], window_days=30)
        with tenant_scope(tenant):
            assert CustomerSuccessTask.objects.filter(customer__in=[r.customer for r in rows]).count() == 2 * n
        return len(captured.captured_queries)

    queries_for(1)  # the first read of the rules creates the default playbook
    assert queries_for(3) == queries_for(12)

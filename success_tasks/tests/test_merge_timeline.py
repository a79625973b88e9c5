"""A merge moves the duplicate's tasks (one open task per rule survives); the customer timeline shows task events."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts.tenancy import tenant_scope
from customers import services as customer_services
from customers.tests.factories import CustomerFactory
from success_tasks import playbook, services
from success_tasks.choices import TaskStatus
from success_tasks.models import CustomerSuccessTask
from success_tasks.receivers import task_timeline_entries
from success_tasks.tests.factories import TaskFactory, set_health

pytestmark = pytest.mark.django_db


def test_merge_moves_tasks_and_keeps_one_open_task_per_rule(tenant, owner, make_user):
    csm = make_user("csm")
    survivor = CustomerFactory(actor=owner, customer_name="Umbrella Ops", assigned_manager=csm)
    duplicate = CustomerFactory(actor=owner, customer_name="Umbrella Operations", assigned_manager=csm)
    set_health(survivor, 40)
    set_health(duplicate, 45)
    manual = TaskFactory(actor=owner, customer=duplicate, assigned_to=csm, task_title="Manual")
    with tenant_scope(tenant):
        playbook.run_nightly()
        dup_generated = CustomerSuccessTask.objects.get(customer=duplicate, rule__key="health_below")
        customer_services.customer_merge(actor=owner, survivor=survivor, duplicate=duplicate)
        moved = {t.pk: t for t in CustomerSuccessTask.objects.filter(customer=survivor)}
    assert manual.pk in moved and dup_generated.pk in moved
    assert moved[dup_generated.pk].status == TaskStatus.CANCELLED and moved[dup_generated.pk].open_rule_id is None
    open_health = [t for t in moved.values() if t.open_rule_id and t.rule.key == "health_below"]
    assert len(open_health) == 1


def test_timeline_lists_task_events(tenant, owner, make_user):
    csm = make_user("csm")
    customer = CustomerFactory(actor=owner, customer_name="Wayne Ops", assigned_manager=csm)
    task = TaskFactory(actor=owner, customer=customer, assigned_to=csm, task_title="Kick-off")
    with tenant_scope(tenant):
        services.task_change_status(actor=csm, task=task, status=TaskStatus.IN_PROGRESS)
        request = RequestFactory().get("/")
        request.user = owner
        entries = task_timeline_entries(request, customer, None, 10)
    assert [e.summary for e in entries] == ["Kick-off", "Kick-off"]
    assert str(entries[0].title) in ("Task status changed", "任务状态已变更") and entries[1].url.endswith(
        f"/tasks/{task.pk}/"
    )

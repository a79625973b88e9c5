"""Playbook rules: every trigger opens its task once and only once; edits take effect; the DB keeps one open task."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from accounts.tenancy import tenant_scope
from communications import services as communication_services
from communications.models import FollowUp
from communications.signals import communication_logged
from contracts import services as contract_services
from customers.tests.factories import CustomerFactory
from service_records import services as service_services
from service_records.models import ServiceRecord
from service_records.tests.factories import ingest, make_contract, ticket
from success_tasks import playbook, receivers, services
from success_tasks.choices import TaskStatus, Trigger
from success_tasks.models import CustomerSuccessTask, PlaybookRule
from success_tasks.tests.factories import set_health

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def csm(make_user):
    return make_user("csm", username="csm-manager")


@pytest.fixture
def customer(owner, csm):
    return CustomerFactory(actor=owner, customer_name="Northwind Ops", assigned_manager=csm)


def tasks(tenant, **filters):
    with tenant_scope(tenant):
        return list(CustomerSuccessTask.objects.filter(**filters).order_by("id"))


def rule(tenant, key) -> PlaybookRule:
    with tenant_scope(tenant):
        services.rules_ensure_defaults()
        return PlaybookRule.objects.get(key=key)


def nightly(tenant):
    with tenant_scope(tenant):
        return playbook.run_nightly()


def assert_one_task(tenant, key, customer, csm, *, task_type):
    created = tasks(tenant, rule__key=key)
    assert len(created) == 1, [t.trigger_condition for t in created]
    task = created[0]
    assert task.customer_id == customer.pk and task.assigned_to_id == csm.pk
    assert task.auto_generated and task.trigger_condition and task.task_type == task_type
    assert "Northwind Ops" in task.task_title
    return task


def test_default_rules_ship_enabled_once_per_tenant(tenant, other_tenant):
    with tenant_scope(tenant):
        first = services.rules_ensure_defaults()
        again = services.rules_ensure_defaults()
    assert len(first) == len(again) == 11 and all(r.enabled for r in first)
    assert {r.trigger for r in first} == set(Trigger.values)
    with tenant_scope(other_tenant):
        assert len(services.rules_ensure_defaults()) == 11


def test_health_below(tenant, customer, csm):
    set_health(customer, 42)
    nightly(tenant)
    nightly(tenant)
    score = SimpleNamespace(overall_score=42, risk_level=2)
    with tenant_scope(tenant):
        receivers.on_health_score_changed(None, score=score, customer=customer)
    task = assert_one_task(tenant, "health_below", customer, csm, task_type=1)
    assert "42" in task.trigger_condition and "60" in task.trigger_condition


def test_health_drop_from_the_health_alert(tenant, customer, csm):
    for _ in range(2):
        with tenant_scope(tenant):
            receivers.on_health_alert(None, customer=customer, kind="drop", drop=18, window_days=30)
    assert_one_task(tenant, "health_drop", customer, csm, task_type=1)


def test_risk_level_from_the_alert_and_the_nightly_fallback(tenant, customer, csm):
    with tenant_scope(tenant):
        receivers.on_health_alert(None, customer=customer, kind="risk_up", risk_level=2)
    assert tasks(tenant, rule__key="risk_level") == []
    with tenant_scope(tenant):
        receivers.on_health_alert(None, customer=customer, kind="risk_up", risk_level=3)
    set_health(customer, 30)  # fallback risk level 4 from customers.health_score
    nightly(tenant)
    assert_one_task(tenant, "risk_level", customer, csm, task_type=1)


def test_renewal_due_consumes_the_contracts_reminders(tenant, owner, customer, csm):
    make_contract(owner, customer, start=date(2026, 1, 1), end=date(2026, 12, 31))
    with tenant_scope(tenant):
        contract_services.renewal_reminders_send(today=NOW.date())
        contract_services.renewal_reminders_send(today=NOW.date())
    nightly(tenant)
    nightly(tenant)
    task = assert_one_task(tenant, "renewal_due", customer, csm, task_type=2)
    assert "2026-12-31" in task.trigger_condition
    assert task.trigger_key.startswith("renewal:")


def test_satisfaction_below_on_the_rating_event(tenant, owner, customer, csm):
    make_contract(owner, customer)
    ingest(
        tenant,
        [
            ticket(
                customer,
                opened_at="2026-11-28 09:00:00",
                first_response_at="2026-11-28 09:10:00",
                resolved_at="2026-11-28 10:00:00",
            )
        ],
    )
    with tenant_scope(tenant):
        record = ServiceRecord.objects.get(customer=customer)
        service_services.rating_set(actor=owner, record=record, data={"satisfaction_overall": 2})
        service_services.rating_set(actor=owner, record=record, data={"satisfaction_overall": 1})
        service_services.rating_set(actor=owner, record=record, data={"satisfaction_overall": 5})
    nightly(tenant)
    task = assert_one_task(tenant, "satisfaction_below", customer, csm, task_type=3)
    assert task.trigger_key == f"rating:{record.pk}"


def test_nps_detractor(tenant, owner, customer, csm):
    with tenant_scope(tenant):
        service_services.nps_record(actor=owner, customer=customer, score=9)
    assert tasks(tenant, rule__key="nps_detractor") == []
    with tenant_scope(tenant):
        service_services.nps_record(actor=owner, customer=customer, score=3)
    nightly(tenant)
    assert_one_task(tenant, "nps_detractor", customer, csm, task_type=3)


def test_sla_breaches_at_k_in_30_days(tenant, owner, customer, csm):
    make_contract(owner, customer)
    late = {"first_response_at": "2026-11-28 15:00:00", "resolved_at": "2026-11-29 15:00:00"}
    ingest(tenant, [ticket(customer, opened_at="2026-11-28 09:00:00", **late) for _ in range(2)])
    assert tasks(tenant, rule__key="sla_breaches") == []
    ingest(tenant, [ticket(customer, opened_at="2026-11-28 09:00:00", **late) for _ in range(2)])
    with tenant_scope(tenant):
        assert ServiceRecord.objects.filter(customer=customer, breached=True).count() == 4
    nightly(tenant)
    task = assert_one_task(tenant, "sla_breaches", customer, csm, task_type=4)
    assert "SLA" in task.trigger_condition


def test_negative_sentiment_communication(tenant, owner, customer, csm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(tenant):
        communication = communication_services.communication_create(
            actor=owner, customer=customer, data={"communication_type": 1, "direction": 1, "subject": "Angry call",
                                                  "content": "Complaint", "sentiment": 1},
        )  # fmt: skip
    with tenant_scope(tenant):  # the same communication reported again (an edit, a re-analysis)
        communication_logged.send(
            sender=type(communication), communication=communication, customer=customer, sentiment=1, needs=[],
            score=-1.0, created=False,
        )  # fmt: skip
    nightly(tenant)
    task = assert_one_task(tenant, "negative_sentiment", customer, csm, task_type=3)
    assert "Angry call" in task.trigger_condition


def test_renewal_risk_need(tenant, owner, customer, csm):
    from communications.models import Communication

    with tenant_scope(tenant):
        communication = Communication.objects.create(
            customer=customer, communication_type=1, direction=2, subject="Budget", communication_date=NOW, staff=owner
        )
        for _ in range(2):
            communication_logged.send(
                sender=Communication, communication=communication, customer=customer, sentiment=2, score=0.0,
                needs=[{"tag": "renewal_risk", "evidence": "不续约"}], created=True,
            )  # fmt: skip
    task = assert_one_task(tenant, "renewal_risk_need", customer, csm, task_type=2)
    assert "不续约" in task.trigger_condition


def test_overdue_follow_up_becomes_a_type_4_task(tenant, owner, customer, csm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(tenant):
        communication_services.communication_create(
            actor=csm,
            customer=customer,
            data={
                "communication_type": 1,
                "direction": 1,
                "subject": "Call",
                "next_action": "Send the proposal",
                "next_action_due": date(2026, 12, 2),
            },
        )
        FollowUp.objects.filter(customer=customer).update(due_date=date(2026, 11, 25))
        communication_services.follow_up_reminders_send(today=NOW.date())
        communication_services.follow_up_reminders_send(today=NOW.date())
    nightly(tenant)
    task = assert_one_task(tenant, "follow_up_due", customer, csm, task_type=4)
    assert "Send the proposal" in task.trigger_condition


def test_no_contact_for_n_days(tenant, owner, csm):
    with time_machine.travel(NOW - timedelta(days=100), tick=False):
        quiet = CustomerFactory(actor=owner, customer_name="Northwind Ops", assigned_manager=csm)
    CustomerFactory(actor=owner, customer_name="Brand new Ltd", assigned_manager=csm)
    nightly(tenant)
    nightly(tenant)
    assert_one_task(tenant, "no_contact", quiet, csm, task_type=1)


def test_a_state_rule_fires_again_only_after_the_cooldown(tenant, customer, csm):
    set_health(customer, 42)
    nightly(tenant)
    (task,) = tasks(tenant, rule__key="health_below")
    with tenant_scope(tenant):
        services.task_change_status(actor=csm, task=task, status=TaskStatus.IN_PROGRESS)
        services.task_change_status(actor=csm, task=task, status=TaskStatus.DONE, result="Plan agreed")
    nightly(tenant)
    assert len(tasks(tenant, rule__key="health_below")) == 1
    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        nightly(tenant)
    assert len(tasks(tenant, rule__key="health_below")) == 2


def test_rule_edits_take_effect(tenant, owner, customer, csm):
    set_health(customer, 55)
    health_rule = rule(tenant, "health_below")
    health_rule.threshold = 50
    with tenant_scope(tenant):
        services.rule_save(actor=owner, rule=health_rule)
    nightly(tenant)
    assert tasks(tenant, rule__key="health_below") == []
    health_rule.enabled = False
    health_rule.threshold = 70
    with tenant_scope(tenant):
        services.rule_save(actor=owner, rule=health_rule)
    nightly(tenant)
    assert tasks(tenant, rule__key="health_below") == []
    health_rule.enabled = True
    health_rule.title_template = "Rescue {customer_name} ({health_score})"
    health_rule.priority = 4
    health_rule.due_in_days = 2
    with tenant_scope(tenant):
        services.rule_save(actor=owner, rule=health_rule)
    nightly(tenant)
    (task,) = tasks(tenant, rule__key="health_below")
    assert task.task_title == "Rescue Northwind Ops (55.00)"
    assert task.priority == 4 and task.due_date == NOW + timedelta(days=2)


def test_templates_are_not_an_injection_point(tenant, owner, csm):
    evil = CustomerFactory(actor=owner, customer_name="{manager} {__class__} {{ 7*7 }}", assigned_manager=csm)
    set_health(evil, 10)
    health_rule = rule(tenant, "health_below")
    health_rule.title_template = "Fix {customer_name}"
    with tenant_scope(tenant):
        services.rule_save(actor=owner, rule=health_rule)
    bad = rule(tenant, "health_below")
    bad.title_template = "Fix {customer_name.__class__} {customer_name[0]}"
    with pytest.raises(ValidationError, match="Unknown placeholder"), tenant_scope(tenant), translation.override("en"):
        services.rule_save(actor=owner, rule=bad)
    nightly(tenant)
    (task,) = tasks(tenant, rule__key="health_below")
    assert task.task_title == "Fix {manager} {__class__} {{ 7*7 }}"


def test_the_database_refuses_a_second_open_task_for_a_rule_and_customer(tenant, customer, csm):
    set_health(customer, 42)
    nightly(tenant)
    (task,) = tasks(tenant, rule__key="health_below")
    with tenant_scope(tenant):
        clone = CustomerSuccessTask(
            customer=customer, task_title="dup", task_type=1, assigned_to=csm, rule=task.rule, open_rule=task.rule
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            clone.save()
        # A concurrent worker that passed the checks loses its insert quietly.
        firing = services.Firing("again")
        CustomerSuccessTask.objects.filter(pk=task.pk).update(created_at=NOW - timedelta(days=60))
        assert services.rule_fire(task.rule, customer, firing) is None
    assert len(tasks(tenant, rule__key="health_below")) == 1

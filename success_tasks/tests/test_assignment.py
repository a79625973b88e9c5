"""Assignment: the manager by default; "balanced" picks the lightest weighted load of the team, skipping absentees;
a lead rebalances a team (preview, then apply); effectiveness is measured 30 days after completion."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from customers.tests.factories import CustomerFactory
from health.tests.factories import score_row
from success_tasks import playbook, services
from success_tasks.choices import AssigneeStrategy, TaskStatus
from success_tasks.models import CustomerSuccessTask, PlaybookRule
from success_tasks.tests.factories import TaskFactory, set_health, set_profile

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def team(make_user):
    """Manager "ann" and teammates "bob" and "cy" in team East; "dan" in team West."""
    users = {name: make_user("csm", username=name) for name in ("ann", "bob", "cy", "dan")}
    for name in ("ann", "bob", "cy"):
        set_profile(users[name], "East")
    set_profile(users["dan"], "West")
    return users


def load(owner, customer, user, priority, days):
    return TaskFactory(
        actor=owner, customer=customer, assigned_to=user, priority=priority, due_date=NOW + timedelta(days=days)
    )


def test_balanced_assignment_picks_the_lightest_weighted_load(tenant, owner, team):
    customer = CustomerFactory(actor=owner, customer_name="Fabrikam", assigned_manager=team["ann"])
    load(owner, customer, team["ann"], 2, 10)  # ann: 2
    load(owner, customer, team["bob"], 1, 10)  # bob: 1 ... but overdue doubles, due soon x1.5
    load(owner, customer, team["bob"], 1, 10)  # bob: 2
    load(owner, customer, team["cy"], 2, 2)  # cy: one medium task due in 2 days = 2 x 1.5
    # Counting tasks would pick ann or cy (1 task each); weights make ann and bob equal and cy heavier.
    with tenant_scope(tenant):
        assert services.assignee_for(customer, AssigneeStrategy.BALANCED) == team["ann"]  # tie -> the manager
        load(owner, customer, team["ann"], 1, -1)  # overdue low-priority task: 1 x 2 -> ann 4
        assert services.assignee_for(customer, AssigneeStrategy.BALANCED) == team["bob"]
        set_profile(team["bob"], "East", absent_until=date(2026, 12, 5))
        assert services.assignee_for(customer, AssigneeStrategy.BALANCED) == team["cy"]  # 3 < 4
        assert services.assignee_for(customer, AssigneeStrategy.MANAGER) == team["ann"]


def test_a_balanced_rule_assigns_to_the_lightest_member(tenant, owner, team):
    customer = CustomerFactory(actor=owner, customer_name="Fabrikam", assigned_manager=team["ann"])
    load(owner, customer, team["ann"], 3, 5)
    set_health(customer, 30)
    with tenant_scope(tenant):
        services.rules_ensure_defaults()
        PlaybookRule.objects.filter(key="health_below").update(assignee_strategy=AssigneeStrategy.BALANCED)
        playbook.run_nightly()
        task = CustomerSuccessTask.objects.get(rule__key="health_below")
    assert task.assigned_to in (team["bob"], team["cy"])
    assert task.assigned_to.username == "bob"  # bob and cy tie at 0: by name


def test_lead_rebalances_a_team_preview_then_apply(tenant, owner, team, make_user, staff_client_as):
    customer = CustomerFactory(actor=owner, customer_name="Fabrikam", assigned_manager=team["ann"])
    for _ in range(4):
        load(owner, customer, team["ann"], 3, 10)
    set_profile(team["cy"], "East", absent_until=date(2026, 12, 20))
    absent_task = load(owner, customer, team["cy"], 2, 10)
    west = load(owner, customer, team["dan"], 3, 10)
    with tenant_scope(tenant):
        moves, before, after = services.rebalance_plan("East")
    assert before[team["ann"].pk] == 12 and before[team["bob"].pk] == 0
    assert absent_task.pk in {m.task.pk for m in moves}
    assert sorted([after[team["ann"].pk], after[team["bob"].pk]]) == [6, 8]
    assert after[team["cy"].pk] == 0

    lead = make_user("cs_lead")
    client = staff_client_as(lead)
    page = client.get("/tasks/team/?team=East")
    assert page.status_code == 200 and page.content.count(b'name="move"') == len(moves)
    with tenant_scope(tenant):
        assert CustomerSuccessTask.objects.filter(assigned_to=team["bob"]).count() == 0  # preview wrote nothing
    values = [f"{m.task.pk}:{m.new.pk}" for m in moves]
    response = client.post("/tasks/team/", {"action": "rebalance", "team": "East", "move": values})
    assert response.status_code == 302
    with tenant_scope(tenant):
        assert CustomerSuccessTask.objects.get(pk=absent_task.pk).assigned_to_id != team["cy"].pk
        assert CustomerSuccessTask.objects.filter(assigned_to=team["bob"]).count() >= 2
        assert CustomerSuccessTask.objects.get(pk=west.pk).assigned_to == team["dan"]
        assert AuditLog.objects.filter(action="crm.success_task.rebalanced").count() == 1
    # A CSM may not rebalance: refused, nothing moves.
    csm_client = staff_client_as(team["bob"])
    with tenant_scope(tenant):
        mine = CustomerSuccessTask.objects.filter(assigned_to=team["bob"]).first()
    refused = csm_client.post(
        "/tasks/team/", {"action": "rebalance", "team": "East", "move": [f"{mine.pk}:{team['ann'].pk}"]}
    )
    assert refused.status_code == 403
    with tenant_scope(tenant):
        assert CustomerSuccessTask.objects.get(pk=mine.pk).assigned_to == team["bob"]


def test_effectiveness_is_recorded_30_days_after_completion(tenant, owner, team):
    customer = CustomerFactory(actor=owner, customer_name="Fabrikam", assigned_manager=team["ann"])
    set_health(customer, 50)
    score_row(customer, date(2026, 12, 1), 50)
    task = load(owner, customer, team["ann"], 3, 5)
    person = load(owner, customer, team["ann"], 3, 5)
    with tenant_scope(tenant):
        for t in (task, person):
            services.task_change_status(actor=team["ann"], task=t, status=TaskStatus.IN_PROGRESS)
            services.task_change_status(actor=team["ann"], task=t, status=TaskStatus.DONE, result="Workshop held")
        services.task_update(actor=owner, task=person, data={"effectiveness_score": Decimal("0.90")})
    with time_machine.travel(NOW + timedelta(days=29), tick=False), tenant_scope(tenant):
        assert services.effectiveness_measure() == {"measured": 0}
    score_row(customer, date(2026, 12, 31), 62)
    set_health(customer, 70)  # today's value is not what counts: the score on day 30 is
    with time_machine.travel(NOW + timedelta(days=31), tick=False), tenant_scope(tenant):
        assert services.effectiveness_measure() == {"measured": 2}
        assert services.effectiveness_measure() == {"measured": 0}
        task.refresh_from_db()
        person.refresh_from_db()
    assert task.health_change == Decimal("12.00")
    assert task.effectiveness_score == Decimal("0.80")  # 0.5 + 12 / 40
    assert person.health_change == Decimal("12.00") and person.effectiveness_score == Decimal("0.90")

"""Staff pages: board (htmx moves), my day, detail, customer tab, nav badge, rules settings, team, metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.tenancy import tenant_scope
from crm_project.testing import assert_page_not_found, query_budget
from customers.tests.factories import CustomerFactory
from success_tasks import services
from success_tasks.choices import TaskStatus
from success_tasks.models import CustomerSuccessTask, PlaybookRule, TaskComment
from success_tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def csm(make_user):
    return make_user("csm", username="csm-one")


@pytest.fixture
def customer(owner, csm):
    return CustomerFactory(actor=owner, customer_name="Tailspin", assigned_manager=csm)


def make_task(owner, customer, user, days=3, **fields):
    return TaskFactory(actor=owner, customer=customer, assigned_to=user, due_date=NOW + timedelta(days=days), **fields)


def test_board_shows_columns_highlights_and_filters(staff_client_as, owner, customer, csm):
    overdue = make_task(owner, customer, csm, days=-1, task_title="Late one")
    today = make_task(owner, customer, csm, days=0, task_title="Today one")
    TaskFactory(actor=owner, customer=customer, assigned_to=owner, task_title="Owner's", priority=4)
    client = staff_client_as(csm)
    page = client.get("/tasks/")
    body = page.content.decode()
    assert page.status_code == 200
    for status in (1, 2, 3, 4):
        assert f'data-testid="column-{status}"' in body
    assert "Late one" in body and "task-overdue" in body and "Today one" in body
    # Freeze "today" earlier in the day so the second task is due later today, not overdue.
    assert f'data-task-id="{today.pk}"' in body
    mine = client.get("/tasks/?mine=1").content.decode()
    assert "Owner&#x27;s" not in mine and "Late one" in mine
    assert "Owner&#x27;s" in client.get("/tasks/?priority=4").content.decode()
    overdue_only = client.get("/tasks/?overdue=1").content.decode()
    assert "Late one" in overdue_only and "Today one" not in overdue_only
    partial = client.get("/tasks/?mine=1", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"task-board" in partial.content
    assert overdue.pk


def test_board_query_budget(staff_client_as, owner, customer, csm):
    for day in range(15):
        make_task(owner, customer, csm, days=day - 5)
    client = staff_client_as(owner)
    client.get("/tasks/")
    with query_budget(22):
        assert client.get("/tasks/").status_code == 200


def test_drag_and_drop_endpoint_moves_and_refuses_illegal_moves(staff_client_as, owner, customer, csm, tenant):
    task = make_task(owner, customer, csm)
    client = staff_client_as(csm)
    url = f"/tasks/{task.pk}/move/"
    response = client.post(url, {"status": 2}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"task-board" in response.content
    with tenant_scope(tenant):
        assert CustomerSuccessTask.objects.get(pk=task.pk).status == TaskStatus.IN_PROGRESS
    refused = client.post(url, {"status": 3}, HTTP_HX_REQUEST="true")
    assert b"board-error" in refused.content
    client.post(url, {"status": 3, "result": "Done and dusted"}, HTTP_HX_REQUEST="true")
    with tenant_scope(tenant):
        task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.result == "Done and dusted"


def test_viewer_cannot_move_and_other_tenants_get_404(
    staff_client_as, owner, customer, csm, make_user, outsider, tenant
):
    task = make_task(owner, customer, csm)
    viewer = make_user("viewer")
    assert staff_client_as(viewer).get("/tasks/").status_code == 200
    assert staff_client_as(viewer).post(f"/tasks/{task.pk}/move/", {"status": 2}).status_code == 403
    stranger = make_user("csm")
    for client in (staff_client_as(outsider), staff_client_as(stranger)):
        assert_page_not_found(client, f"/tasks/{task.pk}/")
        assert_page_not_found(client, f"/tasks/{task.pk}/move/", methods=("post",))
        assert_page_not_found(client, f"/tasks/customer/{customer.pk}/new/")
        assert f'data-task-id="{task.pk}"' not in client.get("/tasks/").content.decode()
    assert_page_not_found(staff_client_as(outsider), f"/tasks/{task.pk}/", methods=("post",))
    with tenant_scope(tenant):
        assert CustomerSuccessTask.objects.get(pk=task.pk).status == TaskStatus.PENDING


def test_detail_shows_why_and_takes_status_comment_and_reassignment(
    staff_client_as, owner, customer, csm, tenant, make_user
):
    from success_tasks.tests.factories import set_health

    set_health(customer, 40)
    with tenant_scope(tenant):
        from success_tasks import playbook

        playbook.run_nightly()
        task = CustomerSuccessTask.objects.get(rule__key="health_below")
    client = staff_client_as(csm)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert 'data-testid="task-why"' in page and "40" in page
    assert 'data-testid="reassign-form"' not in page  # CSMs do not reassign
    client.post(f"/tasks/{task.pk}/", {"action": "comment", "body": "Left a voicemail"})
    client.post(f"/tasks/{task.pk}/", {"action": "status", "status": 2})
    response = client.post(f"/tasks/{task.pk}/", {"action": "status", "status": 3, "result": ""})
    assert response.status_code == 200 and "Record the result" in response.content.decode()
    other = make_user("csm")
    refused = client.post(f"/tasks/{task.pk}/", {"action": "reassign", "assigned_to": other.pk})
    assert refused.status_code == 403
    lead = make_user("cs_lead")
    staff_client_as(lead).post(f"/tasks/{task.pk}/", {"action": "reassign", "assigned_to": other.pk})
    with tenant_scope(tenant):
        task.refresh_from_db()
        assert TaskComment.objects.filter(task=task).count() == 1
    assert task.status == TaskStatus.IN_PROGRESS and task.assigned_to == other


def test_create_from_the_customer_page(staff_client_as, owner, customer, csm, tenant, make_user):
    client = staff_client_as(csm)
    tab = client.get(f"/customers/{customer.pk}/?tab=success_tasks")
    assert tab.status_code == 200
    response = client.post(
        f"/tasks/customer/{customer.pk}/new/",
        {"task_title": "Quarterly review", "task_type": 1, "priority": 3, "due_date": "2026-12-10T15:00"},
    )
    assert response.status_code == 302
    with tenant_scope(tenant):
        task = CustomerSuccessTask.objects.get(task_title="Quarterly review")
    assert task.assigned_to == csm and not task.auto_generated  # the customer's manager by default
    viewer = make_user("viewer")
    assert staff_client_as(viewer).post(f"/tasks/customer/{customer.pk}/new/", {"task_title": "x"}).status_code == 403


def test_customer_tab_lists_the_tasks(staff_client_as, owner, customer, csm):
    from django.test import RequestFactory

    from success_tasks.views import customer_tasks_tab_context

    make_task(owner, customer, csm, task_title="Tab task")
    request = RequestFactory().get("/")
    request.user = csm
    with tenant_scope(customer.tenant), query_budget(4):  # the role (3, cached per request) + the tasks
        context = customer_tasks_tab_context(request, customer)
        titles = [t.task_title for t in context["customer_tasks"]]
    assert titles == ["Tab task"]


def test_nav_badge_counts_my_due_and_overdue_tasks_in_one_query(owner, customer, csm, tenant):
    from django.test import RequestFactory

    from success_tasks.selectors import nav_badge

    make_task(owner, customer, csm, days=-2)
    make_task(owner, customer, csm, days=0)
    make_task(owner, customer, csm, days=5)
    request = RequestFactory().get("/")
    request.user = csm
    with tenant_scope(tenant), query_budget(1):
        assert nav_badge(request) == 2


def test_my_day_groups(staff_client_as, owner, customer, csm):
    make_task(owner, customer, csm, days=-1, task_title="Yesterday's")
    make_task(owner, customer, csm, days=3, task_title="Later this week")
    page = staff_client_as(csm).get("/tasks/my-day/").content.decode()
    overdue = page.split('data-testid="my-day-overdue"')[1].split("</section>")[0]
    week = page.split('data-testid="my-day-week"')[1].split("</section>")[0]
    assert "Yesterday" in overdue and "Later this week" in week


def test_rules_settings_page_edits_rules_and_is_for_leads(staff_client_as, owner, make_user, tenant):
    client = staff_client_as(owner)
    assert "rule-row" in client.get("/tasks/rules/").content.decode()
    with tenant_scope(tenant):
        rule = PlaybookRule.objects.get(key="no_contact")
    data = {
        "name": "Quiet for 45 days",
        "enabled": "on",
        "trigger": "no_contact",
        "threshold": "0",
        "window_days": "45",
        "task_type": "1",
        "priority": "3",
        "title_template": "Call {customer_name}",
        "description_template": "{condition}",
        "due_in_days": "5",
        "assignee_strategy": "balanced",
    }
    assert client.post(f"/tasks/rules/{rule.pk}/", data).status_code == 302
    bad = client.post(f"/tasks/rules/{rule.pk}/", {**data, "title_template": "Call {customer_name.__init__}"})
    assert bad.status_code == 200 and "Unknown placeholder" in bad.content.decode()
    with tenant_scope(tenant):
        rule.refresh_from_db()
    assert (rule.window_days, rule.assignee_strategy, rule.title_template) == (45, "balanced", "Call {customer_name}")
    csm = make_user("csm")
    assert staff_client_as(csm).get("/tasks/rules/").status_code == 403
    assert staff_client_as(csm).post(f"/tasks/rules/{rule.pk}/", {**data, "window_days": "1"}).status_code == 403
    with tenant_scope(tenant):
        rule.refresh_from_db()
    assert rule.window_days == 45


def test_metrics_page(staff_client_as, owner, customer, csm, tenant):
    done = make_task(owner, customer, csm, days=2, task_type=4)
    late = make_task(owner, customer, csm, days=-3, task_type=4)
    cancelled = make_task(owner, customer, csm, days=2, task_type=4)
    with tenant_scope(tenant):
        for task in (done, late):
            services.task_change_status(actor=csm, task=task, status=2)
            services.task_change_status(actor=csm, task=task, status=3, result="Fixed")
        services.task_change_status(actor=csm, task=cancelled, status=4)
    client = staff_client_as(owner)
    client.get("/tasks/metrics/")
    with query_budget(20):
        page = client.get("/tasks/metrics/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "66.7%" in body.split('data-testid="resolution-rate"')[1][:40]
    on_time = body.split('data-testid="on-time"')[1]
    assert "50.0" in on_time  # one of the two done tasks was finished before its due date

"""Real Chromium: drag a card across the board (htmx swap), done asks for the result; the board at phone width."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_scope
from conftest import login_in_browser
from customers.tests.factories import CustomerFactory
from success_tasks.choices import TaskStatus
from success_tasks.models import CustomerSuccessTask
from success_tasks.tests.factories import TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def status_of(task):
    with tenant_scope(task.tenant):
        return CustomerSuccessTask.objects.get(pk=task.pk).status


def test_drag_and_drop_changes_the_status(page, make_user):
    csm = make_user("csm", username="dragger")
    customer = CustomerFactory(actor=csm, customer_name="Globex", assigned_manager=csm)
    task = TaskFactory(actor=csm, customer=customer, assigned_to=csm, task_title="Move me",
                       due_date=timezone.now() + timedelta(days=2))  # fmt: skip
    login_in_browser(page, "dragger")
    page.goto(f"{page.base_url}/tasks/")
    card = f"[data-task-id='{task.pk}']"
    page.drag_and_drop(card, "[data-testid=column-2] .task-drop")
    page.wait_for_selector(f"[data-testid=column-2] {card}")
    assert status_of(task) == TaskStatus.IN_PROGRESS

    page.once("dialog", lambda dialog: dialog.accept("Renewal signed"))
    page.drag_and_drop(card, "[data-testid=column-3] .task-drop")
    page.wait_for_selector(f"[data-testid=column-3] {card}")
    assert status_of(task) == TaskStatus.DONE
    with tenant_scope(task.tenant):
        assert CustomerSuccessTask.objects.get(pk=task.pk).result == "Renewal signed"


def test_board_fits_a_phone(phone_page, make_user):
    csm = make_user("csm", username="phoner")
    customer = CustomerFactory(actor=csm, customer_name="Initech", assigned_manager=csm)
    TaskFactory(actor=csm, customer=customer, assigned_to=csm, task_title="A task with a rather long title to wrap")
    login_in_browser(phone_page, "phoner")
    for path in ("/tasks/", "/tasks/my-day/", "/tasks/metrics/"):
        phone_page.goto(f"{phone_page.base_url}{path}")
        assert phone_page.evaluate(NO_OVERFLOW) <= 0, path

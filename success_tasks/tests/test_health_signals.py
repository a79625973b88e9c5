"""The health app's signals (connected in apps.py) and its score history feed the rules."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.tenancy import tenant_scope
from customers.tests.factories import CustomerFactory
from health.models import CustomerHealthScore
from health.signals import health_alert, health_score_changed
from health.tests.factories import score_row
from success_tasks import playbook
from success_tasks.models import CustomerSuccessTask
from success_tasks.tests.factories import set_health

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def customer(owner, make_user):
    return CustomerFactory(actor=owner, customer_name="Contoso", assigned_manager=make_user("csm"))


def keys(tenant):
    with tenant_scope(tenant):
        return sorted(CustomerSuccessTask.objects.values_list("rule__key", flat=True))


def test_health_score_changed_and_alerts_open_tasks_once(tenant, customer):
    row = score_row(customer, date(2026, 12, 1), 35, risk_level=4)
    with tenant_scope(tenant):
        for _ in range(2):
            health_score_changed.send(
                sender=CustomerHealthScore, score=row, customer=customer, previous_overall=Decimal("70"),
                previous_risk_level=2,
            )  # fmt: skip
            health_alert.send(
                sender=CustomerHealthScore, customer=customer, kind="drop", score=row, drop=Decimal("35"),
                window_days=30, previous_risk_level=2, risk_level=4,
            )  # fmt: skip
            health_alert.send(
                sender=CustomerHealthScore, customer=customer, kind="risk_up", score=row, drop=Decimal("0"),
                window_days=30, previous_risk_level=2, risk_level=4,
            )  # fmt: skip
    assert keys(tenant) == ["health_below", "health_drop", "risk_level"]


def test_nightly_reads_drops_and_risk_from_the_health_history(tenant, customer):
    with time_machine.travel(NOW, tick=False):
        score_row(customer, date(2026, 11, 20), 82, risk_level=1)
        score_row(customer, date(2026, 12, 1), 61, risk_level=3)
        set_health(customer, 61)
        with tenant_scope(tenant):
            playbook.run_nightly()
            playbook.run_nightly()
    assert keys(tenant) == ["health_drop", "risk_level"]

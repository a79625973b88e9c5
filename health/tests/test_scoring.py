"""Daily scoring against the database: rows, re-weighting, idempotency after a crash, signals and alerts."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.models import Notification
from accounts.tenancy import tenant_scope, unscoped
from contracts.choices import ContractStatus
from contracts.tests.factories import ContractFactory, InvoiceFactory
from customers.choices import CustomerStatus
from customers.tests.factories import make_customer, reload
from health import services
from health.models import CustomerHealthScore, HealthAlert
from health.signals import health_alert, health_score_changed
from health.tests.factories import aware, score_row, usage

TODAY = date(2026, 6, 15)
pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(teammate):
    return make_customer(teammate, customer_name="Blue Lake Ltd", status=CustomerStatus.FORMAL)


def with_contract(customer, *, late: int = 0, invoices: int = 4):
    contract = ContractFactory(
        customer=customer, status=ContractStatus.ACTIVE, start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)
    )
    for i in range(invoices):
        due = date(2026, 1 + i, 20)
        paid = due + timedelta(days=10) if i < late else due - timedelta(days=1)
        InvoiceFactory(
            contract=contract,
            amount=Decimal("10000"),
            issue_date=due - timedelta(days=20),
            due_date=due,
            paid_date=paid,
            status="paid",
        )
    return contract


def rows(customer):
    with tenant_scope(customer.tenant):
        return list(CustomerHealthScore.objects.filter(customer=customer).order_by("score_date"))


@time_machine.travel("2026-06-15 20:00:00+08:00", tick=False)
def test_contract_and_invoices_give_a_partial_score_with_completeness(customer, tenant):
    with_contract(customer, late=1)
    with tenant_scope(tenant):
        counts = services.scores_save(TODAY)
    assert counts["scored"] == 1
    (row,) = rows(customer)
    assert row.satisfaction_score is None and row.activity_score is None
    # financial: 1 of 4 late -> 75 punctual; CV 0 -> 100; no previous contract -> 50: 0.6*75+0.2*100+0.2*50 = 75
    assert row.financial_score == Decimal("75.00")
    assert row.data_completeness == Decimal("0.450")
    assert row.churn_source == "rules" and row.churn_probability is not None
    assert "Payment delays: 1 of 4 invoices late (12 months)" in row.factors["negative_factors"]
    assert reload(customer).health_score == row.overall_score
    assert reload(customer).ltv == Decimal("120000.00")


@time_machine.travel("2026-06-15 20:00:00+08:00", tick=False)
def test_customer_without_data_is_unknown_and_gets_no_row(customer, tenant):
    with tenant_scope(tenant):
        counts = services.scores_save(TODAY)
    assert counts == {**counts, "unknown": 1, "scored": 0}
    assert rows(customer) == []


@time_machine.travel("2026-06-15 20:00:00+08:00", tick=False)
def test_rerun_after_a_crash_leaves_one_row_per_customer_per_day(teammate, tenant, monkeypatch):
    customers = [make_customer(teammate, customer_name=f"C{i} Ltd", status=CustomerStatus.FORMAL) for i in range(5)]
    for c in customers:
        with_contract(c)
    monkeypatch.setattr(services, "CHUNK", 2)
    with tenant_scope(tenant), pytest.raises(RuntimeError):
        services.scores_save(TODAY, fail_after_chunks=1)
    with tenant_scope(tenant):
        assert CustomerHealthScore.objects.count() == 2
        services.scores_save(TODAY)
        services.scores_save(TODAY)
        assert CustomerHealthScore.objects.count() == 5
        assert CustomerHealthScore.objects.filter(score_date=TODAY).values("customer").distinct().count() == 5


@time_machine.travel("2026-06-15 20:00:00+08:00", tick=False)
def test_changed_signal_and_a_drop_alert_sent_once(customer, tenant, teammate, django_capture_on_commit_callbacks):
    with_contract(customer, late=3)
    score_row(customer, TODAY - timedelta(days=20), 95, 1)
    changed, alerts = [], []

    def on_changed(**kwargs):
        changed.append(kwargs)

    def on_alert(**kwargs):
        alerts.append(kwargs)

    health_score_changed.connect(on_changed)
    health_alert.connect(on_alert)
    try:
        with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
            services.scores_save(TODAY)
            services.scores_save(TODAY)  # a rerun the same day alerts nothing new
            services.scores_save(TODAY + timedelta(days=1))  # still down, same window: no second drop alert
    finally:
        health_score_changed.disconnect(on_changed)
        health_alert.disconnect(on_alert)
    assert len(changed) == 3
    assert changed[0]["previous_overall"] == Decimal("95.00") and changed[0]["previous_risk_level"] == 1
    assert changed[0]["customer"] == customer
    kinds = sorted(a["kind"] for a in alerts)
    assert kinds == ["drop", "risk_up"]
    drop = next(a for a in alerts if a["kind"] == "drop")
    assert drop["drop"] >= 10 and drop["window_days"] == 30 and drop["score"].customer_id == customer.pk
    with unscoped("test"):
        assert Notification.objects.filter(recipient=teammate, kind="health.drop").count() == 1
    with tenant_scope(tenant):
        assert HealthAlert.objects.filter(customer=customer, kind="drop").count() == 1


@time_machine.travel("2026-06-15 20:00:00+08:00", tick=False)
def test_usage_events_feed_activity(customer, tenant):
    with_contract(customer)
    for i in range(10):
        usage(customer, aware(TODAY - timedelta(days=i)), event_type="login")
    for name in ["reports", "alerts", "billing", "sso"]:
        usage(customer, aware(TODAY - timedelta(days=2)), event_type="feature_use", feature=name)
    with tenant_scope(tenant):
        services.scores_save(TODAY)
    (row,) = rows(customer)
    # 10 logins -> 50, 4 features -> 80, 0 tickets -> 100: 0.4*50 + 0.3*80 + 0.3*100 = 74
    assert row.activity_score == Decimal("74.00")
    assert row.inputs["logins_30d"] == 10


def test_leakage_guard_snapshot_ignores_rows_after_it(customer, tenant):
    from health.features import NUMERIC_FEATURES, load_inputs, moment

    with time_machine.travel("2026-06-15 20:00:00+08:00", tick=False):
        with_contract(customer, late=1)
        usage(customer, aware(date(2026, 3, 1)))
    snapshot = date(2026, 3, 31)
    with tenant_scope(tenant):
        before = load_inputs(moment(snapshot), include_lost=True)[NUMERIC_FEATURES]
    with time_machine.travel("2026-06-15 20:00:00+08:00", tick=False):
        usage(customer, aware(date(2026, 4, 2)))
        ContractFactory(
            customer=customer, status=ContractStatus.ACTIVE, start_date=date(2026, 4, 5), end_date=date(2027, 4, 4)
        )
    with tenant_scope(tenant):
        after = load_inputs(moment(snapshot), include_lost=True)[NUMERIC_FEATURES]
    pd_equal = (
        before.fillna(-1)
        .drop(columns=["customer_age_days"])
        .equals(after.fillna(-1).drop(columns=["customer_age_days"]))
    )
    assert pd_equal, "a feature changed when rows dated after the snapshot were added"

"""RFM scoring on hand-computed fixtures, the named-segment map, the nightly job and the clusters."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import JobRun
from accounts.tenancy import tenant_scope, unscoped
from contracts import services as contract_services
from segments import services
from segments.models import ClusterRun, RfmScore
from segments.rfm import quantile_scores, rfm_segment, score_customers
from segments.tasks import compute_rfm
from segments.tests.factories import customer_with, signed_contract


def test_quantile_scores_by_hand():
    # 10 values: the share strictly below 7 is 6/10 -> 1 + floor(5 * 0.6) = 4; ties share a score.
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert quantile_scores(values) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quantile_scores(values, reverse=True) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert quantile_scores([5, 5, 5, 1]) == [2, 2, 2, 1]
    assert quantile_scores([]) == []


@pytest.mark.parametrize(
    ("r", "f", "m", "name"),
    [
        (5, 5, 5, "champions"),
        (4, 4, 4, "champions"),
        (3, 5, 1, "loyal"),
        (5, 1, 5, "new"),
        (3, 3, 3, "potential_loyalist"),
        (1, 4, 2, "at_risk"),
        (2, 1, 5, "at_risk"),
        (1, 1, 1, "hibernating"),
        (3, 1, 1, "need_attention"),
    ],
)
def test_segment_map(r, f, m, name):
    assert rfm_segment(r, f, m) == name


def test_score_customers_by_hand():
    rows = [
        {"customer_id": 1, "recency_days": 10, "frequency": 5, "monetary": Decimal("900")},
        {"customer_id": 2, "recency_days": 400, "frequency": 4, "monetary": Decimal("800")},
        {"customer_id": 3, "recency_days": 20, "frequency": 1, "monetary": Decimal("100")},
        {"customer_id": 4, "recency_days": 500, "frequency": 1, "monetary": Decimal("50")},
        {"customer_id": 5, "recency_days": 100, "frequency": 2, "monetary": Decimal("300")},
    ]
    scored = {row["customer_id"]: row for row in score_customers(rows)}
    # recency reversed: -10 has 4 of 5 below -> 5; -20: 3 below -> 4; -100: 2 -> 3; -400: 1 -> 2; -500: 0 -> 1
    assert [scored[i]["r_score"] for i in range(1, 6)] == [5, 2, 4, 1, 3]
    # frequency 5,4,1,1,2: below 5 -> 4 -> 5; below 4 -> 3 -> 4; below 1 -> 0 -> 1; below 2 -> 2 -> 3
    assert [scored[i]["f_score"] for i in range(1, 6)] == [5, 4, 1, 1, 3]
    assert [scored[i]["m_score"] for i in range(1, 6)] == [5, 4, 2, 1, 3]
    assert [scored[i]["rfm_segment"] for i in range(1, 6)] == [
        "champions",
        "at_risk",
        "new",
        "hibernating",
        "potential_loyalist",
    ]


@pytest.mark.django_db
def test_nightly_job_scores_from_contracts_and_payments(owner):
    tz = timezone.get_current_timezone()
    loyal = customer_with(owner, customer_name="Loyal", health=90)
    lapsed = customer_with(owner, customer_name="Lapsed", health=30)
    customer_with(owner, customer_name="Prospect", health=50)  # no purchase: not scored
    with time_machine.travel(datetime(2025, 1, 10, 10, tzinfo=tz), tick=False):
        signed_contract(owner, lapsed, amount=10000, start=date(2025, 1, 1), end=date(2025, 6, 30))
    with time_machine.travel(datetime(2026, 1, 10, 10, tzinfo=tz), tick=False):
        first = signed_contract(owner, loyal, amount=50000, start=date(2026, 1, 1), end=date(2026, 12, 31))
        signed_contract(owner, loyal, amount=70000, start=date(2026, 1, 5), end=date(2026, 12, 31))
        with tenant_scope(owner.tenant):
            invoice = contract_services.invoice_upsert(
                actor=owner,
                contract=first,
                data={
                    "invoice_number": "INV-1",
                    "amount": Decimal("50000"),
                    "issue_date": date(2026, 1, 2),
                    "due_date": date(2026, 2, 2),
                },
            )
    with time_machine.travel(datetime(2026, 2, 1, 10, tzinfo=tz), tick=False):
        with tenant_scope(owner.tenant):
            contract_services.payment_upsert(
                actor=owner, invoice=invoice, data={"amount": Decimal("50000"), "paid_date": date(2026, 1, 20)}
            )
    with time_machine.travel(datetime(2026, 3, 1, 3, tzinfo=tz), tick=False):
        with tenant_scope(owner.tenant):
            counts = services.rfm_compute()
            scores = {s.customer.customer_name: s for s in RfmScore.objects.select_related("customer")}
    assert counts["scored"] == 2
    assert set(scores) == {"Loyal", "Lapsed"}
    # Loyal: last purchase = the payment of 2026-01-20 -> 40 days; 2 contracts; 120000
    assert (scores["Loyal"].recency_days, scores["Loyal"].frequency, scores["Loyal"].monetary) == (
        40,
        2,
        Decimal("120000.00"),
    )
    # Lapsed: one contract started 2025-01-01 -> 424 days
    assert (scores["Lapsed"].recency_days, scores["Lapsed"].frequency) == (424, 1)
    # 2 customers: the better one scores 1 + floor(5 * 1/2) = 3 on every dimension, the other 1
    assert (scores["Loyal"].r_score, scores["Loyal"].f_score, scores["Loyal"].m_score) == (3, 3, 3)
    assert (scores["Lapsed"].r_score, scores["Lapsed"].f_score, scores["Lapsed"].m_score) == (1, 1, 1)
    assert scores["Loyal"].rfm_segment == "potential_loyalist"
    assert scores["Lapsed"].rfm_segment == "hibernating"


@pytest.mark.django_db
def test_job_records_its_run_and_clusters_with_a_silhouette(owner):
    tz = timezone.get_current_timezone()
    with time_machine.travel(datetime(2026, 1, 10, 10, tzinfo=tz), tick=False):
        for i in range(8):
            customer = customer_with(owner, customer_name=f"C{i}", health=90 - i if i < 4 else 20 + i)
            amount = 500000 if i < 4 else 5000
            signed_contract(owner, customer, amount=amount, start=date(2026, 1, 1) if i < 4 else date(2025, 1, 1))
    with time_machine.travel(datetime(2026, 3, 1, 3, tzinfo=tz), tick=False):
        compute_rfm(owner.tenant.pk)
        compute_rfm(owner.tenant.pk)  # idempotent: same scores, one row per customer
    with tenant_scope(owner.tenant):
        assert RfmScore.objects.count() == 8
        run = ClusterRun.objects.first()
        assert run.k >= 2 and run.silhouette is not None and -1 <= run.silhouette <= 1
        assert sum(run.sizes) == 8
        assert RfmScore.objects.filter(cluster__isnull=True).count() == 0
    with unscoped("read job runs"):
        assert JobRun.objects.filter(job_name="compute_rfm", status=JobRun.Status.SUCCEEDED).count() == 2

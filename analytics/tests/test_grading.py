"""Dynamic grading on a hand-computed fixture, the nightly job's idempotence, accept / reject (page and API)."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditLog, JobRun
from accounts.tenancy import tenant_scope, unscoped
from analytics import grading
from analytics.models import LevelSuggestion, SuggestionStatus
from analytics.tasks import grade_customers
from analytics.tests.factories import contract_row, health_row
from crm_project.testing import assert_envelope, query_budget
from customers.choices import CustomerLevel, CustomerStatus
from customers.models import Customer
from customers.tests.factories import make_customer
from health.services import ltv_refresh

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 1)


def travel():
    return time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=timezone.get_current_timezone()), tick=False)


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


@pytest.fixture
def pair(owner):
    """A: ltv 200,000, health 90 (risk 1, churn 0.10); B: ltv 50,000, health 30 (risk 4, churn 0.80); same tenure.

    value A = 60 × 1 + 40 × 1 = 100; value B = 60 × 0.25 + 40 × 0.25 = 25 (ARPU ratio = ltv ratio: same start).
    potential A: upsell 0.1 + 0.5 × 40/50 = 0.5, growth 0.2 → 100 × 0.2 / 0.38 = 52.6; B: growth 0.04 → 10.5.
    risk A = 50 × 0.1 + 0 = 5; B = 50 × 0.8 + 50 × 3/3 = 90.
    grade A = 60 + 13.16 + 14.25 = 87.4 → strategic; B = 15 + 2.63 + 1.5 = 19.1 → normal (its level: no suggestion).
    """
    a = make_customer(owner, customer_name="Alpha Cloud")
    b = make_customer(owner, customer_name="Beta Retail")
    contract_row(a, amount=200000, start=date(2025, 3, 1), end=date(2026, 12, 31))
    contract_row(b, amount=50000, start=date(2025, 3, 1), end=date(2026, 12, 31))
    health_row(a, day=TODAY, overall=90, risk_level=1, churn="0.1")
    health_row(b, day=TODAY, overall=30, risk_level=4, churn="0.8")
    with tenant_scope(owner.tenant):
        ltv_refresh()
    return a, b


def test_level_thresholds_and_risk_points():
    assert [grading.level_for(s) for s in (0, 34.9, 35, 54.9, 55, 74.9, 75, 100)] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert grading.risk_points(None, None) == 50
    assert grading.risk_points(1, 0.1) == pytest.approx(5)
    assert grading.risk_points(4, 0.8) == pytest.approx(90)


def test_grades_match_the_hand_computation(owner, pair):
    a, b = pair
    with travel(), tenant_scope(owner.tenant):
        grades = {g.customer_id: g for g in grading.grade_customers(list(Customer.objects.order_by("pk")))}
    ga, gb = grades[a.pk], grades[b.pk]
    assert (ga.value, ga.potential, ga.risk, ga.score, ga.suggested_level) == (100.0, 52.6, 5.0, 87.4, 4)
    assert (gb.value, gb.potential, gb.risk, gb.score, gb.suggested_level) == (25.0, 10.5, 90.0, 19.1, 1)
    assert ga.reasons["ltv"] == 200000 and ga.reasons["risk_level"] == 1 and ga.reasons["estimated_growth"] == 0.2


def test_nightly_job_is_idempotent_and_records_its_run(owner, pair):
    a, _b = pair
    with travel():
        first = grade_customers(owner.tenant_id)
        second = grade_customers(owner.tenant_id)
    assert (first["created"], first["updated"], first["unchanged"]) == (1, 0, 1)
    assert (second["created"], second["updated"]) == (0, 1)
    with tenant_scope(owner.tenant):
        rows = list(LevelSuggestion.objects.all())
    assert len(rows) == 1 and rows[0].customer_id == a.pk and rows[0].status == SuggestionStatus.PENDING
    assert (rows[0].current_level, rows[0].suggested_level, rows[0].grade_score) == (1, 4, Decimal("87.4"))
    with unscoped("test reads job runs"):
        assert JobRun.objects.filter(job_name="grade_customers", status="succeeded").count() == 2


def test_accepting_changes_the_level_through_the_service_and_is_audited(owner, lead, pair, staff_client_as):
    a, _b = pair
    with travel():
        grade_customers(owner.tenant_id)
    with tenant_scope(owner.tenant):
        suggestion = LevelSuggestion.objects.get()
    client = staff_client_as(lead)
    page = client.get("/analytics/grading/")
    assert page.status_code == 200 and "Alpha Cloud" in page.content.decode()
    assert "lifetime value 200000.0" in page.content.decode()  # the figures that drove it
    response = client.post(f"/analytics/grading/{suggestion.pk}/accept")
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        a.refresh_from_db()
        suggestion.refresh_from_db()
        actions = set(AuditLog.objects.filter(object_id=str(a.pk)).values_list("action", flat=True))
    assert a.level == CustomerLevel.STRATEGIC and suggestion.status == SuggestionStatus.ACCEPTED
    assert suggestion.decided_by == lead
    assert {"crm.customer.updated", "crm.level_suggestion.accepted"} <= actions
    with travel():
        counts = grade_customers(owner.tenant_id)
    assert counts["created"] == 0  # the level now matches the grade


def test_a_rejected_move_is_not_suggested_again_and_a_matching_level_withdraws(owner, lead, pair, api_as):
    a, b = pair
    with travel():
        grade_customers(owner.tenant_id)
    with tenant_scope(owner.tenant):
        suggestion = LevelSuggestion.objects.get()
    data = assert_envelope(
        api_as(lead).post(f"/api/v1/level-suggestions/{suggestion.pk}/reject", {"note": "Pilot only"}, format="json"),
        200,
    )
    assert data["status"] == "rejected" and data["decision_note"] == "Pilot only"
    with travel():
        counts = grade_customers(owner.tenant_id)
    assert counts["created"] == 0 and counts["kept_rejected"] == 1
    # B's level moved by hand to VIP: the job suggests going back to normal; setting it to normal withdraws that.
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=b.pk).update(level=CustomerLevel.VIP)
    with travel():
        assert grade_customers(owner.tenant_id)["created"] == 1
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=b.pk).update(level=CustomerLevel.NORMAL)
    with travel():
        assert grade_customers(owner.tenant_id)["withdrawn"] == 1
    with tenant_scope(owner.tenant):
        assert not LevelSuggestion.objects.filter(status=SuggestionStatus.PENDING).exists()
        Customer.objects.filter(pk=b.pk).update(level=CustomerLevel.VIP)
    with travel():
        assert grade_customers(owner.tenant_id)["created"] == 1
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=b.pk).update(status=CustomerStatus.LOST)  # lost: no longer graded
    with travel():
        assert grade_customers(owner.tenant_id)["withdrawn"] == 1
    with tenant_scope(owner.tenant):
        assert not LevelSuggestion.objects.filter(status=SuggestionStatus.PENDING).exists()


def test_api_list_accept_permissions_and_isolation(owner, lead, teammate, outsider, pair, api_as):
    with travel():
        grade_customers(owner.tenant_id)
    with tenant_scope(owner.tenant):
        suggestion = LevelSuggestion.objects.get()
    with query_budget(12):
        data = assert_envelope(api_as(lead).get("/api/v1/level-suggestions?page=1&size=10"), 200)
    assert data["total"] == 1 and data["items"][0]["suggested_level"] == 4
    assert len(data["items"][0]["reasons"]) == 3
    # A CSM sees suggestions but may not decide; another tenant gets 404 like a missing id.
    assert api_as(teammate).post(f"/api/v1/level-suggestions/{suggestion.pk}/accept").status_code == 403
    assert_envelope(api_as(outsider).post(f"/api/v1/level-suggestions/{suggestion.pk}/accept"), 404, code=40001)
    data = assert_envelope(api_as(lead).post(f"/api/v1/level-suggestions/{suggestion.pk}/accept"), 200)
    assert data["status"] == "accepted"
    again = api_as(lead).post(f"/api/v1/level-suggestions/{suggestion.pk}/accept")
    assert again.status_code == 400 and "status" in again.json()["data"]["errors"]

"""The KPI dashboard on a small hand-built fixture: every indicator, the filters, the page, XLSX and PDF."""

from datetime import date, datetime, timedelta
from io import BytesIO

import pytest
import time_machine
from django.utils import timezone

from accounts.tenancy import tenant_scope
from analytics import kpis
from analytics.models import Team
from analytics.selectors import scoped_customers
from analytics.tests.factories import contract_row
from contracts.choices import ContractStatus
from crm_project.testing import assert_envelope, query_budget
from customers.tests.factories import make_customer
from service_records.models import NpsResponse, ServiceRecord

pytestmark = pytest.mark.django_db
TZ = timezone.get_current_timezone()


def travel():
    return time_machine.travel(datetime(2026, 3, 15, 12, tzinfo=TZ), tick=False)


def months(start, end):
    """health's monthly-revenue rule: a contract's amount spread over max(days / 30.4375, 1) months."""
    return max((end - start).days / 30.4375, 1.0)


def ticket(customer, n, opened, *, resolved=False, response=None, rating=None):
    when = datetime(opened.year, opened.month, opened.day, 9, tzinfo=TZ)
    with tenant_scope(customer.tenant):
        ServiceRecord.objects.create(
            customer=customer,
            source_system="test",
            external_id=f"T{n}",
            title="Ticket",
            priority="P3",
            opened_at=when,
            opened_month=opened.replace(day=1),
            first_response_at=when + timedelta(minutes=response) if response is not None else None,
            resolved_at=when + timedelta(hours=30) if resolved else None,
            status="resolved" if resolved else "open",
            response_minutes=response,
            satisfaction_overall=rating,
        )


def nps(customer, score, day):
    with tenant_scope(customer.tenant):
        NpsResponse.objects.create(
            customer=customer, score=score, responded_at=datetime(2026, day[0], day[1], tzinfo=TZ)
        )


@pytest.fixture
def book(owner, teammate):
    """Period 3m on 2026-03-15 = Jan 1 – Mar 15 (months Jan, Feb, Mar cut at the 15th).

    C1: K1 2025-01-01..2026-01-31 12,000, renewed by K1b 2026-02-01..2027-01-31 18,000 (an upsell).
    C2: K2 2025-02-01..2026-02-28 24,000, not renewed (lost at the end of February).
    C3: K3 2025-06-01..2026-05-31 6,000 (running throughout; managed by the teammate).
    C4: K4 2024-01-01..2026-12-31 36,000, terminated on 2026-03-10.
    """
    c1 = make_customer(owner, customer_name="C1 Cloud")
    c2 = make_customer(owner, customer_name="C2 Retail")
    c3 = make_customer(owner, customer_name="C3 Energy", assigned_manager=teammate)
    c4 = make_customer(owner, customer_name="C4 Logistics")
    k1 = contract_row(c1, amount=12000, start=date(2025, 1, 1), end=date(2026, 1, 31), status=ContractStatus.EXPIRED)
    contract_row(c1, amount=18000, start=date(2026, 2, 1), end=date(2027, 1, 31), predecessor=k1)
    contract_row(c2, amount=24000, start=date(2025, 2, 1), end=date(2026, 2, 28), status=ContractStatus.EXPIRED)
    contract_row(c3, amount=6000, start=date(2025, 6, 1), end=date(2026, 5, 31))
    contract_row(
        c4,
        amount=36000,
        start=date(2024, 1, 1),
        end=date(2026, 12, 31),
        status=ContractStatus.TERMINATED,
        terminated_at=datetime(2026, 3, 10, 10, tzinfo=TZ),
    )
    contract_row(c3, amount=99999, start=date(2026, 2, 1), end=date(2026, 12, 31), status=ContractStatus.DRAFT)
    # Tickets: January 2 (one resolved, 60 and 180 min to respond, rated 5 and 4), February 1 (resolved, 30, 3).
    ticket(c1, 1, date(2026, 1, 10), resolved=True, response=60, rating=5)
    ticket(c2, 2, date(2026, 1, 20), response=180, rating=4)
    ticket(c3, 3, date(2026, 2, 5), resolved=True, response=30, rating=3)
    ticket(c3, 4, date(2025, 12, 5), resolved=True, response=1, rating=1)  # before the period: ignored
    # NPS: January 10, 9, 3 (2 promoters, 1 detractor); February 8 (passive).
    nps(c1, 10, (1, 5))
    nps(c2, 9, (1, 6))
    nps(c3, 3, (1, 7))
    nps(c3, 8, (2, 7))
    return c1, c2, c3, c4


def board_for(user, **filters):
    with travel(), tenant_scope(user.tenant):
        customers, _applied = scoped_customers(user, **filters)
        return kpis.dashboard(customers, period="3m")


def test_every_indicator_on_the_hand_built_fixture(owner, book):
    board = board_for(owner)
    value = {i["key"]: i["value"] for i in board["indicators"]}
    met = {i["key"]: i["met"] for i in board["indicators"]}
    # Base on Jan 1: C1, C2, C3, C4; paying on Mar 15: C1 (K1b), C3 → retention 50 %, churn 50 %.
    assert (value["retention"], value["churn"]) == (50.0, 50.0)
    # Terms ending in the period: K1 (renewed) and K2 (not) → 50 %.
    assert value["renewal_rate"] == 50.0
    # K1b starts in the period with 18,000 > 12,000: C1 expanded, 1 of the 4 base customers → 25 %.
    assert value["upsell_rate"] == 25.0
    # LTV on Mar 15: (12,000 + 18,000 + 24,000 + 6,000 + 36,000) / 4 = 24,000; on Dec 31: 78,000 / 4 = 19,500.
    assert value["ltv_growth"] == round(100 * (24000 - 19500) / 19500, 1) == 23.1
    arpu_now = (
        18000 / months(date(2026, 2, 1), date(2027, 1, 31)) + 6000 / months(date(2025, 6, 1), date(2026, 5, 31))
    ) / 2
    arpu_before = (
        12000 / months(date(2025, 1, 1), date(2026, 1, 31))
        + 24000 / months(date(2025, 2, 1), date(2026, 2, 28))
        + 6000 / months(date(2025, 6, 1), date(2026, 5, 31))
        + 36000 / months(date(2024, 1, 1), date(2026, 12, 31))
    ) / 4
    assert value["arpu_growth"] == round(100 * (round(arpu_now, 2) - round(arpu_before, 2)) / round(arpu_before, 2), 1)
    # Tickets of the period: 3, 2 resolved; ratings 5, 4, 3; responses 60, 180, 30 minutes.
    assert value["resolution_rate"] == 66.7
    assert value["satisfaction"] == 4.0
    assert value["first_response_hours"] == 1.5
    # NPS: 4 answers, 2 promoters, 1 detractor → 25.
    assert value["nps"] == 25.0
    assert met == {
        "retention": False,
        "churn": False,
        "satisfaction": False,
        "nps": False,
        "renewal_rate": False,
        "ltv_growth": True,
        "arpu_growth": met["arpu_growth"],
        "upsell_rate": True,
        "first_response_hours": True,
        "resolution_rate": False,
    }


def test_monthly_series(owner, book):
    board = board_for(owner)
    series = {i["key"]: i["series"] for i in board["indicators"]}
    assert [m["month"] for m in board["months"]] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    # January and February keep all 4; March starts with 3 (C2 ended) and keeps C1 and C3.
    assert series["retention"] == [100.0, 100.0, 66.7]
    assert series["renewal_rate"] == [100.0, 0.0, None]  # K1 ends in January (renewed), K2 in February (not)
    assert series["satisfaction"] == [4.5, 3.0, None]
    assert series["first_response_hours"] == [2.0, 0.5, None]
    assert series["resolution_rate"] == [50.0, 100.0, None]
    assert series["nps"] == [33.3, 0.0, None]


def test_filters_by_csm_team_and_segment(owner, teammate, book):
    c3 = book[2]
    board = board_for(owner, csm=teammate.pk)
    value = {i["key"]: i["value"] for i in board["indicators"]}
    assert value["retention"] == 100.0 and value["satisfaction"] == 3.0 and value["nps"] == -50.0
    with tenant_scope(owner.tenant):
        team = Team.objects.create(name="North")
        team.members.add(teammate)
    with travel(), tenant_scope(owner.tenant):
        assert list(scoped_customers(owner, team=team.pk)[0]) == [c3]
        assert scoped_customers(owner, team=999999)[1] == {}  # an unknown team applies nothing
    from segments.tests.factories import make_segment

    segment = make_segment(
        owner, rules={"op": "and", "conditions": [{"field": "industry", "operator": "eq", "value": "Mining"}]}
    )
    with tenant_scope(owner.tenant):
        from customers.models import Customer

        Customer.objects.filter(pk=book[0].pk).update(industry="Mining")
    board = board_for(owner, segment=segment.pk)
    assert board["whole"]["base"] == 1 and board["whole"]["upsell_rate"] == 100.0


def test_page_exports_and_api(owner, teammate, book, staff_client_as, api_as):
    client = staff_client_as(owner)
    with travel():
        with query_budget(30):
            page = client.get("/analytics/kpis/?period=3m")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-chart="kpi-retention"' in html and 'id="kpi-retention"' in html and "≥ 95 %" in html
        xlsx = client.get("/analytics/kpis/export.xlsx?period=3m")
        pdf = client.get("/analytics/kpis/export.pdf?period=3m")
        data = assert_envelope(api_as(owner).get("/api/v1/analytics/kpis?period=3m"), 200)
        bad = api_as(owner).get("/api/v1/analytics/kpis?period=2y")
    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(b"".join(xlsx.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Indicator", "Target", "Period") and rows[0][3:] == ("2026-01", "2026-02", "2026-03")
    assert rows[1][0] == "Customer retention" and rows[1][2] == 50.0
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    indicators = {i["key"]: i for i in data["indicators"]}
    assert indicators["nps"]["value"] == 25.0 and indicators["nps"]["target"] == 50
    assert bad.status_code == 400 and "period" in bad.json()["data"]["errors"]
    # A CSM has no access to the leadership page.
    assert staff_client_as(teammate).get("/analytics/kpis/").status_code == 403
    assert api_as(teammate).get("/api/v1/analytics/kpis").status_code == 403


def test_an_add_on_next_to_a_running_contract_is_an_upsell(owner):
    c = make_customer(owner, customer_name="Addon Ltd")
    contract_row(c, amount=1000, start=date(2025, 6, 1), end=date(2026, 5, 31))
    contract_row(c, amount=300, start=date(2026, 2, 10), end=date(2027, 2, 9))  # no predecessor: an add-on
    other = make_customer(owner, customer_name="New Ltd")
    contract_row(other, amount=500, start=date(2026, 2, 10), end=date(2027, 2, 9))  # a new customer: not an upsell
    board = board_for(owner)
    assert (board["whole"]["base"], board["whole"]["expanded"], board["whole"]["upsell_rate"]) == (1, 1, 100.0)

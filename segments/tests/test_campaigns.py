"""Campaigns: launch snapshot, seeded control group, channels, attribution windows, ROI / uplift, API and pages."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core import mail
from django.utils import timezone

from accounts.tenancy import tenant_scope
from communications.choices import Direction
from communications.tests.factories import make_communication
from crm_project.testing import assert_api_not_found, assert_envelope, query_budget
from customers.models import Customer
from customers.tests.factories import make_contact
from segments import campaigns
from segments.models import Campaign, CampaignMember
from segments.tests.factories import customer_with, make_segment, signed_contract

pytestmark = pytest.mark.django_db

RETAIL = {"op": "and", "conditions": [{"field": "industry", "operator": "eq", "value": "Retail"}]}
LAUNCH = timezone.make_aware(datetime(2026, 3, 1, 10, 0))


def make_campaign(owner, segment, **data):
    data = {"name": "Spring renewals", "segment": segment, "goal": "renewal", "cost": Decimal("1000"), **data}
    with tenant_scope(owner.tenant):
        return campaigns.campaign_create(actor=owner, data=data)


def launch(owner, campaign, now=LAUNCH):
    with tenant_scope(owner.tenant):
        return campaigns.campaign_launch(actor=owner, campaign=campaign, now=now)


def members(owner, campaign):
    with tenant_scope(owner.tenant):
        return {
            m.customer.customer_name: m
            for m in CampaignMember.objects.filter(campaign=campaign).select_related("customer")
        }


@pytest.fixture
def retail(owner):
    shops = [customer_with(owner, customer_name=f"Shop {i}", industry="Retail", health=70) for i in range(1, 5)]
    customer_with(owner, customer_name="Bank", industry="Finance", health=70)
    return shops


# --- Pure maths ---------------------------------------------------------------------------------------------------
def test_results_maths_roi_uplift_incremental():
    treated = {"members": 4, "contacted": 4, "responded": 2, "converted": 2, "revenue": Decimal("6000")}
    control = {"members": 4, "contacted": 0, "responded": 1, "converted": 1, "revenue": Decimal("2000")}
    out = campaigns.results_from(cost=Decimal("1000"), treated=treated, control=control)
    assert out["treated"]["conversion_rate"] == Decimal("0.5000")
    assert out["control"]["conversion_rate"] == Decimal("0.2500")
    assert out["roi"] == Decimal("5.0000")  # (6000 - 1000) / 1000
    assert out["uplift"] == Decimal("0.2500")  # 50 % - 25 %
    assert out["incremental_revenue"] == Decimal("4000.00")  # (1500 - 500) x 4
    assert out["incremental_roi"] == Decimal("3.0000")  # (4000 - 1000) / 1000
    no_control = campaigns.results_from(
        cost=Decimal("0"), treated=treated, control={**control, "members": 0, "converted": 0, "revenue": 0}
    )
    assert no_control["roi"] is None and no_control["uplift"] is None and no_control["incremental_revenue"] is None


def test_control_split_is_seeded_and_sized():
    ids = list(range(1, 101))
    first = campaigns.control_split(ids, 20, seed=42)
    assert len(first) == 20 and first == campaigns.control_split(list(reversed(ids)), 20, seed=42)
    assert first != campaigns.control_split(ids, 20, seed=43)
    assert campaigns.control_split(ids[:3], 20, seed=42) == set()  # floor(3 x 20 / 100) = 0


# --- Launch -------------------------------------------------------------------------------------------------------
def test_launch_snapshot_does_not_follow_the_segment(owner, retail):
    segment = make_segment(owner, rules=RETAIL)
    campaign = make_campaign(owner, segment)
    result = launch(owner, campaign)
    assert (result.members, result.control) == (4, 0)
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=retail[0].pk).update(industry="Finance")  # leaves the segment
    customer_with(owner, customer_name="Shop 5", industry="Retail", health=70)  # enters it
    with tenant_scope(owner.tenant):
        from segments import services

        services.segment_evaluate(segment=segment)
    assert sorted(members(owner, campaign)) == ["Shop 1", "Shop 2", "Shop 3", "Shop 4"]
    with tenant_scope(owner.tenant), pytest.raises(campaigns.CampaignLaunched):
        campaigns.campaign_launch(actor=owner, campaign=campaign)  # a second launch is refused


def test_launch_records_seed_control_and_contacts_treated(owner, retail, django_capture_on_commit_callbacks):
    for shop in retail:
        make_contact(owner, shop, contact_name=f"Buyer of {shop.customer_name}", email=f"{shop.pk}@shop.test")
    campaign = make_campaign(
        owner,
        make_segment(owner, rules=RETAIL),
        control_percent=50,
        send_email=True,
        email_subject="Renew, {customer_name}",
        email_body="Dear {contact_name}, {campaign} has an offer.",
        create_tasks=True,
        task_title="Call {customer_name} about renewal",
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = launch(owner, campaign)
    campaign.refresh_from_db()
    assert campaign.control_seed > 0 and campaign.status == "launched"
    rows = members(owner, campaign)
    control = {name for name, m in rows.items() if m.is_control}
    treated = set(rows) - control
    assert (result.members, result.control, result.emails, result.tasks) == (4, 2, 2, 2)
    # The same seed draws the same hold-out again.
    assert {rows[n].customer_id for n in control} == campaigns.control_split(
        [m.customer_id for m in rows.values()], 50, campaign.control_seed
    )
    assert sorted(m.subject for m in mail.outbox) == sorted(f"Renew, {n}" for n in treated)
    assert all("Spring renewals has an offer" in m.body and "Dear Buyer of" in m.body for m in mail.outbox)
    assert all(rows[n].email_sent and rows[n].contacted_at for n in treated)
    assert not any(rows[n].email_sent or rows[n].contacted_at or rows[n].task_id for n in control)
    with tenant_scope(owner.tenant):
        task_model = apps.get_model("success_tasks", "CustomerSuccessTask")  # a sibling app: no import
        tasks = task_model.objects.filter(pk__in=[rows[n].task_id for n in treated])
        assert sorted(t.task_title for t in tasks) == sorted(f"Call {n} about renewal" for n in treated)


def test_unknown_placeholder_and_bad_figures_are_refused(owner, retail):
    segment = make_segment(owner, rules=RETAIL)
    with tenant_scope(owner.tenant), pytest.raises(campaigns.ValidationError) as caught:
        campaigns.campaign_create(
            actor=owner,
            data={"name": "X", "segment": segment, "goal": "upsell", "send_email": True, "email_subject": "Hi",
                  "email_body": "{customer.tenant.secret}", "control_percent": 80},
        )  # fmt: skip
    assert set(caught.value.message_dict) == {"email_body", "control_percent"}


# --- Attribution --------------------------------------------------------------------------------------------------
def test_attribution_window_and_control_group_hand_computed(owner, retail):
    """Launch 2026-03-01 10:00, window 30 days → contracts signed 2026-03-01 .. 2026-03-31 count."""
    campaign = make_campaign(owner, make_segment(owner, rules=RETAIL), control_percent=50, attribution_days=30)
    launch(owner, campaign)
    rows = members(owner, campaign)
    t1, t2 = sorted(n for n, m in rows.items() if not m.is_control)
    c1, c2 = sorted(n for n, m in rows.items() if m.is_control)
    shop = {s.customer_name: s for s in retail}
    signed_contract(owner, shop[t1], amount=5000, start=date(2026, 3, 10))  # inside
    signed_contract(owner, shop[t1], amount=9999, start=date(2026, 4, 5))  # after the window
    signed_contract(owner, shop[t1], amount=7777, start=date(2026, 2, 20))  # before the launch
    signed_contract(owner, shop[t2], amount=1000, start=date(2026, 3, 1))  # launch day: inside
    signed_contract(owner, shop[c1], amount=2000, start=date(2026, 3, 31))  # last day: inside
    signed_contract(owner, shop[c2], amount=3000, start=date(2026, 4, 1))  # first day after: outside
    make_communication(owner, shop[t1], direction=Direction.INBOUND, communication_date=LAUNCH.replace(day=5))
    make_communication(owner, shop[t2], direction=Direction.OUTBOUND, communication_date=LAUNCH.replace(day=5))
    with tenant_scope(owner.tenant):
        campaigns.campaign_attribute(campaign=campaign)
        again = campaigns.campaign_attribute(campaign=campaign)  # idempotent
        results = campaigns.campaign_results(Campaign.objects.get(pk=campaign.pk))
    assert again["changed"] == 0
    rows = members(owner, campaign)
    assert (rows[t1].revenue, rows[t1].converted_at) == (Decimal("5000.00"), date(2026, 3, 10))
    assert (rows[t2].revenue, rows[t2].converted_at) == (Decimal("1000.00"), date(2026, 3, 1))
    assert (rows[c1].revenue, rows[c1].converted_at) == (Decimal("2000.00"), date(2026, 3, 31))
    assert (rows[c2].revenue, rows[c2].converted_at) == (Decimal("0.00"), None)
    assert rows[t1].responded_at is not None and rows[t2].responded_at is None  # only inbound is a response
    assert results["treated"]["converted"] == 2 and results["control"]["converted"] == 1
    assert results["revenue"] == Decimal("6000.00")
    assert results["roi"] == Decimal("5.0000")  # (6000 - 1000) / 1000
    assert results["uplift"] == Decimal("0.5000")  # 100 % - 50 %
    assert results["incremental_revenue"] == Decimal("4000.00")  # (3000 - 1000) x 2


# --- API ----------------------------------------------------------------------------------------------------------
def test_api_crud_launch_members_results(owner, api_as, retail):
    client = api_as(owner)
    segment = make_segment(owner, rules=RETAIL)
    body = {"name": "Upsell Q2", "segment_id": segment.pk, "goal": "upsell", "cost": "500.00", "control_percent": 25}
    created = assert_envelope(client.post("/api/v1/campaigns", body, format="json"), 201)
    cid = created["campaign_id"]
    assert created["status"] == "draft" and created["segment_id"] == segment.pk
    bad = client.post("/api/v1/campaigns", {**body, "name": "Other", "goal": "fame"}, format="json")
    assert "goal" in assert_envelope(bad, 400, code=40000)["errors"]
    refused = client.post("/api/v1/campaigns", {**body, "name": "Other", "status": "launched"}, format="json")
    assert "status" in assert_envelope(refused, 400, code=40000)["errors"]
    patched = assert_envelope(client.patch(f"/api/v1/campaigns/{cid}", {"attribution_days": 60}, format="json"), 200)
    assert patched["attribution_days"] == 60
    launched = assert_envelope(client.post(f"/api/v1/campaigns/{cid}/launch"), 200)
    assert (launched["members"], launched["control"]) == (4, 1)
    again = client.post(f"/api/v1/campaigns/{cid}/launch")
    assert "status" in assert_envelope(again, 400, code=40000)["errors"]
    locked = client.patch(f"/api/v1/campaigns/{cid}", {"goal": "renewal"}, format="json")
    assert "goal" in assert_envelope(locked, 400, code=40000)["errors"]
    with query_budget(8):
        page = assert_envelope(client.get(f"/api/v1/campaigns/{cid}/members?page=1&size=3"), 200)
    assert page["total"] == 4 and len(page["items"]) == 3
    with query_budget(8):
        listed = assert_envelope(client.get("/api/v1/campaigns"), 200)
    assert listed["total"] == 1
    results = assert_envelope(client.get(f"/api/v1/campaigns/{cid}/results"), 200)
    assert results["treated"]["members"] == 3 and results["control"]["members"] == 1
    assert results["roi"] == -1.0  # no revenue yet: (0 - 500) / 500
    assert_envelope(client.delete(f"/api/v1/campaigns/{cid}"), 200)
    assert_api_not_found(client, f"/api/v1/campaigns/{cid}")


def test_api_isolation_and_roles(owner, outsider, make_user, api_as, retail):
    campaign = make_campaign(owner, make_segment(owner, rules=RETAIL))
    outsider_client = api_as(outsider)
    for suffix in ("", "/members", "/results"):
        assert_api_not_found(outsider_client, f"/api/v1/campaigns/{campaign.pk}{suffix}")
    assert_api_not_found(outsider_client, f"/api/v1/campaigns/{campaign.pk}/launch", methods=("post",))
    assert_api_not_found(outsider_client, f"/api/v1/campaigns/{campaign.pk}", methods=("patch", "delete"))
    csm = api_as(make_user("csm"))
    assert_envelope(csm.get(f"/api/v1/campaigns/{campaign.pk}"), 200)
    assert_envelope(csm.post(f"/api/v1/campaigns/{campaign.pk}/launch"), 403)
    finance = api_as(make_user("finance"))
    assert_envelope(finance.post("/api/v1/campaigns", {"name": "F", "goal": "renewal"}, format="json"), 403)


# --- Pages --------------------------------------------------------------------------------------------------------
def test_pages_list_detail_launch_and_xlsx_export(owner, staff_client_as, retail):
    client = staff_client_as(owner)
    segment = make_segment(owner, rules=RETAIL)
    response = client.post(
        "/segments/campaigns/new",
        {"name": "Training push", "segment": segment.pk, "goal": "training", "cost": "200", "control_percent": 0,
         "attribution_days": 30},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    with tenant_scope(owner.tenant):
        campaign = Campaign.objects.get(name="Training push")
    assert client.post(f"/segments/campaigns/{campaign.pk}/launch").status_code == 302
    with query_budget(20):
        page = client.get("/segments/campaigns/")
    assert page.status_code == 200 and "Training push" in page.content.decode()
    detail = client.get(f"/segments/campaigns/{campaign.pk}/")
    assert detail.status_code == 200
    assert detail.content.decode().count('data-testid="campaign-member-row"') == 4
    export = client.get(f"/segments/campaigns/{campaign.pk}/export")
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxmlformats")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(b"".join(export.streaming_content))).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True) if row and row[0]]
    assert {"Shop 1", "Shop 2", "Shop 3", "Shop 4"} <= set(names)


def test_attribution_job_runs_per_tenant_and_admin_lists_campaigns(owner, outsider, staff_client_as, retail):
    from segments.tasks import attribute_campaigns

    campaign = make_campaign(owner, make_segment(owner, rules=RETAIL), attribution_days=30)
    launch(owner, campaign, now=timezone.now())
    signed_contract(owner, retail[0], amount=700, start=timezone.localdate())
    counts = attribute_campaigns(owner.tenant.pk)
    assert counts["campaigns"] == 1 and counts["changed"] == 1
    assert attribute_campaigns(owner.tenant.pk)["changed"] == 0  # rerun: nothing changes
    assert members(owner, campaign)["Shop 1"].revenue == Decimal("700.00")
    client = staff_client_as(owner)
    listing = client.get("/admin/segments/campaign/?q=Spring&status__exact=launched")
    assert listing.status_code == 200 and "Spring renewals" in listing.content.decode()
    assert client.get(f"/admin/segments/campaign/{campaign.pk}/change/").status_code == 200
    assert "Spring renewals" not in staff_client_as(outsider).get("/admin/segments/campaign/").content.decode()


# --- Background fan-out (segments.tasks.contact_campaign) ---------------------------------------------------------
@pytest.fixture
def mailing(owner, retail):
    for shop in retail:
        make_contact(owner, shop, contact_name=f"Buyer of {shop.customer_name}", email=f"{shop.pk}@shop.test")
    return make_campaign(
        owner,
        make_segment(owner, rules=RETAIL),
        send_email=True,
        email_subject="Renew, {customer_name}",
        email_body="Dear {contact_name}",
        create_tasks=True,
        task_title="Call {customer_name}",
    )


def _task_count(owner):
    with tenant_scope(owner.tenant):
        return apps.get_model("success_tasks", "CustomerSuccessTask").objects.count()


def test_launch_only_queues_the_fan_out_and_the_task_is_idempotent(
    owner, mailing, monkeypatch, django_capture_on_commit_callbacks
):
    from segments import tasks

    queued = []
    monkeypatch.setattr(tasks.contact_campaign, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        result = launch(owner, mailing)
    assert (result.members, result.emails, result.tasks) == (4, 4, 4)  # queued, not sent
    assert queued == [(owner.tenant_id, mailing.pk, owner.pk)]
    assert mail.outbox == [] and _task_count(owner) == 0
    assert not any(m.handled_at or m.contacted_at for m in members(owner, mailing).values())

    counts = tasks.contact_campaign.apply(args=queued[0]).get()  # what the worker runs
    assert (counts["handled"], counts["emails"], counts["tasks"], counts["failed"]) == (4, 4, 4, 0)
    assert sorted(m.subject for m in mail.outbox) == [f"Renew, Shop {i}" for i in range(1, 5)]
    assert _task_count(owner) == 4
    rows = members(owner, mailing)
    assert all(m.email_sent and m.task_id and m.handled_at and m.contacted_at for m in rows.values())
    with tenant_scope(owner.tenant):
        assert Campaign.objects.get(pk=mailing.pk).contacts_finished_at is not None

    again = tasks.contact_campaign.apply(args=queued[0]).get()  # a redelivered message: nobody is contacted twice
    assert again["handled"] == again["emails"] == again["tasks"] == 0
    assert len(mail.outbox) == 4 and _task_count(owner) == 4


def test_a_failed_email_is_retried_by_the_sweep_without_a_second_task(
    owner, retail, mailing, staff_client_as, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.mail import EmailMessage

    from segments.tasks import contact_campaigns

    send = EmailMessage.send
    broken = f"{retail[1].pk}@shop.test"  # Shop 2

    def flaky(message, *args, **kwargs):
        if broken in message.to:
            raise OSError("mailbox unavailable")
        return send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        launch(owner, mailing)  # the eager worker runs the fan-out after the commit
    rows = members(owner, mailing)
    assert len(mail.outbox) == 3 and _task_count(owner) == 4
    assert rows["Shop 2"].task_id and not rows["Shop 2"].email_sent and rows["Shop 2"].handled_at is None
    page = staff_client_as(owner).get(f"/segments/campaigns/{mailing.pk}/").content.decode()
    assert 'data-testid="contact-status">In progress<' in page
    assert "3 of 4 treated members handled · 3 e-mails sent · 4 tasks created" in page

    monkeypatch.setattr(EmailMessage, "send", send)
    counts = contact_campaigns.apply(args=(owner.tenant_id,)).get()
    assert (counts["campaigns"], counts["handled"], counts["emails"], counts["tasks"]) == (1, 1, 1, 0)
    assert [m.subject for m in mail.outbox].count("Renew, Shop 2") == 1 and len(mail.outbox) == 4
    assert _task_count(owner) == 4
    page = staff_client_as(owner).get(f"/segments/campaigns/{mailing.pk}/").content.decode()
    assert 'data-testid="contact-status">Finished<' in page and "4 of 4 treated members handled" in page
    assert contact_campaigns.apply(args=(owner.tenant_id,)).get()["campaigns"] == 0  # nothing left to sweep

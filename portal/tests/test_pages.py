"""Portal pages: home, tickets and rating, new requests (record, manager notice, signed webhook with retries),
bills, reports, feedback, knowledge base search (Chinese and English), self-diagnosis, usage, success plan."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.integration import sign
from accounts.models import Notification
from accounts.tenancy import tenant_scope, unscoped
from contracts.tests.factories import InvoiceFactory
from crm_project.testing import query_budget
from customers.tests.factories import make_customer
from portal import services
from portal.models import GoalComment, Side, Suggestion, TicketWebhook
from portal.tests.factories import (
    make_account,
    make_article,
    make_checklist,
    make_goal,
    make_report,
    make_ticket,
    portal_client,
)
from service_records.models import NpsResponse, ServiceRecord
from service_records.tests.factories import make_contract
from webhooks import services as webhooks
from webhooks import tasks as webhook_tasks
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(owner):
    with tenant_scope(owner.tenant):
        customer = make_customer(owner, customer_name="Pages Ltd", assigned_manager=owner)
    return make_account(owner, customer)


@pytest.fixture
def portal(account):
    return portal_client(Client(), account)


def test_home_shows_open_tickets_contract_reports_pending_ratings_and_the_csm_message(owner, account, portal):
    customer = account.customer
    make_ticket(owner, customer, status="open", title="VPN down")
    make_ticket(owner, customer, status="closed", title="Rate me please")
    make_contract(owner, customer)
    make_report(owner, customer)
    with tenant_scope(owner.tenant):
        services.message_post(actor=owner, customer=customer, body="欢迎使用客户门户")
    body = portal.get("/portal/").content.decode()
    for text in ("VPN down", "Rate me please", "2026-12-31", "2026-10-02", "欢迎使用客户门户", "2026-01-31"):
        assert text in body, text


def test_rating_a_closed_ticket_updates_satisfaction_at_once(owner, account, portal):
    record = make_ticket(owner, account.customer, status="closed")
    scores = {"satisfaction_overall": "4", "satisfaction_response_speed": "5", "satisfaction_professionalism": "3",
              "satisfaction_resolution_quality": "4", "satisfaction_comment": "快"}  # fmt: skip
    page = portal.get(f"/portal/tickets/{record.pk}/")
    assert b"Status history" in page.content and b"Rate this ticket" in page.content
    assert portal.post(f"/portal/tickets/{record.pk}/", scores).status_code == 302
    with tenant_scope(owner.tenant):
        record.refresh_from_db()
    assert (record.satisfaction_overall, record.satisfaction_professionalism, record.rated_at is not None) == (
        4,
        3,
        True,
    )
    with unscoped("test"):
        from accounts.models import AuditLog

        actions = set(AuditLog.objects.filter(object_id=str(record.pk)).values_list("action", flat=True))
    assert {"crm.service_record.rated", "crm.portal.ticket_rated"} <= actions


def test_an_open_ticket_cannot_be_rated(owner, account, portal):
    record = make_ticket(owner, account.customer, status="open")
    assert b"Rate this ticket" not in portal.get(f"/portal/tickets/{record.pk}/").content
    assert portal.post(f"/portal/tickets/{record.pk}/", {"satisfaction_overall": "5"}).status_code == 404


def test_a_request_creates_a_portal_record_notifies_the_manager_and_queues_the_webhook(
    owner, account, portal, monkeypatch, django_capture_on_commit_callbacks
):
    with tenant_scope(owner.tenant):
        TicketWebhook.objects.create(url="https://itsm.example.com/hooks/crm", secret="s3cret", key_id="crm-portal")
    queued = []
    monkeypatch.setattr(webhooks, "queue", lambda ids, countdown=0: queued.extend(ids))
    form = portal.get("/portal/requests/new/incident/")
    assert b'<label for="id_system">' in form.content
    missing = portal.post("/portal/requests/new/incident/", {"title": "Mail down"})
    assert missing.status_code == 200 and b'id="id_system-errors"' in missing.content
    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(
            "/portal/requests/new/incident/",
            {"title": "Mail down", "system": "Exchange", "impact": "P2", "description": "Nobody gets mail"},
        )
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        record = ServiceRecord.objects.get(title="Mail down")
        # The request goes through the outgoing-webhooks path (its delivery log, retries and breaker).
        delivery = WebhookDelivery.objects.get(source="portal")
        assert Notification.objects.filter(recipient=owner, kind="portal_request").exists()
    assert queued == [delivery.pk]
    assert (delivery.target_url, delivery.key_id, delivery.event_type) == (
        "https://itsm.example.com/hooks/crm", "crm-portal", "portal.request_created",
    )  # fmt: skip
    assert (record.source_system, record.channel, record.priority) == ("portal", "portal", "P2")
    assert "Exchange" in record.description and record.customer_id == account.customer_id
    assert delivery.payload["ticket"]["external_id"] == record.external_id


def _due_now(delivery):
    with unscoped("test: make the next attempt due"):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)


def test_the_webhook_is_signed_retried_and_failures_are_logged(owner, account, monkeypatch, settings):
    settings.WEBHOOK_BREAKER_THRESHOLD = 100  # this test is about retries, not the breaker
    record = make_ticket(owner, account.customer, status="open")
    with tenant_scope(owner.tenant):
        TicketWebhook.objects.create(url="https://itsm.example.com/hooks/crm", secret="s3cret", key_id="crm-portal")
        delivery = services.delivery_create(record=record, request_type="incident", contact=account.email)
    sent = []

    def fake_post(url, body, headers):
        sent.append((url, body, headers))
        return (503 if len(sent) < 3 else 200), ""

    monkeypatch.setattr(webhooks, "check_target", lambda url: None)
    monkeypatch.setattr(webhooks, "post", fake_post)
    states = []
    for _ in range(4):
        states.append(webhooks.attempt(delivery.pk).state)
        _due_now(delivery)
    assert states == ["retry", "retry", "delivered", "skipped"]  # delivered: nothing sent twice
    _url, body, headers = sent[-1]
    assert headers["X-CRM-Key"] == "crm-portal"
    assert headers["X-CRM-Signature"] == sign("s3cret", headers["X-CRM-Timestamp"], body)
    assert json.loads(body)["ticket"]["external_id"] == record.external_id
    with tenant_scope(owner.tenant):
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 3, 200)

    with tenant_scope(owner.tenant):
        failing = services.delivery_create(record=record, request_type="incident", contact=account.email)
    monkeypatch.setattr(webhooks, "post", lambda *args: (_ for _ in ()).throw(OSError("connection refused")))
    for _ in range(webhooks.max_attempts()):
        webhooks.attempt(failing.pk)
        _due_now(failing)
    with tenant_scope(owner.tenant):
        failing.refresh_from_db()
    assert failing.status == DeliveryStatus.FAILED and "connection refused" in failing.last_error
    with tenant_scope(owner.tenant):
        assert Notification.objects.filter(recipient=owner, kind="webhook_failed").count() == 1


def test_the_celery_task_retries_with_backoff(owner, account, monkeypatch):
    record = make_ticket(owner, account.customer, status="open")
    with tenant_scope(owner.tenant):
        TicketWebhook.objects.create(url="https://itsm.example.com/hooks/crm", secret="s3cret")
        delivery = services.delivery_create(record=record, request_type="incident", contact=account.email)
    monkeypatch.setattr(webhooks, "check_target", lambda url: None)
    monkeypatch.setattr(webhooks, "post", lambda *args: (500, ""))
    queued = []
    monkeypatch.setattr(webhooks, "queue", lambda ids, countdown=0: queued.append((ids, countdown)))
    assert webhook_tasks.deliver.run(delivery.pk) == "retry"
    assert queued == [([delivery.pk], webhooks.backoff_seconds(1))]


def test_bills_list_and_pdf_download(owner, account, portal):
    contract = make_contract(owner, account.customer)
    invoice = InvoiceFactory(contract=contract, tenant=owner.tenant, invoice_number="INV-门户-1")
    assert "INV-门户-1" in portal.get("/portal/bills/").content.decode()
    response = portal.get(f"/portal/bills/{invoice.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_reports_download(owner, account, portal):
    report = make_report(owner, account.customer)
    response = portal.get(f"/portal/reports/{report.pk}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF")


def test_feedback_nps_and_suggestion_reach_the_staff_customer_page(owner, account, portal, staff_client_as):
    assert portal.post("/portal/feedback/", {"form": "nps", "score": "9", "reason": "好用"}).status_code == 302
    assert portal.post("/portal/feedback/", {"form": "suggestion", "body": "Add dark mode"}).status_code == 302
    invalid = portal.post("/portal/feedback/", {"form": "nps", "score": "11"})
    assert invalid.status_code == 200 and b"field-errors" in invalid.content
    with tenant_scope(owner.tenant):
        nps = NpsResponse.objects.get(customer=account.customer)
        assert nps.contact_id == account.contact_id and nps.score == 9
        assert Suggestion.objects.filter(customer=account.customer).count() == 1
    tab = staff_client_as(owner).get(f"/customers/{account.customer_id}/?tab=portal")
    assert tab.status_code == 200
    body = tab.content.decode()
    assert "Add dark mode" in body and "好用" in body


def test_knowledge_base_search_works_for_chinese_and_english(owner, portal):
    make_article(owner, title="如何重置密码", body="在登录页点击忘记密码。Reset your password from the sign-in page.")
    make_article(owner, title="打印机故障排除", body="检查打印机电源和网络连接 printer troubleshooting")
    make_article(owner, title="草稿文章", body="重置密码 draft", published=False)
    cases = (
        ("重置密码", "如何重置密码", "打印机"),
        ("密码", "如何重置密码", "打印机"),
        ("printer", "打印机故障排除", "如何重置"),
        ("RESET password", "如何重置密码", "打印机"),
        ("打印机", "打印机故障排除", "如何重置"),
    )
    for query, expected, absent in cases:
        body = portal.get("/portal/help/", {"q": query}).content.decode()
        assert expected in body and absent not in body, query
        assert "草稿文章" not in body


def test_self_diagnosis_ends_in_an_article_or_a_prefilled_request(owner, portal):
    article = make_article(owner, title="登录问题")
    checklist = make_checklist(owner, article)
    body = portal.get(f"/portal/help/diagnose/{checklist.pk}/").content.decode()
    assert f"/portal/help/articles/{article.pk}/" in body and "Check caps lock" in body
    assert "/portal/requests/new/incident/?title=Cannot+sign+in" in body
    prefilled = portal.get("/portal/requests/new/incident/", {"title": "Cannot sign in"}).content.decode()
    assert 'value="Cannot sign in"' in prefilled


def test_usage_page_charts_the_customers_own_usage_events(owner, account, portal):
    from django.utils import timezone

    from health.models import UsageEvent

    make_ticket(owner, account.customer, status="open")
    other = make_account(owner, email="other.usage@example.com")
    now = timezone.now()
    with tenant_scope(owner.tenant):
        for n, (customer, kind, feature) in enumerate(
            [(account.customer, "login", ""), (account.customer, "feature_use", "报表导出"),
             (account.customer, "feature_use", "报表导出"), (other.customer, "feature_use", "Secret feature")]
        ):  # fmt: skip
            UsageEvent.objects.create(customer=customer, event_id=f"e{n}", event_type=kind, feature_name=feature,
                                      user_identifier=f"u{n}", occurred_at=now)  # fmt: skip
    body = portal.get("/portal/usage/").content.decode()
    assert 'data-chart="portal-product-usage"' in body and 'data-chart="portal-usage"' in body
    assert "报表导出" in body and "Secret feature" not in body
    assert "<script>" not in body
    with query_budget(12):
        portal.get("/portal/usage/")


def test_success_plan_customer_marks_own_actions_and_comments_shown_on_the_timeline(owner, account, portal,
                                                                                      staff_client_as):  # fmt: skip
    goal, theirs = make_goal(owner, account.customer, side=Side.CUSTOMER)
    with tenant_scope(owner.tenant):
        ours = services.milestone_save(actor=owner, goal=goal, data={"title": "Our review", "side": Side.OURS})
    assert "Cut ticket volume by 20%" in portal.get("/portal/plan/").content.decode()
    assert portal.post(f"/portal/plan/milestones/{theirs.pk}/done/", {"done": "1"}).status_code == 302
    assert portal.post(f"/portal/plan/milestones/{ours.pk}/done/", {"done": "1"}).status_code == 404
    assert portal.post(f"/portal/plan/goals/{goal.pk}/comment/", {"body": "On it"}).status_code == 302
    with tenant_scope(owner.tenant):
        theirs.refresh_from_db()
        ours.refresh_from_db()
        assert GoalComment.objects.get(goal=goal).from_customer
    assert theirs.done_at is not None and ours.done_at is None
    staff = staff_client_as(owner)
    timeline = staff.get(f"/customers/{account.customer_id}/?tab=timeline").content.decode()
    assert "Success milestone done" in timeline or "Success goal commented" in timeline
    edit = staff.post(f"/portal/staff/customers/{account.customer_id}/goals/{goal.pk}/",
                      {"outcome": "Cut volume 30%", "measure": "tickets", "target_date": "2026-11-30",
                       "status": "at_risk"})  # fmt: skip
    assert edit.status_code == 302
    assert "Cut volume 30%" in portal.get("/portal/plan/").content.decode()


def test_ticket_list_query_budget(owner, account, portal):
    for n in range(12):
        make_ticket(owner, account.customer, status="open", title=f"T{n}")
    with query_budget(12):
        response = portal.get("/portal/tickets/")
    assert response.content.decode().count("/portal/tickets/") >= 12


def test_home_query_budget(owner, account, portal):
    for n in range(8):
        make_ticket(owner, account.customer, status="closed", title=f"C{n}")
    with query_budget(15):
        assert portal.get("/portal/").status_code == 200


def test_staff_edit_knowledge_base_articles(owner, staff_client_as):
    from portal.models import KbArticle, KbCategory

    with tenant_scope(owner.tenant):
        category = KbCategory.objects.create(name="Network")
    staff = staff_client_as(owner)
    assert staff.get("/portal/staff/kb/").status_code == 200
    data = {"category": category.pk, "title": "VPN 连接失败", "body": "重启客户端", "status": "published"}
    response = staff.post("/portal/staff/kb/new/", data)
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        article = KbArticle.objects.get(title="VPN 连接失败")
    assert " vpn " in article.search_terms and " 连接 " in article.search_terms

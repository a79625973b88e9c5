"""Admin: failed webhook deliveries are visible to the tenant's administrator (only their tenant's), and
knowledge-base articles saved in the admin get their search terms through the service."""

from __future__ import annotations

import pytest

from accounts.tenancy import tenant_scope
from accounts.tests.factories import UserFactory
from portal.models import KbArticle, KbCategory, TicketWebhook
from portal.services import delivery_create
from portal.tests.factories import make_account, make_ticket
from webhooks.models import DeliveryStatus

pytestmark = pytest.mark.django_db


def test_failed_deliveries_are_listed_for_the_tenant_admin_only(owner, other_tenant, staff_client_as):
    account = make_account(owner)
    record = make_ticket(owner, account.customer, status="open", title="Webhook walk")
    with tenant_scope(owner.tenant):
        TicketWebhook.objects.create(url="https://itsm.example.com/hook", secret="s")
        delivery = delivery_create(record=record, request_type="incident", contact=account.email)
        delivery.status, delivery.attempts, delivery.last_error = DeliveryStatus.FAILED, 5, "HTTP 503 from itsm"
        delivery.save()
    # Portal requests go through the outgoing-webhooks delivery log.
    page = staff_client_as(owner).get("/admin/webhooks/webhookdelivery/").content.decode()
    assert "HTTP 503 from itsm" in page
    stranger = UserFactory(tenant=other_tenant, username="portal_admin_other", role="tenant_admin", is_staff=True)
    assert (
        "HTTP 503 from itsm" not in staff_client_as(stranger).get("/admin/webhooks/webhookdelivery/").content.decode()
    )


def test_article_saved_in_the_admin_is_searchable(owner, staff_client_as):
    with tenant_scope(owner.tenant):
        category = KbCategory.objects.create(name="网络")
    response = staff_client_as(owner).post(
        "/admin/portal/kbarticle/add/",
        {"category": category.pk, "title": "无线网络断开", "body": "检查路由器 router", "status": "published"},
    )
    assert response.status_code == 302, response.content[:500]
    with tenant_scope(owner.tenant):
        article = KbArticle.objects.get(title="无线网络断开")
    assert " router " in article.search_terms and " 路由器 " in article.search_terms

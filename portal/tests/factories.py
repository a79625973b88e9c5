"""Test data of the portal, made through the services where a rule applies."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.tenancy import tenant_scope
from customers.tests.factories import make_contact, make_customer
from portal import services
from portal.models import ArticleStatus, DiagnosisChecklist, KbCategory, PortalAccount, Side
from service_records import services as record_services
from service_records.choices import ReportStatus
from service_records.models import ServiceReport

PASSWORD = "Portal-pass-2026!"


def make_account(owner, customer=None, *, email: str | None = None, password: str = PASSWORD, name="Li Na"):
    """A customer (new unless given), its contact and a portal account with a password set."""
    with tenant_scope(owner.tenant):
        customer = customer or make_customer(owner, customer_name=f"Portal {email or name} Ltd")
        email = email or f"{name.lower().replace(' ', '.')}.{customer.pk}@example.com"
        make_contact(owner, customer, contact_name=name, email=email)
        account, path = services.account_invite(actor=owner, customer=customer, email=email, send=False)
        token = services.token_find(path.rstrip("/").rsplit("/", 1)[-1])
        services.password_set(token=token, password=password)
        return PortalAccount.objects.select_related("customer", "contact").get(pk=account.pk)


def portal_client(client, account, password: str = PASSWORD):
    """Sign a test client in through the portal's sign-in page (no shortcut)."""
    client.cookies["django_language"] = "en"
    response = client.post("/portal/login/", {"email": account.email, "password": password})
    assert response.status_code == 302, response.content[:300]
    return client


def make_ticket(owner, customer, *, status="closed", title="Printer offline", **fields):
    now = timezone.now()
    data = {"title": title, "priority": "P3", "status": status, "opened_at": now - timedelta(hours=5)}
    if status in ("resolved", "closed"):
        data["resolved_at"] = now - timedelta(hours=2)
    if status == "closed":
        data["closed_at"] = now - timedelta(hours=1)
    data.update(fields)
    with tenant_scope(owner.tenant):
        return record_services.record_create(actor=owner, customer=customer, data=data)


def make_report(owner, customer):
    with tenant_scope(owner.tenant):
        report = ServiceReport.objects.create(
            customer=customer, period_start=date(2026, 1, 1), period_end=date(2026, 1, 31), status=ReportStatus.DONE
        )
        report.pdf_file.save("walk.pdf", ContentFile(b"%PDF-1.4\n%walk\n"), save=True)
        return report


def make_article(owner, *, title="重置密码", body="如何重置您的密码 reset password", published=True):
    with tenant_scope(owner.tenant):
        category = KbCategory.objects.first() or KbCategory.objects.create(name="账户")
        return services.article_save(
            actor=owner,
            data={"category": category, "title": title, "body": body,
                  "status": ArticleStatus.PUBLISHED if published else ArticleStatus.DRAFT},
        )  # fmt: skip


def make_checklist(owner, article=None):
    with tenant_scope(owner.tenant):
        category = KbCategory.objects.first() or KbCategory.objects.create(name="账户")
        return DiagnosisChecklist.objects.create(
            category=category, title="Cannot sign in", steps=["Check caps lock", "Clear the cache"],
            article=article, is_published=True,
        )  # fmt: skip


def make_goal(owner, customer, *, side=Side.CUSTOMER):
    with tenant_scope(owner.tenant):
        goal = services.goal_save(
            actor=owner,
            customer=customer,
            data={"outcome": "Cut ticket volume by 20%", "measure": "tickets per month",
                  "target_date": date(2026, 12, 31), "status": "on_track", "csm_owner": owner},
        )  # fmt: skip
        milestone = services.milestone_save(
            actor=owner, goal=goal, data={"title": "Train the service desk", "due_date": date(2026, 6, 1), "side": side}
        )
        return goal, milestone

"""Portal access: invitations, one-time links, sign-in with lockout and TOTP, separation from staff sign-in,
access ending with the contact or the customer, audit of what a portal user does."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope, unscoped
from crm_project.crypto import blind_index
from crm_project.logmask import mask_email
from customers.choices import CustomerStatus
from customers.tests.factories import make_contact, make_customer
from portal.models import PortalAccount
from portal.tests.factories import PASSWORD, make_account, portal_client

pytestmark = pytest.mark.django_db


def _audit_actions(**filters) -> list[str]:
    with unscoped("test reads the audit log"):
        return list(AuditLog.objects.filter(**filters).values_list("action", flat=True))


def test_staff_invites_from_the_customer_page_and_the_link_sets_the_password_once(owner, staff_client_as):
    with tenant_scope(owner.tenant):
        customer = make_customer(owner, customer_name="Invite Ltd")
        make_contact(owner, customer, contact_name="Zhang Wei", email="zhang.wei@example.com")
    staff = staff_client_as(owner)
    response = staff.post(f"/portal/staff/customers/{customer.pk}/invite/", {"email": "Zhang.Wei@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["zhang.wei@example.com"]
    link = next(word for word in mail.outbox[0].body.split() if "/portal/set-password/" in word)
    path = link[link.index("/portal/") :]

    anonymous = Client()
    assert anonymous.get(path).status_code == 200
    weak = anonymous.post(path, {"password": "123", "password2": "123"})
    assert weak.status_code == 200 and b"field-errors" in weak.content  # the error is next to the field
    done = anonymous.post(path, {"password": PASSWORD, "password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/portal/login/"
    assert anonymous.get(path).status_code == 404  # spent
    assert anonymous.post("/portal/login/", {"email": "zhang.wei@example.com", "password": PASSWORD}).status_code == 302
    assert "crm.portal.invited" in _audit_actions(object_id=str(customer.pk))
    with unscoped("test"):
        account = PortalAccount.objects.get(email_bidx=blind_index("email", "zhang.wei@example.com"))
    assert account.tenant_id == owner.tenant_id and account.customer_id == customer.pk


def test_the_invitation_link_expires_after_72_hours(owner):
    from portal import services

    with tenant_scope(owner.tenant):
        customer = make_customer(owner, customer_name="Late Ltd")
        make_contact(owner, customer, contact_name="Late", email="late@example.com")
        _account, path = services.account_invite(actor=owner, customer=customer, email="late@example.com", send=False)
    client = Client()
    with time_machine.travel(timezone.now() + timedelta(hours=71), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=73), tick=False):
        assert client.get(path).status_code == 404


def test_only_a_contact_of_the_customer_can_be_invited(owner, staff_client_as):
    with tenant_scope(owner.tenant):
        customer = make_customer(owner, customer_name="Strict Ltd")
    response = staff_client_as(owner).post(f"/portal/staff/customers/{customer.pk}/invite/", {"email": "x@example.com"})
    assert response.status_code == 302
    with unscoped("test"):
        assert not PortalAccount.objects.filter(email_bidx=blind_index("email", "x@example.com")).exists()


def test_operator_command_prints_the_one_time_link(owner, capsys):
    with tenant_scope(owner.tenant):
        customer = make_customer(owner, customer_name="Command Ltd")
        make_contact(owner, customer, contact_name="Cmd", email="cmd@example.com")
    call_command("portal_invite", "--customer", customer.customer_code, "--email", "cmd@example.com", "--print-link")
    out = capsys.readouterr().out
    link = out.strip().splitlines()[-1]
    assert "/portal/set-password/" in link
    assert Client().get(link[link.index("/portal/") :]).status_code == 200


def test_five_failures_lock_the_sign_in_with_429(owner):
    account = make_account(owner)
    client = Client()
    for _ in range(4):
        assert client.post("/portal/login/", {"email": account.email, "password": "wrong"}).status_code == 200
    assert client.post("/portal/login/", {"email": account.email, "password": "wrong"}).status_code == 429
    # Even the right password is refused while locked.
    assert client.post("/portal/login/", {"email": account.email, "password": PASSWORD}).status_code == 429
    assert _audit_actions(action="crm.portal.login_failed").count("crm.portal.login_failed") == 5


def test_a_portal_session_never_reaches_the_staff_ui_admin_or_api(owner, client):
    account = make_account(owner)
    portal_client(client, account)
    assert client.get("/portal/").status_code == 200
    staff_page = client.get("/customers/")
    assert staff_page.status_code == 302 and "/accounts/login/" in staff_page["Location"]
    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/customers").status_code == 401


def test_staff_cannot_sign_in_to_the_portal(owner, staff_client_as, password):
    staff = staff_client_as(owner)
    response = staff.get("/portal/")
    assert response.status_code == 302 and response["Location"].startswith("/portal/login/")
    anonymous = Client()
    refused = anonymous.post("/portal/login/", {"email": owner.email or owner.username, "password": password})
    assert refused.status_code == 200 and b'role="alert"' in refused.content
    assert "portal_account_id" not in anonymous.session


@pytest.mark.parametrize("ending", ["contact_removed", "customer_lost", "customer_deleted", "deactivated"])
def test_access_ends_at_the_next_request(owner, client, ending):
    account = make_account(owner)
    portal_client(client, account)
    assert client.get("/portal/tickets/").status_code == 200
    with tenant_scope(owner.tenant):
        customer = account.customer
        if ending == "contact_removed":
            account.contact.delete()
        elif ending == "customer_lost":
            type(customer).objects.filter(pk=customer.pk).update(status=CustomerStatus.LOST)
        elif ending == "customer_deleted":
            type(customer).objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
        else:
            PortalAccount.objects.filter(pk=account.pk).update(is_active=False)
    response = client.get("/portal/tickets/")
    assert response.status_code == 302 and response["Location"].startswith("/portal/login/")
    assert client.post("/portal/login/", {"email": account.email, "password": PASSWORD}).status_code == 200


def test_a_new_password_signs_out_other_sessions(owner):
    from portal import services

    account = make_account(owner)
    first = portal_client(Client(), account)
    path = services.reset_request(email=account.email)
    token = services.token_find(path.rstrip("/").rsplit("/", 1)[-1])
    services.password_set(token=token, password="Another-pass-2026!")
    assert first.get("/portal/").status_code == 302


def test_password_reset_sends_a_link_and_does_not_reveal_unknown_addresses(owner):
    account = make_account(owner)
    client = Client()
    unknown = client.post("/portal/password-reset/", {"email": "nobody@example.com"})
    known = client.post("/portal/password-reset/", {"email": account.email})
    assert unknown.status_code == known.status_code == 200
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [account.email]
    link = next(word for word in mail.outbox[0].body.split() if "/portal/set-password/" in word)
    path = link[link.index("/portal/") :]
    assert client.post(path, {"password": "New-pass-2026!", "password2": "New-pass-2026!"}).status_code == 302
    assert client.post("/portal/login/", {"email": account.email, "password": "New-pass-2026!"}).status_code == 302


def test_two_step_sign_in_with_totp(owner, client):
    account = make_account(owner)
    portal_client(client, account)
    page = client.get("/portal/security/")
    secret = client.session["portal_totp_setup"]
    assert secret.encode() in page.content
    assert client.post("/portal/security/", {"code": "000000"}).status_code == 200
    assert client.post("/portal/security/", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    with unscoped("test"):
        assert PortalAccount.objects.get(pk=account.pk).totp_enabled

    fresh = Client()
    step = fresh.post("/portal/login/", {"email": account.email, "password": PASSWORD})
    assert step.status_code == 302 and "/portal/login/code/" in step["Location"]
    assert fresh.get("/portal/").status_code == 302  # not signed in before the code
    assert fresh.post("/portal/login/code/", {"code": "123456"}).status_code == 200
    assert fresh.post("/portal/login/code/", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert fresh.get("/portal/").status_code == 200


def test_forms_need_the_csrf_token(owner):
    account = make_account(owner)
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/portal/login/", {"email": account.email, "password": PASSWORD}).status_code == 403


def test_portal_actions_are_audited_with_the_portal_user_as_actor(owner, client):
    account = make_account(owner)
    portal_client(client, account)
    with unscoped("test reads the audit log"):
        entry = AuditLog.objects.filter(action="crm.portal.login").latest("id")
    assert entry.actor_id is None and entry.actor_name == f"portal:{mask_email(account.email)} #{account.pk}"
    assert entry.tenant_id == owner.tenant_id


def test_the_portal_speaks_chinese_by_default_and_english_on_request(db):
    assert "登录客户门户" in Client().get("/portal/login/").content.decode()
    english = Client()
    english.cookies["django_language"] = "en"
    assert "Sign in to the customer portal" in english.get("/portal/login/").content.decode()

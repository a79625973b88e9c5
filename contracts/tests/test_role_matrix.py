"""Role × write action on the contract API: the status AND the side effect (the row changed, or not).

Expected from the role registrations in contracts/apps.py: admins and leads do everything; a CSM edits drafts,
proposes changes, and keeps SLA and milestones; finance edits terms, SLA, milestones and records invoices and
payments; a viewer writes nothing. A refused call must leave the data exactly as it was.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tenancy import tenant_scope
from contracts.choices import ContractStatus
from contracts.models import ChangeRequest, Contract, ContractSlaBinding, Invoice, Milestone, Payment
from contracts.tests.factories import ChangeRequestFactory, ContractFactory, InvoiceFactory, MilestoneFactory
from customers import services as customer_services

ROLES = ("tenant_admin", "cs_lead", "csm", "finance", "viewer")
ALLOWED = {
    "edit_draft": {"tenant_admin", "cs_lead", "csm", "finance"},
    "sign": {"tenant_admin", "cs_lead"},
    "terminate": {"tenant_admin", "cs_lead"},
    "renew": {"tenant_admin", "cs_lead"},
    "request_change": {"tenant_admin", "cs_lead", "csm"},
    "approve_change": {"tenant_admin", "cs_lead"},
    "set_sla": {"tenant_admin", "cs_lead", "csm", "finance"},
    "add_milestone": {"tenant_admin", "cs_lead", "csm", "finance"},
    "edit_milestone": {"tenant_admin", "cs_lead", "csm", "finance"},
    "add_invoice": {"tenant_admin", "cs_lead", "finance"},
    "add_payment": {"tenant_admin", "cs_lead", "finance"},
}


@pytest.fixture
def world(owner, make_user):
    csm = make_user(role="csm", username="csm")
    requester = make_user(role="cs_lead", username="requester")
    with tenant_scope(owner.tenant):
        customer = customer_services.customer_create(
            actor=owner, data={"customer_name": "矩阵客户", "assigned_manager": csm}
        )
    draft = ContractFactory(customer=customer)
    active = ContractFactory(customer=customer, status=ContractStatus.ACTIVE)
    return {
        "owner": owner,
        "csm": csm,
        "draft": draft,
        "active": active,
        "change": ChangeRequestFactory(contract=active, requested_by=requester),
        "milestone": MilestoneFactory(contract=active, title="原标题"),
        "invoice": InvoiceFactory(contract=active, amount=Decimal("5000.00")),
    }


def _count(model, **filters) -> int:
    return model.objects.filter(**filters).count()


ACTIONS = {
    "edit_draft": (
        lambda w: ("patch", f"/api/v1/contracts/{w['draft'].pk}", {"contract_name": "已修改"}),
        lambda w: Contract.objects.get(pk=w["draft"].pk).contract_name == "已修改",
    ),
    "sign": (
        lambda w: ("post", f"/api/v1/contracts/{w['draft'].pk}/sign", {}),
        lambda w: Contract.objects.get(pk=w["draft"].pk).status == ContractStatus.ACTIVE,
    ),
    "terminate": (
        lambda w: ("post", f"/api/v1/contracts/{w['active'].pk}/terminate", {"reason": "客户破产"}),
        lambda w: Contract.objects.get(pk=w["active"].pk).status == ContractStatus.TERMINATED,
    ),
    "renew": (
        lambda w: ("post", f"/api/v1/contracts/{w['active'].pk}/renew", {}),
        lambda w: _count(Contract, predecessor=w["active"]) == 1,
    ),
    "request_change": (
        lambda w: (
            "post",
            f"/api/v1/contracts/{w['active'].pk}/change-requests",
            {"changes": {"service_level": "Gold"}, "reason": "升级"},
        ),
        lambda w: _count(ChangeRequest, contract=w["active"]) == 2,
    ),
    "approve_change": (
        lambda w: ("post", f"/api/v1/change-requests/{w['change'].pk}/approve", {"note": "ok"}),
        lambda w: ChangeRequest.objects.get(pk=w["change"].pk).status == "approved",
    ),
    "set_sla": (
        lambda w: (
            "put",
            f"/api/v1/contracts/{w['active'].pk}/sla-bindings/P1",
            {"first_response_minutes": 15, "resolution_minutes": 240},
        ),
        lambda w: _count(ContractSlaBinding, contract=w["active"], priority="P1") == 1,
    ),
    "add_milestone": (
        lambda w: (
            "post",
            f"/api/v1/contracts/{w['active'].pk}/milestones",
            {"title": "验收", "due_date": "2026-06-30"},
        ),
        lambda w: _count(Milestone, contract=w["active"]) == 2,
    ),
    "edit_milestone": (
        lambda w: (
            "patch",
            f"/api/v1/contracts/{w['active'].pk}/milestones/{w['milestone'].pk}",
            {"title": "新标题"},
        ),
        lambda w: Milestone.objects.get(pk=w["milestone"].pk).title == "新标题",
    ),
    "add_invoice": (
        lambda w: (
            "post",
            f"/api/v1/contracts/{w['active'].pk}/invoices",
            {"invoice_number": "INV-NEW", "amount": 100, "issue_date": "2026-02-01", "due_date": "2026-03-01"},
        ),
        lambda w: _count(Invoice, contract=w["active"]) == 2,
    ),
    "add_payment": (
        lambda w: (
            "post",
            f"/api/v1/invoices/{w['invoice'].pk}/payments",
            {"amount": 100, "paid_date": "2026-02-10"},
        ),
        lambda w: _count(Payment, invoice=w["invoice"]) == 1,
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_role_matrix_changes_rows_only_when_allowed(api_as, world, make_user, role, action):
    user = world["csm"] if role == "csm" else make_user(role=role, username=f"actor_{role}")
    request, changed = ACTIONS[action]
    method, url, body = request(world)
    response = getattr(api_as(user), method)(url, body, format="json")
    allowed = role in ALLOWED[action]
    with tenant_scope(world["owner"].tenant):
        happened = changed(world)
    if allowed:
        assert response.status_code in (200, 201), (role, action, response.content[:300])
        assert happened, (role, action)
    else:
        assert response.status_code == 403, (role, action, response.status_code)
        assert not happened, (role, action)

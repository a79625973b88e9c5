"""factory_boy factories for contracts and everything hanging off them.

Rows are saved inside the tenant scope of the row they belong to (a contract's customer, an invoice's contract),
so `ContractFactory(customer=c)` just works in a test; library rows (templates, clauses, SLA policies) need a
`tenant=`. Factories write rows directly, without the services' rules and audit: use them to set up a state
(an expired contract, a paid invoice, a contract ending on the last day of the calendar); go through the services
or the HTTP layer for the behaviour under test.

    contract = ContractFactory(customer=customer, status=ContractStatus.ACTIVE)
    invoice = InvoiceFactory(contract=contract, amount=Decimal("5000"))
    PaymentFactory(invoice=invoice, amount=Decimal("2000"))
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import User
from accounts.tenancy import tenant_scope
from contracts.choices import ChangeStatus, ContractStatus, ServiceHours
from contracts.models import (
    ChangeRequest,
    Clause,
    Contract,
    ContractSlaBinding,
    ContractTemplate,
    Invoice,
    Milestone,
    Payment,
    SlaPolicy,
    TemplateClause,
)


class TenantRowFactory(factory.django.DjangoModelFactory):
    """Saves the row inside the tenant scope found by `tenant_of(kwargs)`."""

    class Meta:
        abstract = True

    @classmethod
    def tenant_of(cls, kwargs):
        return kwargs.pop("tenant")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        tenant = cls.tenant_of(kwargs)
        with tenant_scope(tenant):
            obj = model_class(*args, **kwargs)
            obj.save()
        return obj


def _author(contract_or_customer) -> User | None:
    customer = getattr(contract_or_customer, "customer", contract_or_customer)
    return customer.assigned_manager or User.objects.filter(tenant_id=customer.tenant_id).order_by("pk").first()


class ContractFactory(TenantRowFactory):
    """A draft for `customer` (required) over 2026; pass `status=ContractStatus.ACTIVE` for a signed one."""

    class Meta:
        model = Contract

    customer = None
    contract_code = factory.Sequence(lambda n: f"CT20260101{n:04d}")
    contract_name = factory.Sequence(lambda n: f"运维服务合同 {n}")
    contract_amount = Decimal("120000.00")
    currency = "CNY"
    start_date = date(2026, 1, 1)
    end_date = date(2026, 12, 31)
    status = ContractStatus.DRAFT
    signed_date = factory.LazyAttribute(lambda o: o.start_date if o.status != ContractStatus.DRAFT else None)
    created_by = factory.LazyAttribute(lambda o: _author(o.customer))

    @classmethod
    def tenant_of(cls, kwargs):
        return kwargs["customer"].tenant


class ContractTemplateFactory(TenantRowFactory):
    class Meta:
        model = ContractTemplate

    name = factory.Sequence(lambda n: f"标准合同模板 {n}")
    body = "<h2>服务内容</h2>\n<p>甲方：{{ customer.customer_name }}；金额 {{ amount }}。</p>\n{{ sla_table }}"
    is_active = True


class ClauseFactory(TenantRowFactory):
    class Meta:
        model = Clause

    title = factory.Sequence(lambda n: f"条款 {n}")
    category = "general"
    body = "双方应对商业秘密保密。"
    is_active = True


class TemplateClauseFactory(TenantRowFactory):
    class Meta:
        model = TemplateClause

    template = None
    clause = None
    position = factory.Sequence(lambda n: (n + 1) * 10)

    @classmethod
    def tenant_of(cls, kwargs):
        return kwargs["template"].tenant


class SlaPolicyFactory(TenantRowFactory):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"SLA {n}")
    service_hours = ServiceHours.ALWAYS
    availability_target = Decimal("99.900")
    targets = factory.LazyFunction(
        lambda: {
            "P1": {"first_response_minutes": 15, "resolution_minutes": 240},
            "P2": {"first_response_minutes": 30, "resolution_minutes": 480},
        }
    )


class ContractRowFactory(TenantRowFactory):
    """Rows of one contract (`contract=` required) are saved in its tenant."""

    class Meta:
        abstract = True

    @classmethod
    def tenant_of(cls, kwargs):
        return kwargs["contract"].tenant


class SlaBindingFactory(ContractRowFactory):
    class Meta:
        model = ContractSlaBinding

    contract = None
    priority = "P1"
    first_response_minutes = 15
    resolution_minutes = 240
    service_hours = ServiceHours.ALWAYS
    availability_target = Decimal("99.900")


class MilestoneFactory(ContractRowFactory):
    class Meta:
        model = Milestone

    contract = None
    title = factory.Sequence(lambda n: f"里程碑 {n}")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=30))


class InvoiceFactory(ContractRowFactory):
    class Meta:
        model = Invoice

    contract = None
    invoice_number = factory.Sequence(lambda n: f"INV-2026-{n:04d}")
    amount = Decimal("5000.00")
    issue_date = date(2026, 2, 1)
    due_date = date(2026, 3, 1)


class PaymentFactory(TenantRowFactory):
    class Meta:
        model = Payment

    invoice = None
    amount = Decimal("1000.00")
    paid_date = date(2026, 2, 20)
    method = "bank transfer"

    @classmethod
    def tenant_of(cls, kwargs):
        return kwargs["invoice"].tenant


class ChangeRequestFactory(ContractRowFactory):
    """A pending request to change the payment terms (pass `changes=` for others)."""

    class Meta:
        model = ChangeRequest

    contract = None
    requested_by = factory.LazyAttribute(lambda o: _author(o.contract))
    reason = "客户要求"
    changes = factory.LazyAttribute(lambda o: {"payment_terms": {"old": o.contract.payment_terms, "new": "Net 60"}})
    base_version = factory.LazyAttribute(lambda o: o.contract.version)
    status = ChangeStatus.PENDING

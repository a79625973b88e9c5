"""Demo step of the contracts app: a latent health per customer, then a consistent contract history.

Formal customers have a chain of yearly contracts, the current one active (its end is the next renewal date);
lost customers' last contract ended in the last ~13 months without renewal. The latent health (0-1) is shared
with the later demo steps through `context["health_at"](customer_id, day)` so tickets, ratings, usage, payment
delays and sentiment all follow the same story, with noise.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import code_next_many
from contracts.choices import ContractStatus, InvoiceStatus
from contracts.models import Contract, Invoice, Payment
from customers.choices import CustomerStatus
from customers.models import Customer
from customers.services import customer_renewal_date_set


def _latent(rng, today, status):
    """(health_at(day) -> 0..1, end of the last contract for lost customers)."""
    if status == CustomerStatus.LOST:
        end = today - timedelta(days=rng.randint(20, 400))
        h_end, climb = rng.uniform(0.05, 0.3), rng.uniform(0.0008, 0.0016)
        return (lambda d: h_end + max((end - d).days, 0) * climb), end
    h0 = rng.uniform(0.35, 0.95)
    slope = rng.gauss(0, 0.0004)
    anchor = today - timedelta(days=365)
    return (lambda d: h0 + (d - anchor).days * slope), None


def run(tenant, rng, context) -> dict:
    today = timezone.localdate()
    customers = list(
        Customer.objects.alive().filter(status__in=[CustomerStatus.FORMAL, CustomerStatus.LOST]).order_by("pk")
    )
    author = User.objects.filter(tenant=tenant, is_active=True).order_by("pk").first()
    curves, noise = {}, {}
    contracts: list[tuple[Customer, Contract]] = []
    for customer in customers:
        curve, lost_end = _latent(rng, today, customer.status)
        curves[customer.pk] = curve
        noise[customer.pk] = {}
        end = lost_end or today + timedelta(days=rng.randint(15, 360))
        amount = Decimal(rng.randint(5, 60) * 10000)
        chain = []
        while end - timedelta(days=364) >= today - timedelta(days=760) or not chain:
            start = end - timedelta(days=364)
            chain.append((start, end))
            end = start - timedelta(days=1)
        chain.reverse()
        for index, (start, end) in enumerate(chain):
            h = max(0.0, min(1.0, curve(start)))
            value = (amount * Decimal(str(round(1 + (h - 0.5) * 0.3 * index, 3)))).quantize(Decimal("1"))
            running = start <= today <= end
            contracts.append(
                (
                    customer,
                    Contract(
                        customer=customer,
                        contract_name=f"{customer.customer_name} 运维服务 {start.year}",
                        contract_amount=value,
                        start_date=start,
                        end_date=end,
                        status=ContractStatus.ACTIVE if running else ContractStatus.EXPIRED,
                        signed_date=start,
                        created_by=author,
                        version=1,
                    ),
                )
            )

    def health_at(customer_id, day):
        key = (day.year, day.month)
        bucket = noise.setdefault(customer_id, {})
        if key not in bucket:
            bucket[key] = rng.gauss(0, 0.06)
        return max(0.0, min(1.0, curves[customer_id](day) + bucket[key]))

    context["health_at"] = health_at
    context["customers"] = customers
    with transaction.atomic():
        codes = code_next_many("CT", len(contracts))
        for code, (_c, contract) in zip(codes, contracts, strict=True):
            contract.contract_code = code
        Contract.objects.bulk_create([c for _cu, c in contracts], batch_size=1000)
        stored = list(Contract.objects.filter(customer__in=customers).order_by("customer_id", "start_date"))
        previous = {}
        renewed = []
        for contract in stored:
            before = previous.get(contract.customer_id)
            if before is not None:
                contract.predecessor_id = before.pk
                contract.version = before.version + 1
                renewed.append(contract)
            previous[contract.customer_id] = contract
        Contract.objects.bulk_update(renewed, ["predecessor", "version"], batch_size=1000)
        invoices = []
        for contract in stored:
            for quarter in range(4):
                issue = contract.start_date + timedelta(days=91 * quarter)
                if issue > today:
                    break
                due = issue + timedelta(days=30)
                h = health_at(contract.customer_id, due)
                paid = None
                if due <= today or rng.random() < 0.5:
                    late = rng.random() < (1 - h) * 0.8
                    paid = due + timedelta(days=rng.randint(5, 45)) if late else due - timedelta(days=rng.randint(0, 5))
                    if paid > today:
                        paid = None
                invoices.append(
                    Invoice(
                        contract=contract,
                        invoice_number=f"INV-{contract.contract_code}-{quarter + 1}",
                        amount=(contract.contract_amount / 4).quantize(Decimal("0.01")),
                        issue_date=issue,
                        due_date=due,
                        paid_date=paid,
                        status=InvoiceStatus.PAID if paid else InvoiceStatus.ISSUED,
                    )
                )
        Invoice.objects.bulk_create(invoices, batch_size=1000)
        paid = Invoice.objects.filter(contract__customer__in=customers, paid_date__isnull=False)
        Payment.objects.bulk_create(
            [Payment(invoice=i, amount=i.amount, paid_date=i.paid_date, method="bank") for i in paid], batch_size=1000
        )
    for customer in customers:
        if customer.status == CustomerStatus.FORMAL:
            end = max(c.end_date for cu, c in contracts if cu.pk == customer.pk)
            customer_renewal_date_set(customer=customer, next_renewal_date=end)
        else:
            customer_renewal_date_set(customer=customer, next_renewal_date=None)
    return {"contracts": len(contracts), "invoices": len(invoices)}

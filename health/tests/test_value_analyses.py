"""The set-based value analysis (tenant-wide jobs, e.g. the nightly grading) gives every customer the same figures
as the per-customer one behind `GET /customers/{id}/analysis/value`."""

import random

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.registry import demo_steps
from accounts.tenancy import tenant_scope
from customers.models import Customer
from health import selectors, services

pytestmark = pytest.mark.django_db


def test_value_analyses_equal_the_per_customer_analysis_on_the_demo_story(tenant, owner):
    call_command("generate_demo", tenant=tenant.name, customers=30, seed=5)
    rng, context = random.Random(5), {}
    with tenant_scope(tenant):
        for step in demo_steps:  # every app's history (contracts, invoices, tickets, communications, usage)
            if step.key != "health_history":  # a year of daily scores: today's run below is enough
                step.run(tenant, rng, context)
        services.scores_save(timezone.localdate(), alerts=False)
        customers = list(Customer.objects.alive().order_by("pk"))
        one_by_one = {c.pk: selectors.value_analysis(c) for c in customers}
        together = selectors.value_analyses(customers, chunk=7)  # several chunks
    assert len(customers) >= 30
    assert together == one_by_one
    kinds = {a["value_analysis"]["revenue_trend"] for a in together.values()}
    assert len(kinds) > 1, "the demo story has rising and falling customers"
    assert any(a["growth_potential"]["expansion_opportunities"] for a in together.values())
    assert any(a["financial_metrics"]["payment_punctuality"] not in (None, 1.0) for a in together.values())

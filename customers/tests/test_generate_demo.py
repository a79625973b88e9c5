"""`manage.py generate_demo`: deterministic, exact counts, valid contacts, additive runs."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from accounts.models import JobRun, User
from accounts.tenancy import tenant_scope, unscoped
from customers.choices import CustomerStatus
from customers.models import Customer, CustomerContact, CustomerTag
from customers.services import normalize_name
from customers.validators import validate_email, validate_mobile, validate_phone, validate_tag_name

pytestmark = pytest.mark.django_db


def names_of(tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(Customer.objects.order_by("created_at", "customer_code").values_list("customer_name", flat=True))


def test_same_seed_gives_the_same_customers(tenant, other_tenant, owner, outsider):
    call_command("generate_demo", tenant=tenant.name, customers=40, seed=42)
    call_command("generate_demo", tenant=other_tenant.name, customers=40, seed=42)
    first, second = names_of(tenant), names_of(other_tenant)
    assert len(first) == 40
    assert first == second
    with tenant_scope(tenant):
        contacts_first = list(
            CustomerContact.objects.order_by("customer__created_at", "customer__customer_code", "id").values_list(
                "contact_name", "mobile", "email"
            )
        )
    with tenant_scope(other_tenant):
        contacts_second = list(
            CustomerContact.objects.order_by("customer__created_at", "customer__customer_code", "id").values_list(
                "contact_name", "mobile", "email"
            )
        )
    assert contacts_first == contacts_second


def test_another_seed_gives_other_customers(tenant, other_tenant):
    call_command("generate_demo", tenant=tenant.name, customers=20, seed=1)
    call_command("generate_demo", tenant=other_tenant.name, customers=20, seed=2)
    assert names_of(tenant) != names_of(other_tenant)


def test_exact_count_with_valid_contacts_and_one_primary_each(tenant, owner, teammate):
    call_command("generate_demo", tenant=tenant.name, customers=60, seed=7)
    with tenant_scope(tenant):
        customers = Customer.objects.annotate(
            n_contacts=Count("contacts"), n_primary=Count("contacts", filter=Q(contacts__is_primary=True))
        )
        assert customers.count() == 60
        for customer in customers:
            assert 1 <= customer.n_contacts <= 5, customer.customer_name
            assert customer.n_primary == 1, customer.customer_name
            assert customer.normalized_name == normalize_name(customer.customer_name)
            assert customer.name_key == customer.normalized_name
            assert customer.customer_code.startswith("CUST")
            assert 20 <= customer.health_score <= 98
            assert customer.assigned_manager == teammate  # the tenant's only CSM
            if customer.status == CustomerStatus.FORMAL:
                assert customer.next_renewal_date is not None
        assert len(set(Customer.objects.values_list("customer_code", flat=True))) == 60
        for contact in CustomerContact.objects.all():
            try:
                validate_mobile(contact.mobile)
                validate_phone(contact.phone)
                validate_email(contact.email)
            except ValidationError as exc:  # pragma: no cover - shows the bad value
                pytest.fail(
                    f"{contact.contact_name}: {exc.messages} ({contact.mobile}, {contact.phone}, {contact.email})"
                )
            assert contact.primary_marker == (1 if contact.is_primary else None)
        for name in CustomerTag.objects.values_list("tag_name", flat=True):
            validate_tag_name(name)
        # created_at spread over the past (not all "now").
        dates = Customer.objects.values_list("created_at", flat=True)
        assert (max(dates) - min(dates)).days > 30
    with unscoped("test reads the job record"):
        run = JobRun.objects.get(job_name="generate_demo")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.counts["customers"] == 60


def test_a_second_run_adds_more_without_name_clashes(tenant, teammate):
    call_command("generate_demo", tenant=tenant.name, customers=30, seed=5)
    call_command("generate_demo", tenant=tenant.name, customers=30, seed=5)
    with tenant_scope(tenant):
        assert Customer.objects.count() == 60
        keys = Counter(Customer.objects.values_list("normalized_name", flat=True))
        assert max(keys.values()) == 1


def test_a_tenant_without_csm_gets_two(tenant, owner):
    call_command("generate_demo", tenant=tenant.name, customers=10, seed=3)
    csms = User.objects.filter(tenant=tenant, groups__name="csm")
    assert csms.count() == 2
    with tenant_scope(tenant):
        managers = set(Customer.objects.values_list("assigned_manager_id", flat=True))
    assert managers <= set(csms.values_list("pk", flat=True))


def test_unknown_tenant_is_an_error(db):
    with pytest.raises(CommandError):
        call_command("generate_demo", tenant="No Such Tenant", customers=1)

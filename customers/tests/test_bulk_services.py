"""The bulk actions (add tag, assign manager) are set-based but keep the rules of the one-row services."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from crm_project.testing import query_budget
from customers import services
from customers.models import Customer, CustomerTag
from customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def test_bulk_tag_takes_the_tenant_spelling_skips_carriers_and_audits_each_new_row(owner):
    customers = [make_customer(owner, customer_name=f"Bulk Tag {n} Ltd") for n in range(6)]
    with tenant_scope(owner.tenant):
        services.tag_add(actor=owner, customer=customers[0], data={"tag_name": "Q3-Focus"})  # the tenant's spelling
        services.tag_add(actor=owner, customer=customers[1], data={"tag_name": "Q3-Focus"})
        with query_budget(12):  # not one query set per customer
            added = services.tag_add_bulk(actor=owner, customers=customers, tag_name="  q3-focus ")
        assert added == 4
        rows = CustomerTag.objects.filter(customer__in=customers).order_by("customer_id")
        assert [(tag.customer_id, tag.tag_name) for tag in rows] == [(c.pk, "Q3-Focus") for c in customers]
        assert all(tag.tenant_id == owner.tenant_id for tag in rows)
        audited = AuditLog.objects.filter(action="crm.tag.added", changes__tag__new="Q3-Focus")
        assert sorted(int(a.object_id) for a in audited) == sorted(c.pk for c in customers)  # 2 single + 4 bulk
        assert services.tag_add_bulk(actor=owner, customers=customers, tag_name="Q3-FOCUS") == 0  # idempotent


def test_bulk_tag_refuses_an_invalid_name_and_writes_nothing(owner):
    customers = [make_customer(owner, customer_name=f"Bad Tag {n} Ltd") for n in range(2)]
    with tenant_scope(owner.tenant):
        with pytest.raises(ValidationError):
            services.tag_add_bulk(actor=owner, customers=customers, tag_name="bad<tag>")
        with pytest.raises(ValidationError):
            services.tag_add_bulk(actor=owner, customers=customers, tag_name="   ")
        assert not CustomerTag.objects.filter(customer__in=customers).exists()


def test_bulk_reassign_checks_once_audits_every_change_and_skips_the_unchanged(owner, teammate, make_user):
    lead = make_user("cs_lead")
    customers = [make_customer(owner, customer_name=f"Move {n} Ltd", assigned_manager=teammate) for n in range(3)]
    already = make_customer(owner, customer_name="Stays Ltd", assigned_manager=lead)
    with tenant_scope(owner.tenant):
        loaded = list(
            Customer.objects.filter(pk__in=[c.pk for c in [*customers, already]]).select_related("assigned_manager")
        )
        with pytest.raises(PermissionDenied):
            services.customer_reassign(actor=teammate, customers=loaded, manager=lead)
        assert Customer.objects.filter(assigned_manager=lead).count() == 1  # nothing moved
        with query_budget(3 + 3):  # one UPDATE per moved row, one audit INSERT, the savepoint pair
            assert services.customer_reassign(actor=owner, customers=loaded, manager=lead) == 3
        assert Customer.objects.filter(assigned_manager=lead).count() == 4
        for action in ("crm.customer.updated", "crm.customer.reassigned"):
            entries = AuditLog.objects.filter(action=action, object_type="customers.customer")
            assert sorted(int(e.object_id) for e in entries) == sorted(c.pk for c in customers)
            assert all(e.actor_id == owner.pk and "assigned_manager" in e.changes for e in entries)


def test_bulk_reassign_refuses_an_inactive_manager(owner, teammate, make_user):
    gone = make_user("csm")
    gone.is_active = False
    gone.save()
    customer = make_customer(owner, customer_name="Kept Ltd", assigned_manager=teammate)
    with tenant_scope(owner.tenant):
        with pytest.raises(ValidationError):
            services.customer_reassign(actor=owner, customers=[customer], manager=gone)
        assert Customer.objects.get(pk=customer.pk).assigned_manager_id == teammate.pk

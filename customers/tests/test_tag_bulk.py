"""The bulk "add tag" action is set-based but keeps the rules of one tag: spelling, no double tag, audit."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from crm_project.testing import query_budget
from customers import services
from customers.models import CustomerTag
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

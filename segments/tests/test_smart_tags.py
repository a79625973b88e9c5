"""System tags follow their rules nightly, through the customers tag service; manual tags are left alone."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.tenancy import tenant_scope
from customers.choices import TagType
from customers.models import Customer, CustomerTag
from customers.tests.factories import make_tag
from segments.models import RfmScore
from segments.smart_tags import AT_RISK, HIGH_VALUE, RENEWAL_DUE
from segments.tasks import maintain_system_tags
from segments.tests.factories import customer_with

pytestmark = pytest.mark.django_db


def tags(tenant):
    with tenant_scope(tenant):
        return sorted(
            CustomerTag.objects.filter(tag_type=TagType.SYSTEM).values_list("customer__customer_name", "tag_name")
        )


def test_system_tags_added_and_removed(owner):
    sick = customer_with(owner, customer_name="Sick", health=40)
    renewing = customer_with(owner, customer_name="Renewing", health=90)
    rich = customer_with(owner, customer_name="Rich", health=95)
    manual = customer_with(owner, customer_name="Manual", health=30)
    make_tag(owner, manual, AT_RISK)  # a manual tag of the same name stays manual
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=renewing.pk).update(next_renewal_date=date(2026, 4, 15))
        RfmScore.objects.create(
            customer=rich, recency_days=1, frequency=3, monetary=Decimal("1"), r_score=5, f_score=5, m_score=5,
            rfm_segment="champions", computed_at=timezone.now(),
        )  # fmt: skip
    at = datetime(2026, 3, 1, 3, tzinfo=timezone.get_current_timezone())
    with time_machine.travel(at, tick=False):
        maintain_system_tags(owner.tenant.pk)
        maintain_system_tags(owner.tenant.pk)  # idempotent
    assert tags(owner.tenant) == [("Renewing", RENEWAL_DUE), ("Rich", HIGH_VALUE), ("Sick", AT_RISK)]
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=sick.pk).update(health_score=80)
    with time_machine.travel(at, tick=False):
        maintain_system_tags(owner.tenant.pk)
    assert tags(owner.tenant) == [("Renewing", RENEWAL_DUE), ("Rich", HIGH_VALUE)]
    with tenant_scope(owner.tenant):
        assert CustomerTag.objects.filter(customer=manual, tag_name=AT_RISK, tag_type=TagType.MANUAL).exists()

"""Dynamic membership: re-evaluated nightly and on demand, with who entered and left when."""

from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from accounts.models import JobRun
from accounts.tenancy import tenant_scope, unscoped
from customers.models import Customer
from segments import services
from segments.models import SegmentMembership, SegmentSnapshot
from segments.tasks import evaluate_segments
from segments.tests.factories import customer_with, make_segment

pytestmark = pytest.mark.django_db


def at(day, hour=3):
    return time_machine.travel(datetime(2026, 3, day, hour, tzinfo=timezone.get_current_timezone()), tick=False)


def set_health(customer, value):
    with tenant_scope(customer.tenant):
        Customer.objects.filter(pk=customer.pk).update(health_score=value)


def local_day(value):
    return timezone.localtime(value).day if value else None


def stays(segment):
    with tenant_scope(segment.tenant):
        return [
            (m.customer.customer_name, local_day(m.entered_at), local_day(m.left_at))
            for m in SegmentMembership.objects.filter(segment=segment).select_related("customer").order_by("id")
        ]


def test_nightly_job_records_entered_and_left(owner):
    sick = customer_with(owner, customer_name="Sick", health=40)
    well = customer_with(owner, customer_name="Well", health=90)
    with at(1):
        segment = make_segment(owner)  # health < 60
    assert stays(segment) == [("Sick", 1, None)]
    set_health(sick, 75)
    set_health(well, 30)
    with at(2):
        evaluate_segments(owner.tenant.pk)
    assert stays(segment) == [("Sick", 1, 2), ("Well", 2, None)]
    set_health(sick, 10)
    with at(3):
        evaluate_segments(owner.tenant.pk)
        evaluate_segments(owner.tenant.pk)  # idempotent: a second run changes nothing
    assert stays(segment) == [("Sick", 1, 2), ("Well", 2, None), ("Sick", 3, None)]
    with tenant_scope(owner.tenant):
        sizes = list(SegmentSnapshot.objects.filter(segment=segment).values_list("day__day", "size", "at_risk"))
        segment.refresh_from_db()
    assert sizes == [(1, 1, 1), (2, 1, 1), (3, 2, 2)]
    assert segment.member_count == 2
    with unscoped("read job runs"):
        run = JobRun.objects.filter(job_name="evaluate_segments").latest("pk")
    assert run.counts == {"segments": 1, "entered": 0, "left": 0}


def test_on_demand_evaluation_is_audited_and_deleted_customers_leave(owner):
    from accounts.models import AuditLog
    from customers import services as customer_services

    sick = customer_with(owner, customer_name="Sick", health=40)
    with at(1):
        segment = make_segment(owner)
    with at(2), tenant_scope(owner.tenant):
        customer_services.customer_delete(actor=owner, customer=Customer.objects.get(pk=sick.pk))
        result = services.segment_evaluate_now(actor=owner, segment=segment)
        assert AuditLog.objects.filter(action="crm.segment.evaluated").count() == 1
    assert result == {"members": 0, "entered": 0, "left": 1}
    assert stays(segment) == [("Sick", 1, 2)]

"""The SLA clock: 7x24 and business hours with a calendar; breaches across a weekend with a frozen clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.tenancy import tenant_scope
from customers.tests.factories import make_customer
from service_records import services
from service_records.models import ServiceRecord
from service_records.sla import add_service_minutes, service_minutes_between
from service_records.tests.factories import ingest, make_contract, records, ticket

SH = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_7x24_counts_every_minute():
    assert add_service_minutes(at(2026, 3, 6, 17, 0), 240, "7x24", {}) == at(2026, 3, 6, 21, 0)


def test_business_hours_skip_the_weekend():
    # Friday 2026-03-06 17:00 + 4 business hours (09:00-18:00 Mon-Fri) = 1 h Friday + 3 h Monday → Monday 12:00.
    assert add_service_minutes(at(2026, 3, 6, 17, 0), 240, "business", {}) == at(2026, 3, 9, 12, 0)
    assert service_minutes_between(at(2026, 3, 6, 17, 0), at(2026, 3, 9, 12, 0), "business", {}) == 240


def test_business_calendar_holidays_workdays_and_hours():
    calendar = {"start": "08:30", "end": "17:30", "holidays": ["2026-03-09"], "workdays": ["2026-03-07"]}
    # Friday 17:00 + 120 min: 30 min Friday, Saturday is a make-up workday from 08:30 → 10:00 Saturday.
    assert add_service_minutes(at(2026, 3, 6, 17, 0), 120, "business", calendar) == at(2026, 3, 7, 10, 0)
    # Opened on the Sunday, Monday is a holiday → the clock starts Tuesday 08:30.
    assert add_service_minutes(at(2026, 3, 8, 10, 0), 60, "business", calendar) == at(2026, 3, 10, 9, 30)


def test_malformed_calendar_falls_back_to_defaults():
    calendar = {"days": "weekdays", "start": "late", "holidays": "none", "timezone": "Mars/Base"}
    assert add_service_minutes(at(2026, 3, 6, 17, 0), 240, "business", calendar) == at(2026, 3, 9, 12, 0)


@pytest.fixture
def customer(owner, teammate):
    return make_customer(owner, customer_name="上海星河数据有限公司", assigned_manager=teammate)


def test_open_ticket_breaches_across_a_weekend_only_in_business_time(owner, customer, teammate):
    """Opened Friday 17:00 with a 4-hour business-hours resolution target: due Monday 12:00, not Friday 21:00."""
    make_contract(owner, customer, sla={"P1": (60, 240)}, service_hours="business")
    with time_machine.travel(at(2026, 3, 6, 17, 0), tick=False):
        ingest(owner.tenant, [ticket(customer, external_id="W-1", status="open", opened_at="2026-03-06 17:00:00",
                                     first_response_at="2026-03-06 17:20:00", resolved_at=None)])  # fmt: skip
    (record,) = records(owner.tenant)
    assert record.resolution_due_at == at(2026, 3, 9, 12, 0)
    assert record.sla_first_response_minutes == 60 and record.sla_service_hours == "business"

    with time_machine.travel(at(2026, 3, 8, 23, 0), tick=False), tenant_scope(owner.tenant):
        counts = services.sla_scan()
        record.refresh_from_db()
    assert counts["breached"] == 0 and not record.breached and record.sla_state == "ok"

    with time_machine.travel(at(2026, 3, 9, 11, 40), tick=False), tenant_scope(owner.tenant):
        services.sla_scan()
        record.refresh_from_db()
    assert record.sla_state == "at_risk" and not record.breached

    with time_machine.travel(at(2026, 3, 9, 12, 1), tick=False), tenant_scope(owner.tenant):
        services.sla_scan()
        record.refresh_from_db()
    assert record.resolution_breached and record.breached and record.sla_state == "breached"
    assert not record.response_breached


def test_same_ticket_in_7x24_breaches_on_friday_night(owner, customer):
    make_contract(owner, customer, sla={"P1": (60, 240)}, service_hours="7x24")
    with time_machine.travel(at(2026, 3, 6, 21, 1), tick=False):
        ingest(owner.tenant, [ticket(customer, status="open", opened_at="2026-03-06 17:00:00",
                                     first_response_at="2026-03-06 17:20:00", resolved_at=None)])  # fmt: skip
    (record,) = records(owner.tenant)
    assert record.resolution_breached and record.breach_minutes == 1


def test_targets_are_copied_so_a_later_contract_change_keeps_history(owner, customer):
    from contracts import services as contract_services

    contract = make_contract(owner, customer, sla={"P1": (60, 240)})
    ingest(owner.tenant, [ticket(customer, external_id="H-1")])
    with tenant_scope(owner.tenant):
        contract_services.sla_binding_set(
            actor=owner, contract=contract, priority="P1", data={"first_response_minutes": 5, "resolution_minutes": 10}
        )
    ingest(owner.tenant, [ticket(customer, external_id="H-1", title="Edited")])
    (record,) = records(owner.tenant)
    assert record.title == "Edited"
    assert (record.sla_first_response_minutes, record.sla_resolution_minutes) == (60, 240)
    assert not record.breached


def test_without_contract_there_is_no_target_and_no_error(owner, customer):
    result = ingest(owner.tenant, [ticket(customer)])
    assert result.failed == [] and result.created == 1
    (record,) = records(owner.tenant)
    assert record.contract_id is None and record.sla_state == "none" and not record.breached
    with tenant_scope(owner.tenant):
        assert ServiceRecord.objects.get().response_due_at is None

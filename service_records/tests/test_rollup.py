"""The tenant-wide figures come from the rollups; they must equal the figures computed from the tickets themselves
after every kind of write (ingest, re-ingest, staff edit, rating, breach scan, deleted customer) and after the
rebuild job, which is idempotent."""

from datetime import datetime

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from accounts.tenancy import tenant_scope
from crm_project.testing import assert_envelope, query_budget
from customers.models import Customer
from customers.tests.factories import make_customer
from service_records import rollup, selectors, services
from service_records.models import NpsResponse, ServiceDailyRollup, ServiceMinutesHistogram, ServiceRecord
from service_records.tests.factories import ingest, make_contract, ticket

NOW = "2026-03-20 12:00:00+08:00"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(owner, teammate):
    """Three customers (two with contracts), tickets over two months, minutes below and above 64."""
    a = make_customer(owner, customer_name="北京云启科技有限公司", assigned_manager=teammate)
    b = make_customer(owner, customer_name="上海海川数据有限公司", assigned_manager=owner)
    c = make_customer(owner, customer_name="广州无合同有限公司", assigned_manager=owner)
    make_contract(owner, a, sla={"P1": (60, 240), "P2": (120, 480)})
    make_contract(owner, b, sla={"P1": (30, 120), "P3": (240, 1440)})
    batch = []
    for n in range(18):
        customer = (a, b, c)[n % 3]
        day = 2 + n
        first = 5 + n * 7  # 5 .. 124 minutes
        batch.append(
            ticket(
                customer,
                external_id=f"R{n}",
                priority=("P1", "P2", "P3")[n % 3],
                category=("network", "database", "")[n % 3 if n < 9 else (n + 1) % 3],
                opened_at=f"2026-{2 + n % 2:02d}-{day:02d} 09:00:00",
                first_response_at=f"2026-{2 + n % 2:02d}-{day:02d} {9 + first // 60:02d}:{first % 60:02d}:00",
                resolved_at=None if n % 5 == 0 else f"2026-{2 + n % 2:02d}-{day:02d} {10 + n % 8:02d}:30:00",
                status="open" if n % 5 == 0 else "resolved",
                satisfaction={"overall": 1 + n % 5, "response_speed": 1 + (n + 2) % 5, "comment": ""}
                if n % 2
                else None,
            )
        )
    result = ingest(owner.tenant, batch)
    assert result.failed == [] and result.created == 18
    with tenant_scope(owner.tenant):
        NpsResponse.objects.create(customer=a, score=10, responded_at=timezone.now())
        NpsResponse.objects.create(customer=b, score=3, responded_at=timezone.now())
    return a, b, c


def _raw(owner, period="12m"):
    """The figures computed from the tickets (exact), the way a CSM's book or a customer is computed."""
    since = selectors.period_since(period)
    with tenant_scope(owner.tenant):
        rows = (
            ServiceRecord.objects.filter(opened_at__gte=since, customer__deleted_at__isnull=True)
            .order_by()
            .values_list(*rollup.RAW_FIELDS)
        )
        stats = rollup.stats_from_rows(rows, selectors.nps_figures(selectors.nps_visible_to(owner)))
        trends = selectors.monthly_trends(selectors.records_visible_to(owner), selectors.nps_visible_to(owner))
    return stats, trends


def _from_rollup(owner, period="12m"):
    with tenant_scope(owner.tenant):
        overview = selectors.tenant_overview(owner, period)
    return {**overview["stats"], "distribution": overview["distribution"]}, overview["trends"]


def assert_same(owner, period="12m"):
    raw, raw_trends = _raw(owner, period)
    rolled, rolled_trends = _from_rollup(owner, period)
    for metric in ("response_minutes", "resolution_minutes"):
        exact, approx = raw.pop(metric), rolled.pop(metric)
        assert approx["mean"] == exact["mean"], metric
        for key in ("median", "p90"):
            if exact[key] is None:
                assert approx[key] is None
            elif exact[key] < rollup.EXACT_BELOW:
                assert approx[key] == exact[key], (metric, key)
            else:  # 4 % buckets above an hour: the reported value lies within 2 % of the exact one
                assert abs(approx[key] - exact[key]) <= 0.021 * exact[key], (metric, key, approx, exact)
    assert rolled == raw
    assert rolled_trends == raw_trends
    return raw


def _table():
    rows = sorted(
        tuple(r[1:])
        for r in ServiceDailyRollup.objects.values_list("id", "day", "category", "priority", *rollup.COUNTERS)
    )
    hist = sorted(ServiceMinutesHistogram.objects.values_list("day", "metric", "bucket", "count"))
    return rows, hist


def test_rollup_figures_equal_the_figures_of_the_tickets_after_every_write(owner, teammate, world):
    a, b, c = world
    raw = assert_same(owner)
    assert raw["tickets"] == 18 and raw["open"] == 4 and raw["breaches"] > 0 and raw["satisfaction"]["responses"] == 9
    assert_same(owner, "1m")
    # A period starting mid-February reads February's day rows from the 10th on and the month rows after it.
    with time_machine.travel("2026-03-10 12:00:00+08:00", tick=False):
        assert 0 < assert_same(owner, "1m")["tickets"] < 18

    # The same batch again with changes: a status, a priority (new SLA copy), a rating, a customer's ticket moved
    # to another day.
    again = [
        ticket(a, external_id="R0", priority="P2", status="resolved", opened_at="2026-02-02 09:00:00",
               first_response_at="2026-02-02 09:05:00", resolved_at="2026-02-02 18:00:00"),
        ticket(b, external_id="R1", priority="P2", category="database", opened_at="2026-03-05 09:00:00",
               first_response_at="2026-03-05 11:00:00", resolved_at="2026-03-05 12:00:00",
               satisfaction={"overall": 5, "professionalism": 4}),
    ]  # fmt: skip
    result = ingest(owner.tenant, again)
    assert (result.created, result.updated, result.failed) == (0, 2, [])
    assert_same(owner)

    with tenant_scope(owner.tenant):
        record = ServiceRecord.objects.get(external_id="R5")
        services.record_update(
            actor=owner, record=record, data={"status": "resolved", "resolved_at": timezone.now(), "category": "x"}
        )
        services.rating_set(
            actor=owner,
            record=ServiceRecord.objects.get(external_id="R4"),
            data={"satisfaction_overall": 2, "satisfaction_resolution_quality": 1},
        )
        services.record_create(
            actor=owner,
            customer=a,
            data={"title": "manual", "priority": "P1", "category": "network", "opened_at": timezone.now()},
        )
    assert_same(owner)

    # Two days later the open tickets have missed their targets: the scan flips their flags.
    with time_machine.travel("2026-03-22 12:00:00+08:00", tick=False), tenant_scope(owner.tenant):
        counts = services.sla_scan(now=timezone.now())
        assert counts["changed"] >= 1
        assert_same(owner)

    # A deleted customer's tickets leave the tenant figures (they stay in the rollup, the read subtracts them).
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=c.pk).update(deleted_at=timezone.now())
    raw = assert_same(owner)
    assert raw["tickets"] == 13

    # The rebuild job writes exactly what the increments kept; a rerun writes the same rows again.
    with tenant_scope(owner.tenant):
        kept = _table()
        counts = rollup.rebuild()
        assert counts["tickets"] == 19
        assert _table() == kept
        rollup.rebuild()
        assert _table() == kept


def test_the_rebuild_job_repairs_a_damaged_rollup(owner, world):
    with tenant_scope(owner.tenant):
        kept = _table()
        ServiceDailyRollup.objects.filter(priority="P1").update(tickets=999, breaches=0)
        ServiceMinutesHistogram.objects.filter(metric="response").delete()
        ServiceDailyRollup.objects.create(day=datetime(2025, 1, 1).date(), category="stale", priority="P4", tickets=5)
        assert _table() != kept
    from accounts.models import JobRun
    from service_records.tasks import rebuild_rollups

    counts = rebuild_rollups.apply(args=[owner.tenant.pk]).get()
    assert counts["tickets"] == 18 and counts["stale_days"] == 1
    with tenant_scope(owner.tenant):
        assert _table() == kept
        assert JobRun.objects.filter(job_name="service_records.rebuild_rollups", status="succeeded").exists()
    assert_same(owner)


def test_tenant_page_reads_a_constant_number_of_queries(staff_client_as, api_as, owner, world):
    client = staff_client_as(owner)
    client.get("/")
    cache.clear()  # the figures are kept a minute: measure the computation
    with query_budget(30) as before:
        client.get("/service/?period=12m")
    ingest(
        owner.tenant, [ticket(world[0], external_id=f"MORE{n}", opened_at=f"2026-03-01 0{n}:00:00") for n in range(8)]
    )
    cache.clear()
    with query_budget(len(before.captured_queries)):
        page = client.get("/service/?period=12m").content.decode()
    assert "北京云启科技有限公司" in page
    with query_budget(12):
        data = assert_envelope(api_as(owner).get("/api/v1/service-stats?period=12m"), 200)
    assert data["tickets"] == 26


def test_customer_stats_query_budget_does_not_grow(api_as, owner, world):
    a = world[0]
    api = api_as(owner)
    with query_budget(12) as before:
        first = assert_envelope(api.get(f"/api/v1/customers/{a.pk}/service-stats?period=12m"), 200)
    ingest(owner.tenant, [ticket(a, external_id=f"MORE{n}", opened_at=f"2026-03-01 0{n}:00:00") for n in range(8)])
    with query_budget(len(before.captured_queries)):
        data = assert_envelope(api.get(f"/api/v1/customers/{a.pk}/service-stats?period=12m"), 200)
    assert data["tickets"] == first["tickets"] + 8


def test_histogram_buckets_are_exact_below_an_hour_and_within_two_percent_above():
    for minutes in [0, 1, 30, 63]:
        assert rollup.bucket_value(rollup.bucket_of(minutes)) == minutes
    for minutes in [64, 65, 100, 240, 1439, 4320, 100_000, 9_999_999]:
        value = rollup.bucket_value(rollup.bucket_of(minutes))
        assert abs(value - minutes) <= 0.021 * minutes + 0.5, (minutes, value)


def test_a_csm_sees_the_figures_of_their_own_customers_only(owner, teammate, world):
    a = world[0]  # the teammate manages only this customer
    with tenant_scope(owner.tenant):
        overview = selectors.tenant_overview(teammate, "12m")
        rows = ServiceRecord.objects.filter(customer=a, opened_at__gte=selectors.period_since("12m"))
        expected = rollup.stats_from_rows(
            rows.values_list(*rollup.RAW_FIELDS), selectors.nps_figures(NpsResponse.objects.filter(customer=a))
        )
    assert expected["tickets"] == 6
    assert {**overview["stats"], "distribution": overview["distribution"]} == expected
    assert {row["customer_id"] for row in overview["by_customer"]} <= {a.pk}
    assert all(record.customer_id == a.pk for record in overview["worst_breaches"])

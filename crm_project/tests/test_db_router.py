"""The read-replica router: report and analytics reads go to `replica`, writes never; without a replica
everything stays on `default`.

The test registers a second connection, `replica`, to the same test database (what Django's TEST MIRROR does
for a configured replica), and counts the queries each connection runs.
"""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.db.utils import load_backend
from django.test.utils import CaptureQueriesContext

from accounts.tenancy import tenant_scope
from crm_project.db_router import ReplicaRouter, replica_available, replica_reads
from customers.models import Customer
from customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db(transaction=True)  # the replica connection sees committed rows only


@pytest.fixture
def replica():
    config = dict(connections["default"].settings_dict)
    wrapper = load_backend(config["ENGINE"]).DatabaseWrapper(config, "replica")
    connections["replica"] = wrapper
    yield wrapper
    wrapper.close()
    del connections["replica"]


def test_without_a_replica_everything_reads_from_default(owner):
    assert not replica_available()
    with replica_reads():
        assert ReplicaRouter().db_for_read(Customer) is None  # no opinion: Django uses default
        with tenant_scope(owner.tenant), CaptureQueriesContext(connections["default"]) as default_queries:
            assert Customer.objects.count() == 0
    assert len(default_queries) == 1


def test_report_reads_go_to_the_replica_and_writes_never(owner, replica):
    make_customer(owner, customer_name="Replica Ltd")
    with tenant_scope(owner.tenant), replica_reads():
        with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_default:
            assert list(Customer.objects.values_list("customer_name", flat=True)) == ["Replica Ltd"]
        assert len(on_replica) == 1 and len(on_default) == 0
        with CaptureQueriesContext(replica) as on_replica:
            make_customer(owner, customer_name="Written During A Report")
            with transaction.atomic():  # reads inside a write transaction stay on the primary
                Customer.objects.filter(customer_name="Replica Ltd").exists()
        writes = [q["sql"] for q in on_replica if not q["sql"].lstrip().upper().startswith("SELECT")]
        assert writes == [] and len(on_replica) == 0
    # Outside a report block the replica is not used at all.
    with tenant_scope(owner.tenant), CaptureQueriesContext(replica) as on_replica:
        assert Customer.objects.count() == 2
    assert len(on_replica) == 0


def test_report_pages_read_from_the_replica(owner, replica, staff_client_as, settings):
    make_customer(owner, customer_name="Quality Ltd")
    client = staff_client_as(owner)
    with CaptureQueriesContext(replica) as on_replica:
        assert client.get("/service/").status_code == 200  # service_records:quality, a report page
    assert len(on_replica) > 0
    assert all(q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE")) for q in on_replica)
    with CaptureQueriesContext(replica) as on_replica:
        assert client.get("/customers/").status_code == 200  # not a report: the primary
    assert len(on_replica) == 0


def test_the_replica_is_never_migrated():
    assert ReplicaRouter().allow_migrate("replica", "customers") is False
    assert ReplicaRouter().allow_migrate("default", "customers") is True

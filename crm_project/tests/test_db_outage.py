"""Database connection lost in the middle of a request (PRD 8): the caller gets a clean error (503 with
Retry-After: the API's envelope with a trace id, the staff "try again" page), and nothing of the half-done write
is kept.

The fault is injected at the database-driver boundary (`connection.execute_wrapper`): after the first INSERT of
a multi-row write the next INSERT raises the driver's "lost connection" error, exactly what Django sees when the
server restarts mid-request. A MariaDB run also kills the session for real (`KILL` from a second connection).
"""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError, connection

from accounts.models import AuditLog
from accounts.tenancy import unscoped
from crm_project.testing import api_client_for
from customers.models import Customer, CustomerContact


class LoseConnectionAfter:
    """Let `inserts` INSERT statements through, then fail the next one as a dropped connection would (once: the
    rollback that follows reaches the server again, like the first statement after a restart)."""

    def __init__(self, inserts: int):
        self.inserts = inserts
        self.tripped = False

    def __call__(self, execute, sql, params, many, context):
        if not self.tripped and sql.lstrip().upper().startswith("INSERT"):
            if self.inserts == 0:
                self.tripped = True
                raise OperationalError(2013, "Lost connection to MySQL server during query")
            self.inserts -= 1
        return execute(sql, params, many, context)


def _counts():
    with unscoped("test counts every tenant's rows"):
        return (
            Customer.objects.count(),
            CustomerContact.objects.count(),
            AuditLog.objects.filter(action="crm.customer.created").count(),
        )


BODY = {
    "customer_name": "Half Written Ltd",
    "contacts": [
        {"contact_name": "First", "phone": "13800000001", "is_primary": True},
        {"contact_name": "Second", "phone": "13800000002"},
    ],
}


def test_api_write_interrupted_midway_answers_503_with_the_envelope_and_keeps_nothing(owner):
    before = _counts()
    api = api_client_for(owner)
    api.raise_request_exception = False
    fault = LoseConnectionAfter(inserts=2)  # the customer and its first contact, then the connection drops
    with connection.execute_wrapper(fault):
        response = api.post("/api/v1/customers", BODY, format="json")
    assert fault.tripped
    assert response.status_code == 503 and response["Retry-After"]
    body = json.loads(response.content)
    assert body["code"] == 50300 and body["trace_id"] == response["X-Request-ID"] and body["data"] is None
    assert "Lost connection" not in body["message"]  # no driver detail leaks to the caller
    assert _counts() == before  # no customer, no orphan contact, no audit entry
    # The database is back: the same request succeeds completely.
    retried = api.post("/api/v1/customers", BODY, format="json")
    assert retried.status_code == 201, retried.content[:300]
    assert _counts() == (before[0] + 1, before[1] + 2, before[2] + 1)


def test_staff_form_interrupted_midway_shows_the_error_page_and_keeps_nothing(owner, staff_client_as):
    before = _counts()
    client = staff_client_as(owner)
    client.raise_request_exception = False
    fault = LoseConnectionAfter(inserts=1)
    with connection.execute_wrapper(fault):
        response = client.post(
            "/customers/new/",
            {
                "customer_name": "Form Half Ltd", "customer_type": "1", "level": "1", "source": "", "status": "",
                "contacts-TOTAL_FORMS": "0", "contacts-INITIAL_FORMS": "0",
                "contacts-MIN_NUM_FORMS": "0", "contacts-MAX_NUM_FORMS": "1000",
            },
        )  # fmt: skip
    assert fault.tripped
    assert response.status_code == 503 and response["X-Request-ID"] and response["Retry-After"]
    assert b"Lost connection" not in response.content
    assert _counts() == before


@pytest.mark.skipif(connection.vendor != "mysql", reason="a real KILL of the session needs MariaDB")
@pytest.mark.django_db(transaction=True)
def test_mariadb_session_killed_mid_transaction_keeps_nothing(owner):
    """The server really drops the session between two INSERTs of one transaction; MariaDB rolls it back."""
    import MySQLdb
    from django.conf import settings

    db = settings.DATABASES["default"]
    killer = MySQLdb.connect(
        host=db["HOST"] or "127.0.0.1", port=int(db["PORT"] or 3306), user=db["USER"], passwd=db["PASSWORD"] or ""
    )
    before = _counts()
    state = {"inserts": 0}

    def kill_after_first_insert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("INSERT"):
            state["inserts"] += 1
            if state["inserts"] == 1:
                with connection.connection.cursor() as cursor:
                    cursor.execute("SELECT CONNECTION_ID()")
                    session = cursor.fetchone()[0]
                killer.cursor().execute(f"KILL {int(session)}")
        return result

    api = api_client_for(owner)
    api.raise_request_exception = False
    with connection.execute_wrapper(kill_after_first_insert):
        response = api.post("/api/v1/customers", BODY, format="json")
    killer.close()
    assert response.status_code == 503 and json.loads(response.content)["code"] == 50300
    connection.close()  # the next request opens a fresh session (CONN_HEALTH_CHECKS does this in production)
    assert _counts() == before

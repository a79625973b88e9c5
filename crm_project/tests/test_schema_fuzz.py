"""Fuzz the OpenAPI schema against the app in-process (schemathesis over WSGI): zero findings (issue 8 item 7).

Checks: no server error, every answer matches its documented schema, every status code is documented.
Fixed seed (derandomized Hypothesis) and a bounded number of examples per operation, so CI is repeatable and
takes a couple of minutes at most. Raise FUZZ_EXAMPLES locally for a deeper run.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from crm_project.testing import api_client_for

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]

# Operations whose findings belong to another change, each with the reason; remove the entry with the fix.
# TEMPORARY: the milestone detail view inherits GET/POST with the wrong signature (TypeError → 500); the fix is
# contracts' own (issue 8 item 7, milestone detail). Remove these two lines with that fix.
KNOWN_FINDINGS: dict[str, str] = {}  # operation label -> reason; empty: every operation is fuzzed


def _fuzzer(operation, label: str, bearer: str, cases: Counter):
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def fuzz(case):
        cases[label] += 1
        case.call_and_validate(headers={"Authorization": bearer}, checks=CHECKS)

    return fuzz


@pytest.fixture
def keep_test_connection():
    """Calling the WSGI app directly fires request_started/finished, whose close_old_connections() would close
    the test's connection (and its transaction) on MySQL; Django's own test client disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_api_schema_fuzz(owner, monkeypatch, keep_test_connection):
    from crm_project.wsgi import application

    # The fuzzer tests answers, not the rate limits (a throttled 429 is documented anyway).
    monkeypatch.setattr("crm_project.api.throttling._WindowThrottle.allow_request", lambda self, request, view: True)
    bearer = api_client_for(owner)._credentials["HTTP_AUTHORIZATION"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
    cases: Counter[str] = Counter()
    findings: dict[str, str] = {}
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        labels.append(label)
        if label in KNOWN_FINDINGS:
            continue

        try:
            _fuzzer(operation, label, bearer, cases)()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # schemathesis' FailureGroup; one finding per operation is enough to act on
            findings[label] = f"{type(exc).__name__}: {str(exc)[:3000]}"
    for label in KNOWN_FINDINGS:
        assert label in labels, f"{label} is allow-listed in test_schema_fuzz.py but no longer exists: remove it"
    summary = f"schema fuzz: {sum(cases.values())} cases over {len(labels)} operations, {len(findings)} findings"
    print(summary)
    if os.environ.get("FUZZ_REPORT"):  # a file with every finding in full, for a developer's run
        with open(os.environ["FUZZ_REPORT"], "w") as report:
            report.write(summary + "\n\n" + "\n\n".join(f"{label}\n{text}" for label, text in findings.items()))
    assert not findings, "\n\n".join(f"{label}\n{text}" for label, text in findings.items())


def _schema(client):
    return client.get("/api/v1/schema/?format=json").json()


def test_schema_declares_the_datetimes_that_are_sent(client, db):
    schema = _schema(client)
    created_at = schema["components"]["schemas"]["CustomerCreated"]["properties"]["created_at"]
    assert "format" not in created_at and created_at["pattern"] == r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
    assert schema["components"]["schemas"]["Envelope"]["properties"]["timestamp"]["format"] == "date-time"


def test_schema_documents_the_error_statuses_in_one_place(client, db):
    operations = _schema(client)["paths"]
    create = operations["/api/v1/customers"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "429", "503"} <= set(create)
    assert "409" not in operations["/api/v1/customers"]["get"]["responses"]
    search = operations["/api/v1/customers/search"]["post"]["responses"]["200"]
    assert "Paginated" in json_text(search)


def json_text(value) -> str:
    import json

    return json.dumps(value)

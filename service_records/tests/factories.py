"""Test data for service records, made through the services (SLA copy, breach flags and audit as in production)."""

from __future__ import annotations

import itertools
import json
import time
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.cache import cache

from accounts.integration import sign
from accounts.tenancy import tenant_scope
from contracts import services as contract_services
from contracts.models import Contract
from service_records import services
from service_records.models import ServiceRecord

_numbers = itertools.count(1)


def make_contract(
    actor,
    customer,
    *,
    start=date(2026, 1, 1),
    end=date(2026, 12, 31),
    sla: dict[str, tuple[int, int]] | None = None,
    service_hours: str = "7x24",
    calendar: dict | None = None,
    sign_it: bool = True,
) -> Contract:
    """A contract (signed by default) with SLA bindings {priority: (first response, resolution) minutes}."""
    with tenant_scope(actor.tenant):
        contract = contract_services.contract_create(
            actor=actor,
            customer=customer,
            data={
                "contract_name": "运维服务",
                "contract_amount": Decimal("100000"),
                "start_date": start,
                "end_date": end,
            },
        )
        for priority, (first, resolution) in (sla or {"P1": (60, 240), "P2": (120, 480)}).items():
            contract_services.sla_binding_set(
                actor=actor,
                contract=contract,
                priority=priority,
                data={"first_response_minutes": first, "resolution_minutes": resolution,
                      "service_hours": service_hours, "business_calendar": calendar or {}},
            )  # fmt: skip
        if sign_it:
            contract = contract_services.contract_sign(actor=actor, contract=contract, signed_date=start)
        return contract


def ticket(customer, **fields: Any) -> dict[str, Any]:
    """One ingest ticket (the JSON the ticket system sends)."""
    number = next(_numbers)
    data = {
        "external_id": f"INC-{number:05d}",
        "source_system": "itsm",
        "customer_code": customer.customer_code,
        "title": f"Ticket {number}",
        "description": "",
        "category": "network",
        "priority": "P1",
        "channel": "phone",
        "status": "resolved",
        "opened_at": "2026-03-02 09:00:00",
        "first_response_at": "2026-03-02 09:30:00",
        "resolved_at": "2026-03-02 11:00:00",
        "closed_at": None,
        "assignee": "Wang Lei",
        "solution": "",
    }
    data.update(fields)
    return data


def ingest(tenant, tickets: list[dict]) -> services.IngestResult:
    with tenant_scope(tenant):
        return services.tickets_ingest(tickets=tickets)


def records(tenant, **filters) -> list[ServiceRecord]:
    with tenant_scope(tenant):
        return list(ServiceRecord.objects.filter(**filters).order_by("id"))


def signed_post(client, key, secret, payload, *, path="/api/v1/integrations/tickets"):
    body = json.dumps(payload).encode()
    # The same signed body twice inside the window is refused as a replay (accounts' tests cover that); a test
    # that sends a batch twice means two deliveries by the ticket system, so forget the earlier signature.
    cache.clear()
    ts = str(int(time.time()))
    return client.generic(
        "POST", path, body, content_type="application/json",
        HTTP_X_CRM_KEY=key.key_id, HTTP_X_CRM_TIMESTAMP=ts, HTTP_X_CRM_SIGNATURE=sign(secret, ts, body),
    )  # fmt: skip

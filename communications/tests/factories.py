"""Test data for communications, made through the services (rules, analysis and audit exactly as in production)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.tenancy import tenant_scope
from communications import services
from communications.choices import CommunicationType, Direction
from communications.models import Communication


def make_communication(actor, customer, **fields: Any) -> Communication:
    fields.setdefault("communication_type", CommunicationType.PHONE)
    fields.setdefault("direction", Direction.OUTBOUND)
    fields.setdefault("subject", "Weekly check-in")
    fields.setdefault("content", "Routine call about open tickets.")
    fields.setdefault("communication_date", timezone.now())
    analyze = fields.pop("analyze", "sync")
    with tenant_scope(customer.tenant):
        return services.communication_create(actor=actor, customer=customer, data=fields, analyze=analyze)

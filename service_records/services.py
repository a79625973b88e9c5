"""Writes of service records: ticket ingest (set-based upsert), manual entry, CSV import, ratings, NPS,
the SLA breach scan, merges and report requests. Views, the API, tasks and the admin call these only.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record, notify
from contracts.choices import ContractStatus, TicketPriority
from contracts.models import Contract, ContractSlaBinding
from customers.models import Customer, CustomerContact
from service_records import rollup, signals
from service_records.choices import (
    AT_RISK_MINUTES,
    DIMENSIONS,
    OPEN_STATUSES,
    Channel,
    ReportKind,
    ReportStatus,
    SlaState,
    TicketStatus,
)
from service_records.models import NpsResponse, ServiceRecord, ServiceReport
from service_records.sla import add_service_minutes

MAX_BATCH = 1000
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
TEXT_LIMIT = 20000
MANUAL_SOURCE = "manual"
PORTAL_SOURCE = "portal"  # requests sent from the customer portal (portal app)
CSV_SOURCE = "csv"
# Fields the ticket system (or staff) may set; the SLA columns are derived.
TICKET_FIELDS = (
    "title",
    "description",
    "category",
    "priority",
    "channel",
    "status",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "handling_minutes",
    "solution",
    "assignee",
)
SLA_FIELDS = (
    "opened_month",
    "sla_first_response_minutes",
    "sla_resolution_minutes",
    "sla_service_hours",
    "sla_business_calendar",
    "response_due_at",
    "resolution_due_at",
    "response_minutes",
    "resolution_minutes",
    "response_breached",
    "resolution_breached",
    "breached",
    "breach_minutes",
    "sla_state",
)
RATING_FIELDS = tuple(f"satisfaction_{name}" for name in DIMENSIONS) + ("satisfaction_comment", "rated_at")


# --- Parsing ------------------------------------------------------------------------------------------------------
class FieldError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def parse_datetime_local(value: Any, field_name: str) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS` in the server's zone (None stays None); anything else is a field error."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if not isinstance(value, str) or len(value) > 40:
        raise FieldError(field_name, _("Enter a date and time as YYYY-MM-DD HH:MM:SS."))
    for fmt in DATETIME_FORMATS:
        try:
            parsed = datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
        if not 2000 <= parsed.year <= 2100:
            raise FieldError(field_name, _("The year must lie between 2000 and 2100."))
        return timezone.make_aware(parsed)
    raise FieldError(field_name, _("Enter a date and time as YYYY-MM-DD HH:MM:SS."))


def _text(item: dict, name: str, limit: int, *, required: bool = False) -> str:
    value = item.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise FieldError(name, _("Must be text."))
    value = str(value).strip()
    if required and not value:
        raise FieldError(name, _("This field is required."))
    if len(value) > limit:
        raise FieldError(name, _("At most %(limit)d characters.") % {"limit": limit})
    return value


def _choice(item: dict, name: str, choices, default: str = "") -> str:
    value = item.get(name)
    if value in (None, ""):
        if default == "" and name == "priority":
            raise FieldError(name, _("This field is required."))
        return default
    if not isinstance(value, str) or value not in choices.values:
        allowed = ", ".join(choices.values)
        raise FieldError(name, _("Unknown value; use one of %(allowed)s.") % {"allowed": allowed})
    return value


def _rating(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldError(name, _("A rating is a whole number from 1 to 5."))
    try:
        number = int(value)
    except ValueError:
        raise FieldError(name, _("A rating is a whole number from 1 to 5.")) from None
    if not 1 <= number <= 5:
        raise FieldError(name, _("A rating is a whole number from 1 to 5."))
    return number


def parse_ticket(item: Any) -> dict[str, Any]:
    """One ticket of the ingest body (or a CSV row) as model values; raises FieldError naming the field."""
    if not isinstance(item, dict):
        raise FieldError("ticket", _("Each ticket must be an object."))
    values: dict[str, Any] = {
        "external_id": _text(item, "external_id", 100, required=True),
        "source_system": _text(item, "source_system", 50, required=True),
        "customer_code": _text(item, "customer_code", 50, required=True),
        "contract_code": _text(item, "contract_code", 50),
        "title": _text(item, "title", 200, required=True),
        "description": _text(item, "description", TEXT_LIMIT),
        "category": _text(item, "category", 50),
        "priority": _choice(item, "priority", TicketPriority),
        "channel": _choice(item, "channel", Channel),
        "status": _choice(item, "status", TicketStatus, default=TicketStatus.OPEN),
        "solution": _text(item, "solution", TEXT_LIMIT),
        "assignee": _text(item, "assignee", 100),
    }
    for name in ("opened_at", "first_response_at", "resolved_at", "closed_at"):
        values[name] = parse_datetime_local(item.get(name), name)
    if values["opened_at"] is None:
        raise FieldError("opened_at", _("This field is required."))
    for name in ("first_response_at", "resolved_at", "closed_at"):
        if values[name] is not None and values[name] < values["opened_at"]:
            raise FieldError(name, _("Cannot be before the ticket was opened."))
    minutes = item.get("handling_minutes")
    if minutes in (None, ""):
        values["handling_minutes"] = None
    elif isinstance(minutes, bool) or not isinstance(minutes, int | str) or not str(minutes).isdigit():
        raise FieldError("handling_minutes", _("A whole number of minutes."))
    elif int(minutes) > 10_000_000:
        raise FieldError("handling_minutes", _("Too large."))
    else:
        values["handling_minutes"] = int(minutes)
    satisfaction = item.get("satisfaction")
    if satisfaction not in (None, {}):
        if not isinstance(satisfaction, dict):
            raise FieldError("satisfaction", _("Must be an object of ratings."))
        ratings = {name: _rating(satisfaction.get(name), f"satisfaction.{name}") for name in DIMENSIONS}
        comment = _text(satisfaction, "comment", 2000) if satisfaction.get("comment") is not None else ""
        if any(value is not None for value in ratings.values()) or comment:
            values["satisfaction"] = {**ratings, "comment": comment}
    return values


# --- SLA computation ----------------------------------------------------------------------------------------------
def copy_binding(record: ServiceRecord, binding: ContractSlaBinding | None) -> None:
    """Copy the binding's targets onto the record (at arrival); None clears them."""
    record.sla_first_response_minutes = binding.first_response_minutes if binding else None
    record.sla_resolution_minutes = binding.resolution_minutes if binding else None
    record.sla_service_hours = binding.service_hours if binding else ""
    record.sla_business_calendar = dict(binding.business_calendar or {}) if binding else {}


def _minutes(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else max(0, int((end - start).total_seconds() // 60))


def compute_sla(record: ServiceRecord, now: datetime) -> list[str]:
    """Refresh due times, elapsed minutes, breach flags and state; returns the kinds that newly breached."""
    before = {"response": record.response_breached, "resolution": record.resolution_breached}
    record.opened_month = timezone.localdate(record.opened_at).replace(day=1)
    hours, calendar = record.sla_service_hours, record.sla_business_calendar
    responded = record.first_response_at or record.resolved_at or record.closed_at
    resolved = record.resolved_at or record.closed_at
    record.response_minutes = _minutes(record.opened_at, record.first_response_at or record.resolved_at)
    record.resolution_minutes = _minutes(record.opened_at, resolved)
    if record.handling_minutes is None and record.resolution_minutes is not None:
        record.handling_minutes = record.resolution_minutes

    def due(minutes: int | None) -> datetime | None:
        return None if minutes is None else add_service_minutes(record.opened_at, minutes, hours, calendar)

    record.response_due_at = due(record.sla_first_response_minutes)
    record.resolution_due_at = due(record.sla_resolution_minutes)
    record.response_breached = record.response_due_at is not None and (responded or now) > record.response_due_at
    record.resolution_breached = record.resolution_due_at is not None and (resolved or now) > record.resolution_due_at
    record.breached = record.response_breached or record.resolution_breached
    overruns = [
        _minutes(due_at, done_at or now)
        for breached, due_at, done_at in (
            (record.response_breached, record.response_due_at, responded),
            (record.resolution_breached, record.resolution_due_at, resolved),
        )
        if breached
    ]
    record.breach_minutes = max(overruns) if overruns else None
    if not record.has_target:
        record.sla_state = SlaState.NONE
    elif record.breached:
        record.sla_state = SlaState.BREACHED
    else:
        soon = now + timedelta(minutes=AT_RISK_MINUTES)
        pending = []
        if responded is None and record.response_due_at is not None:
            pending.append(record.response_due_at)
        if resolved is None and record.resolution_due_at is not None:
            pending.append(record.resolution_due_at)
        record.sla_state = SlaState.AT_RISK if any(when <= soon for when in pending) else SlaState.OK
    after = {"response": record.response_breached, "resolution": record.resolution_breached}
    return [kind for kind in ("response", "resolution") if after[kind] and not before[kind]]


def _send_breaches(record: ServiceRecord, kinds: Iterable[str]) -> None:
    for kind in kinds:
        signals.sla_breached.send(sender=ServiceRecord, record=record, kind=kind, customer=record.customer)


def _send_rating(record: ServiceRecord, actor: User | None) -> None:
    signals.rating_received.send(sender=ServiceRecord, record=record, customer=record.customer, actor=actor)


# --- Contract resolution (set-based) ------------------------------------------------------------------------------
def _contract_on(contracts: list[Contract], day: date) -> Contract | None:
    """The customer's contract in force on `day` (signed, started, not ended or terminated before it)."""
    best = None
    for contract in contracts:
        if contract.status == ContractStatus.DRAFT or not contract.start_date <= day <= contract.end_date:
            continue
        ended = contract.status == ContractStatus.TERMINATED and contract.terminated_at is not None
        if ended and timezone.localdate(contract.terminated_at) < day:
            continue
        if best is None or contract.start_date > best.start_date:
            best = contract
    return best


@dataclass
class _Lookup:
    customers: dict[str, Customer]
    contracts_by_code: dict[str, Contract]
    contracts_by_customer: dict[int, list[Contract]]
    bindings: dict[tuple[int, str], ContractSlaBinding]

    @classmethod
    def load(cls, parsed: list[dict], only_customer: Customer | None = None) -> _Lookup:
        codes = {item["customer_code"] for item in parsed}
        customers_qs = Customer.objects.alive().filter(customer_code__in=codes)
        if only_customer is not None:
            customers_qs = customers_qs.filter(pk=only_customer.pk)
        customers = {c.customer_code: c for c in customers_qs.select_related("assigned_manager")}
        contract_codes = {item["contract_code"] for item in parsed if item["contract_code"]}
        by_code = {c.contract_code: c for c in Contract.objects.filter(contract_code__in=contract_codes)}
        needs_default = {
            customers[i["customer_code"]].pk
            for i in parsed
            if not i["contract_code"] and i["customer_code"] in customers
        }
        by_customer: dict[int, list[Contract]] = {}
        for contract in Contract.objects.filter(customer_id__in=needs_default).exclude(status=ContractStatus.DRAFT):
            by_customer.setdefault(contract.customer_id, []).append(contract)
        contract_ids = {c.pk for c in by_code.values()} | {c.pk for rows in by_customer.values() for c in rows}
        bindings = {
            (b.contract_id, b.priority): b for b in ContractSlaBinding.objects.filter(contract_id__in=contract_ids)
        }
        return cls(customers, by_code, by_customer, bindings)


# --- Ingest -------------------------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    created: int = 0
    updated: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    records: list[ServiceRecord] = field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "failed": self.failed}


def _fail(result: IngestResult, index: int, item: Any, field_name: str, message: str) -> None:
    external_id = item.get("external_id") if isinstance(item, dict) else None
    result.failed.append(
        {
            "index": index,
            "external_id": str(external_id)[:100] if external_id is not None else None,
            "field": field_name,
            "message": str(message),
        }
    )


def _apply_ticket(record: ServiceRecord, values: dict, contract: Contract | None, lookup: _Lookup) -> bool:
    """Set the ticket's fields; the SLA is copied when the ticket arrives (or its priority/contract changes)."""
    new = record.pk is None
    reprice = new or record.priority != values["priority"] or record.contract_id != (contract.pk if contract else None)
    for name in TICKET_FIELDS:
        setattr(record, name, values[name])
    record.contract = contract
    if reprice:
        copy_binding(record, lookup.bindings.get((contract.pk, values["priority"])) if contract else None)
    rated = False
    satisfaction = values.get("satisfaction")
    if satisfaction is not None:
        current = {name: getattr(record, f"satisfaction_{name}") for name in DIMENSIONS}
        incoming = {name: satisfaction[name] for name in DIMENSIONS}
        if incoming != current or satisfaction["comment"] != record.satisfaction_comment:
            for name in DIMENSIONS:
                setattr(record, f"satisfaction_{name}", satisfaction[name])
            record.satisfaction_comment = satisfaction["comment"]
            record.rated_at = timezone.now()
            rated = True
    return rated


def _ingest(
    items: list[Any], *, actor: User | None, request=None, only_customer: Customer | None = None, action: str
) -> IngestResult:
    result = IngestResult()
    now = timezone.now()
    parsed: list[tuple[int, Any, dict]] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        try:
            values = parse_ticket(item)
        except FieldError as exc:
            _fail(result, index, item, exc.field, exc.message)
            continue
        key = (values["source_system"], values["external_id"])
        if key in seen:
            _fail(result, index, item, "external_id", _("This ticket appears twice in the batch."))
            continue
        seen.add(key)
        parsed.append((index, item, values))
    lookup = _Lookup.load([values for _i, _item, values in parsed], only_customer)
    external_ids = {values["external_id"] for _i, _item, values in parsed}
    sources = {values["source_system"] for _i, _item, values in parsed}
    with transaction.atomic():
        existing: dict[tuple[str, str], ServiceRecord] = {}
        if external_ids:
            # Both columns of the unique key (tenant, source_system, external_id): MariaDB ranges over the index
            # only when every column is constrained (external_id alone scanned 340k rows: 9.8 s). Locked, so the
            # rollup increments start from the stored state (service_records.rollup).
            for record in ServiceRecord.objects.select_for_update().filter(
                source_system__in=sources, external_id__in=external_ids
            ):
                existing[(record.source_system, record.external_id)] = record
        to_create: list[ServiceRecord] = []
        to_update: list[ServiceRecord] = []
        to_write: list[ServiceRecord] = []  # matched tickets whose stored values actually change
        breaches: list[tuple[ServiceRecord, list[str]]] = []
        rated: list[ServiceRecord] = []
        delta = rollup.Delta()
        for index, item, values in parsed:
            customer = lookup.customers.get(values["customer_code"])
            if customer is None:
                _fail(result, index, item, "customer_code", _("Unknown customer."))
                continue
            contract = None
            if values["contract_code"]:
                contract = lookup.contracts_by_code.get(values["contract_code"])
                if contract is None:
                    _fail(result, index, item, "contract_code", _("Unknown contract."))
                    continue
                if contract.customer_id != customer.pk:
                    _fail(result, index, item, "contract_code", _("This contract belongs to another customer."))
                    continue
            else:
                contract = _contract_on(
                    lookup.contracts_by_customer.get(customer.pk, []), timezone.localdate(values["opened_at"])
                )
            record = existing.get((values["source_system"], values["external_id"]))
            if record is not None and record.customer_id != customer.pk:
                _fail(result, index, item, "customer_code", _("This ticket was recorded for another customer."))
                continue
            if record is None:
                record = ServiceRecord(
                    customer=customer, source_system=values["source_system"], external_id=values["external_id"]
                )
                to_create.append(record)
            else:
                record.customer = customer
                to_update.append(record)
            before = _stored(record) if record.pk else None
            counted = rollup.snapshot(record) if record.pk else None
            if _apply_ticket(record, values, contract, lookup):
                rated.append(record)
            kinds = compute_sla(record, now)
            if kinds:
                breaches.append((record, kinds))
            if before is None:
                delta.add(rollup.snapshot(record))
            elif _stored(record) != before:
                to_write.append(record)
                delta.change(counted, rollup.snapshot(record))
        if to_create:
            ServiceRecord.objects.bulk_create(to_create, batch_size=1000)
            if any(record.pk is None for record in to_create):  # backends without RETURNING
                keys = {(r.source_system, r.external_id): r for r in to_create}
                for pk, source, ext in ServiceRecord.objects.filter(
                    source_system__in={r.source_system for r in to_create},
                    external_id__in=[r.external_id for r in to_create],
                ).values_list("pk", "source_system", "external_id"):
                    if (source, ext) in keys:
                        keys[(source, ext)].pk = pk
        if to_write:
            for record in to_write:
                record.updated_at = now
            _upsert(to_write)
        rollup.apply(delta)
        result.created, result.updated = len(to_create), len(to_update)
        result.records = to_create + to_update
        if to_create or to_update:
            audit_record(
                action=action,
                actor=actor,
                object_type="service_records.servicerecord",
                object_repr=(only_customer.customer_name if only_customer else _("ticket batch"))[:200],
                object_id=only_customer.pk if only_customer else "",
                request=request,
                changes={"created": (None, result.created), "updated": (None, result.updated)},
            )
        with signals.batch(customer_ids={record.customer_id for record, _kinds in breaches}):
            for record, kinds in breaches:
                _send_breaches(record, kinds)
            for record in rated:
                _send_rating(record, actor)
    return result


WRITTEN_FIELDS = ["customer", "contract", *TICKET_FIELDS, *SLA_FIELDS, *RATING_FIELDS]


def _stored(record: ServiceRecord) -> tuple:
    """The values an update would write: a ticket sent again unchanged is matched but not rewritten."""
    return tuple(getattr(record, ServiceRecord._meta.get_field(name).attname) for name in WRITTEN_FIELDS)


def _upsert(rows: list[ServiceRecord]) -> None:
    """Changed tickets written with one multi-row upsert per 1,000 (INSERT ... ON DUPLICATE KEY UPDATE on
    MariaDB/MySQL, ON CONFLICT (id) DO UPDATE elsewhere): the rows exist (locked above), so every one updates.
    MySQL/MariaDB refuse a named conflict target (any unique key decides there), like the health app's upsert."""
    target = {"unique_fields": ["pk"]} if connection.features.supports_update_conflicts_with_target else {}
    ServiceRecord.objects.bulk_create(
        rows, batch_size=1000, update_conflicts=True, update_fields=[*WRITTEN_FIELDS, "updated_at"], **target
    )


def tickets_ingest(*, tickets: Any, actor: User | None = None, request=None) -> IngestResult:
    """Upsert up to 1,000 tickets by (source_system, external_id); bad tickets are reported, not fatal."""
    if not isinstance(tickets, list):
        raise ValidationError({"tickets": [_("Send a list of tickets.")]})
    if len(tickets) > MAX_BATCH:
        raise ValidationError({"tickets": [_("At most %(max)d tickets per request.") % {"max": MAX_BATCH}]})
    return _ingest(tickets, actor=actor, request=request, action="crm.service_record.ingested")


CSV_COLUMNS = (
    "external_id",
    "title",
    "description",
    "category",
    "priority",
    "channel",
    "status",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "handling_minutes",
    "assignee",
    "solution",
    "contract_code",
    "satisfaction_overall",
    "satisfaction_response_speed",
    "satisfaction_professionalism",
    "satisfaction_resolution_quality",
    "satisfaction_comment",
)


def records_import_csv(*, actor: User, customer: Customer, content: bytes, request=None) -> IngestResult:
    """Tickets of one customer from a CSV file (UTF-8, header row with CSV_COLUMNS); same upsert as ingest."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": [_("The file is not UTF-8 text.")]}) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ValidationError({"file": [_("The file has no rows.")]})
    if len(rows) > MAX_BATCH:
        raise ValidationError({"file": [_("At most %(max)d tickets per file.") % {"max": MAX_BATCH}]})
    items = []
    for row in rows:
        row = {key.strip(): (value or "").strip() for key, value in row.items() if isinstance(key, str)}
        item: dict[str, Any] = {
            name: row.get(name) or None for name in CSV_COLUMNS if not name.startswith("satisfaction")
        }
        item["source_system"] = CSV_SOURCE
        item["customer_code"] = customer.customer_code
        ratings = {name: row.get(f"satisfaction_{name}") or None for name in DIMENSIONS}
        comment = row.get("satisfaction_comment") or ""
        if any(ratings.values()) or comment:
            item["satisfaction"] = {**ratings, "comment": comment}
        items.append(item)
    return _ingest(items, actor=actor, request=request, only_customer=customer, action="crm.service_record.imported")


# --- Manual entry, edits and ratings ------------------------------------------------------------------------------
def _ticket_values(record: ServiceRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in TICKET_FIELDS}


def _save_record(record: ServiceRecord, actor: User, now: datetime, before: tuple | None = None) -> list[str]:
    """Validate and save one ticket; its rollup contribution moves from `before` (None: new) to its new state."""
    kinds = compute_sla(record, now)
    record.full_clean(exclude=["tenant", "customer", "contract"])
    record.save()
    _count(before, record)
    return kinds


def _count(before: tuple | None, record: ServiceRecord) -> None:
    delta = rollup.Delta()
    delta.change(before, rollup.snapshot(record))
    rollup.apply(delta)


@transaction.atomic
def record_create(
    *, actor: User, customer: Customer, data: dict[str, Any], request=None, source_system: str = MANUAL_SOURCE
) -> ServiceRecord:
    """A ticket entered by staff (source "manual") or sent from the customer portal (source "portal");
    the contract in force on its opening day gives the SLA."""
    now = timezone.now()
    prefix = "P" if source_system == PORTAL_SOURCE else "M"
    record = ServiceRecord(
        customer=customer,
        source_system=source_system,
        external_id=data.get("external_id") or f"{prefix}-{uuid.uuid4().hex[:12].upper()}",
    )
    for name in TICKET_FIELDS:
        if name in data:
            setattr(record, name, data[name])
    if record.opened_at is None:
        record.opened_at = now
    contract = data.get("contract")
    if contract is not None and contract.customer_id != customer.pk:
        raise ValidationError({"contract": [_("This contract belongs to another customer.")]})
    if contract is None:
        contracts = list(Contract.objects.filter(customer=customer).exclude(status=ContractStatus.DRAFT))
        contract = _contract_on(contracts, timezone.localdate(record.opened_at))
    record.contract = contract
    _check_order(record)
    binding = (
        ContractSlaBinding.objects.filter(contract=contract, priority=record.priority).first() if contract else None
    )
    copy_binding(record, binding)
    if ServiceRecord.objects.filter(source_system=record.source_system, external_id=record.external_id).exists():
        raise ValidationError({"external_id": [_("A ticket with this id already exists.")]})
    kinds = _save_record(record, actor, now)
    audit_record(
        action="crm.service_record.created",
        actor=actor,
        obj=record,
        request=request,
        changes={"customer": (None, customer.pk), "external_id": (None, record.external_id)},
    )
    _send_breaches(record, kinds)
    return record


def _check_order(record: ServiceRecord) -> None:
    errors = {}
    for name in ("opened_at", "first_response_at", "resolved_at", "closed_at"):
        value = getattr(record, name)
        if value is not None and not 2000 <= value.year <= 2100:
            errors[name] = [_("The year must lie between 2000 and 2100.")]
        elif name != "opened_at" and value is not None and record.opened_at is not None and value < record.opened_at:
            errors[name] = [_("Cannot be before the ticket was opened.")]
    if errors:
        raise ValidationError(errors)


STAFF_FIELDS = ("title", "description", "category", "channel", "status", "first_response_at", "resolved_at",
                "closed_at", "handling_minutes", "solution", "assignee")  # fmt: skip


@transaction.atomic
def record_update(*, actor: User, record: ServiceRecord, data: dict[str, Any], request=None) -> ServiceRecord:
    """Staff-side fields of a ticket (status, timestamps, solution, ...); the SLA copy stays as it arrived."""
    record = ServiceRecord.objects.select_for_update().select_related("customer").get(pk=record.pk)
    before = rollup.snapshot(record)
    changes = {}
    for name in STAFF_FIELDS:
        if name in data and data[name] != getattr(record, name):
            changes[name] = (getattr(record, name), data[name])
            setattr(record, name, data[name])
    _check_order(record)
    kinds = _save_record(record, actor, timezone.now(), before)
    if changes:
        audit_record(action="crm.service_record.updated", actor=actor, obj=record, request=request, changes=changes)
    _send_breaches(record, kinds)
    return record


@transaction.atomic
def rating_set(*, actor: User | None, record: ServiceRecord, data: dict[str, Any], request=None) -> ServiceRecord:
    """Enter or correct the satisfaction ratings (1-5 per dimension) and the comment of a ticket."""
    record = ServiceRecord.objects.select_for_update().select_related("customer").get(pk=record.pk)
    before = rollup.snapshot(record)
    errors: dict[str, list[str]] = {}
    changes = {}
    for name in DIMENSIONS:
        key = f"satisfaction_{name}"
        if key not in data:
            continue
        try:
            value = _rating(data[key], key)
        except FieldError as exc:
            errors[key] = [exc.message]
            continue
        if value != getattr(record, key):
            changes[key] = (getattr(record, key), value)
            setattr(record, key, value)
    if "satisfaction_comment" in data:
        comment = str(data["satisfaction_comment"] or "").strip()
        if len(comment) > 2000:
            errors["satisfaction_comment"] = [_("At most %(limit)d characters.") % {"limit": 2000}]
        elif comment != record.satisfaction_comment:
            changes["satisfaction_comment"] = (record.satisfaction_comment, comment)
            record.satisfaction_comment = comment
    if errors:
        raise ValidationError(errors)
    if not changes:
        return record
    record.rated_at = timezone.now()
    record.save(update_fields=[*RATING_FIELDS, "updated_at"])
    _count(before, record)
    audit_record(action="crm.service_record.rated", actor=actor, obj=record, request=request, changes=changes)
    _send_rating(record, actor)
    return record


@transaction.atomic
def nps_record(
    *,
    actor: User | None,
    customer: Customer,
    score: int,
    reason: str = "",
    contact: CustomerContact | None = None,
    responded_at: datetime | None = None,
    request=None,
) -> NpsResponse:
    """One contact's NPS answer (0-10) with the reason."""
    if contact is not None and contact.customer_id != customer.pk:
        raise ValidationError({"contact": [_("This contact belongs to another customer.")]})
    response = NpsResponse(
        customer=customer,
        contact=contact,
        score=score,
        reason=(reason or "").strip(),
        responded_at=responded_at or timezone.now(),
        created_by=actor if actor is not None and actor.pk else None,
    )
    response.full_clean(exclude=["tenant", "customer", "contact", "created_by"])
    response.save()
    audit_record(
        action="crm.service_record.nps_recorded",
        actor=actor,
        obj=customer,
        request=request,
        changes={"nps": (None, score)},
    )
    signals.nps_received.send(sender=NpsResponse, response=response, customer=customer, actor=actor)
    return response


# --- The breach scan ----------------------------------------------------------------------------------------------
def _notice(kind: str) -> str:
    return {
        "response_breached": _("First response target missed: %(ticket)s (%(customer)s)"),
        "resolution_breached": _("Resolution target missed: %(ticket)s (%(customer)s)"),
        "response_at_risk": _("First response due within 30 minutes: %(ticket)s (%(customer)s)"),
        "resolution_at_risk": _("Resolution due within 30 minutes: %(ticket)s (%(customer)s)"),
    }[kind]


def sla_scan(*, now: datetime | None = None) -> dict[str, int]:
    """Mark open tickets that breached or will within 30 minutes; tell the customer's manager once per kind.

    Idempotent: notifications carry a dedup key per ticket and kind, the signal fires when a flag first
    turns true (the flag is stored), so running the scan twice changes nothing.
    """
    now = now or timezone.now()
    horizon = now + timedelta(minutes=AT_RISK_MINUTES)
    candidates = (
        ServiceRecord.objects.filter(status__in=OPEN_STATUSES)
        .filter(Q(response_due_at__lte=horizon, first_response_at__isnull=True) | Q(resolution_due_at__lte=horizon))
        .select_related("customer", "customer__assigned_manager")
    )
    counts = {"scanned": 0, "breached": 0, "at_risk": 0, "notified": 0}
    changed = []
    for record in candidates.iterator(chunk_size=500):
        counts["scanned"] += 1
        state_before = record.sla_state
        counted = rollup.snapshot(record)
        with transaction.atomic():
            kinds = compute_sla(record, now)
            if kinds or record.sla_state != state_before:
                record.save(update_fields=[*SLA_FIELDS, "handling_minutes", "updated_at"])
                _count(counted, record)
                changed.append(record.pk)
            _send_breaches(record, kinds)
        counts["breached"] += int(record.breached)
        counts["at_risk"] += int(record.sla_state == SlaState.AT_RISK)
        manager = record.customer.assigned_manager
        if manager is None or not manager.is_active:
            continue
        for kind in _scan_kinds(record, horizon):
            message = _notice(kind) % {"ticket": f"{record.external_id} {record.title}", "customer": record.customer}
            sent = notify(
                manager,
                f"service_records.{kind}",
                record,
                message,
                dedup_key=f"service_records:{record.pk}:{kind}",
                link=reverse("service_records:record_detail", args=[record.pk]),
            )
            counts["notified"] += int(sent is not None)
    counts["changed"] = len(changed)
    return counts


def _scan_kinds(record: ServiceRecord, horizon: datetime) -> list[str]:
    kinds = []
    for name, due, done in (
        ("response", record.response_due_at, record.first_response_at),
        ("resolution", record.resolution_due_at, record.resolved_at or record.closed_at),
    ):
        if due is None or done is not None:
            continue
        if getattr(record, f"{name}_breached"):
            kinds.append(f"{name}_breached")
        elif due <= horizon:
            kinds.append(f"{name}_at_risk")
    return kinds


# --- Merge --------------------------------------------------------------------------------------------------------
def records_move_to_customer(*, source: Customer, target: Customer, actor: User | None = None) -> dict[str, int]:
    """The duplicate's tickets, NPS answers and reports belong to the survivor afterwards."""
    moved = {
        "service_records": ServiceRecord.objects.filter(customer=source).update(customer=target),
        "nps_responses": NpsResponse.objects.filter(customer=source).update(customer=target),
        "service_reports": ServiceReport.objects.filter(customer=source, schedule_key__isnull=True).update(
            customer=target
        ),
    }
    if moved["service_records"] or moved["nps_responses"]:
        audit_record(
            action="crm.service_record.moved",
            actor=actor,
            obj=target,
            changes={"from_customer": (source.pk, target.pk), "records": (None, moved["service_records"])},
        )
    return moved


# --- Reports ------------------------------------------------------------------------------------------------------
def period_bounds(kind: str, today: date) -> tuple[date, date]:
    """The last complete month / quarter before `today`."""
    first_this_month = today.replace(day=1)
    if kind == ReportKind.MONTHLY:
        end = first_this_month - timedelta(days=1)
        return end.replace(day=1), end
    quarter_start_month = (today.month - 1) // 3 * 3 + 1
    end = today.replace(month=quarter_start_month, day=1) - timedelta(days=1)
    start = end.replace(month=(end.month - 1) // 3 * 3 + 1, day=1)
    return start, end


@transaction.atomic
def report_request(
    *,
    actor: User | None,
    customer: Customer,
    period_start: date,
    period_end: date,
    kind: str = ReportKind.ON_DEMAND,
    schedule_key: str | None = None,
    request=None,
) -> ServiceReport:
    """Queue a report; the Celery task `service_records.tasks.generate_report` fills it in the background."""
    if period_end < period_start:
        raise ValidationError({"period_end": [_("The end cannot be before the start.")]})
    if (period_end - period_start).days > 366:
        raise ValidationError({"period_end": [_("A report covers at most one year.")]})
    report = ServiceReport.objects.create(
        customer=customer,
        kind=kind,
        period_start=period_start,
        period_end=period_end,
        schedule_key=schedule_key,
        requested_by=actor if actor is not None and actor.pk else None,
    )
    audit_record(
        action="crm.service_report.requested",
        actor=actor,
        obj=customer,
        request=request,
        changes={"report": (None, f"{period_start}..{period_end}")},
    )
    transaction.on_commit(lambda: enqueue_report(report))
    return report


def enqueue_report(report: ServiceReport) -> None:
    from service_records.tasks import generate_report

    generate_report.delay(report.tenant_id, report.pk)


def _day_start(day: date) -> datetime:
    # Local midnight computed here: `__date` lookups need time-zone tables on MySQL/MariaDB.
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def reports_schedule(*, kind: str, today: date) -> dict[str, int]:
    """One monthly/quarterly report per customer with tickets in the period (unique key: runs are idempotent)."""
    start, end = period_bounds(kind, today)
    key = f"{kind}:{start.isoformat()}"
    customer_ids = set(
        ServiceRecord.objects.filter(
            opened_at__gte=_day_start(start),
            opened_at__lt=_day_start(end + timedelta(days=1)),
            customer__deleted_at__isnull=True,
        ).values_list("customer_id", flat=True)
    )
    done = set(ServiceReport.objects.filter(schedule_key=key).values_list("customer_id", flat=True))
    created = 0
    for customer in Customer.objects.filter(pk__in=customer_ids - done):
        report_request(actor=None, customer=customer, period_start=start, period_end=end, kind=kind, schedule_key=key)
        created += 1
    return {"customers": len(customer_ids), "queued": created}


def report_mark(
    report: ServiceReport, *, status: str | None = None, progress: int | None = None, error: str = ""
) -> None:
    """Progress of a report being generated (read by the polling page)."""
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
        if status in (ReportStatus.DONE, ReportStatus.FAILED):
            values["finished_at"] = timezone.now()
    if progress is not None:
        values["progress"] = progress
    if error:
        values["error"] = error[:2000]
    ServiceReport.objects.filter(pk=report.pk).update(**values)
    for key, value in values.items():
        setattr(report, key, value)


def report_generated(report: ServiceReport) -> None:
    audit_record(
        action="crm.service_report.generated",
        actor=report.requested_by,
        obj=report.customer,
        changes={"report": (None, f"{report.period_start}..{report.period_end}")},
    )

"""Every write on contracts with its rules (PRD 3.3.1, 5.2.1, 5.2.2). Views, the API and jobs call these."""

from __future__ import annotations

import calendar
import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record, code_next, diff_fields, notify
from contracts.choices import CURRENCIES, ChangeStatus, ContractStatus, RenewalType
from contracts.extensions import SOURCE_RULES, RenewalEstimate, renewal_probability_provider
from contracts.masking import can_see_amount, mask_changes, masked_amount
from contracts.models import (
    ChangeRequest,
    Contract,
    ContractSlaBinding,
    ContractVersion,
    Invoice,
    Milestone,
    Payment,
    RenewalReminder,
)
from crm_project.filters import local_day_range
from customers import services as customer_services
from customers.choices import CustomerStatus
from customers.models import Customer

logger = logging.getLogger("crm.contracts")

CONTRACT_FIELDS = (
    "contract_name",
    "contract_type",
    "contract_amount",
    "currency",
    "start_date",
    "end_date",
    "renewal_type",
    "renewal_notice_days",
    "payment_terms",
    "service_level",
)
# Terms an approved change request may alter on an active contract.
CHANGEABLE_FIELDS = (
    "contract_name",
    "contract_amount",
    "currency",
    "end_date",
    "renewal_type",
    "renewal_notice_days",
    "payment_terms",
    "service_level",
)
SNAPSHOT_FIELDS = ("contract_code", "status", *CONTRACT_FIELDS)

STATUS_CODES = {
    ContractStatus.DRAFT: "draft",
    ContractStatus.ACTIVE: "active",
    ContractStatus.EXPIRED: "expired",
    ContractStatus.TERMINATED: "terminated",
}
# The only legal moves (PRD 5.2.2).
TRANSITIONS = {
    (ContractStatus.DRAFT, ContractStatus.ACTIVE),
    (ContractStatus.ACTIVE, ContractStatus.EXPIRED),
    (ContractStatus.ACTIVE, ContractStatus.TERMINATED),
}


# Contract dates must lie in this window, and a term may last at most this long (docs/decisions.md).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
MAX_TERM_YEARS = 50

__all__ = ["can_see_amount", "masked_amount"]  # re-exported from contracts.masking, the one masking rule


class ContractRuleError(ValidationError):
    """Amount, dates or currency break a contract rule (business code 40005)."""


class ContractStateError(Exception):
    """The contract (or change request, invoice) is not in the state the action needs: answered 409."""

    def __init__(self, message: str, *, current: int | None = None, **data: Any):
        self.current = STATUS_CODES[ContractStatus(current)] if current is not None else None
        self.data = {**({"current_status": self.current} if self.current else {}), **data}
        super().__init__(message)


class IllegalTransition(ContractStateError):
    """A status change the lifecycle does not allow (answered 409 naming both states)."""

    def __init__(self, current: int, requested: int):
        self.requested = STATUS_CODES[ContractStatus(requested)]
        super().__init__(
            _("A contract cannot go from '%(current)s' to '%(requested)s'.")
            % {"current": STATUS_CODES[ContractStatus(current)], "requested": self.requested},
            current=current,
            requested_status=self.requested,
        )


class ContractNotEditable(ContractStateError):
    """Only drafts can be edited; an active contract changes through a change request."""

    def __init__(self, contract: Contract):
        super().__init__(
            _("Only drafts can be edited; this contract is %(status)s: request a change instead.")
            % {"status": STATUS_CODES[ContractStatus(contract.status)]},
            current=contract.status,
        )


class ContractNotActive(ContractStateError):
    """The action (a change request, its approval) needs an active contract."""

    def __init__(self, contract: Contract, message: str | None = None):
        super().__init__(
            message
            or _("Only an active contract can be changed by a change request; this one is %(status)s.")
            % {"status": STATUS_CODES[ContractStatus(contract.status)]},
            current=contract.status,
        )


class ChangeRequestDecided(ContractStateError):
    """The change request was approved or rejected already."""

    def __init__(self, change: ChangeRequest):
        super().__init__(
            _("This change request was already decided (%(status)s); it cannot be approved or rejected again.")
            % {"status": change.get_status_display()},
            change_request_status=change.status,
        )


# --- Which actions the contract's state allows (the pages show buttons from it; the services enforce it) ---------
def ensure_editable(contract: Contract) -> None:
    if contract.status != ContractStatus.DRAFT:
        raise ContractNotEditable(contract)


def ensure_changeable(contract: Contract) -> None:
    if contract.status != ContractStatus.ACTIVE:
        raise ContractNotActive(contract)


def ensure_renewable(contract: Contract) -> None:
    if contract.status not in (ContractStatus.ACTIVE, ContractStatus.EXPIRED):
        raise ContractStateError(
            _("Only an active or expired contract can be renewed; this one is %(status)s.")
            % {"status": STATUS_CODES[ContractStatus(contract.status)]},
            current=contract.status,
        )


def ensure_invoiceable(contract: Contract) -> None:
    if contract.status == ContractStatus.DRAFT:
        raise ContractStateError(
            _("Invoices can only be recorded for a signed contract; this one is still a draft."),
            current=contract.status,
        )


def allowed_actions(contract: Contract) -> frozenset[str]:
    """State-wise possible actions: edit, sign, terminate, renew, request_change, invoice (permissions aside)."""
    actions = set()
    for action, check in (
        ("edit", ensure_editable),
        ("request_change", ensure_changeable),
        ("renew", ensure_renewable),
        ("invoice", ensure_invoiceable),
    ):
        try:
            check(contract)
        except ContractStateError:
            continue
        actions.add(action)
    if (contract.status, ContractStatus.ACTIVE) in TRANSITIONS:
        actions.add("sign")
    if (contract.status, ContractStatus.TERMINATED) in TRANSITIONS:
        actions.add("terminate")
    return frozenset(actions)


def _check_rules(contract: Contract) -> None:
    errors: dict[str, list[str]] = {}
    if contract.contract_amount is None or Decimal(contract.contract_amount) <= 0:
        errors["contract_amount"] = [_("The amount must be greater than 0.")]
    for name in ("start_date", "end_date"):
        value = getattr(contract, name)
        if isinstance(value, date) and not EARLIEST_DATE <= value <= LATEST_DATE:
            errors[name] = [
                _("The date must lie between %(earliest)s and %(latest)s.")
                % {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()}
            ]
    if errors:
        raise ContractRuleError(errors)
    if contract.start_date and contract.end_date and contract.end_date <= contract.start_date:
        errors["end_date"] = [_("The end date must be after the start date.")]
    elif (
        contract.start_date
        and contract.end_date
        and _add_months(contract.start_date, 12 * MAX_TERM_YEARS) < (contract.end_date)
    ):
        errors["end_date"] = [_("A contract term may last at most %(years)d years.") % {"years": MAX_TERM_YEARS}]
    if contract.currency not in dict(CURRENCIES):
        errors["currency"] = [
            _("Currency must be one of %(list)s.") % {"list": ", ".join(code for code, _label in CURRENCIES)}
        ]
    if errors:
        raise ContractRuleError(errors)
    contract.full_clean(exclude=["tenant", "customer", "created_by", "contract_code", "template", "predecessor"])


def _snapshot(contract: Contract) -> dict[str, Any]:
    snapshot = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(contract, name)
        snapshot[name] = value.isoformat() if isinstance(value, date) else str(value) if value is not None else None
    return snapshot


def _add_version(contract: Contract, actor: User | None, change_request: ChangeRequest | None = None) -> None:
    ContractVersion.objects.create(
        contract=contract,
        version=contract.version,
        snapshot=_snapshot(contract),
        change_request=change_request,
        created_by=actor,
    )


def _audit_changes(changes: dict) -> dict:
    """Contract amounts never reach the audit log in clear text (PRD 7.3.2: logs are masked)."""
    return mask_changes(changes)


def contract_validate(*, actor: User, customer: Customer, data: dict[str, Any]) -> Contract:
    """The unsaved draft `contract_create` would make from `data`, checked against every rule; nothing is written.

    Raises ContractRuleError / ValidationError like `contract_create` (the wizard's first step uses it).
    """
    contract = Contract(customer=customer, created_by=actor, **{k: v for k, v in data.items() if k in CONTRACT_FIELDS})
    contract.tenant_id = customer.tenant_id
    _check_rules(contract)
    return contract


@transaction.atomic
def contract_create(*, actor: User, customer: Customer, data: dict[str, Any], request=None) -> Contract:
    """A new draft contract with a generated `CT` code and version 1."""
    contract = contract_validate(actor=actor, customer=customer, data=data)
    contract.contract_code = code_next("CT")
    contract.save()
    _add_version(contract, actor)
    audit_record(
        action="crm.contract.created",
        actor=actor,
        obj=contract,
        request=request,
        changes={"contract_code": (None, contract.contract_code), "customer": (None, customer.pk)},
    )
    return contract


@transaction.atomic
def contract_update(*, actor: User, contract: Contract, data: dict[str, Any], request=None) -> Contract:
    """Edit a draft directly; an active contract changes only through an approved change request."""
    ensure_editable(contract)
    values = {k: v for k, v in data.items() if k in CONTRACT_FIELDS}
    changes = diff_fields(contract, values)
    for key, value in values.items():
        setattr(contract, key, value)
    _check_rules(contract)
    contract.save()
    if changes:
        audit_record(
            action="crm.contract.updated",
            actor=actor,
            obj=contract,
            changes=_audit_changes(changes),
            request=request,
        )
    return contract


def _transition(contract: Contract, target: int) -> None:
    if (contract.status, target) not in TRANSITIONS:
        raise IllegalTransition(contract.status, target)
    contract.status = target


def _refresh_customer_dates(customer: Customer) -> None:
    """The customer's next renewal date: the earliest end of its active contracts (written by customers)."""
    next_end = (
        Contract.objects.active().filter(customer=customer).order_by("end_date").values_list("end_date", flat=True)
    ).first()
    customer_services.customer_renewal_date_set(customer=customer, next_renewal_date=next_end)


def contracts_move_to_customer(*, source: Customer, target: Customer, actor: User | None = None) -> int:
    """Move every contract of `source` to `target` (customer merge); both renewal dates follow. Audited."""
    moved = list(Contract.objects.select_for_update().filter(customer=source))
    for contract in moved:
        contract.customer = target
        contract.save(update_fields=["customer", "updated_at"])
        audit_record(
            action="crm.contract.moved",
            actor=actor,
            obj=contract,
            changes={"customer": (source.customer_code, target.customer_code)},
        )
    if moved:
        _refresh_customer_dates(target)
        _refresh_customer_dates(source)
        if any(contract.status == ContractStatus.ACTIVE for contract in moved):
            _customer_becomes_formal(target, actor)
    return len(moved)


def _customer_becomes_formal(customer: Customer, actor: User | None, request=None) -> None:
    """Potential → formal on the first active contract; lost → formal on a new one (PRD 5.2.1, by customers)."""
    if customer.status in (CustomerStatus.POTENTIAL, CustomerStatus.LOST):
        customer_services.customer_status_change(
            customer=customer,
            new_status=CustomerStatus.FORMAL,
            reason=_("A contract became active."),
            actor=actor,
            request=request,
        )


@transaction.atomic
def contract_sign(*, actor: User, contract: Contract, signed_date: date | None = None, request=None) -> Contract:
    """Draft → active: the signing date is set and the customer becomes formal."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    _transition(contract, ContractStatus.ACTIVE)
    contract.signed_date = signed_date or timezone.localdate()
    contract.save(update_fields=["status", "signed_date", "updated_at"])
    _customer_becomes_formal(contract.customer, actor, request)
    _refresh_customer_dates(contract.customer)
    audit_record(
        action="crm.contract.signed",
        actor=actor,
        obj=contract,
        request=request,
        changes={"status": ("draft", "active")},
    )
    return contract


@transaction.atomic
def contract_terminate(*, actor: User, contract: Contract, reason: str, request=None) -> Contract:
    """Active → terminated early, with a reason; the customer lapses later if nothing replaces it."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": [_("Give a reason for the termination.")]})
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    _transition(contract, ContractStatus.TERMINATED)
    contract.terminated_reason = reason.strip()
    contract.terminated_at = timezone.now()
    contract.save(update_fields=["status", "terminated_reason", "terminated_at", "updated_at"])
    _refresh_customer_dates(contract.customer)
    audit_record(
        action="crm.contract.terminated",
        actor=actor,
        obj=contract,
        request=request,
        changes={"status": ("active", "terminated"), "reason": (None, contract.terminated_reason)},
    )
    return contract


def _next_term(contract: Contract) -> tuple[date, date]:
    """The term after `contract`: it starts the day after the end and lasts as long (in whole months when the
    contract ran whole calendar months, e.g. 2025-01-01..2025-12-31 → 2026-01-01..2026-12-31).

    A term past the end of the calendar is a ContractRuleError on `end_date` (never an OverflowError)."""
    try:
        start = contract.end_date + timedelta(days=1)
        whole_months = contract.start_date.day == 1 and start.day == 1
        if whole_months:
            months = (start.year - contract.start_date.year) * 12 + start.month - contract.start_date.month
            return start, _add_months(start, months) - timedelta(days=1)
        return start, start + (contract.end_date - contract.start_date)
    except (OverflowError, ValueError):
        raise ContractRuleError(
            {"end_date": [_("The next term would end after %(latest)s.") % {"latest": LATEST_DATE.isoformat()}]}
        ) from None


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@transaction.atomic
def contract_renew(*, actor: User | None, contract: Contract, activate: bool = False, request=None) -> Contract:
    """A successor contract for the next term, linked to its predecessor (a draft, or active for auto-renewal)."""
    existing = Contract.objects.filter(predecessor=contract).first()
    if existing is not None:  # renewing twice (a rerun of the daily job) returns the same successor
        return existing
    ensure_renewable(contract)
    start, end = _next_term(contract)
    successor = Contract(
        customer=contract.customer,
        created_by=actor or contract.created_by,
        predecessor=contract,
        **{name: getattr(contract, name) for name in CONTRACT_FIELDS if name not in ("start_date", "end_date")},
        start_date=start,
        end_date=end,
    )
    _check_rules(successor)
    successor.contract_code = code_next("CT")
    successor.save()
    _add_version(successor, actor)
    for binding in contract.sla_bindings.all():
        binding.pk = None
        binding.contract = successor
        binding.save()
    audit_record(
        action="crm.contract.renewed",
        actor=actor,
        obj=contract,
        request=request,
        changes={"successor": (None, successor.contract_code)},
    )
    if activate:
        successor.status = ContractStatus.ACTIVE
        successor.signed_date = timezone.localdate()
        successor.save(update_fields=["status", "signed_date", "updated_at"])
        _customer_becomes_formal(successor.customer, actor, request)
    return successor


# --- Change requests ----------------------------------------------------------------------------------------------
@transaction.atomic
def change_request_create(
    *, actor: User, contract: Contract, changes: dict[str, Any], reason: str, request=None
) -> ChangeRequest:
    """Propose new values for an active contract; nothing changes until someone else approves."""
    ensure_changeable(contract)
    unknown = [name for name in changes if name not in CHANGEABLE_FIELDS]
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed by a change request.")] for name in unknown})
    if not reason or not reason.strip():
        raise ValidationError({"reason": [_("Give a reason for the change.")]})
    if not changes:
        raise ValidationError({"changes": [_("Propose at least one change.")]})
    trial = Contract(**{name: getattr(contract, name) for name in CONTRACT_FIELDS})
    for name, value in changes.items():
        try:
            setattr(trial, name, Contract._meta.get_field(name).to_python(value))
        except ValidationError as exc:
            raise ContractRuleError({name: exc.messages}) from None
    _check_rules(trial)
    snapshot_before = _snapshot(contract)
    snapshot_after = _snapshot(trial)
    recorded = {name: {"old": snapshot_before[name], "new": snapshot_after[name]} for name in changes}
    change = ChangeRequest.objects.create(
        contract=contract, requested_by=actor, reason=reason.strip(), changes=recorded, base_version=contract.version
    )
    audit_record(
        action="crm.contract.change_requested",
        actor=actor,
        obj=contract,
        request=request,
        changes={"change_request": (None, change.pk)},
    )
    return change


def _decide(actor: User, change: ChangeRequest) -> ChangeRequest:
    if not actor.has_perm("contracts.approve_changerequest"):
        raise PermissionDenied(_("You may not approve contract changes."))
    if change.requested_by_id == actor.pk:
        raise PermissionDenied(_("A change cannot be approved or rejected by the person who requested it."))
    change = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if change.status != ChangeStatus.PENDING:
        raise ChangeRequestDecided(change)
    return change


@transaction.atomic
def change_request_approve(*, actor: User, change: ChangeRequest, note: str = "", request=None) -> Contract:
    """Apply an approved change as a new contract version."""
    change = _decide(actor, change)
    contract = Contract.objects.select_for_update().get(pk=change.contract_id)
    ensure_changeable(contract)
    field_objects = {field.name: field for field in Contract._meta.fields}
    for name, pair in change.changes.items():
        setattr(contract, name, field_objects[name].to_python(pair["new"]))
    _check_rules(contract)
    contract.version += 1
    contract.save()
    _add_version(contract, actor, change)
    change.status = ChangeStatus.APPROVED
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.decision_note = note
    change.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _refresh_customer_dates(contract.customer)
    audit_record(
        action="crm.contract.change_approved",
        actor=actor,
        obj=contract,
        request=request,
        changes={"version": (contract.version - 1, contract.version), "change_request": (None, change.pk)},
    )
    return contract


@transaction.atomic
def change_request_reject(*, actor: User, change: ChangeRequest, note: str, request=None) -> ChangeRequest:
    """Refuse a change; it is kept with the reason."""
    change = _decide(actor, change)  # an already decided request says so, whatever the note
    if not note or not note.strip():
        raise ValidationError({"note": [_("Give a reason for the rejection.")]})
    change.status = ChangeStatus.REJECTED
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.decision_note = note.strip()
    change.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        action="crm.contract.change_rejected",
        actor=actor,
        obj=change.contract,
        request=request,
        changes={"change_request": (None, change.pk)},
    )
    return change


def version_diff(contract: Contract, old: int, new: int) -> dict[str, tuple[Any, Any]]:
    """Fields that differ between two versions of a contract."""
    snapshots = dict(
        ContractVersion.objects.filter(contract=contract, version__in=[old, new]).values_list("version", "snapshot")
    )
    if old not in snapshots or new not in snapshots:
        raise ValidationError({"version": [_("Unknown version.")]})
    before, after = snapshots[old], snapshots[new]
    return {name: (before.get(name), after.get(name)) for name in after if before.get(name) != after.get(name)}


# --- SLA bindings and milestones ----------------------------------------------------------------------------------
@transaction.atomic
def sla_binding_set(
    *, actor: User, contract: Contract, priority: str, data: dict[str, Any], request=None
) -> ContractSlaBinding:
    """Create or replace the SLA targets of one ticket priority on a contract."""
    binding = ContractSlaBinding.objects.filter(contract=contract, priority=priority).first() or ContractSlaBinding(
        contract=contract, priority=priority
    )
    for name in (
        "first_response_minutes",
        "resolution_minutes",
        "service_hours",
        "business_calendar",
        "availability_target",
        "policy",
    ):
        if name in data:
            setattr(binding, name, data[name])
    binding.full_clean(exclude=["tenant", "contract"])
    if binding.resolution_minutes < binding.first_response_minutes:
        raise ValidationError({"resolution_minutes": [_("Resolution cannot be faster than the first response.")]})
    binding.save()
    audit_record(
        action="crm.contract.sla_set",
        actor=actor,
        obj=contract,
        request=request,
        changes={f"sla_{priority}": (None, f"{binding.first_response_minutes}/{binding.resolution_minutes}")},
    )
    return binding


@transaction.atomic
def milestone_save(
    *, actor: User, contract: Contract, data: dict[str, Any], milestone: Milestone | None = None, request=None
) -> Milestone:
    milestone = milestone or Milestone(contract=contract)
    for name in ("title", "due_date", "status", "owner"):
        if name in data:
            setattr(milestone, name, data[name])
    if milestone.status == "done" and milestone.completed_at is None:
        milestone.completed_at = timezone.now()
    milestone.full_clean(exclude=["tenant", "contract"])
    milestone.save()
    audit_record(
        action="crm.contract.milestone_saved",
        actor=actor,
        obj=contract,
        request=request,
        changes={"milestone": (None, milestone.title)},
    )
    return milestone


# --- Invoices and payments ----------------------------------------------------------------------------------------
def _invoice_status(invoice: Invoice) -> None:
    paid = sum((p.amount for p in invoice.payments.all()), Decimal("0")) if invoice.pk else Decimal("0")
    if invoice.status == "cancelled":
        return
    if paid >= invoice.amount > 0:
        invoice.status = "paid"
        invoice.paid_date = invoice.paid_date or max(p.paid_date for p in invoice.payments.all())
    elif paid > 0:
        invoice.status = "partial"
    else:
        invoice.status = "issued"


@transaction.atomic
def invoice_upsert(*, actor: User | None, contract: Contract, data: dict[str, Any], request=None) -> Invoice:
    """Create or update an invoice of a signed contract; the same `external_id` twice is one row (idempotent)."""
    ensure_invoiceable(contract)
    external_id = data.get("external_id") or None
    invoice = None
    if external_id:
        invoice = Invoice.objects.select_for_update().filter(external_id=external_id).first()
    if invoice is None:
        invoice = Invoice(contract=contract, external_id=external_id)
    elif invoice.contract_id != contract.pk:
        raise ValidationError({"contract_code": [_("This invoice belongs to another contract.")]})
    for name in ("invoice_number", "amount", "issue_date", "due_date", "paid_date", "status"):
        if name in data and data[name] is not None:
            setattr(invoice, name, data[name])
    taken = Invoice.objects.filter(invoice_number=invoice.invoice_number).exclude(pk=invoice.pk).exists()
    if taken:
        raise ValidationError({"invoice_number": [_("Another invoice already has this number.")]})
    invoice.full_clean(exclude=["tenant", "contract"])
    invoice.save()
    audit_record(
        action="crm.invoice.upserted",
        actor=actor,
        obj=contract,
        request=request,
        changes={"invoice": (None, invoice.invoice_number)},
    )
    return invoice


@transaction.atomic
def payment_upsert(*, actor: User | None, invoice: Invoice, data: dict[str, Any], request=None) -> Payment:
    """Record a payment (idempotent on `external_id`) and bring the invoice status up to date."""
    external_id = data.get("external_id") or None
    payment = Payment.objects.filter(external_id=external_id).first() if external_id else None
    if payment is not None and payment.invoice_id != invoice.pk:
        raise ValidationError({"external_id": [_("This payment id belongs to another invoice.")]})
    if payment is None:
        payment = Payment(invoice=invoice, external_id=external_id)
    before = {
        name: None if payment.pk is None else getattr(payment, name) for name in ("amount", "paid_date", "method")
    }
    for name in ("amount", "paid_date", "method"):
        if name in data and data[name] is not None:
            setattr(payment, name, data[name])
    payment.invoice = invoice
    payment.full_clean(exclude=["tenant", "invoice"])
    others = Payment.objects.filter(invoice=invoice).exclude(pk=payment.pk).values_list("amount", flat=True)
    remaining = invoice.amount - sum(others, Decimal("0"))
    if payment.amount > remaining:
        raise ValidationError(
            {
                "amount": [
                    _("The payments would exceed the invoice amount: at most %(remaining)s remains to be paid.")
                    % {"remaining": f"{max(remaining, Decimal('0')):,.2f}"}
                ]
            }
        )
    payment.save()
    invoice.refresh_from_db()
    _invoice_status(invoice)
    invoice.save(update_fields=["status", "paid_date", "updated_at"])
    changes = {name: (old, getattr(payment, name)) for name, old in before.items() if old != getattr(payment, name)}
    audit_record(
        action="crm.payment.upserted",
        actor=actor,
        obj=invoice.contract,
        request=request,
        changes={"invoice": (None, invoice.invoice_number), "payment": (None, payment.external_id or payment.pk),
                 "invoice_status": (None, invoice.status), **changes},
    )  # fmt: skip
    return payment


class UnknownContract(ValidationError):
    """A finance-system record names a contract code the tenant does not have."""

    def __init__(self, index: int):
        self.index = index
        self.field = f"items[{index}].contract_code"
        super().__init__({self.field: [_("unknown contract.")]}, code="unknown_contract")


@transaction.atomic
def payments_ingest(*, items: list[dict[str, Any]], request=None) -> list[dict[str, Any]]:
    """The finance system's batch: per item an invoice (upserted by its external id) and optionally a payment.

    All or nothing: a bad item (UnknownContract, a ValidationError or ContractStateError of the item's invoice or
    payment) leaves every item untouched. Returns per item the invoice id, external id and status and the payment id.
    """
    results = []
    # The audit names the caller: the integration key (`integration:<key id>`), not a staff user.
    caller = getattr(request, "user", None) if request is not None else None
    for index, item in enumerate(items):
        contract = Contract.objects.filter(contract_code=item["contract_code"]).first()
        if contract is None:
            raise UnknownContract(index)
        invoice = invoice_upsert(actor=caller, contract=contract, data=item["invoice"], request=request)
        payment = None
        if item.get("payment"):
            payment = payment_upsert(actor=caller, invoice=invoice, data=item["payment"], request=request)
            invoice.refresh_from_db(fields=["status"])
        results.append(
            {
                "invoice_id": invoice.pk,
                "invoice_external_id": invoice.external_id,
                "invoice_status": invoice.status,
                "payment_id": payment.pk if payment else None,
            }
        )
    return results


# --- Daily jobs ---------------------------------------------------------------------------------------------------
def contracts_expire_due(*, today: date) -> dict[str, int]:
    """Active contracts past their end date expire; auto-renewing ones get their successor first. Idempotent."""
    counts = {"expired": 0, "auto_renewed": 0, "customers_lost": 0}
    for contract in Contract.objects.active().filter(end_date__lt=today).select_related("customer"):
        with transaction.atomic():
            if contract.renewal_type == RenewalType.AUTO:
                try:
                    contract_renew(actor=None, contract=contract, activate=True)
                except ContractRuleError as exc:  # e.g. the next term would end past LATEST_DATE: expire only
                    logger.warning("contract %s: no automatic renewal: %s", contract.pk, exc.messages)
                else:
                    counts["auto_renewed"] += 1
            locked = Contract.objects.select_for_update().get(pk=contract.pk)
            if locked.status == ContractStatus.ACTIVE:
                _transition(locked, ContractStatus.EXPIRED)
                locked.save(update_fields=["status", "updated_at"])
                audit_record(action="crm.contract.expired", obj=locked, changes={"status": ("active", "expired")})
                counts["expired"] += 1
            _refresh_customer_dates(contract.customer)
    counts["customers_lost"] = customers_lapse(today=today)
    return counts


def customers_lapse(*, today: date) -> int:
    """Formal customers with no active contract whose last one ended over the grace period ago become lost.

    Set-based: one query finds them (a contract's end is its termination day when terminated, else its end
    date), customers.services changes their status in bulk (audited, signalled).
    """
    cutoff = today - timedelta(days=settings.CONTRACT_RENEWAL_GRACE_DAYS)
    signed = Contract.objects.exclude(status=ContractStatus.DRAFT)
    terminated = Q(status=ContractStatus.TERMINATED, terminated_at__isnull=False)
    ended_recently = signed.filter(
        (terminated & Q(terminated_at__gte=local_day_range(cutoff, end=False)))
        | (~terminated & Q(end_date__gte=cutoff))
    )
    lapsed = (
        Customer.objects.alive()
        .filter(status=CustomerStatus.FORMAL, pk__in=signed.values("customer_id"))
        .exclude(pk__in=Contract.objects.active().values("customer_id"))
        .exclude(pk__in=ended_recently.values("customer_id"))
    )
    return customer_services.customers_status_change_bulk(
        customers=lapsed,
        new_status=CustomerStatus.LOST,
        reason=_("No active contract since the renewal grace period ended."),
    )


def renewal_reminders_send(*, today: date) -> dict[str, int]:
    """Remind the manager once per contract term when its end date enters the notice window. Safe to rerun.

    Both pieces are idempotent on their own (a unique reminder per term, a notification de-duplication key),
    so a rerun after a crash between them completes what is missing and duplicates nothing.
    """
    counts = {"due": 0, "reminded": 0}
    contracts = (
        Contract.objects.active().filter(end_date__gte=today).select_related("customer", "customer__assigned_manager")
    )
    for contract in contracts:
        if contract.end_date - timedelta(days=contract.renewal_notice_days) > today:
            continue
        counts["due"] += 1
        manager = contract.customer.assigned_manager
        reminder, _created = RenewalReminder.objects.get_or_create(
            contract=contract, term_end_date=contract.end_date, defaults={"manager": manager}
        )
        if manager is None:
            continue
        days_left = (contract.end_date - today).days
        message = _("Contract %(code)s of %(customer)s ends on %(end)s (%(days)d days): plan the renewal.") % {
            "code": contract.contract_code,
            "customer": contract.customer.customer_name,
            "end": contract.end_date.isoformat(),
            "days": days_left,
        }
        sent = notify(
            manager,
            "contract.renewal_due",
            contract,
            message,
            dedup_key=f"renewal:{contract.pk}:{contract.end_date.isoformat()}",
            link=f"/contracts/{contract.pk}/",
        )
        if sent is not None:
            counts["reminded"] += 1
    return counts


# --- Renewal probability (a registered provider, e.g. health's churn model; this transparent rule otherwise) -------
def renewal_estimates(contracts) -> dict[int, RenewalEstimate]:
    """{contract pk: estimate} from the provider of `contracts.extensions` where it has one, else the rule."""
    contracts = list(contracts)
    found = renewal_probability_provider(contracts)
    estimates = {}
    for contract in contracts:
        estimate = found.get(contract.pk)
        if estimate is None:
            probability, reasons = renewal_probability_rule(contract)
            estimate = RenewalEstimate(probability, reasons, SOURCE_RULES)
        estimates[contract.pk] = estimate
    return estimates


def renewal_estimate(contract: Contract) -> RenewalEstimate:
    return renewal_estimates([contract])[contract.pk]


def renewal_probability(contract: Contract) -> tuple[float, list[str]]:
    """(probability, reasons) of the estimate in use (provider or rule)."""
    estimate = renewal_estimate(contract)
    return estimate.probability, estimate.reasons


def renewal_probability_rule(contract: Contract) -> tuple[float, list[str]]:
    """Probability in [0, 1] with the reasons that moved it, from health, payments and contract history."""
    score = 0.6
    reasons: list[str] = []
    health = float(contract.customer.health_score or 0)
    if health >= 80:
        score += 0.2
        reasons.append(_("high health score (%(score).0f)") % {"score": health})
    elif 0 < health < 50:
        score -= 0.25
        reasons.append(_("low health score (%(score).0f)") % {"score": health})
    invoices = [i for i in contract.invoices.all() if i.status != "cancelled"]
    if invoices:
        on_time = sum(1 for i in invoices if i.paid_date and i.paid_date <= i.due_date) / len(invoices)
        if on_time >= 0.9:
            score += 0.1
            reasons.append(_("invoices paid on time"))
        elif on_time < 0.6:
            score -= 0.2
            reasons.append(_("late or unpaid invoices"))
    if contract.predecessor_id:
        score += 0.1
        reasons.append(_("renewed before"))
    if contract.renewal_type == RenewalType.AUTO:
        score += 0.1
        reasons.append(_("automatic renewal"))
    return max(0.0, min(1.0, round(score, 2))), reasons

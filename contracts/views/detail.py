"""The contract page with its sections, and the version diff."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts import selectors, services
from contracts.choices import ContractStatus, MilestoneStatus, TicketPriority
from contracts.forms import (
    GenerateDocumentForm,
    InvoiceForm,
    MilestoneForm,
    PaymentForm,
    SlaTableForm,
    TerminateForm,
)
from contracts.masking import can_see_amount, masked_amount
from contracts.models import Contract
from contracts.views.common import (
    APPROVE,
    CHANGE,
    INVOICE,
    MASK,
    REQUEST_CHANGE,
    SIGN,
    STATUS_BADGES,
    VIEW,
    _change_rows,
    _term_value,
    contract_or_404,
    field_label,
    wants_partial,
)


def _detail_context(request, contract: Contract, **forms_) -> dict[str, Any]:
    user = request.user
    see = can_see_amount(user)
    today = timezone.localdate()
    contract.amount_shown = masked_amount(contract, user)
    estimate = services.renewal_estimate(contract)
    probability, reasons = estimate.probability, estimate.reasons
    actions = services.allowed_actions(contract)
    successor = selectors.contract_successor(contract) if contract.status != ContractStatus.DRAFT else None

    versions = list(contract.versions.all())
    version_rows = [
        {
            "version": version,
            "diff_url": reverse("contracts:version_diff", args=[contract.pk, version.version])
            if version.version > 1
            else None,
        }
        for version in versions
    ]
    change_rows = [
        {"change": change, "rows": _change_rows(change.changes, see), "own": change.requested_by_id == user.pk}
        for change in contract.change_requests.all()
    ]
    milestones = list(contract.milestones.all())
    for milestone in milestones:
        milestone.overdue = milestone.status == MilestoneStatus.PENDING and milestone.due_date < today
    bindings = {binding.priority: binding for binding in contract.sla_bindings.all()}
    sla_rows = [
        {"priority": value, "label": label, "binding": bindings.get(value)} for value, label in TicketPriority.choices
    ]
    invoices = list(contract.invoices.all())
    for invoice in invoices:
        invoice.amount_shown = invoice.amount if see else MASK
        invoice.payment_rows = [
            {"payment": payment, "amount_shown": payment.amount if see else MASK} for payment in invoice.payments.all()
        ]

    can_change = user.has_perm(CHANGE)
    can_invoice = user.has_perms(INVOICE) and "invoice" in actions
    context = {
        "contract": contract,
        "customer": contract.customer,
        "see_amount": see,
        "status_badges": STATUS_BADGES,
        "probability": probability,
        "probability_percent": round(probability * 100),
        "probability_reasons": reasons,
        "probability_source": estimate.source,
        "probability_source_label": estimate.source_label,
        "successor": successor,
        "version_rows": version_rows,
        "change_rows": change_rows,
        "milestones": milestones,
        "sla_rows": sla_rows,
        "invoices": invoices,
        "today": today,
        "can_sign": "sign" in actions and user.has_perm(SIGN),
        "can_terminate": "terminate" in actions and user.has_perm(SIGN),
        "can_renew": "renew" in actions and user.has_perm(SIGN) and successor is None,
        "can_request_change": "request_change" in actions and user.has_perm(REQUEST_CHANGE),
        "can_edit": "edit" in actions and can_change,
        "can_approve": user.has_perm(APPROVE),
        "can_change": can_change,
        "can_invoice": can_invoice,
        "has_html": bool(contract.document_html),
        "has_pdf": bool(contract.document_pdf),
        "terminate_form": forms_.get("terminate_form") or TerminateForm(),
        "milestone_form": forms_.get("milestone_form") or MilestoneForm(tenant=request.tenant, prefix="milestone"),
        "sla_form": forms_.get("sla_form")
        or SlaTableForm(initial=SlaTableForm.initial_for(bindings=bindings.values()), prefix="sla"),
        "invoice_form": forms_.get("invoice_form") or InvoiceForm(prefix="invoice"),
        "payment_form": forms_.get("payment_form") or PaymentForm(prefix="payment"),
        "generate_form": forms_.get("generate_form") or GenerateDocumentForm(),
        "next_url": request.get_full_path(),
    }
    return context


def _render_detail(request, contract: Contract, *, status: int = 200, **forms_):
    contract = contract_or_404(request.user, contract.pk, detail=True)  # re-read: a failed write changed nothing
    return render(
        request, "contracts/contract_detail.html", _detail_context(request, contract, **forms_), status=status
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def contract_detail(request, pk: int):
    contract = contract_or_404(request.user, pk, detail=True)
    return render(request, "contracts/contract_detail.html", _detail_context(request, contract))


@login_required
@permission_required(VIEW, raise_exception=True)
def version_diff(request, pk: int, version: int):
    """What changed between a version and the one before it (services.version_diff)."""
    contract = contract_or_404(request.user, pk)
    if version < 2:
        raise Http404(_("The first version has nothing to compare with."))
    try:
        diff = services.version_diff(contract, version - 1, version)
    except ValidationError:
        raise Http404(_("No such version.")) from None
    see = can_see_amount(request.user)
    rows = [
        {"label": field_label(name), "old": _term_value(name, old, see), "new": _term_value(name, new, see)}
        for name, (old, new) in diff.items()
    ]
    context = {"contract": contract, "version": version, "previous": version - 1, "diff_rows": rows}
    template = "contracts/_version_diff.html" if wants_partial(request) else "contracts/version_diff.html"
    return render(request, template, context)

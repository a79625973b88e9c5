"""Invoices and payments (finance)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import services
from contracts.forms import (
    InvoiceForm,
    PaymentForm,
)
from contracts.services import ContractStateError
from contracts.views.common import (
    INVOICE,
    _detail_url,
    apply_service_errors,
    contract_or_404,
)
from contracts.views.detail import _render_detail


@login_required
@permission_required(INVOICE, raise_exception=True)
@require_POST
def invoice_save(request, pk: int):
    """Record an invoice (an external id seen before updates that invoice)."""
    contract = contract_or_404(request.user, pk)
    form = InvoiceForm(request.POST, prefix="invoice")
    if form.is_valid():
        try:
            services.invoice_upsert(actor=request.user, contract=contract, data=form.service_data(), request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except ContractStateError as exc:  # a draft takes no invoices (the page hides the form then)
            messages.error(request, str(exc))
        except IntegrityError:
            form.add_error("invoice_number", _("An invoice with this number already exists."))
        else:
            messages.success(request, _("Invoice saved."))
            return redirect(_detail_url(contract, "invoices"))
    return _render_detail(request, contract, status=400, invoice_form=form)


@login_required
@permission_required(INVOICE, raise_exception=True)
@require_POST
def payment_save(request, pk: int):
    """Record a payment against one of the contract's invoices; the invoice status follows."""
    contract = contract_or_404(request.user, pk, detail=True)
    form = PaymentForm(request.POST, prefix="payment")
    if form.is_valid():
        invoice = next((i for i in contract.invoices.all() if i.pk == form.cleaned_data["invoice_id"]), None)
        if invoice is None:
            raise Http404(_("No such invoice."))
        try:
            services.payment_upsert(actor=request.user, invoice=invoice, data=form.service_data(), request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except IntegrityError:
            form.add_error("external_id", _("This payment was already recorded on another invoice."))
        else:
            messages.success(request, _("Payment recorded."))
            return redirect(_detail_url(contract, "invoices"))
    return _render_detail(request, contract, status=400, payment_form=form)

"""Editing a draft's terms."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts import stepup
from contracts import services
from contracts.forms import (
    ContractTermsForm,
)
from contracts.masking import can_see_amount
from contracts.services import ContractStateError
from contracts.views.common import (
    CHANGE,
    _detail_url,
    apply_service_errors,
    contract_or_404,
)


@login_required
@permission_required(CHANGE, raise_exception=True)
def contract_edit(request, pk: int):
    """Edit a draft's terms (services.contract_update); an active contract changes through a change request."""
    contract = contract_or_404(request.user, pk)
    try:
        services.ensure_editable(contract)
    except ContractStateError as exc:
        messages.error(request, str(exc))
        return redirect(_detail_url(contract))
    form = ContractTermsForm(
        request.POST or None, instance=copy.copy(contract), can_see_amount=can_see_amount(request.user)
    )
    status = 200
    if request.method == "POST":
        # A new contract amount is a sensitive change: a fresh second factor first (PRD 7.1).
        if stepup.needs_step_up(request) and stepup.value_differs(
            contract.contract_amount, request.POST.get("contract_amount")
        ):
            return stepup.step_up_response(request)
        if form.is_valid():
            try:
                services.contract_update(
                    actor=request.user, contract=contract, data=form.service_data(), request=request
                )
            except ValidationError as exc:
                apply_service_errors(exc, form)
            except ContractStateError as exc:
                messages.error(request, str(exc))
                return redirect(_detail_url(contract))
            else:
                messages.success(request, _("Contract %(code)s saved.") % {"code": contract.contract_code})
                return redirect(_detail_url(contract))
        status = 400
    return render(request, "contracts/contract_form.html", {"form": form, "contract": contract}, status=status)

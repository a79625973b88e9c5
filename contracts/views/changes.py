"""Change requests: proposing new terms, deciding, and the approval queue."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import stepup
from contracts import selectors, services
from contracts.forms import (
    ChangeRequestForm,
    DecisionForm,
)
from contracts.masking import can_see_amount, masked_amount
from contracts.services import ContractStateError
from contracts.views.common import (
    APPROVE,
    REFUSALS,
    REQUEST_CHANGE,
    _change_rows,
    _detail_url,
    apply_service_errors,
    contract_or_404,
)
from crm_project.ui import error_text, safe_next


@login_required
@permission_required(REQUEST_CHANGE, raise_exception=True)
def change_request_create(request, pk: int):
    """Propose new terms for an active contract; nothing changes until another person approves."""
    contract = contract_or_404(request.user, pk)
    try:
        services.ensure_changeable(contract)
    except ContractStateError as exc:
        messages.error(request, str(exc))
        return redirect(_detail_url(contract))
    see = can_see_amount(request.user)
    form = ChangeRequestForm(request.POST or None, instance=copy.copy(contract), can_see_amount=see)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.change_request_create(
                    actor=request.user,
                    contract=contract,
                    changes=form.changes(),
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
            except ValidationError as exc:
                apply_service_errors(exc, form)
            except ContractStateError as exc:
                messages.error(request, str(exc))
                return redirect(_detail_url(contract))
            else:
                messages.success(request, _("Change request sent for approval."))
                return redirect(_detail_url(contract, "changes"))
        status = 400
    contract.amount_shown = masked_amount(contract, request.user)
    return render(request, "contracts/change_request_form.html", {"form": form, "contract": contract}, status=status)


@login_required
@permission_required(APPROVE, raise_exception=True)
@require_POST
def change_request_decide(request, pk: int):
    """Approve (applies a new version) or reject (a note is required) a pending change request."""
    change = selectors.change_request_get_visible(request.user, pk)
    if change is None:
        raise Http404(_("No such change request."))
    back = safe_next(request, request.POST.get("next"), reverse("contracts:approval_queue"))
    form = DecisionForm(request.POST)
    if (
        request.POST.get("decision") == DecisionForm.APPROVE
        and "contract_amount" in (change.changes or {})
        and stepup.needs_step_up(request)
    ):
        return stepup.step_up_response(request)  # approving a new amount needs a fresh second factor
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
        return HttpResponseRedirect(back)
    note = form.cleaned_data["note"]
    try:
        if form.cleaned_data["decision"] == DecisionForm.APPROVE:
            contract = services.change_request_approve(actor=request.user, change=change, note=note, request=request)
            messages.success(
                request,
                _("Change approved: %(code)s is now at version %(version)d.")
                % {"code": contract.contract_code, "version": contract.version},
            )
        else:
            services.change_request_reject(actor=request.user, change=change, note=note, request=request)
            messages.success(request, _("Change rejected."))
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    return HttpResponseRedirect(back)


@login_required
@permission_required(APPROVE, raise_exception=True)
def approval_queue(request):
    """Pending change requests of the contracts the approver may see, oldest first."""
    see = can_see_amount(request.user)
    rows = [
        {"change": change, "rows": _change_rows(change.changes, see), "own": change.requested_by_id == request.user.pk}
        for change in selectors.pending_change_requests(request.user)
    ]
    return render(request, "contracts/approval_queue.html", {"rows": rows, "next_url": request.get_full_path()})

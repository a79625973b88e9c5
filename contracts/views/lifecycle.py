"""Sign, terminate and renew."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import services
from contracts.forms import (
    TerminateForm,
)
from contracts.views.common import (
    REFUSALS,
    SIGN,
    _detail_url,
    contract_or_404,
)
from crm_project.ui import error_text


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def contract_sign(request, pk: int):
    contract = contract_or_404(request.user, pk)
    try:
        services.contract_sign(actor=request.user, contract=contract, request=request)
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Contract %(code)s signed; it is now active.") % {"code": contract.contract_code})
    return redirect(_detail_url(contract))


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def contract_terminate(request, pk: int):
    contract = contract_or_404(request.user, pk)
    form = TerminateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for the termination."))
        return redirect(_detail_url(contract))
    try:
        services.contract_terminate(
            actor=request.user, contract=contract, reason=form.cleaned_data["reason"], request=request
        )
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Contract %(code)s terminated.") % {"code": contract.contract_code})
    return redirect(_detail_url(contract))


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def contract_renew(request, pk: int):
    contract = contract_or_404(request.user, pk)
    try:
        successor = services.contract_renew(actor=request.user, contract=contract, request=request)
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("Renewal %(code)s created as a draft for %(start)s – %(end)s.")
            % {
                "code": successor.contract_code,
                "start": successor.start_date.isoformat(),
                "end": successor.end_date.isoformat(),
            },
        )
        return redirect(_detail_url(successor))
    return redirect(_detail_url(contract))

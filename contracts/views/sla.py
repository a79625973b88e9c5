"""The SLA table of a contract."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import services
from contracts.forms import (
    SlaTableForm,
)
from contracts.views.common import (
    CHANGE,
    _detail_url,
    _sla_aliases,
    apply_service_errors,
    contract_or_404,
)
from contracts.views.detail import _render_detail


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def sla_save(request, pk: int):
    """Save the SLA table (one binding per filled priority) in one transaction."""
    contract = contract_or_404(request.user, pk)
    form = SlaTableForm(request.POST, prefix="sla")
    if form.is_valid():
        priority = None
        try:
            with transaction.atomic():
                for priority, data in form.bindings().items():  # noqa: B007 (names the failing row)
                    services.sla_binding_set(
                        actor=request.user, contract=contract, priority=priority, data=data, request=request
                    )
        except ValidationError as exc:
            apply_service_errors(exc, form, _sla_aliases(priority) if priority else None)
        else:
            messages.success(request, _("SLA saved."))
            return redirect(_detail_url(contract, "sla"))
    return _render_detail(request, contract, status=400, sla_form=form)

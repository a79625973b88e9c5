"""Milestones of a contract."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import services
from contracts.choices import MilestoneStatus
from contracts.forms import (
    MilestoneForm,
)
from contracts.views.common import (
    CHANGE,
    _detail_url,
    apply_service_errors,
    contract_or_404,
)
from contracts.views.detail import _render_detail
from crm_project.ui import error_text


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def milestone_save(request, pk: int):
    """Add a milestone, or update one (`milestone-milestone_id`)."""
    contract = contract_or_404(request.user, pk, detail=True)
    form = MilestoneForm(request.POST, tenant=request.tenant, prefix="milestone")
    if form.is_valid():
        milestone = None
        milestone_id = form.cleaned_data.get("milestone_id")
        if milestone_id:
            milestone = next((m for m in contract.milestones.all() if m.pk == milestone_id), None)
            if milestone is None:
                raise Http404(_("No such milestone."))
        try:
            services.milestone_save(
                actor=request.user, contract=contract, data=form.service_data(), milestone=milestone, request=request
            )
        except ValidationError as exc:
            apply_service_errors(exc, form)
        else:
            messages.success(request, _("Milestone saved."))
            return redirect(_detail_url(contract, "milestones"))
    return _render_detail(request, contract, status=400, milestone_form=form)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def milestone_done(request, pk: int, milestone_pk: int):
    """Mark a milestone done (one click from the timeline)."""
    contract = contract_or_404(request.user, pk, detail=True)
    milestone = next((m for m in contract.milestones.all() if m.pk == milestone_pk), None)
    if milestone is None:
        raise Http404(_("No such milestone."))
    try:
        services.milestone_save(
            actor=request.user,
            contract=contract,
            milestone=milestone,
            data={"status": MilestoneStatus.DONE},
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Milestone “%(title)s” done.") % {"title": milestone.title})
    return redirect(_detail_url(contract, "milestones"))

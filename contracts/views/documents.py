"""Downloading and (re)generating the contract document."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts.documents import contract_document_generate, document_response
from contracts.forms import (
    GenerateDocumentForm,
)
from contracts.views.common import (
    CHANGE,
    REFUSALS,
    VIEW,
    _detail_url,
    contract_or_404,
)
from crm_project.audit import CONTRACT_DOCUMENT_VIEWED, record_access
from crm_project.ui import error_text


@login_required
@permission_required(VIEW, raise_exception=True)
def contract_document(request, pk: int):
    """Download the contract document (?format=pdf|html)."""
    contract = contract_or_404(request.user, pk)
    fmt = (request.GET.get("format") or "pdf").lower()
    if fmt not in ("pdf", "html"):
        raise Http404(_("Choose the format pdf or html."))
    download = request.GET.get("download") == "1"
    response = document_response(contract, fmt, user=request.user, download=download)
    record_access(request, contract, CONTRACT_DOCUMENT_VIEWED, format=fmt, download=download)
    return response


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def contract_generate(request, pk: int):
    """(Re)generate the contract document from a template."""
    contract = contract_or_404(request.user, pk)
    form = GenerateDocumentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a template."))
        return redirect(_detail_url(contract, "documents"))
    try:
        with transaction.atomic():
            contract_document_generate(
                actor=request.user, contract=contract, template=form.cleaned_data["template"], request=request
            )
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Document generated."))
    return redirect(_detail_url(contract, "documents"))

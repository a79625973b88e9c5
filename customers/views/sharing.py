"""Sharing a customer with a colleague (leads and admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm_project.ui import error_text
from customers import services
from customers.forms import (
    ShareForm,
)
from customers.views.common import (
    ASSIGN,
    _detail_url,
    _visible_or_404,
)


@login_required
@permission_required(ASSIGN, raise_exception=True)
@require_POST
def customer_share(request, pk: int):
    """Share the customer with a colleague (action=share) or take a share back (action=unshare)."""
    customer = _visible_or_404(request.user, pk)
    form = ShareForm(request.POST, tenant=request.tenant)
    back = _detail_url(customer, "overview", "share")
    if not form.is_valid():
        messages.error(request, _("Choose a colleague of your tenant."))
        return redirect(back)
    user = form.cleaned_data["user"]
    try:
        if form.cleaned_data["action"] == "share":
            services.customer_share(actor=request.user, customer=customer, user=user, request=request)
            messages.success(request, _("Shared with %(user)s.") % {"user": user})
        else:
            services.customer_unshare(actor=request.user, customer=customer, user=user, request=request)
            messages.success(request, _("%(user)s no longer sees this customer through a share.") % {"user": user})
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return redirect(back)

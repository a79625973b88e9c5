"""Tags on the customer page (htmx chips)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm_project.ui import error_text
from customers import services
from customers.forms import (
    TagForm,
)
from customers.models import Customer
from customers.views.common import (
    CHANGE,
    _detail_url,
    _visible_or_404,
    apply_service_errors,
)


def _tags_response(request, customer: Customer, form: TagForm | None = None):
    """htmx: the refreshed chips (with the form's errors); otherwise back to the Tags tab."""
    if request.htmx:
        customer = _visible_or_404(request.user, customer.pk)  # re-read: the tags changed
        return render(request, "customers/_tag_chips.html", {"customer": customer, "tag_form": form or TagForm()})
    if form is not None and form.errors:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(_detail_url(customer, "tags"))


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def tag_add(request, pk: int):
    customer = _visible_or_404(request.user, pk)
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            services.tag_add(actor=request.user, customer=customer, data=form.cleaned_data, request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except PermissionDenied as exc:
            form.add_error(None, error_text(exc))
        else:
            if not request.htmx:
                messages.success(request, _("Tag added."))
            return _tags_response(request, customer)
    return _tags_response(request, customer, form)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def tag_remove(request, pk: int, tag_pk: int):
    customer = _visible_or_404(request.user, pk)
    tag = next((tag for tag in customer.tags.all() if tag.pk == tag_pk), None)
    if tag is None:
        raise Http404(_("No such tag."))
    try:
        services.tag_remove(actor=request.user, tag=tag, request=request)
    except PermissionDenied as exc:
        messages.error(request, error_text(exc))
    else:
        if not request.htmx:
            messages.success(request, _("Tag “%(tag)s” removed.") % {"tag": tag.tag_name})
    return _tags_response(request, customer)

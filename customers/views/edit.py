"""Create and edit a customer with its contacts (services.customer_create / customer_update / contact_*)."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from crm_project.ui import error_text
from customers import services
from customers.forms import (
    CONTACT_FORM_FIELDS,
    CustomerForm,
    contact_formset_class,
)
from customers.models import Customer
from customers.views.common import (
    ADD,
    CHANGE,
    _duplicate_message,
    _visible_or_404,
    apply_service_errors,
)


def _render_form(request, form, formset, customer=None, duplicate=None, status=200):
    return render(
        request,
        "customers/customer_form.html",
        {"form": form, "formset": formset, "customer": customer, "duplicate": duplicate},
        status=status,
    )


@login_required
@permission_required(ADD, raise_exception=True)
def customer_create(request):
    """A new customer with up to a few contacts, created by services.customer_create in one transaction."""
    formset_class = contact_formset_class(extra=2, can_delete=False, first_row_primary=True)
    if request.method != "POST":
        form = CustomerForm(user=request.user, tenant=request.tenant)
        formset = formset_class(prefix="contacts")
        return _render_form(request, form, formset)

    form = CustomerForm(request.POST, user=request.user, tenant=request.tenant)
    formset = formset_class(request.POST, prefix="contacts")
    if not all([form.is_valid(), formset.is_valid()]):  # both validated: every error shows at once
        return _render_form(request, form, formset, status=400)
    kept = formset.kept_forms()
    duplicate = None
    try:
        with transaction.atomic():
            customer = services.customer_create(
                actor=request.user,
                data=form.service_data(),
                contacts=[row.service_data() for _index, row in kept],
                request=request,
            )
    except services.CustomerDuplicate as exc:
        duplicate = exc.existing
        form.add_error("customer_name", _duplicate_message(request, exc.existing))
    except ValidationError as exc:
        apply_service_errors(exc, form, formset, contact_rows=[index for index, _row in kept])
    except PermissionDenied as exc:
        form.add_error(None, error_text(exc))
    else:
        messages.success(request, _("Customer %(name)s created.") % {"name": customer.customer_name})
        return redirect("customers:customer_detail", pk=customer.pk)
    return _render_form(request, form, formset, duplicate=duplicate, status=400)


def _contact_initial(customer: Customer) -> list[dict[str, Any]]:
    return [
        {**{name: getattr(contact, name) for name in CONTACT_FORM_FIELDS}, "contact_id": contact.pk}
        for contact in customer.contacts.all()
    ]


@login_required
@permission_required(CHANGE, raise_exception=True)
def customer_edit(request, pk: int):
    """Change a customer and its contacts; every write is a service call inside one transaction."""
    customer = _visible_or_404(request.user, pk)
    formset_class = contact_formset_class(extra=1, can_delete=True)
    initial = _contact_initial(customer)
    if request.method != "POST":
        form = CustomerForm(instance=copy.copy(customer), user=request.user, tenant=request.tenant)
        formset = formset_class(prefix="contacts", initial=initial)
        return _render_form(request, form, formset, customer=customer)

    form = CustomerForm(request.POST, instance=copy.copy(customer), user=request.user, tenant=request.tenant)
    formset = formset_class(request.POST, prefix="contacts", initial=initial)
    if not all([form.is_valid(), formset.is_valid()]):
        return _render_form(request, form, formset, customer=customer, status=400)

    contacts = {contact.pk: contact for contact in customer.contacts.all()}
    duplicate = None
    current_row = None
    try:
        with transaction.atomic():
            services.customer_update(actor=request.user, customer=customer, data=form.service_data(), request=request)
            for row in formset.deleted_forms_with_ids():
                contact = contacts.get(row.cleaned_data["contact_id"])
                if contact is not None:
                    services.contact_delete(actor=request.user, contact=contact, request=request)
            # Any order: making a contact primary demotes the old primary inside the service.
            for index, row in formset.kept_forms():
                current_row = index
                contact_id = row.cleaned_data.get("contact_id")
                if contact_id:
                    contact = contacts.get(contact_id)
                    if contact is None:
                        raise ValidationError(_("This contact no longer exists; reload the page."))
                    if row.has_changed():
                        services.contact_update(
                            actor=request.user, contact=contact, data=row.service_data(), request=request
                        )
                else:
                    services.contact_create(
                        actor=request.user, customer=customer, data=row.service_data(), request=request
                    )
            current_row = None
    except services.CustomerDuplicate as exc:
        duplicate = exc.existing
        form.add_error("customer_name", _duplicate_message(request, exc.existing))
    except ValidationError as exc:
        if current_row is not None:
            apply_service_errors(exc, formset.forms[current_row])
        else:
            apply_service_errors(exc, form, formset)
    except PermissionDenied as exc:
        form.add_error(None, error_text(exc))
    else:
        messages.success(request, _("Customer %(name)s saved.") % {"name": customer.customer_name})
        return redirect("customers:customer_detail", pk=customer.pk)
    # The failed transaction changed nothing; show the stored values again next to the user's input.
    customer = _visible_or_404(request.user, pk)
    return _render_form(request, form, formset, customer=customer, duplicate=duplicate, status=400)

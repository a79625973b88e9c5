"""Duplicate candidates and the side-by-side merge."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.stepup import step_up_required
from crm_project.ui import error_text
from customers import selectors, services
from customers.forms import (
    MergeForm,
)
from customers.models import Customer
from customers.views.common import (
    _CHOICE_FIELDS,
    MERGE,
    VIEW,
    _duplicate_message,
    _field_label,
    _visible_or_404,
)


@login_required
@permission_required(VIEW, raise_exception=True)
def customer_duplicates(request, pk: int):
    customer = _visible_or_404(request.user, pk)
    candidates = services.customer_duplicates(customer, visible=selectors.customers_visible_to(request.user))
    return render(request, "customers/customer_duplicates.html", {"customer": customer, "candidates": candidates})


def _merge_value(customer: Customer, name: str) -> Any:
    if name in _CHOICE_FIELDS:
        return getattr(customer, f"get_{name}_display")()
    return getattr(customer, name)


@login_required
@permission_required(MERGE, raise_exception=True)
@step_up_required(methods=("POST",))
def customer_merge(request, pk: int, other_pk: int):
    """Side by side: per field, which record's value survives, and which record remains."""
    first = _visible_or_404(request.user, pk)
    second = _visible_or_404(request.user, other_pk)
    if first.pk == second.pk:
        raise Http404(_("A customer cannot be merged into itself."))
    rows = []
    for name in services.CUSTOMER_FIELDS:
        left, right = getattr(first, name), getattr(second, name)
        rows.append(
            {
                "name": name,
                "label": _field_label(name),
                "left": _merge_value(first, name),
                "right": _merge_value(second, name),
                "differs": left != right,
                # By default the first record's value, unless it is empty and the other one is not.
                "default": second.pk if (left in (None, "") and right not in (None, "")) else first.pk,
            }
        )
    differing = [row["name"] for row in rows if row["differs"]]
    initial = {"survivor": str(first.pk), **{f"pick_{row['name']}": str(row["default"]) for row in rows}}
    form = MergeForm(request.POST or None, initial=initial, first=first, second=second, fields=differing)
    if request.method == "POST" and form.is_valid():
        survivor, duplicate = (first, second) if form.cleaned_data["survivor"] == str(first.pk) else (second, first)
        take = [name for name in differing if form.cleaned_data[f"pick_{name}"] == str(duplicate.pk)]
        try:
            services.customer_merge(
                actor=request.user, survivor=survivor, duplicate=duplicate, take_from_duplicate=take, request=request
            )
        except services.CustomerDuplicate as exc:
            form.add_error(None, _duplicate_message(request, exc.existing))
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(
                request,
                _("%(duplicate)s was merged into %(survivor)s.")
                % {"duplicate": duplicate.customer_code, "survivor": survivor.customer_code},
            )
            return redirect("customers:customer_detail", pk=survivor.pk)
    for row in rows:
        key = f"pick_{row['name']}"
        row["picked"] = str(form[key].value()) if key in form.fields else str(row["default"])
    return render(
        request,
        "customers/customer_merge.html",
        {
            "first": first,
            "second": second,
            "rows": rows,
            "form": form,
            "survivor": str(form["survivor"].value()),
        },
        status=400 if form.is_bound and form.errors else 200,
    )

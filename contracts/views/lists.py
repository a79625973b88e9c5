"""The contract list (filters in the URL, sortable columns, pagination) and its CSV export."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts import selectors
from contracts.choices import ContractStatus, ContractType
from contracts.filtersets import ContractFilterSet
from contracts.masking import can_see_amount, masked_amount
from contracts.views.common import (
    AMOUNT_SORT,
    DEFAULT_SORT,
    EXPORT,
    PAGE_SIZE,
    SORT_FIELDS,
    STATUS_BADGES,
    VIEW,
    _csv_response,
    _ordering,
    _query_without,
    _wants_partial,
    _with_amounts,
)
from customers.selectors import customers_visible_to


def _sort_fields(user) -> dict[str, str]:
    return {**SORT_FIELDS, **AMOUNT_SORT} if can_see_amount(user) else dict(SORT_FIELDS)


def _filtered_contracts(request):
    base = selectors.contract_list_queryset(request.user)
    filterset = ContractFilterSet(request.GET, queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    return filterset, queryset


def _style_filter_form(form, user) -> None:
    """Presentation only: placeholders, "All" instead of dashes, a customer picker."""
    form.fields["q"].widget.attrs.update(
        {"placeholder": _("Code, name or customer"), "type": "search", "autocomplete": "off"}
    )
    form.fields["status"].widget.choices = [("", _("All")), *ContractStatus.choices]
    form.fields["contract_type"].widget.choices = [("", _("All")), *ContractType.choices]
    customers = (
        customers_visible_to(user)
        .filter(pk__in=selectors.contracts_visible_to(user).values("customer_id"))
        .order_by("customer_name")
        .values_list("pk", "customer_name")
    )
    form.fields["customer"].widget = forms.Select(
        choices=[("", _("All")), *((str(pk), name) for pk, name in customers)]
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def contract_list(request):
    """Contracts the user may see: filters (kept in the URL), sortable columns, pagination, CSV export."""
    user = request.user
    ordering = _ordering(request, _sort_fields(user), DEFAULT_SORT)
    filterset, queryset = _filtered_contracts(request)
    page_obj = Paginator(queryset.order_by(*ordering), PAGE_SIZE).get_page(request.GET.get("page"))
    page_obj.object_list = _with_amounts(page_obj.object_list, user)
    _style_filter_form(filterset.form, user)
    export_query = _query_without(request, "page").urlencode()
    context = {
        "filter_form": filterset.form,
        "page_obj": page_obj,
        "page_range": page_obj.paginator.get_elided_page_range(page_obj.number, on_each_side=1, on_ends=1),
        "filters_active": bool(_query_without(request, "sort", "page")),
        "see_amount": can_see_amount(user),
        "can_export": user.has_perm(EXPORT),
        "export_url": reverse("contracts:contract_export") + (f"?{export_query}" if export_query else ""),
        "status_badges": STATUS_BADGES,
        "partial": _wants_partial(request),
    }
    template = "contracts/_contract_results.html" if context["partial"] else "contracts/contract_list.html"
    return render(request, template, context)


@login_required
@permission_required((VIEW, EXPORT), raise_exception=True)
def contract_export(request):
    """The current filtered and sorted list as CSV; amounts masked without the permission."""
    user = request.user
    ordering = _ordering(request, _sort_fields(user), DEFAULT_SORT)
    _filterset, queryset = _filtered_contracts(request)
    header = [
        _("Contract code"),
        _("Contract name"),
        _("Customer code"),
        _("Customer"),
        _("Contract type"),
        _("Amount"),
        _("Currency"),
        _("Start date"),
        _("End date"),
        _("Status"),
        _("Renewal type"),
    ]
    rows = (
        [
            contract.contract_code,
            contract.contract_name,
            contract.customer.customer_code,
            contract.customer.customer_name,
            str(contract.get_contract_type_display()),
            masked_amount(contract, user),
            contract.currency,
            contract.start_date.isoformat(),
            contract.end_date.isoformat(),
            str(contract.get_status_display()),
            str(contract.get_renewal_type_display()),
        ]
        for contract in queryset.order_by(*ordering)
    )
    stamp = timezone.localdate().strftime("%Y%m%d")
    return _csv_response(f"contracts-{stamp}.csv", header, rows)

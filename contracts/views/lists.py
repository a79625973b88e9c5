"""The contract list (filters in the URL, sortable columns, pagination) and its CSV export."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.stepup import step_up_required
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
    _with_amounts,
    csv_response,
)
from crm_project.audit import record_export
from crm_project.lists import StaffList
from customers.selectors import customers_visible_to


class ContractList(StaffList):
    """Contracts the user may see: filters (kept in the URL), sortable columns, pagination, CSV export."""

    filterset_class = ContractFilterSet
    sort_fields = SORT_FIELDS
    default_sort = DEFAULT_SORT
    page_size = PAGE_SIZE
    template_name = "contracts/contract_list.html"
    partial_template_name = "contracts/_contract_results.html"
    remember_key = None  # the contract list keeps its filters in the URL only
    redirect_on_bad_sort = False  # a bad sort shows the default order in place, with a warning
    export_url_name = "contracts:contract_export"

    def get_queryset(self):
        return selectors.contract_list_queryset(self.user)

    def get_sort_fields(self) -> dict[str, str]:
        return {**SORT_FIELDS, **AMOUNT_SORT} if can_see_amount(self.user) else dict(SORT_FIELDS)

    def ordered_queryset(self):
        """The amount is encrypted at rest: sorting by it decrypts the filtered set in Python (selectors)."""
        ordering, _valid = self.ordering()
        if any(term.lstrip("-") == selectors.AMOUNT for term in ordering):
            return selectors.order_by_amount(self.filtered_queryset(), ordering)
        return super().ordered_queryset()

    def style_filter_form(self, form) -> None:
        """Presentation only: placeholders, "All" instead of dashes, a customer picker."""
        form.fields["q"].widget.attrs.update(
            {"placeholder": _("Code, name or customer"), "type": "search", "autocomplete": "off"}
        )
        form.fields["status"].widget.choices = [("", _("All")), *ContractStatus.choices]
        form.fields["contract_type"].widget.choices = [("", _("All")), *ContractType.choices]
        customers = (
            customers_visible_to(self.user)
            .filter(pk__in=selectors.contracts_visible_to(self.user).values("customer_id"))
            .order_by("customer_name")
            .values_list("pk", "customer_name")
        )
        form.fields["customer"].widget = forms.Select(
            choices=[("", _("All")), *((str(pk), name) for pk, name in customers)]
        )

    def prepare_rows(self, rows: list) -> list:
        return _with_amounts(rows, self.user)

    def extra_context(self) -> dict:
        return {
            "see_amount": can_see_amount(self.user),
            "can_export": self.user.has_perm(EXPORT),
            "status_badges": STATUS_BADGES,
        }


@login_required
@permission_required(VIEW, raise_exception=True)
def contract_list(request):
    """Contracts the user may see: filters (kept in the URL), sortable columns, pagination, CSV export."""
    return ContractList(request).response()


@login_required
@permission_required((VIEW, EXPORT), raise_exception=True)
@step_up_required
def contract_export(request):
    """The current filtered and sorted list as CSV; amounts masked without the permission."""
    user = request.user
    contracts = ContractList(request)
    if not contracts.ordering()[1]:
        messages.warning(request, _("That column cannot be sorted; showing the default order."))
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
        for contract in contracts.ordered_queryset()
    )
    stamp = timezone.localdate().strftime("%Y%m%d")
    response = csv_response(f"contracts-{stamp}.csv", header, rows)
    record_export(request, "contracts", object_type="contracts.contract", format="csv")
    return response

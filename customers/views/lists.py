"""The customer list (crm_project.lists.StaffList) and its bulk actions."""

from __future__ import annotations

from functools import cached_property

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from crm_project.lists import StaffList
from crm_project.ui import error_text, safe_next
from customers import selectors, services
from customers.choices import CustomerLevel, CustomerStatus, CustomerType
from customers.extensions import ListColumn, list_columns, visible
from customers.filtersets import CustomerFilterSet
from customers.forms import (
    BulkActionForm,
)
from customers.views.common import (
    ASSIGN,
    CHANGE,
    DEFAULT_SORT,
    EXPORT,
    LIST_SESSION_KEY,
    PAGE_SIZE,
    SORT_FIELDS,
    VIEW,
)


def _style_filter_form(form, managers) -> None:
    """Presentation only: placeholders, "All" instead of dashes, a manager picker."""
    form.fields["q"].widget.attrs.update(
        {"placeholder": _("Name, code or contact"), "type": "search", "autocomplete": "off"}
    )
    form.fields["tag"].widget.attrs.update({"placeholder": _("Exact tag name"), "autocomplete": "off"})
    for name, choices in (("status", CustomerStatus), ("level", CustomerLevel), ("customer_type", CustomerType)):
        form.fields[name].widget.choices = [("", _("All")), *choices.choices]
    form.fields["assigned_manager_id"].widget = forms.Select(
        choices=[("", _("Anyone")), *((str(user.pk), user.get_display_name()) for user in managers)]
    )
    for name in ("health_score_min", "health_score_max"):
        form.fields[name].widget.attrs.update({"min": 0, "max": 100, "step": 1, "inputmode": "numeric"})


class CustomerList(StaffList):
    """Customers the user may see: filters (kept in the URL and remembered in the session), sort, bulk actions.

    Opening /customers/ without a query string restores the last filters; `?reset=1` (the filter bar's Reset
    link) forgets them.
    """

    filterset_class = CustomerFilterSet
    sort_fields = SORT_FIELDS
    default_sort = DEFAULT_SORT
    page_size = PAGE_SIZE
    template_name = "customers/customer_list.html"
    partial_template_name = "customers/_customer_results.html"
    remember_key = LIST_SESSION_KEY
    export_url_name = "customers:customer_export"
    deferred_join = True  # 100,000 customers: the page's ids from the list index, then 25 rows

    def get_queryset(self):
        return selectors.customer_list_queryset(self.user)

    def count(self, queryset) -> int | None:
        """The filter's total, cached like the API's until the tenant's customers change (customers.cache)."""
        if not self.filterset().is_valid():
            return None
        names = self.filterset_class.base_filters
        filters = {key: values for key, values in self.request.GET.lists() if key in names}
        filters["columns"] = [column.key for column in self.columns]  # a column's queryset hook may filter
        return selectors.customer_count(queryset, user=self.user, filters=filters, kind="staffcount")

    @cached_property
    def columns(self) -> list[ListColumn]:
        """Columns other apps registered (customers.extensions.list_columns) that this user may see."""
        return visible(list_columns, self.user)

    def get_sort_fields(self) -> dict[str, str]:
        fields = super().get_sort_fields()
        fields.update({column.key: column.sort_field for column in self.columns if column.sort_field})
        return fields

    def filtered_queryset(self):
        queryset = super().filtered_queryset().prefetch_related("tags")
        for column in self.columns:
            if column.queryset is not None:
                queryset = column.queryset(queryset)
        return queryset

    def prepare_rows(self, rows: list) -> list:
        for row in rows:
            row.extra_cells = [column.value(row) for column in self.columns]
        return rows

    def style_filter_form(self, form) -> None:
        self.managers = list(selectors.assignable_managers(self.request.tenant))
        _style_filter_form(form, self.managers)

    def extra_context(self) -> dict:
        user = self.user
        can_tag, can_assign, can_export = user.has_perm(CHANGE), user.has_perm(ASSIGN), user.has_perm(EXPORT)
        return {
            "managers": self.managers,
            "can_tag": can_tag,
            "can_assign": can_assign,
            "can_export": can_export,
            "can_bulk": can_tag or can_assign or can_export,
            "extra_columns": self.columns,
        }


@login_required
@permission_required(VIEW, raise_exception=True)
def customer_list(request):
    return CustomerList(request).response()


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def customer_bulk(request):
    """Bulk actions on the selected rows: assign a manager, add a tag, export the selection."""
    form = BulkActionForm(request.POST, tenant=request.tenant)
    back = safe_next(request, request.POST.get("next"), reverse("customers:customer_list"))
    if not form.is_valid():
        for name, errors in form.errors.items():
            if name == "action":
                errors = [_("Choose an action for the selected customers.")]
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(back)

    action = form.cleaned_data["action"]
    needed = {form.ASSIGN: ASSIGN, form.TAG: CHANGE, form.EXPORT: EXPORT}[action]
    if not request.user.has_perm(needed):
        raise PermissionDenied
    customers = list(
        selectors.customers_visible_to(request.user)
        .filter(pk__in=form.cleaned_data["ids"])
        .select_related("assigned_manager")
        .order_by("pk")
    )
    if not customers:
        messages.error(request, _("None of the selected customers is available any more."))
        return HttpResponseRedirect(back)

    if action == form.EXPORT:
        ids = ",".join(str(customer.pk) for customer in customers)
        return HttpResponseRedirect(reverse("customers:customer_export") + f"?ids={ids}&format=csv")
    try:
        if action == form.ASSIGN:
            manager = form.cleaned_data["manager"]
            changed = services.customer_reassign(
                actor=request.user, customers=customers, manager=manager, request=request
            )
            text = ngettext(
                "%(count)d customer assigned to %(manager)s.", "%(count)d customers assigned to %(manager)s.", changed
            )
            messages.success(request, text % {"count": changed, "manager": manager})
        else:
            tag_name = form.cleaned_data["tag_name"].strip()
            added = services.tag_add_bulk(actor=request.user, customers=customers, tag_name=tag_name, request=request)
            text = ngettext(
                "Tag “%(tag)s” added to %(count)d customer.", "Tag “%(tag)s” added to %(count)d customers.", added
            )
            messages.success(request, text % {"tag": tag_name, "count": added})
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return HttpResponseRedirect(back)

"""What every customers staff page shares: permission names, the list's sort whitelist, error placement,
field labels, 404 for an invisible customer."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_project import ui
from crm_project.ui import visible_or_404
from customers import selectors
from customers.choices import CustomerLevel, CustomerStatus, CustomerType
from customers.models import Customer

VIEW = "customers.view_customer"
ADD = "customers.add_customer"
CHANGE = "customers.change_customer"
DELETE = "customers.delete_customer"
ASSIGN = "customers.assign_customer"
MERGE = "customers.merge_customer"
EXPORT = "customers.export_customer"

PAGE_SIZE = 25
SORT_FIELDS = {
    "customer_name": "customer_name",
    "customer_code": "customer_code",
    "health_score": "health_score",
    "level": "level",
    "status": "status",
    "next_renewal_date": "next_renewal_date",
    "created_at": "created_at",
}
DEFAULT_SORT = ["-created_at"]
LIST_SESSION_KEY = "customers:list_query"


# --- Helpers --------------------------------------------------------------------------------------------------------
def _visible_or_404(user, pk) -> Customer:
    return visible_or_404(selectors.customer_get_visible, user, pk, message=_("No such customer."))


def _detail_url(customer: Customer, tab: str | None = None, anchor: str = "") -> str:
    url = reverse("customers:customer_detail", args=[customer.pk])
    if tab:
        url += "?" + urlencode({"tab": tab})
    return url + (f"#{anchor}" if anchor else "")


def _duplicate_message(request, existing: Customer) -> str:
    """The duplicate error with a link to the existing customer (when the user may open it)."""
    if selectors.customers_visible_to(request.user).filter(pk=existing.pk).exists():
        return format_html(
            '{} <a href="{}">{} ({})</a>',
            _("A customer with this name already exists:"),
            reverse("customers:customer_detail", args=[existing.pk]),
            existing.customer_name,
            existing.customer_code,
        )
    return _("A customer with this name already exists; ask your lead to share it with you.")


_FIELD_ALIASES = {"assigned_manager_id": "assigned_manager"}


def apply_service_errors(exc: ValidationError, form, formset=None, contact_rows: list[int] | None = None) -> None:
    """crm_project.ui.apply_service_errors with the customer form's aliases, labels and contact rows."""
    ui.apply_service_errors(
        exc,
        form,
        aliases=_FIELD_ALIASES,
        field_label=_field_label,
        formset=formset,
        formset_key="contacts",
        formset_rows=contact_rows,
    )


_CHOICE_FIELDS = {"status": CustomerStatus, "level": CustomerLevel, "customer_type": CustomerType}


_EXTRA_FIELD_LABELS = {
    "shared_with": gettext_lazy("Shared with"),
    "tag": gettext_lazy("Tag"),
    "merged_customer": gettext_lazy("Merged customer"),
    "contacts_moved": gettext_lazy("Contacts moved"),
    "tags_moved": gettext_lazy("Tags moved"),
    "reason": gettext_lazy("Reason"),
}
_USER_FIELDS = ("assigned_manager", "shared_with")


def _field_label(name: str) -> str:
    if name in _EXTRA_FIELD_LABELS:
        return str(_EXTRA_FIELD_LABELS[name])
    try:
        return capfirst(Customer._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return capfirst(name.replace("_", " "))


def _display_value(name: str, value: Any) -> Any:
    choices = _CHOICE_FIELDS.get(name)
    if choices is not None and value is not None:
        try:
            return choices(int(value)).label
        except (TypeError, ValueError):
            return value
    return value

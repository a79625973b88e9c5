"""What a template sees: plain values (dicts of whitelisted fields, strings, dates), never model instances, so a
template cannot walk to `contract.created_by.password` or call a method. Amounts follow `contracts.masking`."""

from __future__ import annotations

import html
from decimal import Decimal
from functools import partial
from typing import Any

from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.roles import masked_contact_detail
from contracts.masking import MASK
from contracts.models import Contract


class Values(dict):
    """A dict of plain values that prints as its `label` (so `{{ customer }}` shows the customer's name)."""

    def __init__(self, label: str, **values: Any):
        super().__init__(**values)
        self.label = label

    def __str__(self) -> str:
        return self.label

    # Templates call attributes without arguments: these must not empty the context.
    def clear(self) -> None:
        super().clear()

    clear.alters_data = True

    def popitem(self):
        return super().popitem()

    popitem.alters_data = True


def format_amount(amount: Decimal | None, currency: str) -> str:
    """ "CNY 1,200,000.00": the amount with thousands separators and its currency code."""
    if amount is None:
        return ""
    return f"{currency} {amount:,.2f}"


def format_minutes(minutes: int) -> str:
    """An SLA duration: whole hours as hours ("4 hours"), anything else in minutes ("90 minutes")."""
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def format_percent(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    number = Decimal(str(value)).normalize()
    return f"{number:f}%"


def sla_table_html(contract: Contract) -> str:
    """The contract's SLA bindings as an HTML table (one row per priority), or a sentence when there are none."""
    bindings = list(contract.sla_bindings.order_by("priority"))
    if not bindings:
        return "<p>{}</p>".format(html.escape(_("No SLA has been agreed for this contract.")))
    headers = [_("Priority"), _("First response"), _("Resolution"), _("Service hours"), _("Availability")]
    rows = [
        [
            binding.get_priority_display(),
            format_minutes(binding.first_response_minutes),
            format_minutes(binding.resolution_minutes),
            binding.get_service_hours_display(),
            format_percent(binding.availability_target),
        ]
        for binding in bindings
    ]
    head = "".join(f"<th>{html.escape(str(text))}</th>" for text in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="sla"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _customer_values(contract: Contract, show_contact_details: bool) -> Values:
    customer = contract.customer
    contact = customer.contacts.order_by("-is_primary", "id").first()
    shown = partial(masked_contact_detail, visible=show_contact_details)
    contact_values = Values(
        contact.contact_name if contact else "",
        contact_name=contact.contact_name if contact else "",
        position=contact.position if contact else "",
        department=contact.department if contact else "",
        phone=shown("phone", contact.phone) if contact else "",
        mobile=shown("mobile", contact.mobile) if contact else "",
        email=shown("email", contact.email) if contact else "",
    )
    return Values(
        customer.customer_name,
        customer_name=customer.customer_name,
        customer_code=customer.customer_code,
        customer_type=customer.get_customer_type_display(),
        industry=customer.industry,
        scale=customer.scale,
        region=customer.region,
        address=customer.address,
        website=customer.website,
        contact=contact_values,
    )


def _contract_values(contract: Contract, amount: str, show_amounts: bool) -> Values:
    return Values(
        contract.contract_name,
        contract_code=contract.contract_code,
        contract_name=contract.contract_name,
        contract_type=contract.get_contract_type_display(),
        status=contract.get_status_display(),
        contract_amount=contract.contract_amount if show_amounts else MASK,
        amount=amount,
        currency=contract.currency,
        start_date=contract.start_date,
        end_date=contract.end_date,
        signed_date=contract.signed_date,
        renewal_type=contract.get_renewal_type_display(),
        renewal_notice_days=contract.renewal_notice_days,
        payment_terms=contract.payment_terms,
        service_level=contract.service_level,
        version=contract.version,
    )


def base_context(contract: Contract, *, show_amounts: bool, show_contact_details: bool | None = None) -> dict[str, Any]:
    """customer, contract, provider, amount, start_date, end_date, today, sla_table, amounts_masked.

    Without `show_amounts` every amount is `***` (the caller decides with `contracts.masking.can_see_amount`).
    Without `show_contact_details` (default: as `show_amounts`) the contact's phone, mobile and e-mail are masked
    (accounts.roles.can_see_contact_details decides).
    """
    if show_contact_details is None:
        show_contact_details = show_amounts
    tenant = contract.tenant
    amount = format_amount(contract.contract_amount, contract.currency) if show_amounts else MASK
    return {
        "customer": _customer_values(contract, show_contact_details),
        "contract": _contract_values(contract, amount, show_amounts),
        "provider": Values(tenant.name, name=tenant.name),
        "amount": amount,
        "amounts_masked": not show_amounts,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "today": timezone.localdate(),
        "sla_table": mark_safe(sla_table_html(contract)),  # noqa: S308 - built from escaped values above
    }

"""Contact details on every surface: one rule (accounts.roles.can_see_contact_details), one masked shape, and the
audit of unmasking (PRD 7.3.2, 7.4.2).

A user with `customers.view_contact_details` sees a contact's phone, mobile, e-mail and WeChat in full; each time
such a user is shown them (a customer's overview or contacts tab, the contact API, an export carrying them) one
`privacy.contact_details.viewed` entry records who saw whose details, when and from where. Everyone else sees the
masked shape (`138****8000`, `z***@abc-tech.com`, `w***`) and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accounts.roles import CONTACT_DETAIL_FIELDS, can_see_contact_details, masked_contact_detail
from accounts.services import audit_record

UNMASKED_ACTION = "privacy.contact_details.viewed"


def mask_contact_dict(data: dict[str, Any], *, visible: bool) -> dict[str, Any]:
    """A serialized contact with its details masked unless `visible`."""
    if visible:
        return data
    return {
        key: masked_contact_detail(key, value, visible=False) if key in CONTACT_DETAIL_FIELDS else value
        for key, value in data.items()
    }


def record_unmasked(*, user, customer, contacts: Iterable[Any], surface: str, request=None) -> bool:
    """Audit that `user` was shown these contacts' details in full (only when they were: permission and data)."""
    if not can_see_contact_details(user):
        return False
    shown = [c for c in contacts if any(getattr(c, field, "") for field in CONTACT_DETAIL_FIELDS)]
    if not shown:
        return False
    audit_record(
        action=UNMASKED_ACTION,
        actor=user,
        obj=customer,
        changes={"surface": (None, surface), "contact_ids": (None, ",".join(str(c.pk) for c in shown))},
        request=request,
    )
    return True


def contacts_tab_context(request, customer) -> dict:
    """The contacts tab shows every contact's details: unmasking is audited."""
    record_unmasked(user=request.user, customer=customer, contacts=customer.contacts.all(), surface="contacts tab",
                    request=request)  # fmt: skip
    return {}


def overview_unmask_context(request, customer) -> dict:
    """The overview shows the primary contact's mobile and e-mail."""
    contacts = list(customer.contacts.all()[:1])
    record_unmasked(user=request.user, customer=customer, contacts=contacts, surface="overview", request=request)
    return {}

"""Where every app declares the personal data it holds, and the data classes retention applies to.

A higher app registers from its own `AppConfig.ready()` (this app sits just above customers, so they may import it):

    from privacy.registry import PersonalData, personal_data
    personal_data.register(PersonalData("communications.communication", Communication,
                                        fields=("subject", "content"), contact_field="contact"))

Export and erasure of a contact then cover these rows: those linked to the contact through `contact_field`, and
any row of the tenant whose `fields` (text or JSON) mention the contact's name, phone, mobile, e-mail or WeChat.
Erasure replaces each mention with `ERASED`; `erase` (optional) runs first for anything more (e.g. delete the
contact's portal account). Retention classes work the same way: `RetentionClass(key, label, queryset, date_field)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts.registry import Registry


@dataclass(frozen=True)
class PersonalData:
    key: str
    model: Any
    fields: tuple[str, ...] = ()
    contact_field: str | None = None  # FK path to CustomerContact: these rows are the contact's own
    erase: Callable[[Any], int] | None = None  # (ErasureContext) -> rows changed, before the scrub
    tenant_field: str | None = "tenant"  # None: not tenant-owned, `scope` narrows the rows instead
    scope: Callable[[Any], Any] | None = None  # (ErasureContext) -> Q narrowing the candidate rows
    weight: int = 100


@dataclass(frozen=True)
class RetentionClass:
    """A data class with a retention period: rows of `queryset()` (inside the tenant scope) older than the cut-off
    on `date_field` are purged (deleted by `purge`, or by `.delete()` on the queryset)."""

    key: str
    label: Any
    queryset: Callable[[], Any]
    date_field: str
    default_days: int
    purge: Callable[[Any], int] | None = None  # (queryset of expired rows) -> rows removed
    weight: int = 100


personal_data: Registry[PersonalData] = Registry("personal_data")
retention_classes: Registry[RetentionClass] = Registry("retention_classes")

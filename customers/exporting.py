"""Customer export to CSV (streamed, UTF-8 with BOM) or XLSX, safe against spreadsheet formula injection
(the writers and `neutralise` live in crm_project.exports).

Rows come from a queryset the caller built from `customers_visible_to(user)` (plus filters); this module adds
the joins and per-chunk prefetches so an export of any size runs a constant number of queries per 2,000 rows.
The header uses the column keys the import understands, so an exported file can be edited and imported back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone, translation

from accounts.roles import masked_contact_detail
from accounts.tenancy import tenant_scope
from crm_project import exports
from crm_project.exports import neutralise
from customers.models import Customer, CustomerContact, CustomerTag

CHUNK_SIZE = 2000
COLUMNS = (
    "customer_code",
    "customer_name",
    "customer_type",
    "industry",
    "scale",
    "region",
    "level",
    "status",
    "health_score",
    "assigned_manager",
    "website",
    "address",
    "source",
    "created_at",
    "tags",
    "contact_name",
    "mobile",
    "email",
)


def export_queryset(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """The columns of an export: manager joined, tags and the primary contact prefetched per chunk."""
    return (
        queryset.filter(deleted_at__isnull=True)
        .select_related("assigned_manager")
        .defer("description")
        .prefetch_related(
            Prefetch(
                "tags",
                queryset=CustomerTag.objects.order_by("tag_name").only("id", "customer_id", "tag_name"),
                to_attr="export_tags",
            ),
            Prefetch(
                "contacts",
                queryset=CustomerContact.objects.filter(is_primary=True).only(
                    "id", "customer_id", "contact_name", "mobile", "email"
                ),
                to_attr="export_primary",
            ),
        )
    )


def _row(customer: Customer, *, contact_details: bool = False) -> list[Any]:
    contact = customer.export_primary[0] if customer.export_primary else None
    manager = customer.assigned_manager
    return [
        customer.customer_code,
        customer.customer_name,
        customer.get_customer_type_display(),
        customer.industry,
        customer.scale,
        customer.region,
        customer.get_level_display(),
        customer.get_status_display(),
        customer.health_score,
        manager.get_username() if manager is not None else "",
        customer.website,
        customer.address,
        customer.source,
        timezone.localtime(customer.created_at).replace(tzinfo=None, microsecond=0) if customer.created_at else None,
        ";".join(tag.tag_name for tag in customer.export_tags),
        contact.contact_name if contact else "",
        masked_contact_detail("mobile", contact.mobile, visible=contact_details) if contact else "",
        masked_contact_detail("email", contact.email, visible=contact_details) if contact else "",
    ]


def export_rows(
    queryset: QuerySet[Customer], *, tenant, language: str, contact_details: bool = False
) -> Iterator[list[Any]]:
    """Rows of plain values (neutralised), read in chunks; runs in `tenant`'s scope and `language` for labels.

    The primary contact's mobile and e-mail are masked unless `contact_details` (the caller's permission).

    Streaming responses are consumed after the view returned, so the scope and the language are set here.
    """
    with tenant_scope(tenant), translation.override(language):
        for customer in export_queryset(queryset).iterator(chunk_size=CHUNK_SIZE):
            yield [neutralise(value) for value in _row(customer, contact_details=contact_details)]


def csv_chunks(rows: Iterable[list[Any]], *, lines_per_chunk: int = 500) -> Iterator[bytes]:
    """The export as CSV chunks (UTF-8 with a BOM, CRLF lines): crm_project.exports with the import's header."""
    return exports.csv_chunks(COLUMNS, rows, lines_per_chunk=lines_per_chunk)


def xlsx_file(rows: Iterable[list[Any]], *, sheet_title: str = "customers"):
    """The export as a temporary XLSX (constant memory); returns the open file at offset 0."""
    return exports.xlsx_file(COLUMNS, rows, sheet_title=sheet_title, datetime_columns=[COLUMNS.index("created_at")])

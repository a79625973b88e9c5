"""Customer export to CSV (streamed, UTF-8 with BOM) or XLSX, safe against spreadsheet formula injection.

Rows come from a queryset the caller built from `customers_visible_to(user)` (plus filters); this module adds
the joins and per-chunk prefetches so an export of any size runs a constant number of queries per 2,000 rows.
The header uses the column keys the import understands, so an exported file can be edited and imported back.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone, translation

from accounts.tenancy import tenant_scope
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
# A cell starting with one of these is read as a formula by Excel / LibreOffice (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


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


def _row(customer: Customer) -> list[Any]:
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
        contact.mobile if contact else "",
        contact.email if contact else "",
    ]


def export_rows(queryset: QuerySet[Customer], *, tenant, language: str) -> Iterator[list[Any]]:
    """Rows of plain values (neutralised), read in chunks; runs in `tenant`'s scope and `language` for labels.

    Streaming responses are consumed after the view returned, so the scope and the language are set here.
    """
    with tenant_scope(tenant), translation.override(language):
        for customer in export_queryset(queryset).iterator(chunk_size=CHUNK_SIZE):
            yield [neutralise(value) for value in _row(customer)]


class _Line:
    """A file-like object whose write() returns the text, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def csv_chunks(rows: Iterable[list[Any]], *, lines_per_chunk: int = 500) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel then reads Chinese correctly), CRLF lines, a few hundred lines per chunk."""
    writer = csv.writer(_Line())
    yield ("\ufeff" + writer.writerow(COLUMNS)).encode("utf-8")
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([_csv_text(value) for value in row]))
        if len(buffer) >= lines_per_chunk:
            yield "".join(buffer).encode("utf-8")
            buffer = []
    if buffer:
        yield "".join(buffer).encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if value is not None and hasattr(value, "as_tuple"):  # Decimal: a number cell
        return float(value)
    return value


def xlsx_file(rows: Iterable[list[Any]], *, sheet_title: str = "customers"):
    """Write the rows to a temporary XLSX (write-only mode, constant memory); returns the open file at offset 0."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title)
    sheet.append(list(COLUMNS))
    date_format = "yyyy-mm-dd hh:mm:ss"
    created_index = COLUMNS.index("created_at")
    for row in rows:
        values = [_xlsx_value(value) for value in row]
        if values[created_index] is not None:
            cell = WriteOnlyCell(sheet, value=values[created_index])
            cell.number_format = date_format
            values[created_index] = cell
        sheet.append(values)
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (handed to the response)
    workbook.save(output)
    output.seek(0)
    return output

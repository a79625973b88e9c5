"""Spreadsheet files for every app: formula neutralising (and its inverse for imports), CSV and XLSX responses.

Every cell an app writes to a CSV or XLSX goes through `neutralise` (CSV / formula injection, OWASP); an import
reads its own exports back through `unneutralise`. The writers take a header and rows of plain values:

    return csv_response("contracts.csv", header, rows)                  # small, in memory
    return streaming_csv_response("customers.csv", header, row_iter)    # any size, a few hundred lines a chunk
    return xlsx_response("customers.xlsx", header, row_iter, datetime_columns={"created_at"})
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse

__all__ = [
    "FORMULA_PREFIXES",
    "XLSX_CONTENT_TYPE",
    "csv_chunks",
    "csv_response",
    "csv_text",
    "neutralise",
    "streaming_csv_response",
    "unneutralise",
    "xlsx_file",
    "xlsx_response",
]

# A cell starting with one of these is read as a formula by Excel / LibreOffice (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALISED = re.compile(r"^'[=+\-@\t\r]")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unneutralise(text: str) -> str:
    """The inverse for imports: `'=1+1` (as our exports write it) reads back as `=1+1`."""
    if _NEUTRALISED.match(text):
        return text[1:].strip()
    return text


def csv_text(value: Any) -> str:
    """One cell as CSV text: None empty, datetimes as `YYYY-MM-DD HH:MM:SS`, the rest as str()."""
    if value is None:
        return ""
    if hasattr(value, "hour") and hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "strftime"):
        return value.isoformat()
    return str(value)


class _Line:
    """A file-like object whose write() returns the text, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, lines_per_chunk: int = 500) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel then reads Chinese correctly), CRLF lines, every cell neutralised."""
    writer = csv.writer(_Line())
    yield ("\ufeff" + writer.writerow([str(title) for title in header])).encode("utf-8")
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([csv_text(neutralise(value)) for value in row]))
        if len(buffer) >= lines_per_chunk:
            yield "".join(buffer).encode("utf-8")
            buffer = []
    if buffer:
        yield "".join(buffer).encode("utf-8")


def csv_response(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    """A small CSV download built in memory (same format as `csv_chunks`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(title) for title in header])
    for row in rows:
        writer.writerow([csv_text(neutralise(value)) for value in row])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def streaming_csv_response(
    filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A CSV download of any size, produced while it is sent."""
    response = StreamingHttpResponse(csv_chunks(header, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _xlsx_value(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = neutralise(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if value is not None and hasattr(value, "as_tuple"):  # Decimal: a number cell
        return float(value)
    return value


def xlsx_file(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    sheet_title: str = "export",
    datetime_columns: Iterable[int] = (),
):
    """Write the rows to a temporary XLSX (write-only mode, constant memory); returns the open file at offset 0.

    `datetime_columns` are column indexes whose values get the `yyyy-mm-dd hh:mm:ss` number format.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title)
    sheet.append([str(title) for title in header])
    dated = tuple(datetime_columns)
    for row in rows:
        values = [_xlsx_value(value) for value in row]
        for index in dated:
            if values[index] is not None:
                cell = WriteOnlyCell(sheet, value=values[index])
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
                values[index] = cell
        sheet.append(values)
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (handed to the response)
    workbook.save(output)
    output.seek(0)
    return output


def xlsx_response(
    filename: str,
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    sheet_title: str = "export",
    datetime_columns: Iterable[int] = (),
) -> FileResponse:
    return FileResponse(
        xlsx_file(header, rows, sheet_title=sheet_title, datetime_columns=datetime_columns),
        as_attachment=True,
        filename=filename,
        content_type=XLSX_CONTENT_TYPE,
    )

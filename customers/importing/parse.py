"""Step 1: read an uploaded CSV or XLSX into rows of text keyed by column (ImportFileError if unreadable)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from crm_project.exports import unneutralise
from customers.importing.base import (
    _HEADER_ALIASES,
    COLUMNS,
    CONTACT_COLUMNS,
    EXPORT_ONLY_COLUMNS,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    MAX_XLSX_UNCOMPRESSED_BYTES,
    ImportFileError,
)
from customers.models import Customer, CustomerContact


# --- Parsing ---------------------------------------------------------------------------------------------------------
@dataclass
class ParsedFile:
    rows: list[dict[str, Any]]  # {"row": line number (header = 1), "values": {column: text}}
    columns: list[str]  # recognised columns, in file order
    ignored_columns: list[str]
    file_format: str  # "csv" or "xlsx"


def _header_key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(text or "").strip().strip("*").strip().casefold())


_alias_cache: dict[str, dict[str, str]] = {}


def _header_aliases() -> dict[str, str]:
    """Header text → column: the column keys, the aliases above and the field labels in both languages."""
    if "map" in _alias_cache:
        return _alias_cache["map"]
    aliases = {key: key for key in (*COLUMNS, *EXPORT_ONLY_COLUMNS)}
    aliases.update({_header_key(alias): key for alias, key in _HEADER_ALIASES.items()})
    for lang in ("en", "zh-hans"):
        with translation.override(lang):
            for key in COLUMNS:
                model = CustomerContact if key in CONTACT_COLUMNS else Customer
                name = {"assigned_manager": "assigned_manager", "tags": None}.get(key, key)
                if name is None:
                    continue
                try:
                    label = str(model._meta.get_field(name).verbose_name)
                except Exception:  # a column without a model field of that name
                    continue
                aliases.setdefault(_header_key(label), key)
    _alias_cache["map"] = aliases
    return aliases


def _cell_text(value: Any) -> str:
    """One spreadsheet cell as text: numbers without a spurious `.0`, dates as ISO, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _clean_text(text: str) -> str:
    text = text.replace("\x00", "").strip()
    # Our own export neutralises formulas with a leading apostrophe: read it back as the original value.
    return unneutralise(text)


def _decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("The file is not readable text: save it as CSV (UTF-8) or XLSX."))


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decode_csv(data)
    if "\x00" in text:
        raise ImportFileError(_("The file is not a CSV file: save it as CSV (UTF-8) or XLSX."))
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count) if first_line else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file is malformed: %(error)s") % {"error": exc}) from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    try:
        from openpyxl import load_workbook

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNCOMPRESSED_BYTES:
                raise ImportFileError(_("The XLSX file is too large once unpacked."))
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ImportFileError:
        raise
    except Exception:  # openpyxl raises many kinds of errors for a damaged workbook
        raise ImportFileError(_("The XLSX file cannot be opened; it may be damaged.")) from None
    try:
        if not workbook.worksheets:
            raise ImportFileError(_("The XLSX file has no worksheet."))
        sheet = workbook.worksheets[0]
        try:
            for values in sheet.iter_rows(values_only=True):
                yield [_cell_text(value) for value in values]
        except ImportFileError:
            raise
        except Exception:
            raise ImportFileError(_("The XLSX file cannot be read; it may be damaged.")) from None
    finally:
        workbook.close()


def parse_upload(data: bytes, filename: str) -> ParsedFile:
    """Read a CSV or XLSX upload into rows of text keyed by column; ImportFileError explains a bad file."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportFileError(_("The file is larger than %(size)d MB.") % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)})
    if not data.strip():
        raise ImportFileError(_("The file is empty."))
    extension = Path(filename or "").suffix.lower()
    is_zip = data[:4] == b"PK\x03\x04"
    if extension in (".xls", ".xlsm", ".xlsb", ".numbers", ".ods"):
        raise ImportFileError(_("This spreadsheet format is not supported: save it as XLSX or CSV (UTF-8)."))
    if extension == ".xlsx" or (is_zip and extension != ".csv"):
        file_format, raw_rows = "xlsx", _xlsx_rows(data)
    elif extension in (".csv", ".txt", "") and not is_zip:
        file_format, raw_rows = "csv", _csv_rows(data)
    else:
        raise ImportFileError(_("Upload a .csv or .xlsx file."))

    aliases = _header_aliases()
    header: list[str | None] | None = None
    columns: list[str] = []
    ignored: list[str] = []
    rows: list[dict[str, Any]] = []
    for line_number, cells in enumerate(raw_rows, start=1):
        if header is None:
            if not any(str(cell).strip() for cell in cells):
                continue  # blank lines above the header
            header = []
            for cell in cells:
                key = aliases.get(_header_key(cell))
                if key in columns or key in EXPORT_ONLY_COLUMNS:
                    key = None
                if key is None and str(cell).strip():
                    ignored.append(str(cell).strip()[:50])
                header.append(key)
                if key:
                    columns.append(key)
            if "customer_name" not in columns and "customer_code" not in columns:
                raise ImportFileError(
                    _("The first row must name the columns; a customer_name (or customer_code) column is required.")
                )
            continue
        values = {}
        for key, cell in zip(header, cells, strict=False):
            if key:
                values[key] = _clean_text(str(cell))
        if not any(values.values()):
            continue  # blank line
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(
                _("The file has more than %(max)d rows; split it into smaller files.") % {"max": MAX_ROWS}
            )
        rows.append({"row": line_number, "values": values})
    if header is None:
        raise ImportFileError(_("The file is empty."))
    if not rows:
        raise ImportFileError(_("The file has a header row but no data rows."))
    return ParsedFile(rows=rows, columns=columns, ignored_columns=ignored, file_format=file_format)

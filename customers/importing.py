"""Customer import from CSV or XLSX: parse → validate (the preview) → commit, all or nothing.

The three steps are plain functions so the staff views, the bench and tests call the same code:

    parsed = parse_upload(data, filename)          # ImportFileError for a file that cannot be read
    plan = validate_rows(parsed.rows, user=user)   # per-row errors, new / update / possible duplicate
    result = commit_plan(plan, user=user, duplicate_choices={...})

Rules (shown on the upload page too):
- One row is one customer with at most one contact. Rows are grouped into customers by `customer_code`, or by
  the normalised name when the code is empty; a repeated customer row must add a contact and may not contradict
  the customer columns of its earlier rows.
- A code updates that customer (it must exist, be live and be visible to the importer); an empty cell keeps
  the stored value. Without a code, a name that matches a live customer is a *possible duplicate*: it is skipped
  unless the confirm step chooses "merge" (then it updates the existing customer, its name is kept).
- Contacts of an updated customer are matched by name (and updated), others are added; a customer keeps at most
  one primary contact (a new customer's first contact becomes primary when none is marked).
- Tags (separated by `;`) are added, never removed.
- Any error anywhere blocks the whole file; the commit runs in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AuditLog, User
from accounts.services import audit_record, client_ip, code_next_many, mask_value
from accounts.tenancy import current_tenant
from crm_project.exports import unneutralise
from crm_project.middleware import current_trace_id
from customers.choices import CustomerLevel, CustomerStatus, CustomerType
from customers.models import Customer, CustomerContact, CustomerTag
from customers.selectors import SEE_ALL_ROLES, customers_visible_to
from customers.services import normalize_name, website_domain
from customers.validators import validate_tag_name

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
# An XLSX is a zip: refuse archives that would inflate beyond this (decompression bombs).
MAX_XLSX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
BATCH_SIZE = 1000
# Stored previews older than this are removed when the next upload arrives.
STORE_MAX_AGE_SECONDS = 24 * 3600

CUSTOMER_COLUMNS = (
    "customer_code",
    "customer_name",
    "customer_type",
    "industry",
    "scale",
    "region",
    "level",
    "status",
    "website",
    "address",
    "source",
    "description",
    "assigned_manager",
    "tags",
)
CONTACT_COLUMNS = ("contact_name", "position", "department", "mobile", "phone", "email", "wechat", "is_primary")
COLUMNS = CUSTOMER_COLUMNS + CONTACT_COLUMNS
# Columns of the export that the import reads past (computed or historical values).
EXPORT_ONLY_COLUMNS = ("health_score", "created_at")
# Customer fields copied from a row (the others are derived or need a lookup).
_PLAIN_CUSTOMER_FIELDS = ("industry", "scale", "region", "website", "address", "source", "description")
_CHOICE_FIELDS = {"customer_type": CustomerType, "level": CustomerLevel, "status": CustomerStatus}
_CONTACT_TEXT_FIELDS = ("contact_name", "position", "department", "mobile", "phone", "email", "wechat")

# Chinese labels of the PRD, accepted whatever the translation catalog says.
_EXTRA_CHOICE_LABELS = {
    "customer_type": {"企业": 1, "政府": 2, "个人": 3},
    "status": {"潜在": 1, "潜在客户": 1, "正式": 2, "正式客户": 2, "流失": 3, "流失客户": 3},
    "level": {"普通": 1, "重要": 2, "vip": 3, "战略": 4},
}
_HEADER_ALIASES = {
    "客户编号": "customer_code",
    "客户编码": "customer_code",
    "code": "customer_code",
    "客户名称": "customer_name",
    "公司名称": "customer_name",
    "name": "customer_name",
    "客户类型": "customer_type",
    "type": "customer_type",
    "行业": "industry",
    "规模": "scale",
    "区域": "region",
    "地区": "region",
    "等级": "level",
    "客户等级": "level",
    "状态": "status",
    "客户状态": "status",
    "网站": "website",
    "官网": "website",
    "地址": "address",
    "来源": "source",
    "描述": "description",
    "备注": "description",
    "客户经理": "assigned_manager",
    "负责人": "assigned_manager",
    "manager": "assigned_manager",
    "标签": "tags",
    "联系人": "contact_name",
    "联系人姓名": "contact_name",
    "primary_contact_name": "contact_name",
    "职位": "position",
    "部门": "department",
    "手机": "mobile",
    "手机号": "mobile",
    "电话": "phone",
    "座机": "phone",
    "邮箱": "email",
    "电子邮件": "email",
    "e_mail": "email",
    "微信": "wechat",
    "主联系人": "is_primary",
    "是否主联系人": "is_primary",
    "primary": "is_primary",
    "健康度": "health_score",
    "创建时间": "created_at",
}
_TRUE = {"1", "true", "yes", "y", "x", "是", "主", "✓", "√"}
_FALSE = {"", "0", "false", "no", "n", "否"}
_TOKEN = re.compile(r"^[0-9a-f]{32}$")

ACTION_NEW = "new"
ACTION_UPDATE = "update"
ACTION_DUPLICATE = "duplicate"
ACTION_LABELS = {
    ACTION_NEW: gettext_lazy("New"),
    ACTION_UPDATE: gettext_lazy("Update"),
    ACTION_DUPLICATE: gettext_lazy("Possible duplicate"),
}
CHOICE_MERGE = "merge"
CHOICE_SKIP = "skip"


class ImportFileError(Exception):
    """The upload cannot be read as a customer file; the message is shown on the form."""


class ImportBlocked(Exception):
    """The plan still has errors (or the data changed under it): nothing was written."""


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


# --- Validation ------------------------------------------------------------------------------------------------------
@dataclass
class RowResult:
    row: int
    values: dict[str, str]
    errors: list[list[str]] = field(default_factory=list)  # [column, message]
    group: int = 0  # row number of the first row of the same customer
    customer: dict[str, Any] = field(default_factory=dict)  # cleaned customer values (non-empty only)
    contact: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)

    def error(self, column: str, message: str) -> None:
        self.errors.append([column, str(message)])


@dataclass
class GroupPlan:
    """One customer of the file (one or several rows)."""

    row: int
    key: str
    rows: list[int] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    value_rows: dict[str, int] = field(default_factory=dict)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    action: str = ACTION_NEW
    target_id: int | None = None
    target_code: str = ""
    target_name: str = ""
    merge_allowed: bool = True


@dataclass
class ImportPlan:
    rows: list[RowResult]
    groups: list[GroupPlan]

    @property
    def error_rows(self) -> list[RowResult]:
        return [row for row in self.rows if row.errors]

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)

    def counts(self) -> dict[str, int]:
        """Customers by action (groups with an error row left out), error rows, rows and contacts."""
        errored = {row.row for row in self.rows if row.errors}
        clean = [g for g in self.groups if not errored.intersection(g.rows)]
        return {
            "rows": len(self.rows),
            "new": sum(1 for g in clean if g.action == ACTION_NEW),
            "update": sum(1 for g in clean if g.action == ACTION_UPDATE),
            "duplicate": sum(1 for g in clean if g.action == ACTION_DUPLICATE),
            "error_rows": len(self.error_rows),
            "contacts": sum(len(g.contacts) for g in self.groups),
        }

    def duplicate_rows(self) -> set[int]:
        return {g.row for g in self.groups if g.action == ACTION_DUPLICATE}


_choice_cache: dict[str, dict[str, int]] = {}


def _choice_lookup(column: str) -> dict[str, int]:
    """Accepted spellings of a choice: the number, the English and Chinese labels, the member name."""
    if column in _choice_cache:
        return _choice_cache[column]
    choices = _CHOICE_FIELDS[column]
    lookup: dict[str, int] = {}
    for member in choices:
        lookup[str(int(member))] = int(member)
        lookup[member.name.casefold()] = int(member)
        for lang in ("en", "zh-hans"):
            with translation.override(lang):
                lookup[str(member.label).strip().casefold()] = int(member)
    lookup.update(_EXTRA_CHOICE_LABELS.get(column, {}))
    _choice_cache[column] = lookup
    return lookup


_FIELD_CACHE: dict[tuple[type, str], Any] = {}


def _model_field(model, name):
    key = (model, name)
    if key not in _FIELD_CACHE:
        _FIELD_CACHE[key] = model._meta.get_field(name)
    return _FIELD_CACHE[key]


def _check_field(result: RowResult, model, name: str, value: Any) -> Any:
    """Run the model field's own checks (length, validators); record the first error on the row."""
    try:
        return _model_field(model, name).clean(value, None)
    except ValidationError as exc:
        result.error(name, exc.messages[0])
        return None


def _clean_row(result: RowResult) -> None:
    """Per-row checks that need no database: formats, lengths, choices, contact, tags."""
    values = result.values
    code = values.get("customer_code", "")
    name = values.get("customer_name", "")
    if code:
        result.customer["customer_code"] = code
    if name:
        cleaned = _check_field(result, Customer, "customer_name", name)
        if cleaned:
            result.customer["customer_name"] = cleaned
    elif not code:
        result.error("customer_name", _("A customer name (or an existing customer code) is required."))
    for column in _PLAIN_CUSTOMER_FIELDS:
        text = values.get(column, "")
        if text:
            cleaned = _check_field(result, Customer, column, text)
            if cleaned is not None:
                result.customer[column] = cleaned
    for column in _CHOICE_FIELDS:
        text = values.get(column, "")
        if not text:
            continue
        number = _choice_lookup(column).get(text.strip().casefold())
        if number is None:
            labels = ", ".join(f"{int(m)} = {m.label}" for m in _CHOICE_FIELDS[column])
            result.error(
                column, _("'%(value)s' is not a valid choice (%(choices)s).") % {"value": text, "choices": labels}
            )
        else:
            result.customer[column] = number
    manager = values.get("assigned_manager", "")
    if manager:
        result.customer["assigned_manager"] = manager
    tags_text = values.get("tags", "")
    if tags_text:
        seen = set()
        for tag in re.split(r"[;；]", tags_text):
            tag = tag.strip()
            if not tag or tag.casefold() in seen:
                continue
            seen.add(tag.casefold())
            try:
                validate_tag_name(tag)
                if len(tag) > 100:
                    raise ValidationError(_("A tag name can have at most 100 characters."))
            except ValidationError as exc:
                result.error("tags", f"{tag}: {exc.messages[0]}")
                continue
            result.tags.append(tag)

    contact_values = {column: values.get(column, "") for column in CONTACT_COLUMNS}
    if not any(contact_values.values()):
        return
    contact: dict[str, Any] = {}
    if not contact_values["contact_name"]:
        result.error("contact_name", _("A contact name is required when other contact columns are filled."))
    for column in _CONTACT_TEXT_FIELDS:
        text = contact_values[column]
        if text:
            cleaned = _check_field(result, CustomerContact, column, text)
            if cleaned is not None:
                contact[column] = cleaned
    flag = contact_values["is_primary"].strip().casefold()
    if flag in _TRUE:
        contact["is_primary"] = True
    elif flag in _FALSE:
        contact["is_primary"] = False
    else:
        result.error("is_primary", _("Use 1 (primary contact) or 0."))
    result.contact = contact


def _chunks(items: list, size: int = BATCH_SIZE) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def validate_rows(rows: Iterable[dict[str, Any]], *, user: User) -> ImportPlan:
    """Check every row and decide, per customer of the file, whether it is new, an update or a possible duplicate.

    Reads the database in a few set-based queries (never one per row). Must run inside the tenant scope.
    """
    tenant = current_tenant()
    if tenant is None:
        raise RuntimeError("validate_rows needs an active tenant scope")
    results = [RowResult(row=int(raw["row"]), values=dict(raw["values"])) for raw in rows]
    for result in results:
        _clean_row(result)

    # Group the rows into customers: by code, else by normalised name.
    groups: dict[str, GroupPlan] = {}
    group_by_name: dict[str, GroupPlan] = {}
    for result in results:
        customer = result.customer
        code = customer.get("customer_code", "")
        norm = normalize_name(customer.get("customer_name", ""))
        if not code and not norm:
            if "customer_name" in customer:
                result.error("customer_name", _("The customer name has no letters or digits."))
            continue
        if code:
            group = groups.get(f"code:{code}")
            named = group_by_name.get(norm) if norm else None
            if named is not None and named is not group:
                result.error(
                    "customer_name",
                    _("Row %(row)d has the same customer name under a different customer code.") % {"row": named.row},
                )
                continue
            if group is None:
                group = groups[f"code:{code}"] = GroupPlan(row=result.row, key=f"code:{code}")
        else:
            group = group_by_name.get(norm)
            if group is None:
                group = groups[f"name:{norm}"] = GroupPlan(row=result.row, key=f"name:{norm}")
        if norm:
            group_by_name.setdefault(norm, group)
        _add_row_to_group(group, result)

    group_list = list(groups.values())
    _resolve_against_database(group_list, results, user=user, tenant=tenant)
    return ImportPlan(rows=results, groups=group_list)


def _add_row_to_group(group: GroupPlan, result: RowResult) -> None:
    result.group = group.row
    repeated = bool(group.rows)
    group.rows.append(result.row)
    for column, value in result.customer.items():
        if column not in group.values:
            group.values[column] = value
            group.value_rows[column] = result.row
        elif column == "customer_name":
            if normalize_name(value) != normalize_name(group.values[column]):
                result.error(column, _("Differs from row %(row)d of the same customer.") % {"row": group.row})
        elif group.values[column] != value:
            result.error(
                column,
                _("Differs from row %(row)d of the same customer.") % {"row": group.value_rows[column]},
            )
    for tag in result.tags:
        if tag.casefold() not in {t.casefold() for t in group.tags}:
            group.tags.append(tag)
    contact = result.contact
    if contact is None:
        if repeated:
            result.error(
                "customer_name",
                _("Duplicate of row %(row)d: the same customer again without a new contact.") % {"row": group.row},
            )
        return
    name_key = (contact.get("contact_name") or "").casefold()
    for other in group.contacts:
        if (other.get("contact_name") or "").casefold() == name_key and (
            other.get("mobile", ""),
            other.get("email", ""),
        ) == (contact.get("mobile", ""), contact.get("email", "")):
            result.error("contact_name", _("Same contact as row %(row)d.") % {"row": other["row"]})
            return
    if contact.get("is_primary") and any(other.get("is_primary") for other in group.contacts):
        first = next(other["row"] for other in group.contacts if other.get("is_primary"))
        result.error("is_primary", _("Row %(row)d is already the primary contact of this customer.") % {"row": first})
        return
    group.contacts.append({**contact, "row": result.row})


def _resolve_against_database(groups: list[GroupPlan], results: list[RowResult], *, user: User, tenant) -> None:
    by_row = {result.row: result for result in results}
    codes = sorted({g.values["customer_code"] for g in groups if "customer_code" in g.values})
    names = sorted({normalize_name(g.values["customer_name"]) for g in groups if "customer_name" in g.values})
    existing_by_code: dict[str, tuple[int, str, str]] = {}
    existing_by_name: dict[str, tuple[int, str, str]] = {}
    live = Customer.objects.alive()
    for chunk in _chunks(codes):
        for pk, code, name, _norm in live.filter(customer_code__in=chunk).values_list(
            "pk", "customer_code", "customer_name", "normalized_name"
        ):
            existing_by_code[code] = (pk, code, name)
    for chunk in _chunks(names):
        for pk, code, name, norm in live.filter(normalized_name__in=chunk).values_list(
            "pk", "customer_code", "customer_name", "normalized_name"
        ):
            existing_by_name[norm] = (pk, code, name)
    # Normalised names of the customers a code points at (a rename may collide with another row or customer).
    matched_ids = {v[0] for v in existing_by_code.values()} | {v[0] for v in existing_by_name.values()}
    if user.is_superuser or user.role in SEE_ALL_ROLES:
        visible_ids = matched_ids
    else:
        visible_ids = set()
        for chunk in _chunks(sorted(matched_ids)):
            visible_ids.update(customers_visible_to(user).filter(pk__in=chunk).values_list("pk", flat=True))
    usernames = sorted({g.values["assigned_manager"] for g in groups if "assigned_manager" in g.values})
    managers: dict[str, int] = {}
    for chunk in _chunks(usernames):
        managers.update(
            User.objects.filter(tenant=tenant, is_active=True, username__in=chunk).values_list("username", "pk")
        )

    claimed_targets: dict[int, int] = {}  # customer id → first row of the group that writes it
    final_names: dict[str, int] = {}  # normalised name after the import → first row of its group
    for group in groups:
        first = by_row[group.row]
        code = group.values.get("customer_code")
        norm = normalize_name(group.values.get("customer_name", ""))
        if code:
            found = existing_by_code.get(code)
            if found is None or found[0] not in visible_ids:
                first.error("customer_code", _("No customer with this code exists that you can see."))
                continue
            group.action, group.target_id = ACTION_UPDATE, found[0]
            group.target_code, group.target_name = found[1], found[2]
            other = existing_by_name.get(norm) if norm else None
            if other is not None and other[0] != found[0]:
                first.error(
                    "customer_name",
                    _("Another customer already has this name (%(code)s).") % {"code": other[1]},
                )
            final_norm = norm or normalize_name(found[2])
        else:
            other = existing_by_name.get(norm)
            if other is None:
                group.action = ACTION_NEW
            else:
                group.action, group.target_id = ACTION_DUPLICATE, other[0]
                group.target_code, group.target_name = other[1], other[2]
                group.merge_allowed = other[0] in visible_ids
            final_norm = norm
        if group.target_id is not None:
            if group.target_id in claimed_targets:
                first.error(
                    "customer_code" if code else "customer_name",
                    _("Row %(row)d already imports into this customer.") % {"row": claimed_targets[group.target_id]},
                )
            claimed_targets.setdefault(group.target_id, group.row)
        if final_norm in final_names and final_names[final_norm] != group.row:
            first.error(
                "customer_name", _("Row %(row)d has the same customer name.") % {"row": final_names[final_norm]}
            )
        final_names.setdefault(final_norm, group.row)
        manager = group.values.get("assigned_manager")
        if manager is not None:
            if manager in managers:
                group.values["assigned_manager_id"] = managers[manager]
            else:
                by_row[group.value_rows["assigned_manager"]].error(
                    "assigned_manager", _("No active user with this username in your tenant.")
                )


# --- Commit ----------------------------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    merged: int = 0
    skipped: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    tags_added: int = 0
    customer_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "merged": self.merged,
            "skipped": self.skipped,
            "contacts_created": self.contacts_created,
            "contacts_updated": self.contacts_updated,
            "tags_added": self.tags_added,
        }


_CUSTOMER_VALUE_FIELDS = ("customer_name", *_PLAIN_CUSTOMER_FIELDS, *_CHOICE_FIELDS, "assigned_manager_id")


def _apply_customer_values(customer: Customer, values: dict[str, Any], *, keep_name: bool) -> set[str]:
    changed = set()
    for name in _CUSTOMER_VALUE_FIELDS:
        if name not in values or (keep_name and name == "customer_name"):
            continue
        if getattr(customer, name) != values[name]:
            setattr(customer, name, values[name])
            changed.add(name)
    customer.customer_name = (customer.customer_name or "").strip()
    customer.normalized_name = normalize_name(customer.customer_name)
    customer.name_key = customer.normalized_name
    customer.website_domain = website_domain(customer.website)
    return changed


def _audit_entry(*, tenant, user, action: str, customer: Customer, changes: dict, ip: str | None, trace: str):
    return AuditLog(
        tenant=tenant,
        actor=user,
        actor_name=user.get_username()[:150],
        action=action,
        object_type=Customer._meta.label_lower,
        object_id=str(customer.pk),
        object_repr=str(customer)[:200],
        changes={
            name: {"old": mask_value(name, _plain(old)), "new": mask_value(name, _plain(new))}
            for name, (old, new) in changes.items()
        },
        ip_address=ip,
        trace_id=trace,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (int, float, bool, str)) or value is None:
        return value
    return str(value)


def commit_plan(
    plan: ImportPlan,
    *,
    user: User,
    duplicate_choices: dict[int, str] | None = None,
    default_choice: str = CHOICE_SKIP,
    request=None,
    filename: str = "",
) -> ImportResult:
    """Write the plan in one transaction; possible duplicates follow `duplicate_choices` (group row → merge/skip).

    Raises ImportBlocked when the plan has errors, or when the database changed in a way that breaks it.
    """
    if plan.has_errors:
        raise ImportBlocked(_("The file still has errors; nothing was imported."))
    choices = duplicate_choices or {}
    tenant = current_tenant()
    result = ImportResult()
    try:
        with transaction.atomic():
            _commit(
                plan,
                user=user,
                tenant=tenant,
                choices=choices,
                default_choice=default_choice,
                result=result,
                ip=client_ip(request),
            )
            audit_record(
                action="crm.customer.imported",
                actor=user,
                object_type=Customer._meta.label_lower,
                object_repr=(filename or "")[:200],
                changes={
                    "rows": (None, len(plan.rows)),
                    **{name: (None, count) for name, count in result.as_dict().items()},
                },
                request=request,
            )
    except IntegrityError:
        raise ImportBlocked(
            _("Another change to the same customers happened meanwhile; nothing was imported. Upload the file again.")
        ) from None
    return result


def _commit(plan, *, user, tenant, choices, default_choice, result: ImportResult, ip: str | None) -> None:
    now = timezone.now()
    trace = current_trace_id() if current_trace_id() != "-" else ""
    new_groups: list[GroupPlan] = []
    update_groups: list[GroupPlan] = []
    for group in plan.groups:
        if group.action == ACTION_NEW:
            new_groups.append(group)
        elif group.action == ACTION_UPDATE:
            update_groups.append(group)
        elif group.merge_allowed and choices.get(group.row, default_choice) == CHOICE_MERGE:
            update_groups.append(group)
            result.merged += 1
        else:
            result.skipped += 1
    audit_entries: list[AuditLog] = []

    # New customers: codes reserved at once, one INSERT per batch.
    customer_of_group: dict[int, int] = {}
    if new_groups:
        codes = code_next_many("CUST", len(new_groups))
        new_customers = []
        for group, code in zip(new_groups, codes, strict=True):
            customer = Customer(customer_code=code, created_by=user, tenant=tenant)
            _apply_customer_values(customer, group.values, keep_name=False)
            new_customers.append(customer)
        Customer.objects.bulk_create(new_customers, batch_size=BATCH_SIZE)
        if any(customer.pk is None for customer in new_customers):  # databases without RETURNING
            ids = {}
            for chunk in _chunks(codes):
                ids.update(Customer.objects.filter(customer_code__in=chunk).values_list("customer_code", "pk"))
            for customer in new_customers:
                customer.pk = ids[customer.customer_code]
        for group, customer in zip(new_groups, new_customers, strict=True):
            customer_of_group[group.row] = customer.pk
            audit_entries.append(
                _audit_entry(
                    tenant=tenant,
                    user=user,
                    action="crm.customer.created",
                    customer=customer,
                    changes={
                        "customer_code": (None, customer.customer_code),
                        "customer_name": (None, customer.customer_name),
                    },
                    ip=ip,
                    trace=trace,
                )
            )
        result.created = len(new_customers)

    # Updates (by code, or a possible duplicate merged into the existing customer).
    if update_groups:
        targets: dict[int, Customer] = {}
        for chunk in _chunks([g.target_id for g in update_groups]):
            targets.update({c.pk: c for c in Customer.objects.alive().filter(pk__in=chunk)})
        changed_customers = []
        changed_fields: set[str] = set()
        for group in update_groups:
            customer = targets.get(group.target_id)
            if customer is None:
                raise IntegrityError("customer vanished")
            before = {name: getattr(customer, name) for name in _CUSTOMER_VALUE_FIELDS}
            changed = _apply_customer_values(customer, group.values, keep_name=group.action == ACTION_DUPLICATE)
            customer_of_group[group.row] = customer.pk
            if changed:
                customer.updated_at = now
                changed_fields |= changed
                changed_customers.append(customer)
                audit_entries.append(
                    _audit_entry(
                        tenant=tenant,
                        user=user,
                        action="crm.customer.updated",
                        customer=customer,
                        changes={name: (before[name], getattr(customer, name)) for name in sorted(changed)},
                        ip=ip,
                        trace=trace,
                    )
                )
        if changed_customers:
            fields = sorted(changed_fields | {"normalized_name", "name_key", "website_domain", "updated_at"})
            Customer.objects.bulk_update(changed_customers, fields, batch_size=BATCH_SIZE)
        result.updated = len(update_groups) - result.merged

    _commit_contacts_and_tags(
        plan.groups, customer_of_group, updated_ids={g.target_id for g in update_groups}, user=user, result=result
    )
    if audit_entries:
        AuditLog.objects.bulk_create(audit_entries, batch_size=BATCH_SIZE)
    result.customer_ids = list(customer_of_group.values())


def _commit_contacts_and_tags(groups, customer_of_group, *, updated_ids, user, result: ImportResult) -> None:
    existing_contacts: dict[tuple[int, str], CustomerContact] = {}
    has_primary: set[int] = set()
    existing_tags: set[tuple[int, str]] = set()
    updated = sorted(i for i in updated_ids if i is not None)
    for chunk in _chunks(updated):
        for contact in CustomerContact.objects.filter(customer_id__in=chunk).order_by("id"):
            existing_contacts.setdefault((contact.customer_id, contact.contact_name.casefold()), contact)
            if contact.is_primary:
                has_primary.add(contact.customer_id)
        existing_tags.update(
            (cid, name.casefold())
            for cid, name in CustomerTag.objects.filter(customer_id__in=chunk).values_list("customer_id", "tag_name")
        )

    new_contacts: list[CustomerContact] = []
    changed_contacts: list[CustomerContact] = []
    demote: set[int] = set()
    new_tags: list[CustomerTag] = []
    for group in groups:
        customer_id = customer_of_group.get(group.row)
        if customer_id is None:
            continue  # skipped duplicate
        imported_primary = any(c.get("is_primary") for c in group.contacts)
        if imported_primary and customer_id in has_primary:
            demote.add(customer_id)
        for index, data in enumerate(group.contacts):
            is_primary = bool(data.get("is_primary")) or (
                not imported_primary and index == 0 and customer_id not in has_primary
            )
            match = existing_contacts.get((customer_id, data["contact_name"].casefold()))
            if match is not None:
                for name in _CONTACT_TEXT_FIELDS:
                    if data.get(name):
                        setattr(match, name, data[name])
                if is_primary:
                    match.is_primary, match.primary_marker = True, 1
                elif customer_id in demote:
                    match.is_primary, match.primary_marker = False, None
                changed_contacts.append(match)
                continue
            contact = CustomerContact(
                customer_id=customer_id,
                is_primary=is_primary,
                primary_marker=1 if is_primary else None,
                **{name: data.get(name, "") for name in _CONTACT_TEXT_FIELDS},
            )
            new_contacts.append(contact)
        for tag in group.tags:
            if (customer_id, tag.casefold()) not in existing_tags:
                existing_tags.add((customer_id, tag.casefold()))
                new_tags.append(CustomerTag(customer_id=customer_id, tag_name=tag, created_by=user))

    for chunk in _chunks(sorted(demote)):
        CustomerContact.objects.filter(customer_id__in=chunk, is_primary=True).update(
            is_primary=False, primary_marker=None
        )
    if changed_contacts:
        now = timezone.now()
        for contact in changed_contacts:
            contact.updated_at = now
            if contact.customer_id in demote and not contact.is_primary:
                contact.primary_marker = None
        CustomerContact.objects.bulk_update(
            changed_contacts, [*_CONTACT_TEXT_FIELDS, "is_primary", "primary_marker", "updated_at"], batch_size=500
        )
    if new_contacts:
        CustomerContact.objects.bulk_create(new_contacts, batch_size=BATCH_SIZE)
    if new_tags:
        CustomerTag.objects.bulk_create(new_tags, batch_size=BATCH_SIZE)
    result.contacts_created = len(new_contacts)
    result.contacts_updated = len(changed_contacts)
    result.tags_added = len(new_tags)


# --- Server-side storage of a preview ------------------------------------------------------------------------------
def imports_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(token: str) -> Path | None:
    if not _TOKEN.match(token or ""):
        return None
    return imports_dir() / f"{token}.json"


def _purge_old() -> None:
    limit = time.time() - STORE_MAX_AGE_SECONDS
    for old in imports_dir().glob("*.json"):
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except OSError:
            pass


def plan_payload(plan: ImportPlan, *, user: User, filename: str, file_format: str, ignored=()) -> dict[str, Any]:
    """The JSON-friendly preview: raw rows (to validate again on confirm), errors, groups and counts."""
    return {
        "version": 1,
        "tenant_id": user.tenant_id,
        "user_id": user.pk,
        "filename": filename[:200],
        "format": file_format,
        "created_at": timezone.now().isoformat(),
        "ignored_columns": list(ignored),
        "counts": plan.counts(),
        "rows": [{"row": r.row, "values": r.values, "errors": r.errors, "group": r.group} for r in plan.rows],
        "groups": [
            {
                "row": g.row,
                "rows": g.rows,
                "action": g.action,
                "target_id": g.target_id,
                "target_code": g.target_code,
                "target_name": g.target_name,
                "merge_allowed": g.merge_allowed,
                "contacts": len(g.contacts),
            }
            for g in plan.groups
        ],
    }


def plan_store(payload: dict[str, Any], token: str | None = None) -> str:
    """Write the preview to DATA_DIR/imports/<token>.json (atomically) and return the token."""
    _purge_old()
    token = token or secrets.token_hex(16)
    path = _path(token)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)
    return token


def plan_load(token: str, *, user: User) -> dict[str, Any] | None:
    """The stored preview of this user (and tenant), or None: another user's token is like a missing one."""
    path = _path(token)
    if path is None or not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if payload.get("tenant_id") != user.tenant_id or payload.get("user_id") != user.pk:
        return None
    return payload


def plan_discard(token: str) -> None:
    path = _path(token)
    if path is not None:
        path.unlink(missing_ok=True)


# --- Template --------------------------------------------------------------------------------------------------------
TEMPLATE_ROWS = [
    {
        "customer_name": "北京云启科技有限公司",
        "customer_type": "1",
        "industry": "软件开发",
        "scale": "200-499",
        "region": "华北",
        "level": "2",
        "status": "2",
        "website": "https://www.yunqi-tech.cn",
        "address": "北京市海淀区中关村大街1号",
        "source": "官网",
        "tags": "重点客户;续约",
        "contact_name": "张伟",
        "position": "IT总监",
        "mobile": "13800138000",
        "phone": "010-12345678",
        "email": "zhang.wei@yunqi-tech.cn",
        "is_primary": "1",
    },
    {
        "customer_name": "北京云启科技有限公司",
        "contact_name": "李娜",
        "position": "运维经理",
        "mobile": "13900139000",
        "email": "li.na@yunqi-tech.cn",
        "is_primary": "0",
    },
    {
        "customer_name": "Northwind Cloud Services Ltd",
        "customer_type": "Enterprise",
        "industry": "电信",
        "level": "VIP",
        "status": "Potential",
        "website": "northwind.example",
        "contact_name": "Anna Smith",
        "mobile": "+8613700137000",
        "email": "anna@northwind.example",
        "is_primary": "1",
    },
]


def template_csv() -> bytes:
    """A ready-to-fill CSV: every column, three example rows (two contacts of one customer)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in TEMPLATE_ROWS:
        writer.writerow([row.get(column, "") for column in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")

"""Customer import from CSV or XLSX: parse → validate (the preview) → commit, all or nothing.

A package, one module a step: `base` (columns, limits, errors), `parse`, `validate`, `commit`, `storage`
(the preview kept between upload and confirmation, and the template); everything public is re-exported here.

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

from customers.importing.base import (
    ACTION_DUPLICATE,
    ACTION_LABELS,
    ACTION_NEW,
    ACTION_UPDATE,
    BATCH_SIZE,
    CHOICE_MERGE,
    CHOICE_SKIP,
    COLUMNS,
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    EXPORT_ONLY_COLUMNS,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    MAX_XLSX_UNCOMPRESSED_BYTES,
    STORE_MAX_AGE_SECONDS,
    ImportBlocked,
    ImportFileError,
)
from customers.importing.commit import (
    ImportResult,
    commit_plan,
)
from customers.importing.parse import (
    ParsedFile,
    parse_upload,
)
from customers.importing.storage import (
    TEMPLATE_ROWS,
    imports_dir,
    plan_discard,
    plan_load,
    plan_payload,
    plan_store,
    template_csv,
)
from customers.importing.validate import (
    GroupPlan,
    ImportPlan,
    RowResult,
    validate_rows,
)

__all__ = [
    "ACTION_DUPLICATE",
    "ACTION_LABELS",
    "ACTION_NEW",
    "ACTION_UPDATE",
    "BATCH_SIZE",
    "CHOICE_MERGE",
    "CHOICE_SKIP",
    "COLUMNS",
    "CONTACT_COLUMNS",
    "CUSTOMER_COLUMNS",
    "EXPORT_ONLY_COLUMNS",
    "GroupPlan",
    "ImportBlocked",
    "ImportFileError",
    "ImportPlan",
    "ImportResult",
    "MAX_ROWS",
    "MAX_UPLOAD_BYTES",
    "MAX_XLSX_UNCOMPRESSED_BYTES",
    "ParsedFile",
    "RowResult",
    "STORE_MAX_AGE_SECONDS",
    "TEMPLATE_ROWS",
    "commit_plan",
    "imports_dir",
    "parse_upload",
    "plan_discard",
    "plan_load",
    "plan_payload",
    "plan_store",
    "template_csv",
    "validate_rows",
]

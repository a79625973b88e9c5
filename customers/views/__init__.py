"""Staff pages for customers (a package, one module a feature): list, 360° page, create/edit with contacts,
tags, sharing, duplicates and merge. Import and export pages are in customers/views_io.py.

Reads go through customers.selectors (a customer the user may not see is a 404, like a missing one);
writes call customers.services and show what they refuse as form errors or messages.
"""

from __future__ import annotations

from customers.views.common import (
    ADD,
    ASSIGN,
    CHANGE,
    DEFAULT_SORT,
    DELETE,
    EXPORT,
    LIST_SESSION_KEY,
    MERGE,
    PAGE_SIZE,
    SORT_FIELDS,
    VIEW,
    apply_service_errors,
)
from customers.views.detail import (
    audit_timeline_entries,
    customer_delete,
    customer_detail,
    share_context,
    timeline_context,
)
from customers.views.edit import (
    customer_create,
    customer_edit,
)
from customers.views.lists import (
    CustomerList,
    customer_bulk,
    customer_list,
)
from customers.views.merge import (
    customer_duplicates,
    customer_merge,
)
from customers.views.sharing import (
    customer_share,
)
from customers.views.tags import (
    tag_add,
    tag_remove,
)

__all__ = [
    "ADD",
    "ASSIGN",
    "CHANGE",
    "CustomerList",
    "DEFAULT_SORT",
    "DELETE",
    "EXPORT",
    "LIST_SESSION_KEY",
    "MERGE",
    "PAGE_SIZE",
    "SORT_FIELDS",
    "VIEW",
    "apply_service_errors",
    "audit_timeline_entries",
    "customer_bulk",
    "customer_create",
    "customer_delete",
    "customer_detail",
    "customer_duplicates",
    "customer_edit",
    "customer_list",
    "customer_merge",
    "customer_share",
    "share_context",
    "tag_add",
    "tag_remove",
    "timeline_context",
]

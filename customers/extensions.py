"""Extension points of the customer page and list, filled by higher apps from their `AppConfig.ready()`.

    from customers.extensions import CustomerTab, TimelineEntry, customer_tabs, timeline_sources

    customer_tabs.register(CustomerTab("service", _("Service"), "service_records/_tab.html",
                                       permission="service_records.view_servicerecord", weight=50,
                                       context=service_tab_context))
    timeline_sources.register(TimelineSource("service", service_timeline, permission="..."))

Nothing here imports a higher app: a tab, a timeline source or a list column exists because its app said so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.registry import Registry


@dataclass(frozen=True)
class CustomerTab:
    """One tab of the customer 360° page (`?tab=<key>`).

    label       translatable label
    template    partial rendered when the tab is open (context: customer, tab, request, perms, ...)
    url_name    instead of a panel, the tab links to this URL (reversed with the customer's pk)
    permission  hide the tab from users without it
    weight      order, lower first
    context     optional (request, customer) -> dict, called only when the tab is open
    count       optional customer -> int shown as a badge (use prefetched data)
    """

    key: str
    label: Any
    template: str = ""
    url_name: str | None = None
    permission: str | None = None
    weight: int = 100
    context: Callable[[Any, Any], dict] | None = None
    count: Callable[[Any], int | None] | None = None

    @property
    def slug(self) -> str:
        return self.key


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the customer timeline, whatever app it comes from."""

    when: datetime
    kind: str  # the source key: "audit", "contracts", "communications", ...
    title: Any
    actor: str = ""
    summary: Any = ""
    url: str = ""
    icon: str = ""
    tone: str = ""  # "", "good", "warn", "bad": colours the marker
    changes: tuple = ()  # (label, old, new) triples


@dataclass(frozen=True)
class TimelineSource:
    """A source of timeline entries: `entries(request, customer, before, limit)` → newest first.

    `before` is an aware datetime (exclusive) or None for the newest page; return at most `limit`.
    """

    key: str
    entries: Callable[[Any, Any, datetime | None, int], list[TimelineEntry]]
    permission: str | None = None
    weight: int = 100


@dataclass(frozen=True)
class ListColumn:
    """An extra column of the customer list: `value(customer)` reads prefetched/annotated data only.

    `queryset(qs) -> qs` adds the annotations or prefetches `value` needs (one query for the page, never one a row);
    `sort_field` (an ORM path, usually the annotation) makes the column sortable as `sort=<key>`.
    """

    key: str
    label: Any
    value: Callable[[Any], Any]
    permission: str | None = None
    sort_field: str | None = None
    weight: int = 100
    queryset: Callable[[Any], Any] | None = None


customer_tabs: Registry[CustomerTab] = Registry("customer_tabs")
timeline_sources: Registry[TimelineSource] = Registry("timeline_sources")
list_columns: Registry[ListColumn] = Registry("customer_list_columns")


def visible(entries, user):
    """Entries of a registry the user may see (no permission = everyone who sees the customer)."""
    return [entry for entry in entries if not entry.permission or user.has_perm(entry.permission)]


def customer_timeline(request, customer, *, before: datetime | None = None, limit: int = 20) -> list[TimelineEntry]:
    """Every registered source merged, newest first, at most `limit` entries older than `before`."""
    rows: list[TimelineEntry] = []
    for source in visible(timeline_sources, request.user):
        rows.extend(source.entries(request, customer, before, limit))
    rows.sort(key=lambda entry: entry.when, reverse=True)
    return rows[:limit]

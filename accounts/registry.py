"""Extension points of the platform layer, filled by the domain apps from their own `AppConfig.ready()`.

A lower layer owns a registry; a higher app registers into it. Nothing here imports a domain app.
Entries carry an explicit `weight` (lower first), so the order never depends on INSTALLED_APPS.

    from accounts.registry import nav_items, NavItem
    nav_items.register(NavItem("tasks", _("Tasks"), "success_tasks:board", "success_tasks.view_task", weight=40))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries with a weight; registering a key twice replaces the entry (apps may override)."""

    def __init__(self, name: str):
        self.name = name
        self._entries: dict[str, T] = {}

    def register(self, entry: T) -> T:
        self._entries[entry.key] = entry  # type: ignore[attr-defined]
        return entry

    def unregister(self, key: str) -> None:
        self._entries.pop(key, None)

    def get(self, key: str) -> T | None:
        return self._entries.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(sorted(self._entries.values(), key=lambda e: (e.weight, e.key)))  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class NavItem:
    """An entry of the staff navigation; `permission` hides it from users without it."""

    key: str
    label: Any
    url_name: str
    permission: str | None = None
    weight: int = 100
    badge: Callable[[Any], int | None] | None = None  # (request) -> count shown next to the label


@dataclass(frozen=True)
class DashboardCard:
    """A card of the staff dashboard (`/`): a template and an optional context function."""

    key: str
    label: Any
    template: str
    permission: str | None = None
    weight: int = 100
    context: Callable[[Any], dict] | None = None  # (request) -> extra context


@dataclass(frozen=True)
class Job:
    """A scheduled job an operator can also run at once (`manage.py run_job NAME`).

    `task` is the dotted Celery task name; per-tenant jobs take the tenant id as their only argument.
    `schedule` is a Celery schedule (crontab / seconds) or None for on-demand only.
    """

    key: str
    task: str
    label: Any = ""
    schedule: Any = None
    per_tenant: bool = True
    weight: int = 100


nav_items: Registry[NavItem] = Registry("nav_items")
dashboard_cards: Registry[DashboardCard] = Registry("dashboard_cards")
jobs: Registry[Job] = Registry("jobs")


@dataclass
class _Labels:
    labels: dict[str, Any] = field(default_factory=dict)

    def register(self, mapping: dict[str, Any]) -> None:
        self.labels.update(mapping)

    def label(self, action: str) -> Any:
        return self.labels.get(action, action)

    def __contains__(self, action: str) -> bool:
        return action in self.labels


# Audit action code -> readable label ("crm.contract.renewed" -> "Contract renewed"), shown on timelines.
audit_labels = _Labels()


@dataclass(frozen=True)
class DemoStep:
    """A part of the demo data (`seed_demo`, `generate_demo`): `run(tenant, rng, context)` inside the tenant's
    scope, in weight order; `context` is a dict the steps share (e.g. the latent health of each customer)."""

    key: str
    run: Callable[[Any, Any, dict], Any]
    weight: int = 100


demo_steps: Registry[DemoStep] = Registry("demo_steps")


def run_demo_steps(tenant, *, seed: int = 20250815, log: Callable[[str], Any] | None = None) -> dict:
    """Run every registered demo step for `tenant` (used by seed_demo and generate_demo --history)."""
    import random

    from accounts.tenancy import tenant_scope

    rng = random.Random(seed)
    context: dict = {}
    with tenant_scope(tenant):
        for step in demo_steps:
            result = step.run(tenant, rng, context)
            if log is not None:
                log(f"demo step {step.key}: {result}")
    return context


@dataclass(frozen=True)
class VolumeStep:
    """A part of the volume data set (`manage.py generate_volume`): `run(tenant, plan, frame) -> counts` inside
    the tenant's scope, in weight order. Unlike a demo step it writes set-based (multi-row INSERTs in chunks, one
    transaction a chunk) and tops up to the plan's targets, so a rerun after an interruption adds only what is
    missing. `plan` holds the targets (accounts.volume.VolumePlan), `frame` the customers' arrays (customers.volume).
    `run` may be a dotted path ("contracts.volume.run"), imported when the step runs (numpy stays out of startup);
    `tables` names the models ("app.Model") whose table sizes the command reports after the step."""

    key: str
    run: Callable[[Any, Any, Any], dict] | str
    weight: int = 100
    tables: tuple = ()

    def runner(self) -> Callable[[Any, Any, Any], dict]:
        if isinstance(self.run, str):
            from django.utils.module_loading import import_string

            return import_string(self.run)
        return self.run


volume_steps: Registry[VolumeStep] = Registry("volume_steps")

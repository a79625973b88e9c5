"""Finding and replacing a contact's personal values in text and JSON columns (export and erasure helpers)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models.functions import Cast

from crm_project.crypto import BlindIndexField, EncryptedCharField

ERASED = "[erased]"
MIN_NEEDLE = 2  # a one-character value would erase every text it occurs in


@dataclass
class ErasureContext:
    """What an eraser or exporter needs: the tenant, the contact, its values (needles), and counts so far."""

    tenant: Any
    contact: Any
    needles: list[str]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pattern(self) -> re.Pattern | None:
        usable = sorted({n for n in self.needles if n and len(n) >= MIN_NEEDLE}, key=len, reverse=True)
        if not usable:
            return None
        return re.compile("|".join(re.escape(n) for n in usable), re.IGNORECASE)


def contact_needles(contact) -> list[str]:
    """The values that identify the contact: name, phone, mobile, e-mail, WeChat (and the bare mobile digits)."""
    values = [contact.contact_name, contact.phone, contact.mobile, contact.email, contact.wechat]
    digits = re.sub(r"\D", "", contact.mobile or "")
    if len(digits) == 13 and digits.startswith("86"):
        values.append(digits[2:])
    return [v.strip() for v in values if v and v.strip()]


def scrub_value(value: Any, pattern: re.Pattern) -> tuple[Any, bool]:
    """`value` with every match replaced by ERASED (strings inside dicts and lists too), and whether it changed."""
    if isinstance(value, str):
        new = pattern.sub(ERASED, value)
        return new, new != value
    if isinstance(value, dict):
        changed = False
        out = {}
        for key, item in value.items():
            new_key, key_changed = scrub_value(key, pattern) if isinstance(key, str) else (key, False)
            new_item, item_changed = scrub_value(item, pattern)
            out[new_key] = new_item
            changed = changed or key_changed or item_changed
        return out, changed
    if isinstance(value, list):
        items = [scrub_value(item, pattern) for item in value]
        return [i for i, _c in items], any(c for _i, c in items)
    return value, False


def mentions(value: Any, pattern: re.Pattern) -> bool:
    return scrub_value(value, pattern)[1]


def scannable_fields(model, names) -> list[models.Field]:
    """Text and JSON fields among `names` (encrypted columns and blind indexes are reached through the contact)."""
    out = []
    for name in names:
        f = model._meta.get_field(name)
        if isinstance(f, (EncryptedCharField, BlindIndexField)):
            continue
        if isinstance(f, (models.CharField, models.TextField, models.JSONField)):
            out.append(f)
    return out


def mention_filter(model, names, needles) -> tuple[dict[str, Any], models.Q]:
    """(annotations, Q) matching rows whose fields contain a needle, as stored text or as JSON-escaped text."""
    annotations: dict[str, Any] = {}
    q = models.Q()
    for f in scannable_fields(model, names):
        if isinstance(f, models.JSONField):
            alias = f"_privacy_{f.name}_text"
            annotations[alias] = Cast(f.name, models.TextField())
            target = alias
            forms = set(needles) | {json.dumps(n)[1:-1] for n in needles}
        else:
            target = f.name
            forms = set(needles)
        for form in forms:
            if form and len(form) >= MIN_NEEDLE:
                q |= models.Q(**{f"{target}__icontains": form})
    return annotations, q


def matching_rows(queryset, names, needles):
    annotations, q = mention_filter(queryset.model, names, needles)
    if not q:
        return queryset.none()
    return queryset.annotate(**annotations).filter(q) if annotations else queryset.filter(q)


def scrub_queryset(queryset, names, ctx: ErasureContext, *, writer=None) -> int:
    """Replace the contact's values in `names` of every matching row; returns the rows changed.

    `writer(model, pk, values)` writes one row (default: `_base_manager...update`, no signals, no auto_now)."""
    pattern = ctx.pattern
    if pattern is None:
        return 0
    model = queryset.model
    fields = [f.name for f in scannable_fields(model, names)]
    changed = 0
    for row in matching_rows(queryset, fields, ctx.needles).values("pk", *fields):
        new_values = {}
        for name in fields:
            new, did = scrub_value(row[name], pattern)
            if did:
                limit = getattr(model._meta.get_field(name), "max_length", None)
                new_values[name] = new[:limit] if limit and isinstance(new, str) else new
        if new_values:
            if writer is not None:
                writer(model, row["pk"], new_values)
            else:
                model._base_manager.filter(pk=row["pk"]).update(**new_values)
            changed += 1
    return changed

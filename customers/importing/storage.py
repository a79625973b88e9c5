"""The preview kept on the server between the upload and the confirmation, and the template file."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from customers.importing.base import (
    _TOKEN,
    COLUMNS,
    STORE_MAX_AGE_SECONDS,
)
from customers.importing.validate import (
    ImportPlan,
)


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

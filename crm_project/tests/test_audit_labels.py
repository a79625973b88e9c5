"""Every audit action code the code base writes has a readable label (the customer timeline shows labels)."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.conf import settings

from accounts.registry import audit_labels

# `action="crm.x.y"` (also `action = 'crm.x.y'`) in any source file of a project app, tests and migrations aside.
ACTION = re.compile(r"""\baction\s*=\s*["'](crm\.[a-z_]+\.[a-z_]+)["']""")


def written_action_codes() -> dict[str, str]:
    root = Path(settings.BASE_DIR).resolve()
    codes: dict[str, str] = {}
    for config in apps.get_app_configs():
        folder = Path(config.path).resolve()
        if root not in folder.parents or "site-packages" in folder.parts:
            continue  # third-party apps (a virtualenv may live inside the project folder)
        for path in folder.rglob("*.py"):
            parts = set(path.relative_to(folder).parts)
            if parts & {"tests", "migrations"}:
                continue
            for code in ACTION.findall(path.read_text(encoding="utf-8")):
                codes.setdefault(code, str(path.relative_to(root)))
    return codes


def test_the_scan_finds_the_audit_codes_of_every_app():
    codes = written_action_codes()
    assert {"crm.customer.created", "crm.contract.signed", "crm.user.created"} <= set(codes)


def test_every_written_audit_code_has_a_label():
    missing = {code: where for code, where in written_action_codes().items() if code not in audit_labels}
    assert not missing, f"register these in the owning app's ready() with audit_labels.register: {missing}"

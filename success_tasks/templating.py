"""Rule title / description templates: `{customer_name}`-style placeholders, nothing else.

No `str.format` (attribute and index access would reach into objects) and no Django templates: a placeholder is
a bare name from `FACTS`, replaced by its text once; the inserted values are never interpreted again.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
BRACED = re.compile(r"\{([^{}]*)\}")

FACTS = {
    "customer_name": _("customer name"),
    "customer_code": _("customer code"),
    "manager": _("customer manager"),
    "health_score": _("current health score"),
    "renewal_date": _("next renewal date"),
    "condition": _("why the rule fired"),
    "value": _("the value that fired the rule"),
    "threshold": _("the rule's threshold"),
    "days": _("the rule's window in days"),
}


def unknown_placeholders(text: str) -> list[str]:
    """Anything in single braces that is not a known fact (attribute or index access included)."""
    return sorted({name for name in BRACED.findall(text or "") if name not in FACTS})


def render(text: str, facts: dict[str, Any]) -> str:
    """Replace known placeholders by their value; anything else stays as written."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in FACTS:
            return match.group(0)
        value = facts.get(name)
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(replace, text or "")

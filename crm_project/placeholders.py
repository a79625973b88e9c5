"""Message templates with `{customer_name}`-style placeholders, nothing else (playbook tasks, campaign e-mails).

No `str.format` (attribute and index access would reach into objects) and no Django templates: a placeholder is a
bare name from the template set's `facts`, replaced by its text once; the inserted values are never interpreted
again. Each app declares its own set of facts:

    TEMPLATES = PlaceholderTemplates({"customer_name": _("customer name"), ...})
    TEMPLATES.unknown("Hello {customer.name}")  # ["customer.name"]: refused when the template is saved
    TEMPLATES.render("Hello {customer_name}", {"customer_name": "ABC"})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
BRACED = re.compile(r"\{([^{}]*)\}")


class PlaceholderTemplates:
    def __init__(self, facts: Mapping[str, Any]):
        self.facts = dict(facts)  # name -> translatable description (shown to the people writing templates)

    def unknown(self, text: str) -> list[str]:
        """Anything in single braces that is not a known fact (attribute or index access included)."""
        return sorted({name for name in BRACED.findall(text or "") if name not in self.facts})

    def render(self, text: str, values: Mapping[str, Any]) -> str:
        """Known placeholders replaced once by their value; anything else stays as written."""

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in self.facts:
                return match.group(0)
            value = values.get(name)
            return "" if value is None else str(value)

        return PLACEHOLDER.sub(replace, text or "")

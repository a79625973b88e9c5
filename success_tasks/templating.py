"""Rule title / description templates: `{customer_name}`-style placeholders, nothing else.

No `str.format` (attribute and index access would reach into objects) and no Django templates: a placeholder is
a bare name from `FACTS`, replaced by its text once; the inserted values are never interpreted again.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from crm_project.placeholders import PlaceholderTemplates

TEMPLATES = PlaceholderTemplates(
    {
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
)
FACTS = TEMPLATES.facts


def unknown_placeholders(text: str) -> list[str]:
    return TEMPLATES.unknown(text)


def render(text: str, facts: dict[str, Any]) -> str:
    return TEMPLATES.render(text, facts)

"""Rendered template text to safe HTML: plain text becomes paragraphs, markup is cleaned with nh3 (ammonia).

Only an allow-list of tags survives, without attributes except `class` (letters, digits, `-`, `_`, spaces) and
`colspan` / `rowspan` (1..50) on table cells: no scripts, styles, links, images, event handlers or inline CSS, so
the stored HTML can be shown inside a staff page.
"""

from __future__ import annotations

import re

import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "strong", "b", "em", "i", "u", "s", "small", "sup", "sub"}
    | {"span", "div", "section", "blockquote", "ul", "ol", "li"}
    | {"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"}
)
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "template", "svg", "math", "noscript", "head", "title"}
    | {"textarea", "select", "button", "form"}
)
_ATTRIBUTES = {"*": {"class"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_CLASS_VALUE = re.compile(r"^[A-Za-z0-9_\- ]{1,100}$")


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if name == "class":
        return value if _CLASS_VALUE.match(value) else None
    if name in ("colspan", "rowspan"):
        return str(int(value)) if value.isdigit() and 0 < int(value) <= 50 else None
    return None


def sanitize_html(markup: str) -> SafeString:
    """Only harmless markup survives (see the module docstring); every text is escaped."""
    cleaned = nh3.clean(
        markup,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
    )
    return mark_safe(cleaned)  # noqa: S308 - nh3 escaped every text and attribute


_STARTS_WITH_TAG = re.compile(r"^\s*<[a-zA-Z/!]")


def paragraphs(rendered: str) -> SafeString:
    """Rendered text to HTML: chunks separated by blank lines that start with a tag are kept as they are, plain text
    becomes <p> paragraphs (single newlines become <br>). The result is sanitised."""
    chunks = re.split(r"\n\s*\n", rendered.replace("\r\n", "\n").strip())
    parts = []
    for chunk in chunks:
        if not chunk.strip():
            continue
        if _STARTS_WITH_TAG.match(chunk):
            parts.append(chunk)
        else:
            parts.append("<p>" + "<br>".join(line.strip() for line in chunk.strip().split("\n")) + "</p>")
    return sanitize_html("\n".join(parts))

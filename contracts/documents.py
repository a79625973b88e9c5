"""Contract documents: a tenant's template rendered for one contract, kept as HTML and as a PDF.

Decisions:
- **Template bodies are sandboxed.** Bodies (and clause texts) use Django template syntax written by tenant
  administrators. They compile in an engine of their own: no template loaders, no tag libraries, and only an
  allow-list of harmless tags and filters. `{% load %}`, `{% include %}`, `{% extends %}`, `{% debug %}`,
  `{% url %}`, `{% autoescape off %}`, `|safe` and the padding filters (`ljust`, `stringformat`, ...) do not exist
  there, so a template cannot read files, dump the context or blow up memory. A template that uses them is a
  `TemplateRenderError` with a readable message, never a 500.
- **The context holds plain values, never model instances** (dicts of whitelisted fields, strings, dates), so a
  template cannot walk to `contract.created_by.password` or call a method.
- **The rendered HTML is sanitised** to an allow-list of tags without attributes (except `class`, `colspan`,
  `rowspan`), so the stored HTML can be shown inside a staff page; the HTML download additionally carries a CSP
  `sandbox` header.
- **The PDF is built from that same HTML** with reportlab: headings, paragraphs, lists and tables (the SLA table)
  become reportlab flowables, so the PDF and the HTML hold the same text.
- **Fonts:** the PDF embeds a CJK TrueType font found on the machine: `settings.CONTRACT_PDF_FONT` (a path, optional
  `path#index` for a collection) if set, a .ttf/.ttc vendored in `static/fonts/`, else the usual system paths
  (Debian's `fonts-wqy-microhei` first). Without one it falls back to reportlab's built-in `STSong-Light` CID font:
  Chinese still renders and can be extracted, but the font is not embedded (the viewer supplies it), and a warning
  is logged.
- **Where the files live:** `Contract.document_pdf` (MEDIA_ROOT/contracts/%Y/%m/); the previous PDF of the contract
  is deleted once the new one is committed. `contract_file_url` is the agreed download URL
  `/contracts/<pk>/document/?format=pdf`, served by the contracts app's view through `document_response`.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from decimal import Decimal
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.services import audit_record
from accounts.tenancy import TenantScopeError, current_tenant
from contracts.models import Contract, ContractTemplate

if TYPE_CHECKING:
    from django.template.base import Template

    from accounts.models import User

logger = logging.getLogger("crm.contracts.documents")

LAYOUT_TEMPLATE = "contracts/document/contract.html"
MAX_OUTPUT_CHARS = 2_000_000  # a rendered body larger than this is refused (a runaway loop, not a contract)


class TemplateRenderError(ValidationError):
    """A contract template (or one of its clauses) does not compile or render; `message` says why and where.

    A Django ValidationError, so the API's exception handler answers it as a 400 and forms show it as an error.
    """

    def __init__(self, message: str):
        super().__init__(message, code="template_error")

    def __str__(self) -> str:
        return str(self.message)


# --- The sandbox ----------------------------------------------------------------------------------------------------
SANDBOX_TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)
SANDBOX_FILTERS = (
    "add",
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "dictsort",
    "dictsortreversed",
    "divisibleby",
    "escape",
    "first",
    "force_escape",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordcount",
    "yesno",
)

_sandbox_library = Library()
for _name in SANDBOX_TAGS:
    _sandbox_library.tags[_name] = defaulttags.register.tags[_name]
for _name in SANDBOX_FILTERS:
    _sandbox_library.filters[_name] = defaultfilters.register.filters[_name]

_engine_lock = threading.Lock()
_engine: Engine | None = None


def sandbox_engine() -> Engine:
    """The engine user-written templates compile in: no loaders, no libraries, only the allow-listed builtins."""
    global _engine
    with _engine_lock:
        if _engine is None:
            engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=True, debug=True)
            # Engine() always adds Django's default builtins (load, include, debug, url, safe, ...): replace them.
            engine.builtins = []
            engine.template_builtins = [_sandbox_library]
            _engine = engine
        return _engine


_UNKNOWN_TAG = re.compile(r"^Invalid block tag on line \d+: '([^']+)'\. ")
_UNKNOWN_FILTER = re.compile(r"^Invalid filter: '([^']+)'")


def _syntax_message(exc: Exception, clause: str | None) -> str:
    text = str(exc)
    if match := _UNKNOWN_TAG.match(text):
        text = _("the tag “%(tag)s” cannot be used in contract templates") % {"tag": match.group(1)}
    elif match := _UNKNOWN_FILTER.match(text):
        text = _("the filter “%(filter)s” cannot be used in contract templates") % {"filter": match.group(1)}
    line = (getattr(exc, "template_debug", None) or {}).get("line")
    if clause is not None:
        if line:
            return _("Clause “%(clause)s”, line %(line)s: %(error)s") % {"clause": clause, "line": line, "error": text}
        return _("Clause “%(clause)s”: %(error)s") % {"clause": clause, "error": text}
    if line:
        return _("Template line %(line)s: %(error)s") % {"line": line, "error": text}
    return _("Template error: %(error)s") % {"error": text}


def compile_template_text(source: str, *, clause: str | None = None) -> Template:
    """Compile user-written template text in the sandbox; `TemplateRenderError` if it is not valid.

    Forms use it to refuse a broken body before it is saved (`clause` names the clause in the message).
    """
    try:
        return sandbox_engine().from_string(source or "")
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(_syntax_message(exc, clause)) from exc


def _render(source: str, context: dict[str, Any], *, clause: str | None = None) -> str:
    compiled = compile_template_text(source, clause=clause)
    try:
        output = compiled.render(Context(context, autoescape=True))
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(_syntax_message(exc, clause)) from exc
    except RecursionError as exc:  # pragma: no cover - needs pathological nesting
        raise TemplateRenderError(_("The template is nested too deeply.")) from exc
    except Exception as exc:  # noqa: BLE001 - user-written input: any failure is the template's, answered as such
        logger.warning("contract template failed to render: %r", exc)
        raise TemplateRenderError(_syntax_message(exc, clause)) from exc
    if len(output) > MAX_OUTPUT_CHARS:
        raise TemplateRenderError(_("The rendered document is too large."))
    return output


# --- The context ----------------------------------------------------------------------------------------------------
class Values(dict):
    """A dict of plain values that prints as its `label` (so `{{ customer }}` shows the customer's name)."""

    def __init__(self, label: str, **values: Any):
        super().__init__(**values)
        self.label = label

    def __str__(self) -> str:
        return self.label

    # Templates call attributes without arguments: these must not empty the context.
    def clear(self) -> None:
        super().clear()

    clear.alters_data = True

    def popitem(self):
        return super().popitem()

    popitem.alters_data = True


def format_amount(amount: Decimal | None, currency: str) -> str:
    """ "CNY 1,200,000.00": the amount with thousands separators and its currency code."""
    if amount is None:
        return ""
    return f"{currency} {amount:,.2f}"


def format_minutes(minutes: int) -> str:
    """An SLA duration: whole hours as hours ("4 hours"), anything else in minutes ("90 minutes")."""
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def format_percent(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    number = Decimal(str(value)).normalize()
    return f"{number:f}%"


def sla_table_html(contract: Contract) -> str:
    """The contract's SLA bindings as an HTML table (one row per priority), or a sentence when there are none."""
    bindings = list(contract.sla_bindings.order_by("priority"))
    if not bindings:
        return "<p>{}</p>".format(html.escape(_("No SLA has been agreed for this contract.")))
    headers = [_("Priority"), _("First response"), _("Resolution"), _("Service hours"), _("Availability")]
    rows = [
        [
            binding.get_priority_display(),
            format_minutes(binding.first_response_minutes),
            format_minutes(binding.resolution_minutes),
            binding.get_service_hours_display(),
            format_percent(binding.availability_target),
        ]
        for binding in bindings
    ]
    head = "".join(f"<th>{html.escape(str(text))}</th>" for text in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="sla"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _customer_values(contract: Contract) -> Values:
    customer = contract.customer
    contact = customer.contacts.order_by("-is_primary", "id").first()
    contact_values = Values(
        contact.contact_name if contact else "",
        contact_name=contact.contact_name if contact else "",
        position=contact.position if contact else "",
        department=contact.department if contact else "",
        phone=contact.phone if contact else "",
        mobile=contact.mobile if contact else "",
        email=contact.email if contact else "",
    )
    return Values(
        customer.customer_name,
        customer_name=customer.customer_name,
        customer_code=customer.customer_code,
        customer_type=customer.get_customer_type_display(),
        industry=customer.industry,
        scale=customer.scale,
        region=customer.region,
        address=customer.address,
        website=customer.website,
        contact=contact_values,
    )


def _contract_values(contract: Contract) -> Values:
    return Values(
        contract.contract_name,
        contract_code=contract.contract_code,
        contract_name=contract.contract_name,
        contract_type=contract.get_contract_type_display(),
        status=contract.get_status_display(),
        contract_amount=contract.contract_amount,
        amount=format_amount(contract.contract_amount, contract.currency),
        currency=contract.currency,
        start_date=contract.start_date,
        end_date=contract.end_date,
        signed_date=contract.signed_date,
        renewal_type=contract.get_renewal_type_display(),
        renewal_notice_days=contract.renewal_notice_days,
        payment_terms=contract.payment_terms,
        service_level=contract.service_level,
        version=contract.version,
    )


def _base_context(contract: Contract) -> dict[str, Any]:
    tenant = contract.tenant
    return {
        "customer": _customer_values(contract),
        "contract": _contract_values(contract),
        "provider": Values(tenant.name, name=tenant.name),
        "amount": format_amount(contract.contract_amount, contract.currency),
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "today": timezone.localdate(),
        "sla_table": mark_safe(sla_table_html(contract)),  # noqa: S308 - built from escaped values above
    }


def template_context(template: ContractTemplate, contract: Contract) -> dict[str, Any]:
    """What a template body sees: customer, contract, provider, amount, start_date, end_date, today, sla_table,
    clauses (each number, title and body; clause texts are templates too, rendered with the same values)."""
    context = _base_context(contract)
    clauses = []
    links = template.template_clauses.select_related("clause").order_by("position", "id")
    for number, link in enumerate(links, start=1):
        clause = link.clause
        body = _render(clause.body, context, clause=clause.title)
        clauses.append(
            Values(clause.title, number=number, title=clause.title, category=clause.category, body=_paragraphs(body))
        )
    context["clauses"] = tuple(clauses)
    return context


# --- HTML: paragraphs and sanitising --------------------------------------------------------------------------------
_STARTS_WITH_TAG = re.compile(r"^\s*<[a-zA-Z/!]")


def _paragraphs(rendered: str) -> str:
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


ALLOWED_TAGS = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "strong", "b", "em", "i", "u", "s", "small", "sup", "sub"}
    | {"span", "div", "section", "blockquote", "ul", "ol", "li"}
    | {"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"}
)
VOID_TAGS = frozenset({"br", "hr"})
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "template", "svg", "math", "noscript", "head", "title"}
    | {"textarea", "select", "button", "form"}
)
BLOCK_TAGS = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "hr", "div", "section", "blockquote", "ul", "ol", "table"}
)
_CLASS_VALUE = re.compile(r"^[A-Za-z0-9_\- ]{1,100}$")


class _Sanitizer(HTMLParser):
    """Keeps ALLOWED_TAGS (with `class`, and `colspan`/`rowspan` on cells), escapes all text, balances tags."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.append(tag)
            return
        if tag in DROPPED_WITH_CONTENT:
            self.skipping.append(tag)
            return
        if tag not in ALLOWED_TAGS:
            return
        if tag in BLOCK_TAGS and "p" in self.stack:
            self._close("p")  # as browsers do: a block ends the open paragraph
        kept = []
        for name, value in attrs:
            value = value or ""
            if name == "class" and _CLASS_VALUE.match(value):
                kept.append(f' class="{html.escape(value)}"')
            elif name in ("colspan", "rowspan") and tag in ("td", "th") and value.isdigit() and 0 < int(value) <= 50:
                kept.append(f' {name}="{int(value)}"')
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID_TAGS:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self.stack and self.stack[-1] == tag and not self.skipping:
            self._close(tag)

    def handle_endtag(self, tag):
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag in self.stack:
            self._close(tag)

    def _close(self, tag):
        while self.stack:
            open_tag = self.stack.pop()
            self.out.append(f"</{open_tag}>")
            if open_tag == tag:
                break

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        while self.stack:
            self.out.append(f"</{self.stack.pop()}>")
        return "".join(self.out)


def sanitize_html(markup: str) -> str:
    """Only harmless markup survives: no scripts, styles, links, event handlers or inline CSS."""
    sanitizer = _Sanitizer()
    sanitizer.feed(markup)
    return mark_safe(sanitizer.result())  # noqa: S308 - the sanitiser escaped every text and attribute


def render_template_text(template: ContractTemplate, contract: Contract) -> str:
    """The template's body rendered for the contract, as sanitised HTML (a fragment, no layout).

    Raises TemplateRenderError when the body or one of its clauses does not compile or render. Must run inside the
    contract's tenant scope (it reads the SLA bindings, clauses and contacts).
    """
    context = template_context(template, contract)
    return _paragraphs(_render(template.body, context))


# --- PDF ------------------------------------------------------------------------------------------------------------
PDF_FONT_NAME = "CRMContractCJK"
CID_FALLBACK_FONT = "STSong-Light"
SYSTEM_CJK_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # CFF outlines: reportlab refuses, skipped
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", 0),
    ("/System/Library/Fonts/Supplemental/Songti.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
    ("C:/Windows/Fonts/simsun.ttc", 0),
)

_font_lock = threading.Lock()
_font: tuple[str, bool] | None = None  # (registered font name, embedded)


def _font_candidates() -> list[tuple[str, int]]:
    candidates: list[tuple[str, int]] = []
    configured = getattr(settings, "CONTRACT_PDF_FONT", "") or ""
    if configured:
        path, _sep, index = str(configured).partition("#")
        candidates.append((path, int(index) if index.isdigit() else 0))
    vendored = Path(settings.BASE_DIR) / "static" / "fonts"
    if vendored.is_dir():
        candidates += [(str(p), 0) for p in sorted(vendored.iterdir()) if p.suffix.lower() in (".ttf", ".ttc")]
    candidates += list(SYSTEM_CJK_FONTS)
    return candidates


def pdf_font() -> tuple[str, bool]:
    """Register (once per process) the font the PDF uses; returns (font name, whether it is embedded)."""
    global _font
    with _font_lock:
        if _font is not None:
            return _font
        from reportlab.lib.fonts import addMapping
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfbase.ttfonts import TTFont

        for path, index in _font_candidates():
            if not Path(path).is_file():
                continue
            try:
                font = TTFont(PDF_FONT_NAME, path, subfontIndex=index)
            except Exception as exc:  # noqa: BLE001 - reportlab raises several kinds for unusable fonts
                logger.info("skipping PDF font %s: %s", path, exc)
                continue
            if ord("中") not in font.face.charToGlyph:
                logger.info("skipping PDF font %s: no CJK glyphs", path)
                continue
            pdfmetrics.registerFont(font)
            name, embedded = PDF_FONT_NAME, True
            logger.info("contract PDFs embed the font %s", path)
            break
        else:
            logger.warning(
                "no CJK TrueType font found (install fonts-wqy-microhei or set CONTRACT_PDF_FONT); contract PDFs "
                "use the non-embedded CID font %s",
                CID_FALLBACK_FONT,
            )
            pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK_FONT))
            name, embedded = CID_FALLBACK_FONT, False
        # One face serves every style: <b> and <i> in paragraphs must map to a registered font.
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(name, bold, italic, name)
        _font = (name, embedded)
        return _font


def _styles(font: str) -> dict[str, Any]:
    from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16, spaceAfter=6, wordWrap="CJK")
    styles = {
        "body": base,
        "h1": ParagraphStyle("h1", parent=base, fontSize=18, leading=26, spaceBefore=6, spaceAfter=12),
        "h2": ParagraphStyle("h2", parent=base, fontSize=14, leading=20, spaceBefore=10, spaceAfter=8),
        "h3": ParagraphStyle("h3", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=6),
        "h4": ParagraphStyle("h4", parent=base, fontSize=11, leading=17, spaceBefore=6, spaceAfter=4),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13, spaceAfter=0),
        "li": ParagraphStyle("li", parent=base, leftIndent=14, bulletIndent=2, spaceAfter=3),
        "blockquote": ParagraphStyle("blockquote", parent=base, leftIndent=18),
    }
    styles["h5"] = styles["h6"] = styles["h4"]
    styles["_align"] = {"center": TA_CENTER, "right": TA_RIGHT, "left": TA_LEFT}
    return styles


_INLINE_MARKUP = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "s": "strike", "sup": "super", "sub": "sub"}
_PDF_BLOCKS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "section", "article", "blockquote", "li", "caption"}
_PLAIN_TABLE_CLASSES = {"plain", "signatures"}
_EDGE_BREAKS = re.compile(r"^(\s*<br/>)+|(<br/>\s*)+$")
_TAGS = re.compile(r"<[^>]+>")


def _display_width(text: str) -> int:
    """Width in Latin characters: a CJK character is about twice as wide."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in html.unescape(text))


class _PdfBuilder(HTMLParser):
    """Turns the document HTML into reportlab flowables: headings, paragraphs, list items, tables, rules.

    Expects balanced markup (the sanitiser's output inside our layout); anything it does not know is read as text.
    """

    def __init__(self, styles: dict[str, Any], width: float):
        super().__init__(convert_charrefs=True)
        self.styles = styles
        self.width = width
        self.flowables: list[Any] = []
        self.buffer: list[str] = []
        self.block: tuple[str, str | None] = ("p", None)  # (tag, alignment class)
        self.lists: list[list[Any]] = []  # [kind, items so far]
        self.inline: list[str] = []  # reportlab inline tags open in the current paragraph
        self.skipping = 0
        self.tables: list[dict[str, Any]] = []  # [0] is the outer table; nested ones are flattened into its cell

    # -- paragraphs
    def _flush(self) -> None:
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.platypus import Paragraph

        markup = "".join(self.buffer) + "".join(f"</{tag}>" for tag in reversed(self.inline))
        markup = _EDGE_BREAKS.sub("", markup.strip())
        self.buffer = [f"<{tag}>" for tag in self.inline]  # inline markup spanning blocks continues
        if not _TAGS.sub("", markup).strip():
            return
        tag, align = self.block
        style = self.styles.get(tag, self.styles["body"])
        if align:
            style = ParagraphStyle(f"{style.name}-{align}", parent=style, alignment=self.styles["_align"][align])
        bullet = None
        if tag == "li" and self.lists:
            self.lists[-1][1] += 1
            bullet = f"{self.lists[-1][1]}." if self.lists[-1][0] == "ol" else "\u2022"
        self.flowables.append(Paragraph(markup, style, bulletText=bullet))

    @staticmethod
    def _align(attrs) -> str | None:
        classes = (dict(attrs).get("class") or "").split()
        return next((c for c in classes if c in ("center", "right", "left")), None)

    # -- parser callbacks
    def handle_starttag(self, tag, attrs):
        if self.skipping or tag in DROPPED_WITH_CONTENT:
            self.skipping += tag in DROPPED_WITH_CONTENT
            return
        if tag == "table":
            if not self.tables:
                self._flush()
            classes = set((dict(attrs).get("class") or "").split())
            self.tables.append({"rows": [], "row": None, "cell": None, "classes": classes})
            return
        if self.tables:
            self._table_start(tag)
        elif tag in _INLINE_MARKUP:
            self.buffer.append(f"<{_INLINE_MARKUP[tag]}>")
            self.inline.append(_INLINE_MARKUP[tag])
        elif tag == "br":
            self.buffer.append("<br/>")
        elif tag == "hr":
            from reportlab.platypus import HRFlowable

            self._flush()
            self.flowables.append(HRFlowable(width="100%", thickness=0.5, spaceBefore=4, spaceAfter=8))
        elif tag in ("ul", "ol"):
            self._flush()
            self.lists.append([tag, 0])
        elif tag in _PDF_BLOCKS:
            self._flush()
            self.block = (tag, self._align(attrs))

    def handle_endtag(self, tag):
        if self.skipping:
            self.skipping -= tag in DROPPED_WITH_CONTENT
            return
        if tag == "table" and self.tables:
            self._table_end()
        elif self.tables:
            self._table_endtag(tag)
        elif tag in _INLINE_MARKUP:
            name = _INLINE_MARKUP[tag]
            if name in self.inline:
                self.inline.remove(name)
                self.buffer.append(f"</{name}>")
        elif tag in ("ul", "ol"):
            self._flush()
            if self.lists:
                self.lists.pop()
            self.block = ("p", None)
        elif tag in _PDF_BLOCKS:
            self._flush()
            self.block = ("p", None)

    def handle_data(self, data):
        if self.skipping:
            return
        text = html.escape(re.sub(r"\s+", " ", data), quote=False)
        if self.tables:
            cell = self.tables[0]["cell"]
            if cell is not None:
                cell.append(text)
        elif text.strip() or self.buffer:
            self.buffer.append(text)

    # -- tables
    def _table_start(self, tag):
        table = self.tables[0]
        cell = table["cell"]
        if len(self.tables) > 1:  # inside a nested table: only keep cells apart
            if tag in ("td", "th", "tr") and cell is not None:
                cell.append(" ")
        elif tag == "tr":
            table["row"] = []
        elif tag in ("td", "th"):
            if table["row"] is None:
                table["row"] = []
            table["cell"] = []
            table["cell_tag"] = tag
        elif cell is None:
            return
        elif tag in _INLINE_MARKUP:
            cell.append(f"<{_INLINE_MARKUP[tag]}>")
        elif tag == "br" or (tag in _PDF_BLOCKS | {"ul", "ol"} and cell):
            cell.append("<br/>")

    def _table_endtag(self, tag):
        table = self.tables[0]
        if len(self.tables) > 1:
            return
        if tag in ("td", "th") and table["cell"] is not None:
            markup = _EDGE_BREAKS.sub("", "".join(table["cell"]).strip())
            table["row"].append((table["cell_tag"], markup))
            table["cell"] = None
        elif tag == "tr" and table["row"] is not None:
            table["rows"].append(table["row"])
            table["row"] = None
        elif tag in _INLINE_MARKUP and table["cell"] is not None:
            table["cell"].append(f"</{_INLINE_MARKUP[tag]}>")

    def _table_end(self):
        from reportlab.lib import colors
        from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

        table = self.tables.pop()
        if self.tables:  # a nested table ended: its text is part of the outer cell already
            return
        if table["row"]:
            table["rows"].append(table["row"])
        rows = [row for row in table["rows"] if row]
        if not rows:
            return
        columns = max(len(row) for row in rows)
        weights = [4] * columns
        for row in rows:
            for index, (_tag, markup) in enumerate(row):
                weights[index] = max(weights[index], min(_display_width(_TAGS.sub("", markup)), 40))
        col_widths = [self.width * weight / sum(weights) for weight in weights]
        data = []
        for row in rows:
            cells: list[Any] = [
                Paragraph(f"<b>{markup}</b>" if tag == "th" else markup, self.styles["cell"]) for tag, markup in row
            ]
            data.append(cells + [""] * (columns - len(cells)))
        header_row = len(rows) > 1 and all(tag == "th" for tag, _markup in rows[0])
        commands: list[tuple] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
        if not table["classes"] & _PLAIN_TABLE_CLASSES:
            commands.append(("GRID", (0, 0), (-1, -1), 0.5, colors.grey))
            if header_row:
                commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")))
        pdf_table = Table(data, colWidths=col_widths, repeatRows=1 if header_row else 0, hAlign="LEFT")
        pdf_table.setStyle(TableStyle(commands))
        self.flowables += [pdf_table, Spacer(1, 8)]

    def build(self, markup: str) -> list[Any]:
        self.feed(markup)
        self.close()
        while self.tables:
            self._table_end()
        self._flush()
        return self.flowables


def render_pdf(document_html: str, *, title: str, footer: str, author: str = "") -> bytes:
    """The document HTML as an A4 PDF (fonts per `pdf_font`), every page footed with `footer` and its number."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    font, _embedded = pdf_font()
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=author,
        creator="Customer Success CRM",
    )
    flowables = _PdfBuilder(_styles(font), doc.width).build(document_html)
    page_label = _("Page %(page)s")

    def draw_footer(canvas, document):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(20 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, page_label % {"page": document.page})
        canvas.restoreState()

    doc.build(flowables, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()


# --- Generating and serving -----------------------------------------------------------------------------------------
def document_url(contract: Contract, fmt: str = "pdf") -> str:
    """The agreed download URL of a contract's document (the contracts app's `contract_document` view)."""
    return f"/contracts/{contract.pk}/document/?format={fmt}"


def render_document_html(template: ContractTemplate, contract: Contract) -> str:
    """The whole document (layout with title, parties, the rendered body and the signature block) as HTML."""
    body = render_template_text(template, contract)
    context = _base_context(contract)
    context.update(
        body=body,
        template_name=template.name,
        language_code=translation.get_language() or settings.LANGUAGE_CODE,
        generated_at=timezone.localtime(),
    )
    return render_to_string(LAYOUT_TEMPLATE, context)


@transaction.atomic
def contract_document_generate(
    *, actor: User | None, contract: Contract, template: ContractTemplate, request=None
) -> Contract:
    """Render the template for the contract and store the result (HTML and PDF) on the contract.

    Runs inside the contract's tenant scope (a request or a tenant task); the template must be of the same tenant
    and active (unless it already is the contract's template). Raises TemplateRenderError for a broken template.
    """
    tenant = current_tenant()
    if tenant is None or tenant.pk != contract.tenant_id or template.tenant_id != contract.tenant_id:
        raise TenantScopeError("contract documents are generated inside the contract's tenant scope")
    if not template.is_active and template.pk != contract.template_id:
        raise ValidationError({"template": [_("This template is inactive.")]})

    document_html = render_document_html(template, contract)
    pdf = render_pdf(
        document_html,
        title=contract.contract_name,
        footer=f"{contract.contract_code}  {contract.contract_name}"[:120],
        author=contract.tenant.name,
    )

    stored = Contract.objects.select_for_update().only("id", "document_pdf", "template").get(pk=contract.pk)
    old_name = stored.document_pdf.name or ""
    old_template = stored.template.name if stored.template_id else ""
    storage = contract.document_pdf.storage
    contract.document_pdf.save(
        get_valid_filename(f"{contract.contract_code or contract.pk}.pdf"), ContentFile(pdf), save=False
    )
    new_name = contract.document_pdf.name
    try:
        contract.document_html = document_html
        contract.template = template
        contract.contract_file_url = document_url(contract, "pdf")
        contract.save(update_fields=["document_html", "document_pdf", "template", "contract_file_url", "updated_at"])
        audit_record(
            action="crm.contract.document_generated",
            actor=actor,
            obj=contract,
            request=request,
            changes={"template": (old_template, template.name)},
        )
    except Exception:
        _delete_file(storage, new_name)
        raise
    if old_name and old_name != new_name:
        # Only once the new document is committed: a rollback keeps the stored row pointing at the old file.
        transaction.on_commit(lambda: _delete_file(storage, old_name))
    return contract


def _delete_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:  # pragma: no cover - the file is gone already, or the disk refuses: not worth failing for
        logger.warning("could not delete old contract document %s", name, exc_info=True)


def document_response(contract: Contract, fmt: str = "pdf", *, download: bool = False) -> HttpResponse:
    """The stored document of the contract: `fmt` "pdf" (application/pdf, `<contract_code>.pdf`) or "html".

    Raises Http404 when the document has not been generated (or the format is unknown). The caller's view must
    have checked that the user may see this contract (fetch it through the visibility selector first).
    """
    fmt = (fmt or "pdf").lower()
    filename = get_valid_filename(contract.contract_code or str(contract.pk))
    if fmt == "html":
        if not contract.document_html:
            raise Http404(_("The contract document has not been generated yet."))
        response = HttpResponse(contract.document_html, content_type="text/html; charset=utf-8")
        # The body is sanitised already; the sandbox also keeps any script from running on our origin.
        response["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        response["X-Content-Type-Options"] = "nosniff"
        if download:
            response["Content-Disposition"] = f'attachment; filename="{filename}.html"'
        return response
    if fmt != "pdf":
        raise Http404(_("Unknown document format."))
    if not contract.document_pdf:
        raise Http404(_("The contract document has not been generated yet."))
    storage = contract.document_pdf.storage
    try:
        handle = storage.open(contract.document_pdf.name, "rb")
    except FileNotFoundError:
        logger.warning("contract %s: document file %s is missing", contract.pk, contract.document_pdf.name)
        raise Http404(_("The contract document has not been generated yet.")) from None
    return FileResponse(handle, content_type="application/pdf", as_attachment=download, filename=f"{filename}.pdf")


__all__ = [
    "TemplateRenderError",
    "compile_template_text",
    "contract_document_generate",
    "document_response",
    "document_url",
    "render_document_html",
    "render_pdf",
    "render_template_text",
    "sanitize_html",
]

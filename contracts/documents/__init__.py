"""Contract documents: a tenant's template rendered for one contract, kept as HTML and as a PDF.

One concern per module:
- `errors`: `TemplateRenderError` (a ValidationError: a 400 in the API, a form error in pages);
- `sandbox`: the template engine user-written text runs in (allow-listed tags and filters, bounded work);
- `context`: the plain values a template sees (amounts masked on request, see `contracts.masking`);
- `sanitize`: rendered text to safe HTML (paragraphs, nh3);
- `render`: body fragment, HTML page and PDF (through the product's PDF engine, `crm_project.pdf`);
- `generate`: the write service storing a contract's document;
- `responses`: serving it (masked for users who may not see amounts).
"""

from contracts.documents.context import format_amount, format_minutes, format_percent, sla_table_html
from contracts.documents.errors import TemplateRenderError
from contracts.documents.generate import contract_document_generate, document_url
from contracts.documents.render import render_document, render_document_html, render_template_text
from contracts.documents.responses import document_response
from contracts.documents.sandbox import (
    MAX_LOOP_DEPTH,
    MAX_LOOP_ITERATIONS,
    RENDER_DEADLINE_SECONDS,
    compile_template_text,
)
from contracts.documents.sanitize import sanitize_html

__all__ = [
    "MAX_LOOP_DEPTH",
    "MAX_LOOP_ITERATIONS",
    "RENDER_DEADLINE_SECONDS",
    "TemplateRenderError",
    "compile_template_text",
    "contract_document_generate",
    "document_response",
    "document_url",
    "format_amount",
    "format_minutes",
    "format_percent",
    "render_document",
    "render_document_html",
    "render_template_text",
    "sanitize_html",
    "sla_table_html",
]

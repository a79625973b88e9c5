"""A template rendered for one contract: the body fragment, the whole document as HTML, and the same as PDF.

The PDF is laid out by the product's one PDF engine (`crm_project.pdf.html_to_pdf`, xhtml2pdf) from the same
content partial as the HTML document, so both hold the same text; the CJK font is the engine's.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString

from contracts.documents.context import Values, base_context
from contracts.documents.errors import TemplateRenderError
from contracts.documents.sandbox import render_budget, render_text
from contracts.documents.sanitize import paragraphs
from contracts.masking import MASKED_NOTICE
from contracts.models import Contract, ContractTemplate
from crm_project.pdf import PdfRenderError, html_to_pdf

HTML_LAYOUT = "contracts/document/contract.html"
PDF_LAYOUT = "contracts/document/contract_pdf.html"


def template_context(
    template: ContractTemplate, contract: Contract, *, show_amounts: bool, show_contact_details: bool | None = None
) -> dict[str, Any]:
    """What a template body sees: customer, contract, provider, amount, start_date, end_date, today, sla_table,
    clauses (each number, title and body; clause texts are templates too, rendered with the same values)."""
    context = base_context(contract, show_amounts=show_amounts, show_contact_details=show_contact_details)
    clauses = []
    links = template.template_clauses.select_related("clause").order_by("position", "id")
    with render_budget():
        for number, link in enumerate(links, start=1):
            clause = link.clause
            body = render_text(clause.body, context, clause=clause.title)
            clauses.append(
                Values(clause.title, number=number, title=clause.title, category=clause.category, body=paragraphs(body))
            )
    context["clauses"] = tuple(clauses)
    return context


def masked_notice_html() -> SafeString:
    return format_html('<p class="masked-notice">{}</p>', MASKED_NOTICE)


def render_template_text(
    template: ContractTemplate, contract: Contract, *, show_amounts: bool, show_contact_details: bool | None = None
) -> SafeString:
    """The template's body rendered for the contract, as sanitised HTML (a fragment, no layout).

    Without `show_amounts` every amount is `***` and the fragment starts with a notice saying so. Raises
    TemplateRenderError when the body or one of its clauses does not compile, render, or stay within the work budget.
    Must run inside the contract's tenant scope (it reads the SLA bindings, clauses and contacts).
    """
    with render_budget():
        context = template_context(
            template, contract, show_amounts=show_amounts, show_contact_details=show_contact_details
        )
        body = paragraphs(render_text(template.body, context))
    if not show_amounts:
        return masked_notice_html() + "\n" + body
    return body


def _layout_context(
    template: ContractTemplate, contract: Contract, *, show_amounts: bool, show_contact_details: bool | None = None
) -> dict[str, Any]:
    body = render_template_text(
        template, contract, show_amounts=show_amounts, show_contact_details=show_contact_details
    )
    context = base_context(contract, show_amounts=show_amounts, show_contact_details=show_contact_details)
    context.update(
        body=body,
        template_name=template.name,
        language_code=translation.get_language() or settings.LANGUAGE_CODE,
        generated_at=timezone.localtime(),
        masked_notice=MASKED_NOTICE,
    )
    return context


def render_document_html(
    template: ContractTemplate, contract: Contract, *, show_amounts: bool, show_contact_details: bool | None = None
) -> str:
    """The whole document (title, parties, the rendered body and the signature block) as an HTML page."""
    return render_to_string(
        HTML_LAYOUT,
        _layout_context(template, contract, show_amounts=show_amounts, show_contact_details=show_contact_details),
    )


def render_document(
    template: ContractTemplate, contract: Contract, *, show_amounts: bool, show_contact_details: bool | None = None
) -> tuple[str, bytes]:
    """(HTML page, PDF bytes) of the document: the body is rendered once and laid out twice."""
    context = _layout_context(template, contract, show_amounts=show_amounts, show_contact_details=show_contact_details)
    document_html = render_to_string(HTML_LAYOUT, context)
    try:
        pdf = html_to_pdf(render_to_string(PDF_LAYOUT, context))
    except PdfRenderError as exc:
        raise TemplateRenderError(str(exc)) from exc
    return document_html, pdf

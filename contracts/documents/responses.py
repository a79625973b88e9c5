"""HTTP responses serving a contract's document, masked for users who may not see amounts.

Users allowed to see amounts get the stored document (the PDF file, or the HTML). Everyone else gets the
document rendered on request from the contract's template with every amount `***` and a notice saying so (the
stored one holds the amount in clear). The caller's view must have checked that the user may see the contract.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from django.http import FileResponse, Http404, HttpResponse
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from accounts.roles import can_see_contact_details
from contracts.documents.errors import TemplateRenderError
from contracts.documents.render import render_document, render_document_html
from contracts.masking import can_see_amount
from contracts.models import Contract

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger("crm.contracts.documents")

FORMATS = ("pdf", "html")
HTML_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _not_generated() -> Http404:
    return Http404(_("The contract document has not been generated yet."))


def _html_response(body: str, filename: str, download: bool) -> HttpResponse:
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    # The body is sanitised already; the sandbox also keeps any script from running on our origin.
    response["Content-Security-Policy"] = HTML_CSP
    response["X-Content-Type-Options"] = "nosniff"
    if download:
        response["Content-Disposition"] = f'attachment; filename="{filename}.html"'
    return response


def _pdf_response(content, filename: str, download: bool) -> FileResponse:
    return FileResponse(content, content_type="application/pdf", as_attachment=download, filename=f"{filename}.pdf")


def _masked_response(
    contract: Contract, fmt: str, filename: str, download: bool, *, show_amounts: bool = False,
    show_contact_details: bool = False,
) -> HttpResponse:  # fmt: skip
    if contract.template_id is None:
        raise _not_generated()
    shown = {"show_amounts": show_amounts, "show_contact_details": show_contact_details}
    try:
        if fmt == "html":
            return _html_response(render_document_html(contract.template, contract, **shown), filename, download)
        _html, pdf = render_document(contract.template, contract, **shown)
    except TemplateRenderError as exc:
        logger.warning("contract %s: masked document failed to render: %s", contract.pk, exc)
        raise _not_generated() from None
    return _pdf_response(io.BytesIO(pdf), filename, download)


def document_response(
    contract: Contract, fmt: str = "pdf", *, user: User | None, download: bool = False
) -> HttpResponse:
    """The document of the contract for `user`: `fmt` "pdf" (application/pdf, `<contract_code>.pdf`) or "html".

    Raises Http404 when the document has not been generated (or the format is unknown). Without the amount
    permission (`contracts.masking.can_see_amount`) the document is masked.
    """
    fmt = (fmt or "pdf").lower()
    if fmt not in FORMATS:
        raise Http404(_("Unknown document format."))
    filename = get_valid_filename(contract.contract_code or str(contract.pk))
    generated = bool(contract.document_html) if fmt == "html" else bool(contract.document_pdf)
    if not generated:
        raise _not_generated()
    if not can_see_amount(user) or not can_see_contact_details(user):
        # The stored document holds amounts and contact details in clear: render a masked one instead.
        return _masked_response(contract, fmt, filename, download, show_amounts=can_see_amount(user),
                                show_contact_details=can_see_contact_details(user))  # fmt: skip
    if fmt == "html":
        return _html_response(contract.document_html, filename, download)
    storage = contract.document_pdf.storage
    try:
        handle = storage.open(contract.document_pdf.name, "rb")
    except FileNotFoundError:
        logger.warning("contract %s: document file %s is missing", contract.pk, contract.document_pdf.name)
        raise _not_generated() from None
    return _pdf_response(handle, filename, download)

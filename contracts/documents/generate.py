"""The write service of documents: render a template for a contract and store the HTML and the PDF on it.

The stored document is the contract itself (amounts in clear); it is served as it is only to users who may see
amounts (see `contracts.documents.responses`). The file lives in `Contract.document_pdf`
(MEDIA_ROOT/contracts/%Y/%m/); the previous PDF of the contract is deleted once the new one is committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from accounts.services import audit_record
from accounts.tenancy import TenantScopeError, current_tenant
from contracts.documents.render import render_document
from contracts.models import Contract, ContractTemplate

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger("crm.contracts.documents")


def document_url(contract: Contract, fmt: str = "pdf") -> str:
    """The agreed download URL of a contract's document (the contracts app's `contract_document` view)."""
    return f"/contracts/{contract.pk}/document/?format={fmt}"


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

    document_html, pdf = render_document(template, contract, show_amounts=True)

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

"""Staff pages for contracts, one module per feature (URL names in contracts/urls.py).

Reads go through contracts.selectors (a contract whose customer the user may not see is a 404, like a
missing one); writes call contracts.services and show what they refuse as form errors or messages.
Amounts are shown only through contracts.masking.
"""

from contracts.views.billing import invoice_save, payment_save
from contracts.views.changes import approval_queue, change_request_create, change_request_decide
from contracts.views.create import contract_create
from contracts.views.detail import contract_detail, version_diff
from contracts.views.documents import contract_document, contract_generate
from contracts.views.edit import contract_edit
from contracts.views.lifecycle import contract_renew, contract_sign, contract_terminate
from contracts.views.lists import contract_export, contract_list
from contracts.views.milestones import milestone_done, milestone_save
from contracts.views.renewals import renewal_export, renewal_pipeline
from contracts.views.sla import sla_save
from contracts.views.tab import customer_contracts_tab_context

__all__ = [
    "approval_queue",
    "change_request_create",
    "change_request_decide",
    "contract_create",
    "contract_detail",
    "contract_document",
    "contract_edit",
    "contract_export",
    "contract_generate",
    "contract_list",
    "contract_renew",
    "contract_sign",
    "contract_terminate",
    "customer_contracts_tab_context",
    "invoice_save",
    "milestone_done",
    "milestone_save",
    "payment_save",
    "renewal_export",
    "renewal_pipeline",
    "sla_save",
    "version_diff",
]

"""The create-from-template wizard: (1) customer, template, terms; (2) SLA table and preview."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from contracts import services
from contracts.choices import ContractType, RenewalType
from contracts.documents import contract_document_generate
from contracts.forms import (
    ContractWizardForm,
    SlaTableForm,
)
from contracts.views.common import (
    ADD,
    _sla_aliases,
    apply_service_errors,
)
from crm_project.ui import error_text
from customers.selectors import customers_visible_to


def _render_wizard(request, step: int, form, sla_form=None, status: int = 200):
    context = {"step": step, "form": form, "sla_form": sla_form}
    if step == 2:
        cleaned = form.cleaned_data
        context["preview"] = {
            "customer": cleaned["customer"],
            "template": cleaned.get("template"),
            "sla_policy": cleaned.get("sla_policy"),
            "contract_type": ContractType(cleaned["contract_type"]).label,
            "renewal_type": RenewalType(cleaned["renewal_type"]).label,
        }
    return render(request, "contracts/contract_wizard.html", context, status=status)


@login_required
@permission_required(ADD, raise_exception=True)
def contract_create(request):
    """New contract in two steps: (1) customer, template, terms; (2) SLA table and preview; then one
    transaction creates the contract, its SLA bindings and (with a template) its document."""
    user = request.user
    if request.method != "POST":
        initial = {"renewal_notice_days": 90}
        customer_id = request.GET.get("customer")
        if customer_id:
            customer = customers_visible_to(user).filter(pk=customer_id if str(customer_id).isdigit() else 0).first()
            if customer is None:
                raise Http404(_("No such customer."))
            initial["customer"] = customer.pk
        return _render_wizard(request, 1, ContractWizardForm(user=user, initial=initial, prefix="terms"))

    step = request.POST.get("step", "1")
    form = ContractWizardForm(request.POST, user=user, prefix="terms")
    if not form.is_valid():
        return _render_wizard(request, 1, form, status=400)
    if step == "back":
        return _render_wizard(request, 1, form)
    policy = form.cleaned_data.get("sla_policy")
    if step == "1":
        try:
            services.contract_validate(actor=user, customer=form.cleaned_data["customer"], data=form.service_data())
        except ValidationError as exc:
            apply_service_errors(exc, form)
            return _render_wizard(request, 1, form, status=400)
        except PermissionDenied as exc:
            form.add_error(None, error_text(exc))
            return _render_wizard(request, 1, form, status=400)
        sla_form = SlaTableForm(initial=SlaTableForm.initial_for(policy=policy), prefix="sla")
        return _render_wizard(request, 2, form, sla_form)

    sla_form = SlaTableForm(request.POST, prefix="sla")
    if not sla_form.is_valid():
        return _render_wizard(request, 2, form, sla_form, status=400)
    template = form.cleaned_data.get("template")
    priority = None
    try:
        with transaction.atomic():
            contract = services.contract_create(
                actor=user, customer=form.cleaned_data["customer"], data=form.service_data(), request=request
            )
            for priority, data in sla_form.bindings(policy).items():  # noqa: B007 (names the failing row)
                services.sla_binding_set(actor=user, contract=contract, priority=priority, data=data, request=request)
            priority = None
            if template is not None:
                contract_document_generate(actor=user, contract=contract, template=template, request=request)
    except ValidationError as exc:
        if priority is not None:
            apply_service_errors(exc, sla_form, _sla_aliases(priority))
            return _render_wizard(request, 2, form, sla_form, status=400)
        apply_service_errors(exc, form)
        return _render_wizard(request, 1, form, status=400)
    except PermissionDenied as exc:
        form.add_error(None, error_text(exc))
        return _render_wizard(request, 1, form, status=400)
    messages.success(request, _("Contract %(code)s created as a draft.") % {"code": contract.contract_code})
    return redirect("contracts:contract_detail", pk=contract.pk)

"""Staff pages for contracts: list and export, the contract page with its sections and actions, the
create-from-template wizard, the approval queue, the renewal pipeline and the customer page's Contracts tab.

Reads go through contracts.selectors (a contract whose customer the user may not see is a 404, like a
missing one); writes call contracts.services and show what they refuse as form errors or messages.
Amounts are shown only through services.masked_amount / can_see_amount.
"""

from __future__ import annotations

import copy
import csv
import importlib
import io
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError as SortError

from contracts import selectors, services
from contracts.choices import ContractStatus, ContractType, MilestoneStatus, RenewalType, TicketPriority
from contracts.filtersets import ContractFilterSet
from contracts.forms import (
    ChangeRequestForm,
    ContractTermsForm,
    ContractWizardForm,
    DecisionForm,
    GenerateDocumentForm,
    InvoiceForm,
    MilestoneForm,
    PaymentForm,
    SlaTableForm,
    TerminateForm,
)
from contracts.models import Contract
from contracts.services import IllegalTransition, can_see_amount, masked_amount
from crm_project.api.sorting import parse_sort
from crm_project.exports import neutralise
from crm_project.ui import error_text, safe_next
from customers.selectors import customers_visible_to

VIEW = "contracts.view_contract"
ADD = "contracts.add_contract"
CHANGE = "contracts.change_contract"
SIGN = "contracts.sign_contract"
REQUEST_CHANGE = "contracts.add_changerequest"
APPROVE = "contracts.approve_changerequest"
AMOUNT = "contracts.view_contract_amount"
EXPORT = "customers.export_customer"
# Invoices and payments: finance (and admins / leads), i.e. whoever may change contracts and see amounts.
INVOICE = (CHANGE, AMOUNT)

PAGE_SIZE = 25
PIPELINE_PAGE_SIZE = 50
MASK = "***"
SORT_FIELDS = {
    "code": "contract_code",
    "name": "contract_name",
    "customer": "customer__customer_name",
    "end_date": "end_date",
    "start_date": "start_date",
    "status": "status",
    "created_at": "created_at",
}
AMOUNT_SORT = {"amount": "contract_amount"}
DEFAULT_SORT = ["-created_at"]
RENEWAL_WINDOWS = (30, 60, 90, 180)
DEFAULT_WINDOW = 90
PIPELINE_SORT_FIELDS = {
    "customer": "customer__customer_name",
    "contract": "contract_code",
    "end_date": "end_date",
    "days_left": "end_date",
    "owner": "customer__assigned_manager__display_name",
    "last_contact": "customer__last_contact_date",
    "probability": None,  # computed per row, sorted in Python
}
PIPELINE_DEFAULT_SORT = ["end_date"]
STATUS_BADGES = {
    ContractStatus.DRAFT: "badge-muted",
    ContractStatus.ACTIVE: "badge-success",
    ContractStatus.EXPIRED: "badge-warning",
    ContractStatus.TERMINATED: "badge-danger",
}
_TERM_CHOICES = {"status": ContractStatus, "contract_type": ContractType, "renewal_type": RenewalType}


# --- Helpers --------------------------------------------------------------------------------------------------------
# What a service raises to refuse an action; shown to the user as an error message.
REFUSALS = (IllegalTransition, ValidationError, PermissionDenied)


def _visible_or_404(user, pk, *, detail: bool = False) -> Contract:
    contract = selectors.contract_get_visible(user, pk, detail=detail)
    if contract is None:
        raise Http404(_("No such contract."))
    return contract


def _detail_url(contract: Contract, anchor: str = "") -> str:
    return reverse("contracts:contract_detail", args=[contract.pk]) + (f"#{anchor}" if anchor else "")


def _field_label(name: str) -> str:
    try:
        return str(capfirst(Contract._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:
        return capfirst(name.replace("_", " "))


def apply_service_errors(exc: ValidationError, form, aliases: dict[str, str] | None = None) -> None:
    """Put a service ValidationError next to the fields it names; unknown keys become form-level errors."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for key, messages_ in exc.message_dict.items():
        field = (aliases or {}).get(key, key)
        if field == NON_FIELD_ERRORS:
            field = None
        if field is not None and field not in form.fields:
            messages_ = [f"{_field_label(key)}: {message}" for message in messages_]
            field = None
        for message in messages_:
            form.add_error(field, message)


def _wants_partial(request) -> bool:
    """An htmx swap (not htmx restoring a page from history, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _query_without(request, *keys: str):
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params


def _with_amounts(contracts: Iterable[Contract], user) -> list[Contract]:
    """Attach `amount_shown` (the amount, or *** without the permission) to every contract."""
    rows = list(contracts)
    for contract in rows:
        contract.amount_shown = masked_amount(contract, user)
    return rows


def _term_value(name: str, value: Any, see_amount: bool) -> Any:
    """A stored term (snapshot / change request) as shown to this user."""
    if value in (None, ""):
        return "—"
    if name == "contract_amount" and not see_amount:
        return MASK
    choices = _TERM_CHOICES.get(name)
    if choices is not None:
        try:
            return choices(int(value)).label
        except (TypeError, ValueError):
            return value
    return value


def _change_rows(changes: dict, see_amount: bool) -> list[dict[str, Any]]:
    rows = []
    for name, pair in (changes or {}).items():
        old, new = (pair.get("old"), pair.get("new")) if isinstance(pair, dict) else (None, pair)
        rows.append(
            {
                "name": name,
                "label": _field_label(name),
                "old": _term_value(name, old, see_amount),
                "new": _term_value(name, new, see_amount),
            }
        )
    return rows


def _csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> HttpResponse:
    """UTF-8 CSV with a BOM (Excel), every text cell neutralised against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _documents():
    """contracts.documents is written separately (PDF/HTML rendering); import it only when needed."""
    return importlib.import_module("contracts.documents")


# --- List and export ------------------------------------------------------------------------------------------------
def _sort_fields(user) -> dict[str, str]:
    return {**SORT_FIELDS, **AMOUNT_SORT} if can_see_amount(user) else dict(SORT_FIELDS)


def _ordering(request, allowed: dict[str, str], default: list[str]) -> list[str]:
    try:
        ordering = parse_sort(request.GET.get("sort"), allowed, default)
    except SortError:
        messages.warning(request, _("That column cannot be sorted; showing the default order."))
        ordering = list(default)
    return [*ordering, "-pk" if ordering and ordering[0].startswith("-") else "pk"]


def _filtered_contracts(request):
    base = selectors.contract_list_queryset(request.user)
    filterset = ContractFilterSet(request.GET, queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    return filterset, queryset


def _style_filter_form(form, user) -> None:
    """Presentation only: placeholders, "All" instead of dashes, a customer picker."""
    form.fields["q"].widget.attrs.update(
        {"placeholder": _("Code, name or customer"), "type": "search", "autocomplete": "off"}
    )
    form.fields["status"].widget.choices = [("", _("All")), *ContractStatus.choices]
    form.fields["contract_type"].widget.choices = [("", _("All")), *ContractType.choices]
    customers = (
        customers_visible_to(user)
        .filter(pk__in=selectors.contracts_visible_to(user).values("customer_id"))
        .order_by("customer_name")
        .values_list("pk", "customer_name")
    )
    form.fields["customer"].widget = forms.Select(
        choices=[("", _("All")), *((str(pk), name) for pk, name in customers)]
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def contract_list(request):
    """Contracts the user may see: filters (kept in the URL), sortable columns, pagination, CSV export."""
    user = request.user
    ordering = _ordering(request, _sort_fields(user), DEFAULT_SORT)
    filterset, queryset = _filtered_contracts(request)
    page_obj = Paginator(queryset.order_by(*ordering), PAGE_SIZE).get_page(request.GET.get("page"))
    page_obj.object_list = _with_amounts(page_obj.object_list, user)
    _style_filter_form(filterset.form, user)
    export_query = _query_without(request, "page").urlencode()
    context = {
        "filter_form": filterset.form,
        "page_obj": page_obj,
        "page_range": page_obj.paginator.get_elided_page_range(page_obj.number, on_each_side=1, on_ends=1),
        "filters_active": bool(_query_without(request, "sort", "page")),
        "see_amount": can_see_amount(user),
        "can_export": user.has_perm(EXPORT),
        "export_url": reverse("contracts:contract_export") + (f"?{export_query}" if export_query else ""),
        "status_badges": STATUS_BADGES,
        "partial": _wants_partial(request),
    }
    template = "contracts/_contract_results.html" if context["partial"] else "contracts/contract_list.html"
    return render(request, template, context)


@login_required
@permission_required((VIEW, EXPORT), raise_exception=True)
def contract_export(request):
    """The current filtered and sorted list as CSV; amounts masked without the permission."""
    user = request.user
    ordering = _ordering(request, _sort_fields(user), DEFAULT_SORT)
    _filterset, queryset = _filtered_contracts(request)
    header = [
        _("Contract code"),
        _("Contract name"),
        _("Customer code"),
        _("Customer"),
        _("Contract type"),
        _("Amount"),
        _("Currency"),
        _("Start date"),
        _("End date"),
        _("Status"),
        _("Renewal type"),
    ]
    rows = (
        [
            contract.contract_code,
            contract.contract_name,
            contract.customer.customer_code,
            contract.customer.customer_name,
            str(contract.get_contract_type_display()),
            masked_amount(contract, user),
            contract.currency,
            contract.start_date.isoformat(),
            contract.end_date.isoformat(),
            str(contract.get_status_display()),
            str(contract.get_renewal_type_display()),
        ]
        for contract in queryset.order_by(*ordering)
    )
    stamp = timezone.localdate().strftime("%Y%m%d")
    return _csv_response(f"contracts-{stamp}.csv", header, rows)


# --- Contract page --------------------------------------------------------------------------------------------------
def _detail_context(request, contract: Contract, **forms_) -> dict[str, Any]:
    user = request.user
    see = can_see_amount(user)
    today = timezone.localdate()
    contract.amount_shown = masked_amount(contract, user)
    probability, reasons = services.renewal_probability(contract)
    status = contract.status
    successor = selectors.contract_successor(contract) if status != ContractStatus.DRAFT else None

    versions = list(contract.versions.all())
    version_rows = [
        {
            "version": version,
            "diff_url": reverse("contracts:version_diff", args=[contract.pk, version.version])
            if version.version > 1
            else None,
        }
        for version in versions
    ]
    change_rows = [
        {"change": change, "rows": _change_rows(change.changes, see), "own": change.requested_by_id == user.pk}
        for change in contract.change_requests.all()
    ]
    milestones = list(contract.milestones.all())
    for milestone in milestones:
        milestone.overdue = milestone.status == MilestoneStatus.PENDING and milestone.due_date < today
    bindings = {binding.priority: binding for binding in contract.sla_bindings.all()}
    sla_rows = [
        {"priority": value, "label": label, "binding": bindings.get(value)} for value, label in TicketPriority.choices
    ]
    invoices = list(contract.invoices.all())
    for invoice in invoices:
        invoice.amount_shown = invoice.amount if see else MASK
        invoice.payment_rows = [
            {"payment": payment, "amount_shown": payment.amount if see else MASK} for payment in invoice.payments.all()
        ]

    can_change = user.has_perm(CHANGE)
    can_invoice = user.has_perms(INVOICE)
    context = {
        "contract": contract,
        "customer": contract.customer,
        "see_amount": see,
        "status_badges": STATUS_BADGES,
        "probability": probability,
        "probability_percent": round(probability * 100),
        "probability_reasons": reasons,
        "successor": successor,
        "version_rows": version_rows,
        "change_rows": change_rows,
        "milestones": milestones,
        "sla_rows": sla_rows,
        "invoices": invoices,
        "today": today,
        "can_sign": status == ContractStatus.DRAFT and user.has_perm(SIGN),
        "can_terminate": status == ContractStatus.ACTIVE and user.has_perm(SIGN),
        "can_renew": status in (ContractStatus.ACTIVE, ContractStatus.EXPIRED)
        and user.has_perm(SIGN)
        and successor is None,
        "can_request_change": status == ContractStatus.ACTIVE and user.has_perm(REQUEST_CHANGE),
        "can_edit": status == ContractStatus.DRAFT and can_change,
        "can_approve": user.has_perm(APPROVE),
        "can_change": can_change,
        "can_invoice": can_invoice,
        "has_html": bool(contract.document_html),
        "has_pdf": bool(contract.document_pdf),
        "terminate_form": forms_.get("terminate_form") or TerminateForm(),
        "milestone_form": forms_.get("milestone_form") or MilestoneForm(tenant=request.tenant, prefix="milestone"),
        "sla_form": forms_.get("sla_form")
        or SlaTableForm(initial=SlaTableForm.initial_for(bindings=bindings.values()), prefix="sla"),
        "invoice_form": forms_.get("invoice_form") or InvoiceForm(prefix="invoice"),
        "payment_form": forms_.get("payment_form") or PaymentForm(prefix="payment"),
        "generate_form": forms_.get("generate_form") or GenerateDocumentForm(),
        "next_url": request.get_full_path(),
    }
    return context


def _render_detail(request, contract: Contract, *, status: int = 200, **forms_):
    contract = _visible_or_404(request.user, contract.pk, detail=True)  # re-read: a failed write changed nothing
    return render(
        request, "contracts/contract_detail.html", _detail_context(request, contract, **forms_), status=status
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def contract_detail(request, pk: int):
    contract = _visible_or_404(request.user, pk, detail=True)
    return render(request, "contracts/contract_detail.html", _detail_context(request, contract))


@login_required
@permission_required(VIEW, raise_exception=True)
def version_diff(request, pk: int, version: int):
    """What changed between a version and the one before it (services.version_diff)."""
    contract = _visible_or_404(request.user, pk)
    if version < 2:
        raise Http404(_("The first version has nothing to compare with."))
    try:
        diff = services.version_diff(contract, version - 1, version)
    except ValidationError:
        raise Http404(_("No such version.")) from None
    see = can_see_amount(request.user)
    rows = [
        {"label": _field_label(name), "old": _term_value(name, old, see), "new": _term_value(name, new, see)}
        for name, (old, new) in diff.items()
    ]
    context = {"contract": contract, "version": version, "previous": version - 1, "diff_rows": rows}
    template = "contracts/_version_diff.html" if _wants_partial(request) else "contracts/version_diff.html"
    return render(request, template, context)


# --- Create (wizard) and edit ---------------------------------------------------------------------------------------
class _DryRun(Exception):
    """Raised inside a savepoint to undo a trial create."""


def _check_terms(request, form: ContractWizardForm) -> None:
    """Let services.contract_create judge the terms (amount, dates, currency) without keeping anything."""
    try:
        with transaction.atomic():
            services.contract_create(
                actor=request.user, customer=form.cleaned_data["customer"], data=form.service_data()
            )
            raise _DryRun
    except _DryRun:
        pass


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
            _check_terms(request, form)
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
                _documents().contract_document_generate(
                    actor=user, contract=contract, template=template, request=request
                )
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


def _sla_aliases(priority: str) -> dict[str, str]:
    return {
        "first_response_minutes": f"{priority}_first_response_minutes",
        "resolution_minutes": f"{priority}_resolution_minutes",
    }


@login_required
@permission_required(CHANGE, raise_exception=True)
def contract_edit(request, pk: int):
    """Edit a draft's terms (services.contract_update); an active contract changes through a change request."""
    contract = _visible_or_404(request.user, pk)
    if contract.status != ContractStatus.DRAFT:
        messages.error(request, _("Only a draft can be edited; request a change instead."))
        return redirect(_detail_url(contract))
    form = ContractTermsForm(
        request.POST or None, instance=copy.copy(contract), can_see_amount=can_see_amount(request.user)
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.contract_update(
                    actor=request.user, contract=contract, data=form.service_data(), request=request
                )
            except ValidationError as exc:
                apply_service_errors(exc, form)
            except IllegalTransition as exc:
                messages.error(request, str(exc))
                return redirect(_detail_url(contract))
            else:
                messages.success(request, _("Contract %(code)s saved.") % {"code": contract.contract_code})
                return redirect(_detail_url(contract))
        status = 400
    return render(request, "contracts/contract_form.html", {"form": form, "contract": contract}, status=status)


# --- Lifecycle ------------------------------------------------------------------------------------------------------
@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def contract_sign(request, pk: int):
    contract = _visible_or_404(request.user, pk)
    try:
        services.contract_sign(actor=request.user, contract=contract, request=request)
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Contract %(code)s signed; it is now active.") % {"code": contract.contract_code})
    return redirect(_detail_url(contract))


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def contract_terminate(request, pk: int):
    contract = _visible_or_404(request.user, pk)
    form = TerminateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for the termination."))
        return redirect(_detail_url(contract))
    try:
        services.contract_terminate(
            actor=request.user, contract=contract, reason=form.cleaned_data["reason"], request=request
        )
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Contract %(code)s terminated.") % {"code": contract.contract_code})
    return redirect(_detail_url(contract))


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def contract_renew(request, pk: int):
    contract = _visible_or_404(request.user, pk)
    try:
        successor = services.contract_renew(actor=request.user, contract=contract, request=request)
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("Renewal %(code)s created as a draft for %(start)s – %(end)s.")
            % {
                "code": successor.contract_code,
                "start": successor.start_date.isoformat(),
                "end": successor.end_date.isoformat(),
            },
        )
        return redirect(_detail_url(successor))
    return redirect(_detail_url(contract))


# --- Change requests ------------------------------------------------------------------------------------------------
@login_required
@permission_required(REQUEST_CHANGE, raise_exception=True)
def change_request_create(request, pk: int):
    """Propose new terms for an active contract; nothing changes until another person approves."""
    contract = _visible_or_404(request.user, pk)
    if contract.status != ContractStatus.ACTIVE:
        messages.error(request, _("Only an active contract can be changed by a change request."))
        return redirect(_detail_url(contract))
    see = can_see_amount(request.user)
    form = ChangeRequestForm(request.POST or None, instance=copy.copy(contract), can_see_amount=see)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.change_request_create(
                    actor=request.user,
                    contract=contract,
                    changes=form.changes(),
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
            except ValidationError as exc:
                apply_service_errors(exc, form)
            except IllegalTransition as exc:
                messages.error(request, str(exc))
                return redirect(_detail_url(contract))
            else:
                messages.success(request, _("Change request sent for approval."))
                return redirect(_detail_url(contract, "changes"))
        status = 400
    contract.amount_shown = masked_amount(contract, request.user)
    return render(request, "contracts/change_request_form.html", {"form": form, "contract": contract}, status=status)


@login_required
@permission_required(APPROVE, raise_exception=True)
@require_POST
def change_request_decide(request, pk: int):
    """Approve (applies a new version) or reject (a note is required) a pending change request."""
    change = selectors.change_request_get_visible(request.user, pk)
    if change is None:
        raise Http404(_("No such change request."))
    back = safe_next(request, request.POST.get("next"), reverse("contracts:approval_queue"))
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
        return HttpResponseRedirect(back)
    note = form.cleaned_data["note"]
    try:
        if form.cleaned_data["decision"] == DecisionForm.APPROVE:
            contract = services.change_request_approve(actor=request.user, change=change, note=note, request=request)
            messages.success(
                request,
                _("Change approved: %(code)s is now at version %(version)d.")
                % {"code": contract.contract_code, "version": contract.version},
            )
        else:
            services.change_request_reject(actor=request.user, change=change, note=note, request=request)
            messages.success(request, _("Change rejected."))
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    return HttpResponseRedirect(back)


@login_required
@permission_required(APPROVE, raise_exception=True)
def approval_queue(request):
    """Pending change requests of the contracts the approver may see, oldest first."""
    see = can_see_amount(request.user)
    rows = [
        {"change": change, "rows": _change_rows(change.changes, see), "own": change.requested_by_id == request.user.pk}
        for change in selectors.pending_change_requests(request.user)
    ]
    return render(request, "contracts/approval_queue.html", {"rows": rows, "next_url": request.get_full_path()})


# --- Renewal pipeline -----------------------------------------------------------------------------------------------
def _window(request) -> int:
    try:
        days = int(request.GET.get("window", DEFAULT_WINDOW))
    except (TypeError, ValueError):
        return DEFAULT_WINDOW
    return days if days in RENEWAL_WINDOWS else DEFAULT_WINDOW


def _pipeline_rows(request, contracts: Iterable[Contract]) -> list[dict[str, Any]]:
    today = timezone.localdate()
    rows = []
    for contract in contracts:
        probability, reasons = services.renewal_probability(contract)
        rows.append(
            {
                "contract": contract,
                "customer": contract.customer,
                "days_left": (contract.end_date - today).days,
                "amount": masked_amount(contract, request.user),
                "probability": probability,
                "probability_percent": round(probability * 100),
                "reasons": reasons,
                "owner": contract.customer.assigned_manager,
                "last_contact": contract.customer.last_contact_date,
            }
        )
    return rows


def _pipeline(request):
    """(window, sorted queryset or rows, sort by probability?) of the renewal pipeline."""
    user = request.user
    window = _window(request)
    allowed = {**PIPELINE_SORT_FIELDS, **({"amount": "contract_amount"} if can_see_amount(user) else {})}
    try:
        ordering = parse_sort(request.GET.get("sort"), {k: v or k for k, v in allowed.items()}, PIPELINE_DEFAULT_SORT)
    except SortError:
        messages.warning(request, _("That column cannot be sorted; showing the default order."))
        ordering = list(PIPELINE_DEFAULT_SORT)
    queryset = selectors.renewal_pipeline_queryset(user, today=timezone.localdate(), days=window)
    by_probability = [term for term in ordering if term.lstrip("-") == "probability"]
    if by_probability:
        rows = _pipeline_rows(request, queryset.order_by("end_date", "pk"))
        rows.sort(key=lambda row: row["probability"], reverse=by_probability[0].startswith("-"))
        return window, rows
    ordering.append("-pk" if ordering[0].startswith("-") else "pk")
    return window, queryset.order_by(*ordering)


@login_required
@permission_required(VIEW, raise_exception=True)
def renewal_pipeline(request):
    """Active contracts ending within 30 / 60 / 90 / 180 days, with renewal probability and its reasons."""
    window, items = _pipeline(request)
    page_obj = Paginator(items, PIPELINE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page_obj.object_list)
    if rows and isinstance(rows[0], Contract):
        rows = _pipeline_rows(request, rows)
    page_obj.object_list = rows
    export_query = _query_without(request, "page").urlencode()
    context = {
        "window": window,
        "windows": [{"days": days, "active": days == window, "query": f"?window={days}"} for days in RENEWAL_WINDOWS],
        "page_obj": page_obj,
        "rows": rows,
        "see_amount": can_see_amount(request.user),
        "can_export": request.user.has_perm(EXPORT),
        "export_url": reverse("contracts:renewal_export") + (f"?{export_query}" if export_query else ""),
        "partial": _wants_partial(request),
    }
    template = "contracts/_renewal_results.html" if context["partial"] else "contracts/renewal_pipeline.html"
    return render(request, template, context)


@login_required
@permission_required((VIEW, EXPORT), raise_exception=True)
def renewal_export(request):
    window, items = _pipeline(request)
    rows = items if isinstance(items, list) else _pipeline_rows(request, items)
    header = [
        _("Customer"),
        _("Contract code"),
        _("Contract name"),
        _("End date"),
        _("Days left"),
        _("Amount"),
        _("Currency"),
        _("Renewal probability (%)"),
        _("Reasons"),
        _("Owner"),
        _("Last contact"),
    ]
    lines = (
        [
            row["customer"].customer_name,
            row["contract"].contract_code,
            row["contract"].contract_name,
            row["contract"].end_date.isoformat(),
            row["days_left"],
            row["amount"],
            row["contract"].currency,
            row["probability_percent"],
            "; ".join(str(reason) for reason in row["reasons"]),
            row["owner"].get_display_name() if row["owner"] else "",
            timezone.localtime(row["last_contact"]).strftime("%Y-%m-%d") if row["last_contact"] else "",
        ]
        for row in rows
    )
    return _csv_response(f"renewals-{window}d-{timezone.localdate():%Y%m%d}.csv", header, lines)


# --- Documents ------------------------------------------------------------------------------------------------------
@login_required
@permission_required(VIEW, raise_exception=True)
def contract_document(request, pk: int):
    """Download the contract document (?format=pdf|html)."""
    contract = _visible_or_404(request.user, pk)
    fmt = (request.GET.get("format") or "pdf").lower()
    if fmt not in ("pdf", "html"):
        raise Http404(_("Choose the format pdf or html."))
    return _documents().document_response(contract, fmt, download=request.GET.get("download") == "1")


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def contract_generate(request, pk: int):
    """(Re)generate the contract document from a template."""
    contract = _visible_or_404(request.user, pk)
    form = GenerateDocumentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a template."))
        return redirect(_detail_url(contract, "documents"))
    try:
        with transaction.atomic():
            _documents().contract_document_generate(
                actor=request.user, contract=contract, template=form.cleaned_data["template"], request=request
            )
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Document generated."))
    return redirect(_detail_url(contract, "documents"))


# --- Milestones, SLA, invoices and payments -------------------------------------------------------------------------
@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def milestone_save(request, pk: int):
    """Add a milestone, or update one (`milestone-milestone_id`)."""
    contract = _visible_or_404(request.user, pk, detail=True)
    form = MilestoneForm(request.POST, tenant=request.tenant, prefix="milestone")
    if form.is_valid():
        milestone = None
        milestone_id = form.cleaned_data.get("milestone_id")
        if milestone_id:
            milestone = next((m for m in contract.milestones.all() if m.pk == milestone_id), None)
            if milestone is None:
                raise Http404(_("No such milestone."))
        try:
            services.milestone_save(
                actor=request.user, contract=contract, data=form.service_data(), milestone=milestone, request=request
            )
        except ValidationError as exc:
            apply_service_errors(exc, form)
        else:
            messages.success(request, _("Milestone saved."))
            return redirect(_detail_url(contract, "milestones"))
    return _render_detail(request, contract, status=400, milestone_form=form)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def milestone_done(request, pk: int, milestone_pk: int):
    """Mark a milestone done (one click from the timeline)."""
    contract = _visible_or_404(request.user, pk, detail=True)
    milestone = next((m for m in contract.milestones.all() if m.pk == milestone_pk), None)
    if milestone is None:
        raise Http404(_("No such milestone."))
    try:
        services.milestone_save(
            actor=request.user,
            contract=contract,
            milestone=milestone,
            data={"status": MilestoneStatus.DONE},
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Milestone “%(title)s” done.") % {"title": milestone.title})
    return redirect(_detail_url(contract, "milestones"))


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def sla_save(request, pk: int):
    """Save the SLA table (one binding per filled priority) in one transaction."""
    contract = _visible_or_404(request.user, pk)
    form = SlaTableForm(request.POST, prefix="sla")
    if form.is_valid():
        priority = None
        try:
            with transaction.atomic():
                for priority, data in form.bindings().items():  # noqa: B007 (names the failing row)
                    services.sla_binding_set(
                        actor=request.user, contract=contract, priority=priority, data=data, request=request
                    )
        except ValidationError as exc:
            apply_service_errors(exc, form, _sla_aliases(priority) if priority else None)
        else:
            messages.success(request, _("SLA saved."))
            return redirect(_detail_url(contract, "sla"))
    return _render_detail(request, contract, status=400, sla_form=form)


@login_required
@permission_required(INVOICE, raise_exception=True)
@require_POST
def invoice_save(request, pk: int):
    """Record an invoice (an external id seen before updates that invoice)."""
    contract = _visible_or_404(request.user, pk)
    form = InvoiceForm(request.POST, prefix="invoice")
    if form.is_valid():
        try:
            services.invoice_upsert(actor=request.user, contract=contract, data=form.service_data(), request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except IntegrityError:
            form.add_error("invoice_number", _("An invoice with this number already exists."))
        else:
            messages.success(request, _("Invoice saved."))
            return redirect(_detail_url(contract, "invoices"))
    return _render_detail(request, contract, status=400, invoice_form=form)


@login_required
@permission_required(INVOICE, raise_exception=True)
@require_POST
def payment_save(request, pk: int):
    """Record a payment against one of the contract's invoices; the invoice status follows."""
    contract = _visible_or_404(request.user, pk, detail=True)
    form = PaymentForm(request.POST, prefix="payment")
    if form.is_valid():
        invoice = next((i for i in contract.invoices.all() if i.pk == form.cleaned_data["invoice_id"]), None)
        if invoice is None:
            raise Http404(_("No such invoice."))
        try:
            services.payment_upsert(actor=request.user, invoice=invoice, data=form.service_data(), request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except IntegrityError:
            form.add_error("external_id", _("This payment was already recorded on another invoice."))
        else:
            messages.success(request, _("Payment recorded."))
            return redirect(_detail_url(contract, "invoices"))
    return _render_detail(request, contract, status=400, payment_form=form)


# --- Customer page tab ----------------------------------------------------------------------------------------------
def customer_contracts_tab_context(request, customer) -> dict[str, Any]:
    """Context of the customer page's Contracts tab (template contracts/_customer_contracts_tab.html)."""
    contracts = _with_amounts(selectors.customer_contracts(request.user, customer), request.user)
    today = timezone.localdate()
    active = [c for c in contracts if c.status == ContractStatus.ACTIVE]
    return {
        "customer_contracts": contracts,
        "customer_active_contracts": len(active),
        "customer_next_end": min((c.end_date for c in active if c.end_date >= today), default=None),
        "contract_status_badges": STATUS_BADGES,
        "customer_contracts_url": reverse("contracts:contract_list") + f"?customer={customer.pk}",
        "customer_contract_create_url": reverse("contracts:contract_create") + f"?customer={customer.pk}",
        "customer_see_amount": can_see_amount(request.user),
    }

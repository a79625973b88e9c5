"""The renewal pipeline and its CSV export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError as SortError

from accounts.stepup import step_up_required
from contracts import selectors, services
from contracts.masking import can_see_amount, masked_amount
from contracts.models import Contract
from contracts.views.common import (
    DEFAULT_WINDOW,
    EXPORT,
    PIPELINE_DEFAULT_SORT,
    PIPELINE_PAGE_SIZE,
    PIPELINE_SORT_FIELDS,
    RENEWAL_WINDOWS,
    VIEW,
    csv_response,
    query_without,
    wants_partial,
)
from crm_project.api.sorting import parse_sort
from crm_project.audit import record_export


def _window(request) -> int:
    try:
        days = int(request.GET.get("window", DEFAULT_WINDOW))
    except (TypeError, ValueError):
        return DEFAULT_WINDOW
    return days if days in RENEWAL_WINDOWS else DEFAULT_WINDOW


def _pipeline_rows(request, contracts: Iterable[Contract]) -> list[dict[str, Any]]:
    today = timezone.localdate()
    contracts = list(contracts)
    estimates = services.renewal_estimates(contracts)
    rows = []
    for contract in contracts:
        estimate = estimates[contract.pk]
        probability, reasons = estimate.probability, estimate.reasons
        rows.append(
            {
                "contract": contract,
                "customer": contract.customer,
                "days_left": (contract.end_date - today).days,
                "amount": masked_amount(contract, request.user),
                "probability": probability,
                "probability_percent": round(probability * 100),
                "reasons": reasons,
                "source": estimate.source,
                "source_label": estimate.source_label,
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
    if any(term.lstrip("-") == selectors.AMOUNT for term in ordering):
        return window, selectors.order_by_amount(queryset, ordering)  # encrypted at rest: sorted in Python
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
    export_query = query_without(request, "page").urlencode()
    context = {
        "window": window,
        "windows": [{"days": days, "active": days == window, "query": f"?window={days}"} for days in RENEWAL_WINDOWS],
        "page_obj": page_obj,
        "rows": rows,
        "see_amount": can_see_amount(request.user),
        "can_export": request.user.has_perm(EXPORT),
        "export_url": reverse("contracts:renewal_export") + (f"?{export_query}" if export_query else ""),
        "partial": wants_partial(request),
    }
    template = "contracts/_renewal_results.html" if context["partial"] else "contracts/renewal_pipeline.html"
    return render(request, template, context)


@login_required
@permission_required((VIEW, EXPORT), raise_exception=True)
@step_up_required
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
    response = csv_response(f"renewals-{window}d-{timezone.localdate():%Y%m%d}.csv", header, lines)
    record_export(request, "renewals", object_type="contracts.contract", format="csv", window=window)
    return response

"""Staff pages: level suggestions, the data quality report (with its one-click fixes), the KPI dashboard (XLSX, PDF),
and the customer page's "Grading & data" tab."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import JobRun
from accounts.roles import can_see_amounts
from analytics import decision, grading, kpis, quality, selectors
from analytics.forms import PERIOD_LABELS, KpiFilterForm, QualityFilterForm
from crm_project.exports import xlsx_response
from crm_project.pdf import html_to_pdf
from crm_project.ui import error_text, safe_next
from customers.models import CustomerContact
from customers.selectors import customer_get_visible, customers_visible_to

DECIDE = "analytics.decide_levelsuggestion"
KPI = "analytics.view_kpi_dashboard"
QUALITY = "analytics.view_data_quality"
FIX = "analytics.fix_data_quality"


# --- Level suggestions -------------------------------------------------------------------------------------------
@login_required
@permission_required(DECIDE, raise_exception=True)
def suggestion_list(request):
    see_money = can_see_amounts(request.user)
    rows = list(selectors.pending_suggestions(request.user)[:200])
    items = [{"s": s, "reasons": grading.reason_lines(s, see_money=see_money)} for s in rows]
    return render(request, "analytics/suggestion_list.html", {"items": items})


def _suggestion_or_404(request, pk):
    suggestion = selectors.suggestion_get_visible(request.user, pk)
    if suggestion is None:
        raise Http404
    return suggestion


@login_required
@permission_required(DECIDE, raise_exception=True)
@require_POST
def suggestion_accept(request, pk):
    suggestion = _suggestion_or_404(request, pk)
    try:
        grading.suggestion_accept(actor=request.user, suggestion=suggestion, request=request)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("%(c)s is now %(l)s.")
            % {"c": suggestion.customer.customer_name, "l": suggestion.get_suggested_level_display()},
        )
    return redirect(safe_next(request, request.POST.get("next"), reverse("analytics:suggestion_list")))


@login_required
@permission_required(DECIDE, raise_exception=True)
@require_POST
def suggestion_reject(request, pk):
    suggestion = _suggestion_or_404(request, pk)
    try:
        grading.suggestion_reject(
            actor=request.user, suggestion=suggestion, note=request.POST.get("note", ""), request=request
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Suggestion for %(c)s rejected.") % {"c": suggestion.customer.customer_name})
    return redirect(safe_next(request, request.POST.get("next"), reverse("analytics:suggestion_list")))


# --- Data quality ------------------------------------------------------------------------------------------------
@login_required
@permission_required(QUALITY, raise_exception=True)
def data_quality(request):
    form = QualityFilterForm(request.GET or None, user=request.user)
    customers = customers_visible_to(request.user).filter(deleted_at__isnull=True)
    if form.is_valid() and form.cleaned_data.get("manager"):
        customers = customers.filter(assigned_manager=form.cleaned_data["manager"])
    qualities = quality.customers_quality(customers)
    figures = quality.summary(qualities)
    gaps = [{"key": k, "label": quality.ITEMS[k], "count": n} for k, n in figures["gaps"].items()]
    gaps.sort(key=lambda g: -g["count"])
    runs = []
    if request.user.has_perm("accounts.view_jobrun"):
        runs = list(JobRun.objects.filter(job_name="consistency_check").order_by("-started_at")[:5])
    return render(
        request,
        "analytics/data_quality.html",
        {
            "filter_form": form,
            "figures": figures,
            "gaps": gaps,
            "worst": quality.worst(qualities),
            "may_fix": request.user.has_perm(FIX),
            "may_assign": request.user.has_perm("customers.assign_customer"),
            "runs": runs,
        },
    )


@login_required
@permission_required(FIX, raise_exception=True)
@require_POST
def contact_mark(request, pk):
    contact = CustomerContact.objects.filter(pk=pk).select_related("customer").first()
    if contact is None or customer_get_visible(request.user, contact.customer_id) is None:
        raise Http404
    try:
        quality.contact_mark(
            actor=request.user,
            contact=contact,
            field_name=request.POST.get("field", ""),
            status=request.POST.get("status", ""),
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("%(n)s marked.") % {"n": contact.contact_name})
    return redirect(safe_next(request, request.POST.get("next"), reverse("analytics:data_quality")))


@login_required
@permission_required(FIX, raise_exception=True)
@require_POST
def manager_fill(request, pk):
    customer = customer_get_visible(request.user, pk)
    if customer is None:
        raise Http404
    try:
        owner = quality.manager_fill(actor=request.user, customer=customer, request=request)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, _("%(c)s is now managed by %(u)s.") % {"c": customer.customer_name, "u": owner.get_username()}
        )
    return redirect(safe_next(request, request.POST.get("next"), reverse("analytics:data_quality")))


# --- KPI dashboard -----------------------------------------------------------------------------------------------
def _fmt(value) -> str:
    return "—" if value is None else f"{value:g}"


def kpi_context(request) -> dict[str, Any]:
    form = KpiFilterForm(request.GET or None, user=request.user)
    filters = form.filters()
    customers, applied = selectors.scoped_customers(
        request.user, csm=filters.get("csm"), team=filters.get("team"), segment=filters.get("segment")
    )
    board = kpis.dashboard(customers, period=filters["period"])
    labels = [m["month"].strftime("%Y-%m") for m in board["months"]]
    charts = []
    for indicator in board["indicators"]:
        chart = {
            "type": "line",
            "labels": labels,
            "datasets": [{"label": str(indicator["label"]), "data": indicator["series"]}],
            "targets": [
                {"value": indicator["target"], "label": str(_("Target %(t)s") % {"t": indicator["target_label"]})}
            ]
            if indicator["target"] is not None
            else [],
        }
        charts.append({"id": f"kpi-{indicator['key']}", "chart": chart, "indicator": indicator})
    return {
        "filter_form": form,
        "board": board,
        "charts": charts,
        "labels": labels,
        "period_label": PERIOD_LABELS[board["period"]],
        "applied": applied,
        "generated_at": timezone.localtime(),
    }


@login_required
@permission_required(KPI, raise_exception=True)
def kpi_dashboard(request):
    context = kpi_context(request)
    query = request.GET.urlencode()
    context["xlsx_url"] = reverse("analytics:kpi_export_xlsx") + (f"?{query}" if query else "")
    context["pdf_url"] = reverse("analytics:kpi_export_pdf") + (f"?{query}" if query else "")
    return render(request, "analytics/kpi_dashboard.html", context)


@login_required
@permission_required(KPI, raise_exception=True)
def kpi_export_xlsx(request):
    context = kpi_context(request)
    header = [_("Indicator"), _("Target"), _("Period"), *context["labels"]]
    rows = [[str(i["label"]), str(i["target_label"]), i["value"], *i["series"]] for i in context["board"]["indicators"]]
    return xlsx_response("kpis.xlsx", header, rows, sheet_title="KPI")


@login_required
@permission_required(KPI, raise_exception=True)
def kpi_export_pdf(request):
    context = kpi_context(request)
    html = render_to_string("analytics/kpi_pdf.html", context, request=request)
    response = HttpResponse(html_to_pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="kpis.pdf"'
    return response


# --- Customer tab ------------------------------------------------------------------------------------------------
def customer_tab_context(request, customer) -> dict[str, Any]:
    suggestion = selectors.customer_suggestion(customer)
    qualities = quality.customers_quality(customers_visible_to(request.user).filter(pk=customer.pk))
    return {
        "an_suggestion": suggestion,
        "an_reasons": grading.reason_lines(suggestion, see_money=can_see_amounts(request.user)) if suggestion else [],
        "an_may_decide": request.user.has_perm(DECIDE),
        "an_chain": decision.decision_chain(customer),
        "an_quality": qualities[0] if qualities else None,
        "an_may_fix": request.user.has_perm(FIX),
    }

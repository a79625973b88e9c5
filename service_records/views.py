"""Staff pages: the customer page's Service tab (tickets, SLA cards, trends, reports), a ticket's page with
staff edits and ratings, manual entry, CSV import, NPS entry, report generation with polled progress and
download, and the tenant-wide service-quality page. Reads via selectors, writes via services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm_project.audit import record_export
from crm_project.ui import error_text
from customers.selectors import customer_get_visible
from service_records import selectors, services
from service_records.choices import (
    DIMENSION_LABELS,
    DIMENSIONS,
    NPS_TARGET,
    PERIODS,
    SATISFACTION_TARGET,
    ReportStatus,
    SlaState,
)
from service_records.filtersets import ServiceRecordFilterSet
from service_records.forms import ImportForm, NpsForm, RatingForm, RecordEditForm, RecordForm, ReportForm
from service_records.models import NpsResponse, ServiceRecord

VIEW = "service_records.view_servicerecord"
ADD = "service_records.add_servicerecord"
CHANGE = "service_records.change_servicerecord"
RATE = "service_records.rate_servicerecord"
ADD_NPS = "service_records.add_npsresponse"
ADD_REPORT = "service_records.add_servicereport"
TAB_PAGE_SIZE = 20
SLA_BADGES = {
    SlaState.NONE: "badge-muted",
    SlaState.OK: "badge-success",
    SlaState.AT_RISK: "badge-warning",
    SlaState.BREACHED: "badge-danger",
}


def _customer_or_404(request, pk):
    customer = customer_get_visible(request.user, pk) if 0 < int(pk) < 2**63 else None
    if customer is None:
        raise Http404(_("No such customer."))
    return customer


def _record_or_404(request, pk) -> ServiceRecord:
    record = selectors.record_get_visible(request.user, pk)
    if record is None:
        raise Http404(_("No such service record."))
    return record


def _tab_url(customer) -> str:
    return reverse("customers:customer_detail", args=[customer.pk]) + "?tab=service"


def _period(request) -> str:
    period = request.GET.get("period") or "3m"
    return period if period in PERIODS else "3m"


def _stat_cards(stats: dict[str, Any]) -> list[dict[str, Any]]:
    def shown(value, suffix=""):
        return "—" if value is None else f"{value}{suffix}"

    satisfaction = stats["satisfaction"]
    return [
        {"key": "tickets", "label": _("Tickets"), "value": stats["tickets"],
         "sub": _("%(n)d open") % {"n": stats["open"]}},
        {"key": "first_response", "label": _("First response compliance"),
         "value": shown(stats["first_response_compliance"], "%"),
         "sub": _("median %(m)s min") % {"m": shown(stats["response_minutes"]["median"])}},
        {"key": "resolution", "label": _("Resolution compliance"), "value": shown(stats["resolution_compliance"], "%"),
         "sub": _("p90 %(m)s min") % {"m": shown(stats["resolution_minutes"]["p90"])}},
        {"key": "breaches", "label": _("Breaches"), "value": stats["breaches"], "sub": ""},
        {"key": "satisfaction", "label": _("Satisfaction"), "value": shown(satisfaction["overall"]),
         "sub": _("target %(t)s · %(n)d ratings") % {"t": SATISFACTION_TARGET, "n": satisfaction["responses"]}},
        {"key": "csat", "label": _("CSAT"), "value": shown(stats["csat"], "%"), "sub": ""},
        {"key": "nps", "label": _("NPS"), "value": shown(stats["nps"]),
         "sub": _("target %(t)s · %(n)d answers") % {"t": NPS_TARGET, "n": stats["nps_answers"]}},
    ]  # fmt: skip


def customer_service_tab_context(request, customer) -> dict[str, Any]:
    """Context of the customer page's Service tab (template service_records/_customer_service_tab.html)."""
    period = _period(request)
    stats = selectors.customer_stats(customer, period)
    since = selectors.period_since(period)
    trends = selectors.monthly_trends(
        ServiceRecord.objects.filter(customer=customer), NpsResponse.objects.filter(customer=customer)
    )
    filterset = ServiceRecordFilterSet(request.GET, queryset=ServiceRecord.objects.filter(customer=customer))
    records = filterset.qs if filterset.is_valid() else ServiceRecord.objects.filter(customer=customer)
    page = Paginator(records.order_by("-opened_at", "-id"), TAB_PAGE_SIZE).get_page(request.GET.get("page"))
    start, end = selectors.default_report_period()
    return {
        "sr_period": period,
        "sr_periods": list(PERIODS),
        "sr_stats": stats,
        "sr_cards": _stat_cards(stats),
        "sr_charts": selectors.trend_charts(trends),
        "sr_suggestions": selectors.suggestions(
            ServiceRecord.objects.filter(customer=customer, opened_at__gte=since), stats
        ),
        "sr_filter": filterset,
        "sr_page": page,
        "sr_badges": SLA_BADGES,
        **_archive_context(request, customer),
        "sr_report_form": ReportForm(initial={"period_start": start, "period_end": end}),
        "sr_record_form": RecordForm(initial={"opened_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}),
        "sr_nps_form": NpsForm(customer=customer),
        "sr_import_form": ImportForm(),
        "sr_csv_columns": ", ".join(services.CSV_COLUMNS),
    }


# --- Ticket pages -------------------------------------------------------------------------------------------------
@login_required
@permission_required(VIEW, raise_exception=True)
def record_detail(request, pk: int):
    record = _record_or_404(request, pk)
    edit_form = RecordEditForm(
        initial={
            **{
                name: getattr(record, name)
                for name in ("status", "category", "assignee", "handling_minutes", "solution")
            },
            **{
                name: timezone.localtime(getattr(record, name)).strftime("%Y-%m-%dT%H:%M")
                for name in ("first_response_at", "resolved_at", "closed_at")
                if getattr(record, name)
            },
        }
    )
    rating_form = RatingForm(
        initial={f"satisfaction_{n}": getattr(record, f"satisfaction_{n}") for n in DIMENSIONS}
        | {"satisfaction_comment": record.satisfaction_comment}
    )
    return render(
        request,
        "service_records/record_detail.html",
        {
            "record": record,
            "customer": record.customer,
            "edit_form": edit_form,
            "rating_form": rating_form,
            "sr_badges": SLA_BADGES,
            "ratings": [(DIMENSION_LABELS[n], getattr(record, f"satisfaction_{n}")) for n in DIMENSIONS],
            "page_title": f"{record.external_id} {record.title}",
        },
    )


def _record_post(request, pk: int, form_class, write, done: str):
    """A form posted on a ticket's page (staff edit or rating): validate, write through the service, go back."""
    record = _record_or_404(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("service_records:record_detail", pk=record.pk)
    try:
        write(actor=request.user, record=record, data=form.cleaned_data, request=request)
        messages.success(request, done)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    return redirect("service_records:record_detail", pk=record.pk)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def record_edit(request, pk: int):
    return _record_post(request, pk, RecordEditForm, services.record_update, _("Service record saved."))


@login_required
@permission_required(RATE, raise_exception=True)
@require_POST
def record_rate(request, pk: int):
    return _record_post(request, pk, RatingForm, services.rating_set, _("Rating saved."))


@login_required
@permission_required(ADD, raise_exception=True)
@require_POST
def record_create(request, customer_pk: int):
    customer = _customer_or_404(request, customer_pk)
    form = RecordForm(request.POST)
    if form.is_valid():
        try:
            record = services.record_create(
                actor=request.user, customer=customer, data=form.cleaned_data, request=request
            )
            messages.success(request, _("Service record %(id)s created.") % {"id": record.external_id})
            return redirect("service_records:record_detail", pk=record.pk)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
    else:
        messages.error(
            request,
            " ".join(
                f"{form.fields[k].label if k in form.fields else k}: {e}"
                for k, errors in form.errors.items()
                for e in errors
            ),
        )
    return redirect(_tab_url(customer))


@login_required
@permission_required(ADD, raise_exception=True)
@require_POST
def record_import(request, customer_pk: int):
    customer = _customer_or_404(request, customer_pk)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(_tab_url(customer))
    try:
        result = services.records_import_csv(
            actor=request.user, customer=customer, content=form.cleaned_data["file"].read(), request=request
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect(_tab_url(customer))
    messages.success(
        request, _("Import: %(created)d created, %(updated)d updated, %(failed)d failed.")
        % {"created": result.created, "updated": result.updated, "failed": len(result.failed)},
    )  # fmt: skip
    for failure in result.failed[:20]:
        messages.warning(
            request,
            _("Row %(row)d (%(field)s): %(message)s")
            % {"row": failure["index"] + 2, "field": failure["field"], "message": failure["message"]},
        )
    return redirect(_tab_url(customer))


@login_required
@permission_required(ADD_NPS, raise_exception=True)
@require_POST
def nps_create(request, customer_pk: int):
    customer = _customer_or_404(request, customer_pk)
    form = NpsForm(request.POST, customer=customer)
    if form.is_valid():
        services.nps_record(
            actor=request.user,
            customer=customer,
            contact=form.cleaned_data["contact"],
            score=form.cleaned_data["score"],
            reason=form.cleaned_data["reason"],
            request=request,
        )
        messages.success(request, _("NPS answer recorded."))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(_tab_url(customer))


# --- Reports ------------------------------------------------------------------------------------------------------
def _report_or_404(request, customer, rid):
    report = selectors.report_get_visible(request.user, customer, rid)
    if report is None:
        raise Http404(_("No such report."))
    return report


@login_required
@permission_required(ADD_REPORT, raise_exception=True)
@require_POST
def report_generate(request, customer_pk: int):
    customer = _customer_or_404(request, customer_pk)
    form = ReportForm(request.POST)
    if form.is_valid():
        try:
            services.report_request(
                actor=request.user,
                customer=customer,
                period_start=form.cleaned_data["period_start"],
                period_end=form.cleaned_data["period_end"],
                request=request,
            )
        except ValidationError as exc:
            messages.error(request, error_text(exc))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    if request.htmx:
        return _archive(request, customer)
    return redirect(_tab_url(customer))


def _archive_context(request, customer) -> dict[str, Any]:
    reports = list(selectors.reports_visible_to(request.user).filter(customer=customer)[:12])
    polling = any(report.status in (ReportStatus.PENDING, ReportStatus.RUNNING) for report in reports)
    return {"sr_reports": reports, "sr_polling": polling}


def _archive(request, customer):
    return render(
        request, "service_records/_report_archive.html", {"customer": customer, **_archive_context(request, customer)}
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def report_archive(request, customer_pk: int):
    """htmx polling target: the archive re-renders every 2 s while a report is still being generated."""
    return _archive(request, _customer_or_404(request, customer_pk))


@login_required
@permission_required(VIEW, raise_exception=True)
def report_download(request, customer_pk: int, rid: int, kind: str):
    from service_records.api.views import report_file_response

    customer = _customer_or_404(request, customer_pk)
    report = _report_or_404(request, customer, rid)
    file = report.pdf_file if kind == "pdf" else report.xlsx_file
    if kind not in ("pdf", "xlsx") or report.status != ReportStatus.DONE or not file:
        raise Http404(_("The report file is not ready."))
    response = report_file_response(report, kind)
    record_export(request, "service_report", object_type="service_records.servicereport", report=report.pk,
                  customer=customer.pk, format=kind)  # fmt: skip
    return response


# --- Tenant-wide page ---------------------------------------------------------------------------------------------
@login_required
@permission_required(VIEW, raise_exception=True)
def quality(request):
    period = _period(request)
    overview = selectors.tenant_quality(request.user, period)
    charts = selectors.trend_charts(overview["trends"])
    charts["distribution"] = {
        "type": "bar",
        "labels": ["1", "2", "3", "4", "5"],
        "datasets": [{"label": _("Tickets rated"), "data": overview["distribution"]}],
    }
    return render(
        request,
        "service_records/quality.html",
        {
            "page_title": _("Service quality"),
            "overview": overview,
            "sr_cards": _stat_cards(overview["stats"]),
            "sr_charts": charts,
            "sr_period": period,
            "sr_periods": list(PERIODS),
            "sr_badges": SLA_BADGES,
        },
    )

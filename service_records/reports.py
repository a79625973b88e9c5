"""Service reports: the figures of a customer's period, rendered as PDF (crm_project.pdf, charts as matplotlib
PNG data: URIs) and XLSX (openpyxl). Files are stored through the default storage under MEDIA_ROOT
(`data/media/service_reports/<tenant>/<customer>/`), never served directly: the download view checks access.
"""

from __future__ import annotations

import base64
import io
import logging
from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_project.pdf import SYSTEM_CJK_FONTS, html_to_pdf
from service_records import selectors, services
from service_records.choices import (
    DIMENSION_LABELS,
    DIMENSIONS,
    NPS_TARGET,
    OPEN_STATUSES,
    SATISFACTION_TARGET,
    ReportStatus,
)
from service_records.models import NpsResponse, ServiceRecord, ServiceReport

logger = logging.getLogger(__name__)


def report_context(report: ServiceReport) -> dict[str, Any]:
    """Everything a report shows for its customer and period."""
    customer = report.customer
    lo = selectors.day_start(report.period_start)
    hi = selectors.day_start(report.period_end + timedelta(days=1))
    records = ServiceRecord.objects.filter(customer=customer, opened_at__gte=lo, opened_at__lt=hi)
    nps = NpsResponse.objects.filter(customer=customer, responded_at__gte=lo, responded_at__lt=hi)
    stats = selectors.service_stats(records, nps)
    months = max(
        1,
        (report.period_end.year - report.period_start.year) * 12
        + report.period_end.month
        - report.period_start.month
        + 1,
    )
    trends = selectors.monthly_trends(
        ServiceRecord.objects.filter(customer=customer),
        NpsResponse.objects.filter(customer=customer),
        months=max(months, 3),
        today=report.period_end,
    )
    open_issues = list(
        ServiceRecord.objects.filter(customer=customer, status__in=OPEN_STATUSES, opened_at__lt=hi).order_by(
            "-breached", "opened_at"
        )[:20]
    )
    return {
        "report": report,
        "customer": customer,
        "stats": stats,
        "trends": trends,
        "dimensions": [(name, DIMENSION_LABELS[name], stats["satisfaction"][name]) for name in DIMENSIONS],
        "open_issues": open_issues,
        "suggestions": selectors.suggestions(records, stats),
        "satisfaction_target": SATISFACTION_TARGET,
        "nps_target": NPS_TARGET,
        "generated_at": timezone.localtime(),
    }


# --- Charts -------------------------------------------------------------------------------------------------------
def _font_properties():
    from pathlib import Path

    from matplotlib import font_manager

    for path, _index in SYSTEM_CJK_FONTS:
        if Path(path).is_file() and path.endswith((".ttc", ".ttf")):
            try:
                return font_manager.FontProperties(fname=path)
            except (OSError, RuntimeError):
                continue
    return None


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def trend_chart_png(trends: dict[str, Any]) -> tuple[str, str]:
    """(satisfaction trend, NPS trend) as PNG data: URIs with the targets as dashed lines (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    font = _font_properties()
    labels = trends["labels"]
    positions = list(range(len(labels)))
    out = []
    for kind in ("satisfaction", "nps"):
        figure = Figure(figsize=(7, 2.6))
        axes = figure.subplots()
        if kind == "satisfaction":
            for name in DIMENSIONS:
                values = [float("nan") if v is None else v for v in trends["dimensions"][name]]
                axes.plot(positions, values, marker="o", label=str(DIMENSION_LABELS[name]))
            axes.axhline(SATISFACTION_TARGET, linestyle="--", color="#dc2626", linewidth=1)
            axes.set_ylim(0.8, 5.2)
        else:
            values = [float("nan") if v is None else v for v in trends["nps"]]
            axes.plot(positions, values, marker="o", label="NPS")
            axes.axhline(NPS_TARGET, linestyle="--", color="#dc2626", linewidth=1)
            axes.set_ylim(-105, 105)
        axes.set_xticks(positions, labels)
        axes.set_xlim(-0.5, len(labels) - 0.5)
        axes.tick_params(axis="x", labelsize=7, rotation=45)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, prop=font, loc="lower left") if font else axes.legend(fontsize=7, loc="lower left")
        out.append(_png(figure))
    return out[0], out[1]


# --- Files --------------------------------------------------------------------------------------------------------
def render_pdf(context: dict[str, Any]) -> bytes:
    satisfaction_png, nps_png = trend_chart_png(context["trends"])
    html = render_to_string(
        "service_records/pdf/report.html", {**context, "satisfaction_png": satisfaction_png, "nps_png": nps_png}
    )
    return html_to_pdf(html)


def render_xlsx(context: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    stats = context["stats"]
    book = Workbook()
    sheet = book.active
    sheet.title = _("Summary")[:31]
    sheet.append([_("Customer"), context["customer"].customer_name])
    sheet.append([_("Period"), f"{context['report'].period_start} – {context['report'].period_end}"])
    rows = [
        (_("Tickets"), stats["tickets"]),
        (_("Open tickets"), stats["open"]),
        (_("First response compliance (%)"), stats["first_response_compliance"]),
        (_("Resolution compliance (%)"), stats["resolution_compliance"]),
        (_("Breaches"), stats["breaches"]),
        (_("Mean response (minutes)"), stats["response_minutes"]["mean"]),
        (_("Median response (minutes)"), stats["response_minutes"]["median"]),
        (_("P90 response (minutes)"), stats["response_minutes"]["p90"]),
        (_("Mean resolution (minutes)"), stats["resolution_minutes"]["mean"]),
        (_("Median resolution (minutes)"), stats["resolution_minutes"]["median"]),
        (_("P90 resolution (minutes)"), stats["resolution_minutes"]["p90"]),
        (_("CSAT (%)"), stats["csat"]),
        (_("NPS"), stats["nps"]),
    ]
    rows += [(str(label), value) for _name, label, value in context["dimensions"]]
    for row in rows:
        sheet.append([str(row[0]), row[1]])
    trend = book.create_sheet(_("Trend")[:31])
    trend.append([_("Month"), *[str(DIMENSION_LABELS[n]) for n in DIMENSIONS], _("CSAT (%)"), _("NPS"), _("Tickets")])
    trends = context["trends"]
    for index, label in enumerate(trends["labels"]):
        trend.append(
            [label, *[trends["dimensions"][n][index] for n in DIMENSIONS], trends["csat"][index], trends["nps"][index],
             trends["tickets"][index]]
        )  # fmt: skip
    categories = book.create_sheet(_("Categories")[:31])
    categories.append([_("Category"), _("Tickets"), _("Breaches"), _("Satisfaction")])
    for entry in stats["by_category"]:
        categories.append([entry["category"], entry["tickets"], entry["breaches"], entry["satisfaction"]])
    issues = book.create_sheet(_("Open issues")[:31])
    issues.append([_("Ticket"), _("Title"), _("Priority"), _("Status"), _("Opened"), _("Breached")])
    for record in context["open_issues"]:
        issues.append(
            [record.external_id, _cell(record.title), record.priority, record.get_status_display(),
             timezone.localtime(record.opened_at).strftime("%Y-%m-%d %H:%M"), _("yes") if record.breached else ""]
        )  # fmt: skip
    advice = book.create_sheet(_("Suggestions")[:31])
    advice.append([_("Suggestion"), _("Based on"), _("Advice")])
    for item in context["suggestions"]:
        advice.append([str(item["title"]), str(item["figures"]), str(item["advice"])])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: str) -> str:
    """Text cells never start a formula (CSV/XLSX injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def generate(report: ServiceReport) -> ServiceReport:
    """Fill a queued report: figures → PDF → XLSX, with progress the page polls."""
    services.report_mark(report, status=ReportStatus.RUNNING, progress=10)
    try:
        context = report_context(report)
        services.report_mark(report, progress=40)
        pdf = render_pdf(context)
        services.report_mark(report, progress=75)
        xlsx = render_xlsx(context)
        period = f"{report.period_start:%Y%m%d}-{report.period_end:%Y%m%d}"
        stem = f"service-report-{report.customer.customer_code}-{period}-{report.pk}"
        report.pdf_file.save(f"{stem}.pdf", ContentFile(pdf), save=False)
        report.xlsx_file.save(f"{stem}.xlsx", ContentFile(xlsx), save=False)
        ServiceReport.objects.filter(pk=report.pk).update(
            pdf_file=report.pdf_file.name, xlsx_file=report.xlsx_file.name
        )
        services.report_mark(report, status=ReportStatus.DONE, progress=100)
        services.report_generated(report)
    except Exception as exc:
        logger.exception("service report %s failed", report.pk)
        services.report_mark(report, status=ReportStatus.FAILED, error=str(exc) or exc.__class__.__name__)
        raise
    return report


def report_period_label(start: date, end: date) -> str:
    return f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"

"""Staff pages: segment list (with RFM and clusters), segment page (figures, trend, members, export), editor."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import can_see_amounts
from accounts.stepup import step_up_required
from crm_project.exports import streaming_csv_response, xlsx_response
from crm_project.lists import StaffList
from crm_project.ui import query_without
from segments import selectors, services
from segments.filtersets import MemberFilterSet
from segments.forms import SegmentForm
from segments.models import SegmentSnapshot
from segments.rfm import RFM_SEGMENTS
from segments.rules import RuleError, field_catalogue

VIEW = "segments.view_segment"


def _segment_or_404(request, pk):
    segment = selectors.segment_get_visible(request.user, pk)
    if segment is None:
        raise Http404
    return segment


@login_required
@permission_required(VIEW, raise_exception=True)
def segment_list(request):
    segments = selectors.segments_visible_to(request.user).order_by("name", "pk")
    rfm = [
        {**row, "label": RFM_SEGMENTS.get(row["rfm_segment"], row["rfm_segment"])}
        for row in selectors.rfm_summary(request.user)
    ]
    run = selectors.latest_cluster_run()
    chart = {
        "type": "bar",
        "labels": [str(row["label"]) for row in rfm],
        "datasets": [{"label": _("Customers"), "data": [row["n"] for row in rfm]}],
    }
    clusters = []
    if run and run.k:
        clusters = [
            {"index": i, "size": run.sizes[i], "centre": dict(zip(run.features, run.centres[i], strict=False))}
            for i in range(run.k)
        ]
    return render(
        request,
        "segments/segment_list.html",
        {"segments": segments, "rfm": rfm, "rfm_chart": chart, "run": run, "clusters": clusters},
    )


class MemberList(StaffList):
    filterset_class = MemberFilterSet
    sort_fields = {"name": "customer_name", "health": "health_score", "level": "level", "renewal": "next_renewal_date"}
    default_sort = ["customer_name"]
    template_name = "segments/segment_detail.html"
    partial_template_name = "segments/_members.html"

    def __init__(self, request, segment):
        super().__init__(request)
        self.segment = segment

    def get_queryset(self):
        return selectors.segment_members(self.user, self.segment)

    def export_url(self):
        query = query_without(self.request, "page", "format", self.reset_param).urlencode()
        url = reverse("segments:segment_export", args=[self.segment.pk])
        return url + (f"?{query}" if query else "")

    def extra_context(self):
        segment = self.segment
        snapshots = list(SegmentSnapshot.objects.filter(segment=segment).order_by("-day")[:90])[::-1]
        latest = snapshots[-1] if snapshots else None
        see_money = can_see_amounts(self.user)
        trend = {
            "type": "line",
            "labels": [s.day.isoformat() for s in snapshots],
            "datasets": [
                {"label": _("Members"), "data": [s.size for s in snapshots]},
                {"label": _("At risk"), "data": [s.at_risk for s in snapshots]},
            ],
        }
        return {
            "segment": segment,
            "latest": latest,
            "see_money": see_money,
            "churn_risk": round(100 * latest.at_risk / latest.size, 1) if latest and latest.size else None,
            "trend": trend,
            "history": list(selectors.segment_history(segment, self.user)[:20]),
            "may_change": selectors.may_change_segment(self.user, segment),
            "at_risk_health": services.AT_RISK_HEALTH,
            "rules_text": json.dumps(segment.rules, ensure_ascii=False, indent=2),
        }


@login_required
@permission_required(VIEW, raise_exception=True)
def segment_detail(request, pk):
    return MemberList(request, _segment_or_404(request, pk)).response()


@login_required
@permission_required(VIEW, raise_exception=True)
@step_up_required
def segment_export(request, pk):
    segment = _segment_or_404(request, pk)
    rows = MemberList(request, segment).ordered_queryset()
    see_money = can_see_amounts(request.user)
    header = [
        _("Code"),
        _("Customer"),
        _("Industry"),
        _("Level"),
        _("Health score"),
        _("Lifetime value"),
        _("Next renewal"),
    ]

    def data():
        for c in rows.iterator(chunk_size=500):
            yield [
                c.customer_code,
                c.customer_name,
                c.industry,
                c.get_level_display(),
                c.health_score,
                c.ltv if see_money else "***",
                c.next_renewal_date,
            ]

    name = f"segment-{segment.pk}"
    if request.GET.get("format") == "xlsx":
        return xlsx_response(f"{name}.xlsx", header, data())
    return streaming_csv_response(f"{name}.csv", header, data())


def _save(request, form, segment=None):
    data = form.cleaned_data
    try:
        if segment is None:
            return services.segment_create(
                actor=request.user,
                name=data["name"],
                rules=data["rules"],
                description=data["description"],
                is_shared=data["is_shared"],
                request=request,
            )
        return services.segment_update(actor=request.user, segment=segment, data=dict(data), request=request)
    except RuleError as exc:
        form.add_error("rules", f"{exc.path}: {exc.message}")
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    return None


@login_required
@permission_required("segments.add_segment", raise_exception=True)
def segment_create(request):
    form = SegmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        segment = _save(request, form)
        if segment is not None:
            messages.success(request, _("Segment created"))
            return redirect("segments:segment_detail", segment.pk)
    return render(request, "segments/segment_form.html", {"form": form, "fields": field_catalogue()})


@login_required
@permission_required("segments.change_segment", raise_exception=True)
def segment_edit(request, pk):
    segment = _segment_or_404(request, pk)
    if not selectors.may_change_segment(request.user, segment):
        return HttpResponseForbidden()
    initial = {
        "name": segment.name,
        "description": segment.description,
        "is_shared": segment.is_shared,
        "rules": json.dumps(segment.rules, ensure_ascii=False, indent=2),
    }
    form = SegmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form, segment) is not None:
        messages.success(request, _("Segment saved"))
        return redirect("segments:segment_detail", segment.pk)
    return render(
        request, "segments/segment_form.html", {"form": form, "fields": field_catalogue(), "segment": segment}
    )


@login_required
@permission_required("segments.change_segment", raise_exception=True)
@require_POST
def segment_evaluate(request, pk):
    segment = _segment_or_404(request, pk)
    result = services.segment_evaluate_now(actor=request.user, segment=segment, request=request)
    messages.success(
        request,
        _("Re-evaluated: %(members)d members, %(entered)d entered, %(left)d left.") % result,
    )
    return redirect("segments:segment_detail", segment.pk)

"""Staff pages: segment list (with RFM and clusters), segment page (figures, trend, members, export), editor."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import can_see_amounts
from accounts.stepup import step_up_required
from crm_project.audit import record_export
from crm_project.exports import streaming_csv_response, xlsx_response
from crm_project.lists import StaffList
from crm_project.ui import query_without
from segments import campaigns, selectors, services, smart_tags
from segments.filtersets import MemberFilterSet
from segments.forms import CampaignForm, SegmentForm
from segments.models import SegmentSnapshot
from segments.rfm import RFM_SEGMENTS
from segments.rules import RuleError, builder_catalogue, field_catalogue

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
    record_export(request, "segment_members", object_type="segments.segment", segment=segment.pk,
                  format="xlsx" if request.GET.get("format") == "xlsx" else "csv")  # fmt: skip
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
        form.rule_error = {"path": exc.path, "message": exc.message}
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    return None


def _builder(form) -> dict:
    """The condition builder's payload (json_script): field catalogue, translated UI strings, the server's error."""
    return {
        **builder_catalogue(),
        "error": getattr(form, "rule_error", None),
        "text": {
            "and": _("All of (AND)"),
            "or": _("Any of (OR)"),
            "group_op": _("Combine the conditions of this group with"),
            "field": _("Field"),
            "operator": _("Operator"),
            "value": _("Value"),
            "in_help": _("Several values, separated by commas"),
            "true": _("Yes"),
            "false": _("No"),
            "add_condition": _("Add condition"),
            "add_group": _("Add group"),
            "remove_condition": _("Remove condition"),
            "remove_group": _("Remove group"),
            "group": _("Group of conditions"),
            "show_json": _("Edit as JSON"),
            "show_builder": _("Use the condition builder"),
            "bad_json": _("The JSON cannot be shown in the builder; fix it or keep editing it as JSON."),
            "empty_group": _("This group has no conditions yet."),
        },
    }


def _form_page(request, form, segment=None):
    context = {"form": form, "fields": field_catalogue(), "builder": _builder(form), "segment": segment}
    return render(request, "segments/segment_form.html", context)


@login_required
@permission_required("segments.add_segment", raise_exception=True)
def segment_create(request):
    form = SegmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        segment = _save(request, form)
        if segment is not None:
            messages.success(request, _("Segment created"))
            return redirect("segments:segment_detail", segment.pk)
    return _form_page(request, form)


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
    return _form_page(request, form, segment)


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


# --- Tag recommendations (customer page tab) ------------------------------------------------------------------------
def tag_suggestions_tab_context(request, customer) -> dict:
    return {
        "suggestions": smart_tags.suggestions_pending(customer),
        "may_decide": request.user.has_perm("segments.change_tagsuggestion"),
        "categories": smart_tags.TAG_CATEGORIES,
    }


def _decide(request, pk, decide, done_message):
    suggestion = selectors.tag_suggestion_get(request.user, pk)
    if suggestion is None:
        raise Http404
    try:
        decide(actor=request.user, suggestion=suggestion, request=request)
        messages.success(request, done_message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("customers:customer_detail", args=[suggestion.customer_id]) + "?tab=tag_suggestions")


@login_required
@permission_required("segments.change_tagsuggestion", raise_exception=True)
@require_POST
def suggestion_accept(request, pk):
    return _decide(request, pk, smart_tags.suggestion_accept, _("Tag added"))


@login_required
@permission_required("segments.change_tagsuggestion", raise_exception=True)
@require_POST
def suggestion_dismiss(request, pk):
    return _decide(request, pk, smart_tags.suggestion_dismiss, _("Recommendation dismissed"))


# --- Campaigns ------------------------------------------------------------------------------------------------------
CAMPAIGN_VIEW = "segments.view_campaign"


def _campaign_or_404(pk):
    campaign = selectors.campaign_get(pk)
    if campaign is None:
        raise Http404
    return campaign


def _pct(value):
    return None if value is None else round(float(value) * 100, 1)


@login_required
@permission_required(CAMPAIGN_VIEW, raise_exception=True)
def campaign_list(request):
    rows = list(selectors.campaigns_with_figures().order_by("-created_at", "-pk")[:200])
    see_money = can_see_amounts(request.user)
    for row in rows:
        row.conversion = _pct(row.n_converted / row.n_treated) if row.n_treated else None
        revenue = row.treated_revenue or 0
        row.roi = _pct((revenue - row.cost) / row.cost) if row.cost and row.status == "launched" else None
    chart = {
        "type": "bar",
        "labels": [r.name for r in rows if r.status == "launched"],
        "datasets": [
            {"label": _("Conversion rate (%)"), "data": [r.conversion for r in rows if r.status == "launched"]}
        ],
    }
    return render(request, "segments/campaign_list.html", {"campaigns": rows, "chart": chart, "see_money": see_money})


@login_required
@permission_required(CAMPAIGN_VIEW, raise_exception=True)
def campaign_detail(request, pk):
    from django.core.paginator import Paginator

    campaign = _campaign_or_404(pk)
    results = campaigns.campaign_results(campaign)
    members = Paginator(selectors.campaign_members(request.user, campaign), 50).get_page(request.GET.get("page"))
    treated, control = results["treated"], results["control"]
    chart = {
        "type": "bar",
        "labels": [str(_("Responded")), str(_("Converted"))],
        "datasets": [
            {"label": str(_("Treated")), "data": [_pct(treated["response_rate"]), _pct(treated["conversion_rate"])]},
            {"label": str(_("Control")), "data": [_pct(control["response_rate"]), _pct(control["conversion_rate"])]},
        ],
    }
    return render(
        request,
        "segments/campaign_detail.html",
        {
            "campaign": campaign,
            "results": results,
            "rates": {
                "treated_conversion": _pct(treated["conversion_rate"]),
                "control_conversion": _pct(control["conversion_rate"]),
                "treated_response": _pct(treated["response_rate"]),
                "control_response": _pct(control["response_rate"]),
                "uplift": _pct(results["uplift"]),
                "roi": _pct(results["roi"]),
                "incremental_roi": _pct(results["incremental_roi"]),
            },
            "chart": chart,
            "page_obj": members,
            "see_money": can_see_amounts(request.user),
            "progress": campaigns.contact_progress(campaign) if campaign.status == "launched" else None,
        },
    )


@login_required
@permission_required(CAMPAIGN_VIEW, raise_exception=True)
def campaign_export(request, pk):
    campaign = _campaign_or_404(pk)
    see_money = can_see_amounts(request.user)
    results = campaigns.campaign_results(campaign)
    header = [
        _("Code"),
        _("Customer"),
        _("Group"),
        _("E-mail sent"),
        _("Contacted at"),
        _("Responded at"),
        _("Converted on"),
        _("Attributed revenue"),
    ]

    def money(value):
        return value if see_money else "***"

    def data():
        for m in selectors.campaign_members(request.user, campaign).iterator(chunk_size=500):
            yield [
                m.customer.customer_code,
                m.customer.customer_name,
                _("Control") if m.is_control else _("Treated"),
                _("yes") if m.email_sent else _("no"),
                timezone.localtime(m.contacted_at).strftime("%Y-%m-%d %H:%M") if m.contacted_at else "",
                timezone.localtime(m.responded_at).strftime("%Y-%m-%d %H:%M") if m.responded_at else "",
                m.converted_at or "",
                money(m.revenue),
            ]
        yield []
        for key, label in (("treated", _("Treated")), ("control", _("Control"))):
            group = results[key]
            yield [
                label,
                _("members %(n)d, converted %(c)d, conversion rate %(r)s")
                % {"n": group["members"], "c": group["converted"], "r": _pct(group["conversion_rate"])},
                "",
                "",
                "",
                "",
                "",
                money(group["revenue"]),
            ]
        yield [_("Cost"), money(campaign.cost)]
        yield [_("ROI (%)"), _pct(results["roi"]) if see_money else "***"]
        yield [_("Uplift vs control (points)"), _pct(results["uplift"])]
        yield [_("Incremental revenue"), money(results["incremental_revenue"])]

    return xlsx_response(f"campaign-{campaign.pk}.xlsx", header, data())


def _campaign_form(request, campaign=None):
    initial = {}
    if campaign is not None:
        initial = {key: getattr(campaign, key) for key in campaigns.EDITABLE if key not in ("control_seed",)}
    form = CampaignForm(request.POST or None, initial=initial, segments=selectors.segments_visible_to(request.user))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if campaign is None:
                campaign = campaigns.campaign_create(actor=request.user, data=data, request=request)
                messages.success(request, _("Campaign created"))
            else:
                campaigns.campaign_update(actor=request.user, campaign=campaign, data=data, request=request)
                messages.success(request, _("Campaign saved"))
            return redirect("segments:campaign_detail", campaign.pk)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    return render(request, "segments/campaign_form.html", {"form": form, "campaign": campaign})


@login_required
@permission_required("segments.add_campaign", raise_exception=True)
def campaign_create(request):
    return _campaign_form(request)


@login_required
@permission_required("segments.change_campaign", raise_exception=True)
def campaign_edit(request, pk):
    return _campaign_form(request, _campaign_or_404(pk))


@login_required
@permission_required("segments.launch_campaign", raise_exception=True)
@require_POST
def campaign_launch(request, pk):
    campaign = _campaign_or_404(pk)
    try:
        result = campaigns.campaign_launch(actor=request.user, campaign=campaign, request=request)
        messages.success(
            request,
            _(
                "Launched: %(members)d members, %(control)d in the control group; %(emails)d e-mails and %(tasks)d "
                "tasks are being sent in the background."
            )
            % result.__dict__,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("segments:campaign_detail", campaign.pk)


@login_required
@permission_required("segments.change_campaign", raise_exception=True)
@require_POST
def campaign_attribute(request, pk):
    campaign = _campaign_or_404(pk)
    campaigns.campaign_attribute(campaign=campaign)
    messages.success(request, _("Outcomes recomputed"))
    return redirect("segments:campaign_detail", campaign.pk)

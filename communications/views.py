"""Staff pages: the customer's Communications tab (timeline, quick-log, filters, trend), a communication's page,
and the customer's merged timeline with paging."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communications import services
from communications.choices import SENTIMENT_TONES, TYPE_ICONS, FollowUpStatus, Sentiment
from communications.filtersets import CommunicationFilterSet
from communications.forms import CommunicationForm, SentimentForm
from communications.models import Communication, FollowUp
from communications.nlp.lexicon import NEED_PHRASES
from communications.selectors import (
    communication_get_visible,
    customer_communications,
    customer_open_follow_ups,
    customer_trend,
)
from crm_project.ui import error_text
from customers.extensions import customer_timeline
from customers.models import Customer
from customers.selectors import customer_get_visible

VIEW = "communications.view_communication"
ADD = "communications.add_communication"
CHANGE = "communications.change_communication"
DELETE = "communications.delete_communication"
PAGE = 20


NEED_LABELS = {
    "upsell_interest": gettext_lazy("Upsell interest"),
    "renewal_intent": gettext_lazy("Renewal intent"),
    "renewal_risk": gettext_lazy("Renewal risk"),
    "complaint": gettext_lazy("Complaint"),
    "escalation": gettext_lazy("Escalation"),
    "service_issue": gettext_lazy("Service issue"),
    "training_request": gettext_lazy("Training request"),
    "price_concern": gettext_lazy("Price concern"),
    "feature_request": gettext_lazy("Feature request"),
    "referral": gettext_lazy("Advocacy / referral"),
}


def need_labels() -> dict:
    return NEED_LABELS


assert set(need_labels()) == set(NEED_PHRASES)  # every need tag has a label


def _customer_or_404(user, pk) -> Customer:
    customer = customer_get_visible(user, pk)
    if customer is None:
        raise Http404
    return customer


def _communication_or_404(user, pk) -> Communication:
    communication = communication_get_visible(user, pk)
    if communication is None:
        raise Http404
    return communication


def _decorate(rows) -> list[Communication]:
    labels = need_labels()
    for row in rows:
        row.icon = TYPE_ICONS.get(row.communication_type, "")
        row.tone = SENTIMENT_TONES.get(row.sentiment, "") if row.sentiment else ""
        analysis = getattr(row, "analysis", None) if hasattr(row, "analysis") else None
        row.keyword_list = list(analysis.keywords) if analysis else []
        row.need_list = [
            {
                "tag": need.get("tag"),
                "label": labels.get(need.get("tag"), need.get("tag")),
                "evidence": need.get("evidence"),
            }
            for need in (analysis.needs if analysis else [])
        ]
        row.overridden = bool(analysis and analysis.override_sentiment)
    return rows


def _parse_before(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _list_context(request, customer: Customer) -> dict:
    filterset = CommunicationFilterSet(request.GET or None, queryset=customer_communications(request.user, customer))
    rows = (
        filterset.qs if filterset.is_bound and filterset.is_valid() else customer_communications(request.user, customer)
    )
    before = _parse_before(request.GET.get("before"))
    if before is not None:
        rows = rows.filter(communication_date__lt=before)
    page = _decorate(list(rows.order_by("-communication_date", "-id")[: PAGE + 1]))
    older = None
    if len(page) > PAGE:
        page = page[:PAGE]
        query = request.GET.copy()
        query["before"] = page[-1].communication_date.isoformat()
        older = reverse("communications:customer_list", args=[customer.pk]) + "?" + query.urlencode()
    return {
        "comm_filter": filterset.form if filterset.is_bound else CommunicationFilterSet(queryset=rows).form,
        "comm_rows": page,
        "comm_older_url": older,
        "comm_appending": before is not None,
    }


def customer_tab_context(request, customer: Customer) -> dict:
    """Context of the customer page's Communications tab (template communications/_customer_tab.html)."""
    trend = customer_trend(customer)
    context = _list_context(request, customer)
    context.update(
        {
            "comm_form": CommunicationForm(customer=customer) if request.user.has_perm(ADD) else None,
            "comm_follow_ups": list(customer_open_follow_ups(customer)),
            "comm_today": timezone.localdate(),
            "comm_frequency": {
                "type": "bar",
                "labels": trend["labels"],
                "datasets": [{"label": str(_("Communications")), "data": trend["counts"]}],
                "y": {"ticks": {"precision": 0}},
            },
            "comm_sentiment": {
                "type": "line",
                "labels": trend["labels"],
                "datasets": [
                    {"label": str(_("Average sentiment (-1..1)")), "data": trend["scores"], "color": "#16a34a"}
                ],
                "y": {"min": -1, "max": 1, "beginAtZero": False},
                "targets": [{"value": 0, "label": str(_("neutral")), "color": "#9ca3af"}],
            },
            "comm_has_trend": any(trend["counts"]),
        }
    )
    return context


@login_required
@permission_required(VIEW, raise_exception=True)
def customer_list(request, pk: int):
    """htmx: the tab's list (filters applied, or the next older page appended)."""
    customer = _customer_or_404(request.user, pk)
    return render(request, "communications/_list.html", {"customer": customer, **_list_context(request, customer)})


@login_required
@permission_required(ADD, raise_exception=True)
@require_POST
def communication_log(request, pk: int):
    """The quick-log form on the customer page (htmx: the refreshed tab; otherwise back to the tab)."""
    customer = _customer_or_404(request.user, pk)
    form = CommunicationForm(request.POST, customer=customer)
    logged = False
    if form.is_valid():
        try:
            services.communication_create(
                actor=request.user, customer=customer, data=dict(form.cleaned_data), request=request
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            logged = True
    if not request.htmx:
        if logged:
            messages.success(request, _("Communication logged."))
            return redirect(reverse("customers:customer_detail", args=[customer.pk]) + "?tab=communications")
        context = {"customer": customer, "comm_form": form}
        return render(request, "communications/communication_form.html", context, status=400)
    # htmx swaps only 2xx answers: the refreshed tab, with a fresh form or the one with its errors.
    context = {"customer": customer, **customer_tab_context(request, customer)}
    context.update(comm_form=CommunicationForm(customer=customer) if logged else form, comm_logged=logged)
    return render(request, "communications/_customer_tab.html", context)


@login_required
@permission_required(VIEW, raise_exception=True)
def communication_detail(request, pk: int):
    communication = _communication_or_404(request.user, pk)
    _decorate([communication])
    analysis = getattr(communication, "analysis", None) if hasattr(communication, "analysis") else None
    return render(
        request,
        "communications/communication_detail.html",
        {
            "communication": communication,
            "customer": communication.customer,
            "analysis": analysis,
            "follow_ups": list(FollowUp.objects.filter(communication=communication).select_related("staff")),
            "sentiment_form": SentimentForm(initial={"sentiment": analysis.override_sentiment if analysis else None}),
            "auto_label": Sentiment(analysis.auto_sentiment).label if analysis and analysis.auto_sentiment else "",
        },
    )


@login_required
@permission_required(CHANGE, raise_exception=True)
def communication_edit(request, pk: int):
    communication = _communication_or_404(request.user, pk)
    customer = communication.customer
    open_follow_up = FollowUp.objects.filter(communication=communication, status=FollowUpStatus.OPEN).first()
    if request.method == "POST":
        form = CommunicationForm(request.POST, customer=customer)
        if form.is_valid():
            try:
                services.communication_update(
                    actor=request.user, communication=communication, data=dict(form.cleaned_data), request=request
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Communication updated."))
                return redirect("communications:communication_detail", pk=communication.pk)
    else:
        initial = {field: getattr(communication, field) for field in services.COMMUNICATION_FIELDS if field != "staff"}
        initial["communication_date"] = timezone.localtime(communication.communication_date)
        initial["next_action_due"] = open_follow_up.due_date if open_follow_up else None
        form = CommunicationForm(initial=initial, customer=customer)
    return render(
        request,
        "communications/communication_form.html",
        {"comm_form": form, "customer": customer, "communication": communication},
    )


@login_required
@permission_required(DELETE, raise_exception=True)
@require_POST
def communication_delete(request, pk: int):
    communication = _communication_or_404(request.user, pk)
    services.communication_delete(actor=request.user, communication=communication, request=request)
    messages.success(request, _("Communication deleted."))
    return redirect(reverse("customers:customer_detail", args=[communication.customer_id]) + "?tab=communications")


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def communication_sentiment(request, pk: int):
    communication = _communication_or_404(request.user, pk)
    form = SentimentForm(request.POST)
    if form.is_valid():
        services.communication_sentiment_override(
            actor=request.user, communication=communication, sentiment=form.cleaned_data["sentiment"], request=request
        )
        messages.success(request, _("Sentiment updated."))
    else:
        messages.error(request, _("Choose a sentiment."))
    return redirect("communications:communication_detail", pk=communication.pk)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def follow_up_done(request, pk: int):
    follow_up = FollowUp.objects.filter(pk=pk).select_related("communication").first()
    if follow_up is None or communication_get_visible(request.user, follow_up.communication_id) is None:
        raise Http404
    try:
        services.follow_up_complete(actor=request.user, follow_up=follow_up, request=request)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Follow-up done."))
    return redirect(reverse("customers:customer_detail", args=[follow_up.customer_id]) + "?tab=communications")


@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_timeline_page(request, pk: int):
    """The customer's merged timeline (every registered source, newest first) with an "older" link."""
    customer = _customer_or_404(request.user, pk)
    before = _parse_before(request.GET.get("before"))
    entries = customer_timeline(request, customer, before=before, limit=PAGE + 1)
    older = None
    if len(entries) > PAGE:
        entries = entries[:PAGE]
        older = (
            reverse("communications:customer_timeline", args=[customer.pk])
            + "?"
            + urlencode({"before": entries[-1].when.isoformat()})
        )
    context = {"customer": customer, "timeline": entries, "older_url": older, "page_title": customer.customer_name}
    if request.htmx and before is not None:
        return render(request, "communications/_timeline_page_rows.html", context)
    return render(request, "communications/customer_timeline.html", context)

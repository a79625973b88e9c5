"""Staff pages: data-subject requests (list with deadline and status, new request, package download) and the
retention policies with their dry-run report. Tenant admins only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.services import audit_record
from accounts.stepup import needs_step_up, step_up_response
from crm_project.ui import error_text
from privacy import services
from privacy.forms import RequestForm, RetentionForm
from privacy.models import DataSubjectRequest, RetentionPolicy
from privacy.registry import retention_classes

VIEW = "privacy.view_datasubjectrequest"
ADD = "privacy.add_datasubjectrequest"
RETENTION = "privacy.change_retentionpolicy"


def second_factor_gate(request):
    """Every data-subject action taken in the browser asks for a fresh second factor (issue #15, 7.1).

    Returns None when the user may go on, or the step-up prompt to send instead. The API asks session callers the
    same way (`check_api_step_up`); JWT and API-token clients are never asked.
    """
    if needs_step_up(request):
        return step_up_response(request)
    return None


@login_required
@permission_required(VIEW, raise_exception=True)
@require_http_methods(["GET", "POST"])
def request_list(request):
    form = RequestForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm(ADD):
            raise Http404
        gate = second_factor_gate(request)
        if gate is not None:
            return gate
        if form.is_valid():
            contact = services.contact_for_request(request.user, form.cleaned_data["contact_id"])
            if contact is None:
                form.add_error("contact_id", _("No contact with this id."))
            else:
                try:
                    dsr = services.request_create(
                        actor=request.user,
                        kind=form.cleaned_data["kind"],
                        contact=contact,
                        reason=form.cleaned_data.get("reason", ""),
                        changes=form.corrections(),
                        request=request,
                    )
                except ValidationError as exc:
                    messages.error(request, error_text(exc))
                else:
                    messages.success(request, _("Request #%(id)s carried out.") % {"id": dsr.pk})
                    return redirect("privacy:request_list")
    requests_ = DataSubjectRequest.objects.select_related("requested_by").order_by("-created_at", "-id")[:200]
    return render(request, "privacy/request_list.html", {"requests": requests_, "form": form})


@login_required
@permission_required(VIEW, raise_exception=True)
@require_http_methods(["GET"])
def request_package(request, request_id: int):
    dsr = DataSubjectRequest.objects.filter(pk=request_id).first()
    if dsr is None:
        raise Http404
    content = services.package_download(actor=request.user, dsr=dsr, request=request)
    if content is None:
        raise Http404
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="privacy-request-{dsr.pk}.zip"'
    return response


@login_required
@permission_required("privacy.view_retentionpolicy", raise_exception=True)
@require_http_methods(["GET", "POST"])
def retention(request):
    if request.method == "POST":
        if not request.user.has_perm(RETENTION):
            raise Http404
        form = RetentionForm(request.POST)
        if form.is_valid() and form.cleaned_data["data_class"] in retention_classes:
            key = form.cleaned_data["data_class"]
            days = form.cleaned_data["retention_days"]
            with transaction.atomic():
                policy = RetentionPolicy.objects.filter(data_class=key).first()
                old = policy.retention_days if policy else retention_classes.get(key).default_days
                RetentionPolicy.objects.update_or_create(data_class=key, defaults={"retention_days": days})
                audit_record(
                    action="privacy.retention.changed",
                    actor=request.user,
                    obj=request.tenant,
                    changes={key: (old, days)},
                    request=request,
                )
            messages.success(request, _("Retention policy saved."))
            return redirect("privacy:retention")
        messages.error(request, _("Enter a number of days between 1 and 36500."))
    report = services.retention_report(request.tenant)
    return render(request, "privacy/retention.html", {"report": report})

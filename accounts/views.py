"""Staff pages of the accounts app: sign-in, password, notifications, audit log, job runs."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.filtersets import AuditLogFilterSet, JobRunFilterSet
from accounts.models import AuditLog, JobRun, Notification, User
from accounts.services import account_refusal, notification_mark_read

PAGE_SIZE = 25


class LoginForm(AuthenticationForm):
    """Django's sign-in form; the right password on a refused account (deactivated tenant) says why."""

    def clean(self):
        try:
            cleaned = super().clean()
        except ValidationError:
            username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
            user = User.objects.select_related("tenant").filter(username=username).first() if username else None
            if user is not None and password and user.check_password(password):
                refusal = account_refusal(user)
                if refusal is not None:
                    raise ValidationError(refusal, code="refused") from None
            raise
        # A tenant whose identity provider disables password sign-in (superusers are the break-glass accounts).
        from accounts.oidc import local_login_refusal

        refusal = local_login_refusal(self.get_user())
        if refusal is not None:
            raise ValidationError(refusal, code="sso_only")
        return cleaned


class LoginView(auth_views.LoginView):
    """Password step; users with an authenticator continue to the code step (accounts.views_auth)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form):
        from accounts import totp
        from accounts.views_auth import after_password_login, begin_second_step

        user = form.get_user()
        if totp.has_device(user):
            return begin_second_step(self.request, user, self.get_redirect_url())
        response = super().form_valid(form)
        after_password_login(self.request, user)
        return response

    def get_context_data(self, **kwargs):
        from accounts.oidc import active_providers

        context = super().get_context_data(**kwargs)
        context["sso_providers"] = active_providers()
        return context


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("accounts:password_change_done")


def _paginate(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _render_list(request, template, partial, context):
    # An htmx swap (filtering, paging) only needs the results block; a history restore needs the page.
    wants_partial = bool(request.htmx) and not request.htmx.history_restore_request
    return render(request, partial if wants_partial else template, context)


@login_required
def notification_list(request):
    queryset = Notification.objects.filter(recipient=request.user)
    if request.GET.get("unread") == "1":
        queryset = queryset.filter(read_at__isnull=True)
    page_obj = _paginate(request, queryset)
    return _render_list(
        request,
        "accounts/notification_list.html",
        "accounts/_notification_results.html",
        {"page_obj": page_obj, "unread_only": request.GET.get("unread") == "1"},
    )


@login_required
@require_POST
def notification_read(request, pk: int):
    # Someone else's (or another tenant's) notification is a 404, exactly like a missing one.
    notification = get_object_or_404(Notification.objects.filter(recipient=request.user), pk=pk)
    notification_mark_read(user=request.user, notification_id=pk)
    if notification.link and url_has_allowed_host_and_scheme(notification.link, None):
        return redirect(notification.link)
    return redirect("accounts:notifications")


@login_required
@require_POST
def notification_read_all(request):
    count = notification_mark_read(user=request.user)
    messages.success(request, _("%(count)d notifications marked as read.") % {"count": count})
    return redirect("accounts:notifications")


@login_required
@permission_required("accounts.view_auditlog", raise_exception=True)
def audit_log(request):
    filterset = AuditLogFilterSet(request.GET, queryset=AuditLog.objects.select_related("actor"))
    queryset = filterset.qs if filterset.is_valid() else AuditLog.objects.none()
    return _render_list(
        request,
        "accounts/audit_log.html",
        "accounts/_audit_results.html",
        {"filter_form": filterset.form, "page_obj": _paginate(request, queryset)},
    )


@login_required
@permission_required("accounts.view_auditlog", raise_exception=True)
def compliance_report(request):
    """Tenant admins: the audit log of a period counted by category; `?format=csv|xlsx` downloads the entries."""
    from accounts import compliance
    from crm_project.audit import compliance_queryset, compliance_summary, record_export
    from crm_project.exports import streaming_csv_response, xlsx_response

    start, end = compliance.default_period()
    form = compliance.PeriodForm(request.GET or None, initial={"date_from": start, "date_to": end})
    status = 200
    if form.is_bound:
        if form.is_valid():
            start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
        else:
            status = 400
    since, until = compliance.period_bounds(start, end)
    file_format = (request.GET.get("format") or "").lower()
    if status == 200 and file_format in compliance.EXPORT_FORMATS:
        queryset = compliance_queryset(since, until)
        record_export(request, "compliance_report", object_type="accounts.auditlog", format=file_format,
                      period=f"{start.isoformat()}..{end.isoformat()}")  # fmt: skip
        name = f"compliance-{start:%Y%m%d}-{end:%Y%m%d}.{file_format}"
        rows = compliance.export_rows(queryset)
        if file_format == "xlsx":
            return xlsx_response(name, compliance.EXPORT_HEADER, rows, sheet_title="compliance", datetime_columns=[0])
        return streaming_csv_response(name, compliance.EXPORT_HEADER, rows)
    summary = compliance_summary(since, until) if status == 200 else []
    query = f"date_from={start.isoformat()}&date_to={end.isoformat()}"
    return render(
        request,
        "accounts/compliance_report.html",
        {
            "filter_form": form,
            "summary": summary,
            "grand_total": sum(item["total"] for item in summary),
            "period": (start, end),
            "csv_url": f"?{query}&format=csv",
            "xlsx_url": f"?{query}&format=xlsx",
            "audit_url": f"{reverse('accounts:audit_log')}?date_from={start.isoformat()}&date_to={end.isoformat()}",
            "page_title": _("Compliance report"),
        },
        status=status,
    )


@login_required
@permission_required("accounts.view_jobrun", raise_exception=True)
def job_runs(request):
    filterset = JobRunFilterSet(request.GET, queryset=JobRun.objects.all())
    queryset = filterset.qs if filterset.is_valid() else JobRun.objects.none()
    return _render_list(
        request,
        "accounts/job_runs.html",
        "accounts/_job_results.html",
        {"filter_form": filterset.form, "page_obj": _paginate(request, queryset)},
    )

"""Portal pages (mobile first). Every page except sign-in, reset and the one-time link needs a portal account
(`portal_login_required`), runs in its tenant's scope and reads through `portal.selectors` (its customer only)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services import client_ip
from accounts.tenancy import tenant_scope
from portal import auth, forms, selectors, services
from portal.auth import portal_login_required
from portal.models import PortalAccount

MAX_ID = 2**63 - 1


def _object(queryset, pk):
    """One object of the account's own queryset, or 404 (another customer's id looks exactly missing)."""
    if not 0 < int(pk) <= MAX_ID:
        raise Http404
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


def _apply_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/portal/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("portal:home")


# --- Signing in -----------------------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def login(request):
    if auth.current_account(request) is not None:
        return redirect("portal:home")
    form = forms.LoginForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        email = request.POST.get("email", "")[:254]
        ip = client_ip(request) or ""
        if auth.is_locked(email, ip):
            form = forms.LoginForm()
            return render(request, "portal/login.html", {"form": form, "locked": True}, status=429)
        if form.is_valid():
            account = services.authenticate(email=form.cleaned_data["email"], password=form.cleaned_data["password"])
            if account is not None:
                auth.clear_failures(email, ip)
                if account.totp_enabled:
                    request.session[auth.PENDING_2FA_KEY] = account.pk
                    return redirect(f"{reverse('portal:login_code')}?next={_next_url(request)}")
                auth.login(request, account)
                services.login_recorded(account=account, request=request)
                return redirect(_next_url(request))
        failures = auth.record_failure(email, ip)
        services.login_failed(email=email, request=request)
        if failures >= auth.FAILURE_LIMIT:
            return render(request, "portal/login.html", {"form": forms.LoginForm(), "locked": True}, status=429)
        form.add_error(None, _("The e-mail address or the password is not right."))
        status = 200
    return render(request, "portal/login.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def login_code(request):
    """The second step when two-step sign-in is on: a TOTP code (failures count towards the lockout)."""
    from accounts.tenancy import unscoped

    account_id = request.session.get(auth.PENDING_2FA_KEY)
    if not account_id:
        return redirect("portal:login")
    with unscoped("the pending sign-in names its account"):
        account = PortalAccount.objects.select_related("customer", "tenant").filter(pk=account_id).first()
    if account is None or not auth.account_may_enter(account):
        request.session.pop(auth.PENDING_2FA_KEY, None)
        return redirect("portal:login")
    ip = client_ip(request) or ""
    form = forms.CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if auth.is_locked(account.email, ip):
            return render(request, "portal/login.html", {"form": forms.LoginForm(), "locked": True}, status=429)
        if form.is_valid() and services.totp_verify(account, form.cleaned_data["code"]):
            auth.clear_failures(account.email, ip)
            auth.login(request, account)
            services.login_recorded(account=account, request=request)
            return redirect(_next_url(request))
        auth.record_failure(account.email, ip)
        services.login_failed(email=account.email, request=request)
        form.add_error("code", _("The code is not right."))
    return render(request, "portal/login_code.html", {"form": form})


@require_POST
def logout(request):
    account = auth.current_account(request)
    if account is not None:
        with tenant_scope(account.tenant):
            services._audit("crm.portal.logout", account, request=request)
    auth.logout(request)
    return redirect("portal:login")


@require_http_methods(["GET", "POST"])
def password_reset(request):
    form = forms.ResetForm(request.POST if request.method == "POST" else None)
    sent = False
    if request.method == "POST" and form.is_valid():
        services.reset_request(email=form.cleaned_data["email"], request=request)
        sent = True
    return render(request, "portal/password_reset.html", {"form": form, "sent": sent})


@require_http_methods(["GET", "POST"])
def set_password(request, token: str):
    found = services.token_find(token)
    if found is None:
        return render(request, "portal/link_invalid.html", status=404)
    form = forms.PasswordSetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_set(token=found, password=form.cleaned_data["password"], request=request)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Your password is set. Please sign in."))
            return redirect("portal:login")
    return render(request, "portal/set_password.html", {"form": form, "account": found.account})


# --- Pages ------------------------------------------------------------------------------------------------------------
@portal_login_required
def home(request):
    account = request.portal_account
    contract = selectors.current_contract(account)
    return render(
        request,
        "portal/home.html",
        {
            "open_tickets": list(selectors.open_tickets(account)[:10]),
            "recent_reports": list(selectors.reports(account)[:3]),
            "contract": contract,
            "renewal_date": selectors.renewal_date(contract),
            "pending_ratings": list(selectors.pending_ratings(account)[:5]),
            "message": selectors.csm_message(account),
            "nav": "home",
        },
    )


@portal_login_required
def tickets(request):
    status = request.GET.get("status", "")
    queryset = selectors.tickets(request.portal_account)
    if status == "open":
        queryset = queryset.filter(status__in=selectors.OPEN_STATUSES)
    elif status == "done":
        queryset = queryset.exclude(status__in=selectors.OPEN_STATUSES)
    return render(request, "portal/tickets.html", {"tickets": list(queryset[:100]), "status": status, "nav": "tickets"})


def _history(record) -> list[tuple]:
    """Status history from the ticket's own milestones (opened, first response, resolved, closed)."""
    steps = [
        (record.opened_at, _("Opened")),
        (record.first_response_at, _("First response")),
        (record.resolved_at, _("Resolved")),
        (record.closed_at, _("Closed")),
    ]
    return [(when, label) for when, label in steps if when is not None]


@portal_login_required
@require_http_methods(["GET", "POST"])
def ticket_detail(request, ticket_id: int):
    account = request.portal_account
    record = _object(selectors.tickets(account), ticket_id)
    rateable = record.status in selectors.RATEABLE
    form = forms.RatingForm(request.POST if request.method == "POST" else None) if rateable else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                services.ticket_rate(account=account, record=record, data=form.cleaned_data, request=request)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Thank you for your rating."))
                return redirect("portal:ticket_detail", ticket_id=record.pk)
    elif form is not None and record.rated_at:
        form = forms.RatingForm(
            initial={f"satisfaction_{d}": getattr(record, f"satisfaction_{d}") for d in (
                "overall", "response_speed", "professionalism", "resolution_quality")}
            | {"satisfaction_comment": record.satisfaction_comment}
        )  # fmt: skip
    return render(
        request,
        "portal/ticket_detail.html",
        {"ticket": record, "history": _history(record), "form": form, "nav": "tickets"},
    )


@portal_login_required
def request_types(request):
    return render(request, "portal/request_types.html", {"types": forms.REQUEST_TYPES.values(), "nav": "new"})


@portal_login_required
@require_http_methods(["GET", "POST"])
def request_new(request, type_key: str):
    request_type = forms.REQUEST_TYPES.get(type_key)
    if request_type is None:
        raise Http404
    initial = {"title": request.GET.get("title", "")[:200], "description": request.GET.get("description", "")[:2000]}
    form = request_type.form(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            record = services.request_create(
                account=request.portal_account, request_type=request_type, data=form.cleaned_data, request=request
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Your request %(id)s was sent.") % {"id": record.external_id})
            return redirect("portal:ticket_detail", ticket_id=record.pk)
    return render(request, "portal/request_form.html", {"type": request_type, "form": form, "nav": "new"})


@portal_login_required
def bills(request):
    return render(request, "portal/bills.html", {"invoices": list(selectors.invoices(request.portal_account)[:200]),
                                                 "nav": "more"})  # fmt: skip


@portal_login_required
def bill_pdf(request, invoice_id: int):
    from crm_project.pdf import html_to_pdf

    account = request.portal_account
    invoice = _object(selectors.invoices(account), invoice_id)
    html = render_to_string("portal/pdf/invoice.html", {"invoice": invoice, "customer": account.customer})
    services.mark_download(request)
    response = HttpResponse(html_to_pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="invoice-{invoice.pk}.pdf"'
    return response


@portal_login_required
def reports(request):
    return render(request, "portal/reports.html", {"reports": list(selectors.reports(request.portal_account)[:100]),
                                                   "nav": "more"})  # fmt: skip


@portal_login_required
def report_download(request, report_id: int):
    from service_records.api.views import report_file_response

    account = request.portal_account
    report = _object(selectors.reports(account), report_id)
    if not report.pdf_file:
        raise Http404
    services.mark_download(request)
    return report_file_response(report, "pdf")


@portal_login_required
@require_http_methods(["GET", "POST"])
def feedback(request):
    account = request.portal_account
    suggestion = forms.SuggestionForm(request.POST if request.POST.get("form") == "suggestion" else None)
    nps = forms.NpsForm(request.POST if request.POST.get("form") == "nps" else None)
    if request.method == "POST":
        if request.POST.get("form") == "suggestion" and suggestion.is_valid():
            services.suggestion_send(account=account, body=suggestion.cleaned_data["body"], request=request)
            messages.success(request, _("Thank you, your suggestion was sent."))
            return redirect("portal:feedback")
        if request.POST.get("form") == "nps" and nps.is_valid():
            try:
                services.nps_answer(account=account, score=nps.cleaned_data["score"],
                                    reason=nps.cleaned_data["reason"], request=request)  # fmt: skip
            except ValidationError as exc:
                _apply_errors(nps, exc)
            else:
                messages.success(request, _("Thank you for your answer."))
                return redirect("portal:feedback")
    return render(request, "portal/feedback.html", {"suggestion": suggestion, "nps": nps, "nav": "more"})


@portal_login_required
def kb(request):
    from portal.search import search_filter

    form = forms.SearchForm(request.GET or None)
    queryset = selectors.articles()
    query = ""
    if form.is_valid() and form.cleaned_data["q"].strip():
        query = form.cleaned_data["q"].strip()
        queryset = queryset.filter(search_filter(query))
    category = request.GET.get("category", "")
    if category.isdigit():
        queryset = queryset.filter(category_id=int(category))
    return render(request, "portal/kb.html", {"form": form, "articles": list(queryset[:100]), "query": query,
                                              "nav": "help"})  # fmt: skip


@portal_login_required
def kb_article(request, article_id: int):
    article = _object(selectors.articles(), article_id)
    return render(request, "portal/kb_article.html", {"article": article, "nav": "help"})


@portal_login_required
def diagnose(request):
    return render(request, "portal/diagnose.html", {"checklists": list(selectors.checklists()), "nav": "help"})


@portal_login_required
def diagnose_detail(request, checklist_id: int):
    checklist = _object(selectors.checklists(), checklist_id)
    request_type = forms.REQUEST_TYPES.get(checklist.request_type) or forms.REQUEST_TYPES["incident"]
    from urllib.parse import urlencode

    steps = [str(step) for step in (checklist.steps or [])]
    prefill = urlencode({"title": checklist.title[:200], "description": "\n".join(
        _("Tried: %(step)s") % {"step": step} for step in steps)[:2000]})  # fmt: skip
    request_url = reverse("portal:request_new", args=[request_type.key]) + "?" + prefill
    return render(request, "portal/diagnose_detail.html", {"checklist": checklist, "steps": steps,
                                                           "request_url": request_url, "nav": "help"})  # fmt: skip


@portal_login_required
def usage(request):
    """The customer's product usage (health's usage events) and its service requests, as charts with tables."""
    from health.choices import UsageEventType

    account = request.portal_account
    usage = selectors.usage_summary(account)
    labels = dict(UsageEventType.choices)
    usage_spec = {
        "type": "bar",
        "labels": usage["labels"],
        "datasets": [
            {"label": str(labels.get(kind, kind)), "data": values} for kind, values in usage["series"].items()
        ],
    }
    tickets = selectors.monthly_tickets(account)
    tickets_spec = {
        "type": "bar",
        "labels": tickets["labels"],
        "datasets": [{"label": _("Service requests"), "data": tickets["values"]}],
    }
    usage_rows = [
        (month, [usage["series"][kind][i] for kind in usage["series"]]) for i, month in enumerate(usage["labels"])
    ]
    return render(
        request,
        "portal/usage.html",
        {
            "usage": usage,
            "usage_spec": usage_spec,
            "usage_kinds": [labels.get(kind, kind) for kind in usage["series"]],
            "usage_rows": usage_rows,
            "spec": tickets_spec,
            "rows": list(zip(tickets["labels"], tickets["values"], strict=True)),
            "nav": "more",
        },
    )


@portal_login_required
def plan(request):
    return render(request, "portal/plan.html", {"goals": list(selectors.goals(request.portal_account)),
                                                "comment_form": forms.CommentForm(), "nav": "plan"})  # fmt: skip


@portal_login_required
@require_POST
def goal_comment(request, goal_id: int):
    account = request.portal_account
    goal = _object(selectors.goals(account), goal_id)
    form = forms.CommentForm(request.POST)
    if form.is_valid():
        services.goal_comment(goal=goal, body=form.cleaned_data["body"], account=account, request=request)
        messages.success(request, _("Comment added."))
    else:
        messages.error(request, _("The comment is empty or too long."))
    return redirect(reverse("portal:plan") + f"#goal-{goal.pk}")


@portal_login_required
@require_POST
def milestone_done(request, milestone_id: int):
    account = request.portal_account
    milestone = _object(selectors.milestones(account).select_related("goal"), milestone_id)
    try:
        services.milestone_done(milestone=milestone, done=request.POST.get("done") == "1", account=account,
                                request=request)  # fmt: skip
    except ValidationError:
        raise Http404 from None
    return redirect(reverse("portal:plan") + f"#goal-{milestone.goal_id}")


@portal_login_required
@require_http_methods(["GET", "POST"])
def security(request):
    """Turn two-step sign-in (TOTP) on or off."""
    account = request.portal_account
    form = forms.CodeForm(request.POST if request.method == "POST" else None)
    secret = request.session.get("portal_totp_setup") or services.totp_new_secret()
    request.session["portal_totp_setup"] = secret
    if request.method == "POST" and form.is_valid():
        try:
            if account.totp_enabled:
                services.totp_disable(account=account, code=form.cleaned_data["code"], request=request)
            else:
                services.totp_enable(account=account, secret=secret, code=form.cleaned_data["code"], request=request)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            request.session.pop("portal_totp_setup", None)
            messages.success(request, _("Two-step sign-in is now %(state)s.") % {
                "state": _("on") if account.totp_enabled else _("off")})  # fmt: skip
            return redirect("portal:security")
    import pyotp

    uri = pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name="CRM portal")
    return render(request, "portal/security.html", {"form": form, "secret": secret, "uri": uri, "nav": "more"})

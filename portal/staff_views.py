"""Staff side of the portal: the customer page's "Portal & success plan" tab (invite contacts, end access,
the home-page message, suggestions and NPS answers, success goals and milestones) and the knowledge base."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from customers.selectors import customer_get_visible
from portal import forms, selectors, services
from portal.models import (
    DiagnosisChecklist,
    KbArticle,
    KbCategory,
    PortalAccount,
    SuccessGoal,
    SuccessMilestone,
    Suggestion,
)

MAX_ID = 2**63 - 1


def _customer(request, customer_id):
    customer = customer_get_visible(request.user, customer_id) if 0 < int(customer_id) <= MAX_ID else None
    if customer is None:
        raise Http404(_("No such customer."))
    return customer


def _tab_url(customer) -> str:
    return reverse("customers:customer_detail", args=[customer.pk]) + "?tab=portal"


def customer_tab_context(request, customer) -> dict[str, Any]:
    from service_records.models import NpsResponse

    accounts = list(PortalAccount.objects.filter(customer=customer).select_related("contact"))
    return {
        "portal_accounts": accounts,
        "portal_activity": portal_activity(request.user, accounts),
        "portal_message": selectors.csm_message(customer),
        "portal_suggestions": list(Suggestion.objects.filter(customer=customer).select_related("account")[:20]),
        "portal_nps": list(NpsResponse.objects.filter(customer=customer).order_by("-responded_at")[:10]),
        "portal_goals": list(selectors.goals(customer.pk)),
        "portal_invite_form": forms.InviteForm(),
        "portal_message_form": forms.MessageForm(),
        "portal_goal_form": forms.GoalForm(customer=customer),
        "portal_milestone_form": forms.MilestoneForm(),
        "portal_can_edit": request.user.has_perm("portal.change_successgoal"),
    }


ACTIVITY_PERMISSIONS = ("accounts.view_auditlog", "portal.change_portalaccount")


def portal_activity(user, accounts, limit: int = 20) -> list | None:
    """The latest audited requests of these portal accounts (pages, downloads, forms), for staff who manage the
    customer's portal access or read the audit log; None for everyone else (the tab then hides the section)."""
    from accounts.models import AuditLog

    if not any(user.has_perm(perm) for perm in ACTIVITY_PERMISSIONS):
        return None
    if not accounts:
        return []
    from accounts.registry import audit_labels

    rows = (
        AuditLog.objects.filter(object_type="portal.portalaccount", object_id__in=[str(a.pk) for a in accounts])
        .only("created_at", "action", "actor_name", "changes", "ip_address", "user_agent")
        .order_by("-created_at", "-id")[:limit]
    )
    skip = {"view", "method", "status", "customer", "contact"}
    activity = []
    for row in rows:
        facts = {name: change.get("new") for name, change in (row.changes or {}).items() if isinstance(change, dict)}
        activity.append(
            {
                "when": row.created_at,
                "who": row.actor_name.removeprefix("portal:"),
                "what": audit_labels.label(row.action),
                "view": facts.get("view", ""),
                "ids": ", ".join(f"{name}={value}" for name, value in facts.items() if name not in skip),
                "status": facts.get("status", ""),
                "ip": row.ip_address or "",
                "agent": row.user_agent,
            }
        )
    return activity


def _fail(request, exc: ValidationError) -> None:
    messages.error(request, " ".join(message for errors in exc.message_dict.values() for message in errors))


@login_required
@permission_required("portal.add_portalaccount", raise_exception=True)
@require_POST
def invite(request, customer_id: int):
    customer = _customer(request, customer_id)
    form = forms.InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid e-mail address."))
        return redirect(_tab_url(customer))
    try:
        services.account_invite(actor=request.user, customer=customer, email=form.cleaned_data["email"],
                                request=request)  # fmt: skip
    except ValidationError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("Invitation sent to %(email)s (valid 72 hours).") % form.cleaned_data)
    return redirect(_tab_url(customer))


@login_required
@permission_required("portal.change_portalaccount", raise_exception=True)
@require_POST
def deactivate(request, customer_id: int, account_id: int):
    customer = _customer(request, customer_id)
    account = PortalAccount.objects.filter(customer=customer, pk=account_id).first() if account_id <= MAX_ID else None
    if account is None:
        raise Http404
    services.account_deactivate(actor=request.user, account=account, request=request)
    messages.success(request, _("Portal access ended for %(email)s.") % {"email": account.email})
    return redirect(_tab_url(customer))


@login_required
@permission_required("portal.add_csmmessage", raise_exception=True)
@require_POST
def message(request, customer_id: int):
    customer = _customer(request, customer_id)
    form = forms.MessageForm(request.POST)
    if form.is_valid():
        services.message_post(actor=request.user, customer=customer, body=form.cleaned_data["body"], request=request)
        messages.success(request, _("Message posted."))
    else:
        messages.error(request, _("The message is empty or too long."))
    return redirect(_tab_url(customer))


@login_required
@permission_required("portal.change_successgoal", raise_exception=True)
@require_http_methods(["GET", "POST"])
def goal_edit(request, customer_id: int, goal_id: int | None = None):
    customer = _customer(request, customer_id)
    goal = None
    if goal_id is not None:
        goal = SuccessGoal.objects.filter(customer=customer, pk=goal_id).first() if goal_id <= MAX_ID else None
        if goal is None:
            raise Http404
    initial = {}
    if goal is not None:
        initial = {name: getattr(goal, name) for name in ("outcome", "measure", "target_date", "status",
                                                          "customer_owner")}  # fmt: skip
    form = forms.GoalForm(request.POST if request.method == "POST" else None, customer=customer, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if goal is None:
            data["csm_owner"] = request.user
        try:
            services.goal_save(actor=request.user, customer=customer, goal=goal, data=data, request=request)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Goal saved."))
            return redirect(_tab_url(customer))
    return render(request, "portal/staff/goal_form.html", {"customer": customer, "goal": goal, "form": form,
                                                           "page_title": _("Success goal")})  # fmt: skip


@login_required
@permission_required("portal.change_successgoal", raise_exception=True)
@require_POST
def milestone_add(request, customer_id: int, goal_id: int):
    customer = _customer(request, customer_id)
    goal = SuccessGoal.objects.filter(customer=customer, pk=goal_id).first() if goal_id <= MAX_ID else None
    if goal is None:
        raise Http404
    form = forms.MilestoneForm(request.POST)
    if form.is_valid():
        services.milestone_save(actor=request.user, goal=goal, data=form.cleaned_data, request=request)
        messages.success(request, _("Milestone added."))
    else:
        messages.error(request, _("Give the milestone a title."))
    return redirect(_tab_url(customer))


@login_required
@permission_required("portal.change_successgoal", raise_exception=True)
@require_POST
def milestone_toggle(request, customer_id: int, milestone_id: int):
    customer = _customer(request, customer_id)
    milestone = (
        SuccessMilestone.objects.filter(goal__customer=customer, pk=milestone_id).select_related("goal").first()
        if milestone_id <= MAX_ID
        else None
    )
    if milestone is None:
        raise Http404
    services.milestone_done(milestone=milestone, done=request.POST.get("done") == "1", actor=request.user,
                            request=request)  # fmt: skip
    return redirect(_tab_url(customer))


@login_required
@permission_required("portal.change_successgoal", raise_exception=True)
@require_POST
def goal_comment(request, customer_id: int, goal_id: int):
    customer = _customer(request, customer_id)
    goal = SuccessGoal.objects.filter(customer=customer, pk=goal_id).first() if goal_id <= MAX_ID else None
    if goal is None:
        raise Http404
    form = forms.CommentForm(request.POST)
    if form.is_valid():
        services.goal_comment(goal=goal, body=form.cleaned_data["body"], actor=request.user, request=request)
    return redirect(_tab_url(customer))


# --- Knowledge base -------------------------------------------------------------------------------------------------
@login_required
@permission_required("portal.view_kbarticle", raise_exception=True)
def kb_list(request):
    articles = list(selectors.articles(published_only=False)[:500])
    return render(request, "portal/staff/kb_list.html", {"articles": articles, "page_title": _("Knowledge base"),
                                                         "kb_nav": "articles"})  # fmt: skip


@login_required
@permission_required("portal.change_kbarticle", raise_exception=True)
@require_http_methods(["GET", "POST"])
def kb_edit(request, article_id: int | None = None):
    article = None
    if article_id is not None:
        article = KbArticle.objects.filter(pk=article_id).first() if article_id <= MAX_ID else None
        if article is None:
            raise Http404
    form = forms.ArticleForm(request.POST if request.method == "POST" else None, instance=article)
    if request.method == "POST" and form.is_valid():
        try:
            services.article_save(actor=request.user, article=article, data=form.cleaned_data, request=request)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Article saved."))
            return redirect("portal_staff:kb_list")
    return render(request, "portal/staff/kb_form.html", {"form": form, "article": article, "kb_nav": "articles",
                                                         "page_title": _("Knowledge base article")})  # fmt: skip


def _row(queryset, pk: int):
    """One row of the tenant's own queryset, or 404 (another tenant's id looks exactly like a missing one)."""
    obj = queryset.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if obj is None:
        raise Http404
    return obj


def _form_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
@permission_required("portal.change_kbarticle", raise_exception=True)
@require_POST
def kb_publish(request, article_id: int):
    """Publish an article or take it back to draft (`published=1|0`)."""
    article = _row(KbArticle.objects.all(), article_id)
    published = request.POST.get("published") == "1"
    services.article_publish(actor=request.user, article=article, published=published, request=request)
    if published:
        messages.success(request, _("Article published: customers see it in the portal."))
    else:
        messages.success(request, _("Article taken back to draft."))
    return redirect("portal_staff:kb_list")


@login_required
@permission_required("portal.view_kbcategory", raise_exception=True)
def category_list(request):
    rows = list(selectors.categories()[:500])
    context = {"categories": rows, "kb_nav": "categories", "page_title": _("Knowledge base categories")}
    return render(request, "portal/staff/kb_categories.html", context)


@login_required
@permission_required(("portal.add_kbcategory", "portal.change_kbcategory"), raise_exception=True)
@require_http_methods(["GET", "POST"])
def category_edit(request, category_id: int | None = None):
    category = _row(KbCategory.objects.all(), category_id) if category_id is not None else None
    return _kb_edit(
        request, forms.CategoryForm, category,
        save=lambda data: services.category_save(actor=request.user, category=category, data=data, request=request),
        saved=_("Category saved."), nav="categories", list_url="portal_staff:category_list",
        title=_("Knowledge base category"),
    )  # fmt: skip


def _kb_edit(request, form_class, instance, *, save, saved, nav, list_url, title):
    """Create or edit one knowledge-base row: the form, the service's rules as field errors, back to the list."""
    form = form_class(request.POST if request.method == "POST" else None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, saved)
            return redirect(list_url)
    return render(request, "portal/staff/kb_edit_form.html", {
        "form": form, "kb_nav": nav, "cancel_url": reverse(list_url), "page_title": title})  # fmt: skip


@login_required
@permission_required("portal.view_diagnosischecklist", raise_exception=True)
def checklist_list(request):
    rows = list(selectors.checklists(published_only=False)[:500])
    context = {"checklists": rows, "kb_nav": "checklists", "page_title": _("Self-diagnosis checklists")}
    return render(request, "portal/staff/kb_checklists.html", context)


@login_required
@permission_required(("portal.add_diagnosischecklist", "portal.change_diagnosischecklist"), raise_exception=True)
@require_http_methods(["GET", "POST"])
def checklist_edit(request, checklist_id: int | None = None):
    checklist = _row(DiagnosisChecklist.objects.all(), checklist_id) if checklist_id is not None else None
    return _kb_edit(
        request, forms.ChecklistForm, checklist,
        save=lambda data: services.checklist_save(actor=request.user, checklist=checklist, data=data, request=request),
        saved=_("Checklist saved."), nav="checklists", list_url="portal_staff:checklist_list",
        title=_("Self-diagnosis checklist"),
    )  # fmt: skip


@login_required
@permission_required("portal.change_diagnosischecklist", raise_exception=True)
@require_POST
def checklist_publish(request, checklist_id: int):
    """Publish a checklist or withdraw it (`published=1|0`); the same rules as saving it apply."""
    checklist = _row(DiagnosisChecklist.objects.select_related("article"), checklist_id)
    try:
        published = request.POST.get("published") == "1"
        services.checklist_save(actor=request.user, checklist=checklist, data={"is_published": published},
                                request=request)  # fmt: skip
    except ValidationError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("Checklist published.") if checklist.is_published else _("Checklist withdrawn."))
    return redirect("portal_staff:checklist_list")

"""Staff pages: the kanban board (drag and drop through htmx), my day, task detail, rules, rebalancing, metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.services import audit_record
from crm_project.ui import apply_service_errors, error_text, visible_or_404, wants_partial
from customers.selectors import customer_get_visible
from success_tasks import selectors, services
from success_tasks.choices import TaskPriority, TaskStatus, TaskType
from success_tasks.forms import CommentForm, CsmProfileForm, ReassignForm, RuleForm, StatusForm, TaskForm
from success_tasks.models import CsmProfile, CustomerSuccessTask, PlaybookRule

VIEW = "success_tasks.view_customersuccesstask"
ADD = "success_tasks.add_customersuccesstask"
CHANGE = "success_tasks.change_customersuccesstask"
REASSIGN = "success_tasks.reassign_customersuccesstask"
REBALANCE = "success_tasks.rebalance_team"
RULES = "success_tasks.change_playbookrule"
BOARD_LIMIT = 100  # cards per column; done / cancelled show the most recent
PRIORITY_BADGES = {1: "badge-muted", 2: "badge-info", 3: "badge-warning", 4: "badge-danger"}


def _task_or_404(user, pk) -> CustomerSuccessTask:
    return visible_or_404(selectors.task_get_visible, user, pk, message=_("No such task."))


def _board_context(request) -> dict[str, Any]:
    params = request.GET
    queryset = selectors.filter_tasks(selectors.task_list_queryset(request.user), request.user, params)
    columns = []
    for status in TaskStatus:
        tasks = queryset.filter(status=status)
        tasks = (
            tasks.order_by("-completion_date", "-id")
            if status in (3, 4)
            else tasks.order_by("due_date", "-priority", "id")
        )
        columns.append({"status": status, "tasks": list(tasks[:BOARD_LIMIT])})
    return {
        "columns": columns,
        "filters": params,
        "types": TaskType.choices,
        "priorities": TaskPriority.choices,
        "teams": selectors.team_names(),
        "priority_badges": PRIORITY_BADGES,
        "can_change": request.user.has_perm(CHANGE),
    }


@login_required
@permission_required(VIEW, raise_exception=True)
def board(request):
    context = _board_context(request)
    if wants_partial(request):
        return render(request, "success_tasks/_board.html", context)
    return render(request, "success_tasks/board.html", {**context, "page_title": _("Task board")})


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def task_move(request, pk: int):
    """Drag and drop: POST status (and result for done); answers the refreshed board."""
    task = _task_or_404(request.user, pk)
    error = ""
    try:
        services.task_change_status(
            actor=request.user,
            task=task,
            status=request.POST.get("status"),
            result=request.POST.get("result", "")[:10000],
            request=request,
        )
    except (ValidationError, services.TaskStateError) as exc:
        error = error_text(exc)
    context = _board_context(request)
    context["board_error"] = error
    if wants_partial(request):
        return render(request, "success_tasks/_board.html", context)
    if error:
        messages.error(request, error)
    return redirect("success_tasks:board")


@login_required
@permission_required(VIEW, raise_exception=True)
def my_day(request):
    groups = selectors.my_day(request.user)
    return render(
        request,
        "success_tasks/my_day.html",
        {"groups": groups, "page_title": _("My day"), "priority_badges": PRIORITY_BADGES},
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def task_detail(request, pk: int):
    task = _task_or_404(request.user, pk)
    status_form = StatusForm(initial={"status": task.status})
    reassign_form = ReassignForm(tenant=request.user.tenant, initial={"assigned_to": task.assigned_to_id})
    comment_form = CommentForm()
    if request.method == "POST":
        if not request.user.has_perm(CHANGE):
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            if action == "status":
                status_form = StatusForm(request.POST)
                if status_form.is_valid():
                    services.task_change_status(
                        actor=request.user,
                        task=task,
                        status=status_form.cleaned_data["status"],
                        result=status_form.cleaned_data["result"],
                        request=request,
                    )
                    messages.success(request, _("Task status changed."))
                    return redirect("success_tasks:task_detail", pk=task.pk)
            elif action == "reassign":
                if not request.user.has_perm(REASSIGN):
                    raise PermissionDenied
                reassign_form = ReassignForm(request.POST, tenant=request.user.tenant)
                if reassign_form.is_valid():
                    services.task_reassign(
                        actor=request.user,
                        task=task,
                        assignee=reassign_form.cleaned_data["assigned_to"],
                        request=request,
                    )
                    messages.success(request, _("Task reassigned."))
                    return redirect("success_tasks:task_detail", pk=task.pk)
            elif action == "comment":
                comment_form = CommentForm(request.POST)
                if comment_form.is_valid():
                    services.comment_add(
                        actor=request.user, task=task, body=comment_form.cleaned_data["body"], request=request
                    )
                    return redirect("success_tasks:task_detail", pk=task.pk)
        except ValidationError as exc:
            form = {"status": status_form, "reassign": reassign_form}.get(action, comment_form)
            apply_service_errors(exc, form)
        except services.TaskStateError as exc:
            messages.error(request, str(exc))
            return redirect("success_tasks:task_detail", pk=task.pk)
    return render(
        request,
        "success_tasks/task_detail.html",
        {
            "task": task,
            "comments": task.comments.select_related("author"),
            "status_form": status_form,
            "reassign_form": reassign_form,
            "comment_form": comment_form,
            "page_title": task.task_title,
            "priority_badges": PRIORITY_BADGES,
        },
    )


@login_required
@permission_required(ADD, raise_exception=True)
def task_create(request, customer_pk: int):
    customer = visible_or_404(customer_get_visible, request.user, customer_pk, message=_("No such customer."))
    form = TaskForm(request.POST or None, tenant=request.user.tenant)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data.get("due_date") is None:
            data.pop("due_date")
        try:
            task = services.task_create(actor=request.user, customer=customer, data=data, request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        else:
            messages.success(request, _("Task created."))
            return redirect("success_tasks:task_detail", pk=task.pk)
    return render(
        request,
        "success_tasks/task_form.html",
        {
            "form": form,
            "customer": customer,
            "page_title": _("New task for %(name)s") % {"name": customer.customer_name},
        },
    )


# --- Playbook rules (settings) ------------------------------------------------------------------------------------
@login_required
@permission_required(RULES, raise_exception=True)
def rule_list(request):
    rules = sorted(services.rules_ensure_defaults(), key=lambda r: (r.trigger, r.pk))
    return render(request, "success_tasks/rule_list.html", {"rules": rules, "page_title": _("Playbook rules")})


@login_required
@permission_required(RULES, raise_exception=True)
def rule_edit(request, pk: int | None = None):
    rule = None
    if pk is not None:
        rule = PlaybookRule.objects.filter(pk=pk).first()
        if rule is None:
            from django.http import Http404

            raise Http404(_("No such rule."))
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            services.rule_save(actor=request.user, rule=form.instance, request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        else:
            messages.success(request, _("Rule saved. It applies from the next event or nightly run."))
            return redirect("success_tasks:rule_list")
    return render(
        request,
        "success_tasks/rule_form.html",
        {"form": form, "rule": rule, "page_title": rule.name if rule else _("New playbook rule")},
    )


# --- Teams: profiles and rebalancing ------------------------------------------------------------------------------
@login_required
@permission_required(REBALANCE, raise_exception=True)
def team(request):
    """Team membership / absence of each assignable user, and the rebalance preview / apply of a team."""
    users = list(services.assignable_users(request.user.tenant))
    profiles = {p.user_id: p for p in CsmProfile.objects.filter(user__in=users)}
    if request.method == "POST" and request.POST.get("action") == "profile":
        user = next((u for u in users if str(u.pk) == request.POST.get("user")), None)
        if user is None:
            from django.http import Http404

            raise Http404
        profile = profiles.get(user.pk) or CsmProfile(user=user)
        form = CsmProfileForm(request.POST, instance=profile)
        if form.is_valid():
            form.save()
            audit_record(action="crm.csm_profile.saved", actor=request.user, obj=form.instance, request=request)
            messages.success(request, _("Saved."))
        else:
            messages.error(request, error_text(ValidationError(form.errors)))
        return redirect(reverse("success_tasks:team") + f"?team={form.instance.team}")
    team_name = request.GET.get("team") or request.POST.get("team") or ""
    if request.method == "POST" and request.POST.get("action") == "rebalance":
        moves = []
        for value in request.POST.getlist("move"):
            task_id, _sep, user_id = value.partition(":")
            if task_id.isdigit() and user_id.isdigit() and len(task_id) < 19 and len(user_id) < 19:
                moves.append((int(task_id), int(user_id)))
        moved = services.rebalance_apply(actor=request.user, team=team_name, moves=moves, request=request)
        messages.success(request, _("%(count)d task(s) reassigned.") % {"count": moved})
        return redirect(reverse("success_tasks:team") + f"?team={team_name}")
    plan, before, after = services.rebalance_plan(team_name) if team_name else ([], {}, {})
    members = [u for u in users if profiles.get(u.pk) and profiles[u.pk].team == team_name] if team_name else []
    today = timezone.localdate()
    return render(
        request,
        "success_tasks/team.html",
        {
            "rows": [{"user": u, "profile": profiles.get(u.pk)} for u in users],
            "teams": selectors.team_names(),
            "team_name": team_name,
            "plan": plan,
            "loads": [
                {
                    "user": u,
                    "before": round(before.get(u.pk, 0), 1),
                    "after": round(after.get(u.pk, 0), 1),
                    "absent": profiles[u.pk].is_absent(today),
                }
                for u in members
            ],
            "page_title": _("Teams and workload"),
        },
    )


# --- Metrics ------------------------------------------------------------------------------------------------------
@login_required
@permission_required(VIEW, raise_exception=True)
def metrics(request):
    try:
        days = int(request.GET.get("days", 90))
    except ValueError:
        days = 90
    days = days if days in (30, 90, 180, 365) else 90
    data = selectors.success_metrics(request.user, since=timezone.now() - timedelta(days=days))
    return render(
        request, "success_tasks/metrics.html", {**data, "days": days, "page_title": _("Customer-success metrics")}
    )


# --- Customer tab -------------------------------------------------------------------------------------------------
def customer_tasks_tab_context(request, customer) -> dict[str, Any]:
    tasks = list(
        selectors.tasks_visible_to(request.user)
        .filter(customer=customer)
        .select_related("assigned_to")
        .order_by("status", "due_date", "-id")[:50]
    )
    return {
        "customer_tasks": tasks,
        "customer_task_create_url": reverse("success_tasks:task_create", args=[customer.pk]),
        "task_priority_badges": PRIORITY_BADGES,
    }

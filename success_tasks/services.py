"""Writes of customer-success tasks, playbook rules, assignment and rebalancing (every rule lives here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import CS_LEAD, CSM, TENANT_ADMIN
from accounts.services import audit_record, diff_fields, notify, notify_many
from accounts.tenancy import current_tenant
from customers.models import Customer
from success_tasks import templating
from success_tasks.choices import (
    OPEN_STATUSES,
    TRANSITIONS,
    AssigneeStrategy,
    TaskPriority,
    TaskStatus,
    Trigger,
)
from success_tasks.defaults import DEFAULT_RULES
from success_tasks.models import CsmProfile, CustomerSuccessTask, PlaybookRule, TaskComment

logger = logging.getLogger(__name__)

ASSIGNABLE_ROLES = (TENANT_ADMIN, CS_LEAD, CSM)
# A rule whose condition is a state (health below X, no contact...) fires again at the earliest this many days
# after its previous task for the customer was created; event rules fire once per event (trigger_key).
STATE_COOLDOWN_DAYS = 30
EFFECT_AFTER_DAYS = 30
PRIORITY_WEIGHT = {TaskPriority.LOW: 1, TaskPriority.MEDIUM: 2, TaskPriority.HIGH: 3, TaskPriority.URGENT: 5}
EDITABLE_FIELDS = ("task_title", "task_description", "task_type", "priority", "due_date", "effectiveness_score")


class TaskStateError(Exception):
    """The requested status change is not allowed from the task's current status."""


# --- Assignees ----------------------------------------------------------------------------------------------------
def assignable_users(tenant=None):
    tenant = tenant or current_tenant()
    return (
        User.objects.filter(tenant=tenant, is_active=True, groups__name__in=ASSIGNABLE_ROLES)
        .distinct()
        .order_by("display_name", "username")
    )


def _check_assignee(user: User | None) -> User:
    tenant = current_tenant()
    if user is None or not assignable_users(tenant).filter(pk=user.pk).exists():
        raise ValidationError({"assigned_to": [_("Choose an active CSM, lead or administrator of your tenant.")]})
    return user


def task_weight(priority: int, due_date: datetime | None, now: datetime) -> float:
    """Load of one open task: its priority, doubled when overdue and 1.5x when due within three days."""
    weight = PRIORITY_WEIGHT.get(priority, 2)
    if due_date is not None:
        if due_date < now:
            return weight * 2.0
        if due_date < now + timedelta(days=3):
            return weight * 1.5
    return float(weight)


def open_loads(user_ids: list[int], *, now: datetime | None = None) -> dict[int, float]:
    """Weighted open load of each user (one query)."""
    now = now or timezone.now()
    loads = dict.fromkeys(user_ids, 0.0)
    rows = CustomerSuccessTask.objects.filter(assigned_to_id__in=user_ids, status__in=OPEN_STATUSES).values_list(
        "assigned_to_id", "priority", "due_date"
    )
    for user_id, priority, due in rows:
        loads[user_id] += task_weight(priority, due, now)
    return loads


def team_members(team: str, *, today: date | None = None, available_only: bool = True) -> list[User]:
    today = today or timezone.localdate()
    if not team:
        return []
    profiles = CsmProfile.objects.filter(team=team, user__is_active=True).select_related("user")
    return [p.user for p in profiles if not (available_only and p.is_absent(today))]


def _profile(user: User | None) -> CsmProfile | None:
    if user is None:
        return None
    return CsmProfile.objects.filter(user=user).first()


def _fallback_assignee() -> User | None:
    tenant = current_tenant()
    for role in (CS_LEAD, TENANT_ADMIN):
        user = User.objects.filter(tenant=tenant, is_active=True, groups__name=role).order_by("pk").first()
        if user is not None:
            return user
    return None


def assignee_for(customer: Customer, strategy: str, *, today: date | None = None) -> User | None:
    """The customer's manager, or (balanced) the available member of the manager's team with the lowest load."""
    today = today or timezone.localdate()
    manager = customer.assigned_manager if customer.assigned_manager_id else None
    if strategy == AssigneeStrategy.BALANCED and manager is not None:
        profile = _profile(manager)
        members = team_members(profile.team, today=today) if profile else []
        if members:
            loads = open_loads([m.pk for m in members])
            # Ties go to the manager, then by name: stable and explainable.
            return min(members, key=lambda m: (loads[m.pk], m.pk != manager.pk, m.username))
    if manager is not None and manager.is_active:
        return manager
    return _fallback_assignee()


# --- Tasks --------------------------------------------------------------------------------------------------------
def _notify_assignee(task: CustomerSuccessTask, actor: User | None) -> None:
    if task.assigned_to_id and (actor is None or actor.pk != task.assigned_to_id):
        notify(
            task.assigned_to,
            "success_task.assigned",
            task,
            gettext("Task assigned to you: %(title)s (%(customer)s)")
            % {"title": task.task_title, "customer": task.customer.customer_name},
            dedup_key=f"success_task:{task.pk}:assigned:{task.assigned_to_id}",
            link=f"/tasks/{task.pk}/",
            email=False,
        )


@transaction.atomic
def task_create(
    *,
    actor: User | None,
    customer: Customer,
    data: dict[str, Any],
    request=None,
) -> CustomerSuccessTask:
    """A task a person creates for a customer (API or page)."""
    assignee = data.get("assigned_to") or assignee_for(customer, AssigneeStrategy.MANAGER)
    _check_assignee(assignee)
    task = CustomerSuccessTask(
        customer=customer,
        task_title=(data.get("task_title") or "").strip(),
        task_description=data.get("task_description") or "",
        task_type=data.get("task_type"),
        priority=data.get("priority") or TaskPriority.MEDIUM,
        assigned_to=assignee,
        due_date=data.get("due_date"),
        created_by=actor,
    )
    task.full_clean(exclude=["tenant"])
    task.save()
    audit_record(action="crm.success_task.created", actor=actor, obj=task, request=request)
    _notify_assignee(task, actor)
    return task


@transaction.atomic
def task_update(*, actor: User, task: CustomerSuccessTask, data: dict[str, Any], request=None) -> CustomerSuccessTask:
    """Edit title, description, type, priority, due date; a person's effectiveness score wins over the derived one."""
    data = {key: value for key, value in data.items() if key in EDITABLE_FIELDS}
    if "task_title" in data:
        data["task_title"] = (data["task_title"] or "").strip()
    changes = diff_fields(task, data)
    if not changes:
        return task
    for field, value in data.items():
        setattr(task, field, value)
    fields = [*changes, "updated_at"]
    if "effectiveness_score" in changes:
        task.effectiveness_set_by = actor if data["effectiveness_score"] is not None else None
        fields.append("effectiveness_set_by")
    task.full_clean(exclude=["tenant"])
    task.save(update_fields=fields)  # only what changed: a stale copy never undoes a status change
    audit_record(action="crm.success_task.updated", actor=actor, obj=task, changes=changes, request=request)
    return task


@transaction.atomic
def task_change_status(
    *, actor: User | None, task: CustomerSuccessTask, status: int, result: str = "", request=None
) -> CustomerSuccessTask:
    """pending -> in progress -> done / cancelled (in progress may go back to pending). Done needs a result."""
    task = CustomerSuccessTask.objects.select_for_update().select_related("customer").get(pk=task.pk)
    try:
        status = TaskStatus(int(status))
    except (TypeError, ValueError) as exc:
        raise ValidationError({"status": [_("Unknown status.")]}) from exc
    if status == task.status:
        # Same status: a result sent along is still recorded (it used to be dropped silently).
        new_result = (result or "").strip()
        if new_result and new_result != task.result:
            old_result = task.result
            task.result = new_result
            task.full_clean(exclude=["tenant"])
            task.save()
            audit_record(
                action="crm.success_task.status_changed",
                actor=actor,
                obj=task,
                changes={"result": (old_result, new_result)},
                request=request,
            )
        return task
    if status not in TRANSITIONS[TaskStatus(task.status)]:
        raise TaskStateError(
            _("A task cannot go from “%(old)s” to “%(new)s”.")
            % {"old": TaskStatus(task.status).label, "new": status.label}
        )
    result = (result or "").strip()
    if status == TaskStatus.DONE and not (result or task.result.strip()):
        raise ValidationError({"result": [_("Record the result before marking the task done.")]})
    old = task.status
    task.status = status
    if result:
        task.result = result
    if status in (TaskStatus.DONE, TaskStatus.CANCELLED):
        task.completion_date = timezone.now()
        task.open_rule = None  # the rule may open a new task for this customer again
        if status == TaskStatus.DONE:
            task.health_at_completion = task.customer.health_score
    task.full_clean(exclude=["tenant"])
    task.save()
    audit_record(
        action="crm.success_task.status_changed",
        actor=actor,
        obj=task,
        changes={"status": (old, int(status)), **({"result": ("", result)} if result else {})},
        request=request,
    )
    return task


@transaction.atomic
def task_reassign(
    *, actor: User | None, task: CustomerSuccessTask, assignee: User, request=None
) -> CustomerSuccessTask:
    if not task.is_open:
        raise TaskStateError(_("Only an open task can be reassigned."))
    _check_assignee(assignee)
    if assignee.pk == task.assigned_to_id:
        return task
    old = task.assigned_to_id
    task.assigned_to = assignee
    task.save(update_fields=["assigned_to", "updated_at"])
    audit_record(
        action="crm.success_task.reassigned",
        actor=actor,
        obj=task,
        changes={"assigned_to": (old, assignee.pk)},
        request=request,
    )
    _notify_assignee(task, actor)
    return task


@transaction.atomic
def comment_add(*, actor: User, task: CustomerSuccessTask, body: str, request=None) -> TaskComment:
    comment = TaskComment(task=task, author=actor, body=(body or "").strip())
    comment.full_clean(exclude=["tenant", "task"])
    comment.save()
    audit_record(action="crm.success_task.commented", actor=actor, obj=task, request=request)
    return comment


# --- Playbook rules -----------------------------------------------------------------------------------------------
def rules_ensure_defaults() -> list[PlaybookRule]:
    """The tenant's rules; the default playbook is created (enabled) the first time, once per key."""
    rules = list(PlaybookRule.objects.all())
    have = {rule.key for rule in rules if rule.key}
    missing = [spec for spec in DEFAULT_RULES if spec["key"] not in have]
    if missing and not PlaybookRule.objects.filter(key__isnull=False).exists():
        with translation.override(settings.LANGUAGE_CODE):
            for spec in missing:
                values = dict(spec)
                for field in ("name", "title_template", "description_template"):
                    values[field] = gettext(values[field])
                try:
                    with transaction.atomic():
                        rules.append(PlaybookRule.objects.create(**values))
                except IntegrityError:  # another worker created it meanwhile
                    pass
    return rules


def _validate_rule(rule: PlaybookRule) -> None:
    errors: dict[str, list[str]] = {}
    for field in ("title_template", "description_template"):
        unknown = templating.unknown_placeholders(getattr(rule, field))
        if unknown:
            errors[field] = [
                _("Unknown placeholder(s): %(names)s. Use: %(known)s.")
                % {
                    "names": ", ".join("{" + n + "}" for n in unknown),
                    "known": ", ".join("{" + n + "}" for n in templating.FACTS),
                }
            ]
    if rule.trigger == Trigger.RISK_LEVEL and not (1 <= rule.threshold <= 4):
        errors["threshold"] = [_("A risk level is 1 (low) to 4 (critical).")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def rule_save(*, actor: User, rule: PlaybookRule, request=None) -> PlaybookRule:
    """Create or update a rule (settings page and admin); it takes effect on the next event or nightly run."""
    created = rule.pk is None
    _validate_rule(rule)
    rule.full_clean(exclude=["tenant"])
    rule.save()
    audit_record(
        action="crm.playbook_rule.created" if created else "crm.playbook_rule.updated",
        actor=actor,
        obj=rule,
        request=request,
    )
    return rule


@dataclass
class Firing:
    """A rule's condition held for a customer: why (shown on the task) and which event (None for a state)."""

    condition: str
    value: Any = None
    trigger_key: str | None = None


def _task_from(rule, customer, firing, facts, assignee, now) -> CustomerSuccessTask:
    """The unsaved task a rule firing makes (one customer, or one of a chunk's)."""
    return CustomerSuccessTask(
        customer=customer,
        task_title=templating.render(rule.title_template, facts)[:200] or rule.name[:200],
        task_description=templating.render(rule.description_template, facts)[:10000],
        task_type=rule.task_type,
        priority=rule.priority,
        assigned_to=assignee,
        due_date=now + timedelta(days=rule.due_in_days),
        auto_generated=True,
        trigger_condition=f"{rule.name}: {firing.condition}"[:200],
        rule=rule,
        open_rule=rule,
        trigger_key=firing.trigger_key,
        created_at=now,
    )


def _facts(rule: PlaybookRule, customer: Customer, firing: Firing) -> dict[str, Any]:
    manager = customer.assigned_manager
    return {
        "customer_name": customer.customer_name,
        "customer_code": customer.customer_code,
        "manager": manager.get_display_name() if manager and hasattr(manager, "get_display_name") else manager,
        "health_score": customer.health_score,
        "renewal_date": customer.next_renewal_date.isoformat() if customer.next_renewal_date else "",
        "condition": firing.condition,
        "value": firing.value,
        "threshold": rule.threshold.normalize() if isinstance(rule.threshold, Decimal) else rule.threshold,
        "days": rule.window_days,
    }


def rule_fire(
    rule: PlaybookRule, customer: Customer, firing: Firing, *, now: datetime | None = None
) -> CustomerSuccessTask | None:
    """Open the rule's task for the customer unless one is open, the event was handled, or the state cooled down.

    Race-safe: the open slot (`open_rule`) and the event key (`trigger_key`) are unique in the database, so two
    workers firing at once create one task; the loser's insert fails inside its savepoint and returns None.
    """
    now = now or timezone.now()
    mine = CustomerSuccessTask.objects.filter(rule=rule, customer=customer)
    if mine.filter(open_rule=rule).exists():
        return None
    if firing.trigger_key is not None:
        if mine.filter(trigger_key=firing.trigger_key).exists():
            return None
    elif mine.filter(created_at__gte=now - timedelta(days=STATE_COOLDOWN_DAYS)).exists():
        return None
    assignee = assignee_for(customer, rule.assignee_strategy, today=timezone.localdate(now))
    if assignee is None:
        logger.warning("rule %s: nobody to assign customer %s to", rule.pk, customer.pk)
        return None
    facts = _facts(rule, customer, firing)
    task = _task_from(rule, customer, firing, facts, assignee, now)
    try:
        with transaction.atomic():
            task.save()
            audit_record(
                action="crm.success_task.generated",
                actor=None,
                obj=task,
                changes={"trigger_condition": ("", task.trigger_condition)},
            )
    except IntegrityError:
        return None
    _notify_assignee(task, None)
    return task


def rules_fire_many(
    firings: list[tuple[PlaybookRule, Customer, Firing]], *, now: datetime | None = None
) -> list[CustomerSuccessTask]:
    """`rule_fire` for many (rule, customer, firing) in order, with the same outcome (one open task per rule and
    customer, an event never twice, the cool-down of a state), set-based: one query for the tasks that block a
    firing, one for the managers, then one bulk insert each of the tasks, their audit entries and the assignees'
    notifications (`post_save` is sent for every new task, as a save would). A balanced rule (each assignment
    changes the loads) goes through `rule_fire` one by one, and so does the whole batch when a concurrent worker
    opened one of its tasks meanwhile (the unique keys refuse the insert)."""
    from crm_project.audit import audit_entry, audit_record_many

    now = now or timezone.now()
    firings = [(r, c, f) for r, c, f in firings if c is not None and c.deleted_at is None and not c.merged_into_id]
    if not firings:
        return []
    customer_ids = {c.pk for _r, c, _f in firings}
    rule_ids = {r.pk for r, _c, _f in firings}
    blocked_open, blocked_keys, recent = set(), set(), set()
    cooldown = now - timedelta(days=STATE_COOLDOWN_DAYS)
    for rule_id, customer_id, open_rule_id, key, created in CustomerSuccessTask.objects.filter(
        rule_id__in=rule_ids, customer_id__in=customer_ids
    ).values_list("rule_id", "customer_id", "open_rule_id", "trigger_key", "created_at"):
        if open_rule_id == rule_id:
            blocked_open.add((rule_id, customer_id))
        if key is not None:
            blocked_keys.add((rule_id, customer_id, key))
        if created >= cooldown:
            recent.add((rule_id, customer_id))
    one_by_one, todo, taken = [], [], set()
    for rule, customer, firing in firings:
        pair = (rule.pk, customer.pk)
        if rule.assignee_strategy == AssigneeStrategy.BALANCED:
            one_by_one.append((rule, customer, firing))
            continue
        if pair in blocked_open or pair in taken:
            continue
        if firing.trigger_key is not None:
            if (*pair, firing.trigger_key) in blocked_keys:
                continue
        elif pair in recent:
            continue
        taken.add(pair)
        todo.append((rule, customer, firing))
    manager_field = Customer._meta.get_field("assigned_manager")
    managers = User.objects.in_bulk({c.assigned_manager_id for _r, c, _f in todo if c.assigned_manager_id})
    fallback: list[User | None] = []
    tasks = []
    for rule, customer, firing in todo:
        manager = managers.get(customer.assigned_manager_id)
        manager_field.set_cached_value(customer, manager)
        if manager is not None and manager.is_active:
            assignee = manager
        else:
            if not fallback:
                fallback.append(_fallback_assignee())
            assignee = fallback[0]
        if assignee is None:
            logger.warning("rule %s: nobody to assign customer %s to", rule.pk, customer.pk)
            continue
        facts = _facts(rule, customer, firing)
        tasks.append(_task_from(rule, customer, firing, facts, assignee, now))
    try:
        with transaction.atomic():
            CustomerSuccessTask.objects.bulk_create(tasks, batch_size=1000)
            if any(t.pk is None for t in tasks):  # a backend that returns no ids from a bulk insert
                ids = {
                    (r, c): pk
                    for r, c, pk in CustomerSuccessTask.objects.filter(
                        open_rule_id__in=rule_ids, customer_id__in=customer_ids, created_at=now
                    ).values_list("open_rule_id", "customer_id", "pk")
                }
                for task in tasks:
                    task.pk = ids[(task.open_rule_id, task.customer_id)]
            for task in tasks:
                task._state.adding = False
                post_save.send(
                    sender=CustomerSuccessTask,
                    instance=task,
                    created=True,
                    raw=False,
                    using=task._state.db or "default",
                )
            audit_record_many(
                audit_entry(
                    action="crm.success_task.generated",
                    actor=None,
                    obj=task,
                    changes={"trigger_condition": ("", task.trigger_condition)},
                )
                for task in tasks
            )
    except IntegrityError:  # another worker opened one of these tasks meanwhile: the race-safe path
        created = [t for r, c, f in todo if (t := rule_fire(r, c, f, now=now)) is not None]
        return created + [t for r, c, f in one_by_one if (t := rule_fire(r, c, f, now=now)) is not None]
    notify_many(
        [
            (
                task.assigned_to,
                "success_task.assigned",
                task,
                gettext("Task assigned to you: %(title)s (%(customer)s)")
                % {"title": task.task_title, "customer": task.customer.customer_name},
                f"success_task:{task.pk}:assigned:{task.assigned_to_id}",
                f"/tasks/{task.pk}/",
            )
            for task in tasks
        ]
    )
    return tasks + [t for r, c, f in one_by_one if (t := rule_fire(r, c, f, now=now)) is not None]


def rules_for(*triggers: str) -> list[PlaybookRule]:
    return [rule for rule in rules_ensure_defaults() if rule.enabled and rule.trigger in triggers]


def rules_on_event(trigger: str, customer: Customer, check, *, rules=None) -> list[CustomerSuccessTask]:
    """Evaluate the enabled rules of one trigger for one customer; `check(rule) -> Firing | None`.
    `rules`: the trigger's rules when the caller already has them (a batch of signals)."""
    if customer is None or customer.deleted_at is not None or customer.merged_into_id:
        return []
    created = []
    for rule in rules if rules is not None else rules_for(trigger):
        firing = check(rule)
        if firing is not None:
            task = rule_fire(rule, customer, firing)
            if task is not None:
                created.append(task)
    return created


# --- Health (health app's table when installed, else customers.health_score) --------------------------------------
def health_model():
    if apps.is_installed("health"):
        try:
            return apps.get_model("health", "CustomerHealthScore")
        except LookupError:
            return None
    return None


def risk_level_from_score(score: Decimal | float) -> int:
    """Fallback risk level from a 0-100 score, aligned with the health app's four levels (1 low .. 4 critical)."""
    score = float(score or 0)
    if score >= 80:
        return 1
    if score >= 60:
        return 2
    if score >= 40:
        return 3
    return 4


def health_on(customer_id: int, day: date) -> Decimal | None:
    """The customer's score on `day` (the latest score up to that day) from the health history, if any."""
    model = health_model()
    if model is None:
        return None
    row = model.objects.filter(customer_id=customer_id, score_date__lte=day).order_by("-score_date").first()
    return row.overall_score if row else None


# --- Rebalancing --------------------------------------------------------------------------------------------------
@dataclass
class Move:
    task: CustomerSuccessTask
    old: User
    new: User
    weight: float


def rebalance_plan(team: str, *, now: datetime | None = None) -> tuple[list[Move], dict[int, float], dict[int, float]]:
    """Which pending tasks of the team to move so the weighted loads even out (absent members hand theirs over).

    In-progress tasks stay with their owner. Pending ones are placed heaviest first on the least loaded available
    member; a task stays with its owner unless that owner is absent or is at least the task's weight above the
    lightest member. Returns (moves, loads before, loads after) keyed by user id.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    profiles = list(CsmProfile.objects.filter(team=team, user__is_active=True).select_related("user")) if team else []
    members = {p.user_id: p.user for p in profiles}
    available = {p.user_id for p in profiles if not p.is_absent(today)}
    before = open_loads(list(members), now=now)
    if not available:
        return [], before, dict(before)
    tasks = list(
        CustomerSuccessTask.objects.filter(assigned_to_id__in=list(members), status__in=OPEN_STATUSES).select_related(
            "customer"
        )
    )
    after = dict.fromkeys(members, 0.0)
    pending = []
    for task in tasks:
        if task.status == TaskStatus.IN_PROGRESS:
            after[task.assigned_to_id] += task_weight(task.priority, task.due_date, now)
        else:
            pending.append(task)
    pending.sort(key=lambda t: (-task_weight(t.priority, t.due_date, now), t.due_date or now, t.pk))
    moves = []
    for task in pending:
        weight = task_weight(task.priority, task.due_date, now)
        lightest = min(available, key=lambda uid: (after[uid], members[uid].username))
        owner = task.assigned_to_id
        # Stay with the owner unless the lightest member is behind by a whole task or more.
        keep = owner in available and after[owner] - after[lightest] < weight
        target = owner if keep else lightest
        after[target] += weight
        if target != owner:
            moves.append(Move(task=task, old=members[owner], new=members[target], weight=weight))
    return moves, before, after


@transaction.atomic
def rebalance_apply(*, actor: User, team: str, moves: list[tuple[int, int]], request=None) -> int:
    """Apply the previewed moves (task id, new assignee id) that are still valid; returns how many moved."""
    members = {p.user_id: p.user for p in CsmProfile.objects.filter(team=team).select_related("user")}
    moved = 0
    for task_id, user_id in moves:
        task = (
            CustomerSuccessTask.objects.filter(pk=task_id, status=TaskStatus.PENDING, assigned_to_id__in=list(members))
            .select_related("customer")
            .first()
        )
        if task is None or user_id not in members:
            continue
        task_reassign(actor=actor, task=task, assignee=members[user_id], request=request)
        moved += 1
    audit_record(
        action="crm.success_task.rebalanced",
        actor=actor,
        object_type="success_tasks.team",
        object_id=team[:64],
        object_repr=team,
        changes={"moved": (0, moved)},
        request=request,
    )
    return moved


# --- Effectiveness ------------------------------------------------------------------------------------------------
def effectiveness_from_change(change: Decimal) -> Decimal:
    """0.50 for no change, 1.00 at +20 points or more, 0.00 at -20 or less (linear in between)."""
    value = Decimal("0.5") + Decimal(change) / Decimal(40)
    return min(Decimal("1"), max(Decimal("0"), value)).quantize(Decimal("0.01"))


def effectiveness_measure(*, now: datetime | None = None) -> dict[str, int]:
    """Record the health change 30 days after each completed task (daily job; each task once)."""
    now = now or timezone.now()
    counts = {"measured": 0}
    due = CustomerSuccessTask.objects.filter(
        status=TaskStatus.DONE,
        effectiveness_measured_at__isnull=True,
        completion_date__lte=now - timedelta(days=EFFECT_AFTER_DAYS),
    ).select_related("customer")
    for task in due:
        completed = timezone.localdate(task.completion_date)
        before = health_on(task.customer_id, completed)
        if before is None:
            before = task.health_at_completion
        after = health_on(task.customer_id, completed + timedelta(days=EFFECT_AFTER_DAYS))
        if after is None:
            after = task.customer.health_score
        if before is None or after is None:
            continue
        change = (Decimal(after) - Decimal(before)).quantize(Decimal("0.01"))
        updates = {"health_change": change, "effectiveness_measured_at": now}
        if task.effectiveness_set_by_id is None:
            updates["effectiveness_score"] = effectiveness_from_change(change)
        CustomerSuccessTask.objects.filter(pk=task.pk).update(**updates)
        audit_record(
            action="crm.success_task.effect_measured",
            actor=None,
            obj=task,
            changes={"health_change": (None, change)},
        )
        counts["measured"] += 1
    return counts


# --- Merge --------------------------------------------------------------------------------------------------------
def tasks_move_to_customer(*, source: Customer, target: Customer, actor: User | None = None) -> int:
    """The duplicate's tasks follow the survivor; an open task whose rule already has one open there is cancelled."""
    moved = 0
    survivor_open = set(
        CustomerSuccessTask.objects.filter(customer=target, open_rule__isnull=False).values_list(
            "open_rule_id", flat=True
        )
    )
    for task in CustomerSuccessTask.objects.filter(customer=source):
        fields = {"customer": target}
        if task.open_rule_id and task.open_rule_id in survivor_open:
            fields.update(
                status=TaskStatus.CANCELLED,
                open_rule=None,
                completion_date=timezone.now(),
                result=(task.result + "\n" if task.result else "")
                + gettext("Cancelled: the merged customer has the same task open."),
            )
        if (
            task.trigger_key
            and CustomerSuccessTask.objects.filter(
                customer=target, rule_id=task.rule_id, trigger_key=task.trigger_key
            ).exists()
        ):
            fields["trigger_key"] = None
        CustomerSuccessTask.objects.filter(pk=task.pk).update(**fields)
        audit_record(
            action="crm.success_task.moved",
            actor=actor,
            obj=task,
            changes={"customer": (source.pk, target.pk)},
        )
        moved += 1
    return moved

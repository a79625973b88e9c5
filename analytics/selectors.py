"""Reads of the analytics app: the customers in scope of a page (visibility + filters), pending suggestions."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from analytics.models import LevelSuggestion, SuggestionStatus, Team
from customers.models import Customer
from customers.selectors import customers_visible_to
from segments.rules import apply_rules
from segments.selectors import segment_get_visible


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def scoped_customers(user: User, *, csm=None, team=None, segment=None) -> tuple[QuerySet[Customer], dict]:
    """The live customers the user sees, narrowed by CSM, team (its members' portfolios) and segment (its rules now).

    Returns the queryset and the filters actually applied (an unknown or invisible id applies nothing and is dropped).
    """
    customers = customers_visible_to(user).filter(deleted_at__isnull=True)
    applied: dict = {}
    csm_id = _int(csm)
    if csm_id is not None and User.objects.filter(pk=csm_id, tenant_id=user.tenant_id).exists():
        customers = customers.filter(assigned_manager_id=csm_id)
        applied["csm"] = csm_id
    team_id = _int(team)
    team_row = Team.objects.filter(pk=team_id).first() if team_id is not None else None
    if team_row is not None:
        customers = customers.filter(assigned_manager__in=team_row.members.all())
        applied["team"] = team_row.pk
    segment_row = segment_get_visible(user, segment) if _int(segment) is not None else None
    if segment_row is not None:
        customers = apply_rules(customers, segment_row.rules)
        applied["segment"] = segment_row.pk
    return customers, applied


def pending_suggestions(user: User) -> QuerySet[LevelSuggestion]:
    return (
        LevelSuggestion.objects.filter(status=SuggestionStatus.PENDING, customer__in=customers_visible_to(user))
        .select_related("customer", "customer__assigned_manager")
        .order_by("-grade_score", "pk")
    )


def suggestion_get_visible(user: User, suggestion_id) -> LevelSuggestion | None:
    pk = _int(suggestion_id)
    if pk is None:
        return None
    return (
        LevelSuggestion.objects.filter(pk=pk, customer__in=customers_visible_to(user))
        .select_related("customer")
        .first()
    )


def customer_suggestion(customer: Customer) -> LevelSuggestion | None:
    """The pending suggestion of the customer, else its latest decided one."""
    rows = LevelSuggestion.objects.filter(customer=customer).exclude(status=SuggestionStatus.WITHDRAWN)
    return rows.filter(status=SuggestionStatus.PENDING).first() or rows.order_by("-decided_at", "-pk").first()

"""Reads of the segments app: which segments a user sees, their members (through customers_visible_to)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from customers.models import Customer
from customers.selectors import customer_list_queryset, sees_all_customers
from segments.models import ClusterRun, RfmScore, Segment, SegmentMembership
from segments.rules import apply_rules


def segments_visible_to(user: User) -> QuerySet[Segment]:
    """Leads, admins, finance and viewers see every segment of the tenant; a CSM sees their own and shared ones."""
    queryset = Segment.objects.select_related("created_by")
    if sees_all_customers(user):
        return queryset
    return queryset.filter(Q(created_by=user) | Q(is_shared=True))


def segment_get_visible(user: User, segment_id) -> Segment | None:
    try:
        pk = int(segment_id)
    except (TypeError, ValueError):
        return None
    return segments_visible_to(user).filter(pk=pk).first()


def may_change_segment(user: User, segment: Segment) -> bool:
    """The owner changes their segment; admins and leads change any."""
    return bool(user.has_perm("segments.change_segment")) and (
        segment.created_by_id == user.pk or sees_all_customers(user) and user.has_perm("segments.delete_segment")
    )


def segment_members(user: User, segment: Segment) -> QuerySet[Customer]:
    """The customers in the segment now that `user` may see (live: the rule runs on every call)."""
    return apply_rules(customer_list_queryset(user), segment.rules).order_by("customer_name", "pk")


def segment_history(segment: Segment, user: User) -> QuerySet[SegmentMembership]:
    """Entered / left events of the customers the user may see, newest first."""
    from customers.selectors import customers_visible_to

    return (
        SegmentMembership.objects.filter(segment=segment, customer__in=customers_visible_to(user))
        .select_related("customer")
        .order_by("-entered_at", "-id")
    )


def rfm_summary(user: User) -> list[dict]:
    """Customers per RFM segment (among those the user sees)."""
    from django.db.models import Avg, Count

    from customers.selectors import customers_visible_to

    rows = (
        RfmScore.objects.filter(customer__in=customers_visible_to(user))
        .values("rfm_segment")
        .annotate(n=Count("pk"), health=Avg("customer__health_score"))
        .order_by("rfm_segment")
    )
    return list(rows)


def latest_cluster_run() -> ClusterRun | None:
    return ClusterRun.objects.order_by("-computed_at", "-id").first()


# --- Campaigns ----------------------------------------------------------------------------------------------------
def campaigns_with_figures():
    """Campaigns with their treated-group figures annotated (one query for the list)."""
    from django.db.models import Count, Sum

    from segments.models import Campaign

    treated = Q(members__is_control=False)
    return Campaign.objects.select_related("segment").annotate(
        n_members=Count("members", distinct=True),
        n_treated=Count("members", filter=treated),
        n_converted=Count("members", filter=treated & Q(members__converted_at__isnull=False)),
        treated_revenue=Sum("members__revenue", filter=treated),
    )


def campaign_get(campaign_id):
    from segments.models import Campaign

    try:
        pk = int(campaign_id)
    except (TypeError, ValueError):
        return None
    return Campaign.objects.select_related("segment", "created_by", "launched_by").filter(pk=pk).first()


def campaign_members(user: User, campaign):
    """Members of the campaign whose customer the user may see."""
    from customers.selectors import customers_visible_to
    from segments.models import CampaignMember

    return (
        CampaignMember.objects.filter(campaign=campaign, customer__in=customers_visible_to(user))
        .select_related("customer")
        .order_by("is_control", "customer__customer_name", "pk")
    )


def tag_suggestion_get(user: User, suggestion_id):
    """A pending-or-decided recommendation of a customer the user may see, or None."""
    from customers.selectors import customers_visible_to
    from segments.models import TagSuggestion

    try:
        pk = int(suggestion_id)
    except (TypeError, ValueError):
        return None
    return (
        TagSuggestion.objects.select_related("customer").filter(pk=pk, customer__in=customers_visible_to(user)).first()
    )

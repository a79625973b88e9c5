"""Objects and URL keywords of the segments app for the route walks (see crm_project/testing.py)."""

from decimal import Decimal

from crm_project.testing import ROUTE_BODIES, register_route_kwargs, register_world_objects
from segments import campaigns, services
from segments.models import TagSuggestion


def _segment(world):
    world["customer"]  # a member to list
    return services.segment_create(
        actor=world.owner,
        name="Walk segment",
        rules={"op": "and", "conditions": [{"field": "health_score", "operator": "gte", "value": 0}]},
    )


def _campaign(world):
    return campaigns.campaign_create(
        actor=world.owner,
        data={"name": "Walk campaign", "segment": world["segment"], "goal": "renewal", "cost": Decimal("100")},
    )


def _tag_suggestion(world):
    return TagSuggestion.objects.create(
        customer=world["customer"], tag_name="增购意向", confidence=Decimal("0.6"), source="communications.needs"
    )


register_world_objects({"segment": _segment, "campaign": _campaign, "tag_suggestion": _tag_suggestion})
register_route_kwargs(
    {
        "segment_id": "segment",
        "segments:pk": "segment",
        "campaign_id": "campaign",
        "suggestion_id": "tag_suggestion",
        **{
            f"segments:{name}.pk": "campaign"
            for name in (
                "campaign_detail",
                "campaign_edit",
                "campaign_launch",
                "campaign_attribute",
                "campaign_export",
            )
        },
        "segments:suggestion_accept.pk": "tag_suggestion",
        "segments:suggestion_dismiss.pk": "tag_suggestion",
    }
)
ROUTE_BODIES.update(
    {
        "segment_detail.PUT": {
            "name": "Walk renamed",
            "rules": {"op": "and", "conditions": [{"field": "level", "operator": "gte", "value": 1}]},
        },
        "campaign_detail.PUT": {"name": "Walk campaign renamed", "goal": "upsell"},
    }
)

"""Objects and URL keywords of the segments app for the route walks (see crm_project/testing.py)."""

from crm_project.testing import ROUTE_BODIES, register_route_kwargs, register_world_objects
from segments import services


def _segment(world):
    world["customer"]  # a member to list
    return services.segment_create(
        actor=world.owner,
        name="Walk segment",
        rules={"op": "and", "conditions": [{"field": "health_score", "operator": "gte", "value": 0}]},
    )


register_world_objects({"segment": _segment})
register_route_kwargs({"segment_id": "segment", "segments:pk": "segment"})
ROUTE_BODIES.update(
    {
        "segment_detail.PUT": {
            "name": "Walk renamed",
            "rules": {"op": "and", "conditions": [{"field": "level", "operator": "gte", "value": 1}]},
        },
    }
)

"""Objects and URL keywords of the privacy app for the route walks (see crm_project/testing.py)."""

from crm_project.testing import ROUTE_BODIES, register_route_kwargs, register_world_objects


def _privacy_request(world):
    from privacy import services

    return services.request_create(actor=world.owner, kind="export", contact=world["contact"], reason="walk")


register_world_objects({"privacy_request": _privacy_request})
register_route_kwargs({"request_id": "privacy_request", "privacy:request_id": "privacy_request"})
ROUTE_BODIES.update({"privacy_requests.POST": {"kind": "export", "contact_id": 10**9}})

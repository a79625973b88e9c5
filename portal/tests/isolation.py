"""Objects and URL keywords of the portal for the route walks (see crm_project/testing.py).

The shared walks sign in staff users; the portal's own pages are walked with portal accounts in
portal/tests/test_isolation_walk.py (a second customer's account gets 404 on every id of the first).
"""

from crm_project.testing import register_route_kwargs, register_world_objects
from portal.tests import factories


def _account(world):
    return factories.make_account(world.owner, world["customer"], email="walk.portal@example.com")


register_world_objects(
    {
        "portal_account": _account,
        "portal_ticket": lambda world: factories.make_ticket(world.owner, world["customer"]),
        "portal_report": lambda world: factories.make_report(world.owner, world["customer"]),
        "kb_article": lambda world: factories.make_article(world.owner),
        "kb_checklist": lambda world: factories.make_checklist(world.owner, world["kb_article"]),
        "kb_category": lambda world: world["kb_article"].category,
        "success_goal": lambda world: factories.make_goal(world.owner, world["customer"])[0],
        "success_milestone": lambda world: world["success_goal"].milestones.first(),
    }
)
register_route_kwargs(
    {
        "portal:ticket_id": "portal_ticket",
        "portal:invoice_id": "invoice",
        "portal:report_id": "portal_report",
        "portal:article_id": "kb_article",
        "portal:checklist_id": "kb_checklist",
        "portal:goal_id": "success_goal",
        "portal:milestone_id": "success_milestone",
        "portal:type_key": lambda world: "incident",
        # A one-time link's secret, not a row: an unknown one answers 404 like a spent one.
        "portal:token": lambda world: "walk-unknown-token",
        "portal_staff:account_id": "portal_account",
        "portal_staff:goal_id": "success_goal",
        "portal_staff:milestone_id": "success_milestone",
        "portal_staff:article_id": "kb_article",
        "portal_staff:category_id": "kb_category",
        "portal_staff:checklist_id": "kb_checklist",
    }
)

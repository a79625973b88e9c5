"""Objects and URL keywords of the analytics app for the route walks (see crm_project/testing.py)."""

from datetime import date
from decimal import Decimal

from analytics.models import LevelSuggestion
from crm_project.testing import register_route_kwargs, register_world_objects


def _suggestion(world):
    return LevelSuggestion.objects.create(
        customer=world["customer"],
        current_level=1,
        suggested_level=2,
        value_score=Decimal("40"),
        potential_score=Decimal("20"),
        risk_score=Decimal("30"),
        grade_score=Decimal("39.5"),
        reasons={"ltv": 1000, "arpu": 100, "max_ltv": 1000, "max_arpu": 100},
        computed_on=date(2026, 1, 1),
    )


register_world_objects({"level_suggestion": _suggestion})
register_route_kwargs(
    {
        "suggestion_id": "level_suggestion",
        "analytics:suggestion_accept.pk": "level_suggestion",
        "analytics:suggestion_reject.pk": "level_suggestion",
        "analytics:contact_mark.pk": "contact",
        "analytics:manager_fill.pk": "customer",
    }
)

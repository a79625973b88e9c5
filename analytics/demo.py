"""Demo data of the analytics app (a step of `seed_demo`, after the health history): a team of the demo CSMs, the
consistency check and tonight's level suggestions, so the pages show something on the first start."""

from __future__ import annotations

from accounts.models import User
from accounts.roles import CSM
from analytics import consistency, grading
from analytics.models import Team


def run(tenant, rng, context) -> dict:
    team, _created = Team.objects.get_or_create(name="Customer Success East")
    csms = [u for u in User.objects.filter(tenant=tenant, is_active=True) if u.role == CSM]
    team.members.add(*csms[: max(1, len(csms) // 2)])
    return {"consistency": consistency.repair(), "grading": grading.suggestions_refresh()}

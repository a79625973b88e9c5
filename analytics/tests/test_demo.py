import random

import pytest

from accounts.registry import demo_steps
from accounts.tenancy import tenant_scope
from analytics import demo
from analytics.models import Team

pytestmark = pytest.mark.django_db


def test_demo_step_runs_after_health_and_makes_a_team(owner, teammate):
    keys = [step.key for step in demo_steps]
    assert keys.index("health_history") < keys.index("analytics")
    with tenant_scope(owner.tenant):
        result = demo.run(owner.tenant, random.Random(1), {})
        assert list(Team.objects.get().members.all()) == [teammate]
    assert result["consistency"]["found"] == 0 and result["grading"]["graded"] == 0

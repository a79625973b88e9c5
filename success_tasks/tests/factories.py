"""factory_boy factories for success tasks (written through the services, inside the actor's tenant)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tenancy import tenant_scope
from customers.models import Customer
from success_tasks import services
from success_tasks.choices import TaskPriority, TaskType
from success_tasks.models import CsmProfile, CustomerSuccessTask


class TaskFactory(factory.Factory):
    """TaskFactory(actor=lead, customer=customer, assigned_to=csm, priority=3)."""

    class Meta:
        model = CustomerSuccessTask

    actor = None
    customer = None
    task_title = factory.Sequence(lambda n: f"Task {n + 1}")
    task_type = TaskType.HEALTH
    priority = TaskPriority.MEDIUM
    due_date = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @classmethod
    def _create(cls, model_class, *, actor, customer, **fields):
        with tenant_scope(customer.tenant):
            return services.task_create(actor=actor, customer=customer, data=fields)


def set_health(customer: Customer, score) -> Customer:
    """Test data: the health app (or its absence) owns this column; tests set it directly."""
    with tenant_scope(customer.tenant):
        Customer.objects.filter(pk=customer.pk).update(health_score=Decimal(str(score)))
    customer.health_score = Decimal(str(score))
    return customer


def set_profile(user, team: str = "", absent_until=None) -> CsmProfile:
    with tenant_scope(user.tenant):
        profile, _created = CsmProfile.objects.update_or_create(
            user=user, defaults={"team": team, "absent_until": absent_until}
        )
    return profile

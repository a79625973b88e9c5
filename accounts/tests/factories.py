"""Factories for tenants and staff users."""

import factory
from django.contrib.auth.models import Group

from accounts.models import Tenant, User

PASSWORD = "Correct-Horse-42"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Tenant {n}")


class UserFactory(factory.django.DjangoModelFactory):
    """A user of a tenant with one role (`role="csm"` by default)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("name", locale="zh_CN")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.save()
            self.groups.set([Group.objects.get(name=extracted or "csm")])

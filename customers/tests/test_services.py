"""Rules of the customer services that hold whatever the caller (page, API, import)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.tenancy import tenant_scope
from customers import services
from customers.models import Customer, CustomerContact


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("ABC科技有限公司", "abc科技有限公司"),
        (" ＡＢＣ　科技 (有限公司) ", "abc科技有限公司"),
        ("A.B.C Co., Ltd", "abccoltd"),
    ],
)
def test_normalize_name(name, key):
    assert services.normalize_name(name) == key


@pytest.mark.parametrize(
    ("url", "domain"),
    [("https://www.ABC-tech.com/about", "abc-tech.com"), ("abc.cn", "abc.cn"), ("", ""), ("http://x.y:8080", "x.y")],
)
def test_website_domain(url, domain):
    assert services.website_domain(url) == domain


def test_making_another_contact_primary_demotes_the_old_one(owner):
    with tenant_scope(owner.tenant):
        customer = services.customer_create(
            actor=owner, data={"customer_name": "Acme"}, contacts=[{"contact_name": "Old", "is_primary": True}]
        )
        new = services.contact_create(actor=owner, customer=customer, data={"contact_name": "New", "is_primary": True})
        assert list(CustomerContact.objects.filter(customer=customer, is_primary=True)) == [new]


def test_database_refuses_a_second_primary_even_around_the_service(owner):
    from django.db import IntegrityError, transaction

    with tenant_scope(owner.tenant):
        customer = services.customer_create(
            actor=owner, data={"customer_name": "Acme"}, contacts=[{"contact_name": "A", "is_primary": True}]
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            CustomerContact.objects.create(customer=customer, contact_name="B", is_primary=True)


@pytest.mark.parametrize("tag", ["VIP客户", "high-value", "tier_1", "A.B"])
def test_valid_tag_names(owner, tag):
    with tenant_scope(owner.tenant):
        customer = services.customer_create(actor=owner, data={"customer_name": "T"})
        assert services.tag_add(actor=owner, customer=customer, data={"tag_name": tag}).tag_name == tag


@pytest.mark.parametrize("tag", ["<b>", "a/b", "x;y", "  ", "tag#1"])
def test_tag_names_with_special_characters_are_refused(owner, tag):
    with tenant_scope(owner.tenant):
        customer = services.customer_create(actor=owner, data={"customer_name": "T"})
        with pytest.raises(ValidationError):
            services.tag_add(actor=owner, customer=customer, data={"tag_name": tag})


def test_failed_contact_rolls_back_the_whole_create(owner):
    with tenant_scope(owner.tenant):
        with pytest.raises(ValidationError) as info:
            services.customer_create(
                actor=owner,
                data={"customer_name": "Atomic"},
                contacts=[{"contact_name": "Fine"}, {"contact_name": "Bad", "email": "nope"}],
            )
        assert "contacts[1].email" in info.value.message_dict
        assert not Customer.objects.exists() and not CustomerContact.objects.exists()


def test_csm_cannot_create_for_someone_else(owner, teammate):
    with tenant_scope(owner.tenant), pytest.raises(PermissionDenied):
        services.customer_create(actor=teammate, data={"customer_name": "X", "assigned_manager": owner})


def test_manager_of_another_tenant_is_refused(owner, outsider):
    with tenant_scope(owner.tenant), pytest.raises(ValidationError):
        services.customer_create(actor=owner, data={"customer_name": "X", "assigned_manager": outsider})


def test_merge_needs_the_merge_permission(owner, teammate):
    with tenant_scope(owner.tenant):
        a = services.customer_create(actor=owner, data={"customer_name": "A"})
        b = services.customer_create(actor=owner, data={"customer_name": "B"})
        with pytest.raises(PermissionDenied):
            services.customer_merge(actor=teammate, survivor=a, duplicate=b)

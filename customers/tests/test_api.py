"""The customer API as a client sees it: shapes from the PRD, codes, visibility, roles and query budgets."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope, unscoped
from crm_project.api import codes
from crm_project.testing import assert_api_not_found, assert_envelope, query_budget
from customers import services
from customers.models import Customer, CustomerContact, CustomerTag
from customers.tests import factories
from customers.tests.factories import reload

PRD_BODY = {
    "customer_name": "ABC科技有限公司",
    "customer_type": 1,
    "industry": "软件开发",
    "scale": "中型企业",
    "address": "北京市朝阳区xxx路xxx号",
    "website": "https://www.abc-tech.com",
    "description": "专注于企业级软件开发的科技公司",
    "level": 2,
    "source": "网络推广",
    "contacts": [
        {
            "contact_name": "张总",
            "position": "总经理",
            "phone": "010-12345678",
            "mobile": "13800138000",
            "email": "zhang@abc-tech.com",
            "is_primary": 1,
            "is_decision_maker": 1,
            "influence_level": 3,
        }
    ],
}


def make_customer(actor, name, *, contacts=(), tags=(), **fields):
    return factories.make_customer(actor, customer_name=name, contacts=contacts, tags=tags, **fields)


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


@pytest.fixture
def viewer(make_user):
    return make_user(role="viewer", username="viewer")


# --- Create -------------------------------------------------------------------------------------------------------
def test_create_with_the_prd_body_answers_the_prd_shape(api_as, owner):
    response = api_as(owner).post("/api/v1/customers", PRD_BODY, format="json")
    data = assert_envelope(response, status=201, code=201)
    assert set(data) == {"customer_id", "customer_code", "customer_name", "status", "health_score", "created_at"}
    today = timezone.localdate().strftime("%Y%m%d")
    assert data["customer_code"] == f"CUST{today}0001"
    assert (data["status"], data["health_score"], data["customer_name"]) == (1, 0.0, "ABC科技有限公司")
    with tenant_scope(owner.tenant):
        customer = Customer.objects.get(pk=data["customer_id"])
        assert (customer.level, customer.customer_type) == (2, 1)
        assert customer.contacts.get().is_primary


def test_defaults_follow_the_prd_ddl(api_as, owner):
    data = assert_envelope(api_as(owner).post("/api/v1/customers", {"customer_name": "Min"}, format="json"), status=201)
    with tenant_scope(owner.tenant):
        customer = Customer.objects.get(pk=data["customer_id"])
    assert (customer.status, customer.level, customer.customer_type) == (1, 1, 1)


def test_codes_follow_a_daily_sequence(api_as, owner):
    client = api_as(owner)
    codes_seen = [
        assert_envelope(client.post("/api/v1/customers", {"customer_name": f"C{i}"}, format="json"), status=201)[
            "customer_code"
        ]
        for i in range(3)
    ]
    assert [code[-4:] for code in codes_seen] == ["0001", "0002", "0003"]


def test_each_tenant_has_its_own_code_sequence(api_as, owner, outsider):
    mine = assert_envelope(api_as(owner).post("/api/v1/customers", {"customer_name": "A"}, format="json"), status=201)
    theirs = assert_envelope(api_as(outsider).post("/api/v1/customers", {"customer_name": "A"}, format="json"), 201)
    assert mine["customer_code"] == theirs["customer_code"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_get_distinct_codes(owner):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers by itself; the race matters on MariaDB (CI)")
    codes_made, errors = [], []

    def create(index):
        try:
            customer = make_customer(owner, f"Parallel {index}")
            codes_made.append(customer.customer_code)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(codes_made)) == 8


def test_duplicate_name_is_409_with_the_existing_id(api_as, owner):
    existing = make_customer(owner, "ABC科技有限公司")
    response = api_as(owner).post("/api/v1/customers", {"customer_name": " abc科技有限公司 "}, format="json")
    data = assert_envelope(response, status=409, code=codes.CUSTOMER_DUPLICATE)
    assert data["customer_id"] == existing.pk


def test_full_width_name_counts_as_duplicate(api_as, owner):
    make_customer(owner, "ABC Tech")
    response = api_as(owner).post("/api/v1/customers", {"customer_name": "ＡＢＣ　Ｔｅｃｈ"}, format="json")
    assert_envelope(response, status=409, code=codes.CUSTOMER_DUPLICATE)


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        ({"contact_name": "Li", "email": "not-an-email"}, "contacts[0].email"),
        ({"contact_name": "Li", "mobile": "12345"}, "contacts[0].mobile"),
        ({"contact_name": "Li", "phone": "call me"}, "contacts[0].phone"),
        ({"email": "li@example.com"}, "contacts[0].contact_name"),
    ],
)
def test_bad_contact_is_40003_naming_the_field_and_nothing_is_stored(api_as, owner, contact, field):
    response = api_as(owner).post(
        "/api/v1/customers", {"customer_name": "X Corp", "contacts": [contact]}, format="json"
    )
    data = assert_envelope(response, status=400, code=codes.CONTACT_INVALID)
    assert data["field"] == field
    with tenant_scope(owner.tenant):
        assert not Customer.objects.exists()


def test_two_primary_contacts_are_refused(api_as, owner):
    contacts = [{"contact_name": "A", "is_primary": 1}, {"contact_name": "B", "is_primary": 1}]
    response = api_as(owner).post("/api/v1/customers", {"customer_name": "X", "contacts": contacts}, format="json")
    assert_envelope(response, status=400, code=codes.CONTACT_INVALID)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_name": "X", "level": 9}, "level"),
        ({"customer_name": "X", "status": 0}, "status"),
        ({"customer_name": "X", "customer_type": "big"}, "customer_type"),
        ({"customer_name": ""}, "customer_name"),
        ({"customer_name": "X", "tags": ["bad<tag>"]}, "tags[0]"),
        ({"customer_name": "X", "assigned_manager_id": 999999}, "assigned_manager_id"),
    ],
)
def test_invalid_values_are_400_naming_the_field(api_as, owner, body, field):
    data = assert_envelope(api_as(owner).post("/api/v1/customers", body, format="json"), status=400)
    assert data["field"] == field


@pytest.mark.parametrize("field", ["customer_code", "health_score", "ltv", "tenant", "created_at"])
def test_fields_a_client_may_not_set_are_refused(api_as, owner, field):
    body = {"customer_name": "X", field: "CUST1" if field == "customer_code" else 99}
    data = assert_envelope(api_as(owner).post("/api/v1/customers", body, format="json"), status=400)
    assert data["field"] == field
    with tenant_scope(owner.tenant):
        assert not Customer.objects.exists()


def test_csm_creates_customers_for_themselves(api_as, teammate):
    data = assert_envelope(api_as(teammate).post("/api/v1/customers", {"customer_name": "Mine"}, format="json"), 201)
    detail = assert_envelope(api_as(teammate).get(f"/api/v1/customers/{data['customer_id']}"), status=200)
    assert detail["customer_info"]["assigned_manager"]["id"] == teammate.pk


# --- Read ---------------------------------------------------------------------------------------------------------
def test_list_items_have_the_prd_shape(api_as, owner, teammate):
    make_customer(owner, "ABC", assigned_manager=teammate, status=2, level=3)
    data = assert_envelope(api_as(owner).get("/api/v1/customers?status=2&level=3&page=1&size=20"), status=200)
    assert (data["total"], data["page"], data["size"]) == (1, 1, 20)
    item = data["items"][0]
    assert set(item) == {
        "customer_id", "customer_code", "customer_name", "customer_type", "industry", "level", "status",
        "health_score", "ltv", "assigned_manager", "last_contact_date", "next_renewal_date",
    }  # fmt: skip
    assert item["assigned_manager"] == {"id": teammate.pk, "name": teammate.get_display_name()}


def test_detail_has_customer_info_contacts_and_tags(api_as, owner):
    customer = make_customer(owner, "ABC", contacts=PRD_BODY["contacts"], tags=["高价值客户"])
    data = assert_envelope(api_as(owner).get(f"/api/v1/customers/{customer.pk}"), status=200)
    assert set(data) == {"customer_info", "contacts", "tags"}
    assert data["customer_info"]["customer_code"] == customer.customer_code
    assert data["contacts"][0]["is_primary"] == 1 and data["contacts"][0]["contact_id"]
    assert data["tags"][0]["tag_name"] == "高价值客户"


def _set(customer, **fields):
    with unscoped("test adjusts derived fields"):
        Customer.objects.filter(pk=customer.pk).update(**fields)


def test_list_filters(api_as, owner, teammate):
    a = make_customer(
        owner,
        "Alpha Cloud",
        status=2,
        level=3,
        industry="金融",
        assigned_manager=teammate,
        contacts=[{"contact_name": "王小明"}],
        tags=["重点"],
    )
    b = make_customer(owner, "Beta Data", status=1, level=1, industry="制造")
    _set(a, health_score=Decimal("85.5"))
    _set(b, health_score=Decimal("40"))
    client = api_as(owner)

    def ids(query):
        return [item["customer_id"] for item in assert_envelope(client.get(f"/api/v1/customers?{query}"), 200)["items"]]

    assert ids("status=2") == [a.pk]
    assert sorted(ids("status=1,2")) == sorted([a.pk, b.pk])
    assert ids("level=1") == [b.pk]
    assert ids("industry=金融") == [a.pk]
    assert ids(f"assigned_manager_id={teammate.pk}") == [a.pk]
    assert ids("health_score_min=80") == [a.pk]
    assert ids("health_score_max=50") == [b.pk]
    assert ids("tag=重点") == [a.pk]
    assert ids("q=王小明") == [a.pk]
    assert ids(f"q={b.customer_code}") == [b.pk]
    assert ids("q=beta") == [b.pk]
    today = timezone.localdate()
    assert len(ids(f"created_from={today}&created_to={today}")) == 2
    assert ids(f"created_from={today + timedelta(days=1)}") == []
    assert ids("sort=health_score,desc") == [a.pk, b.pk]
    assert ids("sort=health_score,asc") == [b.pk, a.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=9", "status"), ("level=abc", "level"), ("health_score_min=x", "health_score_min"),
     ("created_from=yesterday", "created_from"), ("sort=tenant,desc", "sort"), ("size=abc", "size")],
)  # fmt: skip
def test_invalid_filter_values_are_400(api_as, owner, query, field):
    data = assert_envelope(api_as(owner).get(f"/api/v1/customers?{query}"), status=400)
    assert data["field"] == field


def test_search_endpoint_accepts_the_prd_body(api_as, owner, teammate):
    a = make_customer(owner, "Alpha", status=2, level=3, industry="软件开发", assigned_manager=teammate)
    make_customer(owner, "Beta", status=1, level=1, industry="金融")
    c = make_customer(owner, "Gamma", status=2, level=4, industry="金融", assigned_manager=teammate)
    _set(a, health_score=Decimal("75"))
    _set(c, health_score=Decimal("95"))
    body = {
        "filters": {
            "status": [1, 2],
            "level": [2, 3, 4],
            "industry": ["软件开发", "金融"],
            "health_score_range": {"min": 70, "max": 100},
            "assigned_manager_id": teammate.pk,
            "created_date_range": {"start": "2025-01-01", "end": str(timezone.localdate())},
        },
        "sort": {"field": "health_score", "direction": "desc"},
        "pagination": {"page": 1, "size": 20},
    }
    data = assert_envelope(api_as(owner).post("/api/v1/customers/search", body, format="json"), status=200)
    assert [item["customer_id"] for item in data["items"]] == [c.pk, a.pk]
    assert data["total"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filters": {"status": [7]}}, "filters.status[0]"),
        ({"sort": {"field": "password"}}, "sort.field"),
        ({"pagination": {"page": 0}}, "pagination.page"),
        ({"filters": {"health_score_range": {"min": "low"}}}, "filters.health_score_range.min"),
    ],
)
def test_search_body_errors_name_the_field(api_as, owner, body, field):
    data = assert_envelope(api_as(owner).post("/api/v1/customers/search", body, format="json"), status=400)
    assert data["field"] == field


def test_search_is_allowed_for_viewers(api_as, owner, viewer):
    make_customer(owner, "Seen")
    data = assert_envelope(api_as(viewer).post("/api/v1/customers/search", {}, format="json"), status=200)
    assert data["total"] == 1


# --- Update / delete --------------------------------------------------------------------------------------------
def test_patch_changes_fields_and_audits(api_as, owner):
    customer = make_customer(owner, "Old Name")
    response = api_as(owner).patch(
        f"/api/v1/customers/{customer.pk}", {"customer_name": "New Name", "level": 4}, format="json"
    )
    data = assert_envelope(response, status=200)
    assert data["customer_info"]["customer_name"] == "New Name" and data["customer_info"]["level"] == 4
    with tenant_scope(owner.tenant):
        entry = AuditLog.objects.filter(action="crm.customer.updated", object_id=str(customer.pk)).get()
    assert entry.changes["customer_name"] == {"old": "Old Name", "new": "New Name"}


def test_put_requires_the_name(api_as, owner):
    customer = make_customer(owner, "Name")
    data = assert_envelope(api_as(owner).put(f"/api/v1/customers/{customer.pk}", {"level": 2}, format="json"), 400)
    assert data["field"] == "customer_name"


def test_reassigning_is_a_lead_action_and_is_audited(api_as, owner, teammate, lead, make_user):
    other_csm = make_user(role="csm", username="other_csm")
    customer = make_customer(owner, "Acme", assigned_manager=teammate)
    url = f"/api/v1/customers/{customer.pk}"
    refused = api_as(teammate).patch(url, {"assigned_manager_id": other_csm.pk}, format="json")
    assert_envelope(refused, status=403, code=codes.PERMISSION_DENIED)
    assert_envelope(api_as(lead).patch(url, {"assigned_manager_id": other_csm.pk}, format="json"), status=200)
    with tenant_scope(owner.tenant):
        assert AuditLog.objects.filter(action="crm.customer.reassigned", object_id=str(customer.pk)).exists()


def test_soft_delete_hides_everywhere_but_keeps_the_row(api_as, owner):
    customer = make_customer(owner, "Gone Soon")
    client = api_as(owner)
    assert_envelope(client.delete(f"/api/v1/customers/{customer.pk}"), status=200)
    assert_envelope(client.get(f"/api/v1/customers/{customer.pk}"), status=404, code=codes.CUSTOMER_NOT_FOUND)
    assert assert_envelope(client.get("/api/v1/customers"), status=200)["total"] == 0
    with tenant_scope(owner.tenant):
        assert Customer.objects.filter(pk=customer.pk, deleted_at__isnull=False).exists()
        assert AuditLog.objects.filter(action="crm.customer.deleted", object_id=str(customer.pk)).exists()
    # The name is free again after a delete.
    assert_envelope(client.post("/api/v1/customers", {"customer_name": "Gone Soon"}, format="json"), status=201)


# --- Contacts and tags ------------------------------------------------------------------------------------------
def test_contact_crud_and_single_primary(api_as, owner):
    customer = make_customer(owner, "Acme", contacts=[{"contact_name": "First", "is_primary": 1}])
    client = api_as(owner)
    base = f"/api/v1/customers/{customer.pk}/contacts"
    created = assert_envelope(client.post(base, {"contact_name": "Second", "is_primary": 1}, format="json"), 201)
    contacts = assert_envelope(client.get(base), status=200)
    primaries = [c["contact_name"] for c in contacts if c["is_primary"] == 1]
    assert primaries == ["Second"]
    url = f"{base}/{created['contact_id']}"
    assert assert_envelope(client.patch(url, {"position": "CTO"}, format="json"), 200)["position"] == "CTO"
    bad = client.patch(url, {"email": "broken@"}, format="json")
    assert assert_envelope(bad, status=400, code=codes.CONTACT_INVALID)["field"] == "email"
    assert_envelope(client.delete(url), status=200)
    assert_envelope(client.get(url), status=404)


def test_contact_of_another_customer_is_404(api_as, owner):
    a = make_customer(owner, "A", contacts=[{"contact_name": "Ann"}])
    b = make_customer(owner, "B")
    with tenant_scope(owner.tenant):
        contact_id = a.contacts.get().pk
    assert_envelope(api_as(owner).get(f"/api/v1/customers/{b.pk}/contacts/{contact_id}"), status=404)


def test_tag_crud_and_validation(api_as, owner):
    customer = make_customer(owner, "Acme")
    client = api_as(owner)
    base = f"/api/v1/customers/{customer.pk}/tags"
    tag = assert_envelope(
        client.post(base, {"tag_name": "高价值客户", "tag_type": 2, "tag_category": "价值分类", "confidence": 0.95},
                    format="json"),
        status=201,
    )  # fmt: skip
    assert tag["confidence"] == 0.95
    assert assert_envelope(client.post(base, {"tag_name": "a/b;drop"}, format="json"), 400)["field"] == "tag_name"
    assert assert_envelope(client.post(base, {"tag_name": "x", "confidence": 2}, format="json"), 400)["field"] == (
        "confidence"
    )
    url = f"{base}/{tag['tag_id']}"
    assert assert_envelope(client.patch(url, {"tag_value": "A"}, format="json"), 200)["tag_value"] == "A"
    assert_envelope(client.delete(url), status=200)
    assert assert_envelope(client.get(base), status=200) == []


def test_duplicates_endpoint_lists_candidates_with_reasons(api_as, owner):
    a = make_customer(
        owner, "Acme Ltd", website="https://www.acme.com", contacts=[{"contact_name": "A", "email": "a@acme.com"}]
    )
    b = make_customer(owner, "Acme Holdings", website="http://acme.com/en")
    c = make_customer(owner, "Different", contacts=[{"contact_name": "A2", "email": "a@acme.com"}])
    make_customer(owner, "Unrelated")
    data = assert_envelope(api_as(owner).get(f"/api/v1/customers/{a.pk}/duplicates"), status=200)
    found = {item["customer_id"]: item["reasons"] for item in data}
    assert set(found) == {b.pk, c.pk}


# --- Who sees what --------------------------------------------------------------------------------------------------
def test_every_customer_route_is_isolated(api_as, owner, teammate, outsider, make_user):
    customer = make_customer(owner, "Private", contacts=[{"contact_name": "P"}], tags=["t1"])
    with tenant_scope(owner.tenant):
        contact_id = customer.contacts.get().pk
        tag_id = customer.tags.get().pk
    other_csm = make_user(role="csm", username="unassigned_csm")
    urls = [
        f"/api/v1/customers/{customer.pk}",
        f"/api/v1/customers/{customer.pk}/contacts",
        f"/api/v1/customers/{customer.pk}/contacts/{contact_id}",
        f"/api/v1/customers/{customer.pk}/tags",
        f"/api/v1/customers/{customer.pk}/tags/{tag_id}",
        f"/api/v1/customers/{customer.pk}/duplicates",
    ]
    collections = {urls[1], urls[3]}
    for url in urls:
        assert api_as(owner).get(url).status_code == 200, url
        writes = ["post"] if url in collections else ["patch", "delete"]
        if url.endswith("/duplicates"):
            writes = []
        for stranger in (outsider, other_csm):
            methods = ["get"] + (writes if stranger is outsider else [])
            assert_api_not_found(api_as(stranger), url, methods=methods, code=codes.CUSTOMER_NOT_FOUND)
    assert assert_envelope(api_as(outsider).get("/api/v1/customers"), status=200)["total"] == 0
    assert assert_envelope(api_as(other_csm).get("/api/v1/customers"), status=200)["total"] == 0
    with tenant_scope(owner.tenant):
        assert Customer.objects.filter(pk=customer.pk, deleted_at__isnull=True).exists()
    # A missing id answers exactly like an invisible one.
    assert_api_not_found(api_as(owner), "/api/v1/customers/987654", code=codes.CUSTOMER_NOT_FOUND)
    share = api_as(outsider).post(f"/api/v1/customers/{customer.pk}/shares", {"user_id": outsider.pk}, format="json")
    assert_envelope(share, status=404, code=codes.CUSTOMER_NOT_FOUND)


def test_csm_sees_assigned_and_shared_customers_only(api_as, owner, teammate, lead):
    mine = make_customer(owner, "Mine", assigned_manager=teammate)
    shared = make_customer(owner, "Shared")
    make_customer(owner, "Not mine")
    client = api_as(teammate)
    assert_envelope(client.get(f"/api/v1/customers/{shared.pk}"), status=404)
    share_url = f"/api/v1/customers/{shared.pk}/shares"
    assert_envelope(client.post(share_url, {"user_id": teammate.pk}, format="json"), status=403)
    assert_envelope(api_as(lead).post(share_url, {"user_id": teammate.pk}, format="json"), status=200)
    data = assert_envelope(client.get("/api/v1/customers?sort=customer_name,asc"), status=200)
    assert [item["customer_id"] for item in data["items"]] == [mine.pk, shared.pk]
    assert_envelope(client.get(f"/api/v1/customers/{shared.pk}"), status=200)
    assert_envelope(api_as(lead).delete(f"{share_url}/{teammate.pk}"), status=200)
    assert_envelope(client.get(f"/api/v1/customers/{shared.pk}"), status=404)


@pytest.mark.parametrize(
    ("role", "create", "update", "delete"),
    [
        ("tenant_admin", 201, 200, 200),
        ("cs_lead", 201, 200, 200),
        ("csm", 201, 200, 403),
        ("finance", 403, 403, 403),
        ("viewer", 403, 403, 403),
    ],
)
def test_role_matrix(api_as, owner, make_user, role, create, update, delete):
    """Each answer matches what happened to the rows: a refusal changes nothing, a success changes the row."""
    user = make_user(role=role, username=f"r_{role}")
    customer = make_customer(owner, "Shared Target", assigned_manager=user if role == "csm" else None)
    client = api_as(user)
    assert client.get(f"/api/v1/customers/{customer.pk}").status_code == 200

    assert client.post("/api/v1/customers", {"customer_name": f"New {role}"}, format="json").status_code == create
    with tenant_scope(owner.tenant):
        assert Customer.objects.filter(customer_name=f"New {role}").exists() == (create == 201)

    assert client.patch(f"/api/v1/customers/{customer.pk}", {"level": 2}, format="json").status_code == update
    assert (reload(customer).level == 2) == (update == 200)

    contact_status = client.post(
        f"/api/v1/customers/{customer.pk}/contacts", {"contact_name": "Matrix"}, format="json"
    ).status_code
    assert contact_status == (201 if update == 200 else 403)
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.filter(customer=customer, contact_name="Matrix").exists() == (update == 200)

    tag_status = client.post(f"/api/v1/customers/{customer.pk}/tags", {"tag_name": "m"}, format="json").status_code
    assert tag_status == (201 if update == 200 else 403)
    with tenant_scope(owner.tenant):
        assert CustomerTag.objects.filter(customer=customer, tag_name="m").exists() == (update == 200)

    assert client.delete(f"/api/v1/customers/{customer.pk}").status_code == delete
    assert (reload(customer).deleted_at is not None) == (delete == 200)


@pytest.mark.parametrize("role", ["tenant_admin", "cs_lead", "csm", "finance", "viewer"])
def test_role_matrix_for_sharing_and_merging(api_as, owner, make_user, teammate, role):
    """Sharing and merging are for leads and admins; for everyone else nothing changes."""
    user = make_user(role=role, username=f"s_{role}")
    allowed = role in ("tenant_admin", "cs_lead")
    first = make_customer(owner, "Matrix First", assigned_manager=user if role == "csm" else None)
    second = make_customer(owner, "Matrix Second", assigned_manager=user if role == "csm" else None)
    client = api_as(user)
    shared = client.post(f"/api/v1/customers/{first.pk}/shares", {"user_id": teammate.pk}, format="json")
    assert shared.status_code == (200 if allowed else 403)
    with tenant_scope(owner.tenant):
        assert teammate.has_perm("customers.view_customer", Customer.objects.get(pk=first.pk)) == allowed
    merged = client.post(f"/api/v1/customers/{first.pk}/merge", {"duplicate_id": second.pk}, format="json")
    assert merged.status_code == (200 if allowed else 403)
    assert (reload(second).deleted_at is not None) == allowed


# --- Query budgets ------------------------------------------------------------------------------------------------
def _populate(owner, manager, count, start=0):
    for index in range(start, start + count):
        make_customer(
            owner,
            f"Budget {index}",
            assigned_manager=manager,
            status=2,
            contacts=[{"contact_name": f"C{index}a", "is_primary": 1}, {"contact_name": f"C{index}b"}],
            tags=[f"tag{index}", "common"],
        )


def test_warm_list_request_runs_two_queries(api_as, owner):
    """With permissions and the total cached, a list request reads the user and the page, nothing else."""
    client = api_as(owner)
    _populate(owner, owner, 3)
    client.get("/api/v1/customers?status=2")
    with query_budget(2):
        data = assert_envelope(client.get("/api/v1/customers?status=2"), status=200)
    assert data["total"] == 3


def test_cached_total_follows_writes(api_as, owner):
    client = api_as(owner)
    _populate(owner, owner, 2)
    assert assert_envelope(client.get("/api/v1/customers?status=2"), 200)["total"] == 2
    _populate(owner, owner, 1, start=2)
    assert assert_envelope(client.get("/api/v1/customers?status=2"), 200)["total"] == 3
    with tenant_scope(owner.tenant):
        customer = Customer.objects.filter(customer_name="Budget 0").get()
        Customer.objects.filter(pk=customer.pk).update(status=1)  # a queryset update, no signal
    assert assert_envelope(client.get("/api/v1/customers?status=2"), 200)["total"] == 2


def test_list_query_count_is_constant(api_as, owner):
    client = api_as(owner)
    _populate(owner, owner, 3)
    with query_budget(6):
        assert_envelope(client.get("/api/v1/customers?status=2&sort=health_score,desc"), status=200)
    _populate(owner, owner, 25, start=3)
    with query_budget(6):
        data = assert_envelope(client.get("/api/v1/customers?status=2&sort=health_score,desc&size=50"), 200)
    assert data["total"] == 28


def test_detail_query_count_is_constant(api_as, owner):
    client = api_as(owner)
    small = make_customer(owner, "Small", contacts=[{"contact_name": "A"}], tags=["x"])
    big = make_customer(
        owner, "Big", contacts=[{"contact_name": f"P{i}"} for i in range(12)], tags=[f"t{i}" for i in range(12)]
    )
    cache.clear()  # compare cold requests: permission caches would otherwise make the second one cheaper
    # 7 reads + the access audit's INSERT (crm_project.audit.record_access, PRD 7.4.2)
    with query_budget(8) as small_ctx:
        client.get(f"/api/v1/customers/{small.pk}")
    cache.clear()
    with query_budget(8) as big_ctx:
        client.get(f"/api/v1/customers/{big.pk}")
    assert len(big_ctx.captured_queries) == len(small_ctx.captured_queries)


def test_csm_list_query_count_is_constant(api_as, owner, teammate):
    client = api_as(teammate)
    _populate(owner, teammate, 2)
    cache.clear()
    # user, 3 permission reads (cache cleared), count, the page's ids, the page's rows (deferred join)
    with query_budget(7) as small:
        client.get("/api/v1/customers")
    _populate(owner, teammate, 15, start=2)
    cache.clear()
    with query_budget(7) as big:
        client.get("/api/v1/customers")
    assert len(big.captured_queries) == len(small.captured_queries)


def test_merge_moves_contacts_and_tags_atomically(owner):
    survivor = make_customer(owner, "Acme", contacts=[{"contact_name": "S", "is_primary": 1}], tags=["a"])
    duplicate = make_customer(
        owner, "Acme Corp", industry="金融", contacts=[{"contact_name": "D", "is_primary": 1}], tags=["a", "b"]
    )
    with tenant_scope(owner.tenant):
        services.customer_merge(actor=owner, survivor=survivor, duplicate=duplicate, take_from_duplicate=["industry"])
        survivor.refresh_from_db()
        duplicate.refresh_from_db()
        assert survivor.industry == "金融"
        assert duplicate.deleted_at is not None and duplicate.merged_into_id == survivor.pk
        assert sorted(survivor.contacts.values_list("contact_name", flat=True)) == ["D", "S"]
        assert CustomerContact.objects.filter(customer=survivor, is_primary=True).count() == 1
        assert sorted(survivor.tags.values_list("tag_name", flat=True)) == ["a", "b"]
        assert AuditLog.objects.filter(action="crm.customer.merged", object_id=str(survivor.pk)).exists()

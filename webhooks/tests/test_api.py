"""`/api/v1/webhooks`: subscriptions CRUD (secret shown once), validation naming the field, tenant admins only,
other tenants' rows are 404, list query budgets."""

from __future__ import annotations

from crm_project.testing import assert_api_not_found, assert_envelope
from webhooks.tests.factories import make_delivery, make_subscription

URL = "/api/v1/webhooks/subscriptions"


def test_subscription_crud(owner, api_as):
    api = api_as(owner)
    created = assert_envelope(
        api.post(
            URL,
            {
                "name": "ERP",
                "target_url": "https://erp.example.com/hook",
                "event_types": ["customer.created", "health.changed"],
            },
            format="json",
        ),  # fmt: skip
        201,
    )
    assert len(created["secret"]) == 64 and created["key_id"].startswith("wh_")
    detail = assert_envelope(api.get(f"{URL}/{created['id']}"), 200)
    assert "secret" not in detail and detail["event_types"] == ["customer.created", "health.changed"]
    patched = assert_envelope(api.patch(f"{URL}/{created['id']}", {"is_active": False}, format="json"), 200)
    assert patched["is_active"] is False
    listed = assert_envelope(api.get(URL), 200)
    assert listed["total"] == 1 and listed["items"][0]["name"] == "ERP"
    assert_envelope(api.delete(f"{URL}/{created['id']}"), 200)
    assert assert_envelope(api.get(URL), 200)["total"] == 0


def test_validation_names_the_field(owner, api_as):
    api = api_as(owner)
    response = api.post(URL, {"name": "x", "target_url": "https://a.example.com", "event_types": ["nope"]},
                        format="json")  # fmt: skip
    assert_envelope(response, 400)

    assert "event_types" in response.content.decode()
    response = api.post(URL, {"name": "x", "target_url": "https://a.example.com", "event_types": []}, format="json")
    assert_envelope(response, 400)
    response = api.post(URL, {"name": "x", "target_url": "https://a.example.com", "event_types": ["customer.created"],
                              "secret": "mine"}, format="json")  # fmt: skip
    assert_envelope(response, 400)
    assert "secret" in response.content.decode()
    response = api.get("/api/v1/webhooks/deliveries?status=bogus")
    assert_envelope(response, 400)


def test_only_tenant_admins_and_only_their_tenant(owner, outsider, make_user, api_as):
    subscription = make_subscription(owner)
    delivery = make_delivery(owner, subscription)
    csm = api_as(make_user(role="csm"))
    assert_envelope(csm.get(URL), 403)
    assert_envelope(csm.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay"), 403)
    stranger = api_as(outsider)
    assert_api_not_found(stranger, f"{URL}/{subscription.pk}", methods=("get", "patch", "delete"))
    assert_api_not_found(stranger, f"/api/v1/webhooks/deliveries/{delivery.pk}")
    assert_api_not_found(stranger, f"/api/v1/webhooks/deliveries/{delivery.pk}/replay", methods=("post",))
    assert assert_envelope(stranger.get("/api/v1/webhooks/deliveries"), 200)["total"] == 0


def test_list_query_budgets(owner, api_as, django_assert_max_num_queries):
    subscription = make_subscription(owner)
    deliveries = [make_delivery(owner, subscription) for _ in range(5)]
    api = api_as(owner)
    api.get(URL)  # warm the user and permission caches
    with django_assert_max_num_queries(8):
        assert assert_envelope(api.get("/api/v1/webhooks/deliveries"), 200)["total"] == 5
    with django_assert_max_num_queries(8):
        assert assert_envelope(api.get(URL), 200)["total"] == 1
    detail = assert_envelope(api.get(f"/api/v1/webhooks/deliveries/{deliveries[0].pk}"), 200)
    assert detail["payload"]["event"] == "customer.created" and detail["attempt_log"] == []

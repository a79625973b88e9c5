"""System tags follow their rules nightly, through the customers tag service; manual tags are left alone."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.tenancy import tenant_scope
from customers.choices import TagType
from customers.models import Customer, CustomerTag
from customers.tests.factories import make_tag
from segments.models import RfmScore
from segments.smart_tags import AT_RISK, HIGH_VALUE, RENEWAL_DUE
from segments.tasks import maintain_system_tags
from segments.tests.factories import customer_with

pytestmark = pytest.mark.django_db


def tags(tenant):
    with tenant_scope(tenant):
        return sorted(
            CustomerTag.objects.filter(tag_type=TagType.SYSTEM).values_list("customer__customer_name", "tag_name")
        )


def test_system_tags_added_and_removed(owner):
    sick = customer_with(owner, customer_name="Sick", health=40)
    renewing = customer_with(owner, customer_name="Renewing", health=90)
    rich = customer_with(owner, customer_name="Rich", health=95)
    manual = customer_with(owner, customer_name="Manual", health=30)
    make_tag(owner, manual, AT_RISK)  # a manual tag of the same name stays manual
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=renewing.pk).update(next_renewal_date=date(2026, 4, 15))
        RfmScore.objects.create(
            customer=rich, recency_days=1, frequency=3, monetary=Decimal("1"), r_score=5, f_score=5, m_score=5,
            rfm_segment="champions", computed_at=timezone.now(),
        )  # fmt: skip
    at = datetime(2026, 3, 1, 3, tzinfo=timezone.get_current_timezone())
    with time_machine.travel(at, tick=False):
        maintain_system_tags(owner.tenant.pk)
        maintain_system_tags(owner.tenant.pk)  # idempotent
    assert tags(owner.tenant) == [("Renewing", RENEWAL_DUE), ("Rich", HIGH_VALUE), ("Sick", AT_RISK)]
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=sick.pk).update(health_score=80)
    with time_machine.travel(at, tick=False):
        maintain_system_tags(owner.tenant.pk)
    assert tags(owner.tenant) == [("Renewing", RENEWAL_DUE), ("Rich", HIGH_VALUE)]
    with tenant_scope(owner.tenant):
        assert CustomerTag.objects.filter(customer=manual, tag_name=AT_RISK, tag_type=TagType.MANUAL).exists()


# --- Automatic tags with confidence, recommendations, accept / dismiss ------------------------------------------------
from communications.models import CommunicationAnalysis  # noqa: E402
from communications.tests.factories import make_communication  # noqa: E402
from crm_project.testing import assert_api_not_found, assert_envelope, query_budget  # noqa: E402
from health.tests.factories import score_row, usage  # noqa: E402
from segments import smart_tags  # noqa: E402
from segments.models import TagSuggestion  # noqa: E402

NOW = datetime(2026, 3, 1, 3, tzinfo=timezone.get_current_timezone())


def _needs(owner, customer, need, times):
    for i in range(times):
        comm = make_communication(owner, customer, communication_date=NOW.replace(day=1 + i, hour=1) if i else NOW)
        with tenant_scope(owner.tenant):
            CommunicationAnalysis.objects.update_or_create(
                communication=comm, defaults={"needs": [{"tag": need, "evidence": "x"}]}
            )


def _run(owner):
    with tenant_scope(owner.tenant):
        return smart_tags.smart_tags_maintain(now=NOW)


def _auto(owner):
    with tenant_scope(owner.tenant):
        return sorted(
            CustomerTag.objects.filter(tag_type=TagType.AUTOMATIC).values_list(
                "customer__customer_name", "tag_name", "confidence", "source"
            )
        )


def _pending(owner):
    with tenant_scope(owner.tenant):
        return sorted(
            TagSuggestion.objects.filter(status="pending").values_list(
                "customer__customer_name", "tag_name", "confidence"
            )
        )


@pytest.fixture
def signals(owner):
    churny = customer_with(owner, customer_name="Churny", health=50)
    keen = customer_with(owner, customer_name="Keen", health=80)
    quiet = customer_with(owner, customer_name="Quiet", health=80)
    score_row(churny, date(2026, 2, 28), 50, churn_probability=Decimal("0.91"))
    score_row(keen, date(2026, 2, 28), 80, churn_probability=Decimal("0.62"))
    _needs(owner, keen, "upsell_interest", 1)  # 1 - 0.5 = 0.5: recommended
    _needs(owner, churny, "training_request", 3)  # 1 - 0.125 = 0.875: applied
    for day in range(12):  # 12 events in the 30 days before, 3 in the last 30: drop 0.75
        usage(quiet, NOW - timezone.timedelta(days=31 + day))
    for day in range(3):
        usage(quiet, NOW - timezone.timedelta(days=1 + day))
    return {"churny": churny, "keen": keen, "quiet": quiet}


def test_auto_tags_with_confidence_and_recommendations(owner, signals):
    counts = _run(owner)
    assert _auto(owner) == [
        ("Churny", smart_tags.TRAINING_NEED, Decimal("0.8750"), "communications.needs"),
        ("Churny", smart_tags.CHURN_LIKELY, Decimal("0.9100"), "health.churn"),
    ]
    assert _pending(owner) == [
        ("Keen", smart_tags.UPSELL_INTEREST, Decimal("0.5000")),
        ("Keen", smart_tags.CHURN_LIKELY, Decimal("0.6200")),
        ("Quiet", smart_tags.USAGE_DROP, Decimal("0.7500")),
    ]
    assert (counts["tagged"], counts["suggested"]) == (2, 3)
    again = _run(owner)  # idempotent
    assert again == {"tagged": 0, "untagged": 0, "updated": 0, "suggested": 0, "withdrawn": 0}
    # The churn signal goes away: the automatic tag is removed, a recommendation withdrawn.
    with tenant_scope(owner.tenant):
        from health.models import CustomerHealthScore

        CustomerHealthScore.objects.update(churn_probability=Decimal("0.1"))
    _run(owner)
    assert [row[1] for row in _auto(owner)] == [smart_tags.TRAINING_NEED]
    assert [row[1] for row in _pending(owner)] == [smart_tags.UPSELL_INTEREST, smart_tags.USAGE_DROP]


def test_accept_and_dismiss_through_the_api_are_remembered(owner, api_as, signals):
    _run(owner)
    client = api_as(owner)
    keen, quiet = signals["keen"], signals["quiet"]
    with query_budget(8):
        listed = assert_envelope(client.get(f"/api/v1/customers/{keen.pk}/tag-suggestions"), 200)
    assert [(s["tag_name"], s["confidence"], s["source"]) for s in listed] == [
        (smart_tags.CHURN_LIKELY, 0.62, "health.churn"),
        (smart_tags.UPSELL_INTEREST, 0.5, "communications.needs"),
    ]
    accepted = assert_envelope(client.post(f"/api/v1/tag-suggestions/{listed[1]['suggestion_id']}/accept"), 200)
    assert (accepted["tag_name"], accepted["tag_type"], accepted["confidence"]) == (
        smart_tags.UPSELL_INTEREST, TagType.MANUAL, 0.5
    )  # fmt: skip
    twice = client.post(f"/api/v1/tag-suggestions/{listed[1]['suggestion_id']}/accept")
    assert "status" in assert_envelope(twice, 400, code=40000)["errors"]
    assert_envelope(client.post(f"/api/v1/tag-suggestions/{listed[0]['suggestion_id']}/dismiss"), 200)
    quiet_id = assert_envelope(client.get(f"/api/v1/customers/{quiet.pk}/tag-suggestions"), 200)[0]["suggestion_id"]
    assert_envelope(client.post(f"/api/v1/tag-suggestions/{quiet_id}/dismiss"), 200)
    # The job runs again, even with a stronger signal: nothing dismissed comes back, the accepted tag stays manual.
    with tenant_scope(owner.tenant):
        from health.models import CustomerHealthScore

        CustomerHealthScore.objects.filter(customer=keen).update(churn_probability=Decimal("0.95"))
    _run(owner)
    assert assert_envelope(client.get(f"/api/v1/customers/{keen.pk}/tag-suggestions"), 200) == []
    assert [row[0] for row in _auto(owner)] == ["Churny", "Churny"]  # Keen got no automatic churn tag
    with tenant_scope(owner.tenant):
        assert CustomerTag.objects.get(customer=keen, tag_name=smart_tags.UPSELL_INTEREST).tag_type == TagType.MANUAL


def test_suggestions_isolated_and_role_checked(owner, outsider, make_user, api_as, signals):
    _run(owner)
    with tenant_scope(owner.tenant):
        suggestion = TagSuggestion.objects.filter(customer=signals["keen"]).first()
    outsider_client = api_as(outsider)
    assert_api_not_found(outsider_client, f"/api/v1/customers/{signals['keen'].pk}/tag-suggestions")
    for action in ("accept", "dismiss"):
        assert_api_not_found(outsider_client, f"/api/v1/tag-suggestions/{suggestion.pk}/{action}", methods=("post",))
    viewer = api_as(make_user("viewer"))
    assert_envelope(viewer.get(f"/api/v1/customers/{signals['keen'].pk}/tag-suggestions"), 200)
    assert_envelope(viewer.post(f"/api/v1/tag-suggestions/{suggestion.pk}/accept"), 403)
    csm = api_as(make_user("csm"))  # a CSM who does not see the customer: 404 like a missing id
    assert_api_not_found(csm, f"/api/v1/tag-suggestions/{suggestion.pk}/accept", methods=("post",))


def test_customer_page_tab_accepts(owner, staff_client_as, signals):
    _run(owner)
    client = staff_client_as(owner)
    keen = signals["keen"]
    page = client.get(f"/customers/{keen.pk}/?tab=tag_suggestions")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="suggestion-row"') == 2 and smart_tags.UPSELL_INTEREST in html
    with tenant_scope(owner.tenant):
        suggestion = TagSuggestion.objects.get(customer=keen, tag_name=smart_tags.UPSELL_INTEREST)
    response = client.post(f"/segments/tag-suggestions/{suggestion.pk}/accept")
    assert response.status_code == 302
    assert client.get(f"/customers/{keen.pk}/?tab=tag_suggestions").content.decode().count("suggestion-row") == 1


def test_tag_names_one_spelling_per_tenant_and_validated(owner, outsider):
    from django.core.exceptions import ValidationError

    from customers import services as customer_services

    a = customer_with(owner, customer_name="A")
    b = customer_with(owner, customer_name="B")
    with tenant_scope(owner.tenant):
        customer_services.tag_add(actor=owner, customer=a, data={"tag_name": "VIP"})
        tag = customer_services.tag_add(actor=owner, customer=b, data={"tag_name": "vip"})
        assert tag.tag_name == "VIP"  # the tenant's spelling
        try:  # refused (SQLite) or answered with the existing tag (MariaDB compares case-insensitively)
            customer_services.tag_add(actor=owner, customer=a, data={"tag_name": "Vip "})
        except ValidationError as exc:
            assert "tag_name" in exc.message_dict
        assert list(CustomerTag.objects.filter(customer=a).values_list("tag_name", flat=True)) == ["VIP"]
        for bad in ("<b>x</b>", "x" * 101, "   "):
            with pytest.raises(ValidationError):
                customer_services.tag_add(actor=owner, customer=a, data={"tag_name": bad})
    other = customer_with(outsider, customer_name="Other")
    with tenant_scope(outsider.tenant):
        assert customer_services.tag_add(actor=outsider, customer=other, data={"tag_name": "vip"}).tag_name == "vip"


def test_smart_tags_job_runs_per_tenant(owner, signals):
    from segments.tasks import maintain_smart_tags

    with time_machine.travel(NOW, tick=False):
        counts = maintain_smart_tags(owner.tenant.pk)
        assert (counts["tagged"], counts["suggested"]) == (2, 3)
        assert maintain_smart_tags(owner.tenant.pk)["tagged"] == 0

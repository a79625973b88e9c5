"""Staff pages of the knowledge base: articles (publish / back to draft), categories and self-diagnosis checklists
are listed, created, edited and published without the Django admin; roles decide (fail closed), the forms validate,
another tenant's ids answer 404, every save is audited and the lists keep a query budget."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope, unscoped
from crm_project.testing import query_budget
from portal.models import ArticleStatus, DiagnosisChecklist, KbArticle, KbCategory
from portal.tests.factories import make_article, make_checklist

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def csm(make_user):
    return make_user(role="csm", username="kb_csm")


@pytest.fixture
def category(owner):
    with tenant_scope(owner.tenant):
        return KbCategory.objects.create(name="网络", position=1)


def _actions():
    with unscoped("test"):
        return list(AuditLog.objects.values_list("action", flat=True))


def test_a_csm_creates_and_renames_a_category_and_names_stay_unique(owner, csm):
    client = _client(csm)
    assert client.get("/portal/staff/kb/categories/new/").status_code == 200
    response = client.post("/portal/staff/kb/categories/new/", {"name": "账户与登录", "position": "2"})
    assert response.status_code == 302 and response["Location"] == "/portal/staff/kb/categories/"
    with tenant_scope(owner.tenant):
        created = KbCategory.objects.get(name="账户与登录")
    assert created.position == 2 and "crm.portal.category_saved" in _actions()
    duplicate = client.post("/portal/staff/kb/categories/new/", {"name": "账户与登录 ", "position": "0"})
    assert duplicate.status_code == 200 and b"Another category already has this name." in duplicate.content
    invalid = client.post(f"/portal/staff/kb/categories/{created.pk}/", {"name": "", "position": "-1"})
    assert invalid.status_code == 200
    assert set(invalid.context["form"].errors) == {"name", "position"}
    assert client.post(f"/portal/staff/kb/categories/{created.pk}/", {"name": "Accounts", "position": "0"})[
        "Location"] == "/portal/staff/kb/categories/"  # fmt: skip
    with tenant_scope(owner.tenant):
        created.refresh_from_db()
    assert created.name == "Accounts"


def test_the_category_list_counts_articles_and_checklists_within_a_query_budget(owner, csm):
    for index in range(4):
        make_article(owner, title=f"Article {index}")
    make_checklist(owner)
    with tenant_scope(owner.tenant):
        KbCategory.objects.create(name="Empty")
    client = _client(csm)
    with query_budget(12):
        page = client.get("/portal/staff/kb/categories/")
    rows = {c.name: (c.article_count, c.checklist_count) for c in page.context["categories"]}
    assert rows == {"账户": (4, 1), "Empty": (0, 0)}
    with query_budget(12):
        assert client.get("/portal/staff/kb/").status_code == 200
    with query_budget(12):
        assert client.get("/portal/staff/kb/checklists/").status_code == 200


def test_a_checklist_is_created_with_steps_one_per_line_and_published(owner, csm, category):
    article = make_article(owner, title="Reset the router")
    client = _client(csm)
    form = {"category": category.pk, "title": "No network", "steps": "Check the cable\n\n  Restart the router  \n",
            "article": article.pk, "request_type": "incident", "is_published": "on"}  # fmt: skip
    response = client.post("/portal/staff/kb/checklists/new/", form)
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        checklist = DiagnosisChecklist.objects.get(title="No network")
    assert checklist.steps == ["Check the cable", "Restart the router"] and checklist.is_published
    assert "crm.portal.checklist_saved" in _actions()
    # Customers see it in the portal at once (the portal's own list reads published checklists).
    edit = client.get(f"/portal/staff/kb/checklists/{checklist.pk}/")
    assert "Check the cable\nRestart the router" in edit.content.decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"steps": "   \n  "}, "steps", "This field is required."),
        ({"steps": "\n".join(f"step {n}" for n in range(31))}, "steps", "At most 30 steps."),
        ({"steps": "x" * 301}, "steps", "Step 1 is longer than 300 characters."),
        ({"request_type": "teleport"}, "request_type", "Select a valid choice."),
        ({"title": ""}, "title", "This field is required."),
        ({"draft_article": True}, "article", "Publish the article first"),
    ],
)
def test_checklist_validation_names_the_field(owner, csm, category, change, field, message):
    draft = make_article(owner, title="Draft article", published=False)
    form = {"category": category.pk, "title": "T", "steps": "one", "request_type": "question", "is_published": "on"}
    if change.pop("draft_article", False):
        form["article"] = draft.pk
    form.update(change)
    response = _client(csm).post("/portal/staff/kb/checklists/new/", form)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors.get(field, []))
    with tenant_scope(owner.tenant):
        assert not DiagnosisChecklist.objects.filter(title="T").exists()


def test_publishing_and_withdrawing_articles_and_checklists(owner, csm):
    article = make_article(owner, title="Draft to publish", published=False)
    checklist = make_checklist(owner)
    client = _client(csm)
    assert client.post(f"/portal/staff/kb/{article.pk}/publish/", {"published": "1"}).status_code == 302
    assert client.post(f"/portal/staff/kb/checklists/{checklist.pk}/publish/", {"published": "0"}).status_code == 302
    with tenant_scope(owner.tenant):
        article.refresh_from_db()
        checklist.refresh_from_db()
    assert (article.status, checklist.is_published) == (ArticleStatus.PUBLISHED, False)
    assert {"crm.portal.article_published", "crm.portal.checklist_saved"} <= set(_actions())
    # A checklist ending in a draft article cannot be published: the page says why.
    with tenant_scope(owner.tenant):
        KbArticle.objects.filter(pk=article.pk).update(status=ArticleStatus.DRAFT)
        DiagnosisChecklist.objects.filter(pk=checklist.pk).update(article=article)
    response = client.post(f"/portal/staff/kb/checklists/{checklist.pk}/publish/", {"published": "1"}, follow=True)
    assert b"Publish the article first" in response.content
    with tenant_scope(owner.tenant):
        checklist.refresh_from_db()
    assert not checklist.is_published


@pytest.mark.parametrize("role", ["finance", "viewer"])
def test_roles_without_the_knowledge_base_permissions_are_refused(owner, make_user, role, category):
    checklist = make_checklist(owner)
    article = make_article(owner, title="Untouchable", published=False)
    client = _client(make_user(role=role, username=f"kb_{role}"))
    assert client.get("/portal/staff/kb/").status_code == 200  # reading the article list is allowed
    for url in ("/portal/staff/kb/categories/", "/portal/staff/kb/categories/new/",
                f"/portal/staff/kb/categories/{category.pk}/", "/portal/staff/kb/checklists/",
                "/portal/staff/kb/checklists/new/", f"/portal/staff/kb/checklists/{checklist.pk}/"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    assert client.post(f"/portal/staff/kb/{article.pk}/publish/", {"published": "1"}).status_code == 403
    assert client.post(f"/portal/staff/kb/checklists/{checklist.pk}/publish/", {"published": "0"}).status_code == 403
    with tenant_scope(owner.tenant):
        assert KbArticle.objects.get(pk=article.pk).status == ArticleStatus.DRAFT


def test_another_tenants_ids_answer_404(owner, outsider, category):
    checklist = make_checklist(owner)
    article = make_article(owner, title="Mine")
    client = _client(outsider)
    for url in (f"/portal/staff/kb/categories/{category.pk}/", f"/portal/staff/kb/checklists/{checklist.pk}/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/portal/staff/kb/{article.pk}/publish/", {"published": "0"}).status_code == 404
    assert client.post(f"/portal/staff/kb/checklists/{checklist.pk}/publish/", {"published": "0"}).status_code == 404
    # Nor can a form pick another tenant's category.
    with tenant_scope(outsider.tenant):
        KbCategory.objects.create(name="Theirs")
    response = client.post("/portal/staff/kb/checklists/new/", {"category": category.pk, "title": "X", "steps": "a",
                                                                "request_type": "question"})  # fmt: skip
    assert response.status_code == 200 and "category" in response.context["form"].errors

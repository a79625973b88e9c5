"""Contract documents (sandboxed templates, HTML and PDF), the library admin and the seed command."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.http import Http404
from django.utils import translation
from pypdf import PdfReader

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope, unscoped
from contracts.documents import (
    TemplateRenderError,
    compile_template_text,
    contract_document_generate,
    document_response,
    render_template_text,
    sanitize_html,
)
from contracts.models import Clause, Contract, ContractSlaBinding, ContractTemplate, SlaPolicy, TemplateClause
from customers.services import customer_create

CUSTOMER_NAME = "北京云启科技有限公司"
BODY = """<h2>服务内容</h2>
<p>甲方：{{ customer.customer_name }}，乙方：{{ provider.name }}。</p>
<p>金额 {{ amount }}，期限 {{ start_date|date:"Y-m-d" }} 至 {{ end_date|date:"Y-m-d" }}。</p>
{{ sla_table }}
{% for clause in clauses %}<h3>{{ clause.number }}. {{ clause.title }}</h3>
{{ clause.body }}
{% endfor %}"""


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def contract(owner):
    with tenant_scope(owner.tenant):
        customer = customer_create(actor=owner, data={"customer_name": CUSTOMER_NAME})
        contract = Contract(
            customer=customer,
            contract_name="IT 运维服务合同 2026",
            contract_amount=Decimal("1200000.00"),
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
            created_by=owner,
            contract_code="CT202601010001",
        )
        contract.save()
        for priority, first, resolution in [("P1", 15, 240), ("P2", 30, 480)]:
            ContractSlaBinding.objects.create(
                contract=contract, priority=priority, first_response_minutes=first, resolution_minutes=resolution
            )
    return contract


@pytest.fixture
def template(owner):
    with tenant_scope(owner.tenant):
        template = ContractTemplate.objects.create(name="标准合同", body=BODY)
        secrecy = Clause.objects.create(title="保密条款", category="confidentiality", body="双方应对商业秘密保密。")
        payment = Clause.objects.create(title="付款条款", category="payment", body="合同金额 {{ amount }}。")
        # Positions decide the order, not the order of creation.
        TemplateClause.objects.create(template=template, clause=payment, position=20)
        TemplateClause.objects.create(template=template, clause=secrecy, position=10)
    return template


def _admin(staff_client_as, user):
    client = staff_client_as(user)
    client.cookies["django_language"] = "en"
    return client


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_render_fills_placeholders_sla_table_and_clauses_in_order(owner, contract, template):
    with tenant_scope(owner.tenant):
        body = render_template_text(template, contract, show_amounts=True)
    assert CUSTOMER_NAME in body and "Acme Ops" in body
    assert "CNY 1,200,000.00" in body and "2026-01-01" in body and "2026-12-31" in body
    assert '<table class="sla">' in body
    assert "<td>P1 critical</td><td>15 minutes</td><td>4 hours</td><td>7x24</td><td>99.9%</td>" in body
    assert body.index("1. 保密条款") < body.index("2. 付款条款")
    assert "合同金额 CNY 1,200,000.00" in body  # clause texts are rendered with the same values


def test_generate_stores_pdf_and_html_with_the_same_text(owner, contract, template):
    with tenant_scope(owner.tenant):
        contract_document_generate(actor=owner, contract=contract, template=template)
        stored = Contract.objects.get(pk=contract.pk)
        entries = list(AuditLog.objects.filter(action="crm.contract.document_generated", object_id=str(contract.pk)))
    assert stored.template_id == template.pk
    assert stored.contract_file_url == f"/contracts/{contract.pk}/document/?format=pdf"
    assert stored.document_pdf.name.startswith("contracts/") and stored.document_pdf.name.endswith(".pdf")
    assert len(entries) == 1 and entries[0].actor_id == owner.pk

    for text in (stored.document_html, _pdf_text(stored.document_pdf.read())):
        assert CUSTOMER_NAME in text
        assert "IT 运维服务合同 2026" in text and "CT202601010001" in text
        assert "P1 critical" in text and "15 minutes" in text and "4 hours" in text
        assert "P2 high" in text and "8 hours" in text
        assert "保密条款" in text and "付款条款" in text
        assert "Authorized signatory" in text


def test_pdf_embeds_a_cjk_font(owner, contract, template):
    with tenant_scope(owner.tenant):
        contract_document_generate(actor=owner, contract=contract, template=template)
    reader = PdfReader(contract.document_pdf.path)
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[font["/BaseFont"]] = font
    embedded = [
        name
        for name, font in fonts.items()
        if "/FontDescriptor" in font and "/FontFile2" in font["/FontDescriptor"].get_object()
    ]
    from crm_project.pdf import pdf_font

    if pdf_font()[1]:
        assert embedded, fonts.keys()
    else:  # pragma: no cover - machine without a CJK TrueType font: the CID fallback
        assert any("STSong" in name for name in fonts)


def test_without_a_cjk_truetype_font_the_cid_fallback_still_renders_chinese(owner, contract, template, monkeypatch):
    from crm_project import pdf

    monkeypatch.setattr(pdf, "_font_candidates", lambda: [])
    monkeypatch.setattr(pdf, "_font", None)
    assert pdf.pdf_font() == ("STSong-Light", False)
    with tenant_scope(owner.tenant):
        contract_document_generate(actor=owner, contract=contract, template=template)
    text = _pdf_text(contract.document_pdf.read())
    assert CUSTOMER_NAME in text and "保密条款" in text


def test_regenerating_replaces_the_previous_file(owner, contract, template, django_capture_on_commit_callbacks):
    with tenant_scope(owner.tenant):
        contract_document_generate(actor=owner, contract=contract, template=template)
        first = contract.document_pdf.path
        with django_capture_on_commit_callbacks(execute=True):
            contract_document_generate(actor=owner, contract=contract, template=template)
    assert contract.document_pdf.path != first
    import os

    assert not os.path.exists(first) and os.path.exists(contract.document_pdf.path)


def test_document_response_serves_pdf_and_html_and_404_before_generation(owner, contract, template):
    with pytest.raises(Http404):
        document_response(contract, "pdf", user=owner)
    with pytest.raises(Http404):
        document_response(contract, "html", user=owner)
    with tenant_scope(owner.tenant):
        contract_document_generate(actor=owner, contract=contract, template=template)
    response = document_response(contract, "pdf", user=owner)
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="CT202601010001.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    page = document_response(contract, "html", user=owner)
    assert page["Content-Type"].startswith("text/html")
    assert "sandbox" in page["Content-Security-Policy"]
    assert CUSTOMER_NAME in page.content.decode()
    with pytest.raises(Http404):
        document_response(contract, "docx", user=owner)


def test_syntax_error_raises_template_render_error(owner, contract):
    with tenant_scope(owner.tenant):
        broken = ContractTemplate.objects.create(name="坏模板", body="{% if customer %}no end")
        with pytest.raises(TemplateRenderError) as excinfo:
            render_template_text(broken, contract, show_amounts=True)
    assert "line 1" in str(excinfo.value)


def test_broken_clause_is_named_in_the_error(owner, contract, template):
    with tenant_scope(owner.tenant):
        bad = Clause.objects.create(title="坏条款", body="{{ amount|nosuchfilter }}")
        TemplateClause.objects.create(template=template, clause=bad, position=30)
        with pytest.raises(TemplateRenderError, match="坏条款"):
            render_template_text(template, contract, show_amounts=True)


@pytest.mark.parametrize(
    "body",
    [
        '{% include "/etc/passwd" %}',
        "{% load static %}{% static 'x' %}",
        '{% extends "/etc/passwd" %}',
        "{% debug %}",
        "{{ customer.customer_name|safe }}",
        "{% autoescape off %}{{ customer.customer_name }}{% endautoescape %}",
        '{{ amount|ljust:"999999999" }}',
        '{% url "admin:index" %}',
    ],
)
def test_template_cannot_load_include_or_escape_the_sandbox(owner, contract, body):
    with tenant_scope(owner.tenant):
        template = ContractTemplate.objects.create(name="恶意模板", body=body)
        with pytest.raises(TemplateRenderError) as excinfo:
            render_template_text(template, contract, show_amounts=True)
    assert "root:" not in str(excinfo.value)


def test_context_holds_values_not_models(owner, contract):
    body = "[{{ contract.created_by.password }}][{{ customer.created_by }}][{{ contract.customer.delete }}]"
    body += "[{{ customer }}]"
    with tenant_scope(owner.tenant):
        template = ContractTemplate.objects.create(name="探测", body=body)
        text = render_template_text(template, contract, show_amounts=True)
    assert text == f"<p>[][][][{CUSTOMER_NAME}]</p>"


def test_template_cannot_empty_its_context(owner, contract, template):
    with tenant_scope(owner.tenant):
        template.body = "{{ customer.clear }}{{ customer.popitem }}{{ clauses.pop }}{{ customer.customer_name }}"
        text = render_template_text(template, contract, show_amounts=True)
    assert text == f"<p>{CUSTOMER_NAME}</p>"


def test_rendered_html_is_sanitised_and_values_escaped(owner, contract):
    with tenant_scope(owner.tenant):
        contract.contract_name = "<script>alert(1)</script>"
        template = ContractTemplate.objects.create(
            name="脚本",
            body='<p onclick="x()">{{ contract.contract_name }}</p><script>alert(2)</script>'
            '<a href="javascript:x">链接</a>',
        )
        text = render_template_text(template, contract, show_amounts=True)
    assert text == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>链接"
    assert sanitize_html('<table><tr><td colspan="2" style="x">a</td></tr></table>') == (
        '<table><tbody><tr><td colspan="2">a</td></tr></tbody></table>'  # parsed as browsers do (HTML5)
    )


def test_plain_text_bodies_become_paragraphs(owner, contract):
    with tenant_scope(owner.tenant):
        template = ContractTemplate.objects.create(name="纯文本", body="第一段\n第二行\n\n{{ customer }}")
        text = render_template_text(template, contract, show_amounts=True)
    assert text == f"<p>第一段<br>第二行</p>\n<p>{CUSTOMER_NAME}</p>"


def test_template_of_another_tenant_is_refused(owner, outsider, contract):
    from accounts.tenancy import TenantScopeError

    with tenant_scope(outsider.tenant):
        foreign = ContractTemplate.objects.create(name="别人的", body="x")
    with tenant_scope(owner.tenant), pytest.raises(TenantScopeError):
        contract_document_generate(actor=owner, contract=contract, template=foreign)


def test_compile_template_text_reports_disallowed_tags_readably():
    with pytest.raises(TemplateRenderError, match="“load” cannot be used"):
        compile_template_text("{% load static %}")


# --- Seed command -----------------------------------------------------------------------------------------------
def _library_counts(tenant):
    with tenant_scope(tenant):
        return (
            Clause.objects.count(),
            SlaPolicy.objects.count(),
            ContractTemplate.objects.count(),
            TemplateClause.objects.count(),
        )


def test_seed_contract_templates_is_idempotent_and_renders(owner, contract):
    call_command("seed_contract_templates", tenant=owner.tenant.name)
    first = _library_counts(owner.tenant)
    call_command("seed_contract_templates", "--tenant", owner.tenant.name)
    assert _library_counts(owner.tenant) == first == (5, 1, 1, 5)
    with tenant_scope(owner.tenant):
        policy = SlaPolicy.objects.get(name="标准 7x24")
        assert policy.targets["P1"] == {"first_response_minutes": 15, "resolution_minutes": 240}
        assert policy.targets["P4"] == {"first_response_minutes": 480, "resolution_minutes": 4320}
        assert policy.availability_target == Decimal("99.9")
        template = ContractTemplate.objects.get(name="标准IT运维服务合同")
        contract_document_generate(actor=owner, contract=contract, template=template)
    text = _pdf_text(contract.document_pdf.read())
    for title in ("保密条款", "服务水平", "付款条款", "责任限制", "终止条款", CUSTOMER_NAME, "P1 critical"):
        assert title in text


def test_seed_refuses_an_unknown_tenant(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("seed_contract_templates", tenant="Nope")


# --- Admin ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model", ["contracttemplate", "clause", "slapolicy", "contract", "changerequest", "invoice", "payment"]
)
def test_admin_lists_load_for_the_tenant_admin(owner, staff_client_as, template, contract, model):
    assert _admin(staff_client_as, owner).get(f"/admin/contracts/{model}/").status_code == 200


def test_admin_change_and_add_pages_load(owner, staff_client_as, template, contract):
    client = _admin(staff_client_as, owner)
    assert client.get(f"/admin/contracts/contracttemplate/{template.pk}/change/").status_code == 200
    assert client.get("/admin/contracts/contracttemplate/add/").status_code == 200
    assert client.get("/admin/contracts/slapolicy/add/").status_code == 200
    page = client.get(f"/admin/contracts/contract/{contract.pk}/change/")
    assert page.status_code == 200 and "CT202601010001" in page.content.decode()
    assert client.get("/admin/contracts/contract/add/").status_code == 403


def test_outsider_admin_does_not_see_our_library(owner, outsider, staff_client_as, template, contract):
    client = _admin(staff_client_as, outsider)
    assert "标准合同" not in client.get("/admin/contracts/contracttemplate/").content.decode()
    assert "保密条款" not in client.get("/admin/contracts/clause/").content.decode()
    assert "CT202601010001" not in client.get("/admin/contracts/contract/").content.decode()
    assert client.get(f"/admin/contracts/contracttemplate/{template.pk}/change/").status_code in (302, 404)


def test_admin_creates_template_in_the_admins_tenant_and_rejects_bad_syntax(owner, staff_client_as, template):
    client = _admin(staff_client_as, owner)
    with tenant_scope(owner.tenant):
        clause = Clause.objects.get(title="保密条款")
    form = {
        "name": "新模板",
        "body": "{{ customer.customer_name }}",
        "is_active": "on",
        "template_clauses-TOTAL_FORMS": "1",
        "template_clauses-INITIAL_FORMS": "0",
        "template_clauses-0-position": "1",
        "template_clauses-0-clause": str(clause.pk),
    }
    response = client.post("/admin/contracts/contracttemplate/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    with unscoped("test checks the tenant of the new row"):
        created = ContractTemplate.objects.get(name="新模板")
        assert created.tenant_id == owner.tenant_id
        assert TemplateClause.objects.get(template=created).tenant_id == owner.tenant_id

    bad = client.post("/admin/contracts/contracttemplate/add/", {**form, "name": "坏", "body": "{% load static %}"})
    assert bad.status_code == 200 and "cannot be used in contract templates" in bad.content.decode()
    with unscoped("test"):
        assert not ContractTemplate.objects.filter(name="坏").exists()


def test_admin_rejects_malformed_sla_targets(owner, staff_client_as):
    client = _admin(staff_client_as, owner)
    data = {"name": "坏策略", "service_hours": "7x24", "availability_target": "99.9", "business_calendar": "{}"}
    bad = client.post("/admin/contracts/slapolicy/add/", {**data, "targets": '{"P9": {}}'})
    assert bad.status_code == 200 and "Unknown priority P9" in bad.content.decode()
    good = client.post(
        "/admin/contracts/slapolicy/add/",
        {**data, "targets": '{"P1": {"first_response_minutes": 15, "resolution_minutes": 240}}'},
    )
    assert good.status_code == 302


def test_superuser_without_tenant_cannot_add_library_rows(db, staff_client_as):
    from accounts.models import User

    root = User.objects.create_superuser("root", "root@example.com", "Root-Pass-2025!")
    client = _admin(staff_client_as, root)
    assert client.get("/admin/contracts/contracttemplate/").status_code == 200
    assert client.get("/admin/contracts/contracttemplate/add/").status_code == 403


def test_superuser_edits_a_tenant_template_inside_that_tenant(owner, staff_client_as, template):
    from accounts.models import User

    root = User.objects.create_superuser("root", "root@example.com", "Root-Pass-2025!")
    page = _admin(staff_client_as, root).get(f"/admin/contracts/contracttemplate/{template.pk}/change/")
    assert page.status_code == 200 and "保密条款" in page.content.decode()

"""Customer export (CSV / XLSX) and import (upload → preview → confirm) through the staff pages."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from customers import importing, services
from customers.models import Customer, CustomerContact, CustomerTag
from customers.tests import factories

EXPORT_URL = reverse("customers:customer_export")
IMPORT_URL = reverse("customers:customer_import")


@pytest.fixture(autouse=True)
def _imports_in_tmp(settings, tmp_path):
    """Stored previews go to a temporary data folder."""
    settings.DATA_DIR = tmp_path


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


def create(actor, name, *, contacts=(), tags=(), **fields):
    return factories.make_customer(actor, customer_name=name, contacts=contacts, tags=tags, **fields)


def customer_count(tenant, **filters) -> int:
    with tenant_scope(tenant):
        return Customer.objects.alive().filter(**filters).count()


def export_csv(client, query: str = "") -> tuple[object, list[dict[str, str]]]:
    response = client.get(f"{EXPORT_URL}?format=csv{query}")
    assert response.status_code == 200, response.status_code
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with the UTF-8 BOM"
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    return response, rows


def csv_upload(rows: list[dict[str, str]], columns=importing.COLUMNS, name: str = "customers.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8-sig"), content_type="text/csv")


def upload(client, file) -> str:
    """Post the file; return the preview token (asserting the redirect)."""
    response = client.post(IMPORT_URL, {"file": file})
    assert response.status_code == 302, response.content[:2000]
    match = re.search(r"/customers/import/([0-9a-f]{32})/$", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def preview_url(token: str) -> str:
    return reverse("customers:customer_import_preview", args=[token])


# --- Export --------------------------------------------------------------------------------------------------------
@pytest.fixture
def portfolio(owner, teammate, other_tenant, outsider):
    mine = create(
        owner,
        "Teammate Account Ltd",
        assigned_manager=teammate,
        contacts=[{"contact_name": "Zhang Wei", "mobile": "13800138000", "email": "zw@a.cn", "is_primary": True}],
        tags=["重点客户", "多云"],
    )
    ours = create(owner, "Owner Account Ltd", assigned_manager=owner)
    gone = create(owner, "Deleted Account Ltd")
    with tenant_scope(owner.tenant):
        services.customer_delete(actor=owner, customer=gone)
    theirs = create(outsider, "Outsider Account Ltd")
    return {"mine": mine, "ours": ours, "gone": gone, "theirs": theirs}


def test_export_csv_contains_only_visible_live_customers(staff_client_as, owner, teammate, outsider, portfolio):
    response, rows = export_csv(staff_client_as(owner))
    assert {row["customer_name"] for row in rows} == {"Teammate Account Ltd", "Owner Account Ltd"}
    assert re.match(r'attachment; filename="customers-\d{8}-\d{4}\.csv"', response["Content-Disposition"])
    row = next(row for row in rows if row["customer_name"] == "Teammate Account Ltd")
    assert row["customer_code"] == portfolio["mine"].customer_code
    assert row["assigned_manager"] == "teammate"
    assert row["tags"] == "多云;重点客户"
    assert (row["contact_name"], row["mobile"], row["email"]) == ("Zhang Wei", "13800138000", "zw@a.cn")
    assert list(rows[0].keys()) == [
        "customer_code",
        "customer_name",
        "customer_type",
        "industry",
        "scale",
        "region",
        "level",
        "status",
        "health_score",
        "assigned_manager",
        "website",
        "address",
        "source",
        "created_at",
        "tags",
        "contact_name",
        "mobile",
        "email",
    ]

    # A CSM sees (and exports) only their assigned customers.
    _response, rows = export_csv(staff_client_as(teammate))
    assert [row["customer_name"] for row in rows] == ["Teammate Account Ltd"]

    # Another tenant's admin never gets our rows.
    _response, rows = export_csv(staff_client_as(outsider))
    assert [row["customer_name"] for row in rows] == ["Outsider Account Ltd"]


def test_export_xlsx_contains_only_visible_live_customers(staff_client_as, teammate, portfolio):
    response = staff_client_as(teammate).get(f"{EXPORT_URL}?format=xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:2] == ("customer_code", "customer_name")
    assert [row[1] for row in values[1:]] == ["Teammate Account Ltd"]


def test_export_filters_and_ids(staff_client_as, owner, portfolio):
    client = staff_client_as(owner)
    create(owner, "Formal One", status=2)
    _response, rows = export_csv(client, "&status=2")
    assert [row["customer_name"] for row in rows] == ["Formal One"]
    _response, rows = export_csv(client, f"&ids={portfolio['ours'].pk},{portfolio['gone'].pk},{portfolio['theirs'].pk}")
    assert [row["customer_name"] for row in rows] == ["Owner Account Ltd"]


@pytest.mark.parametrize("query", ["format=pdf", "format=csv&status=9", "format=csv&ids=1,abc"])
def test_export_invalid_parameters_answer_400(staff_client_as, owner, query):
    response = staff_client_as(owner).get(f"{EXPORT_URL}?{query}")
    assert response.status_code == 400
    assert b"export-errors" in response.content


def test_export_neutralises_formulas_in_csv_and_xlsx(staff_client_as, owner):
    create(
        owner,
        '=HYPERLINK("http://evil.example","x")',
        industry="+cmd",
        address="@SUM(A1)",
        source="-2+3",
        contacts=[{"contact_name": "Plain", "mobile": "+8613800138000", "is_primary": True}],
    )
    client = staff_client_as(owner)
    _response, rows = export_csv(client)
    row = rows[0]
    assert row["customer_name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["industry"] == "'+cmd"
    assert row["address"] == "'@SUM(A1)"
    assert row["source"] == "'-2+3"
    assert row["mobile"] == "'+8613800138000"
    assert row["contact_name"] == "Plain"

    response = client.get(f"{EXPORT_URL}?format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    header = [cell.value for cell in next(sheet.iter_rows(min_row=1, max_row=1))]
    cells = dict(zip(header, next(sheet.iter_rows(min_row=2, max_row=2)), strict=True))
    assert cells["customer_name"].value == '\'=HYPERLINK("http://evil.example","x")'
    assert cells["customer_name"].data_type == "s"  # text, not a formula
    assert cells["industry"].value == "'+cmd"
    assert cells["address"].value == "'@SUM(A1)"


def test_export_needs_the_permission(staff_client_as, make_user, portfolio):
    for role in ("viewer", "finance"):
        response = staff_client_as(make_user(role=role)).get(f"{EXPORT_URL}?format=csv")
        assert response.status_code == 403, role


def test_export_is_audited_with_the_row_count(staff_client_as, owner, portfolio):
    export_csv(staff_client_as(owner))
    with tenant_scope(owner.tenant):
        entry = AuditLog.objects.get(action="crm.customer.exported")
    assert entry.actor == owner
    assert entry.changes["rows"]["new"] == 2
    assert entry.changes["format"]["new"] == "csv"


def test_export_runs_a_constant_number_of_queries(staff_client_as, owner):
    client = staff_client_as(owner)

    def count_queries() -> int:
        export_csv(client)  # warm the permission caches so both runs take the same path
        with CaptureQueriesContext(connection) as ctx:
            export_csv(client)
        return len(ctx.captured_queries)

    for number in range(3):
        create(owner, f"Small {number}", contacts=[{"contact_name": "A", "is_primary": True}], tags=["x"])
    few = count_queries()
    for number in range(25):
        create(
            owner,
            f"Big {number}",
            contacts=[{"contact_name": "A", "is_primary": True}, {"contact_name": "B"}],
            tags=["x", "y"],
        )
    assert count_queries() == few


# --- Import: errors ------------------------------------------------------------------------------------------------
def test_broken_rows_are_listed_and_confirming_changes_nothing(staff_client_as, owner):
    client = staff_client_as(owner)
    before = customer_count(owner.tenant)
    token = upload(
        client,
        csv_upload(
            [
                {"customer_name": "Good Row Ltd", "contact_name": "Li Na", "mobile": "13900139000"},
                {"customer_name": "Bad Mobile Ltd", "contact_name": "X", "mobile": "12345"},
                {"customer_name": "Bad Email Ltd", "contact_name": "Y", "email": "not-an-email"},
                {"customer_name": "Bad Type Ltd", "customer_type": "Alien"},
                {"customer_name": "", "industry": "No name"},
                {"customer_name": "Bad Tag Ltd", "tags": "ok;bad<tag>"},
                {"customer_code": "CUST000000009999", "industry": "Unknown code"},
                {"customer_name": "Bad Manager Ltd", "assigned_manager": "nobody"},
            ]
        ),
    )
    response = client.get(preview_url(token))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="import-blocked"' in page
    assert 'data-testid="import-confirm"' not in page
    assert 'data-testid="count-errors">7<' in page
    for text in ("Bad Mobile Ltd", "Bad Email Ltd", "Bad Type Ltd", "Bad Tag Ltd", "Bad Manager Ltd"):
        assert text in page

    # Posting the confirm anyway imports nothing.
    response = client.post(preview_url(token))
    assert response.status_code == 302
    assert customer_count(owner.tenant) == before

    # The error report lists row, column and message.
    report = client.get(reverse("customers:customer_import_errors", args=[token]))
    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert len(lines) == 1 + 7
    by_row = {int(line[0]): line[1] for line in lines[1:]}
    assert by_row == {
        3: "mobile",
        4: "email",
        5: "customer_type",
        6: "customer_name",
        7: "tags",
        8: "customer_code",
        9: "assigned_manager",
    }


def test_duplicates_within_the_file_are_errors(staff_client_as, owner):
    client = staff_client_as(owner)
    token = upload(
        client,
        csv_upload(
            [
                {"customer_name": "Twice Ltd", "industry": "零售"},
                {"customer_name": "twice ltd."},  # same customer again, nothing new
                {"customer_name": "Conflict Ltd", "industry": "金融", "contact_name": "A"},
                {"customer_name": "Conflict Ltd", "industry": "医疗", "contact_name": "B"},
                {"customer_name": "Two Primaries Ltd", "contact_name": "A", "is_primary": "1"},
                {"customer_name": "Two Primaries Ltd", "contact_name": "B", "is_primary": "1"},
                {"customer_name": "Same Contact Ltd", "contact_name": "A", "mobile": "13800138000"},
                {"customer_name": "Same Contact Ltd", "contact_name": "a", "mobile": "13800138000"},
            ]
        ),
    )
    payload = importing.plan_load(token, user=owner)
    errors = {row["row"]: row["errors"] for row in payload["rows"] if row["errors"]}
    assert sorted(errors) == [3, 5, 7, 9]
    assert errors[3][0][0] == "customer_name" and "2" in errors[3][0][1]  # duplicate of row 2
    assert errors[5][0][0] == "industry"
    assert errors[7][0][0] == "is_primary"
    assert errors[9][0][0] == "contact_name"
    client.post(preview_url(token))
    assert customer_count(owner.tenant) == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.csv", bytes(range(256)) * 20),
        ("garbage.xlsx", b"PK\x03\x04" + b"\x00garbage" * 100),
        ("broken.xlsx", b"this is not a workbook"),
        ("program.exe", b"MZ\x90\x00binary"),
        ("old.xls", b"\xd0\xcf\x11\xe0 old excel"),
        ("empty.csv", b""),
        ("header-only.csv", b"customer_name,industry\n"),
        ("no-name-column.csv", b"foo,bar\n1,2\n"),
    ],
)
def test_unreadable_uploads_are_form_errors(staff_client_as, owner, name, content):
    response = staff_client_as(owner).post(IMPORT_URL, {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 200
    assert b'data-testid="import-file-error"' in response.content


def test_too_many_rows_is_a_form_error(staff_client_as, owner, monkeypatch):
    monkeypatch.setattr(importing.parse, "MAX_ROWS", 2)
    rows = [{"customer_name": f"Row {n}"} for n in range(3)]
    response = staff_client_as(owner).post(IMPORT_URL, {"file": csv_upload(rows)})
    assert response.status_code == 200
    assert b'data-testid="import-file-error"' in response.content


def test_import_needs_the_permission(staff_client_as, teammate, make_user):
    for user in (teammate, make_user(role="viewer"), make_user(role="finance")):
        client = staff_client_as(user)
        assert client.get(IMPORT_URL).status_code == 403
        assert client.post(IMPORT_URL, {"file": csv_upload([{"customer_name": "X"}])}).status_code == 403
    assert customer_count(teammate.tenant) == 0


def test_a_preview_belongs_to_its_user(staff_client_as, owner, lead, outsider):
    token = upload(staff_client_as(owner), csv_upload([{"customer_name": "Mine Ltd"}]))
    for user in (outsider, lead):
        client = staff_client_as(user)
        assert client.get(preview_url(token)).status_code == 404
        assert client.post(preview_url(token)).status_code == 404
        assert client.get(reverse("customers:customer_import_errors", args=[token])).status_code == 404
    assert staff_client_as(owner).get(preview_url("0" * 32)).status_code == 404
    assert staff_client_as(owner).get("/customers/import/..%2Fsecret/").status_code == 404
    assert customer_count(owner.tenant) == 0


def test_the_template_downloads(staff_client_as, owner):
    response = staff_client_as(owner).get(f"{IMPORT_URL}?template=1")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(importing.COLUMNS)
    page = staff_client_as(owner).get(IMPORT_URL)
    assert page.status_code == 200
    assert b"?template=1" in page.content


# --- Import: a valid file ------------------------------------------------------------------------------------------
def test_valid_file_creates_updates_and_flags_duplicates(staff_client_as, owner, teammate):
    existing = create(
        owner, "Existing Update Ltd", industry="零售", contacts=[{"contact_name": "Old", "is_primary": True}]
    )
    same_name = create(owner, "Same Name Co., Ltd.", industry="金融")
    client = staff_client_as(owner)
    token = upload(
        client,
        csv_upload(
            [
                {
                    "customer_name": "北京新客户科技有限公司",
                    "customer_type": "企业",
                    "level": "VIP",
                    "status": "2",
                    "industry": "软件开发",
                    "website": "https://www.new-client.cn/about",
                    "assigned_manager": "teammate",
                    "tags": "重点客户;多云",
                    "contact_name": "张伟",
                    "mobile": "13800138000",
                    "email": "zhang@new-client.cn",
                    "is_primary": "0",
                },
                {"customer_name": "北京新客户科技有限公司", "contact_name": "李娜", "is_primary": "1"},
                {"customer_name": "Second New Ltd", "contact_name": "Anna", "email": "anna@second.example"},
                {
                    "customer_code": existing.customer_code,
                    "industry": "制造",
                    "contact_name": "New Primary",
                    "is_primary": "1",
                },
                {"customer_name": "SAME NAME CO LTD", "industry": "医疗"},
            ]
        ),
    )
    page = client.get(preview_url(token)).content.decode()
    assert 'data-testid="count-new">2<' in page
    assert 'data-testid="count-update">1<' in page
    assert 'data-testid="count-duplicate">1<' in page
    assert 'data-testid="count-errors">0<' in page
    assert 'data-testid="import-duplicates"' in page
    assert same_name.customer_code in page

    response = client.post(preview_url(token))  # no choice for the duplicate: skipped
    assert response.status_code == 302
    assert customer_count(owner.tenant) == 4
    with tenant_scope(owner.tenant):
        new = Customer.objects.get(customer_name="北京新客户科技有限公司")
        assert (new.customer_type, new.level, new.status) == (1, 3, 2)
        assert new.assigned_manager == teammate
        assert new.created_by == owner
        assert new.website_domain == "new-client.cn"
        assert new.normalized_name == services.normalize_name(new.customer_name)
        assert new.customer_code.startswith("CUST")
        contacts = list(new.contacts.order_by("id"))
        assert [(c.contact_name, c.is_primary) for c in contacts] == [("张伟", False), ("李娜", True)]
        assert sorted(new.tags.values_list("tag_name", flat=True)) == ["多云", "重点客户"]
        second = Customer.objects.get(customer_name="Second New Ltd")
        assert list(second.contacts.values_list("contact_name", "is_primary")) == [("Anna", True)]
        existing.refresh_from_db()
        assert existing.industry == "制造"
        assert list(existing.contacts.order_by("id").values_list("contact_name", "is_primary")) == [
            ("Old", False),
            ("New Primary", True),
        ]
        same_name.refresh_from_db()
        assert same_name.industry == "金融"  # skipped, unchanged
        assert Customer.objects.filter(normalized_name=same_name.normalized_name).count() == 1
        for customer in Customer.objects.all():
            primaries = CustomerContact.objects.filter(customer=customer, is_primary=True).count()
            assert primaries <= 1
        summary = AuditLog.objects.get(action="crm.customer.imported")
        assert summary.changes["created"]["new"] == 2
        assert summary.changes["updated"]["new"] == 1
        assert summary.changes["skipped"]["new"] == 1
        assert AuditLog.objects.filter(action="crm.customer.created").count() == 2 + 2  # two by services, two imported
    # The stored preview is gone once imported.
    assert client.get(preview_url(token)).status_code == 404


def test_a_possible_duplicate_is_merged_only_when_chosen(staff_client_as, owner):
    existing = create(owner, "Merge Me Ltd", industry="金融")
    client = staff_client_as(owner)
    rows = [
        {"customer_name": "merge me ltd", "industry": "医疗", "contact_name": "Zhao", "mobile": "13700137000"},
        {"customer_name": "Other Dup Ltd"},
    ]
    create(owner, "Other Dup Ltd")
    token = upload(client, csv_upload(rows))
    payload = importing.plan_load(token, user=owner)
    assert [g["action"] for g in payload["groups"]] == ["duplicate", "duplicate"]
    client.post(preview_url(token), {"dup_2": "merge", "dup_3": "skip"})
    assert customer_count(owner.tenant) == 2
    with tenant_scope(owner.tenant):
        existing.refresh_from_db()
        assert existing.customer_name == "Merge Me Ltd"  # the existing name is kept
        assert existing.industry == "医疗"
        assert list(existing.contacts.values_list("contact_name", "is_primary")) == [("Zhao", True)]


def test_xlsx_import(staff_client_as, owner):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["客户名称", "行业", "客户等级", "联系人", "手机", "主联系人"])
    sheet.append(["深圳表格科技有限公司", "电信", "重要", "王磊", 13800138000, 1])
    sheet.append(["深圳表格科技有限公司", None, None, "陈晓", 13900139000, 0])
    buffer = io.BytesIO()
    workbook.save(buffer)
    client = staff_client_as(owner)
    token = upload(client, SimpleUploadedFile("客户.xlsx", buffer.getvalue()))
    assert importing.plan_load(token, user=owner)["counts"]["error_rows"] == 0
    client.post(preview_url(token))
    with tenant_scope(owner.tenant):
        customer = Customer.objects.get()
        assert (customer.customer_name, customer.industry, customer.level) == ("深圳表格科技有限公司", "电信", 2)
        assert list(customer.contacts.order_by("id").values_list("contact_name", "mobile", "is_primary")) == [
            ("王磊", "13800138000", True),
            ("陈晓", "13900139000", False),
        ]


def test_an_export_imports_back_as_updates(staff_client_as, owner, portfolio):
    client = staff_client_as(owner)
    response = client.get(f"{EXPORT_URL}?format=csv")
    data = b"".join(response.streaming_content)
    token = upload(client, SimpleUploadedFile("export.csv", data))
    payload = importing.plan_load(token, user=owner)
    assert payload["counts"] == {"rows": 2, "new": 0, "update": 2, "duplicate": 0, "error_rows": 0, "contacts": 1}
    client.post(preview_url(token))
    with tenant_scope(owner.tenant):
        assert Customer.objects.alive().count() == 2
        assert CustomerContact.objects.filter(customer=portfolio["mine"]).count() == 1
        assert CustomerTag.objects.filter(customer=portfolio["mine"]).count() == 2


def test_commit_runs_in_one_transaction(owner, monkeypatch):
    """A failure half-way (here: the tag insert) leaves no customer behind."""
    with tenant_scope(owner.tenant):
        parsed = importing.parse_upload(b"customer_name,tags,contact_name\nOne Ltd,a,Ann\nTwo Ltd,b,Bob\n", "x.csv")
        plan = importing.validate_rows(parsed.rows, user=owner)

        def boom(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(CustomerTag.objects, "bulk_create", boom)
        with pytest.raises(RuntimeError):
            importing.commit_plan(plan, user=owner)
        assert Customer.objects.count() == 0
        assert CustomerContact.objects.count() == 0


def test_import_may_not_change_the_status_of_an_existing_customer(owner):
    """PRD 5.2.1: the status follows the contracts. A new customer may start with a status; an existing one keeps its
    own (the same value, as in our own export, passes)."""
    existing = create(owner, "Status Kept Ltd")
    with tenant_scope(owner.tenant):
        changed = importing.parse_upload(f"customer_code,status\n{existing.customer_code},2\n".encode(), "x.csv")
        plan = importing.validate_rows(changed.rows, user=owner)
        assert plan.has_errors and [e[0] for r in plan.error_rows for e in r.errors] == ["status"]
        same = importing.parse_upload(
            f"customer_code,status,industry\n{existing.customer_code},1,IT\n".encode(), "x.csv"
        )
        importing.commit_plan(importing.validate_rows(same.rows, user=owner), user=owner)
    stored = factories.reload(existing)
    assert stored.status == 1 and stored.industry == "IT"


@pytest.mark.parametrize("name", ["!!!", "😀"])
def test_import_refuses_a_name_without_letters(owner, name):
    with tenant_scope(owner.tenant):
        parsed = importing.parse_upload(f"customer_name\n{name}\n".encode(), "x.csv")
        plan = importing.validate_rows(parsed.rows, user=owner)
    assert [e[0] for r in plan.error_rows for e in r.errors] == ["customer_name"]

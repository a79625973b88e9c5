"""Contract PDF engines compared on the contract document: time per document and fidelity.

Usage:
    git show 1d99363:contracts/documents.py > /tmp/legacy_documents.py     # the hand-written reportlab layout
    .venv/bin/python bench/contract_pdf.py [--legacy /tmp/legacy_documents.py] [-n 20]

Builds a throwaway SQLite database (a temporary directory), seeds the default contract library
(`seed_contract_templates`: 5 clauses, the SLA table) and renders the seeded contract template for a contract
with four SLA rows, once as is ("standard", 2 pages) and once with its clauses repeated 12 times ("long",
~12 pages). For each engine it prints the mean / p95 milliseconds per PDF (HTML rendering excluded: both engines
get the same rendered body) and what pypdf extracts: pages, whether every heading, the SLA table cells, every
clause title and the Chinese customer name come out as text, and whether the font is embedded.
Without --legacy only the current engine (crm_project.pdf, xhtml2pdf) is measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_tmp = tempfile.mkdtemp(prefix="crm-pdf-bench-")
os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from datetime import date  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.utils import translation  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from accounts.models import Tenant, User  # noqa: E402
from accounts.tenancy import tenant_scope  # noqa: E402
from contracts.documents import render as doc_render  # noqa: E402
from contracts.models import Contract, ContractSlaBinding, ContractTemplate  # noqa: E402
from crm_project.pdf import html_to_pdf  # noqa: E402
from customers.models import Customer  # noqa: E402

CUSTOMER = "北京云启科技有限公司"


def setup():
    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name="PDF Bench")
    call_command("seed_contract_templates", tenant=tenant.name, stdout=io.StringIO())
    user = User.objects.create(username="pdf-bench", tenant=tenant)
    with tenant_scope(tenant):
        customer = Customer.objects.create(customer_name=CUSTOMER, customer_code="C0001", name_key="bench")
        contract = Contract.objects.create(
            customer=customer,
            contract_name="IT 运维服务合同 2026",
            contract_code="CT202601010001",
            contract_amount=Decimal("1200000.00"),
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
            created_by=user,
        )
        for priority, first, resolution in [("P1", 15, 240), ("P2", 30, 480), ("P3", 120, 1440), ("P4", 480, 4320)]:
            ContractSlaBinding.objects.create(
                contract=contract, priority=priority, first_response_minutes=first, resolution_minutes=resolution
            )
        template = ContractTemplate.objects.get()
    return tenant, contract, template


def fidelity(pdf: bytes, expected: dict[str, list[str]]) -> dict[str, str]:
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    compact = "".join(text.split())
    result = {"pages": str(len(reader.pages))}
    for label, needles in expected.items():
        found = sum(1 for needle in needles if "".join(needle.split()) in compact)
        result[label] = f"{found}/{len(needles)}"
    embedded = False
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            descriptor = font.get_object().get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                embedded = True
    result["font embedded"] = "yes" if embedded else "no"
    return result


def timed(fn, n: int) -> tuple[float, float, bytes]:
    fn()  # warm up (font registration)
    spent, out = [], b""
    for _ in range(n):
        start = time.perf_counter()
        out = fn()
        spent.append((time.perf_counter() - start) * 1000)
    spent.sort()
    return statistics.mean(spent), spent[max(0, int(len(spent) * 0.95) - 1)], out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--legacy", help="path of the pre-refactoring contracts/documents.py (reportlab layout)")
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    legacy = None
    if args.legacy:
        spec = importlib.util.spec_from_file_location("legacy_documents", args.legacy)
        legacy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(legacy)

    tenant, contract, template = setup()
    rows = []
    with translation.override("en"), tenant_scope(tenant):
        for label, repeat in (("standard", 1), ("long", 12)):
            original = template.body
            if repeat > 1:
                start = original.index("{% for clause in clauses %}")
                end = original.index("{% endfor %}") + len("{% endfor %}")
                template.body = original[:end] + original[start:end] * (repeat - 1) + original[end:]
            context = doc_render._layout_context(template, contract, show_amounts=True)
            template.body = original
            browser_html = render_to_string(doc_render.HTML_LAYOUT, context)
            pdf_html = render_to_string(doc_render.PDF_LAYOUT, context)
            expected = {
                "headings": [
                    "IT 运维服务合同 2026",
                    "一、服务内容",
                    "二、合同金额",
                    "三、服务水平",
                    "四、合同条款",
                    "五、其他",
                ],
                "SLA cells": ["P1 critical", "15 minutes", "4 hours", "P4 low", "3 days", "72 hours", "7x24"],
                "clauses": ["保密条款", "服务水平", "付款条款", "责任限制", "终止条款"],
                "Chinese": [CUSTOMER, "本合同一式两份"],
            }
            expected["SLA cells"] = [c for c in expected["SLA cells"] if c in browser_html]
            engines = [("xhtml2pdf (crm_project.pdf)", lambda h=pdf_html: html_to_pdf(h))]
            if legacy is not None:
                engines.append(
                    ("reportlab hand layout", lambda h=browser_html: legacy.render_pdf(h, title="t", footer="f"))
                )
            for engine, fn in engines:
                mean, p95, pdf = timed(fn, args.n)
                rows.append((label, engine, mean, p95, fidelity(pdf, expected)))
    print("| document | engine | mean ms | p95 ms | pages | headings | SLA cells | clauses | Chinese | font embedded |")
    print("| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |")
    for label, engine, mean, p95, fid in rows:
        print(
            f"| {label} | {engine} | {mean:.0f} | {p95:.0f} | {fid['pages']} | {fid['headings']} | "
            f"{fid['SLA cells']} | {fid['clauses']} | {fid['Chinese']} | {fid['font embedded']} |"
        )


if __name__ == "__main__":
    main()

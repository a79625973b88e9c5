"""The shared PDF engine lays out Chinese text with an embedded font and never fetches URLs."""

import io

from pypdf import PdfReader

from crm_project.pdf import html_to_pdf


def test_html_to_pdf_keeps_chinese_text_and_tables_extractable():
    pdf = html_to_pdf(
        "<html><body style='font-family: crmcjk'><h1>服务报告 ABC科技有限公司</h1>"
        "<table><tr><th>首次响应达成率</th></tr><tr><td>93.5%</td></tr></table></body></html>"
    )
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "ABC科技有限公司" in text and "93.5%" in text


def test_html_to_pdf_drops_remote_images_instead_of_fetching_them():
    pdf = html_to_pdf("<html><body><p>ok</p><img src='http://198.51.100.1/x.png'></body></html>")
    assert PdfReader(io.BytesIO(pdf)).pages[0].extract_text().strip() == "ok"

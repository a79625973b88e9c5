"""Real Chromium: the pages and Swagger UI work under the Content-Security-Policy, with no violation reported."""

import pytest

from conftest import login_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _violations(page):
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    return messages


def test_pages_run_without_csp_violations(csp_page, owner):
    page = csp_page
    messages = _violations(page)
    login_in_browser(page, "owner")
    for path in ["/", "/customers/", "/contracts/", "/accounts/notifications/"]:
        page.goto(page.base_url + path)
        page.wait_for_load_state("networkidle")
    blocked = [text for text in messages if "Content Security Policy" in text]
    assert not blocked, blocked


def test_swagger_ui_works_under_the_policy(csp_page, owner):
    page = csp_page
    messages = _violations(page)
    login_in_browser(page, "owner")
    page.goto(page.base_url + "/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Customer Success CRM API" in page.locator(".swagger-ui .info .title").inner_text()
    # Every tag is listed (folded); opening one shows its operations.
    page.wait_for_function("document.querySelectorAll('.opblock-tag').length >= 15", timeout=20_000)
    page.click("#operations-tag-contracts")
    page.wait_for_function("document.querySelectorAll('.opblock').length > 10", timeout=20_000)
    blocked = [text for text in messages if "Content Security Policy" in text]
    assert not blocked, blocked


def test_phone_filter_panel_folds_without_inline_script(csp_phone_page, owner):
    phone_page = csp_phone_page
    login_in_browser(phone_page, "owner")
    phone_page.goto(phone_page.base_url + "/customers/")
    phone_page.wait_for_load_state("networkidle")
    assert phone_page.evaluate("document.querySelector('[data-filter-panel]').open") is False
    phone_page.goto(phone_page.base_url + "/customers/?status=1")
    phone_page.wait_for_load_state("networkidle")
    assert phone_page.evaluate("document.querySelector('[data-filter-panel]').open") is True

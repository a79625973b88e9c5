"""Real Chromium against the live server: sign-in, navigation, language switch, phone width."""

import pytest

from accounts.services import notify
from conftest import login_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_see_dashboard_and_notification(page, owner):
    notify(owner, "info", None, "Renewal of Acme is due", email=False)
    login_in_browser(page, "owner")
    assert page.url.rstrip("/") == page.base_url
    assert page.locator("#unread-count").inner_text().strip() == "1"
    page.click("[data-testid=notification-bell]")
    page.wait_for_url("**/accounts/notifications/")
    assert page.get_by_text("Renewal of Acme is due").is_visible()


def test_wrong_password_shows_an_error(page, owner):
    login_in_browser(page, "owner", "wrong-password")
    assert "/accounts/login/" in page.url
    assert page.locator(".field-error, .alert, .errorlist").first.is_visible()


def test_language_switch_to_english_and_back(page, owner):
    login_in_browser(page, "owner")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.locator("form[action$='/i18n/setlang/'] [value=en]").first.click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_text("Notifications").first.is_visible()


def test_pages_fit_a_phone_screen(phone_page, owner):
    login_in_browser(phone_page, "owner")
    for path in ["/", "/accounts/notifications/", "/accounts/audit/", "/accounts/jobs/"]:
        phone_page.goto(phone_page.base_url + path)
        overflow = phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)

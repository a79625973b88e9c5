"""Fixtures shared by every app's tests: tenants, owner / teammate / outsider users, clients, a browser."""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.tests.factories import PASSWORD, TenantFactory, UserFactory
from crm_project.testing import api_client_for


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and lockouts live in the cache: every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Acme Ops")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Other Ops")


@pytest.fixture
def owner(tenant):
    """The tenant administrator of `tenant`."""
    return UserFactory(tenant=tenant, username="owner", role="tenant_admin", is_staff=True)


@pytest.fixture
def teammate(tenant):
    """A CSM in the same tenant as `owner`."""
    return UserFactory(tenant=tenant, username="teammate", role="csm")


@pytest.fixture
def outsider(other_tenant):
    """A tenant administrator of another tenant: must never see `tenant`'s data."""
    return UserFactory(tenant=other_tenant, username="outsider", role="tenant_admin", is_staff=True)


@pytest.fixture
def make_user(tenant):
    def make(role="csm", **kwargs):
        kwargs.setdefault("tenant", tenant)
        return UserFactory(role=role, **kwargs)

    return make


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def api_as():
    """`api_as(user)` is an APIClient carrying that user's JWT access token."""
    return api_client_for


@pytest.fixture
def staff_client_as(client):
    """`staff_client_as(user)` is a Django test client signed in as that user (session)."""
    from django.test import Client

    def make(user):
        new_client = Client()
        new_client.force_login(user)
        # Tests read the English source strings; the default zh-hans is covered by its own tests.
        new_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return new_client

    return make


# --- Browser ------------------------------------------------------------------------------------------------------
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    path = _chromium_path()
    if path is None:
        if os.environ.get("CRM_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (CRM_REQUIRE_BROWSER=1) but was not found")
        pytest.skip("Chromium not installed: browser tests need Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop alive in this thread; the ORM calls made by the test
    # itself are still plain synchronous calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page (desktop size) against the live test server."""
    # bypass_csp: Playwright's own helpers (wait_for_function with a string) evaluate code in the page, which the
    # Content-Security-Policy forbids; crm_project/tests/test_browser_csp.py checks the pages with the policy on.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base_url = live_server.url
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    """A browser page 390 px wide, like a phone."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base_url = live_server.url
    yield page
    context.close()


@pytest.fixture
def csp_page(browser, live_server):
    """A browser page that enforces the Content-Security-Policy (no Playwright string evaluation in it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base_url = live_server.url
    yield page
    context.close()


@pytest.fixture
def csp_phone_page(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base_url = live_server.url
    yield page
    context.close()


def login_in_browser(page, username: str, password: str = PASSWORD) -> None:
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/accounts/two-factor/" in page.url:
        # Tenant administrators enrol a second factor at their first password sign-in (PRD 7.1).
        import pyotp

        secret = page.inner_text("#totp-secret").strip()
        page.fill("#id_code", pyotp.TOTP(secret).now())
        page.click("#enroll-submit")
        page.wait_for_load_state()
        page.click("#recovery-continue")
        page.wait_for_load_state()

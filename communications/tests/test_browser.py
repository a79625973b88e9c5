"""Real Chromium: a CSM logs a call from the customer page's Communications tab (htmx), at desktop and phone width."""

import pytest

from accounts.tenancy import tenant_scope
from communications import nlp
from communications.models import Communication
from conftest import login_in_browser
from customers.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.parametrize("fixture", ["page", "phone_page"])
def test_csm_logs_a_call_with_the_quick_log_form(request, fixture, teammate):
    page = request.getfixturevalue(fixture)
    nlp.warm()  # jieba's one-off dictionary load (seconds) belongs to process start, not to this request
    customer = make_customer(teammate, customer_name="Aurora Networks")
    login_in_browser(page, "teammate")
    page.goto(f"{page.base_url}/customers/{customer.pk}/")
    page.click("[data-tab=communications]")
    page.wait_for_selector("[data-testid=customer-communications]")
    page.click("[data-testid=comm-quick-log] summary")
    page.fill("#id_subject", "宕机沟通")
    page.fill("#id_content", "客户对昨晚的宕机非常不满意，表示如果再出现就不续约了")
    page.click("[data-testid=comm-submit]")
    page.wait_for_selector("[data-testid=comm-logged]")
    card = page.locator("[data-testid=comm-card]").first
    assert card.get_attribute("data-sentiment") == "1"
    assert "不续约" in card.inner_text()
    assert page.evaluate(NO_OVERFLOW) <= 0
    page.wait_for_selector("canvas[data-chart=comm-sentiment][data-chart-ready]")
    page.wait_for_load_state("networkidle")  # no request of this page outlives the test's database access
    with tenant_scope(teammate.tenant):
        comm = Communication.objects.get(customer=customer)
        assert comm.staff == teammate and comm.sentiment == 1

"""Tenant health settings: the staff page (validation, backtest preview, save + audit), the model rules, admin."""

import numpy as np
import pandas as pd
import pytest

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from health import churn
from health.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from health.models import HealthSettings

pytestmark = pytest.mark.django_db
URL = "/health/settings/"
DEFAULTS = {
    "weight_satisfaction": 30,
    "weight_activity": 25,
    "weight_financial": 25,
    "weight_contract": 20,
    "low_risk_min": 80,
    "medium_risk_min": 60,
    "high_risk_min": 40,
}


def history_table(n=20) -> pd.DataFrame:
    """A hand-made backtest history: churners have poor ratings but long remaining terms, so a satisfaction-only
    weighting ranks them perfectly and a contract-only weighting ranks them backwards."""
    label = np.array([1] * (n // 2) + [0] * (n - n // 2))
    table = pd.DataFrame(dict.fromkeys(NUMERIC_FEATURES, np.nan), index=range(n))
    for column in ("tickets_90d", "usage_events_90d", "logins_30d", "features_30d", "changes_12m"):
        table[column] = 0.0
    table["rating_avg"] = np.where(label == 1, 3.0, 3.6) + np.linspace(0, 0.1, n)
    table["days_remaining"] = np.where(label == 1, 360.0, 30.0)
    table["renewals"] = 0.0
    table["lapsed_contracts"] = 0.0
    for column in CATEGORICAL_FEATURES:
        table[column] = "x"
    table["customer_id"] = range(1, n + 1)
    table["label"] = label
    table["snapshot"] = pd.Timestamp("2026-01-01").date()
    return table


def test_defaults_are_the_prd_values(staff_client_as, owner):
    body = staff_client_as(owner).get(URL).content.decode()
    for name, value in DEFAULTS.items():
        assert f'name="{name}" value="{value}"' in body


def test_weights_must_sum_to_100_error_names_the_fields(staff_client_as, owner):
    data = {**DEFAULTS, "weight_contract": 10, "action": "save"}
    response = staff_client_as(owner).post(URL, data)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-weight_contract"' in body and 'data-testid="error-weight_satisfaction"' in body
    assert "must sum to 100 (now 90)" in body
    with tenant_scope(owner.tenant):
        assert not HealthSettings.objects.exists()


def test_thresholds_must_be_ordered(staff_client_as, owner):
    data = {**DEFAULTS, "medium_risk_min": 85, "high_risk_min": 90, "action": "save"}
    body = staff_client_as(owner).post(URL, data).content.decode()
    assert 'data-testid="error-medium_risk_min"' in body and "below the low-risk threshold (80)" in body
    assert 'data-testid="error-high_risk_min"' in body and "below the medium-risk threshold (85)" in body
    with tenant_scope(owner.tenant):
        assert not HealthSettings.objects.exists()


def test_preview_shows_backtest_of_saved_and_proposed_weights_without_saving(
    staff_client_as, owner, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(churn, "training_table", lambda today, months=12: history_table())
    proposed = {
        **DEFAULTS,
        "weight_satisfaction": 100,
        "weight_activity": 0,
        "weight_financial": 0,
        "weight_contract": 0,
        "action": "preview",
    }
    client = staff_client_as(owner)
    with django_assert_max_num_queries(20):
        response = client.post(URL, proposed)
    body = response.content.decode()
    assert 'data-testid="settings-backtest"' in body
    current = body.split('data-testid="backtest-current"')[1].split("</tr>")[0]
    new = body.split('data-testid="backtest-proposed"')[1].split("</tr>")[0]
    assert "30 / 25 / 25 / 20" in current and "100 / 0 / 0 / 0" in new
    assert '<td class="num">1.0</td>' in new  # satisfaction alone ranks every churner first
    assert '<td class="num">1.0</td>' not in current  # the contract weight pulls the churners down the ranking
    with tenant_scope(owner.tenant):
        assert not HealthSettings.objects.exists()


def test_save_changes_settings_and_audits_them(staff_client_as, owner):
    data = {**DEFAULTS, "weight_satisfaction": 40, "weight_activity": 15, "low_risk_min": 75, "action": "save"}
    response = staff_client_as(owner).post(URL, data)
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        saved = HealthSettings.objects.get()
        assert saved.weights == {"satisfaction": 40, "activity": 15, "financial": 25, "contract": 20}
        assert saved.low_risk_min == 75
        entry = AuditLog.objects.get(action="crm.health.settings_changed")
    assert entry.actor_id == owner.pk
    assert entry.changes["weight_satisfaction"] == {"old": "30", "new": "40"}
    assert entry.changes["low_risk_min"] == {"old": "80", "new": "75"}
    assert "weight_contract" not in entry.changes
    # A second save edits the same row (one per tenant).
    staff_client_as(owner).post(URL, {**data, "weight_contract": 25, "weight_financial": 20})
    with tenant_scope(owner.tenant):
        assert HealthSettings.objects.count() == 1 and HealthSettings.objects.get().weight_contract == 25


def test_only_tenant_admins_may_open_the_settings(staff_client_as, make_user):
    for role in ("cs_lead", "csm", "finance", "viewer"):
        client = staff_client_as(make_user(role, username=f"u-{role}"))
        assert client.get(URL).status_code == 403
        assert client.post(URL, {**DEFAULTS, "action": "save"}).status_code == 403


def test_settings_of_one_tenant_do_not_touch_another(staff_client_as, owner, outsider):
    staff_client_as(owner).post(URL, {**DEFAULTS, "weight_satisfaction": 35, "weight_contract": 15, "action": "save"})
    body = staff_client_as(outsider).get(URL).content.decode()
    assert 'name="weight_satisfaction" value="30"' in body


def test_django_admin_validates_and_audits(client, owner):
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    add = "/admin/health/healthsettings/add/"
    base = {**DEFAULTS, "alert_drop_points": 10, "alert_window_days": 30, "service_hour_rate": "300"}
    base |= {"hours_per_ticket": "2", "hours_per_month": "2", "min_model_recall": "0.75", "min_model_auc": "0.7"}
    refused = client.post(add, {**base, "weight_activity": 30})
    body = refused.content.decode()
    assert refused.status_code == 200
    assert "must sum to 100 (now 105)" in body or "四项权重之和必须为 100（当前为 105）" in body
    assert client.post(add, base).status_code == 302
    with tenant_scope(owner.tenant):
        assert HealthSettings.objects.count() == 1
        assert AuditLog.objects.filter(action="crm.health.settings_changed").count() == 1


def test_admin_lists_health_records_with_search_and_filters(client, owner, outsider):
    from datetime import date

    from customers.tests.factories import make_customer
    from health.tests.factories import score_row

    mine = make_customer(owner, customer_name="Admin Search Ltd")
    score_row(mine, date(2026, 6, 1), 55, 3)
    theirs = make_customer(outsider, customer_name="Elsewhere Ltd")
    score_row(theirs, date(2026, 6, 1), 65, 2)
    client.force_login(owner)
    body = client.get("/admin/health/customerhealthscore/?q=Search&risk_level__exact=3").content.decode()
    assert "Admin Search Ltd" in body and "Elsewhere Ltd" not in body
    assert client.get("/admin/health/churnmodel/").status_code == 200
    assert client.get("/admin/health/healthsettings/").status_code == 200

"""Each component's formula on hand-computed inputs (no database): docs/health.md states the same numbers."""

import math

import pandas as pd
import pytest

from health import scoring
from health.features import NUMERIC_FEATURES


def frame(**values):
    row = {c: float("nan") for c in NUMERIC_FEATURES}
    for c in [
        "logins_30d",
        "logins_prev_30d",
        "active_users_30d",
        "features_30d",
        "usage_events_90d",
        "tickets_90d",
        "tickets_prev_90d",
        "changes_12m",
        "comms_90d",
        "negative_comms_90d",
        "positive_comms_90d",
        "complaints_90d",
        "renewal_risk_90d",
        "rating_count",
    ]:
        row[c] = 0.0
    row.update(values)
    return pd.DataFrame([row], index=[1])


def test_satisfaction_maps_ratings_and_nps():
    # rating 4.2 -> (4.2-1)/4*100 = 80; NPS 9 -> 90; 0.7*80 + 0.3*90 = 83
    assert scoring.satisfaction(frame(rating_avg=4.2, nps_avg=9.0)).iloc[0] == pytest.approx(83.0)
    assert scoring.satisfaction(frame(rating_avg=4.2)).iloc[0] == pytest.approx(80.0)
    assert math.isnan(scoring.satisfaction(frame()).iloc[0])


def test_activity_logins_depth_and_tickets():
    # 10 logins -> 50; 4 features -> 80; 3 tickets -> 70; 0.4*50 + 0.3*80 + 0.3*70 = 65
    f = frame(usage_events_90d=40, logins_30d=10, features_30d=4, tickets_90d=3)
    assert scoring.activity(f).iloc[0] == pytest.approx(65.0)
    # No usage feed: only tickets count (2 tickets -> 80); no usage and no tickets -> missing
    assert scoring.activity(frame(tickets_90d=2)).iloc[0] == pytest.approx(80.0)
    assert math.isnan(scoring.activity(frame()).iloc[0])


def test_financial_punctuality_stability_upsell():
    # 2 of 8 late -> 75; CV 0.1 -> 90; upsell ratio 1.2 -> 70; 0.6*75 + 0.2*90 + 0.2*70 = 77
    f = frame(late_share=0.25, amount_cv=0.1, upsell_ratio=1.2)
    assert scoring.financial(f).iloc[0] == pytest.approx(77.0)
    # No previous contract: upsell counts 50 -> 0.6*100 + 0.2*100 + 0.2*50 = 90
    assert scoring.financial(frame(late_share=0.0, amount_cv=0.0)).iloc[0] == pytest.approx(90.0)


def test_contract_term_renewals_changes():
    # 182.5 days -> 50; 2 renewals, 0 lapses -> 100; 1 change -> 80; 0.5*50 + 0.3*100 + 0.2*80 = 71
    f = frame(days_remaining=182.5, renewals=2, lapsed_contracts=0, changes_12m=1)
    assert scoring.contract(f).iloc[0] == pytest.approx(71.0)


def test_overall_reweights_over_present_components_and_records_completeness():
    # satisfaction 80 (w30) and contract 71 (w20) only: (30*80 + 20*71) / 50 = 76.4, completeness 0.5
    f = frame(rating_avg=4.2, days_remaining=182.5, renewals=2, lapsed_contracts=0, changes_12m=1)
    out = scoring.score_frame(f)
    assert out["overall"].iloc[0] == pytest.approx(76.4)
    assert out["completeness"].iloc[0] == pytest.approx(0.5)
    assert out["risk_level"].iloc[0] == 2


def test_no_data_is_unknown_not_zero():
    out = scoring.score_frame(frame())
    assert math.isnan(out["overall"].iloc[0])
    assert out["completeness"].iloc[0] == 0
    assert math.isnan(out["risk_level"].iloc[0])


@pytest.mark.parametrize(("overall", "level"), [(80, 1), (79.99, 2), (60, 2), (59, 3), (40, 3), (39.9, 4)])
def test_risk_levels_by_thresholds(overall, level):
    assert scoring.risk_levels(pd.Series([overall])).iloc[0] == level


def test_weights_are_tenant_settings():
    f = frame(rating_avg=5.0, late_share=1.0, amount_cv=0.0)  # satisfaction 100, financial 0.6*0+0.2*100+0.2*50=30
    default = scoring.score_frame(f)["overall"].iloc[0]  # (30*100 + 25*30)/55
    assert default == pytest.approx((3000 + 750) / 55)
    custom = scoring.score_frame(
        f, scoring.Config({"satisfaction": 10, "activity": 25, "financial": 50, "contract": 15})
    )
    assert custom["overall"].iloc[0] == pytest.approx((1000 + 1500) / 60)


def test_explain_gives_measured_factors_and_steps():
    row = {"invoices_12m": 6.0, "late_invoices_12m": 2.0, "tickets_90d": 14, "tickets_prev_90d": 3}
    factors, steps = scoring.explain(row, {"overall": 50.0})
    assert "Payment delays: 2 of 6 invoices late (12 months)" in factors["negative_factors"]
    assert any("14 tickets" in text for text in factors["negative_factors"])
    assert steps and set(factors) >= {"positive_factors", "negative_factors"}

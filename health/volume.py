"""Volume step of health (`manage.py generate_volume`): the nightly scores' history, one row per customer per day.

Shape (docs/decisions.md): every alive customer gets the same number of daily rows ending today
(`health_rows / customers`, the first customers take the remainder): 10M rows for 100k customers are the last
100 nights of the nightly job. The overall score walks back from the customer's stored health score (today's row
equals it exactly, so `customers.health_score` is the latest row) with a per-customer trend and day-to-day noise;
the components scatter around it, risk levels follow the default thresholds (80/60/40), the churn probability
is the rules' logistic of the score, and the factors / inputs JSON have the shape and about the size the scoring
job writes. A rerun tops each customer up to its number of days (missing days only: the unique key is
tenant, customer, day).
"""

from __future__ import annotations

import numpy as np
from django.db.models import Count, Exists, OuterRef, Subquery

from accounts.tenancy import current_tenant
from accounts.volume import VolumePlan, chunked_write, date_text, dt_text, insert_rows, spread_counts
from customers import services as customer_services
from customers.volume import Frame
from health.choices import ChurnSource
from health.models import CustomerHealthScore

COLUMNS = [
    "tenant_id",
    "customer_id",
    "score_date",
    "overall_score",
    "satisfaction_score",
    "activity_score",
    "financial_score",
    "contract_score",
    "risk_level",
    "churn_probability",
    "churn_source",
    "factors",
    "recommendations",
    "data_completeness",
    "inputs",
    "churn_drivers",
    "created_at",
]
RECOMMENDATIONS = [
    "[]",
    '["Offer product training to raise adoption"]',
    '["Review the low-rated tickets with the support lead and call the customer", '
    '"Contact the customer to understand the drop in usage"]',
    '["Review the low-rated tickets with the support lead and call the customer", '
    '"Contact the customer to understand the drop in usage", "Escalate the renewal to the account lead"]',
]


def _factors(rating: float, logins: int, good: bool) -> str:
    direction = "positive" if good else "negative"
    rating_text = f"Average rating {rating:.1f} of 5 over rated tickets (6 months)"
    login_text = f"{logins} logins in the last 30 days"
    listed = f'["{rating_text}", "{login_text}"]'
    return (
        f'{{"positive_factors": {listed if good else "[]"}, "negative_factors": {"[]" if good else listed}, '
        f'"details": [{{"key": "rating_avg", "direction": "{direction}", "text": "{rating_text}", '
        f'"value": {rating:.2f}}}, '
        f'{{"key": "logins_30d", "direction": "{direction}", "text": "{login_text}", "value": {logins}}}]}}'
    )


def run(tenant, plan: VolumePlan, frame: Frame) -> dict:
    days = spread_counts(plan.health_rows, len(frame))
    existing = np.zeros(len(frame), dtype=np.int64)
    have = dict(CustomerHealthScore.objects.values_list("customer_id").annotate(n=Count("id")).order_by())
    if have:
        existing[frame.index_of(np.fromiter(have, dtype=np.int64))] = np.fromiter(have.values(), dtype=np.int64)
    todo = existing < days
    tenant_id = current_tenant().pk
    rules = str(ChurnSource.RULES)

    def write(ids, number):
        r = plan.rng("health", int(ids[0]))
        at = frame.index_of(ids)
        per = days[at]
        row_at = np.repeat(at, per)
        n = len(row_at)
        first = np.repeat(np.cumsum(per) - per, per)
        age = np.arange(n) - first  # 0 = today, 1 = yesterday, ...
        score_day = frame.today_d - age
        keep = np.ones(n, dtype=bool)
        partial = ids[existing[at] > 0]
        if len(partial):  # top-up: only the days a customer lacks
            taken = set(
                CustomerHealthScore.objects.filter(customer_id__in=partial.tolist()).values_list(
                    "customer_id", "score_date"
                )
            )
            day_text = date_text(score_day)
            cust = frame.ids[row_at].tolist()
            keep = np.array(
                [(c, np.datetime64(d).astype(object)) not in taken for c, d in zip(cust, day_text, strict=True)]
            )
        # A per-customer trend (points a day) and smoothed day-to-day noise; today's row is the stored score.
        slope = r.normal(0, 0.08, len(ids))[np.repeat(np.arange(len(ids)), per)]
        noise = r.normal(0, 1.2, n) * (age > 0)
        overall = np.clip(frame.latent[row_at] * 100 + slope * age + noise, 0, 100).round(2)
        components = np.clip(overall[:, None] + r.normal(0, 8, (n, 4)), 0, 100).round(2)
        risk = np.where(overall >= 80, 1, np.where(overall >= 60, 2, np.where(overall >= 40, 3, 4)))
        churn = (1 / (1 + np.exp((overall - 45) / 8))).round(4)
        rating = np.clip(1 + 4 * overall / 100 + r.normal(0, 0.3, n), 1, 5)
        logins = np.maximum(0, r.poisson(2 + 40 * overall / 100))
        open_tickets = r.poisson(0.3 + 2 * (1 - overall / 100))
        date_t = date_text(score_day)
        created_t = dt_text(score_day * 86400 + 2 * 3600 - frame.utc_offset_s)  # 02:00 local, the nightly run
        cust = frame.ids[row_at].tolist()
        rows = []
        for k in np.flatnonzero(keep).tolist():
            o = overall[k]
            c = components[k]
            rv, lv = float(rating[k]), int(logins[k])
            rows.append(
                (
                    tenant_id,
                    cust[k],
                    date_t[k],
                    f"{o:.2f}",
                    f"{c[0]:.2f}",
                    f"{c[1]:.2f}",
                    f"{c[2]:.2f}",
                    f"{c[3]:.2f}",
                    int(risk[k]),
                    f"{churn[k]:.4f}",
                    rules,
                    _factors(rv, lv, o >= 60),
                    RECOMMENDATIONS[int(risk[k]) - 1],
                    "1.000",
                    f'{{"rating_avg": {rv:.2f}, "rating_count": {int(open_tickets[k]) + 3}, "logins_30d": {lv}, '
                    f'"open_tickets": {int(open_tickets[k])}}}',
                    "[]",
                    created_t[k],
                )
            )
        return insert_rows(CustomerHealthScore, COLUMNS, rows)

    written = chunked_write(plan, "health", frame.ids, todo, write, pipelined=True)
    counts = {"rows": written, "days_per_customer": int(days.max(initial=0))}
    counts["health_score_set"] = refresh_health_score()
    return counts


def refresh_health_score() -> int:
    """customers.health_score = the overall score of its latest row (customers without a row keep theirs)."""
    latest = CustomerHealthScore.objects.filter(customer_id=OuterRef("pk")).order_by("-score_date", "-id")
    return customer_services.customers_figure_recompute(
        field="health_score",
        source=Subquery(latest.values("overall_score")[:1]),
        only_with_source=Exists(latest),
    )

"""Renewal probability of contracts from the churn model (filled into `contracts.extensions` from ready()).

renewal probability = 1 - the churn probability of the contract's customer in their latest daily score (at most
`MAX_AGE_DAYS` old) when the active model produced it; otherwise the contract is left out and contracts uses its
rule (and says so). One query for any number of contracts.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.extensions import SOURCE_MODEL, RenewalEstimate
from health.choices import ChurnSource
from health.models import CustomerHealthScore

MAX_AGE_DAYS = 35


def renewal_estimates(contracts: list) -> dict[int, RenewalEstimate]:
    customer_ids = {c.customer_id for c in contracts}
    if not customer_ids:
        return {}
    today = timezone.localdate()
    rows = (
        CustomerHealthScore.objects.filter(
            customer_id__in=customer_ids,
            score_date__gt=today - timedelta(days=MAX_AGE_DAYS),
            score_date__lte=today,
        )
        .order_by("customer_id", "-score_date")
        .values(
            "customer_id", "score_date", "churn_probability", "churn_source", "churn_model_version", "churn_drivers"
        )
    )
    latest: dict[int, dict] = {}
    for row in rows:
        latest.setdefault(row["customer_id"], row)
    found = {}
    for contract in contracts:
        row = latest.get(contract.customer_id)
        if row is None or row["churn_source"] != ChurnSource.MODEL or row["churn_probability"] is None:
            continue
        churn = float(row["churn_probability"])
        reasons = [
            _("churn model v%(v)s: %(p).0f%% churn risk on %(d)s")
            % {"v": row["churn_model_version"], "p": churn * 100, "d": row["score_date"].isoformat()}
        ]
        for driver in row["churn_drivers"] or []:
            reasons.append(
                (
                    _("%(feature)s: %(value)s, raises risk")
                    if driver.get("direction") == "raises"
                    else _("%(feature)s: %(value)s, lowers risk")
                )
                % {"feature": driver.get("feature"), "value": driver.get("value")}
            )
        found[contract.pk] = RenewalEstimate(
            probability=round(max(0.0, min(1.0, 1 - churn)), 2),
            reasons=reasons,
            source=SOURCE_MODEL,
            model_version=row["churn_model_version"],
        )
    return found

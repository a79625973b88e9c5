"""The health score (PRD 2.2.1), vectorised over a DataFrame of inputs (see features.py and docs/health.md).

Each component is 0-100 or NaN when its inputs are missing; the overall score re-weights over the
components that have data and records the share of the weights it used (`data_completeness`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from django.utils import translation

COMPONENTS = ("satisfaction", "activity", "financial", "contract")
DEFAULT_WEIGHTS = {"satisfaction": 30, "activity": 25, "financial": 25, "contract": 20}
DEFAULT_THRESHOLDS = (80, 60, 40)  # overall >= 80 low risk (1), >= 60 medium (2), >= 40 high (3), else 4

# Targets of the activity formula: a month with 20 logins and 5 distinct features is full marks.
LOGIN_TARGET = 20.0
FEATURE_TARGET = 5.0
TICKET_PENALTY = 10.0  # points per ticket in the last 90 days
CHANGE_PENALTY = 20.0  # points per contract change in the last 12 months


@lru_cache(maxsize=1024)
def _translated(language: str | None, message: str) -> str:
    return translation.gettext(message)


def _(message: str) -> str:
    """gettext, kept per language: `explain` runs for every customer of the nightly run (~8 look-ups each)."""
    return _translated(_language.get(), message)


class _Language(threading.local):
    """The active language, looked up once per `explain` call (asgiref's Local costs ~15 µs a look-up); per thread,
    set and cleared around the synchronous `explain`."""

    current: str | None = None

    def get(self) -> str | None:
        return self.current if self.current is not None else translation.get_language()


_language = _Language()


@dataclass(frozen=True)
class Config:
    weights: dict
    thresholds: tuple = DEFAULT_THRESHOLDS


def _clip(series):
    return series.clip(lower=0, upper=100)


def _combine(parts: list[tuple[pd.Series, float]]) -> pd.Series:
    """Weighted mean of the parts that are not NaN, row by row (NaN when none is present)."""
    values = pd.concat([p for p, _w in parts], axis=1)
    weights = np.array([w for _p, w in parts], dtype=float)
    present = values.notna().to_numpy()
    total = (present * weights).sum(axis=1)
    summed = (values.fillna(0).to_numpy() * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(total > 0, summed / np.where(total > 0, total, 1), np.nan)
    return pd.Series(result, index=values.index)


def satisfaction(f: pd.DataFrame) -> pd.Series:
    """Ratings (1-5) of the last 6 months mapped to 0-100, 70 %; NPS answers (0-10) × 10, 30 %."""
    rating = (f["rating_avg"] - 1) / 4 * 100
    nps = f["nps_avg"] * 10
    return _clip(_combine([(rating, 0.7), (nps, 0.3)]))


def activity(f: pd.DataFrame) -> pd.Series:
    """Logins (40 %), feature depth (30 %) and ticket frequency (30 %). Without usage events only tickets count;
    without usage events and without tickets the component is missing."""
    has_usage = f["usage_events_90d"] > 0
    login = (f["logins_30d"] / LOGIN_TARGET * 100).clip(upper=100).where(has_usage)
    depth = (f["features_30d"] / FEATURE_TARGET * 100).clip(upper=100).where(has_usage)
    tickets = (100 - f["tickets_90d"] * TICKET_PENALTY).clip(lower=0).where(has_usage | (f["tickets_90d"] > 0))
    return _clip(_combine([(login, 0.4), (depth, 0.3), (tickets, 0.3)]))


def financial(f: pd.DataFrame) -> pd.Series:
    """Punctuality (on-time share of invoices due in 12 months) 60 %, amount stability (100 - 100 × CV) 20 %,
    upsell (50 + 100 × (active / previous contract amount - 1), 50 without a previous contract) 20 %."""
    punctual = (1 - f["late_share"]) * 100
    stability = (100 - f["amount_cv"] * 100).clip(lower=0)
    upsell = (50 + (f["upsell_ratio"] - 1) * 100).clip(0, 100).fillna(50).where(punctual.notna())
    return _clip(_combine([(punctual, 0.6), (stability, 0.2), (upsell, 0.2)]))


def contract(f: pd.DataFrame) -> pd.Series:
    """Remaining term (days / 365 × 100) 50 %, renewal history (50 + 25 per renewal - 25 per lapse) 30 %,
    change frequency (100 - 20 per change in 12 months) 20 %. Missing without any signed contract."""
    remaining = (f["days_remaining"] / 365 * 100).clip(0, 100)
    renewal = (50 + 25 * f["renewals"] - 25 * f["lapsed_contracts"]).clip(0, 100)
    changes = (100 - CHANGE_PENALTY * f["changes_12m"]).clip(lower=0).where(remaining.notna())
    return _clip(_combine([(remaining, 0.5), (renewal, 0.3), (changes, 0.2)]))


def risk_levels(overall: pd.Series, thresholds=DEFAULT_THRESHOLDS) -> pd.Series:
    low, medium, high = thresholds
    level = np.select([overall >= low, overall >= medium, overall >= high], [1, 2, 3], default=4)
    return pd.Series(level, index=overall.index)


def score_frame(f: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """Components, overall, completeness and risk level for every row; `overall` NaN = unknown."""
    config = config or Config(DEFAULT_WEIGHTS)
    out = pd.DataFrame(index=f.index)
    out["satisfaction"] = satisfaction(f)
    out["activity"] = activity(f)
    out["financial"] = financial(f)
    out["contract"] = contract(f)
    weights = config.weights
    out["overall"] = _combine([(out[c], float(weights[c])) for c in COMPONENTS])
    total = float(sum(weights.values())) or 1.0
    present = sum(out[c].notna() * float(weights[c]) for c in COMPONENTS)
    out["completeness"] = present / total
    out["risk_level"] = risk_levels(out["overall"].fillna(0), config.thresholds)
    out.loc[out["overall"].isna(), "risk_level"] = np.nan
    return out


def rule_churn(f: pd.DataFrame, scores: pd.DataFrame) -> pd.Series:
    """The transparent fallback (PRD 8.1.1): a logistic curve of the overall score (50 → 0.5, 80 → 0.05),
    +0.10 with a renewal-risk need, +0.05 with a complaint, +0.10 without an active contract."""
    base = 1 / (1 + np.exp((scores["overall"] - 50) / 10))
    bump = (
        0.10 * (f["renewal_risk_90d"] > 0) + 0.05 * (f["complaints_90d"] > 0) + 0.10 * (f["has_active_contract"] == 0)
    )
    return (base + bump).clip(0.001, 0.999)


def _num(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def explain(row: dict, scores: dict) -> tuple[dict, list]:
    """Positive and negative factors with measured values, and concrete next steps, for one customer."""
    _language.current = translation.get_language()
    try:
        return _explain(row, scores)
    finally:
        _language.current = None


def _explain(row: dict, scores: dict) -> tuple[dict, list]:
    positive: list[str] = []
    negative: list[str] = []
    steps: list[str] = []
    details: list[dict] = []

    def factor(key, good: bool, text: str, value):
        (positive if good else negative).append(text)
        details.append({"key": key, "direction": "positive" if good else "negative", "text": text, "value": value})

    rating = _num(row.get("rating_avg"))
    if rating is not None:
        n = int(row.get("rating_count") or 0)
        text = _("Average rating %(avg).1f of 5 over %(n)d rated tickets (6 months)") % {"avg": rating, "n": n}
        factor("rating_avg", rating >= 4, text, round(rating, 2))
        if rating < 3.5:
            steps.append(_("Review the low-rated tickets with the support lead and call the customer"))
    nps = _num(row.get("nps_avg"))
    if nps is not None:
        factor("nps_avg", nps >= 7, _("Average NPS answer %(v).1f of 10") % {"v": nps}, round(nps, 2))
    if (row.get("usage_events_90d") or 0) > 0:
        logins = int(row.get("logins_30d") or 0)
        prev = int(row.get("logins_prev_30d") or 0)
        if prev and logins < prev * 0.7:
            factor(
                "logins_30d",
                False,
                _("Logins fell from %(p)d to %(n)d (last 30 days)") % {"p": prev, "n": logins},
                logins,
            )
            steps.append(_("Contact the customer to understand the drop in usage"))
        elif logins >= LOGIN_TARGET / 2:
            factor("logins_30d", True, _("%(n)d logins in the last 30 days") % {"n": logins}, logins)
        else:
            factor("logins_30d", False, _("Only %(n)d logins in the last 30 days") % {"n": logins}, logins)
            steps.append(_("Offer product training to raise adoption"))
        features = int(row.get("features_30d") or 0)
        if features < 3:
            factor("features_30d", False, _("%(n)d features used in the last 30 days") % {"n": features}, features)
            steps.append(_("Show the customer the features they do not use yet"))
        else:
            factor("features_30d", True, _("%(n)d features used in the last 30 days") % {"n": features}, features)
    tickets = int(row.get("tickets_90d") or 0)
    prev_tickets = int(row.get("tickets_prev_90d") or 0)
    if tickets >= 5 or (tickets > prev_tickets + 2):
        factor(
            "tickets_90d",
            False,
            _("%(n)d tickets in the last 90 days (%(p)d the quarter before)") % {"n": tickets, "p": prev_tickets},
            tickets,
        )
        steps.append(_("Check the quality of ticket handling and the recurring issues"))
    invoices = _num(row.get("invoices_12m"))
    if invoices:
        late = int(row.get("late_invoices_12m") or 0)
        text = _("Payment delays: %(late)d of %(n)d invoices late (12 months)") % {"late": late, "n": int(invoices)}
        factor("late_share", late == 0, text, late)
        if late:
            steps.append(_("Agree a payment plan with the customer's finance contact"))
    ratio = _num(row.get("upsell_ratio"))
    if ratio is not None and ratio > 1.05:
        factor(
            "upsell_ratio",
            True,
            _("Contract value grew %(p)d%% over the previous term") % {"p": round((ratio - 1) * 100)},
            round(ratio, 2),
        )
    days = _num(row.get("days_remaining"))
    if days is not None:
        if days <= 0:
            factor("days_remaining", False, _("No active contract"), 0)
            steps.append(_("Prepare a renewal offer"))
        elif days <= 90:
            factor("days_remaining", False, _("Contract ends in %(d)d days") % {"d": int(days)}, int(days))
            steps.append(_("Start the renewal conversation now"))
        else:
            factor("days_remaining", True, _("Contract runs %(d)d more days") % {"d": int(days)}, int(days))
    renewals = _num(row.get("renewals"))
    if renewals:
        factor("renewals", True, _("Renewed %(n)d times") % {"n": int(renewals)}, int(renewals))
    changes = int(row.get("changes_12m") or 0)
    if changes >= 2:
        factor("changes_12m", False, _("%(n)d contract changes in 12 months") % {"n": changes}, changes)
    neg = int(row.get("negative_comms_90d") or 0)
    comms = int(row.get("comms_90d") or 0)
    if comms:
        if neg and neg * 3 >= comms:
            factor(
                "negative_comms_90d",
                False,
                _("%(n)d of %(t)d communications negative (90 days)") % {"n": neg, "t": comms},
                neg,
            )
            steps.append(_("Schedule a meeting with the decision maker about their concerns"))
        elif int(row.get("positive_comms_90d") or 0) > neg:
            factor(
                "positive_comms_90d",
                True,
                _("Communication mostly positive (90 days)"),
                int(row.get("positive_comms_90d") or 0),
            )
    if (row.get("complaints_90d") or 0) > 0:
        factor(
            "complaints_90d",
            False,
            _("%(n)d complaints in communications (90 days)") % {"n": int(row["complaints_90d"])},
            int(row["complaints_90d"]),
        )
        steps.append(_("Follow up on the open complaints"))
    if (row.get("renewal_risk_90d") or 0) > 0:
        factor(
            "renewal_risk_90d",
            False,
            _("Renewal risk mentioned in communications (90 days)"),
            int(row["renewal_risk_90d"]),
        )
        steps.append(_("Escalate the renewal risk to the account lead"))
    if not steps and scores.get("overall") is not None and scores["overall"] >= 80:
        steps.append(_("Ask for a reference or a case study"))
    unique_steps = list(dict.fromkeys(steps))
    return {"positive_factors": positive, "negative_factors": negative, "details": details}, unique_steps

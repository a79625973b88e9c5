"""RFM scoring (pure functions, tested on hand-computed fixtures) and the mapping to named segments.

Scores are quantile scores 1-5: a value's score is 1 + floor(5 × (share of customers with a strictly smaller
value)), so ties share a score and the largest values score 5. Recency is scored on "days since the last purchase"
reversed (fewer days, higher score). The named segments are documented in docs/segments.md.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from django.utils.translation import pgettext_lazy

RFM_SEGMENTS = {
    "champions": pgettext_lazy("RFM segment", "Champions"),
    "loyal": pgettext_lazy("RFM segment", "Loyal"),
    "new": pgettext_lazy("RFM segment", "New"),
    "potential_loyalist": pgettext_lazy("RFM segment", "Potential loyalist"),
    "at_risk": pgettext_lazy("RFM segment", "At risk"),
    "hibernating": pgettext_lazy("RFM segment", "Hibernating"),
    "need_attention": pgettext_lazy("RFM segment", "Need attention"),
}


def quantile_scores(values: Sequence[float], *, reverse: bool = False) -> list[int]:
    """1-5 per value, by the share of values strictly below it (strictly above it with `reverse`)."""
    n = len(values)
    if n == 0:
        return []
    keys = [-v for v in values] if reverse else list(values)
    ordered = sorted(keys)
    return [min(5, 1 + (5 * bisect_left(ordered, key)) // n) for key in keys]


def rfm_segment(r: int, f: int, m: int) -> str:
    """The named segment of an (R, F, M) triple; the first rule that matches wins (see docs/segments.md)."""
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal"
    if r >= 4 and f <= 2:
        return "new"
    if r >= 3 and f >= 2:
        return "potential_loyalist"
    if r <= 2 and (f >= 3 or m >= 4):
        return "at_risk"
    if r <= 2 and f <= 2:
        return "hibernating"
    return "need_attention"


def score_customers(rows: Sequence[dict]) -> list[dict]:
    """`rows` of {customer_id, recency_days, frequency, monetary} → the same rows with r/f/m scores and segment."""
    r = quantile_scores([row["recency_days"] for row in rows], reverse=True)
    f = quantile_scores([row["frequency"] for row in rows])
    m = quantile_scores([float(row["monetary"]) for row in rows])
    out = []
    for row, rs, fs, ms in zip(rows, r, f, m, strict=True):
        out.append({**row, "r_score": rs, "f_score": fs, "m_score": ms, "rfm_segment": rfm_segment(rs, fs, ms)})
    return out

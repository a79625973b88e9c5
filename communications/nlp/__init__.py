"""Offline text analysis of communications: language, keywords, sentiment (PRD 1/2/3 + score) and needs.

from communications.nlp import analyze
analyze("服务器又宕机了，客户很不满意，说不续约了")
# Analysis(language="zh", sentiment=1, score=-0.99, keywords=[...], needs=[{"tag": "renewal_risk", ...}])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from communications.nlp.keywords import keywords, warm
from communications.nlp.needs import needs
from communications.nlp.sentiment import NEGATIVE, NEUTRAL, POSITIVE, sentiment
from communications.nlp.text import detect_language

__all__ = ["ANALYZER_VERSION", "MAX_TEXT", "NEGATIVE", "NEUTRAL", "POSITIVE", "Analysis", "analyze", "warm"]

ANALYZER_VERSION = "lex-1"
MAX_TEXT = 20_000


@dataclass(frozen=True)
class Analysis:
    language: str
    sentiment: int
    score: float
    keywords: list[str] = field(default_factory=list)
    needs: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def analyze(text: str) -> Analysis:
    """Analyse one text (at most MAX_TEXT characters are read)."""
    text = (text or "")[:MAX_TEXT]
    if not text.strip():
        return Analysis(language="en", sentiment=NEUTRAL, score=0.0)
    language = detect_language(text)
    result = sentiment(text, language)
    return Analysis(
        language=language,
        sentiment=result.sentiment,
        score=result.score,
        keywords=keywords(text, language),
        needs=needs(text, language),
    )

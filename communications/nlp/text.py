"""Language detection and tokenisation shared by keywords, sentiment and needs."""

from __future__ import annotations

import re

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_LETTER = re.compile(r"[A-Za-z]")
EN_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#._/-]*[a-z0-9+#]|[a-z0-9]")
_EN_CONTRACTIONS = (
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"n't\b"), " not"),
)
_EN_CLAUSE = re.compile(r"[.!?;,:\n()\"]+|\s[-–—]\s")
ZH_CLAUSE = re.compile(r"[，。！？；、,.!?;:：\n（）()“”\"]+")


def detect_language(text: str) -> str:
    """`zh` when Chinese characters carry the text (one CJK character weighs like about four Latin letters)."""
    cjk = len(CJK.findall(text))
    latin = len(LATIN_LETTER.findall(text))
    if cjk == 0:
        return "en"
    return "zh" if cjk * 4 >= latin else "en"


def en_normalise(text: str) -> str:
    lowered = text.lower().replace("’", "'")
    for pattern, replacement in _EN_CONTRACTIONS:
        lowered = pattern.sub(replacement, lowered)
    return lowered


def en_clauses(text: str) -> list[list[str]]:
    """Lower-cased token lists per clause (punctuation splits clauses; contractions expanded)."""
    return [tokens for part in _EN_CLAUSE.split(en_normalise(text)) if (tokens := EN_TOKEN.findall(part))]


def zh_clauses(text: str) -> list[str]:
    return [part.strip() for part in ZH_CLAUSE.split(text) if part.strip()]

"""Knowledge-base search for Chinese and English: title and text are cut into lower-cased terms (Chinese by
jieba's search mode, which also emits the shorter words inside long ones; English by word), stored space
separated in `KbArticle.search_terms`; a query is cut the same way and every term must occur.
"""

from __future__ import annotations

import re

from django.db.models import Q

_WORD = re.compile(r"[\w]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff]")


def terms(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(60)
    found: list[str] = []
    for chunk in _WORD.findall((text or "").lower()):
        if _CJK.search(chunk):
            found.extend(word for word in jieba.cut_for_search(chunk) if word.strip())
        else:
            found.append(chunk)
    return found


def index_text(title: str, body: str) -> str:
    return " " + " ".join(dict.fromkeys(terms(f"{title} {body}"))) + " "


def search_filter(query: str) -> Q:
    """Every query term must be a stored term (or, for one-character Chinese, occur in title or text)."""
    condition = Q()
    for term in dict.fromkeys(terms(query)):
        if len(term) == 1 and _CJK.match(term):
            condition &= Q(title__icontains=term) | Q(body__icontains=term)
        else:
            condition &= Q(search_terms__contains=f" {term} ") | Q(title__icontains=term)
    return condition

"""Top keywords of a note: jieba TF-IDF with an IT-operations user dictionary (Chinese), term frequency with an
IT-term boost (English). jieba's dictionary is loaded once per process, lazily (about a second) or by `warm()`."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from functools import cache
from pathlib import Path

from communications.nlp.text import EN_TOKEN, en_normalise

DATA = Path(__file__).parent / "data"
TOP_K = 8
_lock = threading.Lock()
logger = logging.getLogger(__name__)


def _words(name: str) -> frozenset[str]:
    return frozenset(
        line.strip().lower() for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()
    )


@cache
def zh_stop_words() -> frozenset[str]:
    return _words("stopwords_zh.txt")


@cache
def en_stop_words() -> frozenset[str]:
    return _words("stopwords_en.txt")


@cache
def it_terms() -> frozenset[str]:
    return frozenset(
        line.split()[0] for line in (DATA / "it_userdict.txt").read_text(encoding="utf-8").splitlines() if line.strip()
    )


_extractors: dict = {}


def _jieba():
    """(tokenizer, TF-IDF extractor, TextRank extractor), built once per process under a lock."""
    if "tfidf" in _extractors:
        return _extractors["tokenizer"], _extractors["tfidf"], _extractors["textrank"]
    with _lock:
        if "tfidf" not in _extractors:
            import jieba
            import jieba.analyse
            import jieba.posseg

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            tokenizer.load_userdict(str(DATA / "it_userdict.txt"))
            tfidf = jieba.analyse.TFIDF()
            tfidf.tokenizer = tokenizer
            tfidf.postokenizer = jieba.posseg.POSTokenizer(tokenizer)
            tfidf.stop_words = set(tfidf.stop_words) | set(zh_stop_words())
            textrank = jieba.analyse.TextRank()
            textrank.tokenizer = textrank.postokenizer = tfidf.postokenizer
            textrank.stop_words = set(textrank.stop_words) | set(zh_stop_words())
            _extractors.update(tokenizer=tokenizer, tfidf=tfidf, textrank=textrank)
    return _extractors["tokenizer"], _extractors["tfidf"], _extractors["textrank"]


def warm() -> None:
    """Load jieba's dictionary now (the worker does this at start, so the first note is as fast as the rest)."""
    tokenizer, _tfidf, _textrank = _jieba()
    tokenizer.lcut("服务器宕机")


def _keep(word: str) -> bool:
    word = word.strip()
    return len(word) >= 2 and not word.isdigit() and word.lower() not in zh_stop_words()


def zh_keywords(text: str, top_k: int = TOP_K, method: str = "tfidf") -> list[str]:
    _tokenizer, tfidf, textrank = _jieba()
    if method == "textrank":
        words = textrank.textrank(text, topK=top_k * 2, allowPOS=("ns", "n", "vn", "v", "eng", "nz"))
    else:
        words = tfidf.extract_tags(text, topK=top_k * 2)
    result = []
    for word in words:
        if _keep(word) and word not in result:
            result.append(word)
    return result[:top_k]


def en_keywords(text: str, top_k: int = TOP_K) -> list[str]:
    stop = en_stop_words()
    terms = it_terms()
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    tokens = [t.strip("./-") for t in EN_TOKEN.findall(en_normalise(text))]
    for index, token in enumerate(tokens):
        if len(token) < 2 or token in stop or token.isdigit():
            continue
        counts[token] += 1
        first_seen.setdefault(token, index)
    # Adjacent content words that recur or name a known term make a phrase ("load balancer", "root cause").
    for left, right in zip(tokens, tokens[1:], strict=False):
        if left in counts and right in counts and left not in stop and right not in stop:
            phrase = f"{left} {right}"
            if phrase in terms or tokens.count(left) > 1 and tokens.count(right) > 1:
                counts[phrase] += 2
                first_seen.setdefault(phrase, first_seen[left])
    ranked = sorted(
        counts,
        key=lambda word: (
            -(counts[word] * (2 if word.upper() in terms or word in terms else 1) * (1 + 0.1 * min(len(word), 10))),
            first_seen[word],
        ),
    )
    return ranked[:top_k]


def keywords(text: str, language: str, top_k: int = TOP_K) -> list[str]:
    return zh_keywords(text, top_k) if language == "zh" else en_keywords(text, top_k)

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
KEYWORD_TEXT = 3000
# Nouns, verbal nouns, place/organisation names and Latin words (the IT dictionary tags its terms `nz`):
# generic verbs such as 发送 / 整理 are not topics.
ZH_KEYWORD_POS = ("n", "vn", "eng", "an", "l")  # prefixes: n covers nz, nt, ns, nr
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
    """English IT-operations terms (single words and two-word phrases) that make good keywords."""
    return _words("it_terms_en.txt")


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
            tfidf.postokenizer.makesure_userdict_loaded()  # the IT dictionary's part-of-speech tags
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
        words = textrank.textrank(text, topK=top_k * 2, allowPOS=ZH_KEYWORD_POS)
    else:
        # Plain segmentation plus the dictionary's part of speech: as selective as tagging the text, 5x faster.
        tags = tfidf.postokenizer.word_tag_tab
        words = [
            word
            for word in tfidf.extract_tags(text, topK=top_k * 4)
            if tags.get(word) is None or tags[word].startswith(ZH_KEYWORD_POS)
        ]
    result = []
    for word in words:
        if _keep(word) and word not in result:
            result.append(word)
    return result[:top_k]


def en_keywords(text: str, top_k: int = TOP_K) -> list[str]:
    stop = en_stop_words()
    terms = it_terms()
    tokens = [t.strip("./-") for t in EN_TOKEN.findall(en_normalise(text))]
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if len(token) < 2 or token in stop or token.isdigit():
            continue
        counts[token] += 1
        first_seen.setdefault(token, index)
    # Known two-word terms ("load balancer", "root cause") count as one keyword instead of their parts.
    for index, (left, right) in enumerate(zip(tokens, tokens[1:], strict=False)):
        phrase = f"{left} {right}"
        if phrase in terms:
            counts[phrase] += 1
            first_seen.setdefault(phrase, index)
            for part in (left, right):
                if counts.get(part):
                    counts[part] -= 1
    counts = +counts  # drop parts used up by phrases

    def weight(word: str) -> float:
        value = counts[word] * (2.5 if word in terms else 1.0)
        # Inflected verbs and adverbs ("acknowledged", "started", "quickly") rarely name a topic.
        if word not in terms and word.endswith(("ed", "ing", "ly")):
            value *= 0.5
        return value

    return sorted(counts, key=lambda word: (-weight(word), first_seen[word]))[:top_k]


def keywords(text: str, language: str, top_k: int = TOP_K) -> list[str]:
    """Top keywords of the first KEYWORD_TEXT characters (part-of-speech tagging is the slow step; a long
    note's topics show in its first pages)."""
    text = text[:KEYWORD_TEXT]
    return zh_keywords(text, top_k) if language == "zh" else en_keywords(text, top_k)

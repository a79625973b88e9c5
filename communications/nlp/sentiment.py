"""Lexicon sentiment with negation, intensity and contrast rules, for Chinese and English IT-operations talk.

Each lexicon hit contributes its weight, multiplied by the intensifiers or diminishers right before it, flipped
(and softened) by a negation right before it, and weighted by its clause's position around a contrast word
("但是", "but": what follows counts more). The sum S maps to a score tanh(S / 2.5) in (-1, 1); the label is
negative below -THRESHOLD, positive above THRESHOLD, neutral between.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

from communications.nlp import lexicon
from communications.nlp.text import en_clauses, zh_clauses

THRESHOLD = 0.2
NEGATION_FACTOR = -0.7
ZH_WINDOW = 6  # characters before a hit searched for a negator / intensifier
EN_WINDOW = 3  # tokens before a hit
CONTRAST_BEFORE = 0.6
CONTRAST_AFTER = 1.4
NEGATIVE, NEUTRAL, POSITIVE = 1, 2, 3


@dataclass(frozen=True)
class Hit:
    phrase: str
    weight: float  # after negation and intensity
    negated: bool


@dataclass(frozen=True)
class SentimentResult:
    sentiment: int
    score: float
    hits: tuple[Hit, ...]


def _label(score: float) -> int:
    if score <= -THRESHOLD:
        return NEGATIVE
    if score >= THRESHOLD:
        return POSITIVE
    return NEUTRAL


def _result(total: float, hits: list[Hit]) -> SentimentResult:
    score = round(math.tanh(total / 2.5), 4)
    return SentimentResult(_label(score), score, tuple(hits))


# --- Chinese -------------------------------------------------------------------------------------------------------
_ZH_PHRASES = tuple(sorted(lexicon.ZH_SENTIMENT, key=len, reverse=True))


def zh_matches(clause: str, phrases) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, phrase) hits, left to right, the longest phrase at each position winning."""
    return [(match.start(), match.end(), match.group()) for match in _alternation(tuple(phrases)).finditer(clause)]


@cache
def _alternation(phrases: tuple) -> re.Pattern:
    return re.compile("|".join(re.escape(phrase) for phrase in sorted(phrases, key=len, reverse=True)))


def zh_negated(window: str) -> bool:
    for word in lexicon.ZH_NOT_NEGATION:
        window = window.replace(word, "　" * len(word))
    return any(negator in window for negator in lexicon.ZH_NEGATORS)


def _zh_modifier(window: str) -> float:
    factor = 1.0
    for word, value in lexicon.ZH_INTENSIFIERS.items():
        if word in window:
            factor = max(factor, value)
    for word, value in lexicon.ZH_DIMINISHERS.items():
        if word in window:
            factor = min(factor, value)
    return factor


def _zh_segments(text: str) -> list[tuple[str, float]]:
    """Clauses with their contrast weight: the part before "但是" counts less, the part after more."""
    segments: list[tuple[str, float]] = []
    concession = False  # the previous clause began with "虽然": this one is the main statement
    for clause in zh_clauses(text):
        parts = [clause]
        for marker in lexicon.ZH_CONTRAST:
            if marker in clause and not clause.startswith(marker):
                head, _, tail = clause.partition(marker)
                parts = [head, tail]
                break
        if len(parts) == 2:
            segments.append((parts[0], CONTRAST_BEFORE))
            segments.append((parts[1], CONTRAST_AFTER))
        elif clause.startswith(lexicon.ZH_CONTRAST):
            if segments:
                segments[-1] = (segments[-1][0], segments[-1][1] * CONTRAST_BEFORE)
            segments.append((clause, CONTRAST_AFTER))
        elif clause.startswith(lexicon.ZH_CONCESSION):
            segments.append((clause, CONTRAST_BEFORE))
            concession = True
            continue
        else:
            segments.append((clause, CONTRAST_AFTER if concession else 1.0))
        concession = False
    return segments


def zh_sentiment(text: str) -> SentimentResult:
    total = 0.0
    hits: list[Hit] = []
    for clause, clause_weight in _zh_segments(text):
        previous_end = 0
        for start, end, phrase in zh_matches(clause, _ZH_PHRASES):
            # The window stops at the previous hit, so "解决了，不满意" does not negate twice.
            window = clause[max(previous_end, start - ZH_WINDOW) : start]
            previous_end = end
            weight = lexicon.ZH_SENTIMENT[phrase] * _zh_modifier(window)
            negated = zh_negated(window)
            if negated:
                weight *= NEGATION_FACTOR
            weight *= clause_weight
            hits.append(Hit(phrase, round(weight, 3), negated))
            total += weight
    total *= 1.0 + 0.1 * min(text.count("！") + text.count("!"), 3)
    return _result(total, hits)


# --- English -------------------------------------------------------------------------------------------------------
_EN_PHRASES = tuple(
    sorted(((tuple(p.split()), p) for p in lexicon.EN_SENTIMENT), key=lambda item: len(item[0]), reverse=True)
)


def en_matches(tokens: list[str], phrases) -> list[tuple[int, int, str]]:
    """Non-overlapping token-span hits, left to right, the longest phrase at each position winning."""
    index = _first_token_index(tuple(phrases))
    found = []
    position = 0
    while position < len(tokens):
        for words, phrase in index.get(tokens[position], ()):
            size = len(words)
            if tuple(tokens[position : position + size]) == words:
                found.append((position, position + size, phrase))
                position += size
                break
        else:
            position += 1
    return found


@cache
def _first_token_index(phrases: tuple) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    index: dict[str, list] = {}
    for words, phrase in sorted(phrases, key=lambda item: len(item[0]), reverse=True):
        index.setdefault(words[0], []).append((words, phrase))
    return index


def en_negated(window: list[str]) -> bool:
    if "not" in window and ("only" in window or "stop" in window):  # "not only ... but also", "could not stop"
        return False
    return any(token in lexicon.EN_NEGATORS for token in window) or "longer" in window and "no" in window


def _en_modifier(window: list[str]) -> float:
    factor = 1.0
    for token in window:
        if token in lexicon.EN_INTENSIFIERS:
            factor = max(factor, lexicon.EN_INTENSIFIERS[token])
        if token in lexicon.EN_DIMINISHERS:
            factor = min(factor, lexicon.EN_DIMINISHERS[token])
    return factor


def _en_segments(text: str) -> list[tuple[list[str], float]]:
    segments: list[tuple[list[str], float]] = []
    concession = False  # the previous clause began with "although": this one is the main statement
    for tokens in en_clauses(text):
        if tokens[0] in lexicon.EN_CONCESSION or tokens[:2] == ["even", "though"]:
            segments.append((tokens, CONTRAST_BEFORE))
            concession = True
            continue
        cut = next((i for i, token in enumerate(tokens) if token in lexicon.EN_CONTRAST), None)
        if cut is None:
            segments.append((tokens, CONTRAST_AFTER if concession else 1.0))
        elif cut == 0:
            if segments:
                segments[-1] = (segments[-1][0], segments[-1][1] * CONTRAST_BEFORE)
            segments.append((tokens[1:], CONTRAST_AFTER))
        else:
            segments.append((tokens[:cut], CONTRAST_BEFORE))
            segments.append((tokens[cut + 1 :], CONTRAST_AFTER))
        concession = False
    return segments


def en_sentiment(text: str) -> SentimentResult:
    total = 0.0
    hits: list[Hit] = []
    for tokens, clause_weight in _en_segments(text):
        previous_end = 0
        for start, end, phrase in en_matches(tokens, _EN_PHRASES):
            window = tokens[max(previous_end, start - EN_WINDOW) : start]
            previous_end = end
            weight = lexicon.EN_SENTIMENT[phrase] * _en_modifier(window)
            negated = en_negated(window)
            if negated:
                weight *= NEGATION_FACTOR
            weight *= clause_weight
            hits.append(Hit(phrase, round(weight, 3), negated))
            total += weight
    total *= 1.0 + 0.1 * min(text.count("!"), 3)
    return _result(total, hits)


def sentiment(text: str, language: str) -> SentimentResult:
    return zh_sentiment(text) if language == "zh" else en_sentiment(text)

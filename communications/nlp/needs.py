"""Need recognition: tags (upsell interest, renewal risk, complaint, training request, ...) with their evidence."""

from __future__ import annotations

from communications.nlp import lexicon
from communications.nlp.sentiment import EN_WINDOW, ZH_WINDOW, en_matches, en_negated, zh_matches, zh_negated
from communications.nlp.text import en_clauses, zh_clauses

# phrase -> tags, longest first (a phrase may reveal several needs: "升级投诉" is a complaint and an escalation).
_ZH: dict[str, list[str]] = {}
_EN: dict[str, list[str]] = {}
for _tag, _phrases in lexicon.NEED_PHRASES.items():
    for _phrase in _phrases["zh"]:
        _ZH.setdefault(_phrase, []).append(_tag)
    for _phrase in _phrases["en"]:
        _EN.setdefault(_phrase, []).append(_tag)
# Sentiment-lexicon phrases containing a need phrase also join the match, so "不满意" wins over "满意"-like
# fragments and "not renew" over "renew".
_ZH_ORDER = tuple(sorted(_ZH, key=len, reverse=True))
_EN_ORDER = tuple(sorted(((tuple(p.split()), p) for p in _EN), key=lambda item: len(item[0]), reverse=True))


def _add(found: list[dict], seen: set[str], tag: str, evidence: str) -> None:
    if tag not in seen:
        seen.add(tag)
        found.append({"tag": tag, "evidence": evidence})


def _negated_turn(tag: str) -> str | None:
    """What a negated need becomes: a negated renewal intent is a renewal risk; others vanish."""
    if tag == "renewal_intent":
        return "renewal_risk"
    return None if tag in lexicon.NEGATABLE_NEEDS else tag


def zh_needs(text: str) -> list[dict]:
    found: list[dict] = []
    seen: set[str] = set()
    for clause in zh_clauses(text):
        previous_end = 0
        for start, end, phrase in zh_matches(clause, _ZH_ORDER):
            window = clause[max(previous_end, start - ZH_WINDOW) : start]
            previous_end = end
            negated = zh_negated(window)
            for tag in _ZH[phrase]:
                final = _negated_turn(tag) if negated else tag
                if final:
                    _add(found, seen, final, (window[-2:] if negated else "") + phrase)
    return found


def en_needs(text: str) -> list[dict]:
    found: list[dict] = []
    seen: set[str] = set()
    for tokens in en_clauses(text):
        previous_end = 0
        for start, end, phrase in en_matches(tokens, _EN_ORDER):
            window = tokens[max(previous_end, start - EN_WINDOW) : start]
            previous_end = end
            negated = en_negated(window)
            for tag in _EN[phrase]:
                final = _negated_turn(tag) if negated else tag
                if final:
                    evidence = " ".join([*window[-2:], phrase]) if negated else phrase
                    _add(found, seen, final, evidence)
    return found


def needs(text: str, language: str) -> list[dict]:
    return zh_needs(text) if language == "zh" else en_needs(text)

"""The offline analyser on the labelled notes (held-out accuracy), negation, intensity, keywords and needs."""

import pytest

from communications import nlp
from communications.nlp.evaluation import LABELLED, evaluate, load_notes
from communications.nlp.keywords import en_keywords, zh_keywords

NEG, NEU, POS = 1, 2, 3
LABELLED_DIR = LABELLED.parent


def test_labelled_set_is_large_bilingual_and_balanced():
    notes = load_notes()
    assert len(notes) >= 200
    for language in ("zh", "en"):
        labels = [n.label for n in notes if n.language == language]
        assert {labels.count(NEG), labels.count(NEU), labels.count(POS)} == {42}
    assert len(load_notes("heldout")) >= 60


def test_sentiment_accuracy_on_the_held_out_notes_is_at_least_90_percent():
    result = evaluate(load_notes("heldout"))
    assert result["accuracy"] >= 0.90, [(n.id, n.text, p) for n, p in result["misses"]]


def test_no_negative_note_of_the_held_out_set_is_read_as_positive_or_vice_versa():
    matrix = evaluate(load_notes("heldout"))["matrix"]
    assert matrix[NEG - 1][POS - 1] == 0
    assert matrix[POS - 1][NEG - 1] <= 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客户对这次处理不满意", NEG),
        ("客户对这次处理满意", POS),
        ("修复后一个月没有再出现故障，客户放心了", POS),
        ("系统还是不稳定", NEG),
        ("The customer is not happy with the response time.", NEG),
        ("The customer is happy with the response time.", POS),
        ("No issues since the patch, no further outages.", POS),
        ("They will not renew the contract.", NEG),
        ("他们明确说不续约了", NEG),
    ],
)
def test_negation_flips_the_sentiment(text, expected):
    assert nlp.analyze(text).sentiment == expected


def test_intensity_strengthens_the_score():
    assert nlp.analyze("客户非常满意").score > nlp.analyze("客户满意").score > 0
    assert nlp.analyze("extremely disappointed").score < nlp.analyze("slightly disappointed").score < 0


def test_contrast_counts_the_main_clause_more():
    assert nlp.analyze("虽然上周有一次中断，但是处理及时，客户整体很满意").sentiment == POS
    assert nlp.analyze("The fix was quick, but they are still unhappy about the outage.").sentiment == NEG


def test_score_stays_within_minus_one_and_one():
    very_negative = "宕机！" * 500
    assert -1 <= nlp.analyze(very_negative).score <= 1
    assert nlp.analyze("").score == 0


def test_language_is_detected():
    assert nlp.analyze("服务器宕机").language == "zh"
    assert nlp.analyze("The server is down").language == "en"
    assert nlp.analyze("VPN 和 SLA 都有问题，客户投诉").language == "zh"


def test_chinese_keywords_use_the_it_operations_dictionary():
    words = zh_keywords("客户的负载均衡配置错误导致业务中断，要求我们做根因分析并提交整改方案。")
    assert "负载均衡" in words
    assert "根因分析" in words
    assert "我们" not in words  # stop word


def test_english_keywords_skip_stop_words_and_rank_repeated_terms():
    words = en_keywords(
        "The firewall change broke the VPN. The VPN was down for an hour and the firewall rule was reverted."
    )
    assert words[:2] == ["firewall", "vpn"] or set(words[:2]) == {"firewall", "vpn"}
    assert "the" not in words


@pytest.mark.parametrize(
    ("text", "tag", "evidence"),
    [
        ("客户计划下半年扩容，请我们出报价", "upsell_interest", "扩容"),
        ("对方说明年不续约了", "renewal_risk", "不续约"),
        ("They will not renew next year", "renewal_risk", "not renew"),
        ("客户投诉驻场工程师迟到", "complaint", "投诉"),
        ("They asked for a training session for the new ops staff", "training_request", "training"),
        ("客户希望安排一次新平台的培训", "training_request", "培训"),
        ("If it happens again they will escalate to our CEO", "escalation", "escalate"),
        ("They want to add more licenses next quarter", "upsell_interest", "add more"),
    ],
)
def test_needs_are_recognised_with_their_evidence(text, tag, evidence):
    needs = nlp.analyze(text).needs
    assert {"tag": tag, "evidence": evidence} in needs, needs


def test_a_negated_need_is_not_reported():
    tags = [need["tag"] for need in nlp.analyze("客户没有投诉，也不需要培训").needs]
    assert "complaint" not in tags
    assert "training_request" not in tags
    tags = [need["tag"] for need in nlp.analyze("Since the fix there has been no outage").needs]
    assert "service_issue" not in tags


def test_keywords_find_the_expected_topics_of_annotated_notes():
    notes = {note.id: note for note in load_notes()}
    expected_total = found = 0
    missed = []
    for line in (LABELLED_DIR / "keywords_expected.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        note_id, terms = line.split("\t")
        note = notes[note_id]
        words = nlp.analyze(note.text).keywords
        for term in terms.split(","):
            expected_total += 1
            if term in words:
                found += 1
            else:
                missed.append((note_id, term, words))
    assert found / expected_total >= 0.9, missed

"""Accuracy and latency of the communications analyser (figures for docs/nlp.md and docs/performance.md).

Usage: .venv/bin/python bench/bench_nlp.py
Prints: jieba's cold load; sentiment accuracy and confusion matrix on the dev and held-out splits of
communications/tests/data/labelled_notes.tsv; per-note latency of the full analysis (language, sentiment,
keywords, needs) over every distinct note, and for a long (5,000-character) note; a TF-IDF vs TextRank timing.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from communications import nlp  # noqa: E402
from communications.nlp.evaluation import evaluate, load_notes  # noqa: E402
from communications.nlp.keywords import zh_keywords  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    started = time.perf_counter()
    nlp.warm()
    print(f"jieba dictionary load (cold, once per process): {ms(time.perf_counter() - started)}")

    names = {1: "neg", 2: "neu", 3: "pos"}
    for split in ("dev", "heldout"):
        result = evaluate(load_notes(split))
        print(f"\n{split}: n={result['n']} accuracy={result['accuracy']:.1%}")
        print("truth \\ predicted   neg  neu  pos")
        for index, row in enumerate(result["matrix"]):
            print(f"{names[index + 1]:>17}  " + "  ".join(f"{value:>3}" for value in row))
        for note, predicted in result["misses"]:
            print(f"  miss {note.id}: {names[note.label]} -> {names[predicted]}  {note.text}")

    notes = load_notes()
    timings = []
    for note in notes:  # every note once: distinct texts, no cache effects
        started = time.perf_counter()
        nlp.analyze(note.text)
        timings.append(time.perf_counter() - started)
    timings.sort()
    print(
        f"\nfull analysis per note (n={len(timings)}): median {ms(statistics.median(timings))}, "
        f"p95 {ms(timings[int(len(timings) * 0.95) - 1])}, max {ms(timings[-1])}"
    )
    long_zh = "".join(n.text for n in notes if n.language == "zh")[:5000]
    long_en = " ".join(n.text for n in notes if n.language == "en")[:5000]
    for label, text in (("5,000-char Chinese note", long_zh), ("5,000-char English note", long_en)):
        started = time.perf_counter()
        nlp.analyze(text)
        print(f"{label}: {ms(time.perf_counter() - started)}")
    zh_notes = [n.text for n in notes if n.language == "zh"]
    for method in ("tfidf", "textrank"):
        started = time.perf_counter()
        for text in zh_notes:
            zh_keywords(text, method=method)
        print(f"Chinese keywords, {method}: {ms((time.perf_counter() - started) / len(zh_notes))} per note")


if __name__ == "__main__":
    main()

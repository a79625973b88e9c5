"""Measure the analyser on the labelled notes (tests and `bench/bench_nlp.py` use this)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from communications.nlp.sentiment import NEGATIVE, NEUTRAL, POSITIVE, sentiment
from communications.nlp.text import detect_language

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "labelled_notes.tsv"
LABELS = {"neg": NEGATIVE, "neu": NEUTRAL, "pos": POSITIVE}


@dataclass(frozen=True)
class Note:
    id: str
    language: str
    label: int
    split: str
    text: str


def load_notes(split: str | None = None) -> list[Note]:
    notes = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        note_id, language, label, note_split, text = line.split("\t")
        if split is None or note_split == split:
            notes.append(Note(note_id, language, LABELS[label], note_split, text))
    return notes


def evaluate(notes: list[Note], predict=None) -> dict:
    """Accuracy, a 3x3 confusion matrix (rows: truth neg/neu/pos; columns: predicted) and the misses."""
    predict = predict or (lambda text: sentiment(text, detect_language(text)).sentiment)
    matrix = [[0, 0, 0] for _ in range(3)]
    misses = []
    for note in notes:
        predicted = predict(note.text)
        matrix[note.label - 1][predicted - 1] += 1
        if predicted != note.label:
            misses.append((note, predicted))
    correct = sum(matrix[i][i] for i in range(3))
    return {"n": len(notes), "accuracy": correct / len(notes) if notes else 0.0, "matrix": matrix, "misses": misses}

"""Candidate sentiment methods compared on the labelled notes (figures for docs/nlp.md).

Usage: .venv/bin/python bench/bench_nlp_models.py   (needs scikit-learn, pinned in requirements-dev.txt)
Candidates: the lexicon with rules (what the product uses); char n-gram TF-IDF + logistic regression trained on
the dev notes; the same model with the lexicon score as an extra feature. Dev figures for the model are 5-fold
cross-validated (the lexicon's dev figure is biased: it was tuned there); held-out figures are for information,
the choice was not made on them.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from scipy.sparse import csr_matrix, hstack  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from communications.nlp.evaluation import evaluate, load_notes  # noqa: E402
from communications.nlp.sentiment import sentiment  # noqa: E402
from communications.nlp.text import detect_language  # noqa: E402


def lexicon_score(texts):
    return csr_matrix(np.array([[sentiment(t, detect_language(t)).score * 3] for t in texts]))


class Model:
    def __init__(self, with_lexicon: bool):
        self.with_lexicon = with_lexicon
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        self.classifier = LogisticRegression(max_iter=2000, C=10)

    def features(self, texts, fit=False):
        matrix = self.vectorizer.fit_transform(texts) if fit else self.vectorizer.transform(texts)
        return hstack([matrix, lexicon_score(texts)]).tocsr() if self.with_lexicon else matrix

    def fit(self, texts, labels):
        self.classifier.fit(self.features(texts, fit=True), labels)
        return self

    def predict(self, text):
        return int(self.classifier.predict(self.features([text]))[0])


def cross_validated(notes, with_lexicon: bool) -> float:
    texts = np.array([n.text for n in notes])
    labels = np.array([n.label for n in notes])
    correct = 0
    for train, test in StratifiedKFold(n_splits=5, shuffle=True, random_state=7).split(texts, labels):
        model = Model(with_lexicon).fit(list(texts[train]), labels[train])
        correct += sum(model.predict(t) == y for t, y in zip(texts[test], labels[test], strict=True))
    return correct / len(notes)


def main() -> None:
    dev, heldout = load_notes("dev"), load_notes("heldout")
    print(
        f"lexicon + rules: dev {evaluate(dev)['accuracy']:.1%} (tuned there), "
        f"held-out {evaluate(heldout)['accuracy']:.1%}"
    )
    for with_lexicon, name in ((False, "char n-gram TF-IDF + LR"), (True, "char n-gram TF-IDF + LR + lexicon score")):
        cv = cross_validated(dev, with_lexicon)
        model = Model(with_lexicon).fit([n.text for n in dev], [n.label for n in dev])
        result = evaluate(heldout, predict=model.predict)
        started = time.perf_counter()
        for note in heldout:
            model.predict(note.text)
        per_note = (time.perf_counter() - started) / len(heldout) * 1000
        print(
            f"{name}: dev 5-fold CV {cv:.1%}, held-out {result['accuracy']:.1%} {result['matrix']}, "
            f"{per_note:.2f} ms/note"
        )


if __name__ == "__main__":
    main()

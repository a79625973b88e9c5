"""`manage.py churn_eval --csv FILE --label COLUMN [--positive VALUE] [--id-column COL]`

Trains and evaluates the churn pipeline (imputation, scaling / one-hot, classifier chosen by out-of-fold ROC AUC,
calibrated probabilities, threshold for recall >= 0.75) with stratified 5-fold cross-validation on any CSV and
prints one JSON object: accuracy, precision, recall, roc_auc, threshold, n_rows (and the chosen model).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from sklearn.model_selection import StratifiedKFold

from health import ml


class Command(BaseCommand):
    help = "Cross-validate the churn pipeline on a CSV and print the metrics as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--csv", required=True)
        parser.add_argument("--label", required=True)
        parser.add_argument("--positive", default=None, help="label value meaning 'churned' (default: 1/true/yes)")
        parser.add_argument("--id-column", default=None)
        parser.add_argument("--folds", type=int, default=5)

    def handle(self, *args, **options):
        try:
            frame = pd.read_csv(options["csv"], dtype=str, keep_default_na=True, skipinitialspace=True)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {options['csv']}: {exc}") from exc
        label_column = options["label"]
        if label_column not in frame.columns:
            raise CommandError(f"no column {label_column!r} in the CSV")
        frame = frame[frame[label_column].notna()]
        raw = frame[label_column].astype(str).str.strip()
        if options["positive"] is not None:
            y = (raw == str(options["positive"])).astype(int).to_numpy()
        else:
            y = raw.str.lower().isin({"1", "1.0", "true", "yes", "y", "churned", "lost"}).astype(int).to_numpy()
        if len(set(y.tolist())) < 2:
            raise CommandError("the label has a single value: nothing to learn")
        drop = [label_column] + ([options["id_column"]] if options["id_column"] else [])
        X = frame.drop(columns=[c for c in drop if c in frame.columns]).reset_index(drop=True)
        numeric, categorical = ml.split_columns(X)
        for column in numeric:
            X[column] = pd.to_numeric(X[column], errors="coerce")
        folds = min(options["folds"], int(np.bincount(y).min()))
        if folds < 2:
            raise CommandError("too few rows of the rarer class for cross-validation")
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        best = None
        for name, classifier in ml.candidates().items():
            proba = np.zeros(len(y))
            for train_idx, test_idx in splitter.split(X, y):
                pipeline = ml.build(numeric, categorical, classifier)
                pipeline.fit(X.iloc[train_idx], y[train_idx])
                proba[test_idx] = pipeline.predict_proba(X.iloc[test_idx])[:, 1]
            auc = ml.metrics(y, proba, 0.5)["roc_auc"] or 0
            if best is None or auc > best[0]:
                best = (auc, name, proba)
        _auc, name, proba = best
        threshold = ml.choose_threshold(y, proba)
        result = ml.metrics(y, proba, threshold)
        result.update({"n_rows": int(len(y)), "model": name, "folds": folds})
        self.stdout.write(json.dumps(result))

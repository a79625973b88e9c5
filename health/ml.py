"""The churn pipeline: imputation, scaling / one-hot encoding, a classifier chosen by validation, calibrated
probabilities, and a threshold chosen for recall >= 0.75. Shared by the per-tenant training (churn.py) and
`manage.py churn_eval` (any CSV)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET_RECALL = 0.75


def candidates(seed: int = 0) -> dict:
    return {
        "logistic_regression": LogisticRegression(max_iter=2000, class_weight="balanced"),
        "random_forest": RandomForestClassifier(
            n_estimators=150, min_samples_leaf=5, class_weight="balanced", random_state=seed, n_jobs=1
        ),
        "gradient_boosting": HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, random_state=seed),
    }


def build(numeric: list[str], categorical: list[str], classifier, *, calibrate: bool = True) -> Pipeline:
    steps = []
    if numeric:
        steps.append(
            (
                "num",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())]
                ),
                numeric,
            )
        )
    if categorical:
        steps.append(
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="(blank)")),
                        (
                            "onehot",
                            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False),
                        ),
                    ]
                ),
                categorical,
            )
        )
    model = CalibratedClassifierCV(classifier, cv=3, method="sigmoid") if calibrate else classifier
    return Pipeline([("prepare", ColumnTransformer(steps)), ("model", model)])


def choose_threshold(y_true, proba, target_recall: float = TARGET_RECALL) -> float:
    """The highest threshold whose recall reaches the target (fewest false alarms at that recall)."""
    y_true = np.asarray(y_true)
    positives = proba[y_true == 1]
    if len(positives) == 0:
        return 0.5
    # recall(t) = share of positives with proba >= t; take the (1 - target) quantile of the positives.
    threshold = float(np.quantile(positives, 1 - target_recall, method="lower"))
    return max(min(threshold, 0.999), 0.001)


def metrics(y_true, proba, threshold: float) -> dict:
    y_true = np.asarray(y_true)
    predicted = (proba >= threshold).astype(int)
    both = len(set(y_true.tolist())) > 1
    return {
        "accuracy": round(float(accuracy_score(y_true, predicted)), 4),
        "precision": round(float(precision_score(y_true, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(y_true, predicted, zero_division=0)), 4),
        "roc_auc": round(float(roc_auc_score(y_true, proba)), 4) if both else None,
        "threshold": round(float(threshold), 4),
    }


def split_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Numeric columns (numbers once blanks are ignored) and categorical ones (the rest)."""
    numeric, categorical = [], []
    for column in frame.columns:
        values = frame[column]
        converted = pd.to_numeric(values, errors="coerce")
        if values.notna().sum() and converted.notna().sum() >= values.notna().sum() * 0.95:
            numeric.append(column)
        else:
            categorical.append(column)
    return numeric, categorical

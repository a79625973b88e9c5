"""Backtest: how well the score (with given weights) and the active model rank the customers who churned.

Uses the same history snapshots as training (features as of each snapshot, label = lost or not renewed within
90 days after it) over the last year. For the model the figures are partly in-sample (it was trained on older
snapshots of the same history): the page says so.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from sklearn.metrics import roc_auc_score

from health import churn, scoring


def _precision_top_decile(labels: np.ndarray, risk: np.ndarray) -> float | None:
    if len(labels) == 0:
        return None
    n = max(1, int(round(len(labels) * 0.1)))
    order = np.argsort(-risk, kind="stable")[:n]
    return round(float(labels[order].mean()), 4)


def _auc(labels, risk) -> float | None:
    return round(float(roc_auc_score(labels, risk)), 4) if len(set(labels.tolist())) > 1 else None


def _score_figures(table, config: scoring.Config) -> dict:
    scores = scoring.score_frame(table, config)
    known = scores["overall"].notna().to_numpy()
    labels = table["label"].to_numpy()[known]
    risk = (100 - scores["overall"]).to_numpy()[known]
    return {
        "auc": _auc(labels, risk),
        "precision_top_decile": _precision_top_decile(labels, risk),
        "n": int(known.sum()),
    }


def _model_figures(table) -> dict | None:
    model = churn.active_model()
    if model is None:
        return None
    predicted = churn.predict(table.set_index("customer_id", drop=False), model, drivers=False)
    if predicted is None:
        return None
    proba = predicted[0].to_numpy()
    labels = table["label"].to_numpy()
    return {
        "version": model.version,
        "auc": _auc(labels, proba),
        "precision_top_decile": _precision_top_decile(labels, proba),
    }


def run(*, today: date, weights: dict | None = None, months: int = 12) -> dict:
    settings = churn.health_settings()
    table = churn.training_table(today, months=months)
    result = {
        "rows": len(table),
        "churned": int(table["label"].sum()) if len(table) else 0,
        "score": None,
        "model": None,
    }
    if table.empty:
        return result
    thresholds = (settings.low_risk_min, settings.medium_risk_min, settings.high_risk_min)
    result["score"] = _score_figures(table, scoring.Config(weights or settings.weights, thresholds))
    result["model"] = _model_figures(table)
    return result


def compare(*, today: date, proposed: dict, months: int = 12) -> dict:
    """The backtest of the saved weights next to proposed ones, on one history table (built once)."""
    settings = churn.health_settings()
    table = churn.training_table(today, months=months)
    result = {
        "rows": len(table),
        "churned": int(table["label"].sum()) if len(table) else 0,
        "current": None,
        "proposed": None,
        "model": None,
    }
    if table.empty:
        return result
    thresholds = (settings.low_risk_min, settings.medium_risk_min, settings.high_risk_min)
    result["current"] = _score_figures(table, scoring.Config(settings.weights, thresholds))
    result["proposed"] = _score_figures(table, scoring.Config(proposed, thresholds))
    result["model"] = _model_figures(table)
    return result

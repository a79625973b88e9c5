"""Per-tenant churn model: history snapshots, time-based split, registry, prediction with a rule fallback."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, timedelta

import joblib
import numpy as np
import pandas as pd
from django.db.models import Max
from django.utils import timezone
from sklearn.inspection import permutation_importance

from contracts.choices import ContractStatus
from contracts.models import Contract
from health import ml
from health.choices import ModelStatus
from health.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, load_inputs, moment
from health.models import ChurnModel, HealthSettings

logger = logging.getLogger(__name__)
LABEL_DAYS = 90
RECALL_MARGIN = 0.05
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES


def snapshot_dates(today: date, *, months: int = 15, step_days: int = 30) -> list[date]:
    """Snapshot days whose 90-day label window has fully passed, oldest first."""
    last = today - timedelta(days=LABEL_DAYS)
    return sorted(last - timedelta(days=step_days * i) for i in range(months))


def labels(snapshot: date, customer_ids) -> pd.Series:
    """1 when a contract running on the snapshot day ended or was terminated within the next 90 days and no
    renewal followed it ("lost or not renewed within 90 days"), else 0; only customers with a running contract."""
    window_end = snapshot + timedelta(days=LABEL_DAYS)
    rows = pd.DataFrame.from_records(
        list(
            Contract.objects.filter(
                customer_id__in=list(customer_ids), start_date__lte=snapshot, end_date__gte=snapshot
            )
            .exclude(status=ContractStatus.DRAFT)
            .exclude(terminated_at__lt=moment(snapshot))
            .values("customer_id", "end_date", "terminated_at", "successor__id")
            .order_by()
        )
    )
    if rows.empty:
        return pd.Series(dtype=int)
    ended_at = pd.to_datetime(rows["end_date"])
    terminated = pd.to_datetime(rows["terminated_at"], utc=True).dt.tz_localize(None).dt.normalize()
    ended_at = terminated.where(terminated.notna() & (terminated < ended_at), ended_at)
    in_window = (ended_at > pd.Timestamp(snapshot)) & (ended_at <= pd.Timestamp(window_end))
    lost = in_window & (rows["successor__id"].isna() | terminated.notna())
    return lost.groupby(rows["customer_id"]).max().astype(int)


def training_table(today: date, *, months: int = 15) -> pd.DataFrame:
    """Features as of each snapshot (only rows dated before it) joined to the label of the 90 days after."""
    frames = []
    for day in snapshot_dates(today, months=months):
        features = load_inputs(moment(day), include_lost=True)
        if features.empty:
            continue
        label = labels(day, features.index)
        if label.empty:
            continue
        table = features.loc[features.index.intersection(label.index), FEATURES].copy()
        table["label"] = label.reindex(table.index).values
        table["snapshot"] = day
        frames.append(table.reset_index())
    if not frames:
        return pd.DataFrame(columns=["customer_id", *FEATURES, "label", "snapshot"])
    return pd.concat(frames, ignore_index=True)


def time_split(table: pd.DataFrame, *, holdout: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Older snapshots train, the newest validate: nothing the model learns comes after what it is judged on."""
    days = sorted(table["snapshot"].unique())
    cut = days[max(1, int(len(days) * (1 - holdout)))] if len(days) > 1 else days[0]
    return table[table["snapshot"] < cut], table[table["snapshot"] >= cut]


@dataclass
class TrainResult:
    model: ChurnModel | None
    reason: str = ""


def train(*, today: date | None = None, months: int = 15, table: pd.DataFrame | None = None) -> TrainResult:
    """Train, validate and register a model for the active tenant; it becomes active only above the bar."""
    today = today or timezone.localdate()
    settings = health_settings()
    table = training_table(today, months=months) if table is None else table
    version = (ChurnModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    if len(table) < 40 or table["label"].nunique() < 2:
        return TrainResult(None, "not enough history (needs at least 40 snapshots with both outcomes)")
    train_part, valid_part = time_split(table)
    if train_part["label"].nunique() < 2 or valid_part["label"].nunique() < 2:
        return TrainResult(None, "the time split leaves one side with a single outcome")
    numeric = [c for c in NUMERIC_FEATURES if train_part[c].notna().any()]
    categorical = CATEGORICAL_FEATURES
    best = None
    for name, classifier in ml.candidates().items():
        pipeline = ml.build(numeric, categorical, classifier)
        pipeline.fit(train_part[numeric + categorical], train_part["label"])
        proba = pipeline.predict_proba(valid_part[numeric + categorical])[:, 1]
        auc = ml.metrics(valid_part["label"], proba, 0.5)["roc_auc"] or 0
        if best is None or auc > best[0]:
            best = (auc, name, pipeline, proba)
    _auc, name, pipeline, proba = best
    # Aim a little above the bar on validation so the recall holds on the next, unseen snapshots too.
    threshold = ml.choose_threshold(valid_part["label"], proba, ml.TARGET_RECALL + RECALL_MARGIN)
    figures = ml.metrics(valid_part["label"], proba, threshold)
    figures["positive_rate"] = round(float(table["label"].mean()), 4)
    # On at most 3,000 validation rows: the importances rank features, they need no more.
    sample = valid_part.sample(n=min(len(valid_part), 3000), random_state=0) if len(valid_part) > 3000 else valid_part
    if sample["label"].nunique() < 2:
        sample = valid_part
    importance = permutation_importance(
        pipeline, sample[numeric + categorical], sample["label"], scoring="roc_auc", n_repeats=3, random_state=0
    )
    importances = sorted(
        (
            {"feature": column, "importance": round(float(value), 4)}
            for column, value in zip(numeric + categorical, importance.importances_mean, strict=True)
        ),
        key=lambda item: -item["importance"],
    )
    good = (figures["recall"] >= float(settings.min_model_recall)) and (
        (figures["roc_auc"] or 0) >= float(settings.min_model_auc)
    )
    buffer = io.BytesIO()
    joblib.dump(
        {
            "pipeline": pipeline,
            "numeric": numeric,
            "categorical": categorical,
            "medians": train_part[numeric].median().to_dict(),
        },
        buffer,
    )
    if good:
        ChurnModel.objects.filter(status=ModelStatus.ACTIVE).update(status=ModelStatus.RETIRED)
    model = ChurnModel.objects.create(
        version=version,
        trained_at=timezone.now(),
        algorithm=name,
        status=ModelStatus.ACTIVE if good else ModelStatus.WEAK,
        features=numeric + categorical,
        metrics=figures,
        feature_importances=importances,
        threshold=round(threshold, 4),
        n_train=len(train_part),
        n_test=len(valid_part),
        artifact=buffer.getvalue(),
        notes="" if good else "below the bar: the rule-based estimate stays in use",
    )
    return TrainResult(model)


def health_settings() -> HealthSettings:
    settings = HealthSettings.objects.first()
    return settings if settings is not None else HealthSettings()


def active_model() -> ChurnModel | None:
    """The active model's row without its pickled artifact (fetched by `_load` only when this process has not
    unpickled that version yet)."""
    return ChurnModel.objects.filter(status=ModelStatus.ACTIVE).defer("artifact").order_by("-version").first()


_LOADED: dict[tuple[int, int, int], dict] = {}


def _load(model: ChurnModel) -> dict:
    """The unpickled pipeline, kept per process by (tenant, model id, version): a model row never changes once
    stored, so a calculate call reads and unpickles the artifact once per process and version."""
    key = (model.tenant_id, model.pk, model.version)
    if key not in _LOADED:
        if len(_LOADED) > 32:
            _LOADED.clear()
        artifact = ChurnModel.objects.filter(pk=model.pk).values_list("artifact", flat=True).first()
        _LOADED[key] = joblib.load(io.BytesIO(bytes(artifact)))
    return _LOADED[key]


def predict(frame: pd.DataFrame, model: ChurnModel | None, *, drivers: bool = True, top: int = 3):
    """(probabilities, drivers per customer) from the model, or None when it is missing or fails."""
    if model is None or frame.empty:
        return None
    try:
        loaded = _load(model)
        columns = loaded["numeric"] + loaded["categorical"]
        X = frame.reindex(columns=columns)
        pipeline = loaded["pipeline"]
        proba = pipeline.predict_proba(X)[:, 1]
        found = {}
        if drivers:
            found = _drivers(pipeline, loaded, X, proba, frame.index, model, top)
        return pd.Series(proba, index=frame.index), found
    except Exception:  # a broken model must never stop scoring: the rules take over
        logger.exception("churn model v%s failed; using the rule-based estimate", model.version)
        return None


def _drivers(pipeline, loaded, X, proba, index, model, top) -> dict:
    """The inputs that move each customer's probability most when set to the training median (the typical
    customer). All altered copies go through ONE predict call; in a batch only customers at or above the
    model's threshold get drivers (a single customer always does)."""
    medians = {c: v for c, v in loaded["medians"].items() if c in loaded["numeric"] and not pd.isna(v)}
    if not medians:
        return {}
    chosen = np.arange(len(X)) if len(X) == 1 else np.flatnonzero(proba >= float(model.threshold))
    found = {}
    for start in range(0, len(chosen), 2000):
        rows = chosen[start : start + 2000]
        base = X.iloc[rows]
        copies = []
        for column, median in medians.items():
            altered = base.copy()
            altered[column] = median
            copies.append(altered)
        moved = pipeline.predict_proba(pd.concat(copies, ignore_index=True))[:, 1].reshape(len(medians), len(rows))
        deltas = proba[rows][None, :] - moved  # (features, customers)
        columns = list(medians)
        for k, row in enumerate(rows):
            order = np.argsort(-np.abs(deltas[:, k]))[:top]
            found[index[row]] = [
                {
                    "feature": columns[j],
                    "value": _plain(X.iat[row, X.columns.get_loc(columns[j])]),
                    "direction": "raises" if deltas[j, k] > 0 else "lowers",
                    "impact": round(float(deltas[j, k]), 4),
                }
                for j in order
                if abs(deltas[j, k]) >= 0.005
            ]
    return found


def _plain(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.floating, float)):
        return round(float(value), 3)
    if isinstance(value, np.integer):
        return int(value)
    return value

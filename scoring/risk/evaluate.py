"""Evaluating the risk model honestly: out-of-fold predictions, bootstrap intervals, calibration,
operating points at the tier thresholds, and the same numbers per group (fairness).

Every sitting is predicted by a model that never saw it (``StratifiedKFold`` with shuffling, a fresh
:func:`scoring.risk.train.build` per fold); all the metrics are computed on those out-of-fold
predictions. The report is a JSON-ready dict which the model card renders. No Django import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from scoring.risk.train import Kind, TrainConfig, build, check_enough, labels, predict

BOOTSTRAP_RESAMPLES = 1000
CALIBRATION_BINS = 10
ROC_POINTS = 101
#: A group is flagged when its sensitivity at the lowest tier threshold is more than this below the cohort's.
SENSITIVITY_GAP = 0.05

Splits = list[tuple[np.ndarray, np.ndarray]]


def splits(y: Any, folds: int, seed: int) -> Splits:
    """The (train, test) index pairs of ``StratifiedKFold(folds, shuffle=True, random_state=seed)``."""
    target = labels(y)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, test) for train, test in cv.split(np.zeros((target.size, 1)), target)]


def out_of_fold(X: Any, y: Any, kind: Kind, seed: int, folds: Splits) -> np.ndarray:
    """Each row's predicted probability from a fresh model of ``kind`` trained on the other folds."""
    matrix = np.asarray(X, dtype=float)
    target = labels(y)
    oof = np.full(target.size, np.nan)
    for train, test in folds:
        model = build(kind, seed)
        model.fit(matrix[train], target[train])
        oof[test] = predict(model, matrix[test])
    if np.isnan(oof).any():
        raise ValueError("the folds did not cover every row")
    return oof


# --- ranking metrics, weighted so that one pass serves the point estimate and the bootstrap -----------


def _ranking_metrics(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC and average precision (the PR AUC of scikit-learn's ``average_precision_score``, ties
    handled the same way) for each row of ``weights`` (shape ``(r, n)``; a bootstrap resample is a
    row of counts). NaN where a resample has no positives or no negatives."""
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order].astype(bool)
    ends = np.r_[np.flatnonzero(np.diff(ps) != 0), ps.size - 1]  # last index of each tie group
    w = weights[:, order]
    tp = np.cumsum(np.where(ys, w, 0.0), axis=1)[:, ends]
    fp = np.cumsum(np.where(ys, 0.0, w), axis=1)[:, ends]
    pos, neg = tp[:, -1:], fp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr, fpr = tp / pos, fp / neg
        tpr0 = np.concatenate([np.zeros((w.shape[0], 1)), tpr], axis=1)
        fpr0 = np.concatenate([np.zeros((w.shape[0], 1)), fpr], axis=1)
        auc = np.sum(np.diff(fpr0, axis=1) * (tpr0[:, 1:] + tpr0[:, :-1]) / 2.0, axis=1)
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        ap = np.sum(np.diff(tpr0, axis=1) * precision, axis=1)
    bad = (pos[:, 0] == 0) | (neg[:, 0] == 0)
    auc[bad] = np.nan
    ap[bad] = np.nan
    return auc, ap


def roc_auc(y: Any, p: Any) -> float | None:
    """ROC AUC of probabilities ``p`` against 0/1 ``y``; None when ``y`` lacks either class."""
    target, scores = labels(y), np.asarray(p, dtype=float)
    if target.size == 0 or target.min() == target.max():
        return None
    auc, _ap = _ranking_metrics(target, scores, np.ones((1, target.size)))
    return float(auc[0])


def _interval(value: float, boot: np.ndarray) -> dict[str, float]:
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return {"value": float(value), "low": float(low), "high": float(high)}


def bootstrap(y: np.ndarray, p: np.ndarray, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """ROC AUC and PR AUC (average precision) with 95% percentile bootstrap intervals: ``resamples``
    resamples of the rows with replacement, drawn from ``numpy.random.default_rng(seed)``; processed
    in chunks so memory stays near 2 million cells per array."""
    n = y.size
    auc, ap = _ranking_metrics(y, p, np.ones((1, n)))
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, 2_000_000 // max(n, 1)))
    aucs, aps = [], []
    done = 0
    while done < resamples:
        r = min(chunk, resamples - done)
        idx = rng.integers(0, n, size=(r, n)) + (np.arange(r) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=r * n).reshape(r, n).astype(float)
        a, b = _ranking_metrics(y, p, counts)
        aucs.append(a)
        aps.append(b)
        done += r
    return {"roc_auc": _interval(auc[0], np.concatenate(aucs)), "pr_auc": _interval(ap[0], np.concatenate(aps))}


# --- calibration, curve, operating points -------------------------------------------------------------


def calibration(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
    """Deciles of predicted probability (equal-count bins of the rows sorted by prediction; ties may
    straddle a boundary): mean predicted vs observed rate per bin. Empty bins are left out."""
    order = np.argsort(p, kind="mergesort")
    out: list[dict[str, Any]] = []
    for number, part in enumerate(np.array_split(order, bins), start=1):
        if part.size:
            out.append(
                {
                    "bin": number,
                    "predicted": float(p[part].mean()),
                    "observed": float(y[part].mean()),
                    "count": int(part.size),
                }
            )
    return out


def calibration_error(table: Sequence[Mapping[str, Any]]) -> float:
    """Expected calibration error: the count-weighted mean of |predicted − observed| over the bins."""
    total = sum(int(row["count"]) for row in table)
    if not total:
        return 0.0
    return float(sum(row["count"] * abs(row["predicted"] - row["observed"]) for row in table) / total)


def roc_curve(y: np.ndarray, p: np.ndarray, points: int = ROC_POINTS) -> list[list[float]]:
    """The ROC curve as ``[fpr, tpr]`` pairs from (0, 0) to (1, 1): the real operating points (one per
    distinct predicted value), thinned to at most ``points`` evenly spaced along the list."""
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order].astype(bool)
    ends = np.r_[np.flatnonzero(np.diff(ps) != 0), ps.size - 1]
    tp = np.cumsum(ys)[ends].astype(float)
    fp = np.cumsum(~ys)[ends].astype(float)
    tpr = np.r_[0.0, tp / max(tp[-1], 1.0)]
    fpr = np.r_[0.0, fp / max(fp[-1], 1.0)]
    if tpr.size > points:
        keep = np.unique(np.round(np.linspace(0, tpr.size - 1, points)).astype(int))
        tpr, fpr = tpr[keep], fpr[keep]
    return [[round(float(a), 6), round(float(b), 6)] for a, b in zip(fpr, tpr, strict=True)]


def _rates(y: np.ndarray, flagged: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """Sensitivity, specificity, PPV of ``flagged`` against ``y``; None where undefined."""
    positives = int(y.sum())
    negatives = int(y.size - positives)
    tp = int(np.count_nonzero(flagged & (y == 1)))
    fp = int(np.count_nonzero(flagged & (y == 0)))
    sensitivity = tp / positives if positives else None
    specificity = (negatives - fp) / negatives if negatives else None
    ppv = tp / (tp + fp) if tp + fp else None
    return sensitivity, specificity, ppv


def operating_points(y: np.ndarray, p: np.ndarray, thresholds: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    """Per tier: sensitivity, specificity, PPV (None if nothing is flagged) and the share of sittings
    flagged when the model points to that tier at probability ≥ threshold."""
    out: list[dict[str, Any]] = []
    for tier, threshold in thresholds:
        flagged = p >= threshold
        sensitivity, specificity, ppv = _rates(y, flagged)
        out.append(
            {
                "tier": tier,
                "threshold": float(threshold),
                "sensitivity": sensitivity,
                "specificity": specificity,
                "ppv": ppv,
                "flagged_share": float(flagged.mean()) if y.size else 0.0,
            }
        )
    return out


def group_report(
    y: np.ndarray, p: np.ndarray, groups: Mapping[str, Any], threshold: float
) -> dict[str, list[dict[str, Any]]]:
    """Per group variable and value (values as strings, sorted): n, positives, ROC AUC, and
    sensitivity / specificity / PPV at ``threshold`` (the lowest tier's). ``flagged`` is True when the
    value's sensitivity is more than ``SENSITIVITY_GAP`` below the whole cohort's at that threshold.
    Metrics are None where undefined (ROC AUC and sensitivity without positives, ROC AUC and
    specificity without negatives, PPV with nothing flagged); a value with no positives has no
    sensitivity and so is never flagged, whatever its other numbers. Small groups are reported as
    they are: read their numbers (and the flag) with their ``n`` in mind."""
    flagged_all = p >= threshold
    cohort_sensitivity, _spec, _ppv = _rates(y, flagged_all)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, raw in groups.items():
        values = np.asarray(raw, dtype=object)
        if values.shape != y.shape:
            raise ValueError(f"group {name!r} has {values.size} values for {y.size} rows")
        as_text = np.array([str(v) for v in values], dtype=object)
        rows: list[dict[str, Any]] = []
        for value in sorted(set(as_text.tolist())):
            mask = as_text == value
            gy, gp = y[mask], p[mask]
            sensitivity, specificity, ppv = _rates(gy, flagged_all[mask])
            rows.append(
                {
                    "value": value,
                    "n": int(mask.sum()),
                    "positives": int(gy.sum()),
                    "roc_auc": roc_auc(gy, gp),
                    "sensitivity": sensitivity,
                    "specificity": specificity,
                    "ppv": ppv,
                    "flagged": bool(
                        sensitivity is not None
                        and cohort_sensitivity is not None
                        and sensitivity < cohort_sensitivity - SENSITIVITY_GAP
                    ),
                }
            )
        out[str(name)] = rows
    return out


def report(
    kind: Kind,
    y: Any,
    p: Any,
    groups: Mapping[str, Any],
    thresholds: Sequence[tuple[str, float]],
    folds: int,
    seed: int,
) -> dict[str, Any]:
    """The JSON-ready evaluation of out-of-fold probabilities ``p`` (see :func:`evaluate` for keys)."""
    target = labels(y)
    probs = np.asarray(p, dtype=float)
    if probs.shape != target.shape:
        raise ValueError(f"{probs.size} predictions for {target.size} labels")
    ranked = bootstrap(target, probs, seed)
    table = calibration(target, probs)
    lowest = min(t for _tier, t in thresholds)
    return {
        "model": kind,
        "n": int(target.size),
        "positives": int(target.sum()),
        "folds": int(folds),
        "roc_auc": ranked["roc_auc"],
        "pr_auc": ranked["pr_auc"],
        "brier": float(np.mean((probs - target) ** 2)),
        "calibration": table,
        "calibration_error": calibration_error(table),
        "roc_curve": roc_curve(target, probs),
        "thresholds": operating_points(target, probs, thresholds),
        "groups": group_report(target, probs, groups, lowest),
    }


def evaluate(X: Any, y: Any, groups: Mapping[str, Any], config: TrainConfig | None = None) -> dict[str, Any]:
    """Cross-validated evaluation of ``config.kind`` on ``(X, y)``.

    Out-of-fold predictions come from ``StratifiedKFold(config.folds, shuffle=True,
    random_state=config.seed)``, a fresh :func:`~scoring.risk.train.build` per fold. Raises
    :class:`~scoring.risk.train.TooFewLabels` if the labels are too few. ``groups`` maps a group
    variable's name (e.g. ``"gender"``) to one value per row.

    Returns a JSON-ready dict with exactly these keys:

    * ``model``, ``n``, ``positives``, ``folds``;
    * ``roc_auc``, ``pr_auc`` (average precision): ``{"value", "low", "high"}``, 95% percentile
      bootstrap intervals over 1000 seeded resamples of the out-of-fold predictions;
    * ``brier``; ``calibration``: deciles of predicted probability, ``{"bin" 1..10, "predicted",
      "observed", "count"}``; ``calibration_error``: the count-weighted mean |predicted − observed|;
    * ``roc_curve``: at most 101 ``[fpr, tpr]`` points from (0, 0) to (1, 1);
    * ``thresholds``: per tier ``{"tier", "threshold", "sensitivity", "specificity", "ppv" (None if
      nothing flagged), "flagged_share"}``;
    * ``groups``: per group variable, per value, see :func:`group_report` (metrics at the lowest
      tier threshold; ``flagged`` where sensitivity is more than 0.05 below the cohort's; None
      metrics, and never flagged, where a value has no positives).
    """
    config = config or TrainConfig()
    target = labels(y)
    check_enough(target)
    matrix = np.asarray(X, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != target.size:
        raise ValueError(f"features of shape {matrix.shape} for {target.size} labels")
    folds = splits(target, config.folds, config.seed)
    oof = out_of_fold(matrix, target, config.kind, config.seed, folds)
    return report(config.kind, target, oof, groups, config.thresholds, config.folds, config.seed)


def compare(
    X: Any,
    y: Any,
    groups: Mapping[str, Any],
    seed: int = 0,
    folds: int = 5,
    *,
    thresholds: tuple[tuple[str, float], ...] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate` for both kinds on the very same folds: ``{"logistic": report, "boosting":
    report}``, so the difference is the model's, not the split's (and the bootstrap uses the same
    seed for both). ``thresholds`` default to :class:`~scoring.risk.train.TrainConfig`'s."""
    target = labels(y)
    check_enough(target)
    matrix = np.asarray(X, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != target.size:
        raise ValueError(f"features of shape {matrix.shape} for {target.size} labels")
    tiers = thresholds if thresholds is not None else TrainConfig().thresholds
    shared = splits(target, folds, seed)
    out: dict[str, dict[str, Any]] = {}
    for kind in ("logistic", "boosting"):
        config = TrainConfig(kind=kind, folds=folds, seed=seed, thresholds=tiers)
        oof = out_of_fold(matrix, target, config.kind, seed, shared)
        out[kind] = report(config.kind, target, oof, groups, config.thresholds, folds, seed)
    return out

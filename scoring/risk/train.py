"""Training the risk model on counsellor-confirmed outcomes.

One row of ``X`` is one sitting (the columns of :mod:`scoring.risk.features`, NaN where missing); ``y``
is 1 where a counsellor confirmed the student needed help, 0 where they confirmed not. Two kinds of
model, both calibrated with cross-validation (Platt scaling, 3 folds) so that their output reads as a
probability:

* ``logistic``: median imputation (with a missing-indicator column for every feature that had gaps
  in training), standardisation, L2 logistic regression. Easy to explain: each feature's
  contribution is its coefficient times its standardised value.
* ``boosting``: scikit-learn's histogram gradient boosting, which handles NaN itself. Shallow trees
  and a small learning rate; usually no better than logistic on questionnaire data, so the
  comparison in :mod:`scoring.risk.evaluate` decides.

The model only *points* to a tier (``TrainConfig.thresholds``); the rule-based tiers stay the
authority. No Django import.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

Kind = Literal["logistic", "boosting"]
KINDS: tuple[Kind, ...] = ("logistic", "boosting")

MIN_LABELLED = 200
MIN_POSITIVES = 30

#: Attribute :func:`fit` sets on the fitted estimator: the training medians per column (NaN where a
#: column was empty), used by :func:`top_contributions` for the boosting model.
MEDIANS_ATTR = "xinqiao_medians_"


class TooFewLabels(ValueError):
    """Not enough confirmed outcomes to train or evaluate a model honestly."""

    def __init__(self, labelled: int, positives: int) -> None:
        self.labelled = labelled
        self.positives = positives
        negatives = labelled - positives
        super().__init__(
            f"too few confirmed outcomes to train a risk model: {labelled} labelled sittings "
            f"({positives} positive, {negatives} negative); at least {MIN_LABELLED} labelled, "
            f"{MIN_POSITIVES} positive and {MIN_POSITIVES} negative are needed"
        )


def labels(y: Any) -> np.ndarray:
    """``y`` as a 1-D int array of 0/1; raises ``ValueError`` for anything else (NaN, 2, "yes")."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(int)
    try:
        as_float = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError("labels must be 0 or 1") from exc
    if not np.isin(as_float, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1 (unconfirmed sittings must be left out, not coded)")
    return as_float.astype(int)


def check_enough(y: Any) -> None:
    """Raise :class:`TooFewLabels` unless ``y`` has at least ``MIN_LABELLED`` labels, at least
    ``MIN_POSITIVES`` positives and at least ``MIN_POSITIVES`` negatives (the same floor: a model
    cannot learn what "fine" looks like from a handful either). ``ValueError`` if ``y`` is not 0/1."""
    arr = labels(y)
    labelled, positives = int(arr.size), int(arr.sum())
    if labelled < MIN_LABELLED or positives < MIN_POSITIVES or labelled - positives < MIN_POSITIVES:
        raise TooFewLabels(labelled, positives)


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained and evaluated.

    ``thresholds``: (tier, probability) pairs, lowest first; a sitting whose predicted probability is
    at or above a tier's threshold is one the model points to that tier (or higher).
    """

    kind: Kind = "logistic"
    folds: int = 5
    seed: int = 0
    thresholds: tuple[tuple[str, float], ...] = (("yellow", 0.15), ("orange", 0.35), ("red", 0.60))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; expected one of {KINDS}")
        if self.folds < 2:
            raise ValueError("folds must be at least 2")
        if not self.thresholds:
            raise ValueError("at least one tier threshold is needed")
        values = [t for _tier, t in self.thresholds]
        if any(not 0.0 < t <= 1.0 for t in values) or values != sorted(set(values)):
            raise ValueError("tier thresholds must be strictly increasing probabilities in (0, 1]")
        if len({tier for tier, _t in self.thresholds}) != len(self.thresholds):
            raise ValueError("each tier may have one threshold")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (thresholds as a list of ``[tier, probability]`` pairs)."""
        return {
            "kind": self.kind,
            "folds": self.folds,
            "seed": self.seed,
            "thresholds": [[tier, float(t)] for tier, t in self.thresholds],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; missing keys take their defaults."""
        default = cls()
        thresholds = data.get("thresholds")
        return cls(
            kind=cast(Kind, data.get("kind", default.kind)),
            folds=int(data.get("folds", default.folds)),
            seed=int(data.get("seed", default.seed)),
            thresholds=default.thresholds
            if thresholds is None
            else tuple((str(tier), float(t)) for tier, t in thresholds),
        )


def build(kind: Kind, seed: int = 0) -> Any:
    """A fresh, unfitted scikit-learn estimator of this kind, calibrated with 3-fold cross-validated
    sigmoid (Platt) scaling. ``seed`` fixes the boosting model's randomness (the logistic model has
    none)."""
    base: Any
    if kind == "logistic":
        base = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(max_iter=1000, C=1.0)),
            ]
        )
    elif kind == "boosting":
        base = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_depth=4,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping="auto",
            random_state=seed,
        )
    else:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")
    return CalibratedClassifierCV(base, method="sigmoid", cv=3)


def _matrix(X: Any) -> np.ndarray:
    arr = np.asarray(X, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"features must be a 2-D matrix, got shape {arr.shape}")
    return arr


def column_medians(X: Any) -> np.ndarray:
    """Each column's median ignoring NaN (NaN for an all-missing column), without a warning."""
    arr = _matrix(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return cast(np.ndarray, np.nanmedian(arr, axis=0))


def fit(X: Any, y: Any, config: TrainConfig | None = None) -> Any:
    """Train a calibrated model of ``config.kind`` on all of ``(X, y)``.

    Raises :class:`TooFewLabels` first if the labels are too few. The returned estimator also carries
    the training medians (attribute ``MEDIANS_ATTR``) for :func:`top_contributions`.
    """
    config = config or TrainConfig()
    target = labels(y)
    check_enough(target)
    matrix = _matrix(X)
    if matrix.shape[0] != target.size:
        raise ValueError(f"{matrix.shape[0]} rows of features but {target.size} labels")
    model = build(config.kind, config.seed)
    model.fit(matrix, target)
    setattr(model, MEDIANS_ATTR, column_medians(matrix))
    return model


def predict(model: Any, X: Any) -> np.ndarray:
    """The calibrated probability of the positive class (help needed) for each row, in [0, 1]."""
    proba = model.predict_proba(_matrix(X))[:, 1]
    return cast(np.ndarray, np.clip(proba, 0.0, 1.0))


def predict_one(model: Any, x_row: Any) -> float:
    """One sitting's calibrated probability, as :func:`predict` gives it, for the submit path.

    scikit-learn's ``predict_proba`` on one row spends about 2.7 ms in checks and dispatch over the
    three calibration folds; for the logistic kind this computes the same numbers from the fitted
    parameters (imputer medians and indicators, scaler, coefficients, Platt calibrator) in a few
    NumPy operations. Other kinds go through :func:`predict`. The tests hold the two equal."""
    x = np.asarray(x_row, dtype=float).reshape(-1)
    if kind_of(model) != "logistic":
        return float(predict(model, x[None, :])[0])
    missing = np.isnan(x)
    total = 0.0
    for calibrated in model.calibrated_classifiers_:
        pipe = calibrated.estimator
        imputer, scaler, logistic = pipe.named_steps["impute"], pipe.named_steps["scale"], pipe.named_steps["model"]
        indicator = imputer.indicator_
        cols = np.asarray(indicator.features_, dtype=int) if indicator is not None else np.empty(0, dtype=int)
        stats = np.nan_to_num(np.asarray(imputer.statistics_, dtype=float))  # a column empty in training: 0, as sklearn
        full = np.concatenate([np.where(missing, stats, x), missing[cols]])
        decision = float(np.dot((full - scaler.mean_) / scaler.scale_, logistic.coef_[0]) + logistic.intercept_[0])
        calibrator = calibrated.calibrators[0]  # Platt: p = 1 / (1 + exp(a·decision + b))
        total += 1.0 / (1.0 + math.exp(float(calibrator.a_) * decision + float(calibrator.b_)))
    return min(max(total / len(model.calibrated_classifiers_), 0.0), 1.0)


def kind_of(model: Any) -> Kind:
    """Which kind a fitted calibrated model is (``logistic`` or ``boosting``)."""
    inner = model.calibrated_classifiers_[0].estimator
    return "logistic" if isinstance(inner, Pipeline) else "boosting"


def _logistic_contributions(model: Any, x: np.ndarray, names: Sequence[str]) -> list[tuple[str, float]]:
    """Per column (then per missing-indicator): the mean over the calibration folds of
    calibrator slope × coefficient × imputed-and-scaled value."""
    d = x.size
    missing = np.isnan(x)
    total = np.zeros(2 * d)  # [values..., missing indicators...]; folds may add indicators for different columns
    for calibrated in model.calibrated_classifiers_:
        pipe = calibrated.estimator
        imputer, scaler, logistic = pipe.named_steps["impute"], pipe.named_steps["scale"], pipe.named_steps["model"]
        stats = np.nan_to_num(np.asarray(imputer.statistics_, dtype=float))
        indicator = imputer.indicator_
        cols = np.asarray(indicator.features_, dtype=int) if indicator is not None else np.empty(0, dtype=int)
        full = np.concatenate([np.where(missing, stats, x), missing[cols].astype(float)])
        scaled = (full - scaler.mean_) / scaler.scale_
        slope = -float(calibrated.calibrators[0].a_)  # calibrated log-odds per unit of the decision value
        part = slope * np.asarray(logistic.coef_[0], dtype=float) * scaled
        total[:d] += part[:d]
        total[d + cols] += part[d:]
    mean = total / len(model.calibrated_classifiers_)
    # a missing answer is explained by its gap: the imputed median's share moves to "<column> missing"
    mean[d:][missing] += mean[:d][missing]
    mean[:d][missing] = 0.0
    labels_out = [*names, *(f"{name} missing" for name in names)]
    return list(zip(labels_out, (float(v) for v in mean), strict=True))


def _boosting_contributions(model: Any, x: np.ndarray, names: Sequence[str]) -> list[tuple[str, float]]:
    """Per column: predicted probability of the row minus that with the column set to its training
    median (0 where the median is unknown or the value already equals it)."""
    medians = getattr(model, MEDIANS_ATTR, None)
    if medians is None:
        raise ValueError("explaining a boosting model needs the training medians: train it with fit()")
    medians = np.asarray(medians, dtype=float)
    changeable = ~np.isnan(medians) & ~(x == medians)
    cols = np.flatnonzero(changeable)
    rows = np.repeat(x[None, :], cols.size + 1, axis=0)
    rows[np.arange(1, cols.size + 1), cols] = medians[cols]
    proba = predict(model, rows)
    out = np.zeros(x.size)
    out[cols] = proba[0] - proba[1:]
    return list(zip(names, (float(v) for v in out), strict=True))


def top_contributions(model: Any, x_row: Any, names: Sequence[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` features that raised this sitting's estimate most, largest first, as
    ``(column name, contribution)``; only positive contributions, so fewer than ``k`` (or none)
    when few features pushed the estimate up.

    * logistic: contribution = coefficient × the row's imputed and standardised value (i.e. relative
      to the training average), times the Platt calibrator's slope so it is in calibrated log-odds,
      averaged over the 3 calibration folds' pipelines. Missing-indicator columns added by the
      imputer are kept and named ``"<column> missing"`` (a skipped item can itself carry risk); for
      a missing value, the imputed median's share is added to that entry too, so an unanswered
      column is never given as a reason under its own name.
      A handful of NumPy operations: well under a millisecond.
    * boosting: a cheap approximation, not SHAP: for each column, the row's predicted probability
      minus the probability with that column replaced by its training median (one batch
      prediction of ``n_columns + 1`` rows). Needs a model trained with :func:`fit`.
    """
    x = np.asarray(x_row, dtype=float).reshape(-1)
    if x.size != len(names):
        raise ValueError(f"{x.size} values but {len(names)} column names")
    expected = getattr(model, "n_features_in_", x.size)
    if x.size != expected:
        raise ValueError(f"the model reads {expected} columns; this row has {x.size}")
    if kind_of(model) == "logistic":
        pairs = _logistic_contributions(model, x, names)
    else:
        pairs = _boosting_contributions(model, x, names)
    positive = [(name, value) for name, value in pairs if value > 0.0]
    positive.sort(key=lambda pair: -pair[1])
    return positive[: max(k, 0)]

"""scoring.risk.train and scoring.risk.evaluate: a calibrated, explained model, evaluated out of fold,
with per-group sensitivity. Pure: synthetic cohorts built here with NumPy, no database."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from scoring.risk import evaluate as ev
from scoring.risk.train import (
    MIN_LABELLED,
    MIN_POSITIVES,
    TooFewLabels,
    TrainConfig,
    build,
    check_enough,
    fit,
    predict,
    predict_one,
    top_contributions,
)

NAMES = ["strong", "medium", "weak", "noise.1", "noise.2", "noise.3"]
COEF = np.array([2.0, 1.0, 0.5, 0.0, 0.0, 0.0])
INTERCEPT = -2.0
REPORT_KEYS = {
    "model", "n", "positives", "folds", "roc_auc", "pr_auc", "brier", "calibration", "calibration_error",
    "roc_curve", "thresholds", "groups",
}  # fmt: skip
GROUP_KEYS = {"value", "n", "positives", "roc_auc", "sensitivity", "specificity", "ppv", "flagged"}


def expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def cohort(n: int, seed: int, *, hidden_share: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X with ~10% NaN in all but the strong column, y, the true probabilities, gender).

    ``hidden_share``: that share of the *male* positives have features that say nothing (redrawn from
    the population, as if their distress did not show on the questionnaire): the model then misses
    more of them, which is what a lower measured sensitivity for a group looks like."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    truth = expit(INTERCEPT + X @ COEF)
    y = (rng.random(n) < truth).astype(int)
    gender = rng.choice(np.array(["female", "male"]), size=n)
    if hidden_share:
        hide = (gender == "male") & (y == 1) & (rng.random(n) < hidden_share)
        X[hide] = rng.normal(size=(int(hide.sum()), len(NAMES)))
    X[:, 1:][rng.random((n, len(NAMES) - 1)) < 0.10] = np.nan
    return X, y, truth, gender


@pytest.fixture(scope="module")
def strong() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return cohort(5000, seed=11)


@pytest.fixture(scope="module")
def strong_report(strong) -> dict:
    X, y, _truth, gender = strong
    return ev.evaluate(X, y, {"gender": gender}, TrainConfig(kind="logistic", seed=3))


# --- enough labels ---------------------------------------------------------------------------------------


def test_too_few_labels_names_the_counts():
    y = np.r_[np.ones(40), np.zeros(110)]
    with pytest.raises(TooFewLabels, match=r"150 labelled .*40 positive") as caught:
        check_enough(y)
    assert caught.value.labelled == 150 and caught.value.positives == 40
    with pytest.raises(TooFewLabels, match="25 positive"):
        check_enough(np.r_[np.ones(25), np.zeros(475)])
    with pytest.raises(TooFewLabels):  # too few negatives is as bad
        check_enough(np.r_[np.ones(480), np.zeros(20)])
    check_enough(np.r_[np.ones(MIN_POSITIVES), np.zeros(MIN_LABELLED - MIN_POSITIVES)])  # exactly enough
    assert issubclass(TooFewLabels, ValueError)


def test_training_and_evaluating_refuse_too_few_labels():
    X, y, _truth, gender = cohort(150, seed=1)
    with pytest.raises(TooFewLabels):
        fit(X, y)
    with pytest.raises(TooFewLabels):
        ev.evaluate(X, y, {"gender": gender}, TrainConfig())
    X, _y, _truth, gender = cohort(400, seed=1)
    y = np.r_[np.ones(25, dtype=int), np.zeros(375, dtype=int)]
    with pytest.raises(TooFewLabels):
        ev.compare(X, y, {"gender": gender})


def test_labels_must_be_zero_or_one():
    with pytest.raises(ValueError, match="0 or 1"):
        check_enough(np.r_[np.ones(100), np.zeros(99), [np.nan]])
    with pytest.raises(ValueError, match="0 or 1"):
        check_enough(np.r_[np.ones(100), np.full(150, 2)])


# --- config ------------------------------------------------------------------------------------------------


def test_config_round_trips_and_rejects_nonsense():
    config = TrainConfig(kind="boosting", folds=4, seed=9, thresholds=(("yellow", 0.1), ("red", 0.5)))
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert TrainConfig.from_dict({}) == TrainConfig()
    assert TrainConfig().thresholds == (("yellow", 0.15), ("orange", 0.35), ("red", 0.60))
    with pytest.raises(ValueError):
        TrainConfig(kind="forest")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TrainConfig(thresholds=(("yellow", 0.5), ("red", 0.2)))
    with pytest.raises(ValueError):
        TrainConfig(folds=1)


def test_build_makes_cross_validated_sigmoid_calibrated_models():
    for kind in ("logistic", "boosting"):
        model = build(kind, seed=4)
        assert type(model).__name__ == "CalibratedClassifierCV"
        assert model.method == "sigmoid" and model.cv == 3
    assert build("boosting", seed=4).estimator.random_state == 4
    with pytest.raises(ValueError):
        build("forest")  # type: ignore[arg-type]


# --- ranking metrics agree with scikit-learn's -------------------------------------------------------------


def test_weighted_ranking_metrics_match_scikit_learn_with_ties():
    rng = np.random.default_rng(5)
    p = np.round(rng.random(2000), 2)  # many ties
    y = (rng.random(2000) < p).astype(int)
    weights = rng.integers(0, 3, size=2000).astype(float)
    auc, ap = ev._ranking_metrics(y, p, np.vstack([np.ones(2000), weights]))
    assert auc[0] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert ap[0] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert auc[1] == pytest.approx(roc_auc_score(y, p, sample_weight=weights), abs=1e-12)
    assert ap[1] == pytest.approx(average_precision_score(y, p, sample_weight=weights), abs=1e-12)
    assert ev.roc_auc(np.zeros(10), np.arange(10)) is None


# --- evaluation --------------------------------------------------------------------------------------------


def test_strong_signal_gives_a_high_auc_close_to_the_truth(strong, strong_report):
    _X, y, truth, _gender = strong
    true_auc = roc_auc_score(y, truth)
    auc = strong_report["roc_auc"]
    assert true_auc > 0.85
    assert auc["value"] > 0.80
    assert true_auc - 0.03 < auc["value"] <= true_auc + 0.01  # NaNs cost a little; it cannot beat the truth by much
    assert auc["low"] < auc["value"] < auc["high"] and auc["high"] - auc["low"] < 0.05
    pr = strong_report["pr_auc"]
    assert pr["low"] < pr["value"] < pr["high"]
    assert pr["value"] > y.mean() + 0.3  # far above the base rate a random ranking would get


def test_the_model_is_calibrated(strong, strong_report):
    _X, y, truth, _gender = strong
    table = strong_report["calibration"]
    assert [row["bin"] for row in table] == list(range(1, 11))
    assert sum(row["count"] for row in table) == y.size
    predicted = [row["predicted"] for row in table]
    assert predicted == sorted(predicted)
    assert strong_report["calibration_error"] < 0.03
    brier = strong_report["brier"]
    assert np.mean((truth - y) ** 2) - 0.005 < brier < np.mean((truth - y) ** 2) + 0.01


def test_report_shape_is_exact_and_json_ready(strong, strong_report):
    _X, y, _truth, gender = strong
    report = json.loads(json.dumps(strong_report))
    assert set(report) == REPORT_KEYS
    assert report["model"] == "logistic" and report["n"] == 5000 and report["folds"] == 5
    assert report["positives"] == int(y.sum())
    curve = report["roc_curve"]
    assert len(curve) <= 101 and curve[0] == [0.0, 0.0] and curve[-1] == [1.0, 1.0]
    assert all(b[0] >= a[0] and b[1] >= a[1] for a, b in itertools.pairwise(curve))
    tiers = report["thresholds"]
    assert [t["tier"] for t in tiers] == ["yellow", "orange", "red"]
    assert [t["threshold"] for t in tiers] == [0.15, 0.35, 0.60]
    sens = [t["sensitivity"] for t in tiers]
    shares = [t["flagged_share"] for t in tiers]
    assert sens == sorted(sens, reverse=True) and shares == sorted(shares, reverse=True)
    assert [t["specificity"] for t in tiers] == sorted(t["specificity"] for t in tiers)
    assert all(0 < t["ppv"] <= 1 for t in tiers)
    rows = report["groups"]["gender"]
    assert [r["value"] for r in rows] == ["female", "male"]
    assert all(set(r) == GROUP_KEYS for r in rows)
    assert sum(r["n"] for r in rows) == 5000 and sum(r["positives"] for r in rows) == report["positives"]
    assert (gender == "male").sum() == rows[1]["n"]


def test_no_signal_gives_no_auc():
    X, _y, _truth, gender = cohort(2000, seed=2)
    y = (np.random.default_rng(3).random(2000) < 0.25).astype(int)
    report = ev.evaluate(X, y, {"gender": gender}, TrainConfig())
    assert abs(report["roc_auc"]["value"] - 0.5) < 0.05
    assert report["roc_auc"]["low"] < 0.5 < report["roc_auc"]["high"] + 0.02


def test_unbiased_cohort_flags_no_group(strong_report):
    rows = strong_report["groups"]["gender"]
    assert not any(r["flagged"] for r in rows)
    sens = [r["sensitivity"] for r in rows]
    assert abs(sens[0] - sens[1]) < 0.05


def test_a_group_whose_distress_does_not_show_is_flagged():
    X, y, _truth, gender = cohort(5000, seed=21, hidden_share=0.5)
    report = ev.evaluate(X, y, {"gender": gender}, TrainConfig())
    cohort_sensitivity = report["thresholds"][0]["sensitivity"]
    by_value = {r["value"]: r for r in report["groups"]["gender"]}
    assert by_value["male"]["flagged"] is True
    assert by_value["male"]["sensitivity"] < cohort_sensitivity - 0.05
    assert by_value["female"]["flagged"] is False
    assert by_value["female"]["sensitivity"] > cohort_sensitivity


def test_a_group_value_without_positives_has_no_sensitivity_and_is_not_flagged(strong):
    X, y, _truth, gender = strong
    school = np.where(np.arange(y.size) % 2 == 0, "A", "B").astype(object)
    quiet = (y == 0) & (np.arange(y.size) < 300)
    school[quiet] = "C"  # only negatives
    report = ev.report("logistic", y, np.clip(expit(INTERCEPT + np.nan_to_num(X) @ COEF), 0, 1),
                       {"school": school, "gender": gender}, TrainConfig().thresholds, 5, 0)  # fmt: skip
    c = next(r for r in report["groups"]["school"] if r["value"] == "C")
    assert c["positives"] == 0 and c["roc_auc"] is None and c["sensitivity"] is None
    assert c["specificity"] is not None and c["flagged"] is False
    with pytest.raises(ValueError, match="group"):
        ev.report("logistic", y, np.full(y.size, 0.2), {"gender": gender[:-1]}, TrainConfig().thresholds, 5, 0)


def test_both_kinds_are_compared_on_the_same_folds():
    X, y, _truth, gender = cohort(1500, seed=7)
    both = ev.compare(X, y, {"gender": gender}, seed=5, folds=4)
    assert set(both) == {"logistic", "boosting"}
    assert both["logistic"]["model"] == "logistic" and both["boosting"]["model"] == "boosting"
    for key in ("n", "positives", "folds"):
        assert both["logistic"][key] == both["boosting"][key]
    assert both["logistic"]["folds"] == 4
    assert all(set(r) == REPORT_KEYS for r in both.values())
    # same folds and seed as a single evaluation: identical out-of-fold predictions, identical report
    alone = ev.evaluate(X, y, {"gender": gender}, TrainConfig(kind="logistic", folds=4, seed=5))
    assert alone == both["logistic"]
    assert both["boosting"]["roc_auc"]["value"] > 0.75


# --- the fitted model: probabilities and the "why" ---------------------------------------------------------


@pytest.fixture(scope="module")
def models(strong):
    X, y, _truth, _gender = strong
    return {kind: fit(X, y, TrainConfig(kind=kind)) for kind in ("logistic", "boosting")}


def test_predictions_are_probabilities_and_rank_by_risk(strong, models):
    X, _y, _truth, _gender = strong
    for model in models.values():
        p = predict(model, X)
        assert p.shape == (X.shape[0],) and np.all((p >= 0) & (p <= 1))
        low, high = predict(model, np.array([[-2.0, -1, -1, 0, 0, 0], [2.0, 1, 1, 0, 0, 0]]))
        assert low < 0.1 < 0.8 < high


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_top_contributions_name_the_strongest_feature(models, kind):
    model = models[kind]
    high_risk = np.array([2.5, 0.3, 0.2, 0.0, 0.0, 0.0])
    top = top_contributions(model, high_risk, NAMES, k=3)
    assert top and top[0][0] == "strong"
    values = [v for _n, v in top]
    assert all(v > 0 for v in values) and values == sorted(values, reverse=True) and len(top) <= 3
    assert top_contributions(model, high_risk, NAMES, k=1) == top[:1]
    # a low-risk row has nothing pushing it up much; the strong feature is certainly not among the reasons
    low = top_contributions(model, np.array([-2.0, -1.0, -1.0, 0.0, 0.0, 0.0]), NAMES)
    assert "strong" not in [n for n, _v in low]
    with pytest.raises(ValueError):
        top_contributions(model, high_risk[:5], NAMES[:5])


def test_logistic_contributions_are_coefficient_times_scaled_value(models):
    model = models["logistic"]
    row = np.array([1.5, np.nan, 0.4, 0.1, -0.2, 0.3])
    everything = dict(top_contributions(model, row, NAMES, k=100))
    expected = np.zeros(2 * len(NAMES))
    for calibrated in model.calibrated_classifiers_:
        pipe = calibrated.estimator
        z = pipe[:-1].transform(row[None, :])[0]
        part = -calibrated.calibrators[0].a_ * pipe[-1].coef_[0] * z
        cols = pipe.named_steps["impute"].indicator_.features_
        expected[: len(NAMES)] += part[: len(NAMES)]
        expected[len(NAMES) + cols] += part[len(NAMES) :]
    expected /= len(model.calibrated_classifiers_)
    expected[len(NAMES) + 1] += expected[1]  # "medium" is missing: its imputed share goes to "medium missing"
    expected[1] = 0.0
    labels = [*NAMES, *(f"{n} missing" for n in NAMES)]
    want = {name: v for name, v in zip(labels, expected, strict=True) if v > 0}
    assert everything.keys() == want.keys()
    for name, value in want.items():
        assert everything[name] == pytest.approx(value, rel=1e-9)
    assert "medium" not in everything  # not answered: never a reason under its own name


def test_a_telling_gap_is_named_as_missing():
    rng = np.random.default_rng(8)
    n = 2000
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < expit(-1.5 + X[:, 0])).astype(int)
    X[:, 2][rng.random(n) < np.where(y == 1, 0.6, 0.05)] = np.nan  # skipped mostly by those at risk
    model = fit(X, y)
    top = top_contributions(model, np.array([0.0, 0.0, np.nan]), ["a", "b", "c"])
    assert top[0][0] == "c missing"


def test_one_sittings_probability_is_the_pipelines_own(strong):
    X, y, _truth, _gender = strong
    X = X.copy()
    X[:, 2] = np.nan  # a column never answered in training: sklearn imputes 0 there
    model = fit(X, y, TrainConfig(kind="logistic", seed=5))
    rows = np.vstack([X[:200], np.full((1, X.shape[1]), np.nan), np.zeros((1, X.shape[1]))])
    expected = predict(model, rows)
    got = np.asarray([predict_one(model, r) for r in rows])
    assert np.allclose(got, expected, rtol=0, atol=1e-9)  # its speed: bench/risk_model.py

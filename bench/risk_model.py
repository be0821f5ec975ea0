"""Benchmark: the risk model's per-sitting inference and its training on 100,000 labelled sittings.

A synthetic cohort (``scoring.risk.synth``, PHQ-9, GAD-7 and ASQ) of ``--train`` interviewed
sittings trains the logistic model as ``risk_train`` will: the cross-validated evaluation
(``scoring.risk.evaluate``: five folds, bootstrap intervals, per-group results) and the final fit
(imputation, scaling, logistic regression calibrated with cross-validation); the training time is
the wall time of both. Inference is
what the submit will do for one sitting: its features (``scoring.risk.features.row``, which scores
the instruments), the calibrated probability (``predict_one``), and the three features that raised
it most; the median and p99 over ``--infer`` sittings, one at a time, in this process (the submit
path does not call the model yet: the Django side of the risk model comes next).

Targets: median inference under 2 ms, training under 60 s. Last line:
``risk_model: infer <ms> ms, train <s> s (targets 2 ms, 60 s) PASS|FAIL``; exit status 1 on FAIL.

    .venv/bin/python bench/risk_model.py [--train 100000] [--infer 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from scoring.risk import cohort  # noqa: E402
from scoring.risk.evaluate import evaluate  # noqa: E402
from scoring.risk.features import FeatureSpec, matrix, row  # noqa: E402
from scoring.risk.train import TrainConfig, fit, predict_one, top_contributions  # noqa: E402
from scoring.tiers import default_policy  # noqa: E402

TARGET_INFER_MS = 2.0
TARGET_TRAIN_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--train", type=int, default=100_000, help="labelled sittings to train on")
    parser.add_argument("--infer", type=int, default=2_000, help="sittings scored one at a time")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    instruments = ("phq9", "gad7", "asq")
    rules = tuple(r.id for r in default_policy().rules if set(r.instruments) & set(instruments))
    spec = FeatureSpec(instruments, rules=rules)
    t0 = time.perf_counter()
    sittings: list[dict[str, object]] = []
    seed = args.seed
    while len(sittings) < args.train:  # only interviewed sittings carry a label
        batch = cohort(max(args.train, 10_000), seed)
        sittings += [{"answers": s.answers, "label": s.outcome == "confirmed_need", "gender": s.gender}
                     for s in batch if s.outcome]
        seed += 1000
    sittings = sittings[: args.train]
    x = matrix(spec, sittings)
    y = np.asarray([s["label"] for s in sittings], dtype=int)
    prepared = time.perf_counter() - t0
    print(f"cohort: {len(sittings):,} labelled sittings ({y.mean():.1%} confirmed need), {x.shape[1]} features; "
          f"generated and featurised in {prepared:.1f} s (not timed)")

    config = TrainConfig(kind="logistic", seed=args.seed)
    t1 = time.perf_counter()
    report = evaluate(x, y, {"gender": np.asarray([s["gender"] for s in sittings])}, config)
    t2 = time.perf_counter()
    model = fit(x, y, config)
    train_s = time.perf_counter() - t1
    print(f"train (logistic): {train_s:.1f} s = cross-validated evaluation {t2 - t1:.1f} s (5 folds, bootstrap CIs, "
          f"per group) + the final fit {time.perf_counter() - t2:.1f} s; ROC AUC {report['roc_auc']['value']:.3f}")

    fresh = cohort(args.infer, args.seed + 7)
    names = spec.names()
    times: list[float] = []
    for s in fresh:
        start = time.perf_counter()
        features = np.asarray(row(spec, s.answers), dtype=float)
        probability = predict_one(model, features)
        top_contributions(model, features, names, k=3)
        times.append((time.perf_counter() - start) * 1000)
        assert 0.0 <= probability <= 1.0
    times.sort()
    median = statistics.median(times)
    p99 = times[int(0.99 * (len(times) - 1))]
    print(f"inference per sitting (features + probability + top three reasons): median {median:.2f} ms, "
          f"p99 {p99:.2f} ms over {len(times):,}")
    passed = median < TARGET_INFER_MS and train_s < TARGET_TRAIN_S
    print(f"risk_model: infer {median:.2f} ms, train {train_s:.1f} s (targets {TARGET_INFER_MS:.0f} ms, "
          f"{TARGET_TRAIN_S:.0f} s) {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: the risk model's per-sitting inference and its training on 100,000 labelled sittings.

A synthetic cohort (``scoring.risk.synth``, PHQ-9, GAD-7 and ASQ) of ``--train`` interviewed
sittings trains as ``risk_train`` does: both kinds evaluated on the same cross-validation folds
(``scoring.risk.evaluate.compare``: five folds, bootstrap intervals, per-group results) and the
final fit of the logistic model (imputation, scaling, logistic regression calibrated with
cross-validation); the training time is the wall time of both. Inference is measured inside the submit path: a Django process on a fresh
SQLite database in a temporary directory, the trained model registered (skops file, digest) and
activated, one school; for each of ``--infer`` fresh sittings, one at a time, exactly what
``screening.campaigns.services.answering`` adds to a submit when a model is active: the read of
the school's active model, the features (which score the instruments), the calibrated probability,
the three features that raised it most, the raise (``raise_tier``) and the RiskScore row to insert.
The median and p99 are reported; the database is thrown away afterwards.

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
from scoring.risk.evaluate import compare  # noqa: E402
from scoring.risk.features import FeatureSpec, matrix  # noqa: E402
from scoring.risk.train import TrainConfig, fit  # noqa: E402
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
    both = compare(x, y, {"gender": np.asarray([s["gender"] for s in sittings])}, seed=args.seed)
    t2 = time.perf_counter()
    model = fit(x, y, config)
    train_s = time.perf_counter() - t1
    report = both["logistic"]
    print(f"train (as risk_train): {train_s:.1f} s = both kinds evaluated on the same 5 folds {t2 - t1:.1f} s "
          f"(bootstrap CIs, per group) + the final logistic fit {time.perf_counter() - t2:.1f} s; ROC AUC logistic "
          f"{report['roc_auc']['value']:.3f}, boosting {both['boosting']['roc_auc']['value']:.3f}")

    times = _infer_in_django(model, spec, config, report, cohort(args.infer, args.seed + 7))
    times.sort()
    median = statistics.median(times)
    p99 = times[int(0.99 * (len(times) - 1))]
    print(f"inference in the submit path (active model read, features, probability, three reasons, raise, "
          f"score row): median {median:.2f} ms, "
          f"p99 {p99:.2f} ms over {len(times):,}")
    passed = median < TARGET_INFER_MS and train_s < TARGET_TRAIN_S
    print(f"risk_model: infer {median:.2f} ms, train {train_s:.1f} s (targets {TARGET_INFER_MS:.0f} ms, "
          f"{TARGET_TRAIN_S:.0f} s) {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


def _infer_in_django(model: object, spec: FeatureSpec, config: TrainConfig, report: dict[str, object],
                     sittings: list[object]) -> list[float]:
    """Per-sitting milliseconds of the submit's risk-model step, with the model active in Django."""
    import os
    import tempfile

    tmp = tempfile.mkdtemp(prefix="xinqiao-risk-bench-")
    os.environ.update({"XINQIAO_ENV": "test", "XINQIAO_DATA_DIR": tmp,
                       "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "DJANGO_SETTINGS_MODULE": "backend.settings"})
    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command
    from django.db import transaction

    import scoring
    from scoring.risk.card import card_json
    from scoring.tiers import decide
    from screening.campaigns.services.answering import school_policy
    from screening.core.models import User
    from screening.directory.models import School, SchoolClass, Student
    from screening.directory.services import region_create
    from screening.riskmodels import estimate, services

    call_command("migrate", verbosity=0)
    admin = User.objects.create_superuser("bench-admin", password=None)
    region = region_create(name="区", code="000001", level="district")
    school = School.objects.create(name="学校", code="BENCH", kind="junior_high", region=region)
    klass = SchoolClass.objects.create(school=school, school_year=2026, grade=8, name="8-1")
    student = Student.objects.create(school=school, school_class=klass, number="B1", name="学生",
                                     birth_date=dt.date(2012, 3, 1), gender="female")
    card = card_json(version="bench", scope="all", evaluation=report, features=spec.names(), spec=spec.to_dict(),
                     data_window=("", ""), counts={}, synthetic=True, demographics=False, trained_by="bench",
                     trained_at="")
    registered = services.risk_model_register(actor=admin, estimator=model, spec=spec, config=config, card=card,
                                              labelled=0, positives=0, synthetic=True)
    services.risk_model_activate(actor=admin, model=registered)
    school = School.objects.select_related("region").get(pk=school.pk)  # as the submit's locked read has it
    policy = school_policy(school)
    times: list[float] = []
    with transaction.atomic():
        for s in sittings:
            answers = s.answers  # type: ignore[attr-defined]
            decision = decide({code: (scoring.score(code, given), given) for code, given in answers.items()}, policy)
            start = time.perf_counter()
            active = estimate.active_for(school)
            raised, est = estimate.apply(active, decision, answers=answers, student=student)
            assert est is not None
            estimate.score_row(est, submission_id=1, before=decision.tier.value, after=raised.tier.value, at=None)
            times.append((time.perf_counter() - start) * 1000)
            assert 0.0 <= est.probability <= 1.0
        transaction.set_rollback(True)
    return times


if __name__ == "__main__":
    raise SystemExit(main())

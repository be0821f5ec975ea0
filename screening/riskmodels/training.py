"""Training a risk model from counsellors' confirmed outcomes (or, for the demo and tests, from a
synthetic cohort), evaluating it, writing its card and registering it as a candidate.

Labels (issue #5): a flagged sitting's label is the outcome of the first interview that reached the
student after it (``Contact`` of kind student): "confirmed need" is 1, "no current need" 0. Sittings
without such an outcome (green ones, not yet seen, already in care elsewhere, not reached) are left
out. Features are those of scoring.risk.features: item answers and totals of the instruments
present, absent-instrument indicators and the tier rules that fired (never the model's own raise);
age band and gender only when ``demographics`` is chosen, which the card records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import scoring
from scoring.risk import cohort
from scoring.risk.card import card_json
from scoring.risk.evaluate import compare, evaluate
from scoring.risk.features import FeatureSpec, matrix
from scoring.risk.synth import DEFAULT_INSTRUMENTS
from scoring.risk.train import TrainConfig, check_enough, fit
from scoring.tiers import RISK_MODEL_RULE, decide, default_policy
from screening.campaigns.models import Submission
from screening.cases.models import Contact
from screening.directory.models import Region, School
from screening.riskmodels import services
from screening.riskmodels.models import RiskModel

LABELS: dict[str, int] = {Contact.Outcome.CONFIRMED_NEED.value: 1, Contact.Outcome.NO_CURRENT_NEED.value: 0}


@dataclass
class Labelled:
    """Sittings with their labels and the group of each (for the per-group report)."""

    sittings: list[dict[str, Any]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=lambda: {"gender": [], "school_kind": [], "grade_band": []})
    first: dt.date | None = None
    last: dt.date | None = None

    def add(self, sitting: dict[str, Any], label: int, gender: str, school_kind: str, grade_band: str, day: dt.date) -> None:
        self.sittings.append(sitting)
        self.labels.append(label)
        for name, value in (("gender", gender), ("school_kind", school_kind), ("grade_band", grade_band)):
            self.groups[name].append(value or "unknown")
        self.first = day if self.first is None or day < self.first else self.first
        self.last = day if self.last is None or day > self.last else self.last


def grade_band(grade: int | None) -> str:
    """School grades as bands: primary 1-6, junior 7-9, senior 10-12, university (grade of 13+)."""
    if grade is None:
        return "unknown"
    return "primary" if grade <= 6 else "junior" if grade <= 9 else "senior" if grade <= 12 else "university"


def labelled_from_outcomes(*, actor: Any, school: School | None = None, region: Region | None = None,
                           since: dt.date | None = None, until: dt.date | None = None) -> Labelled:
    """Flagged sittings in the scope and window whose first interview after them reached the student
    with "confirmed need" or "no current need", through the access policy (the actor is a platform
    admin, who sees all, and is audited by the caller)."""
    qs = Submission.objects.visible_to(actor).filter(case_flag__isnull=False)
    if school is not None:
        qs = qs.filter(student__school=school)
    if region is not None:
        qs = qs.filter(student__school__region__path__startswith=region.path)
    if since is not None:
        qs = qs.filter(submitted_at__date__gte=since)
    if until is not None:
        qs = qs.filter(submitted_at__date__lte=until)
    out = Labelled()
    rows = qs.select_related("student__school", "student__school_class", "case_flag").order_by("submitted_at", "id")
    for sub in rows.iterator(chunk_size=2000):
        contact = (Contact.objects.filter(case_id=sub.case_flag.case_id, kind=Contact.Kind.STUDENT, at__gte=sub.submitted_at)
                   .exclude(outcome=Contact.Outcome.COULD_NOT_REACH).order_by("at", "id").first())
        if contact is None or contact.outcome not in LABELS:
            continue
        student = sub.student
        sitting = {"answers": sub.answers, "rules_fired": [r["id"] for r in sub.tier_rules if r.get("id") != RISK_MODEL_RULE],
                   "gender": student.gender, "age": student.age_on(sub.submitted_at.date())}
        out.add(sitting, LABELS[contact.outcome], student.gender, student.school.kind,
                grade_band(student.school_class.grade if student.school_class else None), sub.submitted_at.date())
    return out


def rules_fired(answers: dict[str, Any]) -> list[str]:
    """The default policy's rules that fire on an answer set (for synthetic sittings)."""
    results = {code: (scoring.score(code, given), given) for code, given in answers.items()}
    return [r for r in decide(results, default_policy()).rule_ids if r != RISK_MODEL_RULE]


def labelled_synthetic(n: int, seed: int, under_recorded: tuple[str, float] | None = None,
                       instruments: tuple[str, ...] = DEFAULT_INSTRUMENTS) -> Labelled:
    """A synthetic cohort's interviewed sittings (scoring.risk.synth), labelled by their outcome.
    Synthetic data, not for clinical use: models trained on it say so on their card."""
    out = Labelled()
    today = dt.date.today()
    for s in cohort(n, seed, under_recorded=under_recorded, instruments=instruments):
        if s.outcome is None:
            continue
        sitting = {"answers": s.answers, "rules_fired": rules_fired(s.answers), "gender": s.gender, "age": s.age}
        out.add(sitting, 1 if s.outcome == "confirmed_need" else 0, s.gender, s.school_kind, s.grade_band, today)
    return out


def _spec(data: Labelled, demographics: bool) -> FeatureSpec:
    seen: dict[str, int] = {}
    for sitting in data.sittings:
        for code in sitting["answers"]:
            seen[code] = seen.get(code, 0) + 1
    instruments = tuple(sorted(seen, key=lambda c: (-seen[c], c)))
    rules = tuple(sorted({r for s in data.sittings for r in s["rules_fired"]}))
    return FeatureSpec(instruments, rules, demographics)


def _without_demographics(data: Labelled, spec: FeatureSpec, y: np.ndarray, groups: dict[str, np.ndarray],
                          config: TrainConfig) -> dict[str, Any]:
    """The same kind, seed and folds without the demographic columns: overall metrics and the
    per-group report, for the card to set beside the model's own."""
    plain = FeatureSpec(spec.instruments, spec.rules, demographics=False)
    report = evaluate(matrix(plain, data.sittings), y, groups, config)
    return {key: report[key] for key in ("roc_auc", "pr_auc", "brier", "calibration_error", "thresholds", "groups")}


def risk_model_train(*, actor: Any, data: Labelled, synthetic: bool, kind: str = "logistic", demographics: bool = False,
                     school: School | None = None, region: Region | None = None, seed: int = 0) -> RiskModel:
    """Evaluate both kinds on the same folds, fit the chosen kind on everything, write the card and
    register the model as a candidate. Raises scoring.risk.train.TooFewLabels (fewer than 200
    labelled sittings or 30 confirmed needs)."""
    y = np.asarray(data.labels, dtype=int)
    check_enough(y)
    spec = _spec(data, demographics)
    x = matrix(spec, data.sittings)
    config = TrainConfig(kind=kind, seed=seed)  # type: ignore[arg-type]
    groups = {name: np.asarray(values) for name, values in data.groups.items()}
    both = compare(x, y, groups, seed=seed, thresholds=config.thresholds)
    report = both[kind] if kind in both else evaluate(x, y, groups, config)
    scope_key = RiskModel.key_for(school=school, region=region)
    version = services.new_version(scope_key)
    window = (str(data.first or ""), str(data.last or ""))
    card = card_json(version=version, scope=scope_key, evaluation=report, features=spec.names(), spec=spec.to_dict(),
                     data_window=window, counts={"labelled": int(y.size), "positives": int(y.sum())},
                     synthetic=synthetic, demographics=demographics, trained_by=getattr(actor, "username", "system"),
                     trained_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), comparison=both)
    if demographics:  # the recorded choice shows what it changes: the same folds without them
        card["without_demographics"] = _without_demographics(data, spec, y, groups, config)
    estimator = fit(x, y, config)
    return services.risk_model_register(
        actor=actor, estimator=estimator, spec=spec, config=config, card=card, labelled=int(y.size),
        positives=int(y.sum()), synthetic=synthetic, school=school, region=region, data_from=data.first,
        data_to=data.last, version=version)

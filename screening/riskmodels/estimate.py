"""Using the active risk model on a sitting: its estimate, the tier that estimate points to, and the
reasons in plain words. Called by the submit (in its transaction) and by ``risk_rescore``.

The fitted estimator is loaded once per process and model (keyed by the file's digest, which the
load checks), so a submit costs one small query for the active model and well under a millisecond
of arithmetic (scoring.risk.train.predict_one; bench/risk_model.py measures it in the submit path).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from scoring.risk.features import FeatureSpec, plain_name, row
from scoring.risk.train import TrainConfig, predict_one, top_contributions
from scoring.tiers import Tier, TierDecision, raise_tier
from screening.directory.models import School, Student
from screening.riskmodels import services
from screening.riskmodels.models import RiskModel, RiskScore

_LOADED: dict[str, tuple[Any, FeatureSpec, TrainConfig]] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Estimate:
    model: RiskModel
    probability: float
    tier: Tier  # the tier the probability points to under the model's thresholds (green below all)
    reasons: list[dict[str, Any]]


def _loaded(model: RiskModel) -> tuple[Any, FeatureSpec, TrainConfig]:
    found = _LOADED.get(model.digest)
    if found is None:
        with _LOCK:
            found = _LOADED.get(model.digest)
            if found is None:
                found = (services.load(model), FeatureSpec.from_dict(model.spec), TrainConfig.from_dict(model.config))
                _LOADED[model.digest] = found
    return found


def tier_for(probability: float, config: TrainConfig) -> Tier:
    """The highest tier whose threshold the probability reaches; green below them all."""
    tier = Tier.GREEN
    for name, threshold in config.thresholds:
        if probability >= threshold:
            tier = max(tier, Tier(name))
    return tier


def estimate(model: RiskModel, *, answers: dict[str, Any], rules_fired: list[str], student: Student) -> Estimate:
    """The model's estimate for one sitting (answers by instrument, the tier rules that fired)."""
    estimator, spec, config = _loaded(model)
    x = row(spec, answers, rules_fired=rules_fired, gender=student.gender or None, age=student.age)
    probability = predict_one(estimator, x)
    reasons = [
        {"feature": name, "weight": round(weight, 4), "en": plain_name(name, "en"), "zh-hans": plain_name(name, "zh-hans")}
        for name, weight in top_contributions(estimator, x, spec.names(), k=3)
    ]
    return Estimate(model, probability, tier_for(probability, config), reasons)


def reason_text(est: Estimate) -> dict[str, str]:
    """The fired-rule text of a raise, in both languages: which features raised the estimate (no
    answers or scores in it), worded as risk and need."""
    en = ", ".join(r["en"] for r in est.reasons) or "the answers as a whole"
    zh = "、".join(r["zh-hans"] for r in est.reasons) or "整体作答"
    return {
        "en": f"The risk model ({est.model.version}) estimates a higher need than the rules alone: {en} raised this estimate.",
        "zh-hans": f"风险模型（{est.model.version}）估计的支持需求高于单项规则：{zh} 提高了这一估计。",
    }


def apply(model: RiskModel | None, decision: TierDecision, *, answers: dict[str, Any], student: Student) -> tuple[TierDecision, Estimate | None]:
    """The decision with the model's raise (at most the policy's allowance, never lower), and the
    estimate; the decision unchanged and None when there is no active model."""
    if model is None:
        return decision, None
    est = estimate(model, answers=answers, rules_fired=list(decision.rule_ids), student=student)
    return raise_tier(decision, est.tier, reason_text(est)), est


def score_row(est: Estimate, *, submission_id: int, before: str, after: str, at: Any,
              source: str = RiskScore.Source.SUBMIT) -> RiskScore:
    """The RiskScore row of an estimate (not saved)."""
    return RiskScore(submission_id=submission_id, model=est.model, probability=est.probability,
                     model_tier=est.tier.value, tier_before=before, tier_after=after, reasons=est.reasons,
                     source=source, created_at=at)


# The active models, read at most every ACTIVE_TTL seconds per process: a submit then costs no query
# for them. Activating or retiring clears this process's copy at once (services call forget_active);
# other processes see the change within ACTIVE_TTL. Rules apply throughout: a model switch that
# takes effect a few seconds later elsewhere changes only which estimate a sitting gets.
ACTIVE_TTL = 5.0
_active: tuple[float, dict[str, RiskModel]] | None = None


def forget_active() -> None:
    """Drop this process's copy of the active models (after activation, retirement, or a test)."""
    global _active
    _active = None


def _active_models() -> dict[str, RiskModel]:
    global _active
    now = time.monotonic()
    if _active is None or now - _active[0] > ACTIVE_TTL:
        _active = (now, {m.scope_key: m for m in RiskModel.objects.filter(status=RiskModel.Status.ACTIVE)})
    return _active[1]


def active_for(school: School) -> RiskModel | None:
    """The active model that scores this school's sittings (the school's own, else the nearest
    region's, else everyone's), or None: tiers from the rules alone. ``school.region`` must be
    loaded (the submit's locked read has it)."""
    active = _active_models()
    if not active:
        return None
    region_ids = [part for part in school.region.path.strip("/").split("/") if part]
    keys = [f"school:{school.pk}", *(f"region:{rid}" for rid in reversed(region_ids)), "all"]
    return next((active[k] for k in keys if k in active), None)

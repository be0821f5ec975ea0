"""Tier policy: one sitting's scored results → a colour tier (red / orange / yellow / green).

Pure Python over plain data; no Django. The default rules live in scoring/tier_policy.yaml and
docs/tiers.md is generated from it (``python -m scoring.tiers docs``)::

    from scoring.tiers import decide, policy_with_overrides, raise_tier

    decision = decide({"phq9": (result, answers)}, policy_with_overrides(school_overrides))
"""

from scoring.tiers.conditions import ConditionError
from scoring.tiers.decide import RISK_MODEL_RULE, Sitting, TierDecision, decide, raise_tier
from scoring.tiers.policy import (
    CRITICAL_FLOOR_RULE,
    AlertLimits,
    CriticalFloor,
    FiredRule,
    RiskModelAllowance,
    Rule,
    Tier,
    TierPolicy,
    TierPolicyError,
    TierSettings,
    default_policy,
    format_duration,
    load_policy,
    parse_duration,
    policy_path,
    policy_with_overrides,
)

__all__ = [
    "CRITICAL_FLOOR_RULE",
    "RISK_MODEL_RULE",
    "AlertLimits",
    "ConditionError",
    "CriticalFloor",
    "FiredRule",
    "RiskModelAllowance",
    "Rule",
    "Sitting",
    "Tier",
    "TierDecision",
    "TierPolicy",
    "TierPolicyError",
    "TierSettings",
    "decide",
    "default_policy",
    "format_duration",
    "load_policy",
    "parse_duration",
    "policy_path",
    "policy_with_overrides",
    "raise_tier",
]

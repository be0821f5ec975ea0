"""Deciding one sitting's tier: `decide`, its `TierDecision`, and `raise_tier` for the risk model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from scoring.engine import Result
from scoring.tiers.policy import BY_RANK, FiredRule, Tier, TierPolicy, default_policy, format_duration

RISK_MODEL_RULE = "risk_model"

Sitting = Mapping[str, tuple[Result, Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class TierDecision:
    """The tier of one sitting and why. Immutable.

    `rules` lists every rule that fired, highest tier first (then in policy order); for a green
    sitting it is empty. `unscored` names the instruments whose result could not be scored
    (``valid`` False): "green" with a non-empty `unscored` means "nothing fired in what could be
    read", not "no need". `policy` is the policy that decided (kept for `raise_tier`; not part of
    equality); store `policy_version` and `policy_fingerprint` with the decision.
    """

    tier: Tier
    rules: tuple[FiredRule, ...]
    first_contact_limit: timedelta | None
    follow_up_days: tuple[int, ...]
    unscored: tuple[str, ...] = ()
    policy: TierPolicy = field(default_factory=default_policy, compare=False, repr=False)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of the fired rules, in order."""
        return tuple(r.id for r in self.rules)

    @property
    def policy_version(self) -> int:
        """Version of the policy file the decision was made with."""
        return self.policy.version

    @property
    def policy_fingerprint(self) -> str:
        """Hash of the effective policy (defaults plus the school's overrides)."""
        return self.policy.fingerprint

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (durations in ISO 8601 seconds-free form, e.g. PT1H / P7D)."""
        return {
            "tier": self.tier.value,
            "rules": [r.to_dict() for r in self.rules],
            "first_contact_limit": None
            if self.first_contact_limit is None
            else format_duration(self.first_contact_limit),
            "follow_up_days": list(self.follow_up_days),
            "unscored": list(self.unscored),
            "policy_version": self.policy_version,
            "policy_fingerprint": self.policy_fingerprint,
        }


def decide(sitting: Sitting, policy: TierPolicy | None = None) -> TierDecision:
    """Turn one sitting's results into a tier.

    `sitting` maps each instrument code to ``(result, answers)``: the `scoring.Result` and the raw
    answers it was scored from (item rules read the raw answers, so they also fire when the result
    could not be scored; pass ``{}`` if there were none). The highest tier among the fired rules
    wins; a result with critical items never ends below the policy's critical-item floor; with
    nothing fired the tier is green.
    """
    pol = default_policy() if policy is None else policy
    index = pol._index
    floor = pol.critical_floor.tier
    floor_rank = floor.rank
    best = 0
    hits: list[tuple[int, int, str, FiredRule]] = []
    unscored: list[str] = []
    for code, entry in sitting.items():
        result, answers = entry
        if result.instrument != code:
            raise ValueError(f"sitting[{code!r}] holds a result of instrument {result.instrument!r}")
        if answers is None:
            raise TypeError(
                f"sitting[{code!r}]: the raw answers are required (item rules read them); pass {{}} if there were none"
            )
        if not isinstance(answers, Mapping):
            answers = {}  # malformed answers: the result says not_an_object; nothing to read
        if not result.valid:
            unscored.append(code)
        top = -1
        rules = index.get(code)
        if rules is not None:
            for test, rank, order, fired in rules:
                if test(result, answers):
                    hits.append((rank, order, code, fired))
                    if rank > top:
                        top = rank
        if result.critical and top < floor_rank:
            hits.append((floor_rank, len(pol.rules), code, pol.floor_rule(code)))
            top = floor_rank
        if top > best:
            best = top
    if len(hits) > 1:
        hits.sort(key=lambda h: (-h[0], h[1], h[2]))
    tier = BY_RANK[best]
    settings = pol.tiers[tier]
    return TierDecision(
        tier=tier,
        rules=tuple(h[3] for h in hits),
        first_contact_limit=settings.first_contact_limit,
        follow_up_days=settings.follow_up_days,
        unscored=tuple(unscored),
        policy=pol,
    )


def raise_tier(decision: TierDecision, model_tier: Tier | str, reason: str | Mapping[str, str]) -> TierDecision:
    """Let the risk model raise a decision's tier, never lower it.

    Returns a decision whose tier is the higher of the two, but at most the policy's allowance
    (``risk_model.max_raise`` tiers) above the rules' tier, with the model recorded as a fired rule
    (id ``risk_model``, instrument None) and the schedule of the resulting tier under the
    decision's own policy. A model tier at or below the decision's fires nothing and returns
    `decision` unchanged.
    `reason` (for example "risk model v3: score in the top 2% of this school") is one text for
    both languages or a mapping with ``en`` and ``zh-hans``; word it as risk, never diagnosis,
    and keep answers and scores out of it.
    """
    tier = Tier(model_tier) if isinstance(model_tier, str) else model_tier
    if not isinstance(tier, Tier):
        raise TypeError("model_tier must be a Tier or a tier name")
    if isinstance(reason, str):
        en = zh = reason.strip()
    elif isinstance(reason, Mapping) and set(reason) == {"en", "zh-hans"}:
        en, zh = str(reason["en"]).strip(), str(reason["zh-hans"]).strip()
    else:
        raise TypeError("reason must be a text or a mapping with en and zh-hans")
    if not en or not zh:
        raise ValueError("reason must not be empty")
    allowed = min(decision.tier.rank + decision.policy.risk_model.max_raise, Tier.RED.rank)
    tier = min(tier, next(t for t in Tier if t.rank == allowed))  # at most the policy's allowance above
    if tier <= decision.tier:
        return decision  # the rules' tier stands: the model never lowers one, and adds nothing here
    fired = FiredRule(RISK_MODEL_RULE, tier, None, en, zh)
    new_tier = tier
    rules = sorted((*decision.rules, fired), key=lambda r: -r.tier.rank)  # stable: model after rules of its tier
    settings = decision.policy.tiers[new_tier]
    return replace(
        decision,
        tier=new_tier,
        rules=tuple(rules),
        first_contact_limit=settings.first_contact_limit,
        follow_up_days=settings.follow_up_days,
    )

"""Tier policy (scoring/tiers, scoring/tier_policy.yaml): table-driven, no database."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_test_helpers import answers_for_total

import scoring
from scoring.tiers import (
    CRITICAL_FLOOR_RULE,
    RISK_MODEL_RULE,
    AlertLimits,
    Tier,
    TierDecision,
    TierPolicyError,
    decide,
    default_policy,
    format_duration,
    load_policy,
    parse_duration,
    policy_path,
    policy_with_overrides,
    raise_tier,
)
from scoring.tiers.docs import render
from scoring.tiers.policy import MAX_FOLLOW_UP_DAY

ROOT = Path(scoring.__file__).resolve().parents[1]
GREEN, YELLOW, ORANGE, RED = Tier.GREEN, Tier.YELLOW, Tier.ORANGE, Tier.RED


# ----------------------------------------------------------------------------- helpers


def entry(code: str, answers: Any, profile: str | None = None) -> tuple[scoring.Result, Any]:
    return scoring.score(code, answers, profile), answers


def one(code: str, answers: Any, profile: str | None = None, policy: Any = None) -> TierDecision:
    return decide({code: entry(code, answers, profile)}, policy)


def total(code: str, t: int, **items: Any) -> dict[str, Any]:
    """Answers with keyed total `t`; PHQ items are filled in order, so item 9 stays 0 up to 24."""
    return answers_for_total(code, t, **items)


UPI_SCORED = [str(i) for i in range(1, 61) if i not in (5, 20, 35, 50)]
UPI_SPECIAL = {"8", "16", "25", "26"}


def upi(yes: int = 0, **items: Any) -> dict[str, Any]:
    """UPI answers with `yes` yes-answers on ordinary items (never 8, 16, 25, 26), then `items`."""
    plain = [i for i in UPI_SCORED if i not in UPI_SPECIAL]
    answers: dict[str, Any] = {i: False for i in UPI_SCORED}
    for i in plain[:yes]:
        answers[i] = True
    answers.update(items)
    return answers


SCL_HOSTILITY = ["11", "24", "63", "67", "74", "81"]


def scl90(**items: int) -> dict[str, Any]:
    answers: dict[str, Any] = {str(i): 1 for i in range(1, 91)}
    answers.update(items)
    return answers


def asq(i1: Any = False, i2: Any = False, i3: Any = False, i4: Any = False, **items: Any) -> dict[str, Any]:
    answers = {"1": i1, "2": i2, "3": i3, "4": i4}
    answers.update(items)
    return answers


def raw_answers(code: str, raw: int) -> dict[str, Any]:
    return answers_for_total(code, raw)


# ----------------------------------------------------------------------------- the table

# (case id, sitting builder, expected tier, expected fired rule ids in order)
CASES: list[tuple[str, dict[str, tuple[str, Any, str | None]], Tier, tuple[str, ...]]] = [
    # PHQ-9 totals: 9 green, 10 and 19 yellow, 20 orange
    ("phq9 total 9", {"phq9": ("phq9", total("phq9", 9), None)}, GREEN, ()),
    ("phq9 total 10", {"phq9": ("phq9", total("phq9", 10), None)}, YELLOW, ("phq9_total_yellow",)),
    ("phq9 total 19", {"phq9": ("phq9", total("phq9", 19), None)}, YELLOW, ("phq9_total_yellow",)),
    ("phq9 total 20", {"phq9": ("phq9", total("phq9", 20), None)}, ORANGE, ("phq9_total_orange",)),
    ("phq9 total 24", {"phq9": ("phq9", total("phq9", 24), None)}, ORANGE, ("phq9_total_orange",)),
    # The PHQ-A is banded as the PHQ-9: its totals tier the same way.
    ("phqa total 9", {"phqa": ("phqa", total("phqa", 9), None)}, GREEN, ()),
    ("phqa total 10", {"phqa": ("phqa", total("phqa", 10), None)}, YELLOW, ("phq9_total_yellow",)),
    ("phqa total 24", {"phqa": ("phqa", total("phqa", 24), None)}, ORANGE, ("phq9_total_orange",)),
    # PHQ-9 item 9: 0 nothing, 1 orange, 2 and 3 red
    ("phq9 item9=0", {"phq9": ("phq9", total("phq9", 0), None)}, GREEN, ()),
    ("phq9 item9=1", {"phq9": ("phq9", total("phq9", 0, **{"9": 1}), None)}, ORANGE, ("phq_item9_some",)),
    ("phq9 item9=2", {"phq9": ("phq9", total("phq9", 0, **{"9": 2}), None)}, RED, ("phq_item9_high",)),
    ("phq9 item9=3", {"phq9": ("phq9", total("phq9", 0, **{"9": 3}), None)}, RED, ("phq_item9_high",)),
    (
        "phq9 item9=2 total 12",
        {"phq9": ("phq9", total("phq9", 10, **{"9": 2}), None)},
        RED,
        ("phq_item9_high", "phq9_total_yellow"),
    ),
    # PHQ-A: item 9 and item 11; its totals have no default rule
    ("phqa item9=1", {"phqa": ("phqa", total("phqa", 0, **{"9": 1}), None)}, ORANGE, ("phq_item9_some",)),
    ("phqa item9=2", {"phqa": ("phqa", total("phqa", 0, **{"9": 2}), None)}, RED, ("phq_item9_high",)),
    ("phqa item11 yes", {"phqa": ("phqa", total("phqa", 0, **{"11": True}), None)}, RED, ("phqa_item11_yes",)),
    ("phqa item11 no", {"phqa": ("phqa", total("phqa", 0, **{"10": True, "11": False, "12": False}), None)}, GREEN, ()),
    # GAD-7: 9 green, 10 and 14 yellow, 15 orange
    ("gad7 total 9", {"gad7": ("gad7", total("gad7", 9), None)}, GREEN, ()),
    ("gad7 total 10", {"gad7": ("gad7", total("gad7", 10), None)}, YELLOW, ("gad7_total_yellow",)),
    ("gad7 total 14", {"gad7": ("gad7", total("gad7", 14), None)}, YELLOW, ("gad7_total_yellow",)),
    ("gad7 total 15", {"gad7": ("gad7", total("gad7", 15), None)}, ORANGE, ("gad7_total_orange",)),
    # K10: 21 green, 22 yellow
    ("k10 total 21", {"k10": ("k10", total("k10", 21), None)}, GREEN, ()),
    ("k10 total 22", {"k10": ("k10", total("k10", 22), None)}, YELLOW, ("k10_total_yellow",)),
    ("k10 total 50", {"k10": ("k10", total("k10", 50), None)}, YELLOW, ("k10_total_yellow",)),
    # CES-D: default cut-off 16; Chinese adolescent profiles 24 and 29
    ("cesd default 15", {"cesd": ("cesd", total("cesd", 15), None)}, GREEN, ()),
    ("cesd default 16", {"cesd": ("cesd", total("cesd", 16), None)}, YELLOW, ("cesd_screen_positive",)),
    ("cesd any 23", {"cesd": ("cesd", total("cesd", 23), "chinese_adolescent_any")}, GREEN, ()),
    ("cesd any 24", {"cesd": ("cesd", total("cesd", 24), "chinese_adolescent_any")}, YELLOW, ("cesd_screen_positive",)),
    ("cesd major 28", {"cesd": ("cesd", total("cesd", 28), "chinese_adolescent_major")}, GREEN, ()),
    (
        "cesd major 29",
        {"cesd": ("cesd", total("cesd", 29), "chinese_adolescent_major")},
        YELLOW,
        ("cesd_screen_positive",),
    ),
    # WHO-5: percent = raw x 4; raw 7 = 28% yellow, raw 8 = 32% green (29% is not reachable)
    ("who5 raw 7 = 28%", {"who5": ("who5", total("who5", 7), None)}, YELLOW, ("who5_percent_yellow",)),
    ("who5 raw 8 = 32%", {"who5": ("who5", total("who5", 8), None)}, GREEN, ()),
    ("who5 raw 0 = 0%", {"who5": ("who5", total("who5", 0), None)}, YELLOW, ("who5_percent_yellow",)),
    # SDS standard = floor(raw x 1.25): raw 50 -> 62 green, raw 51 -> 63 yellow
    ("sds standard 62", {"sds": ("sds", raw_answers("sds", 50), None)}, GREEN, ()),
    ("sds standard 63", {"sds": ("sds", raw_answers("sds", 51), None)}, YELLOW, ("sds_standard_yellow",)),
    # SAS: raw 47 -> 58 green (59 is not reachable), raw 48 -> 60 yellow
    ("sas standard 58", {"sas": ("sas", raw_answers("sas", 47), None)}, GREEN, ()),
    ("sas standard 60", {"sas": ("sas", raw_answers("sas", 48), None)}, YELLOW, ("sas_standard_yellow",)),
    # UPI classes
    ("upi class 3", {"upi": ("upi", upi(19), None)}, GREEN, ()),
    ("upi class 2 total 20", {"upi": ("upi", upi(20), None)}, YELLOW, ("upi_class_2",)),
    ("upi class 2 total 24", {"upi": ("upi", upi(24), None)}, YELLOW, ("upi_class_2",)),
    ("upi class 2 item 8", {"upi": ("upi", upi(0, **{"8": True}), None)}, YELLOW, ("upi_class_2",)),
    ("upi class 2 item 26", {"upi": ("upi", upi(0, **{"26": True}), None)}, YELLOW, ("upi_class_2",)),
    ("upi class 1 total 25", {"upi": ("upi", upi(25), None)}, ORANGE, ("upi_class_1",)),
    ("upi class 1 item 25", {"upi": ("upi", upi(0, **{"25": True}), None)}, ORANGE, ("upi_class_1",)),
    ("upi class 1 wants counselling", {"upi": ("upi", upi(0, wants_counselling=True), None)}, ORANGE, ("upi_class_1",)),
    # SCL-90: item 15 (1 no, 2 orange); screen_positive yellow
    ("scl90 all 1", {"scl90": ("scl90", scl90(), None)}, GREEN, ()),
    ("scl90 item15=1", {"scl90": ("scl90", scl90(**{"15": 1}), None)}, GREEN, ()),
    ("scl90 item15=2", {"scl90": ("scl90", scl90(**{"15": 2}), None)}, ORANGE, ("scl90_item15",)),
    (
        "scl90 factor > 2",
        {"scl90": ("scl90", scl90(**dict.fromkeys(SCL_HOSTILITY, 3)), None)},
        YELLOW,
        ("scl90_screen_positive",),
    ),
    (
        "scl90 positive and item15",
        {"scl90": ("scl90", scl90(**{"15": 3, **dict.fromkeys(SCL_HOSTILITY, 3)}), None)},
        ORANGE,
        ("scl90_item15", "scl90_screen_positive"),
    ),
    # ASQ paths
    ("asq negative", {"asq": ("asq", asq(), None)}, GREEN, ()),
    ("asq negative, item 5 no", {"asq": ("asq", asq(**{"5": False}), None)}, GREEN, ()),
    ("asq yes + item 5 no", {"asq": ("asq", asq(True, **{"5": False}), None)}, ORANGE, ("asq_non_acute_positive",)),
    (
        "asq declined + item 5 no",
        {"asq": ("asq", asq(i3="declined", **{"5": False}), None)},
        ORANGE,
        ("asq_non_acute_positive",),
    ),
    ("asq yes + item 5 yes", {"asq": ("asq", asq(True, **{"5": True}), None)}, RED, ("asq_acute_positive",)),
    ("asq yes + item 5 unanswered", {"asq": ("asq", asq(i4=True), None)}, RED, ("asq_acute_positive",)),
    (
        "asq declined + item 5 null",
        {"asq": ("asq", asq(i2="declined", **{"5": None}), None)},
        RED,
        ("asq_acute_positive",),
    ),
    ("asq negative + item 5 yes", {"asq": ("asq", asq(**{"5": True}), None)}, RED, ("asq_acute_positive",)),
    # empty sitting
    ("empty sitting", {}, GREEN, ()),
]


@pytest.mark.parametrize(("case", "spec", "tier", "rule_ids"), CASES, ids=[c[0] for c in CASES])
def test_default_rules_at_their_boundaries(
    case: str, spec: dict[str, Any], tier: Tier, rule_ids: tuple[str, ...]
) -> None:
    sitting = {key: entry(code, answers, profile) for key, (code, answers, profile) in spec.items()}
    for result, _ in sitting.values():
        assert result.valid, (case, result.problems)
    decision = decide(sitting)
    assert decision.tier is tier, case
    assert decision.rule_ids == rule_ids, case
    assert decision.unscored == ()


def test_who5_percent_boundary_28_vs_29_on_the_score() -> None:
    """Raw x 4 never gives 29, so check the rule's edge on results with those percent scores."""
    base = scoring.score("who5", total("who5", 8))
    for percent, tier in [(28, YELLOW), (29, GREEN)]:
        result = dataclasses.replace(base, scores=MappingProxyType({"total": percent // 4, "percent": percent}))
        assert decide({"who5": (result, {})}).tier is tier


def test_sds_and_sas_standard_boundaries_on_the_score() -> None:
    for code, low, high in [("sds", 62, 63), ("sas", 59, 60)]:
        base = scoring.score(code, raw_answers(code, 20))
        for standard, tier in [(low, GREEN), (high, YELLOW)]:
            result = dataclasses.replace(base, scores=MappingProxyType({"total": 40, "standard": standard}))
            assert decide({code: (result, {})}).tier is tier, (code, standard)


# ----------------------------------------------------------------------------- unscorable results


INVALID_CASES: list[tuple[str, str, dict[str, Any], Tier, tuple[str, ...]]] = [
    ("phq9 only item 9 = 2", "phq9", {"9": 2}, RED, ("phq_item9_high",)),
    ("phq9 only item 9 = 1", "phq9", {"9": 1}, ORANGE, ("phq_item9_some",)),
    ("phq9 only item 9 = 0", "phq9", {"9": 0}, GREEN, ()),
    ("phqa item 9 = 3, too many missing", "phqa", {"1": 0, "9": 3}, RED, ("phq_item9_high",)),
    ("phqa only item 11 yes", "phqa", {"11": True}, RED, ("phqa_item11_yes",)),
    ("phq9 malformed (unknown item) with item 9 = 2", "phq9", {"9": 2, "99": 1}, RED, ("phq_item9_high",)),
    ("phq9 malformed (out of range) with item 9 = 2", "phq9", {"1": 7, "9": 2}, RED, ("phq_item9_high",)),
    ("asq item 1 yes, 2-4 missing, 5 unanswered", "asq", {"1": True}, RED, ("asq_acute_positive",)),
    (
        "asq item 2 declined, others missing, 5 no",
        "asq",
        {"2": "declined", "5": False},
        ORANGE,
        ("asq_non_acute_positive",),
    ),
    ("asq only item 5 yes", "asq", {"5": True}, RED, ("asq_acute_positive",)),
    ("asq malformed with item 5 yes", "asq", {"1": True, "5": True, "6": False}, RED, ("asq_acute_positive",)),
    ("asq items 1-3 no, 4 missing", "asq", {"1": False, "2": False, "3": False}, GREEN, ()),
    ("scl90 only item 15 = 3", "scl90", {"15": 3}, ORANGE, ("scl90_item15",)),
    ("gad7 total unscorable", "gad7", {"1": 3, "2": 3}, GREEN, ()),
]


@pytest.mark.parametrize(
    ("case", "code", "answers", "tier", "rule_ids"), INVALID_CASES, ids=[c[0] for c in INVALID_CASES]
)
def test_unscorable_results_still_evaluate_item_rules(
    case: str, code: str, answers: dict[str, Any], tier: Tier, rule_ids: tuple[str, ...]
) -> None:
    result, raw = entry(code, answers)
    assert not result.valid
    decision = decide({code: (result, raw)})
    assert decision.tier is tier, case
    assert decision.rule_ids == rule_ids, case
    assert decision.unscored == (code,)


def test_sitting_where_nothing_could_be_scored_is_green_and_says_so() -> None:
    sitting = {"phq9": entry("phq9", {}), "gad7": entry("gad7", {"1": 0}), "who5": entry("who5", "not an object")}
    decision = decide(sitting)
    assert decision.tier is GREEN and decision.rules == ()
    assert decision.unscored == ("phq9", "gad7", "who5")
    assert decision.first_contact_limit is None and decision.follow_up_days == ()


def test_raw_values_are_typed_like_the_engine() -> None:
    # True is not an answer of 1 or 2 on a numeric item; numpy integers are.
    assert one("phq9", {"9": True}).tier is GREEN
    assert one("phq9", {"9": "2"}).tier is GREEN
    assert one("phq9", total("phq9", 0, **{"9": np.int64(2)})).tier is RED
    assert one("phqa", total("phqa", 0, **{"11": np.bool_(True)})).tier is RED
    assert one("phqa", {"11": 1}).tier is GREEN  # 1 is not "yes"


# ----------------------------------------------------------------------------- critical floor


@pytest.mark.parametrize(
    ("case", "code", "answers"),
    [
        ("phqa item 12 ever attempted", "phqa", total("phqa", 0, **{"12": True})),
        ("scl90 item 59", "scl90", scl90(**{"59": 2})),
        ("upi item 25 on an unscorable set", "upi", {"25": True}),
    ],
)
def test_a_fired_critical_item_is_never_green(case: str, code: str, answers: dict[str, Any]) -> None:
    result, raw = entry(code, answers)
    assert result.critical, case
    decision = decide({code: (result, raw)})
    assert decision.tier is ORANGE, case
    assert CRITICAL_FLOOR_RULE in decision.rule_ids
    floor = decision.rules[decision.rule_ids.index(CRITICAL_FLOOR_RULE)]
    assert floor.instrument == code and floor.tier is ORANGE


def test_floor_is_not_recorded_when_a_rule_already_reached_it() -> None:
    decision = one("phq9", total("phq9", 0, **{"9": 1}))
    assert decision.rule_ids == ("phq_item9_some",)


def test_floor_catches_a_critical_item_even_without_any_rule() -> None:
    raw = yaml.safe_load(policy_path().read_text(encoding="utf-8"))
    raw["rules"] = [r for r in raw["rules"] if r["instrument"] == "gad7"]
    bare = load_policy(raw)
    decision = one("phq9", total("phq9", 0, **{"9": 3}), policy=bare)
    assert decision.tier is ORANGE and decision.rule_ids == (CRITICAL_FLOOR_RULE,)


def test_floor_can_be_raised_to_red_not_lowered() -> None:
    strict = policy_with_overrides({"critical_floor": "red"})
    decision = one("phqa", total("phqa", 0, **{"12": True}), policy=strict)
    assert decision.tier is RED and decision.first_contact_limit == timedelta(hours=1)
    with pytest.raises(TierPolicyError) as err:
        policy_with_overrides({"critical_floor": "yellow"})
    assert err.value.problems[0][0] == "critical_floor"


# ----------------------------------------------------------------------------- several instruments


def test_highest_tier_wins_and_rules_are_listed_highest_first() -> None:
    sitting = {
        "phq9": entry("phq9", total("phq9", 12)),
        "gad7": entry("gad7", total("gad7", 16)),
        "asq": entry("asq", asq()),
    }
    decision = decide(sitting)
    assert decision.tier is ORANGE
    assert decision.rule_ids == ("gad7_total_orange", "phq9_total_yellow")
    assert decision.first_contact_limit == timedelta(hours=24)
    assert decision.follow_up_days == (7, 14, 21, 28)
    sitting["asq"] = entry("asq", asq(True, **{"5": True}))
    decision = decide(sitting)
    assert decision.tier is RED
    assert decision.rule_ids == ("asq_acute_positive", "gad7_total_orange", "phq9_total_yellow")
    assert [r.instrument for r in decision.rules] == ["asq", "gad7", "phq9"]


def test_order_of_the_sitting_does_not_change_the_decision() -> None:
    parts = [
        ("who5", entry("who5", total("who5", 3))),
        ("k10", entry("k10", total("k10", 30))),
        ("phq9", entry("phq9", total("phq9", 22))),
    ]
    a = decide(dict(parts))
    b = decide(dict(reversed(parts)))
    assert a == b
    assert a.rule_ids == ("phq9_total_orange", "k10_total_yellow", "who5_percent_yellow")


def test_same_rule_on_phq9_and_phqa_is_recorded_per_instrument() -> None:
    sitting = {"phq9": entry("phq9", total("phq9", 0, **{"9": 2})), "phqa": entry("phqa", total("phqa", 0, **{"9": 1}))}
    decision = decide(sitting)
    assert decision.tier is RED
    assert [(r.id, r.instrument) for r in decision.rules] == [("phq_item9_high", "phq9"), ("phq_item9_some", "phqa")]


@pytest.mark.parametrize(
    ("tier", "limit", "follow"),
    [
        (RED, timedelta(hours=1), (1, 2, 3, 10, 17, 24, 31)),  # daily for 3 days, then weekly for 4 weeks
        (ORANGE, timedelta(hours=24), (7, 14, 21, 28)),  # weekly for 4 weeks
        (YELLOW, timedelta(days=7), (14, 28, 42)),  # every 2 weeks for 6 weeks
        (GREEN, None, ()),
    ],
)
def test_default_schedules(tier: Tier, limit: timedelta | None, follow: tuple[int, ...]) -> None:
    settings = default_policy().tiers[tier]
    assert settings.first_contact_limit == limit and settings.follow_up_days == follow


def test_sitting_is_checked() -> None:
    result, answers = entry("phq9", total("phq9", 3))
    with pytest.raises(ValueError, match="gad7"):
        decide({"gad7": (result, answers)})
    with pytest.raises(TypeError, match="raw answers are required"):
        decide({"phq9": (result, None)})  # type: ignore[dict-item]


def test_decision_is_frozen_and_serialises() -> None:
    decision = one("phq9", total("phq9", 0, **{"9": 2}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.tier = GREEN  # type: ignore[misc]
    data = decision.to_dict()
    assert (
        data["tier"] == "red"
        and data["first_contact_limit"] == "PT1H"
        and data["follow_up_days"] == [1, 2, 3, 10, 17, 24, 31]
    )
    assert data["rules"][0]["id"] == "phq_item9_high" and set(data["rules"][0]["description"]) == {"en", "zh-hans"}
    assert data["policy_version"] == 3 and len(data["policy_fingerprint"]) == 16
    json.dumps(data)


# ----------------------------------------------------------------------------- overrides


def test_override_disables_a_yellow_rule() -> None:
    school = policy_with_overrides({"rules": {"phq9_total_yellow": {"enabled": False}}})
    answers = total("phq9", 12)
    assert one("phq9", answers).tier is YELLOW
    assert one("phq9", answers, policy=school).tier is GREEN
    assert one("phq9", total("phq9", 21), policy=school).tier is ORANGE
    assert school.overridden and not default_policy().overridden
    assert school.fingerprint != default_policy().fingerprint
    assert default_policy().rule("phq9_total_yellow").enabled  # the default is untouched


def test_override_changes_a_limit_and_a_rhythm() -> None:
    school = policy_with_overrides(
        {"limits": {"red": "PT30M", "yellow": "P5D"}, "follow_up": {"orange": [3, 7, 14, 28]}}
    )
    red = one("phq9", total("phq9", 0, **{"9": 3}), policy=school)
    assert red.first_contact_limit == timedelta(minutes=30)
    assert red.to_dict()["first_contact_limit"] == "PT30M"
    assert school.tiers[YELLOW].first_contact_limit == timedelta(days=5)
    assert one("gad7", total("gad7", 18), policy=school).follow_up_days == (3, 7, 14, 28)
    assert school.tiers[ORANGE].first_contact_limit == timedelta(hours=24)  # untouched


def test_override_can_change_a_tier_and_add_a_rule() -> None:
    school = policy_with_overrides(
        {
            "rules": {"k10_total_yellow": {"tier": "orange"}, "phq_item9_some": {"tier": "red"}},
            "add_rules": [
                {
                    "id": "phq9_shanghai_yellow",
                    "tier": "yellow",
                    "instrument": "phq9",
                    "when": {"score": "total", "between": [7, 9]},
                    "description": {
                        "en": "PHQ-9 total 7-9: some need for support.",
                        "zh-hans": "PHQ-9总分7–9：存在一定的支持需求。",
                    },
                    "source": "Wang et al. 2014 (Shanghai cut-off 7)",
                }
            ],
        }
    )
    assert one("k10", total("k10", 25), policy=school).tier is ORANGE
    assert one("phq9", total("phq9", 0, **{"9": 1}), policy=school).tier is RED
    assert one("phq9", total("phq9", 7), policy=school).rule_ids == ("phq9_shanghai_yellow",)
    assert one("phq9", total("phq9", 6), policy=school).tier is GREEN


def test_overrides_apply_on_top_of_an_overridden_policy() -> None:
    school = policy_with_overrides({"rules": {"phq9_total_yellow": {"enabled": False}}})
    again = school.with_overrides({"limits": {"red": "PT45M"}})
    assert not again.rule("phq9_total_yellow").enabled and again.tiers[RED].first_contact_limit == timedelta(minutes=45)
    assert policy_with_overrides(None) is default_policy()
    assert policy_with_overrides({}) == default_policy()


LOCKED = [
    "asq_acute_positive",
    "phq_item9_high",
    "phqa_item11_yes",
    "asq_non_acute_positive",
    "phq_item9_some",
    "scl90_item15",
]


def test_the_safety_rules_are_locked() -> None:
    assert sorted(r.id for r in default_policy().rules if r.locked) == sorted(LOCKED)


@pytest.mark.parametrize("rule_id", LOCKED)
def test_a_locked_rule_cannot_be_disabled(rule_id: str) -> None:
    with pytest.raises(TierPolicyError) as err:
        policy_with_overrides({"rules": {rule_id: {"enabled": False}}})
    assert err.value.problems == ((f"rules.{rule_id}.enabled", "this is a locked safety rule and cannot be disabled"),)
    assert f"rules.{rule_id}.enabled" in str(err.value)


@pytest.mark.parametrize(
    ("rule_id", "lower"), [("phq_item9_high", "orange"), ("asq_acute_positive", "yellow"), ("phq_item9_some", "yellow")]
)
def test_a_locked_rule_cannot_be_lowered(rule_id: str, lower: str) -> None:
    with pytest.raises(TierPolicyError) as err:
        policy_with_overrides({"rules": {rule_id: {"tier": lower}}})
    assert err.value.problems[0][0] == f"rules.{rule_id}.tier"


BAD_OVERRIDES: list[tuple[str, Any, str]] = [
    ("not a mapping", ["rules"], "(top level)"),
    ("unknown top-level key", {"rule": {}}, "rule"),
    ("unknown rule id", {"rules": {"phq9_total_yelow": {"enabled": False}}}, "rules.phq9_total_yelow"),
    ("enabled not a bool", {"rules": {"phq9_total_yellow": {"enabled": 0}}}, "rules.phq9_total_yellow.enabled"),
    ("unknown rule key", {"rules": {"phq9_total_yellow": {"threshold": 12}}}, "rules.phq9_total_yellow"),
    ("rule tier green", {"rules": {"phq9_total_yellow": {"tier": "green"}}}, "rules.phq9_total_yellow.tier"),
    ("rules not a mapping", {"rules": ["phq9_total_yellow"]}, "rules"),
    ("limit not ISO 8601", {"limits": {"red": "1 hour"}}, "limits.red"),
    ("limit a number", {"limits": {"red": 60}}, "limits.red"),
    ("limit unknown tier", {"limits": {"purple": "PT1H"}}, "limits.purple"),
    ("red removed", {"limits": {"red": None}}, "limits.red"),
    ("red too long", {"limits": {"red": "P2D"}}, "limits.red"),
    ("zero limit", {"limits": {"orange": "PT0M"}}, "limits.orange"),
    ("yellow over 90 days", {"limits": {"yellow": "P91D"}}, "limits.yellow"),
    ("orange faster than red", {"limits": {"red": "PT12H", "orange": "PT6H"}}, "limits.orange"),
    ("yellow faster than orange", {"limits": {"yellow": "PT12H"}}, "limits.yellow"),
    ("green limit", {"limits": {"green": "P30D"}}, "limits.green"),
    ("follow-ups not increasing", {"follow_up": {"orange": [14, 7]}}, "follow_up.orange"),
    ("follow-up not whole days", {"follow_up": {"orange": [1.5]}}, "follow_up.orange"),
    ("follow-up over a year", {"follow_up": {"yellow": [400]}}, "follow_up.yellow"),
    ("red without follow-ups", {"follow_up": {"red": []}}, "follow_up.red"),
    ("green follow-ups", {"follow_up": {"green": [30]}}, "follow_up.green"),
    ("floor unknown", {"critical_floor": "crimson"}, "critical_floor"),
    ("add_rules not a list", {"add_rules": {}}, "add_rules"),
    ("added rule clashes", {"add_rules": [{**default_policy().rule("k10_total_yellow").to_dict()}]}, "add_rules[0].id"),
    (
        "added rule with a band the instrument lacks",
        {
            "add_rules": [
                {
                    "id": "x",
                    "tier": "yellow",
                    "instrument": "phq9",
                    "when": {"band": ["at_risk"]},
                    "description": {"en": "x", "zh-hans": "x"},
                    "source": "x",
                }
            ]
        },
        "add_rules[0].when.band",
    ),
    (
        "added rule with an unknown item",
        {
            "add_rules": [
                {
                    "id": "x",
                    "tier": "yellow",
                    "instrument": ["phq9", "phqa"],
                    "when": {"item": "11", "eq": True},
                    "description": {"en": "x", "zh-hans": "x"},
                    "source": "x",
                }
            ]
        },
        "add_rules[0].when.item",
    ),
    ("added rule missing fields", {"add_rules": [{"id": "x", "tier": "yellow"}]}, "add_rules[0].instrument"),
]


@pytest.mark.parametrize(("case", "overrides", "field"), BAD_OVERRIDES, ids=[c[0] for c in BAD_OVERRIDES])
def test_invalid_overrides_name_the_field(case: str, overrides: Any, field: str) -> None:
    with pytest.raises(TierPolicyError) as err:
        policy_with_overrides(overrides)
    assert field in [f for f, _ in err.value.problems], (case, err.value.problems)
    assert isinstance(err.value, ValueError) and isinstance(err.value, scoring.ScoringError)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(TierPolicyError) as err:
        policy_with_overrides(
            {
                "rules": {"phq_item9_high": {"enabled": False}, "nope": {"enabled": True}},
                "limits": {"red": "soon"},
                "colour": "blue",
            }
        )
    fields = [f for f, _ in err.value.problems]
    assert fields == ["colour", "rules.phq_item9_high.enabled", "rules.nope", "limits.red"]


def test_raising_a_locked_rule_or_keeping_it_is_allowed() -> None:
    school = policy_with_overrides(
        {"rules": {"asq_non_acute_positive": {"tier": "red", "enabled": True}, "phq_item9_high": {"tier": "red"}}}
    )
    assert school.rule("asq_non_acute_positive").tier is RED
    assert one("asq", asq(True, **{"5": False}), policy=school).tier is RED


# ----------------------------------------------------------------------------- risk model


def test_raise_tier_raises_and_records_the_model() -> None:
    allows_two = policy_with_overrides({"risk_model_max_raise": 2})
    decision = one("phq9", total("phq9", 3), policy=allows_two)
    assert decision.tier is GREEN
    raised = raise_tier(decision, ORANGE, "risk model v3: high predicted risk")
    assert raised.tier is ORANGE
    assert raised.rule_ids == (RISK_MODEL_RULE,)
    assert raised.rules[0].instrument is None and raised.rules[0].tier is ORANGE
    assert raised.first_contact_limit == timedelta(hours=24) and raised.follow_up_days == (7, 14, 21, 28)
    assert decision.tier is GREEN  # the input is untouched


def test_raise_tier_goes_no_further_than_the_policys_allowance() -> None:
    assert default_policy().risk_model.max_raise == 1
    green = one("phq9", total("phq9", 3))
    capped = raise_tier(green, RED, "risk model v3")
    assert capped.tier is YELLOW and capped.rules[0].tier is YELLOW  # one tier above the rules' green
    never = one("phq9", total("phq9", 3), policy=policy_with_overrides({"risk_model_max_raise": 0}))
    assert raise_tier(never, RED, "risk model v3") is never
    with pytest.raises(TierPolicyError):
        policy_with_overrides({"risk_model_max_raise": 4})


@given(
    phq9=st.lists(st.integers(0, 3), min_size=9, max_size=9),
    gad7=st.lists(st.integers(0, 3), min_size=7, max_size=7),
    model=st.sampled_from(list(Tier)),
    allowance=st.integers(0, 3),
)
@settings(max_examples=300, deadline=None)
def test_the_model_never_lowers_a_tier_and_never_raises_past_the_allowance(
    phq9: list[int], gad7: list[int], model: Tier, allowance: int
) -> None:
    policy = policy_with_overrides({"risk_model_max_raise": allowance})
    sitting = {
        "phq9": entry("phq9", {str(i + 1): v for i, v in enumerate(phq9)}),
        "gad7": entry("gad7", {str(i + 1): v for i, v in enumerate(gad7)}),
    }
    rules_only = decide(sitting, policy)
    out = raise_tier(rules_only, model, "risk model v3")
    assert out.tier >= rules_only.tier  # never lower
    assert out.tier.rank <= rules_only.tier.rank + allowance  # never past the allowance
    assert out.tier is max(rules_only.tier, min(model, Tier(list(Tier)[min(rules_only.tier.rank + allowance, 3)])))
    assert set(rules_only.rule_ids) <= set(out.rule_ids)  # the rules that fired stay on record


@pytest.mark.parametrize("model", [GREEN, YELLOW, ORANGE, RED, "green", "yellow", "orange", "red"])
def test_raise_tier_never_lowers(model: Tier | str) -> None:
    red = one("phq9", total("phq9", 0, **{"9": 3}))
    out = raise_tier(red, model, {"en": "risk model v3", "zh-hans": "风险模型 v3"})
    assert out.tier is RED
    assert out.first_contact_limit == timedelta(hours=1)
    assert out.rule_ids[0] == "phq_item9_high"


def test_raise_tier_keeps_the_school_schedule_and_ignores_green() -> None:
    school = policy_with_overrides({"limits": {"orange": "PT12H"}})
    decision = one("phq9", total("phq9", 12), policy=school)
    assert decision.tier is YELLOW
    raised = raise_tier(decision, "orange", "risk model v3")
    assert raised.first_contact_limit == timedelta(hours=12)
    assert raised.rule_ids == (RISK_MODEL_RULE, "phq9_total_yellow")
    assert raise_tier(decision, GREEN, "risk model v3") is decision
    with pytest.raises(ValueError):
        raise_tier(decision, "purple", "risk model v3")
    with pytest.raises(ValueError):
        raise_tier(decision, ORANGE, "  ")


# ----------------------------------------------------------------------------- follow-up rhythm, red alerts


def test_the_published_rhythms_pass_the_schedule_checks_as_overrides() -> None:
    policy = default_policy()
    assert max(d for s in policy.tiers.values() for d in s.follow_up_days) <= MAX_FOLLOW_UP_DAY
    again = policy_with_overrides({"follow_up": {t.value: list(s.follow_up_days) for t, s in policy.tiers.items()}})
    assert again == policy and again.overridden
    longer = policy_with_overrides({"follow_up": {"red": [1, 2, 3, 10, 17, 24, 31, MAX_FOLLOW_UP_DAY]}})
    assert longer.tiers[RED].follow_up_days[-1] == MAX_FOLLOW_UP_DAY


def test_default_alert_limits() -> None:
    alerts = default_policy().alerts
    assert isinstance(alerts, AlertLimits)
    assert (alerts.acknowledge_within, alerts.hospital_after) == (timedelta(minutes=15), timedelta(minutes=30))
    assert alerts.source.startswith("Xinqiao project default") and "\n" not in alerts.source
    assert default_policy().to_dict()["alerts"] == {
        "acknowledge_within": "PT15M",
        "hospital_after": "PT30M",
        "source": alerts.source,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        alerts.hospital_after = timedelta(hours=1)  # type: ignore[misc]


GOOD_ALERT_OVERRIDES: list[tuple[dict[str, Any], timedelta, timedelta, str, str]] = [
    ({"alert_acknowledge_within": "PT1M"}, timedelta(minutes=1), timedelta(minutes=30), "PT1M", "PT30M"),
    ({"alert_acknowledge_within": "PT29M"}, timedelta(minutes=29), timedelta(minutes=30), "PT29M", "PT30M"),
    ({"alert_hospital_after": "PT16M"}, timedelta(minutes=15), timedelta(minutes=16), "PT15M", "PT16M"),
    ({"alert_hospital_after": "PT24H"}, timedelta(minutes=15), timedelta(hours=24), "PT15M", "P1D"),
    ({"alert_hospital_after": "P1D"}, timedelta(minutes=15), timedelta(hours=24), "PT15M", "P1D"),
    (
        {"alert_acknowledge_within": "PT1H", "alert_hospital_after": "PT1H1M"},
        timedelta(hours=1),
        timedelta(minutes=61),
        "PT1H",
        "PT1H1M",
    ),
    (
        {"alert_acknowledge_within": "PT10M", "alert_hospital_after": "PT2H"},
        timedelta(minutes=10),
        timedelta(hours=2),
        "PT10M",
        "PT2H",
    ),
]


@pytest.mark.parametrize(("overrides", "acknowledge", "hospital", "ack_iso", "hospital_iso"), GOOD_ALERT_OVERRIDES)
def test_valid_alert_overrides(
    overrides: dict[str, Any], acknowledge: timedelta, hospital: timedelta, ack_iso: str, hospital_iso: str
) -> None:
    school = policy_with_overrides(overrides)
    assert (school.alerts.acknowledge_within, school.alerts.hospital_after) == (acknowledge, hospital)
    assert school.alerts.source == default_policy().alerts.source
    data = school.to_dict()["alerts"]
    assert (data["acknowledge_within"], data["hospital_after"]) == (ack_iso, hospital_iso)
    assert school.overridden and school.version == default_policy().version
    assert school.fingerprint != default_policy().fingerprint
    assert school.tiers == default_policy().tiers and school.risk_model == default_policy().risk_model


def test_alert_overrides_equal_to_the_defaults_keep_the_fingerprint() -> None:
    same = policy_with_overrides({"alert_acknowledge_within": "PT15M", "alert_hospital_after": "PT30M"})
    assert same == default_policy() and same.fingerprint == default_policy().fingerprint


def test_alert_overrides_are_checked_on_the_combined_result() -> None:
    later = policy_with_overrides({"alert_hospital_after": "PT2H"})
    slower = later.with_overrides({"alert_acknowledge_within": "PT45M"})  # 45 minutes < 2 hours: fine
    assert (slower.alerts.acknowledge_within, slower.alerts.hospital_after) == (
        timedelta(minutes=45),
        timedelta(hours=2),
    )
    with pytest.raises(TierPolicyError) as err:
        policy_with_overrides({"alert_acknowledge_within": "PT45M"})  # the default hospital_after is 30 minutes
    assert [f for f, _ in err.value.problems] == ["alert_acknowledge_within"]


BAD_ALERT_OVERRIDES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("acknowledge not ISO 8601", {"alert_acknowledge_within": "15 minutes"}, ["alert_acknowledge_within"]),
    ("acknowledge a number", {"alert_acknowledge_within": 15}, ["alert_acknowledge_within"]),
    ("acknowledge null", {"alert_acknowledge_within": None}, ["alert_acknowledge_within"]),
    ("acknowledge in seconds", {"alert_acknowledge_within": "PT30S"}, ["alert_acknowledge_within"]),
    ("acknowledge zero", {"alert_acknowledge_within": "PT0M"}, ["alert_acknowledge_within"]),
    (
        "acknowledge over an hour",
        {"alert_acknowledge_within": "PT61M", "alert_hospital_after": "PT2H"},
        ["alert_acknowledge_within"],
    ),
    ("acknowledge equal to hospital", {"alert_acknowledge_within": "PT30M"}, ["alert_acknowledge_within"]),
    ("hospital not ISO 8601", {"alert_hospital_after": "half an hour"}, ["alert_hospital_after"]),
    ("hospital a list", {"alert_hospital_after": ["PT30M"]}, ["alert_hospital_after"]),
    ("hospital null", {"alert_hospital_after": None}, ["alert_hospital_after"]),
    ("hospital equal to acknowledge", {"alert_hospital_after": "PT15M"}, ["alert_hospital_after"]),
    ("hospital before acknowledge", {"alert_hospital_after": "PT10M"}, ["alert_hospital_after"]),
    ("hospital over 24 hours", {"alert_hospital_after": "PT24H1M"}, ["alert_hospital_after"]),
    ("hospital two days", {"alert_hospital_after": "P2D"}, ["alert_hospital_after"]),
    (
        "both given, order broken",
        {"alert_acknowledge_within": "PT20M", "alert_hospital_after": "PT20M"},
        ["alert_hospital_after"],
    ),
    (
        "both given, acknowledge too long and order broken",
        {"alert_acknowledge_within": "PT2H", "alert_hospital_after": "PT1H"},
        ["alert_acknowledge_within", "alert_hospital_after"],
    ),
    (
        "both malformed",
        {"alert_acknowledge_within": "soon", "alert_hospital_after": "P2D"},
        ["alert_acknowledge_within", "alert_hospital_after"],
    ),
    ("misspelt key", {"alert_acknowledge": "PT10M"}, ["alert_acknowledge"]),
]


@pytest.mark.parametrize(("case", "overrides", "fields"), BAD_ALERT_OVERRIDES, ids=[c[0] for c in BAD_ALERT_OVERRIDES])
def test_invalid_alert_overrides_name_the_field(case: str, overrides: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(TierPolicyError) as err:
        policy_with_overrides(overrides)
    assert [f for f, _ in err.value.problems] == fields, (case, err.value.problems)
    assert all(field in str(err.value) for field in fields)


BAD_ALERT_BLOCKS: list[tuple[str, Any, list[str]]] = [
    ("missing", None, ["alerts"]),
    ("not a mapping", "PT15M", ["alerts"]),
    ("source missing", {"acknowledge_within": "PT15M", "hospital_after": "PT30M"}, ["alerts"]),
    ("unknown key", {"acknowledge_within": "PT15M", "hospital_after": "PT30M", "source": "x", "sms": True}, ["alerts"]),
    ("empty source", {"acknowledge_within": "PT15M", "hospital_after": "PT30M", "source": " "}, ["alerts.source"]),
    (
        "acknowledge null",
        {"acknowledge_within": None, "hospital_after": "PT30M", "source": "x"},
        ["alerts.acknowledge_within"],
    ),
    (
        "acknowledge not ISO",
        {"acknowledge_within": "15m", "hospital_after": "PT30M", "source": "x"},
        ["alerts.acknowledge_within"],
    ),
    (
        "acknowledge zero",
        {"acknowledge_within": "PT0M", "hospital_after": "PT30M", "source": "x"},
        ["alerts.acknowledge_within"],
    ),
    (
        "acknowledge over an hour",
        {"acknowledge_within": "PT90M", "hospital_after": "PT2H", "source": "x"},
        ["alerts.acknowledge_within"],
    ),
    (
        "acknowledge after hospital",
        {"acknowledge_within": "PT45M", "hospital_after": "PT30M", "source": "x"},
        ["alerts.hospital_after"],
    ),
    (
        "hospital null",
        {"acknowledge_within": "PT15M", "hospital_after": None, "source": "x"},
        ["alerts.hospital_after"],
    ),
    (
        "hospital equal",
        {"acknowledge_within": "PT15M", "hospital_after": "PT15M", "source": "x"},
        ["alerts.hospital_after"],
    ),
    (
        "hospital over 24 hours",
        {"acknowledge_within": "PT15M", "hospital_after": "PT25H", "source": "x"},
        ["alerts.hospital_after"],
    ),
]


@pytest.mark.parametrize(("case", "block", "fields"), BAD_ALERT_BLOCKS, ids=[c[0] for c in BAD_ALERT_BLOCKS])
def test_policy_file_alert_problems_name_the_field(case: str, block: Any, fields: list[str]) -> None:
    raw = yaml.safe_load(policy_path().read_text(encoding="utf-8"))
    if block is None:
        del raw["alerts"]
    else:
        raw["alerts"] = block
    with pytest.raises(TierPolicyError) as err:
        load_policy(raw, origin="test file")
    assert [f for f, _ in err.value.problems] == fields, (case, err.value.problems)


@pytest.mark.parametrize(("acknowledge", "hospital"), [("PT1M", "PT2M"), ("PT1H", "PT24H"), ("PT15M", "P1D")])
def test_policy_file_alert_limits_at_the_bounds_load(acknowledge: str, hospital: str) -> None:
    raw = yaml.safe_load(policy_path().read_text(encoding="utf-8"))
    raw["alerts"] = {"acknowledge_within": acknowledge, "hospital_after": hospital, "source": "  a\n school  "}
    alerts = load_policy(raw).alerts
    assert alerts == AlertLimits(parse_duration(acknowledge), parse_duration(hospital), "a school")


def test_policy_command_reports_alert_overrides() -> None:
    run = [sys.executable, "-m", "scoring.tiers", "policy", "--overrides"]
    ok = subprocess.run(
        [*run, '{"alert_acknowledge_within": "PT10M"}'], cwd=ROOT, capture_output=True, text=True, encoding="utf-8"
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["alerts"]["acknowledge_within"] == "PT10M"
    bad = subprocess.run(
        [*run, '{"alert_hospital_after": "P2D"}'], cwd=ROOT, capture_output=True, text=True, encoding="utf-8"
    )
    assert bad.returncode == 2 and bad.stderr.startswith("alert_hospital_after: ")


def test_docs_show_the_alert_limits_and_their_override_keys() -> None:
    page = render()
    assert "## Red alert escalation" in page
    assert "within **15 minutes**" in page and "**30 minutes** after it was raised" in page
    assert default_policy().alerts.source in page
    assert "`alert_acknowledge_within`, `alert_hospital_after`" in page


# ----------------------------------------------------------------------------- wording, docs, file


DIAGNOSTIC = ["disorder", "diagnos", "患有", "确诊", "障碍", "诊断"]


def test_no_description_uses_diagnostic_words() -> None:
    policy = default_policy()
    texts = [t for r in policy.rules for t in r.description.values()]
    texts += list(policy.critical_floor.description.values())
    texts += [t for s in policy.tiers.values() for t in s.meaning.values()]
    assert len(texts) == 2 * len(policy.rules) + 2 + 8
    for text in texts:
        for word in DIAGNOSTIC:
            assert word not in text.lower(), (word, text)


def test_every_rule_is_documented_in_both_languages_with_a_source() -> None:
    for rule in default_policy().rules:
        assert rule.description["en"] and rule.description["zh-hans"] and rule.source, rule.id
        assert rule.tier is not GREEN


def test_the_default_rules_are_exactly_these() -> None:
    expected = {
        "asq_acute_positive": (RED, ("asq",)),
        "phq_item9_high": (RED, ("phq9", "phqa")),
        "phqa_item11_yes": (RED, ("phqa",)),
        "asq_non_acute_positive": (ORANGE, ("asq",)),
        "phq_item9_some": (ORANGE, ("phq9", "phqa")),
        "phq9_total_orange": (ORANGE, ("phq9", "phqa")),
        "gad7_total_orange": (ORANGE, ("gad7",)),
        "upi_class_1": (ORANGE, ("upi",)),
        "scl90_item15": (ORANGE, ("scl90",)),
        "phq9_total_yellow": (YELLOW, ("phq9", "phqa")),
        "gad7_total_yellow": (YELLOW, ("gad7",)),
        "k10_total_yellow": (YELLOW, ("k10",)),
        "cesd_screen_positive": (YELLOW, ("cesd",)),
        "who5_percent_yellow": (YELLOW, ("who5",)),
        "sds_standard_yellow": (YELLOW, ("sds",)),
        "sas_standard_yellow": (YELLOW, ("sas",)),
        "upi_class_2": (YELLOW, ("upi",)),
        "scl90_screen_positive": (YELLOW, ("scl90",)),
    }
    assert {r.id: (r.tier, r.instruments) for r in default_policy().rules} == expected
    assert default_policy().critical_floor.tier is ORANGE


def test_committed_docs_equal_generated_output() -> None:
    committed = (ROOT / "docs" / "tiers.md").read_text(encoding="utf-8")
    assert committed == render(), "regenerate: python -m scoring.tiers docs --out docs/tiers.md"


def test_docs_list_every_rule_and_the_schedules() -> None:
    page = render()
    for rule in default_policy().rules:
        assert f"#### {rule.id}" in page and rule.source in page and rule.description["zh-hans"] in page
    assert "| 1 hour | +1, +2, +3, +10, +17, +24, +31 |" in page and "| 7 days | +14, +28, +42 |" in page


def test_docs_and_policy_commands(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "scoring.tiers"]
    out = subprocess.run([*run, "docs"], cwd=ROOT, check=True, capture_output=True, text=True, encoding="utf-8").stdout
    assert out == render()
    target = tmp_path / "tiers.md"
    subprocess.run([*run, "docs", "--out", str(target)], cwd=ROOT, check=True)
    assert target.read_text(encoding="utf-8") == render()
    ok = subprocess.run(
        [*run, "policy", "--overrides", '{"limits": {"red": "PT30M"}}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["tiers"]["red"]["first_contact"] == "PT30M"
    bad = subprocess.run(
        [*run, "policy", "--overrides", '{"rules": {"phq_item9_high": {"enabled": false}}}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert bad.returncode == 2 and "rules.phq_item9_high.enabled" in bad.stderr


def test_policy_file_problems_name_the_field() -> None:
    raw = yaml.safe_load(policy_path().read_text(encoding="utf-8"))
    broken = copy.deepcopy(raw)
    broken["rules"][5]["when"] = {"score": "totl", "gte": 20}
    broken["rules"][6]["instrument"] = "gad8"
    broken["rules"][9]["description"] = {"en": "only English"}
    broken["rules"][10]["id"] = broken["rules"][11]["id"]
    broken["tiers"]["red"]["first_contact"] = "PT2H"
    broken["tiers"]["orange"]["first_contact"] = "PT1H"
    with pytest.raises(TierPolicyError) as err:
        load_policy(broken, origin="test file")
    fields = [f for f, _ in err.value.problems]
    assert fields == [
        "tiers.orange.first_contact",
        "rules[5].when.score",
        "rules[6].instrument",
        "rules[9].description",
        "rules[11].id",
    ]
    assert str(err.value).startswith("invalid test file: ")
    assert load_policy(raw) == default_policy()


def test_conditions_are_checked_against_the_instruments() -> None:
    raw = yaml.safe_load(policy_path().read_text(encoding="utf-8"))
    for when, field in [
        ({"item": "9", "eq": True}, "rules[0].when.eq"),  # 9 is numeric
        ({"item": "9", "eq": 4}, "rules[0].when.eq"),  # not an option
        ({"item": 9, "gte": 2}, "rules[0].when.item"),  # ids are strings
        ({"item": "9", "gte": 2, "eq": 1}, "rules[0].when"),
        ({"band": "severe"}, "rules[0].when.band"),
        ({"score": "total", "between": [19, 10]}, "rules[0].when.between"),
        ({"any": []}, "rules[0].when.any"),
        ({"total": 20}, "rules[0].when"),
        ({"any_item": ["1", "99"], "in": [2]}, "rules[0].when.any_item[1]"),
    ]:
        broken = copy.deepcopy(raw)
        broken["rules"] = [{**raw["rules"][1], "when": when}]
        with pytest.raises(TierPolicyError) as err:
            load_policy(broken)
        assert [f for f, _ in err.value.problems] == [field], when


# ----------------------------------------------------------------------------- small parts


def test_tiers_are_ordered() -> None:
    assert (
        GREEN < YELLOW < ORANGE < RED
        and max(YELLOW, RED, ORANGE) is RED
        and sorted([RED, GREEN, ORANGE, YELLOW]) == [GREEN, YELLOW, ORANGE, RED]
    )
    assert Tier("red") is RED and RED.label("zh-hans") == "红" and GREEN.label() == "Green"
    assert [t.label("zh-hans") for t in (RED, ORANGE, YELLOW, GREEN)] == ["红", "橙", "黄", "绿"]


@pytest.mark.parametrize(
    ("text", "delta", "iso"),
    [
        ("PT1H", timedelta(hours=1), "PT1H"),
        ("PT30M", timedelta(minutes=30), "PT30M"),
        ("PT24H", timedelta(hours=24), "P1D"),
        ("P7D", timedelta(days=7), "P7D"),
        ("P1W", timedelta(days=7), "P7D"),
        ("P1DT2H", timedelta(days=1, hours=2), "PT26H"),
        ("PT1H30M", timedelta(minutes=90), "PT1H30M"),
    ],
)
def test_durations(text: str, delta: timedelta, iso: str) -> None:
    assert parse_duration(text) == delta
    assert format_duration(delta) == iso
    assert parse_duration(format_duration(delta)) == delta


@pytest.mark.parametrize("text", ["", "P", "PT", "1H", "PT1S", "P1Y", "pt1h", "PT-1H", "P1.5D"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_tiers_package_does_not_import_django() -> None:
    code = (
        "import sys, scoring.tiers\n"
        "scoring.tiers.decide({})\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)

"""The tier policy: tiers, rules, per-tier schedules, loading from YAML and per-school overrides.

The default policy lives in ONE place, ``scoring/tier_policy.yaml``; docs/tiers.md is generated
from it. Everything here is pure data and plain functions (no Django).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import Enum
from functools import cache, cached_property
from importlib import resources
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scoring.definition import instrument, instrument_codes, read_yaml
from scoring.errors import ScoringError
from scoring.tiers.conditions import ConditionError, Test, compile_condition

LANGS = ("en", "zh-hans")
CRITICAL_FLOOR_RULE = "critical_item_floor"
POLICY_FILE = "tier_policy.yaml"

# ----------------------------------------------------------------------------- tiers


class Tier(Enum):
    """Colour tiers, ordered GREEN < YELLOW < ORANGE < RED. ``value`` is the English name."""

    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        """0 for green up to 3 for red."""
        return _RANK[self]

    def label(self, lang: str = "en") -> str:
        """Display name: Red / 红, ..."""
        return _LABELS[self][0 if lang == "en" else 1]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return _RANK[self] < _RANK[other]

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return _RANK[self] <= _RANK[other]

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return _RANK[self] > _RANK[other]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return _RANK[self] >= _RANK[other]


_RANK = {t: i for i, t in enumerate(Tier)}
BY_RANK = tuple(Tier)
_LABELS = {
    Tier.GREEN: ("Green", "绿"),
    Tier.YELLOW: ("Yellow", "黄"),
    Tier.ORANGE: ("Orange", "橙"),
    Tier.RED: ("Red", "红"),
}
_TIER_NAMES = ", ".join(t.value for t in Tier)


# ----------------------------------------------------------------------------- errors


class TierPolicyError(ScoringError, ValueError):
    """A policy file or an override mapping is invalid.

    `problems` holds every problem found as ``(field, message)`` pairs; ``field`` is a dotted path
    into the override mapping (``rules.phq9_total_yellow.enabled``, ``limits.red``) or the policy
    file (``rules[3].when.band``). Messages never contain answers or scores.
    """

    def __init__(self, problems: Sequence[tuple[str, str]], origin: str = "tier policy overrides") -> None:
        self.problems = tuple(problems)
        super().__init__(f"invalid {origin}: " + "; ".join(f"{f}: {m}" for f, m in self.problems))


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append((where, message))


# ----------------------------------------------------------------------------- durations

_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?)?")
MAX_LIMIT = timedelta(days=90)
MAX_RED_LIMIT = timedelta(hours=24)
MAX_FOLLOW_UP_DAY = 365
MIN_ACKNOWLEDGE = timedelta(minutes=1)
MAX_ACKNOWLEDGE = timedelta(hours=1)
MAX_HOSPITAL_AFTER = timedelta(hours=24)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration with weeks, days, hours and minutes (``PT1H``, ``P7D``)."""
    m = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if m is None or text in ("P", "PT") or not any(m.groups()):
        raise ValueError("expected an ISO 8601 duration such as PT30M, PT1H, PT24H or P7D")
    w, d, h, mi = (int(g) if g else 0 for g in m.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=mi)


def format_duration(td: timedelta) -> str:
    """ISO 8601 form of a duration: whole days as ``P7D``, else hours/minutes (``PT24H`` stays hours
    only when it is not whole days; 1 day is ``P1D``)."""
    minutes = int(td.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if not rest:
        return f"P{days}D"
    out = "PT"
    hours += days * 24
    if hours:
        out += f"{hours}H"
    if mins:
        out += f"{mins}M"
    return out


def human_duration(td: timedelta | None, lang: str = "en") -> str:
    """Readable duration: 1 hour, 24 hours, 7 days (zh-hans: 1小时, 24小时, 7天); none for None."""
    if td is None:
        return "none" if lang == "en" else "无"
    minutes = int(td.total_seconds()) // 60
    if minutes % (24 * 60) == 0 and minutes >= 48 * 60:
        n, en, zh = minutes // (24 * 60), "day", "天"
    elif minutes % 60 == 0:
        n, en, zh = minutes // 60, "hour", "小时"
    else:
        n, en, zh = minutes, "minute", "分钟"
    return f"{n} {en}{'' if n == 1 else 's'}" if lang == "en" else f"{n}{zh}"


# ----------------------------------------------------------------------------- policy objects


@dataclass(frozen=True, slots=True)
class FiredRule:
    """One rule that fired in a decision (also the critical-item floor and the risk model)."""

    id: str
    tier: Tier
    instrument: str | None
    description_en: str
    description_zh_hans: str

    def text(self, lang: str = "en") -> str:
        """The description in ``en`` or ``zh-hans``."""
        return self.description_en if lang == "en" else self.description_zh_hans

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "tier": self.tier.value,
            "instrument": self.instrument,
            "description": {"en": self.description_en, "zh-hans": self.description_zh_hans},
        }


@dataclass(frozen=True)
class TierSettings:
    """What a tier means and how fast and how often a counsellor follows it up.

    `follow_up_days` are whole days counted from the day the counsellor creates the follow-up plan."""

    tier: Tier
    meaning: Mapping[str, str]
    first_contact_limit: timedelta | None
    follow_up_days: tuple[int, ...]


@dataclass(frozen=True)
class Rule:
    """One tier rule. `when` is the condition as written; `test` its compiled form."""

    id: str
    tier: Tier
    instruments: tuple[str, ...]
    when: Mapping[str, Any]
    description: Mapping[str, str]
    source: str
    locked: bool = False
    enabled: bool = True
    test: Test = field(compare=False, repr=False, default=lambda r, a: False)

    def to_dict(self) -> dict[str, Any]:
        """The rule in the policy-file form."""
        return {
            "id": self.id,
            "tier": self.tier.value,
            "locked": self.locked,
            "enabled": self.enabled,
            "instrument": list(self.instruments),
            "when": copy.deepcopy(dict(self.when)),
            "description": dict(self.description),
            "source": self.source,
        }


@dataclass(frozen=True)
class CriticalFloor:
    """The lowest tier of a sitting in which any critical item fired."""

    tier: Tier
    description: Mapping[str, str]
    source: str


@dataclass(frozen=True)
class RiskModelAllowance:
    """How far the risk model may raise a sitting's tier above the rules' tier (never lower)."""

    max_raise: int
    source: str


MAX_RAISE_LIMIT = 3  # green to red


@dataclass(frozen=True)
class AlertLimits:
    """How a red alert escalates while no counsellor acknowledges it.

    Unacknowledged after `acknowledge_within`, it goes to the school's heads of centre; still
    unacknowledged `hospital_after` it was raised, to the partner hospital's crisis contact.
    """

    acknowledge_within: timedelta
    hospital_after: timedelta
    source: str


# (test, rank, order, fired record), per instrument code
_Compiled = tuple[Test, int, int, FiredRule]


@dataclass(frozen=True, eq=False)
class TierPolicy:
    """A complete, checked tier policy. Build it with `default_policy` or `policy_with_overrides`.

    Two policies are equal when their `fingerprint` (a hash of everything in them) is equal.
    """

    version: int
    source: str
    tiers: Mapping[Tier, TierSettings]
    critical_floor: CriticalFloor
    rules: tuple[Rule, ...]
    risk_model: RiskModelAllowance
    alerts: AlertLimits
    overridden: bool = False
    _index: Mapping[str, tuple[_Compiled, ...]] = field(init=False, repr=False)
    _floors: Mapping[str, FiredRule] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, list[_Compiled]] = {}
        for order, rule in enumerate(self.rules):
            if not rule.enabled:
                continue
            for code in rule.instruments:
                fired = FiredRule(rule.id, rule.tier, code, rule.description["en"], rule.description["zh-hans"])
                index.setdefault(code, []).append((rule.test, rule.tier.rank, order, fired))
        object.__setattr__(self, "_index", MappingProxyType({k: tuple(v) for k, v in index.items()}))
        cf = self.critical_floor
        floors = {
            c: FiredRule(CRITICAL_FLOOR_RULE, cf.tier, c, cf.description["en"], cf.description["zh-hans"])
            for c in instrument_codes()
        }
        object.__setattr__(self, "_floors", MappingProxyType(floors))

    def floor_rule(self, code: str) -> FiredRule:
        """The fired-rule record of the critical-item floor for one instrument."""
        fired = self._floors.get(code)
        if fired is None:
            cf = self.critical_floor
            fired = FiredRule(CRITICAL_FLOOR_RULE, cf.tier, code, cf.description["en"], cf.description["zh-hans"])
        return fired

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError if there is none)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def settings(self, tier: Tier) -> TierSettings:
        """The schedule and meaning of one tier."""
        return self.tiers[tier]

    def to_dict(self) -> dict[str, Any]:
        """The effective policy in the policy-file form (JSON-ready)."""
        return {
            "version": self.version,
            "source": self.source,
            "overridden": self.overridden,
            "tiers": {
                t.value: {
                    "meaning": dict(s.meaning),
                    "first_contact": None if s.first_contact_limit is None else format_duration(s.first_contact_limit),
                    "follow_up_days": list(s.follow_up_days),
                }
                for t, s in self.tiers.items()
            },
            "critical_floor": {
                "tier": self.critical_floor.tier.value,
                "description": dict(self.critical_floor.description),
                "source": self.critical_floor.source,
            },
            "rules": [r.to_dict() for r in self.rules],
            "risk_model": {"max_raise": self.risk_model.max_raise, "source": self.risk_model.source},
            "alerts": {
                "acknowledge_within": format_duration(self.alerts.acknowledge_within),
                "hospital_after": format_duration(self.alerts.hospital_after),
                "source": self.alerts.source,
            },
        }

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of the effective policy; store it with each decision.

        Equal for equal content, whether it came from the file or from overrides."""
        content = self.to_dict()
        del content["overridden"]  # the same effective policy has the same fingerprint
        text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TierPolicy):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def with_overrides(self, overrides: Mapping[str, Any]) -> TierPolicy:
        """This policy with a school's overrides applied (see `policy_with_overrides`)."""
        return policy_with_overrides(overrides, base=self)


# ----------------------------------------------------------------------------- parsing pieces

_RULE_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
_RULE_KEYS = {"id", "tier", "locked", "enabled", "instrument", "when", "description", "source"}
_RULE_REQUIRED = ("id", "tier", "instrument", "when", "description", "source")


def _tier(value: Any, where: str, problems: _Problems, *, allow_green: bool = False) -> Tier | None:
    allowed = [t for t in Tier if allow_green or t is not Tier.GREEN]
    for t in allowed:
        if value == t.value and type(value) is str:
            return t
    problems.add(where, f"expected one of {', '.join(t.value for t in allowed)}, not {_brief(value)}")
    return None


def _brief(value: Any) -> str:
    """A short, safe rendering of a bad configuration value for messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bilingual(value: Any, where: str, problems: _Problems) -> Mapping[str, str] | None:
    if (
        not isinstance(value, Mapping)
        or set(value) != set(LANGS)
        or not all(isinstance(v, str) and v.strip() for v in value.values())
    ):
        problems.add(where, "expected a mapping with non-empty en and zh-hans texts (and nothing else)")
        return None
    return MappingProxyType({k: " ".join(str(value[k]).split()) if k == "en" else str(value[k]).strip() for k in LANGS})


def _bool(value: Any, where: str, problems: _Problems) -> bool | None:
    if type(value) is not bool:
        problems.add(where, f"expected true or false, not {_brief(value)}")
        return None
    return value


def _duration(value: Any, where: str, problems: _Problems) -> tuple[bool, timedelta | None]:
    """(ok, duration); null is allowed here and checked per tier later."""
    if value is None:
        return True, None
    if not isinstance(value, str):
        problems.add(where, f"expected an ISO 8601 duration string such as PT1H or P7D, or null, not {_brief(value)}")
        return False, None
    try:
        td = parse_duration(value)
    except ValueError as exc:
        problems.add(where, f"{exc}, not {_brief(value)}")
        return False, None
    return True, td


def _follow_up(value: Any, where: str, problems: _Problems) -> tuple[int, ...] | None:
    if not isinstance(value, list) or not all(type(v) is int for v in value):
        problems.add(where, "expected a list of whole days such as [7, 14, 28]")
        return None
    if any(v < 1 or v > MAX_FOLLOW_UP_DAY for v in value):
        problems.add(where, f"follow-up days must be between 1 and {MAX_FOLLOW_UP_DAY}")
        return None
    if any(b <= a for a, b in pairwise(value)):
        problems.add(where, "follow-up days must be strictly increasing")
        return None
    return tuple(value)


def _rule(raw: Any, where: str, problems: _Problems) -> Rule | None:
    if not isinstance(raw, Mapping):
        problems.add(where, "a rule is a mapping with id, tier, instrument, when, description and source")
        return None
    before = len(problems.items)
    unknown = sorted(str(k) for k in raw if k not in _RULE_KEYS)
    if unknown:
        problems.add(where, f"unknown key(s) {unknown} (allowed: {', '.join(sorted(_RULE_KEYS))})")
    for key in _RULE_REQUIRED:
        if key not in raw:
            problems.add(f"{where}.{key}", "required")
    if len(problems.items) > before:
        return None
    rid = raw["id"]
    if not isinstance(rid, str) or not _RULE_ID.fullmatch(rid):
        problems.add(f"{where}.id", "expected a lower-case id of letters, digits and _ (such as phq9_total_yellow)")
    tier = _tier(raw["tier"], f"{where}.tier", problems)
    locked = _bool(raw.get("locked", False), f"{where}.locked", problems)
    enabled = _bool(raw.get("enabled", True), f"{where}.enabled", problems)
    codes_raw = raw["instrument"]
    codes = [codes_raw] if isinstance(codes_raw, str) else codes_raw
    known = instrument_codes()
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        problems.add(f"{where}.instrument", "expected an instrument code or a non-empty list of codes")
        codes = []
    elif len(set(codes)) != len(codes):
        problems.add(f"{where}.instrument", "an instrument is listed twice")
    else:
        for c in codes:
            if c not in known:
                problems.add(f"{where}.instrument", f"unknown instrument {c!r} (known: {', '.join(known)})")
    description = _bilingual(raw["description"], f"{where}.description", problems)
    source = raw["source"]
    if not isinstance(source, str) or not source.strip():
        problems.add(f"{where}.source", "expected the spec or manual the rule comes from")
    test: Test | None = None
    if codes and all(c in known for c in codes):
        try:
            test = compile_condition(raw["when"], [instrument(c) for c in codes], f"{where}.when")
        except ConditionError as exc:
            problems.add(exc.field, exc.message)
    if len(problems.items) > before:
        return None
    assert (
        tier is not None and locked is not None and enabled is not None and description is not None and test is not None
    )
    return Rule(
        id=rid,
        tier=tier,
        instruments=tuple(codes),
        when=MappingProxyType(copy.deepcopy(dict(raw["when"]))),
        description=description,
        source=" ".join(source.split()),
        locked=locked,
        enabled=enabled,
        test=test,
    )


def _check_schedules(
    limits: Mapping[Tier, timedelta | None],
    follow: Mapping[Tier, tuple[int, ...]],
    limit_field: Any,
    follow_field: Any,
    problems: _Problems,
) -> None:
    """Cross-checks that hold for every policy, default or overridden."""
    for t in Tier:
        lim = limits[t]
        if t is Tier.GREEN:
            if lim is not None:
                problems.add(limit_field(t), "green has no first-contact limit (green opens no case); use null")
            if follow[t]:
                problems.add(follow_field(t), "green has no follow-ups (green opens no case); use []")
            continue
        if lim is None:
            problems.add(limit_field(t), f"{t.value} needs a first-contact limit")
        elif lim <= timedelta(0) or lim > MAX_LIMIT:
            problems.add(
                limit_field(t), f"a first-contact limit must be above zero and at most {human_duration(MAX_LIMIT)}"
            )
    red = limits[Tier.RED]
    if red is not None and red > MAX_RED_LIMIT:
        problems.add(
            limit_field(Tier.RED),
            f"the red first-contact limit may not exceed {human_duration(MAX_RED_LIMIT)} (safety rule)",
        )
    order = [Tier.RED, Tier.ORANGE, Tier.YELLOW]
    for hi, lo in pairwise(order):
        a, b = limits[hi], limits[lo]
        if a is not None and b is not None and a > b:
            problems.add(
                limit_field(lo),
                f"the {lo.value} limit may not be shorter than the {hi.value} limit (a higher tier is contacted at least as fast)",
            )
    if not follow[Tier.RED]:
        problems.add(follow_field(Tier.RED), "red needs at least one follow-up")


# ----------------------------------------------------------------------------- loading


def load_policy(raw: Any, origin: str = "tier policy") -> TierPolicy:
    """Check a policy in the file form and build it; raise `TierPolicyError` listing every problem."""
    problems = _Problems()
    if not isinstance(raw, Mapping):
        raise TierPolicyError([("(top level)", "expected a mapping")], origin)
    allowed = {"version", "source", "tiers", "critical_floor", "rules", "risk_model", "alerts"}
    for k in raw:
        if k not in allowed:
            problems.add(str(k), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    version = raw.get("version")
    if type(version) is not int or version < 1:
        problems.add("version", "expected a positive integer")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.add("source", "expected a non-empty text naming where the defaults come from")
    tiers_raw = raw.get("tiers")
    limits: dict[Tier, timedelta | None] = {}
    follow: dict[Tier, tuple[int, ...]] = {}
    meanings: dict[Tier, Mapping[str, str]] = {}
    if not isinstance(tiers_raw, Mapping) or set(tiers_raw) != {t.value for t in Tier}:
        problems.add("tiers", f"expected exactly the tiers {_TIER_NAMES}")
    else:
        for t in Tier:
            spec = tiers_raw[t.value]
            where = f"tiers.{t.value}"
            if not isinstance(spec, Mapping) or set(spec) != {"meaning", "first_contact", "follow_up_days"}:
                problems.add(where, "expected meaning, first_contact and follow_up_days")
                continue
            meaning = _bilingual(spec["meaning"], f"{where}.meaning", problems)
            ok, td = _duration(spec["first_contact"], f"{where}.first_contact", problems)
            days = _follow_up(spec["follow_up_days"], f"{where}.follow_up_days", problems)
            if meaning is not None:
                meanings[t] = meaning
            if ok:
                limits[t] = td
            if days is not None:
                follow[t] = days
    if len(limits) == len(Tier) and len(follow) == len(Tier):
        _check_schedules(
            limits,
            follow,
            lambda t: f"tiers.{t.value}.first_contact",
            lambda t: f"tiers.{t.value}.follow_up_days",
            problems,
        )
    floor = _floor(raw.get("critical_floor"), problems)
    allowance = _allowance(raw.get("risk_model"), problems)
    alerts = _alerts(raw.get("alerts"), problems)
    rules: list[Rule] = []
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        problems.add("rules", "expected a non-empty list of rules")
    else:
        seen: set[str] = set()
        for i, spec in enumerate(rules_raw):
            rule = _rule(spec, f"rules[{i}]", problems)
            if rule is None:
                continue
            if rule.id in seen:
                problems.add(f"rules[{i}].id", f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
            rules.append(rule)
    if problems.items:
        raise TierPolicyError(problems.items, origin)
    assert isinstance(version, int) and isinstance(source, str) and floor is not None
    assert allowance is not None and alerts is not None
    return TierPolicy(
        version=version,
        source=" ".join(source.split()),
        tiers=_settings(meanings, limits, follow),
        critical_floor=floor,
        rules=tuple(rules),
        risk_model=allowance,
        alerts=alerts,
    )


def _settings(
    meanings: Mapping[Tier, Mapping[str, str]],
    limits: Mapping[Tier, timedelta | None],
    follow: Mapping[Tier, tuple[int, ...]],
) -> Mapping[Tier, TierSettings]:
    return MappingProxyType({t: TierSettings(t, meanings[t], limits[t], follow[t]) for t in Tier})


def _floor(raw: Any, problems: _Problems) -> CriticalFloor | None:
    if not isinstance(raw, Mapping) or set(raw) != {"tier", "description", "source"}:
        problems.add("critical_floor", "expected tier, description and source")
        return None
    tier = _tier(raw["tier"], "critical_floor.tier", problems)
    if tier is not None and tier < Tier.ORANGE:
        problems.add("critical_floor.tier", "the critical-item floor is at least orange (safety rule)")
        tier = None
    description = _bilingual(raw["description"], "critical_floor.description", problems)
    source = raw["source"]
    if not isinstance(source, str) or not source.strip():
        problems.add("critical_floor.source", "expected a non-empty source")
        return None
    if tier is None or description is None:
        return None
    return CriticalFloor(tier, description, " ".join(source.split()))


def _max_raise(value: Any, where: str, problems: _Problems) -> int | None:
    if type(value) is not int or not 0 <= value <= MAX_RAISE_LIMIT:
        problems.add(where, f"expected a whole number of tiers from 0 to {MAX_RAISE_LIMIT}")
        return None
    return value


def _allowance(raw: Any, problems: _Problems) -> RiskModelAllowance | None:
    if not isinstance(raw, Mapping) or set(raw) != {"max_raise", "source"}:
        problems.add("risk_model", "expected max_raise and source")
        return None
    max_raise = _max_raise(raw["max_raise"], "risk_model.max_raise", problems)
    source = raw["source"]
    if not isinstance(source, str) or not source.strip():
        problems.add("risk_model.source", "expected a non-empty source")
        return None
    return None if max_raise is None else RiskModelAllowance(max_raise, " ".join(source.split()))


def _alert_duration(value: Any, where: str, problems: _Problems) -> timedelta | None:
    """A required ISO 8601 duration (null is not allowed here)."""
    if not isinstance(value, str):
        problems.add(where, f"expected an ISO 8601 duration string such as PT15M or PT1H, not {_brief(value)}")
        return None
    return _duration(value, where, problems)[1]


def _check_alerts(
    acknowledge: timedelta | None,
    hospital: timedelta | None,
    ack_field: str,
    hospital_field: str,
    order_field: str,
    problems: _Problems,
) -> None:
    """Cross-checks of the alert limits (None: already reported as malformed)."""
    if acknowledge is not None and not MIN_ACKNOWLEDGE <= acknowledge <= MAX_ACKNOWLEDGE:
        problems.add(
            ack_field,
            f"the acknowledgement limit must be between {human_duration(MIN_ACKNOWLEDGE)} and "
            f"{human_duration(MAX_ACKNOWLEDGE)}",
        )
    if hospital is not None and hospital > MAX_HOSPITAL_AFTER:
        problems.add(
            hospital_field, f"the hospital escalation may not come later than {human_duration(MAX_HOSPITAL_AFTER)}"
        )
    if acknowledge is not None and hospital is not None and hospital <= acknowledge:
        problems.add(
            order_field,
            "the hospital escalation (hospital_after) must come after the acknowledgement limit (acknowledge_within)",
        )


def _alerts(raw: Any, problems: _Problems) -> AlertLimits | None:
    if not isinstance(raw, Mapping) or set(raw) != {"acknowledge_within", "hospital_after", "source"}:
        problems.add("alerts", "expected acknowledge_within, hospital_after and source")
        return None
    before = len(problems.items)
    ack_field, hospital_field = "alerts.acknowledge_within", "alerts.hospital_after"
    acknowledge = _alert_duration(raw["acknowledge_within"], ack_field, problems)
    hospital = _alert_duration(raw["hospital_after"], hospital_field, problems)
    _check_alerts(acknowledge, hospital, ack_field, hospital_field, hospital_field, problems)
    source = raw["source"]
    if not isinstance(source, str) or not source.strip():
        problems.add("alerts.source", "expected a non-empty source")
    if len(problems.items) > before or acknowledge is None or hospital is None:
        return None
    return AlertLimits(acknowledge, hospital, " ".join(source.split()))


def policy_path() -> Path:
    """Where the default policy file lives (scoring/tier_policy.yaml)."""
    return Path(str(resources.files("scoring").joinpath(POLICY_FILE)))


@cache
def default_policy() -> TierPolicy:
    """The default policy from scoring/tier_policy.yaml (loaded and checked once, then cached)."""
    path = policy_path()
    return load_policy(read_yaml(path), origin=str(path))


# ----------------------------------------------------------------------------- overrides

OVERRIDE_KEYS = (
    "rules",
    "add_rules",
    "limits",
    "follow_up",
    "critical_floor",
    "risk_model_max_raise",
    "alert_acknowledge_within",
    "alert_hospital_after",
)


def policy_with_overrides(overrides: Mapping[str, Any] | None, base: TierPolicy | None = None) -> TierPolicy:
    """Apply a school's overrides to `base` (the default policy when None) and return a new policy.

    `overrides` is a JSON-style mapping; every key is optional::

        {
          "rules": {"phq9_total_yellow": {"enabled": false}, "k10_total_yellow": {"tier": "orange"}},
          "add_rules": [ {<a rule in the policy-file form>} ],
          "limits": {"red": "PT30M", "yellow": "P5D"},
          "follow_up": {"orange": [3, 7, 14, 28]},
          "critical_floor": "red",
          "risk_model_max_raise": 0,
          "alert_acknowledge_within": "PT10M",
          "alert_hospital_after": "PT1H"
        }

    ``follow_up`` days count from the day the counsellor creates the follow-up plan.
    ``alert_acknowledge_within`` and ``alert_hospital_after`` (ISO 8601 durations) replace the red
    alert limits: unacknowledged after the first, a red alert escalates to the heads of centre;
    after the second, to the partner hospital.

    Locked rules (the suicide-item safety rules) may not be disabled or given a lower tier. The
    result must still pass every policy check (red at most 24 hours, red <= orange <= yellow,
    green without a limit or follow-ups, acknowledgement within 1 minute to 1 hour, hospital
    escalation after it and within 24 hours, ...). Raises `TierPolicyError` listing every problem,
    each naming its field.
    """
    base = default_policy() if base is None else base
    if overrides is None:
        return base
    problems = _Problems()
    if not isinstance(overrides, Mapping):
        raise TierPolicyError([("(top level)", "overrides must be a mapping")])
    for k in overrides:
        if k not in OVERRIDE_KEYS:
            problems.add(str(k), f"unknown key (allowed: {', '.join(OVERRIDE_KEYS)})")
    rules = list(base.rules)
    positions = {r.id: i for i, r in enumerate(rules)}

    changes = overrides.get("rules", {})
    if not isinstance(changes, Mapping):
        problems.add(
            "rules", 'expected a mapping of rule id to changes, such as {"k10_total_yellow": {"enabled": false}}'
        )
        changes = {}
    for rid, change in changes.items():
        where = f"rules.{rid}"
        if rid not in positions:
            problems.add(where, "no rule has this id")
            continue
        if not isinstance(change, Mapping) or not change:
            problems.add(where, "expected a mapping with enabled and/or tier")
            continue
        extra = sorted(str(k) for k in change if k not in ("enabled", "tier"))
        if extra:
            problems.add(where, f"unknown key(s) {extra} (allowed: enabled, tier)")
        rule = rules[positions[rid]]
        updates: dict[str, Any] = {}
        if "enabled" in change:
            enabled = _bool(change["enabled"], f"{where}.enabled", problems)
            if enabled is False and rule.locked:
                problems.add(f"{where}.enabled", "this is a locked safety rule and cannot be disabled")
            elif enabled is not None:
                updates["enabled"] = enabled
        if "tier" in change:
            tier = _tier(change["tier"], f"{where}.tier", problems)
            if tier is not None and rule.locked and tier < rule.tier:
                problems.add(
                    f"{where}.tier", f"this is a locked safety rule; its tier cannot go below {rule.tier.value}"
                )
            elif tier is not None:
                updates["tier"] = tier
        if updates:
            rules[positions[rid]] = replace(rule, **updates)

    added = overrides.get("add_rules", [])
    if not isinstance(added, list):
        problems.add("add_rules", "expected a list of rules in the policy-file form")
        added = []
    for i, spec in enumerate(added):
        new = _rule(spec, f"add_rules[{i}]", problems)
        if new is None:
            continue
        if new.id in positions:
            problems.add(f"add_rules[{i}].id", f"a rule with id {new.id!r} already exists")
            continue
        positions[new.id] = len(rules)
        rules.append(new)

    limits = {t: s.first_contact_limit for t, s in base.tiers.items()}
    follow = {t: s.follow_up_days for t, s in base.tiers.items()}
    touched = False
    for key in ("limits", "follow_up"):
        section = overrides.get(key, {})
        if not isinstance(section, Mapping):
            problems.add(key, f"expected a mapping of tier ({_TIER_NAMES}) to a value")
            continue
        for name, value in section.items():
            where = f"{key}.{name}"
            tier = _tier(name, where, problems, allow_green=True)
            if tier is None:
                continue
            touched = True
            if key == "limits":
                ok, td = _duration(value, where, problems)
                if ok:
                    limits[tier] = td
            else:
                days = _follow_up(value, where, problems)
                if days is not None:
                    follow[tier] = days
    if touched:
        _check_schedules(limits, follow, lambda t: f"limits.{t.value}", lambda t: f"follow_up.{t.value}", problems)

    floor = base.critical_floor
    if "critical_floor" in overrides:
        tier = _tier(overrides["critical_floor"], "critical_floor", problems)
        if tier is not None and tier < base.critical_floor.tier:
            problems.add("critical_floor", f"the critical-item floor cannot go below {base.critical_floor.tier.value}")
        elif tier is not None:
            floor = replace(floor, tier=tier)

    allowance = base.risk_model
    if "risk_model_max_raise" in overrides:
        max_raise = _max_raise(overrides["risk_model_max_raise"], "risk_model_max_raise", problems)
        if max_raise is not None:
            allowance = replace(allowance, max_raise=max_raise)
    alerts = _override_alerts(overrides, base.alerts, problems)

    if problems.items:
        raise TierPolicyError(problems.items)
    return TierPolicy(
        version=base.version,
        source=base.source,
        tiers=_settings({t: s.meaning for t, s in base.tiers.items()}, limits, follow),
        critical_floor=floor,
        rules=tuple(rules),
        risk_model=allowance,
        alerts=alerts,
        overridden=True,
    )


def _override_alerts(overrides: Mapping[str, Any], base: AlertLimits, problems: _Problems) -> AlertLimits:
    """`base` with alert_acknowledge_within / alert_hospital_after applied, checked as combined.

    A broken order is reported on alert_hospital_after, or on alert_acknowledge_within when only
    that one was given."""
    ack_key, hospital_key = "alert_acknowledge_within", "alert_hospital_after"
    if ack_key not in overrides and hospital_key not in overrides:
        return base
    acknowledge: timedelta | None = base.acknowledge_within
    hospital: timedelta | None = base.hospital_after
    if ack_key in overrides:
        acknowledge = _alert_duration(overrides[ack_key], ack_key, problems)
    if hospital_key in overrides:
        hospital = _alert_duration(overrides[hospital_key], hospital_key, problems)
    order_key = hospital_key if hospital_key in overrides else ack_key
    _check_alerts(acknowledge, hospital, ack_key, hospital_key, order_key, problems)
    if acknowledge is None or hospital is None:
        return base  # reported; the caller raises
    return replace(base, acknowledge_within=acknowledge, hospital_after=hospital)

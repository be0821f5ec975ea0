"""Scoring one answer set: `score` and its `Result`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np

from scoring.definition import instrument
from scoring.plan import ITEM_INT, Plan, Scalar, build_plan, missing_message

_EMPTY: Mapping[str, Scalar] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an answer set could not be scored. `item` is None for problems of the whole set.

    Codes: ``not_an_object``, ``unknown_item``, ``wrong_type``, ``out_of_range`` (malformed
    answers: nothing is scored) and ``too_many_missing`` (well-formed but not scorable).
    """

    item: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {"item": self.item, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of scoring one answer set. Immutable.

    `total`, `band`, `scores` and `subscales` are None when the set is not valid. `critical`
    (item ids whose answer met a critical rule) and `flags` are filled whenever the answers are
    well-formed, even when too many items are missing to score the total.
    """

    instrument: str
    version: int
    profile: str
    valid: bool
    total: int | None
    band: str | None
    scores: Mapping[str, Scalar]
    subscales: Mapping[str, Scalar]
    critical: tuple[str, ...]
    flags: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def malformed(self) -> bool:
        """True when the answers themselves were not well-formed (not just incomplete)."""
        return any(p.code != "too_many_missing" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``python -m scoring score`` output)."""
        return {
            "instrument": self.instrument,
            "version": self.version,
            "profile": self.profile,
            "valid": self.valid,
            "total": self.total,
            "band": self.band,
            "scores": dict(self.scores),
            "subscales": dict(self.subscales),
            "critical": list(self.critical),
            "flags": list(self.flags),
            "problems": [p.to_dict() for p in self.problems],
        }


@cache
def get_plan(code: str, profile: str | None = None) -> Plan:
    """The compiled plan for an instrument and profile (compiled once, then cached)."""
    inst = instrument(code)
    return build_plan(inst, inst.profile(profile).name)


def _none_map(names: tuple[str, ...]) -> Mapping[str, Scalar]:
    return MappingProxyType(dict.fromkeys(names)) if names else _EMPTY


def _parse(plan: Plan, answers: Mapping[Any, Any]) -> tuple[dict[str, int], list[Problem]]:
    """Turn answers into engine codes, reporting every malformed answer item by item."""
    codes: dict[str, int] = {}
    problems: list[Problem] = []
    parsers = plan.parsers
    for key, value in answers.items():
        if type(key) is not str:
            message = f"item keys must be strings, such as {str(key)!r}, not {type(key).__name__}"
            problems.append(Problem(str(key), "unknown_item", message))
            continue
        p = parsers.get(key)
        if p is None:
            problems.append(Problem(key, "unknown_item", f"unknown item {key!r}"))
            continue
        if value is None:
            continue
        if p.kind == ITEM_INT:
            if type(value) is int or (isinstance(value, np.integer) and not isinstance(value, np.bool_)):
                value = int(value)
                if value in p.allowed:
                    codes[key] = value
                    continue
                problems.append(Problem(key, "out_of_range", f"item {key}: expected {p.expect}"))
                continue
        else:
            if value is True or value is False or isinstance(value, np.bool_):
                codes[key] = int(bool(value))
                continue
            if isinstance(value, str):
                code = p.extras.get(value)
                if code is not None:
                    codes[key] = code
                    continue
                problems.append(Problem(key, "out_of_range", f"item {key}: expected {p.expect}"))
                continue
        problems.append(
            Problem(key, "wrong_type", f"item {key}: expected {p.expect}, not a value of type {type(value).__name__}")
        )
    return codes, problems


def score(code: str, answers: Mapping[str, Any], profile: str | None = None) -> Result:
    """Score one answer set.

    `answers` maps item ids ("1", "2", ...) to the printed option value: an int for numeric
    items, True/False for yes/no items (plus extra strings such as ASQ's "declined" where the
    definition allows them). A missing item is absent or None. Malformed answers (unknown item,
    value outside the options, wrong type, including True for a numeric item and 1 for a yes/no
    item) are all reported in `problems` and nothing is scored. Raises `UnknownInstrumentError`
    or `UnknownProfileError` for an unknown code or profile.
    """
    plan = get_plan(code, profile)
    if not isinstance(answers, Mapping):
        problem = Problem(None, "not_an_object", "answers must be an object keyed by item id")
        return _invalid(plan, (), (), (problem,))
    codes, problems = _parse(plan, answers)
    if problems:
        return _invalid(plan, (), (), tuple(problems))
    critical = tuple(iid for iid, accept in plan.critical if codes.get(iid) in accept)
    flags = tuple(fc for fc, cond in zip(plan.flag_codes, plan.flag_conds, strict=True) if cond.one(codes, _EMPTY))
    missing = len(plan.required) - sum(1 for iid in plan.required if iid in codes)
    if missing > plan.max_missing:
        msg = missing_message(missing, len(plan.required), plan.max_missing)
        return _invalid(plan, critical, flags, (Problem(None, "too_many_missing", msg),))
    values: dict[str, Scalar] = {}
    for node in plan.nodes:
        values[node.name] = node.one(codes, values)
    total = values.get("total")
    return Result(
        instrument=plan.code,
        version=plan.version,
        profile=plan.profile,
        valid=True,
        total=total if isinstance(total, int) else None,
        band=plan.band_of(codes, values),
        scores=MappingProxyType({n: values[n] for n in plan.score_names}),
        subscales=MappingProxyType({n: values[n] for n in plan.subscale_names}),
        critical=critical,
        flags=flags,
        problems=(),
    )


def asked_items(code: str, answers: Mapping[str, Any]) -> frozenset[str]:
    """Ids of the items a form shows for these answers so far: every item, except conditional
    ones (``asked_if``, e.g. ASQ item 5) whose condition does not hold. Malformed answers are
    read as unanswered here; `score` reports them."""
    plan = get_plan(code)
    codes, _problems = _parse(plan, answers) if isinstance(answers, Mapping) else ({}, [])
    hidden = {iid for iid, cond in plan.asked_if.items() if not cond.one(codes, _EMPTY)}
    return frozenset(plan.parsers) - hidden


def _invalid(plan: Plan, critical: tuple[str, ...], flags: tuple[str, ...], problems: tuple[Problem, ...]) -> Result:
    return Result(
        instrument=plan.code,
        version=plan.version,
        profile=plan.profile,
        valid=False,
        total=None,
        band=None,
        scores=_none_map(plan.score_names),
        subscales=_none_map(plan.subscale_names),
        critical=critical,
        flags=flags,
        problems=problems,
    )

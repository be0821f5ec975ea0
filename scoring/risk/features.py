"""The risk model's features: what one sitting knows, as one row of numbers.

For each instrument the spec names, in order: its items' answers (the engine's code of the printed
answer: the integer itself, yes 1 and no 0; anything else, such as ASQ's "declined", is missing),
its total where it could be scored (for instruments that define one: ASQ has none), and whether
the instrument was absent from the sitting. Then
one 0/1 column per tier rule the spec names (did it fire). Demographic columns (gender, age band)
are off by default; turning them on is a recorded choice of the spec, so the model card and the
per-group report show it.

Missing values are NaN: the training pipeline imputes them. Column names are stable strings
(``phq9.item.9``, ``gad7.total``, ``asq.absent``, ``rule.phq9_item9_red``, ``gender.female``), and
``plain_name`` turns them into words for the counsellor's "why" ("GAD-7 total").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import scoring

GENDERS = ("female", "male")
AGE_BANDS = ((10, 13, "10-13"), (14, 17, "14-17"), (18, 120, "18+"))


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns a model reads. Saved with the model: scoring a sitting uses the same spec."""

    instruments: tuple[str, ...]
    rules: tuple[str, ...] = ()
    demographics: bool = False

    def __post_init__(self) -> None:
        for code in self.instruments:
            scoring.instrument(code)  # unknown codes fail here, not at scoring time
        if len(set(self.instruments)) != len(self.instruments):
            raise ValueError("each instrument may appear once in a feature spec")

    def names(self) -> list[str]:
        """The column names, in order."""
        out: list[str] = []
        for code in self.instruments:
            out += [f"{code}.item.{item.id}" for item in _scored_items(code)]
            out += [f"{code}.total"] if _has_total(code) else []
            out += [f"{code}.absent"]
        out += [f"rule.{rule}" for rule in self.rules]
        if self.demographics:
            out += [f"gender.{g}" for g in GENDERS] + [f"age.{label}" for _lo, _hi, label in AGE_BANDS]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"instruments": list(self.instruments), "rules": list(self.rules), "demographics": self.demographics}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(tuple(data["instruments"]), tuple(data.get("rules", ())), bool(data.get("demographics", False)))


def _scored_items(code: str) -> tuple[Any, ...]:
    return tuple(item for item in scoring.instrument(code).items if item.scored)


def _has_total(code: str) -> bool:
    """Does the instrument define a total (ASQ, for one, is read item by item and has none)?"""
    return "total" in scoring.instrument(code).scores


def _item_value(item: Any, given: Mapping[str, Any]) -> float:
    value = given.get(item.id)
    if value is None or value not in item.options.values:
        return math.nan
    if item.options.kind == "boolean" and not isinstance(value, bool):
        return math.nan  # extras such as "declined" carry no level
    return float(item.options.code_of(value))


def row(
    spec: FeatureSpec,
    answers: Mapping[str, Mapping[str, Any]],
    *,
    rules_fired: Iterable[str] = (),
    gender: str | None = None,
    age: int | None = None,
) -> list[float]:
    """One sitting's features, in ``spec.names()`` order."""
    out: list[float] = []
    for code in spec.instruments:
        given = answers.get(code)
        items = _scored_items(code)
        has_total = _has_total(code)
        if not isinstance(given, Mapping):
            out += [math.nan] * (len(items) + has_total) + [1.0]
            continue
        out += [_item_value(item, given) for item in items]
        if has_total:
            result = scoring.score(code, given)
            out.append(float(result.total) if result.valid and result.total is not None else math.nan)
        out.append(0.0)
    fired = set(rules_fired)
    out += [1.0 if rule in fired else 0.0 for rule in spec.rules]
    if spec.demographics:
        out += [1.0 if gender == g else 0.0 for g in GENDERS]
        out += [1.0 if age is not None and lo <= age <= hi else 0.0 for lo, hi, _label in AGE_BANDS]
    return out


def matrix(spec: FeatureSpec, sittings: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Rows for many sittings, each a mapping with ``answers`` and optionally ``rules_fired``,
    ``gender`` and ``age`` (the keys of :func:`row`)."""
    data = [
        row(spec, s["answers"], rules_fired=s.get("rules_fired", ()), gender=s.get("gender"), age=s.get("age"))
        for s in sittings
    ]
    return np.asarray(data, dtype=float).reshape(len(data), len(spec.names()))


def short_name(code: str) -> str:
    """The instrument's usual short name, from its English name: "GAD-7", "PHQ-9", "WHO-5"."""
    name = scoring.instrument(code).name.get("en", "")
    found = re.search(r"\(([^()]+)\)\s*$", name)
    return found.group(1) if found else (name.split() or [code.upper()])[0]


def plain_name(column: str, language: str = "en") -> str:
    """A column in words for staff: ``gad7.total`` → "GAD-7 total", ``phq9.item.3`` → "PHQ-9 item 3";
    the imputer's indicator ``<column> missing`` → "PHQ-9 item 3 unanswered"."""
    zh = language.startswith("zh")
    if column.endswith(" missing"):
        return plain_name(column.removesuffix(" missing"), language) + ("（未作答）" if zh else " unanswered")
    parts = column.split(".")
    if parts[0] == "rule":
        return ("规则：" if language.startswith("zh") else "rule: ") + ".".join(parts[1:])
    if parts[0] in ("gender", "age"):
        return (("性别" if parts[0] == "gender" else "年龄段") if language.startswith("zh") else parts[0]) + f" {parts[1]}"
    label = short_name(parts[0])
    if parts[1] == "item":
        return f"{label} 第{parts[2]}题" if zh else f"{label} item {parts[2]}"
    if parts[1] == "total":
        return f"{label} 总分" if zh else f"{label} total"
    return f"{label} 未作答" if zh else f"{label} not taken"

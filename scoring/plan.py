"""Compiled scoring plans.

A definition's rules (conditions, score kinds, bands) are compiled once per instrument and profile
into small node objects. Every node has two forms that implement the same rule side by side:

* ``one(codes, scores)`` for a single answer set (plain Python, used by `scoring.score`);
* ``many(cols)`` for a whole frame (NumPy arrays, used by `scoring.score_frame`).

Answers reach the nodes as integer *codes*: the printed integer for numeric items, 1 for yes, 0 for
no, 2, 3, ... for extra answers such as ``"declined"``. In frames a missing answer holds
`MISSING` (-1), which no real code equals, so comparisons on missing answers are false in both
forms. A test checks that both forms agree on every instrument (tests/scoring/test_frame.py).
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from scoring.definition import Bands, Instrument, Item, OptionSet, OptionValue

MISSING = -1

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Scalar = int | float | None
Codes = Mapping[str, int]
Scores = Mapping[str, Scalar]

_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "ge": operator.ge,
    "gt": operator.gt,
    "le": operator.le,
    "lt": operator.lt,
}


class PlanError(Exception):
    """A rule refers to something that does not exist or can never hold."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


@dataclass
class ScoreArray:
    """A vectorised score: values, and where they are defined (None: on every row)."""

    values: npt.NDArray[np.int64] | npt.NDArray[np.float64]
    defined: BoolArray | None


@dataclass
class Columns:
    """Answers of a frame as one code array per item, plus the scores computed so far."""

    n: int
    vals: dict[str, IntArray]
    present: dict[str, BoolArray | None]
    domains: Mapping[str, tuple[int, ...]]
    scores: dict[str, ScoreArray] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Conditions


class Cond(ABC):
    """A condition over answers (and, for bands, scores)."""

    @abstractmethod
    def one(self, codes: Codes, scores: Scores) -> bool:
        """Evaluate for one answer set."""

    @abstractmethod
    def many(self, cols: Columns) -> BoolArray:
        """Evaluate for every row of a frame."""


def match(cols: Columns, item_id: str, accept: tuple[int, ...]) -> BoolArray:
    """Rows whose answer to `item_id` is one of the codes in `accept` (sorted)."""
    v = cols.vals[item_id]
    domain = cols.domains[item_id]
    k = len(accept)
    if k == len(domain):
        present = cols.present[item_id]
        return np.ones(cols.n, np.bool_) if present is None else present
    # MISSING is below every code, so these comparisons are false for missing answers.
    if accept == domain[-k:]:
        return v >= accept[0]
    if k == 1:
        equal: BoolArray = v == accept[0]
        return equal
    if accept[-1] - accept[0] == k - 1:
        return (v >= accept[0]) & (v <= accept[-1])
    found: BoolArray = np.isin(v, accept)
    return found


@dataclass(frozen=True)
class ItemIn(Cond):
    """The item was answered with one of `accept` (codes)."""

    item: str
    accept: tuple[int, ...]

    def one(self, codes: Codes, scores: Scores) -> bool:
        return codes.get(self.item) in self.accept

    def many(self, cols: Columns) -> BoolArray:
        return match(cols, self.item, self.accept)


@dataclass(frozen=True)
class ScoreCmp(Cond):
    """A named score is defined and satisfies every comparison."""

    name: str
    ops: tuple[tuple[str, float], ...]

    def one(self, codes: Codes, scores: Scores) -> bool:
        v = scores.get(self.name)
        if v is None:
            return False
        return all(_CMP[op](v, target) for op, target in self.ops)

    def many(self, cols: Columns) -> BoolArray:
        s = cols.scores[self.name]
        out: BoolArray | None = s.defined
        for op, target in self.ops:
            m = _CMP[op](s.values, target)
            out = m if out is None else out & m
        assert out is not None
        return out


@dataclass(frozen=True)
class AnyOf(Cond):
    """At least one part holds."""

    parts: tuple[Cond, ...]

    def one(self, codes: Codes, scores: Scores) -> bool:
        return any(p.one(codes, scores) for p in self.parts)

    def many(self, cols: Columns) -> BoolArray:
        out = self.parts[0].many(cols).copy()
        for p in self.parts[1:]:
            out |= p.many(cols)
        return out


@dataclass(frozen=True)
class AllOf(Cond):
    """Every part holds."""

    parts: tuple[Cond, ...]

    def one(self, codes: Codes, scores: Scores) -> bool:
        return all(p.one(codes, scores) for p in self.parts)

    def many(self, cols: Columns) -> BoolArray:
        out = self.parts[0].many(cols).copy()
        for p in self.parts[1:]:
            out &= p.many(cols)
        return out


@dataclass(frozen=True)
class Not(Cond):
    """The part does not hold."""

    part: Cond

    def one(self, codes: Codes, scores: Scores) -> bool:
        return not self.part.one(codes, scores)

    def many(self, cols: Columns) -> BoolArray:
        return ~self.part.many(cols)


@dataclass(frozen=True)
class Always(Cond):
    """Holds on every row (an ``otherwise`` band)."""

    def one(self, codes: Codes, scores: Scores) -> bool:
        return True

    def many(self, cols: Columns) -> BoolArray:
        return np.ones(cols.n, np.bool_)


# --------------------------------------------------------------------------------------------
# Scores


class ScoreNode(ABC):
    """A named score computed from answers or from an earlier score."""

    name: str
    integer: bool
    bounds: tuple[int, int] | None

    @abstractmethod
    def one(self, codes: Codes, scores: Scores) -> Scalar:
        """Compute for one answer set (None: cannot be computed)."""

    @abstractmethod
    def many(self, cols: Columns) -> ScoreArray:
        """Compute for every row of a frame."""


@dataclass(frozen=True)
class SumNode(ScoreNode):
    """Sum or mean of keyed values; reverse-keyed items count ``low + high - value``.

    With items missing (as far as the missing-item rule allows) a sum is prorated:
    ``round_half_up(sum * n / answered)``, computed in integers as
    ``(2 * sum * n + answered) // (2 * answered)`` so that halves always round up. A mean is
    the mean of the answered items.
    """

    name: str
    terms: tuple[tuple[str, int | None], ...]  # (item id, low + high if reverse-keyed else None)
    mean: bool
    bounds: tuple[int, int] | None
    integer: bool

    def one(self, codes: Codes, scores: Scores) -> Scalar:
        s = 0
        a = 0
        for item_id, rev in self.terms:
            c = codes.get(item_id)
            if c is not None:
                s += c if rev is None else rev - c
                a += 1
        if a == 0:
            return None
        if self.mean:
            return s / a
        n = len(self.terms)
        if a == n:
            return s
        return (2 * s * n + a) // (2 * a)

    def many(self, cols: Columns) -> ScoreArray:
        acc: IntArray | None = None
        answered: IntArray | None = None
        always = 0
        for item_id, rev in self.terms:
            v = cols.vals[item_id]
            if rev is not None:
                v = rev - v
            p = cols.present[item_id]
            if p is None:
                always += 1
            else:
                v = np.where(p, v, 0)
                answered = p.astype(np.int64) if answered is None else answered + p
            if acc is None:
                acc = v.astype(np.int64, copy=True)
            else:
                acc += v
        assert acc is not None
        n = len(self.terms)
        if answered is None:
            if self.mean:
                return ScoreArray(acc / n, None)
            return ScoreArray(acc, None)
        a = answered + always
        safe = np.maximum(a, 1)
        if self.mean:
            return ScoreArray(acc / safe, a > 0)
        prorated = (2 * acc * n + a) // (2 * safe)
        return ScoreArray(np.where(a == n, acc, prorated), a > 0)


@dataclass(frozen=True)
class CountNode(ScoreNode):
    """Number of answered items whose answer is in the accepted codes."""

    name: str
    terms: tuple[tuple[str, tuple[int, ...]], ...]
    bounds: tuple[int, int] | None
    integer: bool = True

    def one(self, codes: Codes, scores: Scores) -> Scalar:
        return sum(1 for item_id, accept in self.terms if codes.get(item_id) in accept)

    def many(self, cols: Columns) -> ScoreArray:
        acc = np.zeros(cols.n, np.int64)
        for item_id, accept in self.terms:
            acc += match(cols, item_id, accept)
        return ScoreArray(acc, None)


Rounding = Literal["none", "floor", "half_up"]


def transform_int(x: int, num: int, den: int, rounding: Rounding) -> int:
    """``x * num / den`` rounded as the definition says, in exact integer arithmetic."""
    if rounding == "half_up":
        return (2 * x * num + den) // (2 * den)
    return (x * num) // den  # floor, or exact when den == 1


@dataclass(frozen=True)
class TransformNode(ScoreNode):
    """An earlier integer score times a factor, then floored or rounded half up."""

    name: str
    source: str
    num: int
    den: int
    rounding: Rounding
    bounds: tuple[int, int] | None
    integer: bool = True

    def one(self, codes: Codes, scores: Scores) -> Scalar:
        x = scores[self.source]
        if x is None:
            return None
        assert isinstance(x, int)
        return transform_int(x, self.num, self.den, self.rounding)

    def many(self, cols: Columns) -> ScoreArray:
        src = cols.scores[self.source]
        x = src.values
        if self.rounding == "half_up":
            out = (2 * x * self.num + self.den) // (2 * self.den)
        else:
            out = (x * self.num) // self.den
        return ScoreArray(out, src.defined)


# --------------------------------------------------------------------------------------------
# Plan


ITEM_INT = 0
ITEM_BOOL = 1


@dataclass(frozen=True)
class ItemParser:
    """How one item's answers are read: integer or yes/no, and the codes allowed."""

    kind: int
    allowed: frozenset[int]
    extras: Mapping[str, int]
    expect: str  # human description of the allowed answers, for problem messages


@dataclass(frozen=True)
class Plan:
    """Everything `score` and `score_frame` need for one instrument and profile."""

    code: str
    version: int
    profile: str
    parsers: Mapping[str, ItemParser]
    domains: Mapping[str, tuple[int, ...]]
    required: tuple[str, ...]
    max_missing: int
    nodes: tuple[ScoreNode, ...]
    score_names: tuple[str, ...]
    subscale_names: tuple[str, ...]
    has_total: bool
    band_codes: tuple[str, ...]
    band_conds: tuple[Cond, ...]
    band_lut: tuple[str | None, ...] | None
    band_lut_on: str | None
    band_lut_low: int
    critical: tuple[tuple[str, tuple[int, ...]], ...]
    flag_codes: tuple[str, ...]
    flag_conds: tuple[Cond, ...]
    asked_if: Mapping[str, Cond] = field(default_factory=dict)  # conditional item id → when it is asked

    def band_of(self, codes: Codes, scores: Scores) -> str | None:
        """The first band that holds, or None."""
        if self.band_lut is not None:
            assert self.band_lut_on is not None
            x = scores.get(self.band_lut_on)
            if x is None:
                return None
            i = int(x) - self.band_lut_low
            if 0 <= i < len(self.band_lut):
                return self.band_lut[i]
        for code, cond in zip(self.band_codes, self.band_conds, strict=True):
            if cond.one(codes, scores):
                return code
        return None


def missing_message(missing: int, required: int, max_missing: int) -> str:
    """The problem reported when too many items are missing to score."""
    return (
        f"{missing} of {required} required items are missing; at most {max_missing} may be "
        "missing, so the answers were not scored"
    )


def not_asked_flag(item_id: str) -> str:
    """Flag raised when a conditional item is answered although its condition did not hold."""
    return f"item_{item_id}_answered_when_not_asked"


def _expect(opts: OptionSet) -> str:
    if opts.kind == "integer":
        return "an integer, one of " + ", ".join(str(v) for v in opts.values)
    extras = [f'"{v}"' for v in opts.values[2:]]
    return "true or false" + "".join(f" or {e}" for e in extras)


def _same(value: OptionValue, target: Any) -> bool:
    """Equality that keeps yes/no apart from 1/0 (True == 1 in Python)."""
    return type(value) is type(target) and value == target


def _holds(op: str, target: Any, value: OptionValue) -> bool:
    if op == "eq":
        return _same(value, target)
    if op == "ne":
        return not _same(value, target)
    if op == "in":
        return any(_same(value, t) for t in target)
    return bool(_CMP[op](value, target))


def _accept(opts: OptionSet, rule: Mapping[str, Any], where: str) -> tuple[int, ...]:
    """Codes of the printed values that satisfy every comparison in `rule`."""
    ops = {op: target for op, target in rule.items() if op in ("eq", "ne", "in", "ge", "gt", "le", "lt")}
    for op, target in ops.items():
        for t in target if op == "in" else [target]:
            if opts.kind == "integer":
                ok = isinstance(t, int | float) and not isinstance(t, bool)
            else:
                ok = (isinstance(t, bool) or (isinstance(t, str) and t in opts.values)) and op in ("eq", "ne", "in")
            if not ok:
                raise PlanError(f"{where}.{op}", f"{t!r} cannot be compared with {_expect(opts)}")
    accepted = tuple(sorted(opts.code_of(v) for v in opts.values if all(_holds(op, t, v) for op, t in ops.items())))
    if not accepted:
        raise PlanError(where, "this condition can never hold")
    return accepted


def _score_ops(rule: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    return tuple((op, rule[op]) for op in ("ge", "gt", "le", "lt") if op in rule)


class _Compiler:
    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.items: dict[str, Item] = {it.id: it for it in inst.items}
        self.score_names: dict[str, bool] = {}  # name -> integer

    def item_ids(self, spec: str | Sequence[str], where: str) -> list[str]:
        if spec == "scored":
            return [it.id for it in self.inst.items if it.scored]
        for iid in spec:
            if iid not in self.items:
                raise PlanError(where, f"no item {iid!r}")
        return list(spec)

    def cond(self, raw: Mapping[str, Any], where: str, scores_ok: bool) -> Cond:
        if "any" in raw:
            return AnyOf(tuple(self.cond(c, f"{where}.any[{i}]", scores_ok) for i, c in enumerate(raw["any"])))
        if "all" in raw:
            return AllOf(tuple(self.cond(c, f"{where}.all[{i}]", scores_ok) for i, c in enumerate(raw["all"])))
        if "not" in raw:
            return Not(self.cond(raw["not"], f"{where}.not", scores_ok))
        if "item" in raw or "any_item" in raw:
            ids = [raw["item"]] if "item" in raw else self.item_ids(raw["any_item"], where)
            parts = []
            for iid in ids:
                if iid not in self.items:
                    raise PlanError(f"{where}.item", f"no item {iid!r}")
                parts.append(ItemIn(iid, _accept(self.items[iid].options, raw, where)))
            return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))
        if not scores_ok:
            raise PlanError(where, "this rule may only look at items, not scores")
        if "any_score" in raw:
            names = raw["any_score"]
            if names == "subscales":
                names = list(self.inst.subscales)
            return AnyOf(tuple(self.score_cmp(n, raw, where) for n in names))
        return self.score_cmp(raw["score"], raw, where)

    def score_cmp(self, name: str, raw: Mapping[str, Any], where: str) -> ScoreCmp:
        if name not in self.score_names:
            raise PlanError(where, f"no score named {name!r}")
        return ScoreCmp(name, _score_ops(raw))

    def node(self, name: str, spec: Mapping[str, Any], where: str) -> ScoreNode:
        kind = spec["kind"]
        if kind == "transform":
            src = next(n for n in self.nodes if n.name == spec["of"])
            factor = Fraction(str(spec["multiply"]))
            num, den = factor.numerator, factor.denominator
            bounds = None
            if src.bounds is not None:
                lo, hi = src.bounds
                bounds = (
                    transform_int(lo, num, den, spec["round"]),
                    transform_int(hi, num, den, spec["round"]),
                )
            return TransformNode(name, spec["of"], num, den, spec["round"], bounds)
        ids = self.item_ids(spec["items"], f"{where}.items")
        items = [self.items[i] for i in ids]
        if kind == "count":
            terms = tuple((it.id, _accept(it.options, spec["where"], f"{where}.where")) for it in items)
            return CountNode(name, terms, (0, len(terms)))
        sum_terms = tuple((it.id, it.options.low + it.options.high if it.reverse else None) for it in items)
        mean = kind == "mean"
        bounds = None if mean else (sum(it.options.low for it in items), sum(it.options.high for it in items))
        return SumNode(name, sum_terms, mean, bounds, integer=not mean)

    nodes: list[ScoreNode]

    def build(self, profile_name: str) -> Plan:
        inst = self.inst
        self.nodes = []
        for section in ("scores", "subscales"):
            for name, spec in getattr(inst, section).items():
                node = self.node(name, spec, f"$.{section}.{name}")
                self.nodes.append(node)
                self.score_names[name] = node.integer
        profile = inst.profile(profile_name)
        where = "$.bands" if profile_name == "default" else f"$.profiles.{profile_name}.bands"
        band_conds = tuple(self.band_cond(profile.bands, i, where) for i in range(len(profile.bands.levels)))
        lut, lut_low = self.band_lut(profile.bands)
        critical: dict[str, set[int]] = {}
        for i, rule in enumerate(inst.critical):
            opts = self.items[rule["item"]].options
            critical.setdefault(rule["item"], set()).update(_accept(opts, rule, f"$.critical[{i}]"))
        flag_codes = [f["code"] for f in inst.flags]
        flag_conds = [self.cond(f["when"], f"$.flags[{i}].when", False) for i, f in enumerate(inst.flags)]
        asked_if: dict[str, Cond] = {}
        for it in inst.items:
            if it.asked_if is not None:
                asked = asked_if[it.id] = self.cond(it.asked_if, f"$.items[{it.id}].asked_if", False)
                answered = ItemIn(it.id, it.options.codes)
                flag_codes.append(not_asked_flag(it.id))
                flag_conds.append(AllOf((answered, Not(asked))))
        parsers = {
            it.id: ItemParser(
                kind=ITEM_INT if it.options.kind == "integer" else ITEM_BOOL,
                allowed=frozenset(it.options.codes),
                extras={str(v): it.options.code_of(v) for v in it.options.values[2:]}
                if it.options.kind == "boolean"
                else {},
                expect=_expect(it.options),
            )
            for it in inst.items
        }
        return Plan(
            code=inst.code,
            version=inst.version,
            profile=profile_name,
            parsers=parsers,
            domains={it.id: it.options.codes for it in inst.items},
            required=tuple(it.id for it in inst.required_items),
            max_missing=inst.missing_max,
            nodes=tuple(self.nodes),
            score_names=tuple(n for n in inst.scores if n != "total"),
            subscale_names=tuple(inst.subscales),
            has_total="total" in inst.scores,
            band_codes=tuple(lv.code for lv in profile.bands.levels),
            band_conds=band_conds,
            band_lut=lut,
            band_lut_on=profile.bands.score if lut is not None else None,
            band_lut_low=lut_low,
            critical=tuple((iid, tuple(sorted(acc))) for iid, acc in critical.items()),
            flag_codes=tuple(flag_codes),
            flag_conds=tuple(flag_conds),
            asked_if=MappingProxyType(asked_if),
        )

    def band_cond(self, bands: Bands, i: int, where: str) -> Cond:
        level = bands.levels[i]
        if level.otherwise:
            return Always()
        if level.when is not None:
            return self.cond(level.when, f"{where}.levels[{i}].when", True)
        assert bands.score is not None
        if bands.score not in self.score_names:
            raise PlanError(f"{where}.score", f"no score named {bands.score!r}")
        if not self.score_names[bands.score]:
            raise PlanError(f"{where}.score", "range bands need an integer score")
        ops: list[tuple[str, float]] = []
        if level.min is not None:
            ops.append(("ge", level.min))
        if level.max is not None:
            ops.append(("le", level.max))
        return ScoreCmp(bands.score, tuple(ops))

    def band_lut(self, bands: Bands) -> tuple[tuple[str | None, ...] | None, int]:
        """A lookup table score -> band when every band is a range (or 'otherwise')."""
        if bands.score is None or any(lv.when is not None for lv in bands.levels):
            return None, 0
        node = next(n for n in self.nodes if n.name == bands.score)
        if node.bounds is None or node.bounds[1] - node.bounds[0] > 100_000:
            return None, 0
        lo, hi = node.bounds
        table: list[str | None] = []
        for x in range(lo, hi + 1):
            code = None
            for lv in bands.levels:
                if lv.otherwise or ((lv.min is None or x >= lv.min) and (lv.max is None or x <= lv.max)):
                    code = lv.code
                    break
            table.append(code)
        return tuple(table), lo


def build_plan(inst: Instrument, profile_name: str) -> Plan:
    """Compile an instrument's rules for one profile (raises `PlanError` naming the field)."""
    return _Compiler(inst).build(profile_name)

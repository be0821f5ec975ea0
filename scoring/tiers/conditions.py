"""The small condition language of tier rules: checking, compiling and describing conditions.

Forms (``ID`` is an item id, ``NAME`` a score name, ``V`` a printed answer value):

* ``{band: [code, ...]}``: the result's band is one of the codes.
* ``{score: NAME, gte: N}``, ``{score: NAME, lte: N}``, ``{score: NAME, between: [LO, HI]}``
  (inclusive). ``NAME`` is ``total`` or a named score (or subscale) of the instrument.
* ``{item: ID, eq: V}``, ``{item: ID, gte: N}``, ``{item: ID, in: [V, ...]}``: the raw answer.
  ``null`` in ``in`` means "unanswered" (absent or null).
* ``{any_item: [ID, ...], in: [V, ...]}``: at least one of these raw answers is in the list.
* ``{any: [cond, ...]}``, ``{all: [cond, ...]}``.

Band and score conditions are false on a result that could not be scored (``valid`` False).
Item conditions always read the raw answers, so they hold on unscorable results too. Values are
typed as the engine types them: numeric items compare integers only (never True/False), yes/no
items compare True/False or an allowed extra string (ASQ ``"declined"``); anything else counts as
no match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from scoring.definition import Instrument, Item
from scoring.engine import Result

Test = Callable[[Result, Mapping[str, Any]], bool]

_UNANSWERED = object()  # stands for "no answer" (absent or None)
_NO_MATCH = object()  # a raw value of a type no answer has


class ConditionError(Exception):
    """A condition does not fit the language or the instrument; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ----------------------------------------------------------------------------- raw values


def _as_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, np.integer) and not isinstance(value, np.bool_):
        return int(value)
    return None


def _as_answer(value: Any) -> Any:
    """The raw answer normalised to int / bool / str, `_UNANSWERED` for None, else a sentinel."""
    if value is None:
        return _UNANSWERED
    t = type(value)
    if t is int or t is bool or t is str:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return _NO_MATCH


def _same(answer: Any, target: Any) -> bool:
    """Typed equality: 1 never equals True."""
    return type(answer) is type(target) and answer == target


# ----------------------------------------------------------------------------- checking


def _instrument_values(inst: Instrument, item_id: str, where: str) -> Item:
    try:
        return inst.item(item_id)
    except KeyError:
        raise ConditionError(where, f"instrument {inst.code!r} has no item {item_id!r}") from None


def _check_value(item: Item, code: str, value: Any, where: str, *, allow_null: bool = False) -> None:
    if value is None and allow_null:
        return
    opts = item.options
    if opts.kind == "integer":
        ok = type(value) is int and value in opts.values
    else:
        ok = type(value) is bool or (type(value) is str and value in opts.values)
    if not ok:
        allowed = ", ".join(_show_value(v) for v in opts.values)
        raise ConditionError(where, f"{value!r} is not an answer of {code} item {item.id} (answers: {allowed})")


def _number(value: Any, where: str) -> int | float:
    if type(value) not in (int, float):
        raise ConditionError(where, f"expected a number, not {type(value).__name__}")
    return value  # type: ignore[no-any-return]


def _item_id(value: Any, where: str) -> str:
    if type(value) is not str or not value:
        raise ConditionError(where, 'an item id is a non-empty string such as "9" (quote numbers in YAML)')
    return value


_KEYS = {
    "band": ({"band"}, set()),
    "score": ({"score"}, {"gte", "lte", "between"}),
    "item": ({"item"}, {"eq", "gte", "in"}),
    "any_item": ({"any_item", "in"}, set()),
    "any": ({"any"}, set()),
    "all": ({"all"}, set()),
}


def compile_condition(node: Any, instruments: Sequence[Instrument], where: str) -> Test:
    """Check `node` against every instrument the rule applies to and return its test."""
    if not isinstance(node, Mapping) or not node:
        raise ConditionError(where, 'a condition is a mapping such as {band: [...]} or {item: "9", gte: 2}')
    kinds = [k for k in _KEYS if k in node]
    if len(kinds) != 1:
        raise ConditionError(
            where, f"a condition has exactly one of {', '.join(_KEYS)}, got keys {sorted(map(str, node))}"
        )
    kind = kinds[0]
    required, one_of = _KEYS[kind]
    allowed = required | one_of
    extra = sorted(str(k) for k in node if k not in allowed)
    if extra:
        raise ConditionError(where, f"unknown key(s) {extra} in a {kind} condition (allowed: {sorted(allowed)})")
    if one_of:
        ops = [k for k in one_of if k in node]
        if len(ops) != 1:
            raise ConditionError(where, f"a {kind} condition needs exactly one of {sorted(one_of)}")
    if kind == "band":
        return _band(node["band"], instruments, f"{where}.band")
    if kind == "score":
        return _score(node, instruments, where)
    if kind == "item":
        return _item(node, instruments, where)
    if kind == "any_item":
        return _any_item(node, instruments, where)
    return _combine(kind, node[kind], instruments, where)


def _band(codes: Any, instruments: Sequence[Instrument], where: str) -> Test:
    if not isinstance(codes, list) or not codes or not all(type(c) is str for c in codes):
        raise ConditionError(where, "expected a non-empty list of band codes")
    for inst in instruments:
        known = {level.code for p in inst.profiles.values() for level in p.bands.levels}
        for code in codes:
            if code not in known:
                raise ConditionError(
                    where,
                    f"instrument {inst.code!r} has no band {code!r} in any profile (bands: {', '.join(sorted(known))})",
                )
    wanted = frozenset(codes)

    def test(result: Result, answers: Mapping[str, Any]) -> bool:
        return result.band in wanted

    return test


def _score(node: Mapping[str, Any], instruments: Sequence[Instrument], where: str) -> Test:
    name = node["score"]
    if type(name) is not str:
        raise ConditionError(f"{where}.score", "expected a score name such as total")
    for inst in instruments:
        if name not in inst.scores and name not in inst.subscales:
            known = ", ".join(sorted({*inst.scores, *inst.subscales})) or "none"
            raise ConditionError(f"{where}.score", f"instrument {inst.code!r} has no score {name!r} (scores: {known})")
    if "between" in node:
        pair = node["between"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConditionError(f"{where}.between", "expected [low, high]")
        lo = _number(pair[0], f"{where}.between[0]")
        hi = _number(pair[1], f"{where}.between[1]")
        if lo > hi:
            raise ConditionError(f"{where}.between", "low is above high")
    elif "gte" in node:
        lo, hi = _number(node["gte"], f"{where}.gte"), None
    else:
        lo, hi = None, _number(node["lte"], f"{where}.lte")

    def value(result: Result) -> Any:
        if name == "total":
            return result.total
        v = result.scores.get(name)
        return result.subscales.get(name) if v is None else v

    if lo is not None and hi is not None:
        a, b = lo, hi

        def between(result: Result, answers: Mapping[str, Any]) -> bool:
            v = value(result)
            return v is not None and a <= v <= b

        return between
    if lo is not None:
        a = lo

        def gte(result: Result, answers: Mapping[str, Any]) -> bool:
            v = value(result)
            return v is not None and v >= a

        return gte
    assert hi is not None
    b = hi

    def lte(result: Result, answers: Mapping[str, Any]) -> bool:
        v = value(result)
        return v is not None and v <= b

    return lte


def _item(node: Mapping[str, Any], instruments: Sequence[Instrument], where: str) -> Test:
    iid = _item_id(node["item"], f"{where}.item")
    items = [(inst.code, _instrument_values(inst, iid, f"{where}.item")) for inst in instruments]
    if "gte" in node:
        n = node["gte"]
        if type(n) is not int:
            raise ConditionError(f"{where}.gte", "expected an integer answer value")
        for code, it in items:
            if it.options.kind != "integer":
                raise ConditionError(f"{where}.gte", f"{code} item {iid} is a yes/no item; use eq or in")
        threshold = n

        def gte(result: Result, answers: Mapping[str, Any]) -> bool:
            v = answers.get(iid)
            if type(v) is not int:
                v = _as_int(v)
                if v is None:
                    return False
            return v >= threshold

        return gte
    if "eq" in node:
        target = node["eq"]
        for code, it in items:
            _check_value(it, code, target, f"{where}.eq")
        if type(target) is int:
            t_int: int = target

            def eq_int(result: Result, answers: Mapping[str, Any]) -> bool:
                v = answers.get(iid)
                if type(v) is not int:
                    v = _as_int(v)
                return v == t_int

            return eq_int
        t_any = target

        def eq(result: Result, answers: Mapping[str, Any]) -> bool:
            return _same(_as_answer(answers.get(iid)), t_any)

        return eq
    targets = _targets(node["in"], items, f"{where}.in")
    return _member_test((iid,), targets)


def _targets(values: Any, items: Sequence[tuple[str, Item]], where: str) -> tuple[Any, ...]:
    if not isinstance(values, list) or not values:
        raise ConditionError(where, "expected a non-empty list of answer values (null = unanswered)")
    for code, it in items:
        for i, v in enumerate(values):
            _check_value(it, code, v, f"{where}[{i}]", allow_null=True)
    return tuple(_UNANSWERED if v is None else v for v in values)


def _member_test(iids: tuple[str, ...], targets: tuple[Any, ...]) -> Test:
    def test(result: Result, answers: Mapping[str, Any]) -> bool:
        for iid in iids:
            a = _as_answer(answers.get(iid))
            for t in targets:
                if type(a) is type(t) and a == t:
                    return True
        return False

    return test


def _any_item(node: Mapping[str, Any], instruments: Sequence[Instrument], where: str) -> Test:
    ids = node["any_item"]
    if not isinstance(ids, list) or not ids:
        raise ConditionError(f"{where}.any_item", "expected a non-empty list of item ids")
    items: list[tuple[str, Item]] = []
    for i, raw in enumerate(ids):
        iid = _item_id(raw, f"{where}.any_item[{i}]")
        items.extend((inst.code, _instrument_values(inst, iid, f"{where}.any_item[{i}]")) for inst in instruments)
    targets = _targets(node["in"], items, f"{where}.in")
    return _member_test(tuple(ids), targets)


def _combine(kind: str, parts: Any, instruments: Sequence[Instrument], where: str) -> Test:
    if not isinstance(parts, list) or not parts:
        raise ConditionError(f"{where}.{kind}", "expected a non-empty list of conditions")
    tests = tuple(compile_condition(p, instruments, f"{where}.{kind}[{i}]") for i, p in enumerate(parts))
    if kind == "any":

        def any_of(result: Result, answers: Mapping[str, Any]) -> bool:
            return any(t(result, answers) for t in tests)

        return any_of

    def all_of(result: Result, answers: Mapping[str, Any]) -> bool:
        return all(t(result, answers) for t in tests)

    return all_of


# ----------------------------------------------------------------------------- describing


def _show_value(v: Any, lang: str = "en") -> str:
    if v is None:
        return "unanswered" if lang == "en" else "未作答"
    if v is True:
        return "yes" if lang == "en" else "是"
    if v is False:
        return "no" if lang == "en" else "否"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def _items_text(ids: Sequence[str]) -> str:
    return ", ".join(ids[:-1]) + f" or {ids[-1]}" if len(ids) > 1 else ids[0]


def describe(node: Mapping[str, Any]) -> str:
    """Plain-English reading of a (checked) condition, for docs/tiers.md."""
    if "band" in node:
        return "band is " + " or ".join(f"`{c}`" for c in node["band"])
    if "score" in node:
        name = node["score"]
        if "between" in node:
            lo, hi = node["between"]
            return f"{name} {lo}–{hi}"
        if "gte" in node:
            return f"{name} ≥ {node['gte']}"
        return f"{name} ≤ {node['lte']}"
    if "item" in node:
        iid = node["item"]
        if "gte" in node:
            return f"item {iid} ≥ {node['gte']}"
        if "eq" in node:
            v = node["eq"]
            return f"item {iid} = {_show_value(v)}" if type(v) is int else f"item {iid} is {_show_value(v)}"
        return f"item {iid} is " + " or ".join(_show_value(v) for v in node["in"])
    if "any_item" in node:
        return f"any of items {_items_text(node['any_item'])} is " + " or ".join(_show_value(v) for v in node["in"])
    kind = "any" if "any" in node else "all"
    joiner = " **or** " if kind == "any" else " and "
    parts = [describe(p) for p in node[kind]]
    wrapped = [f"({p})" if ("any" in c or "all" in c) else p for p, c in zip(parts, node[kind], strict=True)]
    return joiner.join(wrapped)

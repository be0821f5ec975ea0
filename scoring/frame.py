"""Scoring many answer sets at once: `score_frame`.

The frame is read column by column into integer code arrays once; every rule is then a handful of
NumPy operations over whole columns (no per-row Python, no ``DataFrame.apply``), taken in blocks
of `BLOCK_ROWS` rows so that a block's columns stay in the CPU cache from one step to the next.
The rules are the same node objects `score` uses (see `scoring.plan`), and a property test checks
that both give the same result on every row for every instrument.

How frame values are read (documented in docs/instruments.md):

* Item columns are found by their string label ("1", "2", ..., "wants_counselling"); other
  columns are ignored, and an item without a column counts as missing on every row. An integer
  column label that names an item (1 instead of "1") is an error, so answers are never dropped
  silently.
* Missing: NaN, None, pd.NA, or an empty/blank string.
* Numeric items: integers, floats with an integral value (CSV columns with gaps are floats), or
  digit strings; one kind per column. True/False in a numeric item column is an error, and so is
  a column mixing numbers with text (Python cannot tell True from 1 there).
* Yes/no items: True/False, 1/0, and the strings true/false, yes/no, 1/0 (any case), plus the
  extra answers the definition allows (ASQ "declined"). Frames are more lenient here than
  `score`, because files from survey tools often store yes/no as 1/0.
* Anything else raises `FrameError` naming each column and the first rows (index labels) at
  fault; nothing is scored. The message never repeats the values.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import infer_dtype

from scoring.engine import get_plan
from scoring.errors import FrameError
from scoring.plan import (
    ITEM_INT,
    MISSING,
    BoolArray,
    Columns,
    IntArray,
    ItemParser,
    Plan,
    match,
    missing_message,
)

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_NUMERIC_OBJECT = frozenset({"integer", "floating", "mixed-integer-float"})
_SHOW_ROWS = 10


#: Rows scored at a time. Every step re-reads the block's columns, and a block of this size stays
#: in the CPU cache between steps, so checking the answers costs little on top of summing them.
BLOCK_ROWS = 65_536


class _BadRows(Exception):
    def __init__(self, rows: BoolArray, reason: str = "") -> None:
        self.rows = rows
        self.reason = reason


@dataclass
class _Source:
    """Item code arrays for the whole frame; `unchecked` integer columns are checked per block."""

    n: int
    vals: dict[str, IntArray]
    present: dict[str, BoolArray | None]
    unchecked: list[str]

    def block(self, plan: Plan, start: int, stop: int) -> Columns:
        present = {k: None if p is None else p[start:stop] for k, p in self.present.items()}
        vals = {k: v[start:stop] for k, v in self.vals.items()}
        return Columns(n=stop - start, vals=vals, present=present, domains=plan.domains)


@dataclass
class _Results:
    """Result arrays for the whole frame, filled block by block."""

    valid: BoolArray
    scores: dict[str, tuple[npt.NDArray[Any], BoolArray]]  # values, defined-and-valid
    band: npt.NDArray[np.int8]
    critical: npt.NDArray[np.int16]
    flags: npt.NDArray[np.int16]
    problems: npt.NDArray[np.int16]

    @classmethod
    def empty(cls, plan: Plan, n: int) -> _Results:
        scores = {
            node.name: (np.empty(n, np.int64 if node.integer else np.float64), np.empty(n, np.bool_))
            for node in plan.nodes
        }
        return cls(
            valid=np.empty(n, np.bool_),
            scores=scores,
            band=np.empty(n, np.int8),
            critical=np.empty(n, np.int16),
            flags=np.empty(n, np.int16),
            problems=np.zeros(n, np.int16),
        )


def score_frame(code: str, frame: pd.DataFrame, profile: str | None = None) -> pd.DataFrame:
    """Score every row of `frame` in one vectorised pass; the result has the same index.

    Columns of the result: instrument, version, profile, valid, total (nullable Int64), band
    (categorical), one column per named score and per subscale (Int64 or Float64), critical and
    flags (comma-joined item ids / flag codes, "" when none) and problems ("" when valid). Each row
    equals what `score` returns for that row's answers. Raises `FrameError` for values that are
    not answers (see the module docstring).
    """
    plan = get_plan(code, profile)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("score_frame needs a pandas DataFrame")
    source, errors = _read_columns(plan, frame)
    n = source.n
    results = _Results.empty(plan, n)
    lut = _band_lut(plan)
    bad: dict[str, list[IntArray]] = {}
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        cols = source.block(plan, start, stop)
        for iid in source.unchecked:
            rows = _domain_errors(cols.vals[iid], plan.parsers[iid])
            if rows is not None:
                bad.setdefault(iid, []).append(np.flatnonzero(rows) + start)
        if not bad and not errors:  # after the first bad value, only keep checking
            _score_block(plan, cols, lut, results, slice(start, stop))
    for iid, chunks in bad.items():
        errors.append(_row_error(frame.index, iid, plan.parsers[iid], np.concatenate(chunks)))
    if errors:
        raise FrameError("cannot score this frame: " + "; ".join(errors))
    return _to_frame(plan, results, frame.index)


def _score_block(plan: Plan, cols: Columns, lut: npt.NDArray[np.int8] | None, out: _Results, rows: slice) -> None:
    """Score one block of rows into the result arrays."""
    gaps = [p for iid in plan.required if (p := cols.present[iid]) is not None]
    if gaps:
        missing = np.zeros(cols.n, np.int64)
        for p in gaps:
            missing += ~p
        valid = missing <= plan.max_missing
        all_valid = bool(valid.all())
    else:  # every required item answered on every row: nothing to count
        valid = np.ones(cols.n, np.bool_)
        all_valid = True
    out.valid[rows] = valid
    for node in plan.nodes:
        cols.scores[node.name] = node.many(cols)
    for name, (values, ok) in out.scores.items():
        s = cols.scores[name]
        values[rows] = s.values
        ok[rows] = valid if s.defined is None else valid & s.defined
    out.band[rows] = _bands(plan, cols, lut, valid, all_valid)
    out.critical[rows] = _bits([match(cols, iid, acc) for iid, acc in plan.critical], cols.n)
    out.flags[rows] = _bits([cond.many(cols) for cond in plan.flag_conds], cols.n)
    if not all_valid:
        out.problems[rows] = np.where(valid, 0, missing - plan.max_missing)


def _to_frame(plan: Plan, res: _Results, index: pd.Index) -> pd.DataFrame:
    n = len(res.valid)
    out: dict[str, Any] = {
        "instrument": _constant(plan.code, n),
        "version": _constant(plan.version, n),
        "profile": _constant(plan.profile, n),
        "valid": res.valid,
        "total": _score_column(res, "total", n),
        "band": _categorical(res.band, list(plan.band_codes)),
    }
    for name in (*plan.score_names, *plan.subscale_names):
        out[name] = _score_column(res, name, n)
    out["critical"] = _categorical(res.critical, _combinations([iid for iid, _ in plan.critical]))
    out["flags"] = _categorical(res.flags, _combinations(list(plan.flag_codes)))
    required = len(plan.required)
    problems = [""] + [
        missing_message(m, required, plan.max_missing) for m in range(plan.max_missing + 1, required + 1)
    ]
    out["problems"] = _categorical(res.problems, problems)
    return pd.DataFrame(out, index=index, copy=False)


@lru_cache(maxsize=256)
def _dtype(categories: tuple[str | int, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(categories))


def _categorical(codes: npt.NDArray[np.integer[Any]], categories: Sequence[str | int]) -> pd.Categorical:
    """A categorical column from codes we built ourselves (-1 = missing), without re-checking."""
    return pd.Categorical.from_codes(codes, dtype=_dtype(tuple(categories)), validate=False)


def _constant(value: str | int, n: int) -> pd.Categorical:
    """A column holding one value on every row (1 byte a row)."""
    return _categorical(np.zeros(n, np.int8), [value])


def _score_column(res: _Results, name: str, n: int) -> pd.api.extensions.ExtensionArray:
    if name not in res.scores:  # an instrument without a total (ASQ)
        return pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, np.bool_))
    values, ok = res.scores[name]
    if values.dtype == np.int64:
        return pd.arrays.IntegerArray(values, ~ok)
    return pd.arrays.FloatingArray(values, ~ok)


def _band_lut(plan: Plan) -> npt.NDArray[np.int8] | None:
    """Band index by score (offset by the plan's lowest score), when bands are plain ranges."""
    if plan.band_lut is None:
        return None
    return np.array([-1 if c is None else plan.band_codes.index(c) for c in plan.band_lut], np.int8)


def _bands(
    plan: Plan, cols: Columns, lut: npt.NDArray[np.int8] | None, valid: BoolArray, all_valid: bool
) -> npt.NDArray[np.int8]:
    if lut is not None and plan.band_lut_on is not None:
        # Every band is a range on one integer score whose bounds the plan knows (answers were
        # checked against the options, so sums, prorated sums and transforms stay in bounds).
        idx = cols.scores[plan.band_lut_on].values
        if plan.band_lut_low:
            idx = idx - plan.band_lut_low
        if not all_valid:
            idx = np.where(valid, idx, 0)
        codes: npt.NDArray[np.int8] = lut[idx]
    else:
        codes = np.full(cols.n, -1, np.int8)
        for i in range(len(plan.band_codes) - 1, -1, -1):
            codes[plan.band_conds[i].many(cols)] = i
    if not all_valid:
        codes[~valid] = -1
    return codes


def _bits(parts: list[BoolArray], n: int) -> npt.NDArray[np.int16]:
    """Bit i set where part i holds (critical rules, flags)."""
    bits = np.zeros(n, np.int16)
    for i, m in enumerate(parts):
        bits |= m.astype(np.int16) << i
    return bits


def _combinations(names: list[str]) -> list[str]:
    """Category of each bit pattern: the comma-joined names whose bits are set."""
    return [",".join(nm for i, nm in enumerate(names) if combo >> i & 1) for combo in range(1 << len(names))]


# --------------------------------------------------------------------------------------------
# Reading frame columns


def _read_columns(plan: Plan, frame: pd.DataFrame) -> tuple[_Source, list[str]]:
    """Code arrays per item, and the errors found so far (integer columns are checked later)."""
    n = len(frame)
    labels = list(frame.columns)
    for label in labels:
        if isinstance(label, int | np.integer) and not isinstance(label, bool | np.bool_):
            if str(label) in plan.parsers:
                raise FrameError(
                    f"column {label} is labelled with a number; label item columns with strings such as {str(label)!r}"
                )
    vals: dict[str, IntArray] = {}
    present: dict[str, BoolArray | None] = {}
    unchecked: list[str] = []
    errors: list[str] = []
    for iid, parser in plan.parsers.items():
        hits = labels.count(iid)
        if hits == 0:  # read-only broadcast views: no memory, no work
            vals[iid] = np.broadcast_to(np.int64(MISSING), (n,))
            present[iid] = np.broadcast_to(np.False_, (n,))
            continue
        if hits > 1:
            errors.append(f"column {iid!r} appears {hits} times")
            continue
        column = frame[iid]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
            vals[iid] = column.to_numpy().astype(np.int64, copy=False)
            present[iid] = None
            unchecked.append(iid)
            continue
        try:
            vals[iid], present[iid] = _read_column(column, parser)
        except _BadRows as bad:
            errors.append(_row_error(frame.index, iid, parser, np.flatnonzero(bad.rows), bad.reason))
    return _Source(n=n, vals=vals, present=present, unchecked=unchecked), errors


def _row_error(index: pd.Index, iid: str, parser: ItemParser, rows: IntArray, reason: str = "") -> str:
    labels = index[rows]
    shown = ", ".join(repr(_plain(r)) for r in labels[:_SHOW_ROWS])
    more = f" and {len(labels) - _SHOW_ROWS} more" if len(labels) > _SHOW_ROWS else ""
    reason = reason or f"hold values that are not answers (expected {parser.expect}, or empty for missing)"
    return f"column {iid!r}: {len(labels)} row(s) {reason}; rows {shown}{more}"


def _plain(label: Hashable) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def _read_column(s: pd.Series, parser: ItemParser) -> tuple[IntArray, BoolArray | None]:
    dt = s.dtype
    numeric_item = parser.kind == ITEM_INT
    if isinstance(dt, np.dtype) and dt.kind == "b":
        if numeric_item:
            raise _BadRows(np.ones(len(s), np.bool_))
        return s.to_numpy().astype(np.int64), None
    if isinstance(dt, np.dtype) and dt.kind == "f":
        return _from_float(s.to_numpy(), parser)
    if not isinstance(dt, np.dtype) and pd.api.types.is_bool_dtype(dt):
        if numeric_item:
            raise _BadRows(s.notna().to_numpy())
        return _from_float(s.to_numpy(dtype=np.float64, na_value=np.nan), parser)
    if not isinstance(dt, np.dtype) and pd.api.types.is_numeric_dtype(dt):
        return _from_float(s.to_numpy(dtype=np.float64, na_value=np.nan), parser)
    if isinstance(dt, np.dtype) and dt.kind not in "OSU":
        raise _BadRows(np.ones(len(s), np.bool_))
    return _from_objects(s.to_numpy(dtype=object, na_value=None), parser)  # type: ignore[call-overload]


def _domain_errors(v: IntArray, parser: ItemParser, present: BoolArray | None = None) -> BoolArray | None:
    """Rows whose present value is not one of the item's numeric answers, or None if all are."""
    allowed = sorted(parser.allowed if parser.kind == ITEM_INT else (0, 1))
    lo, hi = allowed[0], allowed[-1]
    if len(v) == 0:
        return None
    if present is None and hi - lo == len(allowed) - 1:
        # One pass when the answers start at 0: negative values wrap to huge unsigned ones.
        if lo == 0 and v.dtype == np.int64 and v.view(np.uint64).max() <= hi:
            return None
        if lo != 0 and v.min() >= lo and v.max() <= hi:
            return None
    bad: BoolArray = ~np.isin(v, allowed)
    if present is not None:
        bad &= present
    return bad if bad.any() else None


def _check_domain(v: IntArray, present: BoolArray | None, parser: ItemParser) -> IntArray:
    """Raise `_BadRows` for present values outside the item's numeric answers."""
    bad = _domain_errors(v, parser, present)
    if bad is not None:
        raise _BadRows(bad)
    return v


def _from_float(a: np.ndarray[Any, Any], parser: ItemParser) -> tuple[IntArray, BoolArray | None]:
    a = a.astype(np.float64, copy=False)
    present = ~np.isnan(a)
    all_present = bool(present.all())
    with np.errstate(invalid="ignore"):
        bad = present & ((a != np.floor(a)) | (np.abs(a) > 2**31))
    if bad.any():
        raise _BadRows(bad)
    v = np.where(present, a, MISSING).astype(np.int64)
    v = _check_domain(v, None if all_present else present, parser)
    return v, None if all_present else present


def _from_objects(a: np.ndarray[Any, Any], parser: ItemParser) -> tuple[IntArray, BoolArray | None]:
    kind = infer_dtype(a, skipna=True)
    if parser.kind == ITEM_INT and kind in _NUMERIC_OBJECT:
        numbers = pd.to_numeric(pd.Series(a, dtype=object), errors="coerce").to_numpy(np.float64)
        return _from_float(numbers, parser)
    if parser.kind == ITEM_INT and kind not in ("string", "empty"):
        # True/False, or numbers mixed with text (where True and 1 cannot be told apart):
        # a numeric item column must hold only numbers or only text.
        raise _BadRows(
            pd.notna(a) & (a != ""),
            "mix numbers with text or hold true/false; a numeric item column must hold only numbers or only digit text",
        )
    # Few distinct values: factorize (hashing in C), then read each distinct value once.
    codes, uniques = pd.factorize(a, use_na_sentinel=True)
    lookup = np.array([_read_one(u, parser) for u in uniques] + [MISSING], np.int64)
    v = lookup[codes]  # code -1 (missing) picks the trailing MISSING
    bad_code = -2
    bad = v == bad_code
    if bad.any():
        raise _BadRows(bad)
    present = v != MISSING
    return v, None if bool(present.all()) else present


def _read_one(value: Any, parser: ItemParser) -> int:
    """Code of one distinct frame value; MISSING for blanks, -2 for a value that is no answer."""
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return MISSING
        if parser.kind == ITEM_INT:
            if text.isascii() and text.isdigit() and int(text) in parser.allowed:
                return int(text)
            return -2
        lowered = text.lower()
        if lowered in _TRUE:
            return 1
        if lowered in _FALSE:
            return 0
        return parser.extras.get(lowered, -2)
    if parser.kind == ITEM_INT:
        return -2  # numbers never reach here for numeric items
    if isinstance(value, bool | np.bool_):
        return int(bool(value))
    if isinstance(value, int | float | np.number) and value in (0, 1):
        return int(value)
    return -2


__all__ = ["score_frame"]

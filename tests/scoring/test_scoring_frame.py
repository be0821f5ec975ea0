"""`score_frame` gives exactly what `score` gives, row by row, for every instrument."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_test_helpers import answers_for_total

import scoring

PROFILES = [(c, p) for c in scoring.instrument_codes() for p in scoring.instrument(c).profiles]


@st.composite
def answer_sets(draw: st.DrawFn, code: str) -> dict[str, Any]:
    """One well-formed answer set; missing items are absent or None, often near the limit."""
    inst = scoring.instrument(code)
    ids = [it.id for it in inst.items]
    limit = inst.missing_max
    n_missing = draw(st.one_of(st.integers(0, limit + 2), st.integers(0, len(ids))))
    missing = set(draw(st.permutations(ids))[:n_missing])
    answers: dict[str, Any] = {}
    for it in inst.items:
        if it.id in missing:
            if draw(st.booleans()):
                answers[it.id] = None
            continue
        answers[it.id] = draw(st.sampled_from(it.options.values))
    return answers


def expected_row(result: scoring.Result) -> dict[str, Any]:
    row: dict[str, Any] = {
        "instrument": result.instrument,
        "version": result.version,
        "profile": result.profile,
        "valid": result.valid,
        "total": result.total,
        "band": result.band,
        "critical": ",".join(result.critical),
        "flags": ",".join(result.flags),
        "problems": "; ".join(p.message for p in result.problems),
    }
    row.update(result.scores)
    row.update(result.subscales)
    return row


def frame_row(frame: pd.DataFrame, i: int, keys: list[str]) -> dict[str, Any]:
    out = {}
    for key in keys:
        value = frame[key].iloc[i]
        out[key] = (
            None
            if value is pd.NA or (isinstance(value, float) and np.isnan(value))
            else (value.item() if isinstance(value, np.generic) else value)
        )
    return out


def assert_same(code: str, profile: str, rows: list[dict[str, Any]], frame: pd.DataFrame) -> None:
    out = scoring.score_frame(code, frame, profile)
    assert list(out.index) == list(frame.index)
    for i, answers in enumerate(rows):
        expected = expected_row(scoring.score(code, answers, profile))
        got = frame_row(out, i, list(expected))
        assert got == expected, (code, profile, answers)


def as_records(code: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    ids = [it.id for it in scoring.instrument(code).items]
    return pd.DataFrame.from_records(rows, columns=ids)


@pytest.mark.parametrize(("code", "profile"), PROFILES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_frame_equals_single(code: str, profile: str, data: st.DataObject) -> None:
    rows = data.draw(st.lists(answer_sets(code), min_size=1, max_size=12))
    frame = as_records(code, rows)
    assert_same(code, profile, rows, frame)
    # The same answers in pandas' nullable dtypes (Int64, boolean, string) score the same.
    assert_same(code, profile, rows, frame.convert_dtypes())


@pytest.mark.parametrize("code", scoring.instrument_codes())
def test_frame_without_missing_uses_plain_integer_columns(code: str) -> None:
    inst = scoring.instrument(code)
    rows = [
        {it.id: it.options.values[(k + j) % len(it.options.values)] for j, it in enumerate(inst.items)}
        for k in range(7)
    ]
    frame = as_records(code, rows)
    assert_same(code, "default", rows, frame)


def test_prorating_edges_in_frames() -> None:
    rows = [
        {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 0},  # 4.5 -> 5
        {"1": 3, "2": 3, "3": 3, "4": 3, "5": 0, "6": 0, "7": 0},
        {"1": 3, "2": 3, "3": 3, "4": 3, "5": 0, "9": 1},
        answers_for_total("phq9", 27),
    ]
    out = scoring.score_frame("phq9", as_records("phq9", rows))
    assert out["total"].tolist()[:2] == [5, 15] and out["total"].isna().tolist()[2]
    assert out["valid"].tolist() == [True, True, False, True]
    assert out["critical"].tolist() == ["", "", "9", "9"]
    assert out["problems"].tolist()[2].startswith("3 of 9 required items are missing")


def test_frame_value_forms() -> None:
    frame = pd.DataFrame(
        {
            "1": [True, "yes", 1, "declined"],
            "2": ["no", False, 0.0, None],
            "3": ["FALSE", "False", np.nan, "0"],
            "4": [0, "", "no", "Yes"],
            "5": [None, np.nan, "true", "1"],
            "patient_id": ["a", "b", "c", "d"],
        }
    )
    out = scoring.score_frame("asq", frame)
    assert out["band"].tolist()[0] == "acute_positive"
    assert out["valid"].tolist() == [True, False, False, False]  # rows 1-3 miss an item of 1-4
    assert out["critical"].tolist() == ["", "", "5", "5"]


def test_frame_numeric_strings_and_floats() -> None:
    text = pd.DataFrame({str(i): ["2", " 3 ", ""] for i in range(1, 10)})
    assert scoring.score_frame("phq9", text)["total"].tolist()[:2] == [18, 27]
    floats = pd.DataFrame({str(i): [2.0, 3.0, np.nan] for i in range(1, 10)})
    assert scoring.score_frame("phq9", floats)["total"].tolist()[:2] == [18, 27]
    mixed = pd.DataFrame({str(i): ["2", 2.0] for i in range(1, 10)})
    with pytest.raises(scoring.FrameError, match="only numbers or only digit text"):
        scoring.score_frame("phq9", mixed)


@pytest.mark.parametrize(
    ("column", "values", "bad"),
    [
        ("1", [0, 4, 7], ["r2", "r3"]),
        ("1", [0.0, 1.5, np.nan], ["r2"]),
        ("1", [True, False, True], ["r1", "r2", "r3"]),
        ("1", ["1", "x", None], ["r2"]),
        ("1", [1, "2", None], ["r1", "r2"]),
        ("9", [0, -1, 3], ["r2"]),
    ],
)
def test_malformed_frame_raises_naming_column_and_rows(column: str, values: list[Any], bad: list[str]) -> None:
    frame = pd.DataFrame({str(i): [1, 1, 1] for i in range(1, 10)}, index=["r1", "r2", "r3"])
    frame[column] = pd.Series(values, index=frame.index, dtype=object if None in values else None)
    with pytest.raises(scoring.FrameError) as err:
        scoring.score_frame("phq9", frame)
    message = str(err.value)
    assert f"column {column!r}" in message
    for row in ("r1", "r2", "r3"):
        assert (repr(row) in message) == (row in bad), (row, message)


def test_malformed_yes_no_values() -> None:
    frame = pd.DataFrame({"1": [True, 2], "2": ["maybe", False], "3": [False] * 2, "4": [False] * 2})
    with pytest.raises(scoring.FrameError) as err:
        scoring.score_frame("asq", frame)
    assert "column '1'" in str(err.value) and "column '2'" in str(err.value)


def test_integer_column_labels_are_rejected() -> None:
    frame = pd.DataFrame({i: [1] for i in range(1, 10)})
    with pytest.raises(scoring.FrameError, match="labelled with a number"):
        scoring.score_frame("phq9", frame)


def test_absent_item_columns_count_as_missing_and_extra_columns_are_ignored() -> None:
    frame = pd.DataFrame({"1": [3], "2": [3], "school": ["x"]})
    out = scoring.score_frame("phq9", frame)
    assert not out["valid"].iloc[0] and out["problems"].iloc[0].startswith("7 of 9")
    assert "school" not in out.columns


def test_empty_frame() -> None:
    out = scoring.score_frame("phq9", as_records("phq9", []))
    assert len(out) == 0 and "total" in out.columns


def test_result_columns() -> None:
    out = scoring.score_frame("scl90", as_records("scl90", [answers_for_total("scl90", 90)]))
    assert list(out.columns) == [
        "instrument",
        "version",
        "profile",
        "valid",
        "total",
        "band",
        "gsi",
        "positive_items",
        *scoring.instrument("scl90").subscales,
        "critical",
        "flags",
        "problems",
    ]
    assert str(out["total"].dtype) == "Int64" and str(out["gsi"].dtype) == "Float64"


def test_frame_unknown_profile() -> None:
    with pytest.raises(scoring.UnknownProfileError):
        scoring.score_frame("phq9", pd.DataFrame(), profile="nope")


@pytest.mark.parametrize("code", scoring.instrument_codes())
def test_many_blocks_give_the_same_result(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames are scored in row blocks; block edges must not change any result."""
    import random

    import scoring.frame

    monkeypatch.setattr(scoring.frame, "BLOCK_ROWS", 5)
    rng = random.Random(code)
    inst = scoring.instrument(code)
    rows = []
    for _ in range(53):
        gaps = rng.choice([0, 0, inst.missing_max, inst.missing_max + 1, len(inst.items)])
        skip = set(rng.sample([it.id for it in inst.items], gaps))
        rows.append({it.id: rng.choice(it.options.values) for it in inst.items if it.id not in skip})
    assert_same(code, "default", rows, as_records(code, rows))
    full = [{it.id: it.options.values[-1] for it in inst.items}] * 12
    assert_same(code, "default", full, as_records(code, full))  # integer columns, checked per block


def test_bad_value_in_a_later_block_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import scoring.frame

    monkeypatch.setattr(scoring.frame, "BLOCK_ROWS", 4)
    frame = pd.DataFrame({str(i): [1] * 10 for i in range(1, 10)}, index=[f"r{i}" for i in range(10)])
    frame.loc["r9", "3"] = 4
    with pytest.raises(scoring.FrameError, match=r"column '3': 1 row\(s\).*'r9'"):
        scoring.score_frame("phq9", frame)

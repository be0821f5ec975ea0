"""Small-cell suppression, checked by an attacker.

The attacker (``attacker_intervals``) knows every shown cell, the line equations of the table with
its totals, and bounds for each withheld cell, and asks a linear program for the smallest and
largest value each withheld cell can take. A withheld cell whose minimum equals its maximum has been
worked out: the tests fail on it. The first test shows the attacker does find such a cell when only
the primary cells are withheld, so the others can fail. No database.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from exports.suppression import (
    COMPLEMENT_MARK,
    PRIMARY_MARK,
    THRESHOLD,
    Suppression,
    Unprotectable,
    derived_suppressed,
    primary_mask,
    protect,
    protect_or_withhold_all,
    with_totals,
)

Cell = tuple[int, int]


def line_equations(shape: tuple[int, int]) -> list[list[tuple[Cell, int]]]:
    """Each line of the grid (table + totals): its inner cells minus its total are zero."""
    rows, cols = shape
    lines = [[((r, c), 1) for c in range(cols - 1)] + [((r, cols - 1), -1)] for r in range(rows)]
    lines += [[((r, c), 1) for r in range(rows - 1)] + [((rows - 1, c), -1)] for c in range(cols)]
    return lines


Equation = tuple[dict[Cell, float], float]  # Σ coefficient × cell = value


def attacker_intervals(values: np.ndarray, hidden: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                       extra: Sequence[Equation] = ()) -> dict[Cell, tuple[float, float]]:
    """The feasible [min, max] of every hidden cell, given the shown cells, the totals' equations,
    the bounds (``upper`` may be ``inf``) and any ``extra`` equations (what other files tell)."""
    unknown = [(int(r), int(c)) for r, c in np.argwhere(hidden)]
    position = {cell: k for k, cell in enumerate(unknown)}
    lines = [({cell: float(sign) for cell, sign in line}, 0.0) for line in line_equations(values.shape)]
    a_eq, b_eq = [], []
    for coefficients, value in [*lines, *extra]:
        row, known = np.zeros(len(unknown)), 0.0
        for cell, coefficient in coefficients.items():
            if cell in position:
                row[position[cell]] += coefficient
            else:
                known += coefficient * values[cell]
        if row.any():
            a_eq.append(row)
            b_eq.append(value - known)
    bounds = [(lower[cell], None if np.isinf(upper[cell]) else upper[cell]) for cell in unknown]
    out = {}
    for cell, k in position.items():
        objective = np.zeros(len(unknown))
        objective[k] = 1.0
        low = linprog(objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds, method="highs")
        high = linprog(-objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds, method="highs")
        assert low.status == 0, low.message  # the true table is feasible
        out[cell] = (low.fun, np.inf if high.status == 3 else -high.fun)
    return out


def known_bounds(values: np.ndarray, primary: np.ndarray, threshold: int = THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """What the marks tell: "<5" is 1..4, "x" is threshold or more (zeros are never withheld)."""
    lower = np.where(primary, 1.0, float(threshold))
    upper = np.where(primary, float(threshold - 1), np.inf)
    return lower, upper


def recovered(values: np.ndarray, hidden: np.ndarray, lower: np.ndarray, upper: np.ndarray,
              extra: Sequence[Equation] = ()) -> list[Cell]:
    """The hidden cells the attacker pins to one value."""
    intervals = attacker_intervals(values, hidden, lower, upper, extra)
    return [cell for cell, (lo, hi) in intervals.items() if hi - lo < 1e-6]


def assert_safe(result: Suppression, *, also_non_negative_only: bool = True) -> None:
    """No withheld cell can be worked out with the marks' bounds (and, if asked, with
    non-negativity alone: implied, as those bounds are tighter, but cheap to show on small cases);
    every primary cell is withheld, no zero is, complements are not small, and every line holding a
    withheld cell holds at least two."""
    values, hidden = result.values, result.suppressed
    assert recovered(values, hidden, *known_bounds(values, result.primary)) == []
    if also_non_negative_only:
        assert recovered(values, hidden, np.zeros(values.shape), np.full(values.shape, np.inf)) == []
    assert np.array_equal(result.primary, primary_mask(values))
    assert not hidden[values == 0].any()
    assert (values[result.complementary] >= THRESHOLD).all()
    for line in (*hidden, *hidden.T):
        assert line.sum() != 1


def test_the_attacker_works_out_a_cell_when_only_primary_cells_are_withheld() -> None:
    values = with_totals(np.array([[3, 20, 30], [25, 40, 35]]))
    primary = primary_mask(values)
    assert primary.sum() == 1
    assert recovered(values, primary, *known_bounds(values, primary)) == [(0, 0)]
    assert recovered(values, primary, np.zeros(values.shape), np.full(values.shape, np.inf)) == [(0, 0)]


def test_two_withheld_cells_per_line_are_not_enough_when_one_cell_links_two_blocks() -> None:
    """Two withheld 2×2 blocks joined by one withheld cell: no line has a single withheld cell,
    yet the joining cell is exact (it is on no cycle). Safety is the cycle, not the count."""
    values = with_totals(np.array([[2, 30, 40, 40], [30, 2, 40, 40], [40, 40, 2, 30], [40, 40, 30, 2]]))
    hidden = np.zeros(values.shape, dtype=bool)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        hidden[r, c] = True
    assert all(line.sum() != 1 for line in (*hidden, *hidden.T))
    assert recovered(values, hidden, np.zeros(values.shape), np.full(values.shape, np.inf)) == [(1, 2)]


TRICKY = {
    "one small cell in a row": [[3, 20, 30], [25, 40, 35], [30, 22, 41]],
    "small cells only in the totals row": [[1, 20], [2, 30], [0, 25]],
    "a small column total": [[1, 20, 30], [0, 25, 35], [2, 40, 45]],
    "a whole row small": [[1, 2, 1], [20, 30, 25], [15, 18, 22]],
    "a row total equal to its one cell": [[4, 0, 0], [5, 6, 7], [9, 9, 9]],
    "everything small": [[1, 2], [1, 1]],
    "a single small cell": [[3]],
    "zeros all around the small cell": [[3, 0], [0, 10]],
    "one row": [[2, 30, 40]],
    "one column": [[2], [30], [40]],
    "small cells at the bounds (1 and 4)": [[1, 4, 30], [4, 1, 30], [30, 30, 30]],
    "complement at exactly the threshold": [[4, 5, 0], [5, 5, 0], [0, 0, 9]],
    "a grand total under five": [[1, 0], [0, 2]],
    "tier table with a hidden green": [[1, 3, 7, 40, 6], [0, 2, 9, 55, 3], [2, 0, 4, 38, 11], [0, 0, 0, 12, 0]],
}


@pytest.mark.parametrize("table", TRICKY.values(), ids=TRICKY.keys())
def test_no_withheld_cell_of_a_tricky_table_can_be_worked_out(table: list[list[int]]) -> None:
    assert_safe(protect(np.array(table)))


def table_strategy() -> st.SearchStrategy[np.ndarray]:
    """Small tables, weighted towards zeros and small counts (where the trouble is)."""
    cell = st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 12), st.integers(13, 60))
    shape = st.tuples(st.integers(1, 6), st.integers(1, 5))
    return shape.flatmap(lambda s: st.lists(cell, min_size=s[0] * s[1], max_size=s[0] * s[1]).map(
        lambda cells: np.array(cells, dtype=np.int64).reshape(s)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_strategy())
def test_no_withheld_cell_of_a_random_table_can_be_worked_out(table: np.ndarray) -> None:
    try:
        result = protect(table)
    except Unprotectable:
        assert_rightly_unprotectable(table)
        return
    assert_safe(result, also_non_negative_only=False)


def assert_rightly_unprotectable(table: np.ndarray) -> None:
    """protect() gave up: then even withholding every non-zero count and total, with what the marks
    tell, leaves some cell pinned; and the fallback, everything withheld as "x", leaves none."""
    values = with_totals(table)
    everything_small_or_not = values > 0
    assert recovered(values, everything_small_or_not, *known_bounds(values, primary_mask(values))) != []
    fallback = protect_or_withhold_all(table)
    assert fallback.whole and fallback.suppressed.all() and not fallback.primary.any()
    assert set(fallback.marks().ravel()) == {COMPLEMENT_MARK}
    assert recovered(values, fallback.suppressed, np.zeros(values.shape), np.full(values.shape, np.inf)) == []


def test_a_row_of_ones_summing_to_a_small_total_cannot_be_protected_cell_by_cell() -> None:
    """Four "<5" cells, each at least 1, with a total of 4: each is exactly 1, whatever is withheld."""
    table = np.array([[1, 1, 1, 1]])
    with pytest.raises(Unprotectable):
        protect(table)
    assert_rightly_unprotectable(table)


def test_a_table_without_small_cells_is_shown_whole() -> None:
    result = protect(pd.DataFrame({"a": [10, 0, 7], "b": [5, 9, 0]}))
    assert not result.suppressed.any()
    assert result.marks()[-1, -1] == 31


def test_marks_say_which_cells_are_small_and_which_protect_them() -> None:
    result = protect(pd.DataFrame({"red": [3, 25, 30], "green": [20, 40, 22]}, index=["s1", "s2", "s3"]))
    marks = result.marks()
    assert marks[0, 0] == PRIMARY_MARK
    assert COMPLEMENT_MARK in set(marks[result.complementary])
    mask = result.mask()
    assert mask.loc["s1", "red"]
    assert list(mask.index)[-1] == "Total" and list(mask.columns)[-1] == "Total"


def test_labels_of_a_multi_index_survive_in_the_mask() -> None:
    frame = pd.DataFrame({"n": [3, 30]}, index=pd.MultiIndex.from_tuples([("s1", 7), ("s1", 8)]))
    mask = protect(frame).mask()
    assert mask.loc[("s1", 7), "n"]


def test_a_rate_of_a_withheld_count_is_withheld() -> None:
    numerator = np.array([True, False, False])
    denominator = np.array([False, False, True])
    assert derived_suppressed(numerator, denominator).tolist() == [True, False, True]
    assert derived_suppressed(pd.Series([False, True])).tolist() == [False, True]


@pytest.mark.parametrize("bad", [[[-1, 2]], [[1.5, 2]], [[np.nan, 2]]])
def test_what_is_not_a_table_of_counts_is_refused(bad: list[list[float]]) -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        protect(np.array(bad))


def test_a_threshold_too_low_to_protect_anything_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        protect(np.array([[1, 2]]), threshold=2)


def test_an_empty_table_has_nothing_to_withhold() -> None:
    result = protect(pd.DataFrame({"a": [], "b": []}))
    assert not result.suppressed.any()


def test_a_district_sized_table_is_protected() -> None:
    """A hundred and twenty school-grade rows by five measures, tiers rare as in real screenings."""
    rng = np.random.default_rng(8)
    table = np.column_stack([rng.poisson(lam, 120) for lam in (1.5, 3, 8, 120, 6)])
    result = protect(table)
    assert result.primary.sum() > 100
    values, hidden = result.values, result.suppressed
    assert recovered(values, hidden, *known_bounds(values, result.primary)) == []

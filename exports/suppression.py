"""Small-cell suppression for a published table of counts: primary, then complementary.

Pure functions over NumPy and pandas (no Django), so the rule can be read, tested and reused on its
own. The input is a 2-D table of non-negative integer counts (rows such as school × grade, columns
such as tiers); its row totals, column totals and grand total are published with it. The result
says which of those cells, totals included, must be withheld.

**Primary suppression (threshold rule).** A count from 1 to ``threshold - 1`` (1–4 by default) is
withheld and shown as ``"<5"``: a handful of children is close to pointing at one. Zero is
published: a zero points at no one, and withholding every zero would blank most of a sparse table
while protecting nothing. (Known limit, as in every threshold rule: a category holding all of a row,
e.g. every screened student of one grade red, discloses a fact about the whole group; the zeros next
to it are published. Bureau tables are large enough that this is rare; it is not handled here.)
A total is a cell like any other: a row, column or grand total from 1 to 4 is withheld too.

**Complementary suppression.** Withholding a cell is useless if it can be worked out from the
cells that are shown and the totals: a row ``[3, 20, 30]`` with total 53 gives the 3 back. The
test used here is the exact one for two-way tables with margins (Cox 1980; Hundepool et al.,
*Statistical Disclosure Control*, Wiley 2012, §4.4; the τ-ARGUS manual, Statistics Netherlands,
§2.4 and §4.2 on secondary suppression): write the table with its totals as an (m+1) × (n+1) grid
in which every line sums to zero once the totals carry a minus sign. An attacker knows the shown
cells, the bounds below, and the line equations. A withheld cell can be moved without breaking
any equation exactly when it lies on a cycle of withheld cells that alternates +t, −t through rows
and columns; it keeps a range (its minimum below its maximum) exactly when some such cycle can move
by a small t without leaving the bounds of any of its cells. The "at least two withheld cells in
every line" rule of the hypercube method (τ-ARGUS, GHMITER) is necessary for this but not enough
(two protected blocks joined by a single cell leave that cell exact), so the cycle itself is what
is looked for.

What the attacker is assumed to know of a withheld cell (its bounds): ``"<5"`` is 1–4; a cell
withheld only to protect another (shown as ``"x"``) is at least 5, since cells of 1–4 are always
primary and zeros are never chosen as complements. These bounds are stricter than non-negativity
alone, so a table safe here is safe for an attacker who only knows that counts are not negative.
The attacker is not assumed to re-run this algorithm to learn from which cells it chose (the usual
assumption of the τ-ARGUS methods).

**The algorithm** (a greedy shortest-path heuristic in the spirit of the network-flow methods for
two-way tables: Kelly, Golden & Assad 1992; Castro 2006, τ-ARGUS "network"):

1. Mark the primary cells.
2. For each withheld cell in turn: look for a feasible cycle through it among withheld cells. If
   there is none, find the cheapest cycle through it where a shown cell of 5 or more may be added at
   a cost of its value (the fewest children hidden; a total costs its whole value, so inner cells
   are preferred), and withhold the cells of that cycle as complements.
3. Repeat 2 until a whole pass adds nothing (suppression only grows, so this ends).

A cycle always exists: a cell, its row total, its column total and the grand total move together;
so the search fails only for tables the bounds pin down whatever is withheld (one row of four
ones whose total is 4: each "<5" is at least 1, so each is exactly 1), and then
:class:`Unprotectable` is raised rather than a table published unsafely. Such a table can only be
published with every count and total withheld as "x", zeros too, so that nothing is known of any
of them but that it is not negative (:func:`protect_or_withhold_all`). The cycle is searched
over the smaller of rows and columns (a column-to-column graph whose steps go through one row), so
a table of a thousand school-grade rows by a handful of measures is protected in well under a
second.

**Derived figures.** A rate or sum computed from a withheld count is withheld with it
(:func:`derived_suppressed`); a derived figure may be shown only when every count it is made of
is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

THRESHOLD = 5  # counts 1..THRESHOLD-1 are withheld
PRIMARY_MARK = "<5"  # shown for a primary cell (with the default threshold)
COMPLEMENT_MARK = "x"  # shown for a complementary cell and for figures derived from withheld ones
TOTAL = "Total"  # the label of the totals row and column in :meth:`Suppression.mask`
_TIE = 1e-3  # added to each added cell's cost: of two equally cheap cycles, the one with fewer cells

Cell = tuple[int, int]


class Unprotectable(ValueError):
    """No choice of complementary cells keeps some withheld cell from being worked out."""


@dataclass(frozen=True)
class Suppression:
    """A table with its totals and which of its cells are withheld, and why.

    ``values``, ``primary`` and ``complementary`` are (m+1) × (n+1) arrays: the table, then its row
    totals as the last column, its column totals as the last row, and the grand total in the corner.
    """

    values: np.ndarray
    primary: np.ndarray
    complementary: np.ndarray
    index: pd.Index
    columns: pd.Index
    threshold: int = THRESHOLD
    whole: bool = False  # every count withheld: the table could not be protected cell by cell

    @property
    def suppressed(self) -> np.ndarray:
        """Every withheld cell, totals included."""
        return self.primary | self.complementary

    def mask(self) -> pd.DataFrame:
        """The withheld cells as a labelled frame, with a ``TOTAL`` row and column."""
        return pd.DataFrame(self.suppressed, index=_with_total(self.index), columns=_with_total(self.columns))

    def marks(self) -> np.ndarray:
        """What each cell shows: its count, ``"<5"`` or ``"x"`` (an object array, totals included)."""
        shown = self.values.astype(object)
        shown[self.primary] = primary_mark(self.threshold)
        shown[self.complementary] = COMPLEMENT_MARK
        return shown


def _with_total(labels: pd.Index) -> pd.Index:
    """``labels`` and a ``TOTAL`` label after them (``(TOTAL, "", …)`` on a multi-level index)."""
    if isinstance(labels, pd.MultiIndex):
        return pd.MultiIndex.from_tuples([*labels, (TOTAL, *[""] * (labels.nlevels - 1))], names=labels.names)
    return pd.Index([*labels, TOTAL], dtype=object, name=labels.name)


def primary_mark(threshold: int = THRESHOLD) -> str:
    """The text shown for a count under the threshold."""
    return f"<{threshold}"


def with_totals(counts: np.ndarray) -> np.ndarray:
    """The table with its row totals (last column), column totals (last row) and grand total."""
    m, n = counts.shape
    out = np.zeros((m + 1, n + 1), dtype=np.int64)
    out[:m, :n] = counts
    out[:m, n] = counts.sum(axis=1)
    out[m, :n] = counts.sum(axis=0)
    out[m, n] = counts.sum()
    return out


def primary_mask(values: np.ndarray, threshold: int = THRESHOLD) -> np.ndarray:
    """Cells from 1 to ``threshold - 1``: withheld whatever else happens. Zeros are shown."""
    return (values >= 1) & (values < threshold)


def derived_suppressed(*parts: np.ndarray | pd.Series | bool) -> np.ndarray:
    """A figure made of several counts (a rate, a sum) is withheld when any of them is."""
    result = np.asarray(False)
    for part in parts:
        result = result | np.asarray(part, dtype=bool)
    return result


def protect(counts: pd.DataFrame | np.ndarray, *, threshold: int = THRESHOLD) -> Suppression:
    """Which cells of ``counts`` and of its totals to withhold (see the module docstring).

    Raises ``ValueError`` for counts that are negative or not whole, or a threshold under 3 (a
    primary cell needs room to move within 1..threshold-1), and :class:`Unprotectable` when no
    choice of complements protects every withheld cell."""
    frame = pd.DataFrame(counts)
    if threshold < 3:
        raise ValueError("the threshold must be at least 3")
    values = with_totals(_checked(frame))
    primary = primary_mask(values, threshold)
    # The cycle search walks the shorter side; a transposed table has the same cycles, reversed.
    flip = values.shape[1] > values.shape[0]
    work_values, work_primary = (values.T, primary.T) if flip else (values, primary)
    complementary = _complementary(work_values, work_primary, threshold)
    return Suppression(
        values=values, primary=primary, complementary=complementary.T if flip else complementary,
        index=frame.index, columns=frame.columns, threshold=threshold,
    )


def withhold_all(counts: pd.DataFrame | np.ndarray, *, threshold: int = THRESHOLD) -> Suppression:
    """Every count and total withheld as "x", zeros included: an attacker learns only that each is
    not negative, so none can be worked out (the fallback for an :class:`Unprotectable` table)."""
    frame = pd.DataFrame(counts)
    values = with_totals(_checked(frame))
    return Suppression(
        values=values, primary=np.zeros(values.shape, dtype=bool), complementary=np.ones(values.shape, dtype=bool),
        index=frame.index, columns=frame.columns, threshold=threshold, whole=True,
    )


def protect_or_withhold_all(counts: pd.DataFrame | np.ndarray, *, threshold: int = THRESHOLD) -> Suppression:
    """:func:`protect`, or, for a table it cannot protect, :func:`withhold_all`."""
    try:
        return protect(counts, threshold=threshold)
    except Unprotectable:
        return withhold_all(counts, threshold=threshold)


def _checked(frame: pd.DataFrame) -> np.ndarray:
    """The frame's counts as int64, refusing what is not a table of counts."""
    raw = frame.to_numpy()
    if raw.ndim != 2:
        raise ValueError("counts must be a two-way table")
    numbers = raw.astype(float) if raw.size else np.zeros(raw.shape)
    if not np.all(np.isfinite(numbers)) or np.any(numbers < 0) or np.any(numbers != np.round(numbers)):
        raise ValueError("counts must be whole numbers, 0 or more")
    return numbers.astype(np.int64)


# --- the cycle search -----------------------------------------------------------------------------


def _complementary(values: np.ndarray, primary: np.ndarray, threshold: int) -> np.ndarray:
    """Complements chosen until every withheld cell lies on a feasible cycle (steps 2 and 3)."""
    if values.shape[0] < 2 or values.shape[1] < 2:
        return np.zeros_like(primary)
    graph = _Graph(values, primary, threshold)
    added = True
    while added:
        added = False
        for cell in _withheld(graph.suppressed):
            cost, cycle = graph.cheapest_cycle(cell)
            if cycle is None:
                raise Unprotectable(f"cell {cell} cannot be protected")
            if cost > 0:
                graph.withhold(cycle)
                added = True
    return graph.suppressed & ~primary


def _withheld(suppressed: np.ndarray) -> Iterator[Cell]:
    """The withheld cells now, in row order (a snapshot: cells added meanwhile wait for the next pass)."""
    for r, c in np.argwhere(suppressed):
        yield int(r), int(c)


class _Graph:
    """Rows and columns as nodes; moving a cell's signed value up is an edge row → column, moving it
    down an edge column → row, so a feasible cycle is a directed cycle. Paths are searched between
    columns, each step going through one row; the cheapest and second-cheapest row of every step
    are kept, so leaving one cell out of a search costs nothing to recompute."""

    def __init__(self, values: np.ndarray, primary: np.ndarray, threshold: int):
        self.values, self.primary, self.threshold = values, primary, threshold
        self.suppressed = primary.copy()
        self._refresh()

    def withhold(self, cells: list[Cell]) -> None:
        """Withhold ``cells`` (as complements, unless already withheld)."""
        for cell in cells:
            self.suppressed[cell] = True
        self._refresh()

    def _refresh(self) -> None:
        self.up, self.down = _edge_weights(self.values, self.primary, self.suppressed, self.threshold)
        through = self.down[:, :, None] + self.up[:, None, :]  # rows × from column × to column
        order = np.argpartition(through, 1, axis=0)[:2]  # the two cheapest rows of every step
        self.via, self.via2 = order[0], order[1]
        self.step = np.take_along_axis(through, order[:1], axis=0)[0]
        self.step2 = np.take_along_axis(through, order[1:2], axis=0)[0]

    def cheapest_cycle(self, cell: Cell) -> tuple[float, list[Cell] | None]:
        """The cheapest feasible cycle through ``cell`` (cost 0: it is already protected). Moving
        the cell up needs a path from its column back to its row; down, from its row to its column."""
        r, c = cell
        step, via = self._steps_without(cell)
        up, down = self.up[r].copy(), self.down[r].copy()
        can_rise, can_fall = bool(np.isfinite(up[c])), bool(np.isfinite(down[c]))
        up[c] = down[c] = np.inf  # the rest of the cycle must not use the cell itself
        best: tuple[float, list[Cell] | None] = (np.inf, None)
        if can_rise:
            best = min(best, _rising_cycle(step, via, down, cell), key=lambda found: found[0])
        if can_fall:
            best = min(best, _falling_cycle(step, via, up, cell), key=lambda found: found[0])
        return best

    def _steps_without(self, cell: Cell) -> tuple[np.ndarray, np.ndarray]:
        """The column steps with ``cell`` left out: a step from or to its column that went through
        its row takes the second-cheapest row instead."""
        r, c = cell
        step, via = self.step.copy(), self.via.copy()
        for pairs in (np.s_[c, :], np.s_[:, c]):
            uses = via[pairs] == r
            step[pairs] = np.where(uses, self.step2[pairs], step[pairs])
            via[pairs] = np.where(uses, self.via2[pairs], via[pairs])
        np.fill_diagonal(step, np.inf)
        return step, via


def _edge_weights(values: np.ndarray, primary: np.ndarray, suppressed: np.ndarray,
                  threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """The cost of using each cell to move its signed value up (``up``) or down (``down``).

    Signed value: a total carries a minus sign, so that every line of the grid sums to zero. A cell
    may move only within its bounds (primary 1..threshold-1, any other withheld cell threshold or
    more); already withheld cells cost nothing, shown cells of the threshold or more cost their
    value, zeros can never be used (``inf``)."""
    big = np.iinfo(np.int64).max
    lower = np.where(primary, 1, threshold)
    upper = np.where(primary, threshold - 1, big)
    rises, falls = values < upper, values > lower
    total = np.zeros(values.shape, dtype=bool)
    total[-1, :] = True
    total[:, -1] = True
    total[-1, -1] = False  # the grand total sums its row and its column: it carries a plus sign
    signed_up = np.where(total, falls, rises)
    signed_down = np.where(total, rises, falls)
    usable = suppressed | (values >= threshold)
    cost = np.where(suppressed, 0.0, values + _TIE)
    return np.where(usable & signed_up, cost, np.inf), np.where(usable & signed_down, cost, np.inf)


def _rising_cycle(step: np.ndarray, via: np.ndarray, down: np.ndarray, cell: Cell) -> tuple[float, list[Cell] | None]:
    """Column c → … → column z → row r: the rest of a cycle moving ``cell`` up (``down``: the
    cell's row, the cell left out)."""
    r, c = cell
    dist, prev = _shortest(step, c)
    total = dist + down
    z = int(np.argmin(total))
    if not np.isfinite(total[z]):
        return np.inf, None
    columns = _walk_back(prev, z)
    return float(total[z]), [cell, *_step_cells(columns, via), (r, z)]


def _falling_cycle(step: np.ndarray, via: np.ndarray, up: np.ndarray, cell: Cell) -> tuple[float, list[Cell] | None]:
    """Row r → column z → … → column c: the rest of a cycle moving ``cell`` down (``up``: the
    cell's row, the cell left out)."""
    r, c = cell
    dist, prev = _shortest(step.T, c)  # on the reversed graph: from each column to c
    total = up + dist
    z = int(np.argmin(total))
    if not np.isfinite(total[z]):
        return np.inf, None
    columns = _walk_back(prev, z)[::-1]  # reversed-graph predecessors lead forward, z → c
    return float(total[z]), [cell, (r, z), *_step_cells(columns, via)]


def _shortest(step: np.ndarray, source: int) -> tuple[np.ndarray, np.ndarray]:
    """Dijkstra over the column graph: distances from ``source`` and predecessors. Plain lists:
    the graph has as many nodes as the table's shorter side, where NumPy's per-call cost dominates."""
    weights = step.tolist()
    n = len(weights)
    dist, prev, done = [np.inf] * n, [-1] * n, [False] * n
    dist[source] = 0.0
    for _ in range(n):
        a = min((d, k) for k, d in enumerate(dist) if not done[k])[1]
        if dist[a] == np.inf:
            break
        done[a] = True
        for b, w in enumerate(weights[a]):
            if dist[a] + w < dist[b]:
                dist[b], prev[b] = dist[a] + w, a
    return np.array(dist), np.array(prev)


def _walk_back(prev: np.ndarray, end: int) -> list[int]:
    """The columns from the source to ``end``, following predecessors."""
    columns = [end]
    while prev[columns[-1]] >= 0:
        columns.append(int(prev[columns[-1]]))
    return columns[::-1]


def _step_cells(columns: list[int], via: np.ndarray) -> list[Cell]:
    """The cells each column-to-column step goes through."""
    cells: list[Cell] = []
    for a, b in pairwise(columns):
        q = int(via[a, b])
        cells += [(q, a), (q, b)]
    return cells

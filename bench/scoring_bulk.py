"""Benchmark: bulk scoring with `score_frame` against a bare NumPy sum-and-digitize.

Scores 1,000,000 PHQ-9 and 1,000,000 GAD-7 answer sets with `scoring.score_frame` and, in the
same run, times a bare NumPy sum over the same per-item column arrays followed by `np.digitize`
into the bands. Runs alternate and medians are taken. Also times single-result `scoring.score`
for PHQ-9.

Targets: score_frame at most 2x the bare NumPy time (both instruments together), and `score`
under 50 microseconds. The last line is ``scoring_bulk: <ratio>x of numpy (target ≤ 2x) PASS|FAIL``;
the exit status is non-zero on FAIL.

Run from the repository root: ``python bench/scoring_bulk.py [--rows N] [--repeats K]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scoring

TARGET_RATIO = 2.0
TARGET_SINGLE_US = 50.0


def _frame(code: str, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    inst = scoring.instrument(code)
    data = {}
    for item in inst.items:
        if item.scored:
            values = np.array(item.options.values, np.int64)
            data[item.id] = rng.choice(values, size=rows)
    return pd.DataFrame(data)


def _edges(code: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Lower bounds of every band but the first, for np.digitize."""
    levels = scoring.instrument(code).bands.levels
    return np.array([lv.min for lv in levels[1:]], np.int64)


def _numpy_baseline(columns: list[np.ndarray[Any, Any]], edges: np.ndarray[Any, Any]) -> Any:
    total = columns[0].copy()
    for col in columns[1:]:
        total += col
    return np.digitize(total, edges)


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return 0 on PASS, 1 on FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20240601)

    total_frame = 0.0
    total_numpy = 0.0
    for code in ("phq9", "gad7"):
        frame = _frame(code, args.rows, rng)
        columns = [frame[c].to_numpy() for c in frame.columns]
        edges = _edges(code)
        # Same answers, same bands: check before timing.
        check = scoring.score_frame(code, frame)
        expected = np.array(scoring.instrument(code).bands.levels, dtype=object)
        expected_codes = [lv.code for lv in expected[_numpy_baseline(columns, edges)]]
        if list(check["band"].astype(str)) != expected_codes:
            print(f"{code}: score_frame and the NumPy baseline disagree", file=sys.stderr)
            return 1
        frame_times: list[float] = []
        numpy_times: list[float] = []
        for _ in range(args.repeats):  # alternate, so both see the same machine load
            numpy_times.append(_median_ms(partial(_numpy_baseline, columns, edges), 1))
            frame_times.append(_median_ms(partial(scoring.score_frame, code, frame), 1))
        t_frame = statistics.median(frame_times)
        t_numpy = statistics.median(numpy_times)
        total_frame += t_frame
        total_numpy += t_numpy
        print(
            f"{code}: {args.rows:,} rows  score_frame {t_frame:8.1f} ms   "
            f"numpy sum+digitize {t_numpy:8.1f} ms   ratio {t_frame / t_numpy:.2f}x"
        )

    answers = {str(i): (i * 7) % 4 for i in range(1, 10)}
    scoring.score("phq9", answers)
    runs = [timeit.timeit(lambda: scoring.score("phq9", answers), number=20_000) / 20_000 * 1e6 for _ in range(5)]
    single_us = statistics.median(runs)
    single_ok = single_us < TARGET_SINGLE_US
    print(
        f"score('phq9', ...): {single_us:.1f} µs per result "
        f"(target < {TARGET_SINGLE_US:.0f} µs) {'PASS' if single_ok else 'FAIL'}"
    )

    ratio = total_frame / total_numpy
    ok = ratio <= TARGET_RATIO and single_ok
    print(f"scoring_bulk: {ratio:.2f}x of numpy (target ≤ 2x) {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

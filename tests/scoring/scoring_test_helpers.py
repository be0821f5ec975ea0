"""Helpers shared by the scoring tests. No database, no Django.

Imported as ``scoring_test_helpers``: a name unique in the tree, since tests/scoring has no
__init__.py (a package named scoring there would shadow the real one).
"""

from __future__ import annotations

from typing import Any

import scoring


def answers_for_total(code: str, total: int, **overrides: Any) -> dict[str, Any]:
    """Printed answers to every required item whose keyed sum is `total`.

    Fills items in order with the highest keyed value that still fits, translating keyed values
    back to printed ones for reverse-keyed items. `overrides` replace single answers afterwards
    (keys are item ids with a leading underscore-free name, e.g. ``**{"9": 0}``).
    """
    inst = scoring.instrument(code)
    items = inst.required_items
    low = sum(it.options.low for it in items)
    high = sum(it.options.high for it in items)
    assert low <= total <= high, (code, total, low, high)
    left = total - low
    answers: dict[str, Any] = {}
    for it in items:
        extra = min(left, it.options.high - it.options.low)
        keyed = it.options.low + extra
        left -= extra
        answers[it.id] = it.options.low + it.options.high - keyed if it.reverse else keyed
    answers.update(overrides)
    return answers

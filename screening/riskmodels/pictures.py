"""A model card's two pictures, drawn from the numbers the card keeps.

scoring.risk.card draws them from an evaluation report; the card stores the same numbers under
other keys (``metrics.roc_auc``, ``roc_curve``, ``metrics.calibration_error``, ``calibration``).
The SVG is built from numbers and the card's own labels, its text escaped, so it may be inlined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.risk.card import calibration_svg, roc_svg


def roc_picture(card: Mapping[str, Any], language: str) -> str:
    """The card's ROC curve as an SVG document, labelled in ``language`` ("en" or "zh-hans")."""
    metrics = card.get("metrics") or {}
    return roc_svg({"roc_auc": metrics.get("roc_auc") or {}, "roc_curve": card.get("roc_curve") or []}, language)


def calibration_picture(card: Mapping[str, Any], language: str) -> str:
    """The card's calibration curve (by decile) as an SVG document, labelled in ``language``."""
    metrics = card.get("metrics") or {}
    evaluation = {"calibration_error": metrics.get("calibration_error"), "calibration": card.get("calibration") or []}
    return calibration_svg(evaluation, language)

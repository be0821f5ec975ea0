"""Xinqiao scoring: instrument definitions, the scoring engine and its command line.

Pure Python over plain data (NumPy, pandas, PyYAML, jsonschema); no Django import. See
docs/instruments.md for every instrument, and ``python -m scoring --help`` for the CLI.
"""

from scoring.definition import Instrument, instrument, instrument_codes
from scoring.engine import Problem, Result, asked_items, score
from scoring.errors import (
    DefinitionError,
    FrameError,
    ScoringError,
    UnknownInstrumentError,
    UnknownProfileError,
)
from scoring.frame import score_frame
from scoring.textpacks import TextPack, item_texts

__all__ = [
    "DefinitionError",
    "FrameError",
    "Instrument",
    "Problem",
    "Result",
    "ScoringError",
    "TextPack",
    "UnknownInstrumentError",
    "UnknownProfileError",
    "asked_items",
    "instrument",
    "instrument_codes",
    "item_texts",
    "score",
    "score_frame",
]

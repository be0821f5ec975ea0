"""Errors raised by the scoring package.

Malformed *answers* are not errors: `score` reports them in `Result.problems`. These exceptions
are for callers that ask for something that does not exist (an unknown instrument or profile), for
definition files that break the schema, and for bulk frames that cannot be scored at all.
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base class for every error raised by `scoring`."""


class DefinitionError(ScoringError):
    """A definition or text pack file is invalid; the message names the file and the field."""


class UnknownInstrumentError(ScoringError, LookupError):
    """No instrument definition has this code."""


class UnknownProfileError(ScoringError, LookupError):
    """The instrument has no cut-off profile of this name."""


class FrameError(ScoringError, ValueError):
    """A bulk frame holds values that are not answers; the message names columns and rows.

    The message never repeats the offending values (they are answers, and answers stay out of
    logs and error messages).
    """

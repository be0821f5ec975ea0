"""What every export builder is given, and must honour (the contract between jobs and builders).

A builder is a plain function ``build_<kind>(ctx: BuildContext) -> None``. It reads only through
the selectors, as ``ctx.user`` (so every export is scoped exactly like the pages, and audited where
it reads identifiable student data), writes its one file to ``ctx.path``, and reports progress
through ``ctx.progress(done, total)``: the export pages show it while the job runs. It raises a
:class:`screening.core.errors.DomainError` when the request cannot be met (nothing to export, not
allowed); the job then ends failed with that message as its reason.

Builders run with the requester's language active (``zh-hans`` or ``en``), so headers and labels
come out in it. They run in a worker (Celery) or a background thread (embedded default), never in
a request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any


@dataclass
class BuildContext:
    user: Any  # the requester: every read goes through a selector with this user
    params: dict[str, Any]  # the request's validated parameters (see each kind's serializer)
    path: Path  # where the file goes; the builder creates it
    progress: Callable[[int, int], None] = field(default=lambda done, total: None)
    # Filled by builders that record more in the audit entry of the job (e.g. counts).
    detail: dict[str, Any] = field(default_factory=dict)


def chunked[T](rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to ``size`` rows: builders read, audit and write a chunk at a time."""
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk

"""The scoring package stays pure: no Django, and single results stay fast."""

from __future__ import annotations

import subprocess
import sys
import timeit
from pathlib import Path

import scoring

ROOT = Path(scoring.__file__).resolve().parents[1]


def test_importing_scoring_does_not_import_django() -> None:
    code = (
        "import sys, scoring, scoring.cli, scoring.docs\n"
        "scoring.score('phq9', {'1': 1})\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_no_django_import_in_source() -> None:
    for path in (ROOT / "scoring").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import django" not in text and "from django" not in text, path


def test_single_result_is_fast() -> None:
    """The target is < 50 µs (bench/scoring_bulk.py measures it); this only guards against a
    gross regression, with room for a loaded test machine."""
    answers = {str(i): i % 4 for i in range(1, 10)}
    scoring.score("phq9", answers)
    per_call = min(timeit.repeat(lambda: scoring.score("phq9", answers), number=2000, repeat=5))
    assert per_call / 2000 < 250e-6

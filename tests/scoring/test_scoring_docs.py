"""docs/instruments.md is generated from the definitions and must match them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import scoring
from scoring.docs import render

ROOT = Path(scoring.__file__).resolve().parents[1]


def test_committed_page_equals_generated_output() -> None:
    committed = (ROOT / "docs" / "instruments.md").read_text(encoding="utf-8")
    assert committed == render(), "regenerate: python -m scoring docs --out docs/instruments.md"


def test_page_lists_every_instrument_with_source_and_licence() -> None:
    page = render()
    for code in scoring.instrument_codes():
        inst = scoring.instrument(code)
        assert f"## {code}: " in page
        assert inst.citation in page and inst.licence["name"] in page
        for profile in inst.profiles.values():
            assert f"**Profile `{profile.name}`**" in page


def test_docs_command_writes_stdout_and_file(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "scoring", "docs"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        encoding="utf-8",
    ).stdout
    assert out == render()
    target = tmp_path / "instruments.md"
    subprocess.run([sys.executable, "-m", "scoring", "docs", "--out", str(target)], cwd=ROOT, check=True)
    assert target.read_text(encoding="utf-8") == render()

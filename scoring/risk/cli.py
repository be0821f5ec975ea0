"""Command line: ``python -m scoring.risk synth --n N --seed S [--instruments phq9,gad7,asq]
[--under-recorded male=0.5] [--out FILE]``.

Writes JSON Lines (to stdout without ``--out``): a header object first, marked synthetic, then one
object per sitting (`SyntheticSitting.to_dict`). Exit 0 on success, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from scoring.risk.synth import DEFAULT_INSTRUMENTS, cohort

EXIT_OK = 0
EXIT_BAD_INPUT = 2
NOTE = "Synthetic data, not for clinical use."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring.risk", description="The risk model's tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser("synth", help="write a synthetic cohort as JSON Lines (not for clinical use)")
    synth.add_argument("--n", type=int, required=True, help="number of sittings (0 or more)")
    synth.add_argument("--seed", type=int, required=True, help="random seed; the same seed gives the same cohort")
    synth.add_argument(
        "--instruments",
        default=",".join(DEFAULT_INSTRUMENTS),
        help=f"comma-separated instrument codes (default {','.join(DEFAULT_INSTRUMENTS)})",
    )
    synth.add_argument(
        "--under-recorded",
        metavar="GROUP=SHARE",
        help="record this share of the group's interviewed true needs as no_current_need, e.g. male=0.5",
    )
    synth.add_argument("--out", type=Path, help="output file (default: stdout)")
    return parser


def _under_recorded(text: str | None) -> tuple[str, float] | None:
    if text is None:
        return None
    group, sep, share = text.partition("=")
    if not sep or not group:
        raise ValueError(f"--under-recorded must look like GROUP=SHARE (e.g. male=0.5), not {text!r}")
    try:
        return group.strip(), float(share)
    except ValueError:
        raise ValueError(f"--under-recorded share must be a number between 0 and 1, not {share!r}") from None


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the command line; return the exit code (argparse itself exits 2 on a malformed line)."""
    parser = _parser()
    args = parser.parse_args(argv)
    out = stdout if stdout is not None else sys.stdout
    instruments = [code.strip() for code in args.instruments.split(",") if code.strip()]
    try:
        if not instruments:
            raise ValueError("--instruments names no instrument")
        sittings = cohort(
            args.n, args.seed, instruments=instruments, under_recorded=_under_recorded(args.under_recorded)
        )
    except ValueError as exc:
        print(f"{parser.prog} synth: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    header = {"synthetic": True, "note": NOTE, "n": args.n, "seed": args.seed, "instruments": instruments}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(s.to_dict(), ensure_ascii=False, separators=(",", ":")) for s in sittings]
    text = "\n".join(lines) + "\n"
    if args.out is None:
        out.write(text)
        return EXIT_OK
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"{parser.prog} synth: error: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK

"""Command line: ``python -m scoring.tiers docs|policy``.

* ``docs [--out PATH]`` prints (or writes) docs/tiers.md, generated from scoring/tier_policy.yaml.
* ``policy [--overrides JSON]`` prints the effective policy as JSON (the defaults, or the defaults
  with a school's overrides applied); exit 2 with field-level messages when the overrides are
  invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from scoring.tiers.docs import render
from scoring.tiers.policy import TierPolicyError, default_policy, policy_with_overrides


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoring.tiers", description="Xinqiao tier policy")
    sub = parser.add_subparsers(dest="command", required=True)
    docs = sub.add_parser("docs", help="print or write docs/tiers.md")
    docs.add_argument("--out", type=Path, help="write the page to this file instead of stdout")
    pol = sub.add_parser("policy", help="print the effective policy as JSON")
    pol.add_argument("--overrides", help="a JSON object of per-school overrides")
    args = parser.parse_args(argv)
    if args.command == "docs":
        page = render()
        if args.out is None:
            sys.stdout.write(page)
        else:
            args.out.write_text(page, encoding="utf-8")
        return 0
    try:
        overrides = None if args.overrides is None else json.loads(args.overrides)
        policy = default_policy() if overrides is None else policy_with_overrides(overrides)
    except json.JSONDecodeError as exc:
        print(f"--overrides: not valid JSON: {exc.msg}", file=sys.stderr)
        return 2
    except TierPolicyError as exc:
        for field, message in exc.problems:
            print(f"{field}: {message}", file=sys.stderr)
        return 2
    print(json.dumps(policy.to_dict() | {"fingerprint": policy.fingerprint}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

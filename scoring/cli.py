"""Command line: ``python -m scoring list|show|score|score-file|docs``.

This is a stable contract that outside checks rely on:

* ``list`` prints every instrument code, version and name.
* ``show CODE [--lang zh-hans|en]`` prints items, options with their printed values, and the
  scoring rules in the chosen language.
* ``score CODE --answers JSON [--profile NAME]`` prints one JSON object with the keys
  instrument, version, profile, valid, total, band, scores, subscales, critical, problems (and
  also flags, band_label). Exit 0 when the answers are well-formed (even if not valid), 2 when
  they are not, when the JSON is bad, or for an unknown code or profile.
* ``score-file CODE FILE.csv|FILE.xlsx [--profile NAME]`` scores a file in bulk and writes
  FILE.scored.csv / FILE.scored.xlsx beside it.
* ``docs [--out PATH]`` prints (or writes) the reference page docs/instruments.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from scoring import describe
from scoring.definition import instrument, instrument_codes
from scoring.engine import score
from scoring.errors import FrameError, ScoringError, UnknownInstrumentError, UnknownProfileError
from scoring.frame import score_frame
from scoring.textpacks import LICENSED_PACK_ENV, item_texts

EXIT_OK = 0
EXIT_BAD_INPUT = 2

_SHOW = {
    "en": {
        "version": "version",
        "licence": "Licence",
        "citation": "Source",
        "text": "Item text",
        "text_missing": "Item text is licensed and not installed: only item numbers are shown. "
        f"Set {LICENSED_PACK_ENV} to the licensed text pack file to see the wording. "
        "Scoring works without it.",
        "about": "About",
        "instructions": "Instructions",
        "items": "Items",
        "options": "Options (value passed to score = label)",
        "uses": "options",
        "scoring": "Scoring rules",
        "bands": "Bands",
        "profile": "Profile",
        "answers": "How to pass answers",
        "answers_help": 'A JSON object keyed by item number as a string ("1", "2", ...). '
        "Numeric items take the printed option value as an integer; yes/no items take true or "
        "false. A missing item is left out or null.",
        "example": "Example",
    },
    "zh-hans": {
        "version": "版本",
        "licence": "许可",
        "citation": "来源",
        "text": "条目文本",
        "text_missing": "条目文本需授权，尚未安装：以下只显示题号。请将环境变量 "
        f"{LICENSED_PACK_ENV} 设为授权文本包文件以查看条目措辞。计分不受影响。",
        "about": "说明",
        "instructions": "指导语",
        "items": "条目",
        "options": "选项（传给 score 的值 = 选项文字）",
        "uses": "选项",
        "scoring": "计分规则",
        "bands": "分段",
        "profile": "界值方案",
        "answers": "如何传入作答",
        "answers_help": '一个 JSON 对象，键为字符串形式的题号（"1"、"2"……）。数值题传入表上印刷的'
        "选项值（整数）；是/否题传入 true 或 false。缺答的题不传或传 null。",
        "example": "示例",
    },
}

_TRANSLATION = {
    "en": {
        "original": "authors' original wording",
        "official": "official translation",
        "project": "project translation (not an official version)",
        "made_up": "MADE-UP TEST TEXT",
    },
    "zh-hans": {
        "original": "原作者措辞",
        "official": "官方译本",
        "project": "项目翻译（非官方版本）",
        "made_up": "测试用虚构文本",
    },
}


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    """Print every instrument code, version and name."""
    for code in instrument_codes():
        inst = instrument(code)
        out.write(f"{code}\t{inst.version}\t{inst.name['en']}\t{inst.name['zh-hans']}\n")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    """Print items, options and scoring rules of one instrument in one language."""
    inst = instrument(args.code)
    lang: str = args.lang
    ui = _SHOW[lang]
    pack = item_texts(inst.code, lang)
    w = out.write
    w(f"{inst.name[lang]} [{inst.code}, {ui['version']} {inst.version}]\n")
    w(f"{ui['licence']}: {inst.licence['name']}. {inst.licence['notes']}\n")
    w(f"{ui['citation']}: {inst.citation}\n")
    if pack.available:
        translation = _TRANSLATION[lang][pack.translation or "original"]
        w(f"{ui['text']}: {translation}. {pack.source}\n")
        if pack.notes:
            w(f"  {pack.notes}\n")
    else:
        w(f"{ui['text']}: {ui['text_missing']}\n")
    w(f"\n{ui['about']}\n  {inst.description[lang]}\n")
    if pack.instructions:
        w(f"\n{ui['instructions']}: {pack.instructions}\n")
    several_sets = len({it.options.name for it in inst.items}) > 1
    w(f"\n{ui['items']}\n")
    for it in inst.items:
        if pack.stems.get(it.id):
            w(f"  -- {pack.stems[it.id]}\n")
        text = pack.item(it.id) or ""
        tags = []
        if several_sets:
            tags.append(f"{ui['uses']}: {it.options.name}")
        if not it.scored:
            tags.append(describe.UI[lang]["not_scored"])
        if it.note:
            tags.append(it.note[lang])
        line = f"  {it.id}." + (f" {text}" if text else "")
        w(line + (f"  [{'; '.join(tags)}]" if tags else "") + "\n")
    w(f"\n{ui['options']}\n")
    for opts in {it.options.name: it.options for it in inst.items}.values():
        w(f"  {opts.name}: {describe.option_text(opts, pack if pack.available else None)}\n")
    w(f"\n{ui['scoring']}\n")
    for line in describe.scoring_lines(inst, lang):
        w(f"  {line}\n")
    for profile in inst.profiles.values():
        w(f"\n{ui['bands']} — {ui['profile']} {profile.name}: {profile.label[lang]}\n")
        w(f"  ({profile.source})\n")
        for code, rule, label in describe.band_rows(profile, inst, lang):
            w(f"  {code:<20} {rule:<28} {label}\n")
    example = json.dumps(describe.example_answers(inst), ensure_ascii=False)
    w(f"\n{ui['answers']}\n  {ui['answers_help']}\n")
    w(f"  {ui['example']}: python -m scoring score {inst.code} --answers '{example}'\n")
    return EXIT_OK


def _problem(code: str, message: str) -> dict[str, Any]:
    return {"item": None, "code": code, "message": message}


def cmd_score(args: argparse.Namespace, out: TextIO) -> int:
    """Score one answer set given as JSON; print the result as one JSON object."""
    try:
        inst = instrument(args.code)
        profile = inst.profile(args.profile)
    except (UnknownInstrumentError, UnknownProfileError) as exc:
        kind = "unknown_instrument" if isinstance(exc, UnknownInstrumentError) else "unknown_profile"
        print(exc, file=sys.stderr)
        _print_json({"problems": [_problem(kind, str(exc))]}, out)
        return EXIT_BAD_INPUT
    try:
        answers = json.loads(args.answers)
    except json.JSONDecodeError as exc:
        _print_json(
            {
                "instrument": inst.code,
                "version": inst.version,
                "profile": profile.name,
                "valid": False,
                "total": None,
                "band": None,
                "scores": {},
                "subscales": {},
                "critical": [],
                "flags": [],
                "problems": [_problem("invalid_json", f"--answers is not valid JSON: {exc.msg}")],
            },
            out,
        )
        return EXIT_BAD_INPUT
    result = score(inst.code, answers, profile.name)
    payload = result.to_dict()
    band = profile.bands.get(result.band) if result.band is not None else None
    payload["band_label"] = dict(band.label) if band is not None else None
    _print_json(payload, out)
    return EXIT_BAD_INPUT if result.malformed else EXIT_OK


def read_answer_file(path: Path) -> pd.DataFrame:
    """Read a CSV or xlsx file of answer sets; numeric column labels become strings."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix == ".xlsx":
        frame = pd.read_excel(path, engine="openpyxl")
    else:
        raise FrameError(f"{path.name}: expected a .csv or .xlsx file")
    frame.columns = [_label(c) for c in frame.columns]
    return frame


def _label(column: Any) -> Any:
    """Spreadsheets turn the header "1" into the number 1 (or 1.0); items are labelled "1"."""
    if isinstance(column, float) and column.is_integer():
        return str(int(column))
    if isinstance(column, int) and not isinstance(column, bool):
        return str(column)
    return column


def scored_path(path: Path) -> Path:
    """FILE.csv -> FILE.scored.csv (same folder, same format)."""
    return path.with_name(f"{path.stem}.scored{path.suffix.lower()}")


def cmd_score_file(args: argparse.Namespace, out: TextIO) -> int:
    """Score every row of a CSV/xlsx file and write FILE.scored.csv/.xlsx beside it."""
    path = Path(args.file)
    try:
        profile = instrument(args.code).profile(args.profile).name
        frame = read_answer_file(path)
        results = score_frame(args.code, frame, profile)
    except (ScoringError, OSError, ValueError) as exc:
        print(f"score-file: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    clash = {c: f"input_{c}" for c in frame.columns if c in results.columns}
    combined = pd.concat([frame.rename(columns=clash), results], axis=1)
    target = scored_path(path)
    if target.suffix == ".csv":
        combined.to_csv(target, index=False)
    else:
        combined.to_excel(target, index=False, engine="xlsxwriter")
    valid = int(results["valid"].sum())
    critical = int((results["critical"].astype(str) != "").sum())
    out.write(
        f"scored {len(results)} rows of {args.code} (profile {profile}): {valid} valid, "
        f"{critical} with critical items -> {target}\n"
    )
    if clash:
        out.write(f"input columns renamed to avoid result names: {', '.join(clash.values())}\n")
    return EXIT_OK


def cmd_docs(args: argparse.Namespace, out: TextIO) -> int:
    """Print or write the reference page docs/instruments.md."""
    from scoring.docs import render

    text = render()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        out.write(text)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m scoring``."""
    parser = argparse.ArgumentParser(prog="python -m scoring", description="Xinqiao scoring")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list instruments").set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="show items, options and scoring rules")
    show.add_argument("code")
    show.add_argument("--lang", choices=["zh-hans", "en"], default="zh-hans")
    show.set_defaults(func=cmd_show)
    sc = sub.add_parser("score", help="score one answer set given as JSON")
    sc.add_argument("code")
    sc.add_argument("--answers", required=True, help='JSON object, e.g. \'{"1": 0, "2": 1}\'')
    sc.add_argument("--profile", default=None)
    sc.set_defaults(func=cmd_score)
    sf = sub.add_parser("score-file", help="score a CSV/xlsx file of answer sets")
    sf.add_argument("code")
    sf.add_argument("file")
    sf.add_argument("--profile", default=None)
    sf.set_defaults(func=cmd_score_file)
    docs = sub.add_parser("docs", help="generate docs/instruments.md")
    docs.add_argument("--out", default=None)
    docs.set_defaults(func=cmd_docs)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    stream = out if out is not None else sys.stdout
    try:
        status: int = args.func(args, stream)
    except (UnknownInstrumentError, UnknownProfileError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    return status

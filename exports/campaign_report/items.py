"""The item statistics sheet: every visible answer set read once in chunks and tallied per
questionnaire and item (answered, missing, not asked, mean, SD, count per option)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.utils.translation import gettext as _
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

import scoring
from exports.build import chunked
from exports.campaign_report import data
from exports.campaign_report.data import Report, short_name
from exports.campaign_report.xlsx import Formats, write_header
from scoring.engine import get_plan
from scoring.plan import MISSING, Columns
from screening.campaigns.models import Result, Submission


@dataclass
class ItemTally:
    """Running counts per questionnaire and item over the streamed answers."""

    counts: dict[tuple[str, str], Counter[int]] = field(default_factory=dict)
    missing: Counter[tuple[str, str]] = field(default_factory=Counter)
    not_asked: Counter[tuple[str, str]] = field(default_factory=Counter)


def option_codes(code: str) -> dict[str, dict[Any, int]]:
    """Per item, printed value → the engine's code (1 yes, 0 no, 2… extra answers such as declined)."""
    return {it.id: {v: it.options.code_of(v) for v in it.options.values} for it in scoring.instrument(code).items}


def given_answers(rows: Iterable[Any], at: int, code: str, short: str | None) -> list[dict[str, Any]]:
    """Each sitting's answers to ``code`` (``row[at]``: the sitting has a result for it, even if
    no answer was given); a stepped full form takes items 1–2 from its short form."""
    out = []
    for row in rows:
        if not row[at]:
            continue
        answers = row[0] if isinstance(row[0], dict) else {}
        own = answers.get(code)
        own = own if isinstance(own, dict) else {}
        carried = answers.get(short) if short else None
        if isinstance(carried, dict):
            own = {**{k: v for k, v in carried.items() if k in ("1", "2") and v is not None}, **own}
        out.append(own)
    return out


def tally_chunk(tally: ItemTally, rows: Sequence[Any], report: Report) -> None:
    """Add one chunk of sittings (answers, then one "has a result" flag per questionnaire) to the
    tally: NumPy over item columns, the conditions of conditional items the engine's own."""
    for at, code in enumerate(report.instruments, start=1):
        given = given_answers(rows, at, code, report.carry.get(code))
        if not given:
            continue
        codes = {
            iid: np.fromiter((lut.get(r.get(iid), MISSING) for r in given), np.int64, len(given))
            for iid, lut in option_codes(code).items()
        }
        present = {iid: v != MISSING for iid, v in codes.items()}
        plan = get_plan(code)
        columns = Columns(n=len(given), vals=codes, present=dict(present), domains=plan.domains)
        asked = {iid: cond.many(columns) for iid, cond in plan.asked_if.items()}
        for iid, values in codes.items():
            key = (code, iid)
            seen = tally.counts.setdefault(key, Counter())
            for value, n in zip(*np.unique(values[present[iid]], return_counts=True), strict=True):
                seen[int(value)] += int(n)
            shown = asked.get(iid)
            tally.missing[key] += int((~present[iid] if shown is None else shown & ~present[iid]).sum())
            tally.not_asked[key] += 0 if shown is None else int((~shown).sum())


def stream_answers(user: Any, report: Report, tally: ItemTally, tick: Callable[[], None]) -> None:
    """Read every visible submission's answers once, a chunk at a time, with which questionnaires
    were in its sitting (those with a result: a stepped full form, or one left blank, counts)."""
    submissions = Submission.objects.visible_to(user).filter(assignment__campaign=report.campaign)
    rows = submissions.order_by("pk").values_list("pk", "answers")
    # Which questionnaires each sitting has a (visible) result for: one stream of the results in
    # submission order, merged with the submissions (no EXISTS subquery per row and questionnaire).
    results = (
        Result.objects.visible_to(user)
        .filter(submission__in=submissions.values("pk"))
        .order_by("submission_id")
        .values_list("submission_id", "instrument")
    )
    for chunk in chunked(
        _with_sittings(rows.iterator(chunk_size=data.CHUNK), results.iterator(chunk_size=data.CHUNK), report),
        data.CHUNK,
    ):
        tally_chunk(tally, chunk, report)
        tick()


def _with_sittings(
    submissions: Iterator[tuple[Any, ...]], results: Iterator[tuple[Any, ...]], report: Report
) -> Iterator[tuple[Any, ...]]:
    """(answers, then per questionnaire whether the sitting has a result for it), as the tally
    reads them; both streams are ordered by submission id, so one pass merges them (a result of a
    submission not in the first stream is skipped)."""
    pending = next(results, None)
    for pk, answers in submissions:
        sat: set[str] = set()
        while pending is not None and pending[0] <= pk:
            if pending[0] == pk:
                sat.add(pending[1])
            pending = next(results, None)
        yield (answers, *(code in sat for code in report.instruments))


def mean_sd(counts: Counter[int], boolean: bool) -> tuple[float | None, float | None]:
    """Mean and sample SD from counts per code; yes/no items on yes = 1, no = 0 (extras left out)."""
    pairs = [(v, n) for v, n in counts.items() if not boolean or v in (0, 1)]
    n = sum(c for _v, c in pairs)
    if not n:
        return None, None
    mean = sum(v * c for v, c in pairs) / n
    if n < 2:
        return mean, None
    var = max(0.0, (sum(v * v * c for v, c in pairs) - n * mean * mean) / (n - 1))
    return mean, math.sqrt(var)


OptionKey = tuple[str, Any]  # ("n", 3) for a printed number, ("a", True) for yes, no and extras


def option_key(item: Any, value: Any) -> OptionKey:
    """The column a printed value is counted in (numbers share columns across questionnaires)."""
    return ("n", int(value)) if item.options.kind == "integer" else ("a", value)


def option_columns(instruments: Sequence[str]) -> list[tuple[OptionKey, str]]:
    """The printed values of the questionnaires' items: numbers in order, then yes, no and extras."""
    keys: list[OptionKey] = []
    for code in instruments:
        for item in scoring.instrument(code).items:
            keys += [k for k in (option_key(item, v) for v in item.options.values) if k not in keys]
    labels = {True: _("yes"), False: _("no"), "declined": _("declined to answer")}
    numbers = sorted((k for k in keys if k[0] == "n"), key=lambda k: int(k[1]))
    return [(k, str(k[1])) for k in numbers] + [(k, str(labels.get(k[1], k[1]))) for k in keys if k[0] == "a"]


def write_item_sheet(book: Workbook, fmt: Formats, report: Report, tally: ItemTally, name: str) -> int:
    """One row per questionnaire and item, under a note on how to read it; returns the rows."""
    sheet = book.add_worksheet(name)
    options = option_columns(report.instruments)
    note = _(
        "Answers per item. Mean and SD are of the value printed on the form; for yes/no items the mean "
        "is the share answering yes (declined left out). Not asked: a conditional item its condition skipped."
    )
    sheet.write_string(0, 0, note, fmt.note)
    headers = [
        _("questionnaire"),
        _("item"),
        _("wording"),
        _("answered"),
        _("missing"),
        _("not asked"),
        _("mean"),
        _("SD"),
        *(label for _key, label in options),
    ]
    write_header(sheet, 2, headers, fmt, [14, 6, 48, 9, 9, 9, 8, 8, *(7 for _o in options)])
    columns = {key: col for col, (key, _label) in enumerate(options, start=8)}
    row = 3
    for code in report.instruments:
        pack = scoring.item_texts(code, report.lang)
        for item in scoring.instrument(code).items:
            sheet.write_row(row, 0, [short_name(code, report.lang), item.id, pack.item(item.id) or ""])
            write_item_numbers(sheet, row, fmt, tally, (code, item), columns)
            row += 1
    sheet.freeze_panes(3, 3)
    sheet.autofilter(2, 0, max(row - 1, 3), len(headers) - 1)
    return row - 3


def write_item_numbers(
    sheet: Worksheet, row: int, fmt: Formats, tally: ItemTally, which: tuple[str, Any], columns: dict[OptionKey, int]
) -> None:
    """Answered, missing, not asked, mean, SD and the count per option of one item."""
    code, item = which
    key = (code, item.id)
    counts = tally.counts.get(key, Counter())
    sheet.write_row(row, 3, [sum(counts.values()), tally.missing[key], tally.not_asked[key]])
    for col, number in enumerate(mean_sd(counts, item.options.kind == "boolean"), start=6):
        if number is not None:
            sheet.write_number(row, col, number, fmt.decimal)
    for value in item.options.values:
        sheet.write_number(row, columns[option_key(item, value)], counts.get(item.options.code_of(value), 0))

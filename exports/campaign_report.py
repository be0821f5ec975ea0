"""The campaign report workbook (issue #8): what one screening campaign found, for the head of the
psychological centre and the counsellors.

Sheets, in order:

1. **Summary**: participation (assigned = completed + pending + declined or no consent + missed),
   the student's and the guardian's consent, each questionnaire's bands and the tiers, each
   section with a native Excel chart drawn from its cells.
2. **One sheet per class**: the same sections for that class alone; counts only, no names.
3. **Item statistics**: per questionnaire and item, how many answered, missing and not asked, the
   mean and SD, and the count per response option.
4. **Flagged students** (yellow and above): identifiable, so every row is audited as an export.
   Left out when the requester covers no student.

Everything goes through the access policy as ``ctx.user``: a class-limited counsellor's report is
their classes' report. Counts are grouped in the database and shaped with pandas; answers and
flagged rows are streamed in chunks, so a campaign of 100,000 students stays in modest memory.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from django.db.models import Case as Choose
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value, When
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from xlsxwriter.exceptions import DuplicateWorksheetName
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

import scoring
from exports.build import BuildContext
from scoring.engine import get_plan
from scoring.plan import MISSING, Columns
from scoring.tiers import Tier
from screening.campaigns.models import Assignment, Campaign, Result, Submission
from screening.campaigns.services.answering import STEPS
from screening.cases.models import Case, CaseFlag
from screening.cases.services.flags import FLAGGING
from screening.core.access import principal_of
from screening.core.audit import Action, audit_students
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.directory.models import SchoolClass

CHUNK = 5_000  # rows read, audited and written at a time
TIERS: tuple[str, ...] = tuple(Submission.Tier.values)  # red first: the order of need
FLAGGED: tuple[str, ...] = tuple(t for t in TIERS if Tier(t) in FLAGGING)
TIER_COLOURS = {"red": "#C0392B", "orange": "#E67E22", "yellow": "#F1C40F", "green": "#27AE60"}
REFUSALS = ("refused", "withdrawn")  # the same codes in Assignment.Guardian and StudentConsent
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_SHORT_NAME = re.compile(r"[（(]([^（）()]+)[)）]\s*$")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


# --- what the report covers -------------------------------------------------------------------


@dataclass
class Section:
    """One block of a summary table: labelled counts, their shares of ``base``, and a chart."""

    title: str
    rows: list[tuple[str, int]]
    base: int
    chart: str = "column"
    colours: list[str] | None = None


@dataclass
class Table:
    """One section's counts for every class at once (grouped once, so 2,000 class sheets cost no
    more pandas than one); a class's counts are a row of ``by_class``, in ``labels`` order."""

    title: str
    labels: list[str]
    by_class: dict[int, list[int]]
    total_label: str | None = None  # a first row with the sum (participation: assigned)
    chart: str = "column"
    colours: list[str] | None = None

    def section(self, class_id: int | None = None) -> Section:
        """The section over every class (None) or one class."""
        if class_id is None:
            counts = [sum(column) for column in zip(*self.by_class.values(), strict=True)]
        else:
            counts = self.by_class.get(class_id, [])
        counts = counts or [0] * len(self.labels)
        rows = list(zip(self.labels, counts, strict=True))
        if self.total_label is not None:
            rows.insert(0, (self.total_label, sum(counts)))
        return Section(self.title, rows, sum(counts), self.chart, self.colours)


def count_table(
    frame: pd.DataFrame, column: str, keys: Sequence[str], labels: Sequence[str], title: str, **extra: Any
) -> Table:
    """Counts of ``frame`` (class_id, ``column``, n) per class and value, in the order of ``keys``."""
    by_class: dict[int, list[int]] = {}
    if not frame.empty:
        grouped = frame.groupby(["class_id", column])["n"].sum().unstack(fill_value=0)
        grouped = grouped.reindex(columns=list(keys), fill_value=0)
        by_class = {int(k): [int(x) for x in row] for k, row in zip(grouped.index, grouped.to_numpy(), strict=True)}
    return Table(title, list(labels), by_class, **extra)


@dataclass
class Report:
    """The campaign, its questionnaires in sitting order, and the counts the requester may see."""

    campaign: Campaign
    lang: str
    instruments: list[str]
    carry: dict[str, str]  # a stepped full form → the short form its items 1–2 come from
    tables: list[Table]
    tiers: dict[str, int]  # submissions per tier
    classes: list[tuple[int, str]] = field(default_factory=list)  # (id, name), grade then name

    @property
    def students(self) -> int:
        """Assignments covered: the participation table's total."""
        return self.tables[0].section().base

    def sections(self, class_id: int | None = None) -> list[Section]:
        """Every section of the Summary (None) or of one class's sheet, in reading order."""
        return [table.section(class_id) for table in self.tables]


def campaign_for_report(*, user: Any, campaign_id: Any) -> Campaign:
    """The campaign, if the user may see it (NotFound otherwise) and covers students at its school
    as staff (a student may see their own campaign, never its report: NotAllowed)."""
    try:
        pk = int(campaign_id)
    except (TypeError, ValueError):
        raise InvalidInput(fields={"campaign": [_("Choose a campaign.")]}) from None
    campaign = Campaign.objects.visible_to(user).select_related("school").filter(pk=pk).first()
    if campaign is None:
        raise NotFound(_("Not found."))
    principal = principal_of(user)
    if not (principal.platform_admin or campaign.school_id in principal.staff_school_ids):
        raise NotAllowed()
    return campaign


def _frame(qs: Any, columns: Sequence[str]) -> pd.DataFrame:
    """A grouped ``values()`` query as a frame; ``order_by()`` first, or the models' default
    ordering would join the GROUP BY and split the counts."""
    rows = list(qs.order_by().values_list(*columns).annotate(n=Count("pk")))
    return pd.DataFrame.from_records(rows, columns=["class_id", *columns[1:], "n"])


def sitting_order(campaign: Campaign) -> tuple[list[str], dict[str, str]]:
    """The questionnaires in the order they are answered (a stepped full form after its short
    form), and which full forms take items from a short form."""
    carry = {
        full: short
        for short, full in STEPS
        if campaign.stepped and short in campaign.instruments and full not in campaign.instruments
    }
    instruments: list[str] = []
    for code in campaign.instruments:
        instruments += [code, *(full for full, short in carry.items() if short == code)]
    return instruments, carry


def report_for(*, user: Any, campaign: Campaign) -> Report:
    """The counts of one campaign over the students ``user`` covers (three grouped queries)."""
    assignments = _frame(
        Assignment.objects.visible_to(user).filter(campaign=campaign),
        ["student__school_class_id", "status", "guardian", "student_consent"],
    )
    results = _frame(
        Result.objects.visible_to(user).filter(submission__assignment__campaign=campaign),
        ["submission__student__school_class_id", "instrument", "band"],
    )
    tiers = _frame(
        Submission.objects.visible_to(user).filter(assignment__campaign=campaign), ["student__school_class_id", "tier"]
    )
    instruments, carry = sitting_order(campaign)
    lang = "en" if (get_language() or "").startswith("en") else "zh-hans"
    tables = [
        participation_table(assignments),
        *consent_tables(assignments),
        *(band_table(results, campaign, code, lang) for code in instruments),
        tier_table(tiers),
    ]
    classes = (
        SchoolClass.objects.visible_to(user)
        .filter(pk__in=set(assignments["class_id"].tolist()))
        .order_by("grade", "name", "pk")
        .values_list("pk", "name")
    )
    return Report(
        campaign,
        lang,
        instruments,
        carry,
        tables,
        {str(k): int(v) for k, v in tiers.groupby("tier")["n"].sum().items()},
        list(classes),
    )


# --- the sections of the Summary and class sheets --------------------------------------------


def participation_table(assignments: pd.DataFrame) -> Table:
    """Every assignment in exactly one row: completed, pending, declined or no consent, missed."""
    a = assignments
    done = a["status"] == Assignment.Status.SUBMITTED
    refused = a["student_consent"].isin(REFUSALS) | a["guardian"].isin(REFUSALS)
    missed = a["status"] == Assignment.Status.MISSED
    keys = ["completed", "pending", "declined", "missed"]
    a = a.assign(part=np.select([done, refused, missed], ["completed", "declined", "missed"], "pending"))
    labels = [_("completed"), _("pending"), _("declined or no consent"), _("missed (closed unanswered)")]
    return count_table(a, "part", keys, labels, _("Participation"), total_label=_("assigned"))


def consent_tables(assignments: pd.DataFrame) -> list[Table]:
    """The latest decision of the student and of the guardian, with the models' own labels."""
    return [
        count_table(assignments, column, choices.values, [str(label) for label in choices.labels], title)
        for title, column, choices in (
            (_("Student's consent"), "student_consent", Assignment.StudentConsent),
            (_("Guardian's consent"), "guardian", Assignment.Guardian),
        )
    ]


def band_label(code: str, profile: str | None, band: str, lang: str) -> str:
    """A band's label in the reader's language (the code when the definition has none)."""
    if not band:
        return _("Not scored (too many answers missing)")
    try:
        return str(scoring.instrument(code).profile(profile).bands.get(band).label.get(lang, band))
    except (scoring.ScoringError, KeyError):
        return band


def band_table(results: pd.DataFrame, campaign: Campaign, code: str, lang: str) -> Table:
    """One questionnaire's bands in the definition's order, then any other band seen (not scored)."""
    profile = campaign.profiles.get(code)
    mine = results[results["instrument"] == code]
    keys = [b.code for b in scoring.instrument(code).profile(profile).bands.levels]
    keys += sorted(set(mine["band"].tolist()) - set(keys))
    labels = [band_label(code, profile, b, lang) for b in keys]
    return count_table(mine, "band", keys, labels, instrument_name(code, lang), chart="bar")


def tier_table(tiers: pd.DataFrame) -> Table:
    """Completed screenings by tier (the tier policy's colours: a need for follow-up, not a diagnosis)."""
    labels = [str(Submission.Tier(t).label) for t in TIERS]
    colours = [TIER_COLOURS[t] for t in TIERS]
    return count_table(tiers, "tier", TIERS, labels, _("Tier (need for follow-up)"), colours=colours)


def instrument_name(code: str, lang: str) -> str:
    """The questionnaire's name in the reader's language."""
    return str(scoring.instrument(code).name.get(lang, code))


def short_name(code: str, lang: str) -> str:
    """The abbreviation a name ends with ("PHQ-9"), for column headers."""
    found = _SHORT_NAME.search(instrument_name(code, lang))
    return found.group(1) if found else code.upper()


# --- the workbook ------------------------------------------------------------------------------


class Formats:
    """The workbook's cell formats, made once."""

    def __init__(self, book: Workbook):
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.header = book.add_format(
            {"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.bold = book.add_format({"bold": True})
        self.note = book.add_format({"italic": True, "font_color": "#555555"})
        self.percent = book.add_format({"num_format": "0.0%"})
        self.decimal = book.add_format({"num_format": "0.00"})
        self.when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})


class ReportWorkbook(xlsxwriter.Workbook):
    """xlsxwriter's Workbook with its sheet-name check made O(1) per sheet. The stock check compares
    a new name, lowercased, with every existing sheet's name lowercased: O(n²) over a school's 2,000
    class sheets. Here xlsxwriter's own check still runs for every other rule (default name, at most
    31 UTF-16 units, no []:*?/\\, no apostrophe at either end), shown no existing sheets, and the
    case-insensitive uniqueness is checked against a set of the names taken so far, lowercased as
    xlsxwriter compares them, raising the same DuplicateWorksheetName."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._taken_names: set[str] = set()

    def _check_sheetname(self, sheetname: Any, is_chartsheet: bool = False) -> Any:
        sheets = self.worksheets()  # the list itself: put back as it was
        self.worksheets_objs = []  # type: ignore[has-type]
        try:
            name = super()._check_sheetname(sheetname, is_chartsheet)
        finally:
            self.worksheets_objs = sheets
        folded = name.lower()
        if folded in self._taken_names:
            raise DuplicateWorksheetName(f"Sheetname '{name}', with case ignored, is already in use.")
        self._taken_names.add(folded)
        return name


def new_workbook(path: Any) -> Workbook:
    """An xlsx in constant memory; cells hold what they say (see exports/workbook.py: names come
    from uploaded rosters, and "=..." must never become a formula)."""
    return ReportWorkbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )


def text_width(text: str) -> int:
    """Columns a text needs: CJK characters take two."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def sheet_names(wanted: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """Names Excel accepts: no []:*?/\\, no apostrophe at either end, at most 31 characters
    (UTF-16), unique with case ignored (a number is added to repeats); "History" is Excel's own."""
    used = {t.casefold() for t in (*taken, "History")}
    out = []
    for name in wanted:
        base = _BAD_SHEET_CHARS.sub("_", name).strip().strip("'").strip() or "-"
        candidate, number = base, 1
        while True:
            suffix = f" ({number})" if number > 1 else ""
            candidate = base
            while _utf16_len(candidate + suffix) > 31:
                candidate = candidate[:-1]
            candidate = candidate.rstrip().rstrip("'") + suffix
            if candidate.casefold() not in used:
                break
            number += 1
        used.add(candidate.casefold())
        out.append(candidate)
    return out


def write_header(
    sheet: Worksheet, row: int, headers: Sequence[str], fmt: Formats, widths: Sequence[int] | None = None
) -> None:
    """A bold header row, with column widths from the header or ``widths``."""
    for col, header in enumerate(headers):
        sheet.write_string(row, col, capfirst(header), fmt.header)
        width = widths[col] if widths else 10
        sheet.set_column(col, col, max(width, min(40, text_width(header) + 2)))


def write_sections(sheet: Worksheet, fmt: Formats, lines: Sequence[str], sections: Sequence[Section]) -> list[Any]:
    """Title lines, then one table (section, category, students, share) with a frozen header and a
    filter. Returns each section's first and last row, for charts."""
    for row, line in enumerate(lines):
        sheet.write_string(row, 0, line, fmt.title if row == 0 else fmt.note)
    top = len(lines) + 1
    write_header(sheet, top, [_("section"), _("category"), _("students"), _("share")], fmt, [24, 44, 10, 10])
    row, spans = top + 1, []
    # xlsxwriter's own writers, without the public methods' "A1"-argument wrapper (row and column
    # are numbers here): the same cells, a fifth of the calls' overhead over 2,000 class sheets.
    write_string, write_number, bold, percent = sheet._write_string, sheet._write_number, fmt.bold, fmt.percent
    for section in sections:
        first = row
        for label, count in section.rows:
            write_string(row, 0, section.title, bold if row == first else None)
            write_string(row, 1, _capfirst(label))
            write_number(row, 2, count)
            if section.base:
                write_number(row, 3, count / section.base, percent)
            row += 1
        spans.append((first, row - 1))
    sheet.freeze_panes(top + 1, 0)
    sheet.autofilter(top, 0, max(row - 1, top + 1), 3)
    return spans


@lru_cache(maxsize=1024)
def _capfirst(text: str) -> str:
    """``capfirst`` of a label, remembered (the same few labels on every class sheet)."""
    return str(capfirst(text))


def add_charts(book: Workbook, sheet: Worksheet, sections: Sequence[Section], spans: Sequence[Any]) -> None:
    """A native chart per section, beside the table, drawn from the table's own cells."""
    for i, (section, (first, last)) in enumerate(zip(sections, spans, strict=True)):
        chart = book.add_chart({"type": section.chart})
        if chart is None:  # only for an unknown type, which the sections never name
            continue
        series: dict[str, Any] = {
            "name": section.title,
            "categories": [sheet.name, first, 1, last, 1],
            "values": [sheet.name, first, 2, last, 2],
            "data_labels": {"value": True},
        }
        if section.colours:
            series["points"] = [{"fill": {"color": c}} for c in section.colours]
        chart.add_series(series)
        chart.set_title({"name": section.title})
        chart.set_legend({"none": True})
        chart.set_size({"width": 620, "height": 300})
        sheet.insert_chart(1 + i * 16, 5, chart)


def scope_lines(report: Report, user: Any, title: str, students: int) -> list[str]:
    """What the sheet is about, over which students, and how to read it."""
    campaign, when = report.campaign, "%Y-%m-%d %H:%M"
    school = campaign.school.name_en if report.lang == "en" and campaign.school.name_en else campaign.school.name
    window = f"{timezone.localtime(campaign.opens_at):{when}} – {timezone.localtime(campaign.closes_at):{when}}"
    principal = principal_of(user)
    limited = not principal.platform_admin and campaign.school_id not in (
        principal.admin_school_ids | principal.counsellor_school_ids
    )
    return [
        title,
        f"{campaign.name} · {school} · {window}",
        _("Students covered: %(count)s") % {"count": students}
        + (" · " + _("only the classes you work with") if limited else ""),
        _("Results show risk and need for follow-up; they are not a diagnosis."),
    ]


# --- item statistics -----------------------------------------------------------------------------


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
        _with_sittings(rows.iterator(chunk_size=CHUNK), results.iterator(chunk_size=CHUNK), report), CHUNK
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


# --- flagged students ----------------------------------------------------------------------------


def chunked[T](rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to ``size`` rows."""
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


FLAG_COLUMNS = [
    "student_id",
    "student__public_id",
    "student__school_id",
    "student__number",
    "student__name",
    "student__school_class__name",
    "tier",
    "submitted_at",
    "case",
]


def flagged_rows(user: Any, report: Report) -> Iterator[list[tuple[Any, ...]]]:
    """Visible submissions of yellow and above with each questionnaire's total and band and the
    state of the case they flagged, most urgent tier first, then by class and number: one query,
    streamed (each subquery is one row found by a unique index)."""
    rank = Choose(*(When(tier=t, then=Value(i)) for i, t in enumerate(TIERS)), output_field=IntegerField())
    results = Result.objects.visible_to(user).filter(submission=OuterRef("pk")).order_by()
    scores: dict[str, Any] = {}
    for code in report.instruments:
        scores[f"total_{code}"] = Subquery(results.filter(instrument=code).values("total")[:1])
        scores[f"band_{code}"] = Subquery(results.filter(instrument=code).values("band")[:1])
    case = CaseFlag.objects.visible_to(user).filter(submission=OuterRef("pk")).order_by().values("case__status")[:1]
    qs = (
        Submission.objects.visible_to(user)
        .filter(assignment__campaign=report.campaign, tier__in=FLAGGED)
        .annotate(rank=rank, case=Subquery(case), **scores)
        .order_by("rank", "student__school_class__grade", "student__school_class__name", "student__number", "pk")
        .values_list(*FLAG_COLUMNS, *scores)
    )
    return chunked(qs.iterator(chunk_size=CHUNK), CHUNK)


def flagged_frame(report: Report, chunk: list[tuple[Any, ...]]) -> pd.DataFrame:
    """One chunk of flagged rows as the sheet shows them: labels in the reader's language, the
    time as an Excel date number."""
    frame = pd.DataFrame.from_records(chunk, columns=[*FLAG_COLUMNS, *flag_score_columns(report)])
    for code in report.instruments:
        bands = frame[f"band_{code}"]
        profile = report.campaign.profiles.get(code)
        frame[f"band_{code}"] = bands.map(
            {b: band_label(code, profile, b, report.lang) for b in bands.dropna().unique()}
        )
    frame["tier"] = frame["tier"].map({t: capfirst(str(Submission.Tier(t).label)) for t in TIERS})
    frame["case"] = frame["case"].map({value: capfirst(str(label)) for value, label in Case.Status.choices})
    at = pd.to_datetime(frame["submitted_at"], utc=True).dt.tz_convert(timezone.get_current_timezone())
    frame["submitted_at"] = (at.dt.tz_localize(None) - _EXCEL_EPOCH) / pd.Timedelta(days=1)
    return frame


def flag_score_columns(report: Report) -> list[str]:
    """The per-questionnaire columns of a flagged row, in the order of the query."""
    return [name for code in report.instruments for name in (f"total_{code}", f"band_{code}")]


def flag_headers(report: Report) -> tuple[list[str], list[str]]:
    """Headers of the flagged sheet, and the frame column each one shows."""
    headers = [_("student number"), _("Name"), _("class"), _("tier")]
    columns = ["student__number", "student__name", "student__school_class__name", "tier"]
    for code in report.instruments:
        name = short_name(code, report.lang)
        if get_plan(code).has_total:
            headers.append(f"{name} {_('total')}")
            columns.append(f"total_{code}")
        headers.append(f"{name} {_('Band')}")
        columns.append(f"band_{code}")
    return [*headers, _("flagged at"), _("case status")], [*columns, "submitted_at", "case"]


def write_flagged_sheet(
    book: Workbook, fmt: Formats, ctx: BuildContext, report: Report, name: str, tick: Callable[[], None]
) -> int:
    """The flagged students, audited chunk by chunk as they are written; returns how many."""
    sheet = book.add_worksheet(name)
    headers, columns = flag_headers(report)
    widths = [12, 12, 14, 8, *(10 if c.startswith("total_") else 28 for c in columns[4:-2]), 16, 22]
    write_header(sheet, 0, headers, fmt, widths)
    written, when = 0, columns.index("submitted_at")
    for chunk in flagged_rows(ctx.user, report):
        frame = flagged_frame(report, chunk)
        students = frame[["student_id", "student__public_id", "student__school_id"]].itertuples(index=False)
        audit_students(
            actor=ctx.user,
            action=Action.EXPORT,
            students=[SimpleNamespace(pk=pk, public_id=p, school_id=s) for pk, p, s in students],
        )
        for values in frame[columns].itertuples(index=False):
            written += 1
            write_flag_row(sheet, written, values, when, fmt)
        tick()
    sheet.freeze_panes(1, 2)
    sheet.autofilter(0, 0, max(written, 1), len(headers) - 1)
    return written


def write_flag_row(sheet: Worksheet, row: int, values: Sequence[Any], when: int, fmt: Formats) -> None:
    """One flagged student: text as text, numbers as numbers, column ``when`` as an Excel date."""
    write_string, write_number = sheet._write_string, sheet._write_number  # no "A1" wrapper: numbers here
    for col, value in enumerate(values):
        if isinstance(value, str):
            write_string(row, col, value)
        elif value is not None and value == value:  # NaN: no total (not scored), no case
            write_number(row, col, value, fmt.when if col == when else None)


# --- the builder -----------------------------------------------------------------------------


def build_campaign_report(ctx: BuildContext) -> None:
    """Write the campaign report of ``ctx.params["campaign"]`` to ``ctx.path``, over the students
    ``ctx.user`` covers (see the module docstring for the sheets). NotFound when the campaign is
    not visible; NotAllowed for someone who may see it but covers no student there as staff.
    Records ``students`` (covered) and ``flagged`` (rows on the flagged sheet) in ``ctx.detail``."""
    campaign = campaign_for_report(user=ctx.user, campaign_id=ctx.params.get("campaign"))
    report = report_for(user=ctx.user, campaign=campaign)
    flagged = sum(report.tiers.get(t, 0) for t in FLAGGED)
    total = 2 + len(report.classes) + math.ceil(sum(report.tiers.values()) / CHUNK) + math.ceil(flagged / CHUNK)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        ctx.progress(min(done, total), total)

    book = new_workbook(ctx.path)
    try:
        write_report(book, ctx, report, tick)
    except BaseException:
        # xlsxwriter's temporary files hold the rows written so far (names, on the flagged sheet):
        # closing removes them. The job keeps no file of a failed build.
        with contextlib.suppress(Exception):
            book.close()
        raise
    book.close()
    ctx.progress(total, total)  # the workbook is written only now


def write_report(book: Workbook, ctx: BuildContext, report: Report, tick: Callable[[], None]) -> None:
    """Every sheet in order; the flagged sheet only for someone who covers students."""
    fmt = Formats(book)
    names = iter(
        sheet_names([_("Summary"), *(n for _pk, n in report.classes), _("Item statistics"), _("Flagged students")])
    )
    write_summary(book, fmt, ctx.user, report, next(names))
    tick()
    for class_id, class_name in report.classes:
        write_class_sheet(book.add_worksheet(next(names)), fmt, ctx.user, report, class_id, class_name)
        tick()
    tally = ItemTally()
    stream_answers(ctx.user, report, tally, tick)
    write_item_sheet(book, fmt, report, tally, next(names))
    tick()
    ctx.detail["students"], ctx.detail["flagged"] = report.students, 0
    if report.students:  # someone who covers no student gets no sheet of names, not an empty one
        ctx.detail["flagged"] = write_flagged_sheet(book, fmt, ctx, report, next(names), tick)


def write_summary(book: Workbook, fmt: Formats, user: Any, report: Report, name: str) -> None:
    """The Summary sheet: the whole report's sections, each with its chart."""
    sheet = book.add_worksheet(name)
    sections = report.sections()
    spans = write_sections(sheet, fmt, scope_lines(report, user, _("Campaign report"), report.students), sections)
    add_charts(book, sheet, sections, spans)


def write_class_sheet(sheet: Worksheet, fmt: Formats, user: Any, report: Report, class_id: int, name: str) -> None:
    """One class's sections (counts only, no names)."""
    sections = report.sections(class_id)
    write_sections(sheet, fmt, scope_lines(report, user, name, sections[0].base), sections)
    # xlsxwriter keeps a temp file open per sheet in constant-memory mode until the workbook is
    # assembled; a school of 2,000 classes would run out of file handles. Its packager reopens it.
    sheet._opt_close()  # type: ignore[attr-defined]

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
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from exports.build import BuildContext
from exports.campaign_report import data
from exports.campaign_report.data import FLAGGED, Report, campaign_for_report, report_for
from exports.campaign_report.flagged import write_flagged_sheet
from exports.campaign_report.items import ItemTally, stream_answers, write_item_sheet
from exports.campaign_report.xlsx import (
    Formats,
    ReportWorkbook,
    add_charts,
    new_workbook,
    scope_lines,
    write_sections,
)
from exports.workbook import sheet_names

__all__ = ["build_campaign_report", "sheet_names"]


# Up to this many flagged rows (the one sheet that grows with the campaign; the class sheets are
# small), the workbook's parts are assembled in memory at close instead of through one temporary
# file each (2,000 class sheets are 2,000 files). A flagged row is under 1 kB of XML, so at most
# some 40 MB more at close; beyond it, the parts go through temporary files as usual.
IN_MEMORY_FLAGGED_ROWS = 20_000


def build_campaign_report(ctx: BuildContext) -> None:
    """Write the campaign report of ``ctx.params["campaign"]`` to ``ctx.path``, over the students
    ``ctx.user`` covers (see the module docstring for the sheets). NotFound when the campaign is
    not visible; NotAllowed for someone who may see it but covers no student there as staff.
    Records ``students`` (covered) and ``flagged`` (rows on the flagged sheet) in ``ctx.detail``."""
    campaign = campaign_for_report(user=ctx.user, campaign_id=ctx.params.get("campaign"))
    report = report_for(user=ctx.user, campaign=campaign)
    flagged = sum(report.tiers.get(t, 0) for t in FLAGGED)
    total = (
        2 + len(report.classes) + math.ceil(sum(report.tiers.values()) / data.CHUNK) + math.ceil(flagged / data.CHUNK)
    )
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        ctx.progress(min(done, total), total)

    book = new_workbook(ctx.path)
    if flagged <= IN_MEMORY_FLAGGED_ROWS:
        book.assemble_in_memory()
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


def write_report(book: ReportWorkbook, ctx: BuildContext, report: Report, tick: Callable[[], None]) -> None:
    """Every sheet in order; the flagged sheet only for someone who covers students."""
    fmt = Formats(book)
    names = iter(
        sheet_names([_("Summary"), *(n for _pk, n in report.classes), _("Item statistics"), _("Flagged students")])
    )
    write_summary(book, fmt, ctx.user, report, next(names))
    tick()
    for class_id, class_name in report.classes:
        write_class_sheet(book.add_small_worksheet(next(names)), fmt, ctx.user, report, class_id, class_name)
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

"""The report's workbook: formats, sheet names Excel accepts, the section tables and their charts,
and a Workbook that keeps the small class sheets out of constant-memory mode."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import xlsxwriter
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from xlsxwriter.exceptions import DuplicateWorksheetName
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from exports.campaign_report.data import Report, Section
from exports.workbook import CELLS_AS_WRITTEN, text_width
from screening.core.access import principal_of


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

    def assemble_in_memory(self) -> None:
        """Assemble the parts at close in memory rather than one temporary file each. The sheets
        are still written in constant memory until then (``in_memory`` given to the constructor
        would switch that off: here it is set after, and xlsxwriter reads it only at close)."""
        self.in_memory = True

    def add_small_worksheet(self, name: str) -> Worksheet:
        """A sheet of a few dozen rows (a class's counts) kept in memory, not in constant-memory
        mode: constant memory gives every sheet a temporary file of its own, opened, reopened,
        copied and deleted, and over a school's 2,000 class sheets those files cost more than
        their cells. The workbook's large sheets (flagged students, item statistics) stay in
        constant memory. xlsxwriter reads the mode per sheet (``worksheet.constant_memory``) when
        it writes and assembles them; the sheet is marked as having no temporary file to close."""
        self.constant_memory = False
        try:
            sheet = self.add_worksheet(name)
        finally:
            self.constant_memory = True
        sheet.row_data_fh_closed = True  # type: ignore[attr-defined]
        return sheet


def new_workbook(path: Any) -> ReportWorkbook:
    """An xlsx in constant memory; cells hold what they say (see exports/workbook.py: names come
    from uploaded rosters, and "=..." must never become a formula). Its temporary files (the
    flagged rows until close) go in the file's own folder, the job's, removed with it."""
    return ReportWorkbook(
        str(path),
        {
            "constant_memory": True,
            "tmpdir": str(Path(path).parent),
            **CELLS_AS_WRITTEN,
        },
    )


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

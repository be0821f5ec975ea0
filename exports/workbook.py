"""Small helpers shared by every xlsx this platform writes (xlsxwriter, constant memory)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter


def table_workbook(
    *, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int] | None = None,
    note: str = "",
) -> bytes:
    """One sheet with a frozen, filtered header row; returns the file's bytes.

    ``note`` goes in a first line above the table (e.g. "printing replaced the previous codes").
    """
    buffer = io.BytesIO()
    # Cells hold what they say: names come from uploaded rosters, and xlsxwriter would otherwise
    # write "=..." as a formula (formula injection), "http..." as a link and "0123" as a number.
    book = xlsxwriter.Workbook(buffer, {
        "constant_memory": True, "in_memory": True,
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })
    sheet = book.add_worksheet(title[:31])
    bold = book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1})
    start = 0
    if note:
        sheet.write(0, 0, note, book.add_format({"italic": True}))
        start = 2
    for col, header in enumerate(headers):
        sheet.write(start, col, header, bold)
        sheet.set_column(col, col, (widths[col] if widths else max(12, len(header) * 2)))
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            sheet.write(start + count, col, value)
    sheet.freeze_panes(start + 1, 0)
    sheet.autofilter(start, 0, start + max(count, 1), len(headers) - 1)
    book.close()
    return buffer.getvalue()

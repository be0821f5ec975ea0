"""Small helpers shared by every xlsx this platform writes (xlsxwriter, constant memory)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter

# Cells hold what they say: names come from uploaded rosters, and xlsxwriter would otherwise write
# "=..." as a formula (formula injection), "http..." as a link and "0123" as a number. Every
# workbook this platform writes is made with these options.
CELLS_AS_WRITTEN = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def text_width(text: str) -> int:
    """Columns a text needs: CJK characters take two."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def sheet_names(wanted: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """Names Excel accepts whatever the translation: no []:*?/\\, no apostrophe at either end, at
    most 31 characters (UTF-16), unique with case ignored (a number is added to repeats);
    "History" is Excel's own."""
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


def table_workbook(
    *, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int] | None = None,
    note: str = "",
) -> bytes:
    """One sheet with a frozen, filtered header row; returns the file's bytes.

    ``note`` goes in a first line above the table (e.g. "printing replaced the previous codes").
    """
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True, **CELLS_AS_WRITTEN})
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

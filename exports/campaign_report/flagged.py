"""The flagged-students sheet (yellow and above): identifiable, so every row is audited as an
export, chunk by chunk as it is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pandas as pd
from django.db.models import Case as Choose
from django.db.models import IntegerField, OuterRef, Subquery, Value, When
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from exports.build import BuildContext, chunked
from exports.campaign_report import data
from exports.campaign_report.data import FLAGGED, TIERS, Report, band_label, short_name
from exports.campaign_report.xlsx import Formats, write_header
from scoring.engine import get_plan
from screening.campaigns.models import Result, Submission
from screening.cases.models import Case, CaseFlag
from screening.core.audit import Action, audit_students_by_id

_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


FLAG_COLUMNS = [
    "student_id",
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
    return chunked(qs.iterator(chunk_size=data.CHUNK), data.CHUNK)


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
        audit_students_by_id(actor=ctx.user, action=Action.EXPORT, student_ids=frame["student_id"].tolist())
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

"""The KPI workbook (xlsxwriter): a KPI sheet with one row per term, a definitions sheet and a
charts sheet with one native Excel chart per KPI group. Written from the frame of
:func:`exports.kpis.programme_kpis`, so it holds counts, shares and medians only.

Each KPI has a value column and an "n/N" column. A withheld value (an analyst's: see
``exports.kpis.analyst``) is a blank cell, so the charts leave a gap there rather than plotting a
zero; its "n/N" says why: the bureau aggregate's marks ("<5", "x") for a participation KPI, and
"x" for every analyst's casework KPI, whose counts are never shown to them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from django.utils.translation import gettext as _
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from exports.kpis import GROUPS, HOURS, KPIS, MINUTES, SHARE, TIER_NAMES, WITHHELD, Kpi, KpiSpec
from exports.suppression import primary_mark
from exports.workbook import CELLS_AS_WRITTEN
from screening.directory.models import School

FIRST_KPI_COLUMN = 3  # term, from, to; then a value and an "n/N" column per KPI
TIER_COLOURS = {"red": "#C0392B", "orange": "#E67E22", "yellow": "#D4AC0D"}
NUMBER_FORMATS = {SHARE: "0.0%", HOURS: "0.0", MINUTES: "0.0"}


def value_column(index: int) -> int:
    """The KPI sheet's column of the ``index``-th KPI's value (its "n/N" is the next one)."""
    return FIRST_KPI_COLUMN + 2 * index


def write_kpi_workbook(frame: pd.DataFrame, path: Path, *, user: Any) -> None:
    """Write the workbook of ``frame`` to ``path``; the limits on the definitions sheet are read
    from the tier policies of the frame's schools, as ``user`` sees them."""
    book = xlsxwriter.Workbook(str(path), {
        "constant_memory": False, "tmpdir": str(path.parent), **CELLS_AS_WRITTEN, "default_date_format": "yyyy-mm-dd",
    })
    kpi_sheet = _kpi_sheet(book, frame)
    _definitions_sheet(book, frame, limits=kpi_limits(user=user, school_ids=frame.attrs.get("school_ids", [])))
    _charts_sheet(book, frame, kpi_sheet)
    book.close()


def _title(frame: pd.DataFrame) -> str:
    first, last = frame["since"].min(), frame["until"].max()
    return _("KPIs of %(place)s, %(since)s to %(until)s") % {
        "place": frame.attrs.get("label", ""), "since": first.isoformat(), "until": last.isoformat()}


# --- KPI sheet ---------------------------------------------------------------------------------------


def _kpi_sheet(book: Workbook, frame: pd.DataFrame) -> str:
    """One row per term: the term, its days, then each KPI's value and "n/N". Returns its name."""
    name = _("KPIs")[:31]
    sheet = book.add_worksheet(name)
    header = book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True, "valign": "top"})
    headers = [_("Term"), _("From"), _("To")]
    for spec in KPIS:
        headers += [spec.text("label"), _("%(kpi)s: n/N") % {"kpi": spec.text("label")}]
    sheet.set_row(0, 75)
    for col, text in enumerate(headers):
        sheet.write_string(0, col, text, header)
    sheet.set_column(0, 0, 20)
    sheet.set_column(1, 2, 11)
    for index in range(len(KPIS)):
        sheet.set_column(value_column(index), value_column(index), 14)
        sheet.set_column(value_column(index) + 1, value_column(index) + 1, 10)
    _kpi_rows(book, sheet, frame)
    sheet.freeze_panes(1, 1)
    sheet.autofilter(0, 0, max(len(frame), 1), len(headers) - 1)
    return name


def _kpi_rows(book: Workbook, sheet: Worksheet, frame: pd.DataFrame) -> None:
    formats = {unit: book.add_format({"num_format": pattern}) for unit, pattern in NUMBER_FORMATS.items()}
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    counts = book.add_format({"align": "right", "font_color": "#555555"})
    for row, record in enumerate(frame.to_dict("records"), start=1):
        sheet.write_string(row, 0, str(record["term"]))
        sheet.write_datetime(row, 1, dt.datetime.combine(record["since"], dt.time.min), day)
        sheet.write_datetime(row, 2, dt.datetime.combine(record["until"], dt.time.min), day)
        for index, spec in enumerate(KPIS):
            _kpi_cell(sheet, row, value_column(index), record[spec.key], formats[spec.unit], counts)


def _kpi_cell(sheet: Worksheet, row: int, col: int, kpi: Kpi, number: Format, counts: Format) -> None:
    """The value (blank when there is none or it is withheld: a gap in the charts, never a zero)
    and its "n/N" (a withheld count as its mark; "x" alone where an analyst is shown no counts)."""
    if kpi.value is None or kpi.suppressed:
        sheet.write_blank(row, col, None, number)
    else:
        sheet.write_number(row, col, kpi.value, number)
    sheet.write_string(row, col + 1, kpi.fraction, counts)


# --- definitions sheet ---------------------------------------------------------------------------------


def kpi_limits(*, user: Any, school_ids: Sequence[int]) -> dict[str, str]:
    """The limits the KPIs are measured against, from the tier policies of these schools (a range
    when they differ): ``first_contact_<tier>`` in hours and ``alert`` in minutes."""
    from scoring.tiers import Tier
    from screening.campaigns.services.answering import school_policy

    policies = [school_policy(s) for s in School.objects.visible_to(user).filter(pk__in=list(school_ids))]
    limits: dict[str, str] = {}
    for tier in ("red", "orange", "yellow"):
        hours = {p.settings(Tier(tier)).first_contact_limit for p in policies} - {None}
        limits[f"first_contact_{tier}"] = _span([h.total_seconds() / 3600 for h in hours if h is not None], _("%(n)s h"))
    minutes = [p.alerts.acknowledge_within.total_seconds() / 60 for p in policies]
    limits["alert"] = _span(minutes, _("%(n)s min"))
    return limits


def _span(values: Sequence[float], unit: str) -> str:
    if not values:
        return "—"
    low, high = min(values), max(values)
    text = f"{low:g}" if low == high else f"{low:g}–{high:g}"
    return unit % {"n": text}


def _limit_text(spec: KpiSpec, limits: dict[str, str]) -> str:
    if spec.limit == "first_contact" and spec.tier:
        return _("%(limit)s: the school's first-contact limit for the tier, kept on each flag when it is "
                 "raised") % {"limit": limits.get(f"first_contact_{spec.tier}", "—")}
    if spec.limit == "alert":
        return _("%(limit)s: the school's acknowledgement limit for red alerts, kept on each alert") % {
            "limit": limits.get("alert", "—")}
    if spec.limit == "follow_up":
        return _("The day each follow-up was due")
    return "—"


def _about(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The lines above the definitions: what the workbook covers and how terms and cells work."""
    analyst = bool(frame.attrs.get("aggregate_only"))
    calendar = _("Autumn term: 1 September to 31 January; spring term: 1 February to 31 August (the winter holiday "
                 "counts with the autumn term, the summer holiday with the spring term).")
    lines = [
        (_("Covers"), _title(frame)),
        (_("Terms"), calendar + " " + (
            _("Each term is counted whole, whatever the period asked for, and only terms that have started are "
              "shown.") if analyst else _("The first and last terms are cut to the period asked for."))),
        (_("Values"), _("Each KPI has its value and its counts as n/N: for a share, n of N; for a median, the "
                        "number of times it is taken over (n) and of rows that could have given one (N). A blank "
                        "value has nothing to count.")),
    ]
    if analyst:
        marks = {"small": primary_mark(), "x": WITHHELD, "n": int(frame.attrs.get("small_cell", 10))}
        lines += [
            (_("Participation"), _(
                "For bureau analysts, screening coverage, completion and the flag rates are counted per student, as "
                "in the bureau aggregate of the same region and term, from its totals row: students assigned, "
                "screened, and at each tier (a student at their highest tier of the term). Coverage's denominator "
                "is the students on the roster. A KPI is withheld (left blank) wherever a count it is made of is "
                "withheld in the bureau aggregate; its n/N then shows the aggregate's marks (“%(small)s”: 1 to 4; "
                "“%(x)s”: withheld to protect another count).") % marks),
            (_("Casework"), _(
                "For bureau analysts, the casework KPIs (first contact, interviews, follow-ups, alerts, referrals) "
                "show only their rate or median; their counts are not shown (“%(x)s”), and a KPI taken over fewer "
                "than %(n)d is withheld (left blank), so that no cell points at a few students.") % marks),
        ]
    return lines


PER_STUDENT = ("participation", "flags")  # the groups an analyst gets from the bureau aggregate


def _analyst_counts(spec: KpiSpec) -> tuple[str, str, str]:
    """What a participation KPI counts for an analyst: per student, as the bureau aggregate does."""
    assigned, screened = _("Students assigned (bureau aggregate)"), _("Students screened (bureau aggregate)")
    what = _("Counted per student as in the bureau aggregate of the same region and term (see Participation "
             "above)")
    if spec.key == "coverage":
        return what, assigned, _("Students on the roster today who were added before the term ended")
    if spec.key == "completion":
        return what, screened, assigned
    tier = TIER_NAMES[spec.tier or "red"]()
    return what, _("Students at the %(tier)s tier (bureau aggregate)") % {"tier": tier}, screened


def _definitions_sheet(book: Workbook, frame: pd.DataFrame, *, limits: dict[str, str]) -> None:
    """What each KPI counts, its numerator and denominator, and the limit used."""
    sheet = book.add_worksheet(_("Definitions")[:31])
    bold = book.add_format({"bold": True, "valign": "top"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    header = book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True})
    about = _about(frame)
    for row, (label, text) in enumerate(about):
        sheet.write_string(row, 0, label, bold)
        sheet.merge_range(row, 1, row, 5, text, wrap)
        sheet.set_row(row, 45)
    start = len(about) + 1
    headers = [_("KPI"), _("What it counts"), _("Numerator (n)"), _("Denominator (N)"), _("Limit used"), _("Unit")]
    for col, (text, width) in enumerate(zip(headers, (30, 60, 30, 30, 40, 14), strict=True)):
        sheet.write_string(start, col, text, header)
        sheet.set_column(col, col, width)
    units = {SHARE: _("percentage"), HOURS: _("hours"), MINUTES: _("minutes")}
    analyst = bool(frame.attrs.get("aggregate_only"))
    for row, spec in enumerate(KPIS, start=start + 1):
        counts = _analyst_counts(spec) if analyst and spec.group in PER_STUDENT else None
        texts = [spec.text("label"), *(counts or (spec.text("counts"), spec.text("numerator"),
                                                   spec.text("denominator"))),
                 _limit_text(spec, limits), units[spec.unit]]
        for col, text in enumerate(texts):
            sheet.write_string(row, col, text, wrap)
    sheet.freeze_panes(start + 1, 0)


# --- charts sheet ------------------------------------------------------------------------------------


def _charts_sheet(book: Workbook, frame: pd.DataFrame, kpi_sheet: str) -> None:
    """One native chart per KPI group, by term: lines for shares, columns for times."""
    sheet = book.add_worksheet(_("Charts")[:31])
    sheet.write_string(0, 0, _title(frame), book.add_format({"bold": True, "font_size": 13}))
    last = max(len(frame), 1)
    for number, (group, title, unit) in enumerate(GROUPS):
        chart = book.add_chart({"type": "line" if unit == SHARE else "column"})
        assert chart is not None
        for index, spec in enumerate(KPIS):
            if spec.group == group:
                chart.add_series(_series(spec, kpi_sheet, value_column(index), last))
        chart.set_title({"name": str(title), "name_font": {"size": 11}})
        axis: dict[str, Any] = {"num_format": "0%", "min": 0, "max": 1} if unit == SHARE else {"min": 0}
        chart.set_y_axis({**axis, "major_gridlines": {"visible": True, "line": {"color": "#DDDDDD"}}})
        chart.set_legend({"position": "bottom"})
        chart.show_blanks_as("gap")
        chart.set_size({"width": 620, "height": 320})
        sheet.insert_chart(2 + 17 * (number // 2), 0 if number % 2 == 0 else 10, chart)


def _series(spec: KpiSpec, kpi_sheet: str, col: int, last: int) -> dict[str, Any]:
    series: dict[str, Any] = {
        "name": [kpi_sheet, 0, col], "categories": [kpi_sheet, 1, 0, last, 0], "values": [kpi_sheet, 1, col, last, col],
    }
    colour = TIER_COLOURS.get(spec.tier or "")
    if colour:
        series["line" if spec.unit == SHARE else "fill"] = {"color": colour}
    if spec.unit == SHARE:
        series["marker"] = {"type": "circle", "size": 6}
        if colour:
            series["marker"].update({"border": {"color": colour}, "fill": {"color": colour}})
    return series

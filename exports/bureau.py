"""The bureau aggregate (issue #8): participation and tiers per school and grade in one of a bureau
analyst's regions over one school term, with no identifier and small cells withheld.

An analyst asks for one of the regions of their own memberships, as a whole, and one whole term
that has started (``exports.analyst``: the tables an analyst receives form a fixed family, one per
region and term, because two tables that overlap partially give each other's withheld counts away
when subtracted; the protection below holds for one table only). The KPI workbook's participation
figures for an analyst are the totals row of this same publication (``exports.kpis.analyst``).

Three steps, each usable on its own:

1. :func:`bureau_table` counts, per school and grade, the students assigned over the campaigns that
   opened in the term, how many were screened, and how many reached each tier. It holds small
   counts: it never leaves the server as it is.
2. :func:`bureau_published` turns it into what may leave: small counts shown as ``"<5"``, the cells
   that would give them away as ``"x"`` (:mod:`exports.suppression`), rates only where every count
   behind them is shown, and a totals row for the region.
3. :func:`build_bureau_aggregate` writes that to an xlsx with a sheet of notes (the builder
   contract in :mod:`exports.build`).

The table that is protected is a plain two-way table: one row per school and grade, one column per
part of the students assigned (red, orange, yellow, green, not screened), the row total being the
students assigned and the column totals the region's. "Screened", the rates and the flagged count
are sums of those parts, shown only when the shown cells already determine them. Per-school
subtotals are left out on purpose: they would be a second level of totals, which the two-way
protection does not cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from exports.analyst import SEASONS, analyst_term, own_region
from exports.build import BuildContext
from exports.kpis.terms import Term, whole_term
from exports.suppression import (
    COMPLEMENT_MARK,
    THRESHOLD,
    Suppression,
    derived_suppressed,
    primary_mark,
    protect_or_withhold_all,
)
from exports.workbook import CELLS_AS_WRITTEN, sheet_names, text_width
from screening.campaigns.models import Assignment, Campaign
from screening.core.access import BUREAU_ANALYST, principal_of
from screening.core.audit import Action, audit_record
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.directory.models import Region, School
from screening.directory.selectors import school_list

OBJECT_TYPE = "exports.bureau_aggregate"
FLAGGED = ("red", "orange", "yellow")
# The parts of the students assigned: every student is in exactly one (their highest tier, or not screened).
PARTS = (*FLAGGED, "green", "not_screened")
_SEVERITY = {"green": 0, "yellow": 1, "orange": 2, "red": 3}
_TIER_OF = {rank: tier for tier, rank in _SEVERITY.items()}
PROGRESS_EVERY = 500  # rows written between progress reports


# --- 1. the counts ----------------------------------------------------------------------------------


def bureau_table(*, user: Any, region: int | None, school_year: int, season: str) -> pd.DataFrame:
    """Per school and grade of the schools under ``region``, over the campaigns that opened in the
    whole term ``season`` ("autumn" or "spring") of ``school_year`` (local days): students
    ``assigned``, ``screened``, per tier (``red`` … ``green``), ``not_screened``,
    ``completion_rate`` (screened ÷ assigned) and ``flag_rate`` (red, orange and yellow ÷ screened;
    NaN when none was screened).

    For an analyst, ``region`` must be one of their own regions (``exports.analyst.own_region``;
    None: their only one) and the term must have started, else InvalidInput: one table of the
    fixed family, never a part of one. A platform admin may name any region, or None for every
    school. A student counts once per school and grade, at the highest tier they reached in the
    term; the grade is that of their current class. Only bureau analysts and platform admins may
    ask (NotAllowed otherwise). The counts are exact and may be small: pass them through
    :func:`bureau_published` before they leave the server."""
    admin = _require_analyst(user)
    term = whole_term(school_year, season) if admin else analyst_term(school_year, season)
    schools, place = _schools_in_scope(user, region, admin=admin)
    table = _labelled(_counts_per_school_grade(_students(schools, term)), schools)
    table.attrs.update(region=place.pk if place else None, region_name=_place_name(place), term=term)
    return table


def _require_analyst(user: Any) -> bool:
    """NotAllowed unless the user is a bureau analyst or a platform admin; True for the latter."""
    principal = principal_of(user)
    if not (principal.platform_admin or BUREAU_ANALYST in principal.roles):
        raise NotAllowed(_("Only bureau analysts may read bureau aggregates."))
    return principal.platform_admin


def _schools_in_scope(user: Any, region: int | None, *, admin: bool) -> tuple[QuerySet[School], Region | None]:
    """The schools under the region's path, as the user may see them, and the region. Always the
    region's path, never simply ``school_list(user)``: that also holds the schools of a staff
    membership the analyst may have outside their regions."""
    schools = school_list(user=user)
    if not admin:
        place = own_region(user, region)
    elif region is None:
        return schools, None
    else:
        found = Region.objects.visible_to(user).filter(pk=region).first()
        if found is None:
            raise NotFound(_("Not found."))
        place = found
    return schools.filter(region__path__startswith=place.path), place


def _place_name(place: Region | None) -> str:
    if place is None:
        return _("all of your regions")
    english = (get_language() or "").startswith("en")
    return place.name_en if english and place.name_en else place.name


def _students(schools: QuerySet[School], term: Term) -> pd.DataFrame:
    """One row per student, school and grade: ``part``, the student's highest tier or not screened.

    An analyst sees no assignment row (screening.core.access.assignments_rule); this reads them
    only to count them, in the schools ``visible_to`` gave. The student id serves to count each
    student once and does not leave this function."""
    rows = (
        Assignment.objects.filter(campaign__school__in=schools.values("pk"),
                                  campaign__opens_at__date__range=(term.since, term.until))
        .exclude(campaign__status=Campaign.Status.DRAFT)
        .order_by()
        .values_list("campaign__school_id", "student__school_class__grade", "student_id", "submission__tier")
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["school_id", "grade", "student_id", "tier"])
    frame["severity"] = frame["tier"].map(_SEVERITY)
    worst = frame.groupby(["school_id", "grade", "student_id"])["severity"].max()
    part = worst.map(_TIER_OF).fillna("not_screened").rename("part")
    return part.reset_index().drop(columns="student_id")


def _counts_per_school_grade(students: pd.DataFrame) -> pd.DataFrame:
    """Students per part, school and grade, with ``assigned`` and ``screened``."""
    if students.empty:
        counts = pd.DataFrame(columns=list(PARTS), index=pd.MultiIndex.from_arrays([[], []]), dtype="int64")
    else:
        counts = pd.crosstab([students["school_id"], students["grade"]], students["part"])
        counts = counts.reindex(columns=list(PARTS), fill_value=0).astype("int64")
    counts.index = counts.index.set_names(["school_id", "grade"])
    counts["assigned"] = counts[list(PARTS)].sum(axis=1)
    counts["screened"] = counts["assigned"] - counts["not_screened"]
    return counts.reset_index()


def _labelled(counts: pd.DataFrame, schools: QuerySet[School]) -> pd.DataFrame:
    """Region and school names (English ones when English is active and there are), the rates,
    ordered by region, school and grade."""
    english = (get_language() or "").startswith("en")
    names = {
        pk: ((region_en if english and region_en else region), (name_en if english and name_en else name))
        for pk, name, name_en, region, region_en in schools.values_list(
            "pk", "name", "name_en", "region__name", "region__name_en")
    }
    counts.insert(1, "region", counts["school_id"].map(lambda pk: names[pk][0]))
    counts.insert(2, "school", counts["school_id"].map(lambda pk: names[pk][1]))
    counts["completion_rate"] = counts["screened"] / counts["assigned"]
    flagged = counts[list(FLAGGED)].sum(axis=1)
    counts["flag_rate"] = (flagged / counts["screened"]).where(counts["screened"] > 0)
    return counts.sort_values(["region", "school", "school_id", "grade"], ignore_index=True)


# --- 2. what may leave ----------------------------------------------------------------------------

COLUMNS = ("region", "school", "grade", "assigned", "screened", "completion_rate", *FLAGGED, "flag_rate")
RATES = ("completion_rate", "flag_rate")


@dataclass(frozen=True)
class Publication:
    """The shown table (``COLUMNS``; a count, a rate, ``None`` for no rate, or a mark), its last
    row the region's totals, and the suppression it came from."""

    frame: pd.DataFrame
    suppression: Suppression

    @property
    def withheld(self) -> tuple[int, int]:
        """How many counts were withheld: (under the threshold, to protect them)."""
        return int(self.suppression.primary.sum()), int(self.suppression.complementary.sum())


def bureau_published(table: pd.DataFrame, *, threshold: int = THRESHOLD, total_label: str = "") -> Publication:
    """``table`` (from :func:`bureau_table`) as it may be shown: the parts of each row protected
    together with the row totals (students assigned) and the totals row; screened, the flagged
    count and the rates shown only where the shown counts determine them and they are not small."""
    suppression = protect_or_withhold_all(table[list(PARTS)].reset_index(drop=True), threshold=threshold)
    values, shown = suppression.values, ~suppression.suppressed
    part = {name: k for k, name in enumerate(PARTS)}
    assigned = len(PARTS)  # the row totals' column
    screened = values[:, assigned] - values[:, part["not_screened"]]
    screened_known = (shown[:, assigned] & shown[:, part["not_screened"]]) | shown[:, : part["not_screened"]].all(1)
    flagged = values[:, [part[t] for t in FLAGGED]].sum(axis=1)
    flagged_known = shown[:, [part[t] for t in FLAGGED]].all(1) | (screened_known & shown[:, part["green"]])
    screened_exact = screened_known & ~_small(screened, threshold)
    frame = pd.DataFrame({
        **_labels(table, total_label),
        "assigned": suppression.marks()[:, assigned],
        "screened": _count_or_mark(screened, screened_known, threshold),
        "completion_rate": _rate_or_mark(screened, values[:, assigned],
                                         derived_suppressed(~screened_exact, ~shown[:, assigned])),
        **{tier: suppression.marks()[:, part[tier]] for tier in FLAGGED},
        "flag_rate": _rate_or_mark(flagged, screened, derived_suppressed(
            ~(flagged_known & ~_small(flagged, threshold)), ~screened_exact)),
    })
    return Publication(frame=frame[list(COLUMNS)], suppression=suppression)


def _labels(table: pd.DataFrame, total_label: str) -> dict[str, Any]:
    """Region, school and grade of each row, then the totals row's."""
    regions = table["region"].unique()
    region_total = regions[0] if len(regions) == 1 else ""
    return {
        "region": [*table["region"], region_total],
        "school": [*table["school"], total_label],
        "grade": pd.Series([*(int(g) for g in table["grade"]), None], dtype=object),
    }


def _small(counts: np.ndarray, threshold: int) -> np.ndarray:
    return (counts >= 1) & (counts < threshold)


def _count_or_mark(counts: np.ndarray, known: np.ndarray, threshold: int) -> np.ndarray:
    """A derived count where it is determined by shown cells ("<5" if small), otherwise "x"."""
    out = np.full(len(counts), COMPLEMENT_MARK, dtype=object)
    out[known] = counts[known]
    out[known & _small(counts, threshold)] = primary_mark(threshold)
    return out


def _rate_or_mark(numerator: np.ndarray, denominator: np.ndarray, withheld: np.ndarray) -> np.ndarray:
    """``numerator ÷ denominator``; "x" where either count is withheld, ``None`` where it is ÷ 0."""
    out = np.full(len(numerator), COMPLEMENT_MARK, dtype=object)
    for k in np.flatnonzero(~withheld):
        out[k] = float(numerator[k] / denominator[k]) if denominator[k] else None
    return out


# --- 3. the workbook --------------------------------------------------------------------------------


def build_bureau_aggregate(ctx: BuildContext) -> None:
    """Write the bureau aggregate for ``ctx.params`` (``region``: id of one of the analyst's own
    regions, or null for their only one; ``school_year``: the year the school year starts;
    ``term``: "autumn" or "spring") to ``ctx.path``: the protected table with its totals row, and a
    sheet of notes. Audited as one export, with counts only. NotAllowed for anyone but a bureau
    analyst or platform admin; InvalidInput for another region or a term not started (checked
    again in :func:`bureau_table`: a job's JSON is data), or when no campaign opened then."""
    region, school_year, season = _params(ctx.params)
    table = bureau_table(user=ctx.user, region=region, school_year=school_year, season=season)
    if table.empty:
        raise InvalidInput(_("No campaign opened in this term in these schools."), code="nothing_to_export")
    total = len(table) + 2
    ctx.progress(1, total)
    publication = bureau_published(table, total_label=pgettext("the totals row of a table of counts", "Total"))
    book = _new_workbook(ctx.path)
    try:
        formats = _formats(book)
        names = sheet_names([_("Aggregate"), _("Notes")])
        _write_table(book.add_worksheet(names[0]), formats, publication, lambda done: ctx.progress(1 + done, total))
        notes = _notes(term=table.attrs["term"], region=table.attrs["region_name"], publication=publication)
        _write_notes(book.add_worksheet(names[1]), formats, notes)
    finally:
        book.close()  # its temporary row files removed, whatever happened
    _audit(ctx, table=table, publication=publication)
    ctx.progress(total, total)


def _params(params: dict[str, Any]) -> tuple[int | None, int, str]:
    """The region and term of a job's parameters, their shape checked again (a job's JSON is data)."""
    region, school_year, season = params.get("region"), params.get("school_year"), params.get("term")
    if region is not None and (isinstance(region, bool) or not isinstance(region, int)):
        raise InvalidInput(fields={"region": [_("Choose a region.")]})
    if isinstance(school_year, bool) or not isinstance(school_year, int):
        raise InvalidInput(fields={"school_year": [_("Give the year the school year starts in, e.g. 2025.")]})
    if season not in SEASONS:
        raise InvalidInput(fields={"term": [_("Choose the autumn or the spring term.")]})
    return region, school_year, str(season)


def _audit(ctx: BuildContext, *, table: pd.DataFrame, publication: Publication) -> None:
    """One audit entry for the export, and the same counts on the job's own entry."""
    primary, complementary = publication.withheld
    term: Term = table.attrs["term"]
    detail = {
        "region": table.attrs["region"], "school_year": term.school_year, "term": term.season,
        "since": term.since.isoformat(), "until": term.until.isoformat(),
        "schools": int(table["school_id"].nunique()), "rows": len(table),
        "withheld_small": primary, "withheld_to_protect": complementary,
    }
    ctx.detail.update(detail)
    audit_record(actor=ctx.user, action=Action.EXPORT, object_type=OBJECT_TYPE, detail=detail)


@dataclass(frozen=True)
class _Formats:
    header: Any
    title: Any
    note: Any
    count: Any
    percent: Any
    mark: Any
    total: Any
    total_percent: Any
    total_mark: Any


def _new_workbook(path: Any) -> Workbook:
    """An xlsx in constant memory whose cells hold what they say: school names come from people,
    and "=..." must never become a formula (see exports/workbook.py)."""
    return xlsxwriter.Workbook(str(path), {
        "constant_memory": True, "tmpdir": str(Path(path).parent),  # the job's folder, removed with it
        **CELLS_AS_WRITTEN,
    })


def _formats(book: Workbook) -> _Formats:
    bold_top = {"bold": True, "top": 1}
    return _Formats(
        header=book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True, "valign": "top"}),
        title=book.add_format({"bold": True, "font_size": 14}),
        note=book.add_format({"text_wrap": True, "valign": "top"}),
        count=book.add_format({"num_format": "0"}),
        percent=book.add_format({"num_format": "0.0%"}),
        mark=book.add_format({"align": "right"}),
        total=book.add_format({**bold_top, "num_format": "0"}),
        total_percent=book.add_format({**bold_top, "num_format": "0.0%"}),
        total_mark=book.add_format({**bold_top, "align": "right"}),
    )


def _headers() -> list[str]:
    return [capfirst(h) for h in (
        _("region"), _("school"), _("grade"), _("students assigned"), _("screened"), _("completion rate"),
        _("red"), _("orange"), _("yellow"), _("flag rate (red, orange, yellow)"),
    )]


def _write_table(sheet: Worksheet, fmt: _Formats, publication: Publication, progress: Any) -> None:
    """The header, one row per school and grade, a blank row, the totals row; header frozen, a
    filter over the school-grade rows only (so sorting leaves the totals where they are)."""
    headers, frame = _headers(), publication.frame
    for col, header in enumerate(headers):
        sheet.write_string(0, col, header, fmt.header)
        sheet.set_column(col, col, _width(header, frame.iloc[:, col]))
    body = len(frame) - 1
    for row, values in enumerate(frame.itertuples(index=False), start=1):
        last = row > body
        _write_row(sheet, row + 1 if last else row, values, fmt, total=last)
        if row % PROGRESS_EVERY == 0:
            progress(row)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(body, 1), len(headers) - 1)


def _write_row(sheet: Worksheet, row: int, values: Sequence[Any], fmt: _Formats, *, total: bool) -> None:
    for col, (name, value) in enumerate(zip(COLUMNS, values, strict=True)):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            sheet.write_blank(row, col, None, fmt.total if total else None)
        elif isinstance(value, str) and name not in ("region", "school"):
            sheet.write_string(row, col, value, fmt.total_mark if total else fmt.mark)
        elif isinstance(value, str):
            sheet.write_string(row, col, value, fmt.total_mark if total else None)
        elif name in RATES:
            sheet.write_number(row, col, float(value), fmt.total_percent if total else fmt.percent)
        else:
            sheet.write_number(row, col, int(value), fmt.total if total else fmt.count)


def _width(header: str, values: pd.Series) -> int:
    """Columns a header and its values need (CJK characters take two), between 8 and 40."""
    longest = max([text_width(header), *(text_width(str(v)) for v in values if isinstance(v, str))])
    return max(8, min(40, longest + 2))


def _notes(*, term: Term, region: str, publication: Publication) -> list[str]:
    """The notes sheet: what was counted, over which period, and how small counts were withheld."""
    small, protecting = publication.withheld
    threshold = publication.suppression.threshold
    marks = {"small": primary_mark(threshold), "x": COMPLEMENT_MARK}
    return [
        _("Bureau aggregate"),
        _("Campaigns that opened in the %(term)s term, %(since)s to %(until)s, both days included.")
        % {"term": term.label, "since": term.since.isoformat(), "until": term.until.isoformat()},
        _("Region: %(region)s.") % {"region": region},
        _("Made on %(date)s.") % {"date": timezone.localdate().isoformat()},
        _("Each student counts once per school and grade, at the highest tier they reached in the period. "
          "The grade is that of the student's current class."),
        _("Screened: students who submitted. Completion rate: screened ÷ students assigned. "
          "Flag rate: red, orange and yellow ÷ screened."),
        _("“%(small)s”: a count from 1 to %(top)s, withheld so that no small group of students can be "
          "picked out. Zero is shown: it points at no one.") % {"small": marks["small"], "top": threshold - 1},
        _("“%(x)s”: withheld so that no “%(small)s” can be worked out from the other figures and the "
          "totals, or a figure computed from a withheld count.") % marks,
        _("The totals row is protected in the same way. Method: threshold rule with complementary "
          "suppression, every withheld count keeping a range of possible values (Hundepool et al., "
          "Statistical Disclosure Control, 2012, chapter 4; the τ-ARGUS manual)."),
        _("Too few students in this region and term to show any count without pointing at some of them: "
          "every count and total is withheld (“%(x)s”).") % marks
        if publication.suppression.whole else
        _("Withheld: %(small)s counts under %(threshold)s, and %(protecting)s counts to protect them.")
        % {"small": small, "threshold": threshold, "protecting": protecting},
        _("This file holds no names, student numbers or ids. Tiers describe risk and need for follow-up, "
          "not a diagnosis."),
    ]


def _write_notes(sheet: Worksheet, fmt: _Formats, lines: Sequence[str]) -> None:
    sheet.set_column(0, 0, 100)
    for row, line in enumerate(lines):
        sheet.write_string(row, 0, line, fmt.title if row == 0 else fmt.note)

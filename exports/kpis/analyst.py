"""A bureau analyst's KPI cells, one term of one of their own regions (``exports.analyst`` says why).

- **Participation** (coverage, completion, flag rate per tier) is made of the totals row of the
  bureau publication of the same region and term (``bureau_published(bureau_table(...))``), so it is
  counted per student as there: students assigned, screened, and at each tier (a student at their
  highest tier of the term). A cell is withheld (value None, ``suppressed``, the bureau's mark in
  n/N) whenever a count it is made of is withheld there ("<5" or "x"): the workbook then shows
  nothing the analyst could not read in that aggregate already. Coverage's N, the students on the
  roster, is not in the bureau table; it is shown only when no school of the region has from 1 to
  ``small_cell - 1`` students on the roster that term (the analyst's home page withholds those
  per-school counts, so the region's total must not give one back), otherwise withheld as "x".
- **Casework** (first contact, share within the limit, interview rate, follow-up adherence, alert
  acknowledgement, referral acceptance and time, hospital feedback) shows the rate or median only,
  never its n and N, and withholds it when N (for a median, also n) is under ``small_cell``, or,
  for a share, when n or N − n is from 1 to 4: N is often close to a count the bureau aggregate
  shows (the term's red flags, the students flagged), and the share times it would give a small
  count back (:func:`exports.kpis.definitions.rate_only`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from exports.bureau import Publication, bureau_published, bureau_table
from exports.kpis.definitions import KPIS, SHARE, WITHHELD, Kpi, rate_only, share
from exports.kpis.scope import Scope, scope_values
from exports.kpis.terms import Term
from screening.cases.measures import FLAG_TIERS
from screening.directory.models import Student

# The counts of the bureau's totals row the participation cells are made of.
BUREAU_COUNTS = ("assigned", "screened", *FLAG_TIERS)


def bureau_totals(scope: Scope, term: Term) -> dict[str, int | str]:
    """The region's totals of the protected bureau publication of the term (:func:`totals_of`); all
    zero when no campaign opened in the term."""
    table = bureau_table(user=scope.user, region=scope.region_id, school_year=term.school_year, season=term.season)
    if table.empty:
        return dict.fromkeys(BUREAU_COUNTS, 0)
    return totals_of(bureau_published(table))


def totals_of(publication: Publication) -> dict[str, int | str]:
    """The totals row of a bureau publication: each of ``BUREAU_COUNTS`` as shown there, a count or
    the mark it is withheld with."""
    totals = publication.frame.iloc[-1]
    return {name: totals[name] if isinstance(totals[name], str) else int(totals[name]) for name in BUREAU_COUNTS}


def roster(scope: Scope, term: Term, small_cell: int) -> int | str:
    """Students on the roster today who were added before the term ended, at the region's schools;
    ``WITHHELD`` when a school has from 1 to ``small_cell - 1`` of them."""
    per_school = Counter(school for (school,) in scope_values(
        scope, Student, ["school"], is_active=True, created_at__lt=term.end))
    if any(0 < count < small_cell for count in per_school.values()):
        return WITHHELD
    return sum(per_school.values())


def published_share(numerator: int | str, denominator: int | str) -> Kpi:
    """``numerator ÷ denominator``, withheld when either is a mark (a withheld count)."""
    if isinstance(numerator, str) or isinstance(denominator, str):
        return Kpi(None, numerator, denominator, suppressed=True)
    return share(numerator, denominator)


def participation_cells(scope: Scope, term: Term, *, small_cell: int) -> dict[str, Kpi]:
    """Coverage, completion and the flag rate per tier of the scope's region and term."""
    return participation_from(bureau_totals(scope, term), roster(scope, term, small_cell))


def participation_from(counts: dict[str, int | str], on_roster: int | str) -> dict[str, Kpi]:
    """Coverage, completion and the flag rate per tier made of the bureau's totals ``counts``
    (:func:`totals_of`) and the students ``on_roster``, nothing else (see the docstring)."""
    cells = {"coverage": published_share(counts["assigned"], on_roster),
             "completion": published_share(counts["screened"], counts["assigned"])}
    for tier in FLAG_TIERS:
        cells[f"flag_rate_{tier}"] = published_share(counts[tier], counts["screened"])
    return cells


def casework_rates(cells: dict[str, Any], *, small_cell: int) -> dict[str, Kpi]:
    """The casework cells as an analyst gets them: rates and medians only (see the docstring)."""
    units = {spec.key: spec.unit for spec in KPIS}
    return {key: rate_only(kpi, small_cell, of_median=units[key] != SHARE) for key, kpi in cells.items()}

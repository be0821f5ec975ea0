"""Programme KPIs of a school or a region, one row per school term (issue #8).

Who may ask (the same rules as ``exports.kinds.KpiParams``, checked again here because this function
is also called outside a job):

- a head of psychological centre, for their school: every count, read through ``visible_to(user)``
  limited to the school, the rows the workspace's selectors read, over the period asked for (the
  first and last terms clipped to it);
- a bureau analyst, for exactly one region of their own memberships, as a whole (not a region
  inside it, not a school, not all of their regions at once; the only one when they have one), and
  every term the period touches counted **whole** (never clipped), terms not yet started left out.
  The reason is ``exports.analyst``: everything an analyst receives is one of a fixed family of
  tables, one per (own region, term), so that no two of their requests overlap partially and no
  withheld count can be worked out by subtracting one file from another. Their cells
  (``exports.kpis.analyst``): coverage, completion and the flag rates are made of the totals row
  of the protected bureau publication of the same region and term (``exports.bureau``; counted
  per student as there) and withheld whenever a count they are made of is withheld there; the
  casework KPIs show only their rate or median, never n or N, and only when N (for a median, n as
  well) is at least ``SMALL_CELL`` (10). The access policy gives analysts no student rows, so their
  numbers are read through the schools they may see (``School.objects.visible_to``), and only
  timestamps, tiers and states are read;
- anyone else (counsellor, liaison, student; a platform admin has the Django admin): NotAllowed. A
  school the user cannot see is NotFound, the same as a missing one.

Terms (Chinese school calendar, a choice documented here): the **autumn term** runs from 1 September
to 31 January and the **spring term** from 1 February to 31 August, so the winter holiday belongs
to the autumn term and the summer holiday to the spring term, and every day falls in exactly one
term. Both belong to the school year that starts in September ("2025–2026 autumn" is Sep 2025 to
Jan 2026, "2025–2026 spring" Feb to Aug 2026).

What each KPI counts, and over which rows, is in ``KPIS`` (the workbook's definitions sheet prints
it); each cell is a :class:`Kpi` holding its value with its numerator and denominator. The casework
KPIs (first contact, interview rate, follow-up adherence, alert acknowledgement) are counted by the
workspace's own definitions in ``screening.cases.measures``, for heads of centre and analysts alike.

The package: ``terms`` (the calendar), ``definitions`` (``KPIS`` and the cells), ``scope`` (who asks
about which schools, and how their rows are read), ``analyst`` (an analyst's cells), ``report`` (the
rows per term and the export's builder). The public names are importable from ``exports.kpis``;
those of ``scope`` and ``report`` are imported on first use, so that ``exports.kinds`` (which needs
the calendar) never imports a builder.
"""

from typing import TYPE_CHECKING, Any

from exports.kpis.definitions import (
    COLUMNS,
    GROUPS,
    HOURS,
    KPI_KEYS,
    KPIS,
    MINUTES,
    SHARE,
    TIER_NAMES,
    WITHHELD,
    Kpi,
    KpiSpec,
    median,
    rate_only,
    share,
)
from exports.kpis.terms import AUTUMN, MAX_TERMS, SPRING, Term, term_bounds, term_of, terms_between, whole_term
from screening.cases.measures import FLAG_TIERS

if TYPE_CHECKING:
    from exports.kpis.report import build_kpi_workbook, programme_kpis
    from exports.kpis.scope import Scope, kpi_scope

_LAZY = {"build_kpi_workbook": "report", "programme_kpis": "report", "Scope": "scope", "kpi_scope": "scope"}


def __getattr__(name: str) -> Any:
    """The names of ``scope`` and ``report``, imported on first use (see the docstring)."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"exports.kpis.{_LAZY[name]}"), name)
    raise AttributeError(name)


__all__ = [
    "AUTUMN", "COLUMNS", "FLAG_TIERS", "GROUPS", "HOURS", "KPIS", "KPI_KEYS", "MAX_TERMS", "MINUTES", "SHARE",
    "SPRING", "TIER_NAMES", "WITHHELD", "Kpi", "KpiSpec", "Scope", "Term", "build_kpi_workbook", "kpi_scope",
    "median", "programme_kpis", "rate_only", "share", "term_bounds", "term_of", "terms_between", "whole_term",
]

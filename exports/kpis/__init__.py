"""Programme KPIs of a school or a region, one row per school term (issue #8).

Who may ask (the same rules as ``exports.kinds.KpiParams``, checked again here because this function
is also called outside a job):

- a head of psychological centre, for their school: every count, read through ``visible_to(user)``
  limited to the school, the rows the workspace's selectors read;
- a bureau analyst, for a school or region inside their regions (or, naming neither, all of their
  regions): aggregates only. The access policy gives analysts no student rows, so their numbers are
  read through the schools they may see (``School.objects.visible_to``), only timestamps, tiers and
  states are read, and any count from 1 to ``SMALL_CELL - 1`` is suppressed with the value it
  feeds, so no cell points at a few children;
- anyone else (counsellor, liaison, student; a platform admin has the Django admin): NotAllowed. A
  school the user cannot see is NotFound, the same as a missing one.

Terms (Chinese school calendar, a choice documented here): the **autumn term** runs from 1 September
to 31 January and the **spring term** from 1 February to 31 August, so the winter holiday belongs
to the autumn term and the summer holiday to the spring term, and every day falls in exactly one
term. Both belong to the school year that starts in September ("2025–2026 autumn" is Sep 2025 to
Jan 2026, "2025–2026 spring" Feb to Aug 2026). The first and last terms are clipped to the period.

What each KPI counts, and over which rows, is in ``KPIS`` (the workbook's definitions sheet prints
it); each cell is a :class:`Kpi` holding its value with its numerator and denominator. The casework
KPIs (first contact, interview rate, follow-up adherence, alert acknowledgement) are counted by the
workspace's own definitions in ``screening.cases.measures``, for heads of centre and analysts alike.

The package: ``terms`` (the calendar), ``definitions`` (``KPIS`` and the cells), ``scope`` (who asks
about which schools, and how their rows are read), ``report`` (the rows per term and the export's
builder). The public names are importable from ``exports.kpis``.
"""


from exports.kpis.definitions import (
    COLUMNS,
    GROUPS,
    HOURS,
    KPI_KEYS,
    KPIS,
    MINUTES,
    SHARE,
    TIER_NAMES,
    Kpi,
    KpiSpec,
    median,
    share,
    suppress,
)
from exports.kpis.report import build_kpi_workbook, programme_kpis
from exports.kpis.scope import Scope, kpi_scope
from exports.kpis.terms import AUTUMN, MAX_TERMS, SPRING, Term, term_bounds, term_of, terms_between
from screening.cases.measures import FLAG_TIERS

__all__ = [
    "AUTUMN", "COLUMNS", "FLAG_TIERS", "GROUPS", "HOURS", "KPIS", "KPI_KEYS", "MAX_TERMS", "MINUTES", "SHARE",
    "SPRING", "TIER_NAMES", "Kpi", "KpiSpec", "Scope", "Term", "build_kpi_workbook", "kpi_scope", "median",
    "programme_kpis", "share", "suppress", "term_bounds", "term_of", "terms_between",
]

"""What a bureau analyst may receive: one table per (own region, school term), and nothing else.

**Why.** Each bureau aggregate is protected on its own (``exports.suppression``: counts 1–4 shown as
"<5", and the cells that would give them away as "x", so that no withheld count can be worked out
from the other cells and totals *of that table*). That holds for one table, not for two. An
analyst who could ask for a city and for one of its districts, for two overlapping periods, or for
one school's KPIs next to the region's aggregate could subtract one from the other and get a
withheld count back: the city's red total 23 and the district's 20 make the "<5" of the other
district a 3; a school's grade 7 red "<5" and grade 8 red 12 next to the school's KPI "red 15/155"
make it 3 again. Suppressing each table harder does not help; overlapping tables do the damage.

**The rule.** Everything an analyst receives is one of a fixed family of tables, one per (own
region, school term), so that no two requests overlap partially (two of an analyst's regions are
disjoint, see below; two terms are disjoint), and every count shown to an analyst comes from the
one protected table of that region and term (:func:`exports.bureau.bureau_published`):

- **Region**: exactly one of the regions the analyst's own ``bureau_analyst`` memberships grant
  (:func:`own_regions`): not a region inside it, not a single school, not all of them at once.
  With one such region it is the default; with several it must be named (400 on ``region``
  otherwise). Where one of those regions lies inside another (a city and one of its districts),
  only the outer one may be asked for: the inner one would overlap it partially.
- **Period**: whole school terms that have started (autumn 1 Sep–31 Jan, spring 1 Feb–31 Aug;
  ``exports.kpis.terms``). The bureau aggregate names one (``school_year`` and ``term``); the KPI
  workbook keeps ``since``/``until`` but counts every term they touch whole, so a term's row is
  the same whatever the range.
- **KPI cells**: coverage, completion and the flag rates are made of the totals row of the bureau
  publication of the same region and term, and withheld wherever a count they are made of is
  withheld there; the casework KPIs show their rate or median only (never n or N), and only when
  taken over at least ``SMALL_CELL`` (10) rows and, for a share, when neither n nor N − n is from
  1 to 4 (N is often close to a count the aggregate shows) (``exports.kpis.analyst``).

Heads of centre are not held to this: their own school, any period; they may see its rows anyway.

**What this does not cover** (known limits): the same table asked for on two days differs by what
happened in between (a term still running, a late submission, a student moving class), and two
analysts of different regions could pool their files; both are for the deployment's terms of use
and the audit log, which records every export with its region and term.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from exports.kpis.terms import AUTUMN, SPRING, Term, has_started, whole_term
from screening.core.access import principal_of
from screening.core.errors import InvalidInput
from screening.directory.models import Region

SEASONS = (AUTUMN, SPRING)
FIRST_SCHOOL_YEAR = 2000  # no school screened with this platform before (exports.kinds.EARLIEST)


def own_paths(user: Any) -> list[str]:
    """The paths of the regions the user's bureau_analyst memberships grant, leaving out any that
    lies inside another of them (it would overlap the outer one partially)."""
    paths = principal_of(user).region_paths
    return [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]


def own_regions(user: Any) -> QuerySet[Region]:
    """The regions an analyst may ask for, by path: those of :func:`own_paths` (the API checks a
    request against them, the forms offer them)."""
    return Region.objects.visible_to(user).filter(path__in=own_paths(user)).order_by("path")


def own_region(user: Any, region: Region | int | None) -> Region:
    """The one region an analyst's table covers: ``region`` if it is one of :func:`own_regions`;
    when None, their only one. InvalidInput on ``region`` otherwise (a region inside theirs, one
    outside, none when they have several)."""
    regions = list(own_regions(user))
    if region is None:
        if len(regions) == 1:
            return regions[0]
        raise InvalidInput(fields={"region": [_("Choose one of your regions.")]})
    pk = region.pk if isinstance(region, Region) else region
    for place in regions:
        if place.pk == pk:
            return place
    raise InvalidInput(fields={"region": [_(
        "Choose one of your own regions, as a whole: a bureau analyst's figures cover one of the regions of "
        "their memberships, not a district or school inside it.")]})


def analyst_term(school_year: Any, season: Any) -> Term:
    """The whole term ``season`` of ``school_year``, which must have started. InvalidInput on
    ``school_year`` or ``term`` otherwise (a job's JSON is data: checked again by the builders)."""
    if season not in SEASONS:
        raise InvalidInput(fields={"term": [_("Choose the autumn or the spring term.")]})
    if isinstance(school_year, bool) or not isinstance(school_year, int) or not FIRST_SCHOOL_YEAR <= school_year <= 9998:
        raise InvalidInput(fields={"school_year": [_("Give the year the school year starts in, e.g. 2025.")]})
    term = whole_term(school_year, season)
    if not has_started(term):
        raise InvalidInput(fields={"term": [_("This term has not started yet.")]})
    return term


def whole_started_terms(terms: list[Term]) -> list[Term]:
    """``terms`` (of a period) as an analyst gets them: each whole, those not started left out."""
    whole = [whole_term(t.school_year, t.season) for t in terms]
    return [t for t in whole if has_started(t)]

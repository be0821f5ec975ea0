"""School terms (the Chinese school calendar; see ``exports.kpis``): the rows of the KPI workbook
and the one period a bureau analyst's tables cover (``exports.analyst``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from screening.core.errors import InvalidInput
from screening.directory.services import current_school_year

AUTUMN, SPRING = "autumn", "spring"
MAX_TERMS = 80  # forty school years: far more than the platform has existed


@dataclass(frozen=True)
class Term:
    """One school term, clipped to the period asked for (``since`` and ``until`` both counted)."""

    school_year: int  # the year the school year starts in (September)
    season: str  # AUTUMN or SPRING
    since: dt.date
    until: dt.date

    @property
    def key(self) -> str:
        """A stable, untranslated name, e.g. ``2025-autumn``."""
        return f"{self.school_year}-{self.season}"

    @property
    def label(self) -> str:
        """The term's name in the active language, e.g. "2025–2026 autumn"."""
        text = _("%(start)d–%(end)d autumn") if self.season == AUTUMN else _("%(start)d–%(end)d spring")
        return text % {"start": self.school_year, "end": self.school_year + 1}

    @property
    def start(self) -> dt.datetime:
        return _day_start(self.since)

    @property
    def end(self) -> dt.datetime:
        """The first moment after the term (exclusive bound)."""
        return _day_start(self.until + dt.timedelta(days=1))


def whole_term(school_year: int, season: str) -> Term:
    """The whole term ``season`` (AUTUMN or SPRING) of the school year starting in ``school_year``."""
    since, until = term_bounds(school_year, season)
    return Term(school_year, season, since, until)


def has_started(term: Term, today: dt.date | None = None) -> bool:
    """Has the term's first day come (local date)?"""
    return term_bounds(term.school_year, term.season)[0] <= (today or timezone.localdate())


def current_term(today: dt.date | None = None) -> Term:
    """The whole term ``today`` (the local date unless given) falls in."""
    return whole_term(*term_of(today or timezone.localdate()))


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def term_bounds(school_year: int, season: str) -> tuple[dt.date, dt.date]:
    """First and last day of a whole term: autumn 1 Sep – 31 Jan, spring 1 Feb – 31 Aug."""
    if season == AUTUMN:
        return dt.date(school_year, 9, 1), dt.date(school_year + 1, 1, 31)
    return dt.date(school_year + 1, 2, 1), dt.date(school_year + 1, 8, 31)


def term_of(day: dt.date) -> tuple[int, str]:
    """The school year and season a day belongs to."""
    season = AUTUMN if day.month >= 9 or day.month == 1 else SPRING
    return current_school_year(day), season


def terms_between(since: dt.date, until: dt.date) -> list[Term]:
    """The terms a period touches, oldest first, the first and last clipped to the period."""
    if since > until:
        raise InvalidInput(fields={"until": [_("The last day cannot be before the first.")]})
    try:
        _day_start(until + dt.timedelta(days=1)).astimezone(dt.UTC)
        _day_start(since).astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(fields={"until": [_("The date is out of range.")]}) from None
    terms: list[Term] = []
    day = since
    while day <= until:
        year, season = term_of(day)
        last = term_bounds(year, season)[1]
        terms.append(Term(year, season, day, min(last, until)))
        if len(terms) > MAX_TERMS:
            raise InvalidInput(fields={"since": [_("Ask for at most %(n)d terms at once.") % {"n": MAX_TERMS}]})
        day = last + dt.timedelta(days=1)
    return terms

"""Programme KPIs of a school or a region, one row per school term (issue #8).

Who may ask (the same rules as ``exports.kinds.KpiParams``, checked again here because this function
is also called outside a job):

- a head of psychological centre, for their school: every count, read through the selectors and
  ``visible_to(user)`` exactly as the workspace reads them;
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
it); each cell is a :class:`Kpi` holding its value with its numerator and denominator.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from exports.build import BuildContext
from screening.campaigns.models import Assignment, CrisisAlert
from screening.cases import selectors
from screening.cases.models import CaseFlag, Contact, FollowUp
from screening.core.access import Principal, principal_of
from screening.core.audit import audit_refused
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.directory.models import Region, School, Student
from screening.directory.selectors import SMALL_CELL
from screening.directory.services import current_school_year
from screening.referrals.models import Referral, ReferralEvent

AUTUMN, SPRING = "autumn", "spring"
FLAG_TIERS = ("red", "orange", "yellow")
SHARE, HOURS, MINUTES = "share", "hours", "minutes"
MAX_TERMS = 80  # forty school years: far more than the platform has existed


# --- terms -------------------------------------------------------------------------------------


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


# --- cells -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    """One KPI cell: the value, and the counts it was computed from so a reader can see "n/N".

    For a share, ``value = numerator / denominator`` (None when the denominator is 0). For a
    median, ``numerator`` is how many observations it was taken over and ``denominator`` how many
    rows could have given one (e.g. contacted flags of all flags). An analyst's small cell is
    ``suppressed``: value and counts are None."""

    value: float | None
    numerator: int | None
    denominator: int | None
    suppressed: bool = False

    @property
    def fraction(self) -> str:
        """The counts as "n/N" (empty when suppressed)."""
        return "" if self.suppressed else f"{self.numerator}/{self.denominator}"


def share(numerator: int, denominator: int) -> Kpi:
    return Kpi(numerator / denominator if denominator else None, numerator, denominator)


def median(values: Sequence[float], rows: int, digits: int) -> Kpi:
    return Kpi(round(statistics.median(values), digits) if values else None, len(values), rows)


def suppress(kpi: Kpi, small_cell: int) -> Kpi:
    """An analyst's cell: hidden when either count is 1 to ``small_cell - 1`` (zero points at no one)."""
    if any(count is not None and 0 < count < small_cell for count in (kpi.numerator, kpi.denominator)):
        return Kpi(None, None, None, suppressed=True)
    return kpi


# --- what each KPI is ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiSpec:
    """One KPI column: its key, chart group, unit, and the words of the definitions sheet.

    ``tier`` fills ``%(tier)s`` in the texts; ``limit`` names the limit it is measured against
    (``"first_contact"``, ``"alert"``, ``"follow_up"``) or None."""

    key: str
    group: str
    unit: str
    label: Promise
    counts: Promise
    numerator: Promise
    denominator: Promise
    tier: str | None = None
    limit: str | None = None

    def text(self, field: str) -> str:
        """One of the texts in the active language, with the tier's name filled in."""
        value = str(getattr(self, field))
        return value % {"tier": TIER_NAMES[self.tier]()} if self.tier else value


TIER_NAMES: dict[str, Callable[[], str]] = {
    "red": lambda: _("red"), "orange": lambda: _("orange"), "yellow": lambda: _("yellow"),
}

# Chart groups, in order: (key, title, unit). One chart per group.
GROUPS: tuple[tuple[str, Promise, str], ...] = (
    ("participation", gettext_lazy("Participation"), SHARE),
    ("flags", gettext_lazy("Flag rate by tier"), SHARE),
    ("contact_time", gettext_lazy("Time to first contact (median hours)"), HOURS),
    ("within_limit", gettext_lazy("Share within the limit"), SHARE),
    ("casework", gettext_lazy("Interviews and follow-ups"), SHARE),
    ("alert_time", gettext_lazy("Red alert acknowledgement (median minutes)"), MINUTES),
    ("referrals", gettext_lazy("Referrals"), SHARE),
    ("referral_time", gettext_lazy("Time to accept a referral (median hours)"), HOURS),
)

_FLAGS_IN_TERM = gettext_lazy("Flags of the %(tier)s tier raised in the term")


def _tier_specs() -> list[KpiSpec]:
    specs: list[KpiSpec] = []
    for tier in FLAG_TIERS:
        specs.append(KpiSpec(
            f"flag_rate_{tier}", "flags", SHARE, gettext_lazy("Flag rate: %(tier)s"),
            gettext_lazy("Submitted screenings placed in the %(tier)s tier (the tier given at submission), of all "
                         "submitted in the term's campaigns"),
            gettext_lazy("Submissions in the %(tier)s tier"), gettext_lazy("Submitted assignments"), tier=tier))
    for tier in FLAG_TIERS:
        specs.append(KpiSpec(
            f"first_contact_hours_{tier}", "contact_time", HOURS,
            gettext_lazy("Time to first contact: %(tier)s (median hours)"),
            gettext_lazy("Hours from a flag of the %(tier)s tier raised in the term to the first contact that "
                         "reached the student; the median over the flags contacted so far"),
            gettext_lazy("Flags followed by a contact"), _FLAGS_IN_TERM, tier=tier, limit="first_contact"))
    for tier in FLAG_TIERS:
        specs.append(KpiSpec(
            f"first_contact_within_{tier}", "within_limit", SHARE,
            gettext_lazy("First contact within the limit: %(tier)s"),
            gettext_lazy("Of the %(tier)s flags raised in the term, the share whose first contact came by the "
                         "tier's limit (a flag not yet contacted counts as not within)"),
            gettext_lazy("Flags contacted by their limit"), _FLAGS_IN_TERM, tier=tier, limit="first_contact"))
    return specs


KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("coverage", "participation", SHARE, gettext_lazy("Screening coverage"),
            gettext_lazy("Students on the roster given a screening in a campaign that opened in the term"),
            gettext_lazy("Students on the roster with an assignment in the term's campaigns"),
            gettext_lazy("Students on the roster today who were added before the term ended")),
    KpiSpec("completion", "participation", SHARE, gettext_lazy("Completion"),
            gettext_lazy("Assignments of the campaigns that opened in the term that were submitted"),
            gettext_lazy("Submitted assignments"), gettext_lazy("Assignments in the term's campaigns")),
    *_tier_specs(),
    KpiSpec("interview_rate", "casework", SHARE, gettext_lazy("Interview rate"),
            gettext_lazy("Students flagged in the term who were seen face to face after their first flag of the "
                         "term (面访率)"),
            gettext_lazy("Students seen face to face"), gettext_lazy("Students flagged in the term")),
    KpiSpec("follow_up_adherence", "casework", SHARE, gettext_lazy("Follow-up adherence"),
            gettext_lazy("Follow-ups due in the term (up to today, not cancelled) that were done by their day"),
            gettext_lazy("Follow-ups done by their day"), gettext_lazy("Follow-ups due in the term"),
            limit="follow_up"),
    KpiSpec("alert_ack_minutes", "alert_time", MINUTES, gettext_lazy("Red alert acknowledgement (median minutes)"),
            gettext_lazy("Minutes from a red alert raised in the term to its acknowledgement; the median over the "
                         "acknowledged alerts"),
            gettext_lazy("Alerts acknowledged"), gettext_lazy("Red alerts raised in the term"), limit="alert"),
    KpiSpec("alert_ack_within", "within_limit", SHARE, gettext_lazy("Red alerts acknowledged within the limit"),
            gettext_lazy("Of the red alerts raised in the term that are decided (acknowledged, or past their limit), "
                         "the share acknowledged by the limit; an alert still within its limit counts for neither"),
            gettext_lazy("Alerts acknowledged by their limit"), gettext_lazy("Alerts acknowledged or past their limit"),
            limit="alert"),
    KpiSpec("referral_acceptance", "referrals", SHARE, gettext_lazy("Referral acceptance rate"),
            gettext_lazy("Of the referrals sent in the term that the hospital decided, the share it accepted"),
            gettext_lazy("Referrals accepted"), gettext_lazy("Referrals accepted or declined")),
    KpiSpec("referral_accept_hours", "referral_time", HOURS, gettext_lazy("Time to accept a referral (median hours)"),
            gettext_lazy("Hours from sending a referral in the term to the hospital's acceptance; the median over "
                         "the accepted referrals"),
            gettext_lazy("Referrals accepted"), gettext_lazy("Referrals sent in the term")),
    KpiSpec("hospital_feedback", "referrals", SHARE, gettext_lazy("Hospital feedback received"),
            gettext_lazy("Of the referrals sent in the term that the student attended, the share with the "
                         "hospital's feedback recorded"),
            gettext_lazy("Attended referrals with feedback"), gettext_lazy("Referrals sent in the term and attended")),
)
KPI_KEYS = tuple(spec.key for spec in KPIS)
COLUMNS = ("term", "term_key", "since", "until", *KPI_KEYS)


# --- who asks, about what ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The schools a request covers, and how: ``aggregate_only`` for an analyst."""

    user: Any
    school_ids: tuple[int, ...]
    aggregate_only: bool
    label: str
    school_id: int | None = None  # the one school asked about, if one (for the audit log)
    region_id: int | None = None


def _name(place: School | Region) -> str:
    """A school's or region's name in the active language."""
    return place.name_en if get_language() == "en" and place.name_en else place.name


def _covers(p: Principal, path: str) -> bool:
    return any(path.startswith(own) for own in p.region_paths)


def kpi_scope(*, user: Any, school: int | None, region: int | None) -> Scope:
    """Resolve what the user asked about (see the module's docstring for who may ask what)."""
    p = principal_of(user)
    if not (p.admin_school_ids or p.region_paths):
        raise NotAllowed(_("Only heads of centre and bureau analysts may export KPI workbooks."))
    if school is not None and region is not None:
        raise InvalidInput(fields={"region": [_("Choose a school or a region, not both.")]})
    if school is not None:
        return _school_scope(user, p, school)
    if region is not None:
        return _region_scope(user, p, region)
    if p.region_paths:
        schools = School.objects.visible_to(user).filter(_under(p.region_paths))
        regions = Region.objects.visible_to(user).filter(path__in=p.region_paths).order_by("path")
        return Scope(user, _ids(schools), True, " · ".join(_name(r) for r in regions))
    if len(p.admin_school_ids) != 1:
        raise InvalidInput(fields={"school": [_("Choose a school.")]})
    return _school_scope(user, p, next(iter(p.admin_school_ids)))


def _school_scope(user: Any, p: Principal, school_id: int) -> Scope:
    school = School.objects.visible_to(user).select_related("region").filter(pk=school_id).first()
    if school is None:
        audit_refused(actor=user, model=School, pk=school_id)  # logged only if it exists
        raise NotFound()
    if school.pk in p.admin_school_ids:
        return Scope(user, (school.pk,), False, _name(school), school_id=school.pk)
    if _covers(p, school.region.path):
        return Scope(user, (school.pk,), True, _name(school), school_id=school.pk)
    raise NotAllowed(_("Only the school's heads of centre, or a bureau analyst of its region, may export its KPIs."))


def _region_scope(user: Any, p: Principal, region_id: int) -> Scope:
    region = Region.objects.visible_to(user).filter(pk=region_id).first()
    if region is None:
        audit_refused(actor=user, model=Region, pk=region_id)
        raise NotFound()
    if not _covers(p, region.path):
        raise NotAllowed(_("Only a bureau analyst of this region may export its KPIs."))
    schools = School.objects.visible_to(user).filter(region__path__startswith=region.path)
    return Scope(user, _ids(schools), True, _name(region), region_id=region.pk)


def _under(paths: Iterable[str]) -> Q:
    """Schools in any of these regions (or below them)."""
    condition = Q(pk__in=[])
    for path in paths:
        condition |= Q(region__path__startswith=path)
    return condition


def _ids(schools: QuerySet[School]) -> tuple[int, ...]:
    return tuple(sorted(schools.values_list("pk", flat=True)))


# --- reading rows ------------------------------------------------------------------------------------

# How each model's rows are reached: from a school (an analyst's path) and the field naming the school.
_PATHS: dict[Any, tuple[str, str]] = {
    Student: ("students", "school"),
    Assignment: ("campaigns__assignments", "campaign__school"),
    CaseFlag: ("cases__flags", "case__school"),
    Contact: ("cases__contacts", "case__school"),
    FollowUp: ("cases__follow_ups", "case__school"),
    CrisisAlert: ("alerts", "school"),
    Referral: ("referrals", "school"),
    ReferralEvent: ("referrals__events", "referral__school"),
}


def _values(scope: Scope, model: Any, fields: Sequence[str], **filters: Any) -> list[tuple[Any, ...]]:
    """The ``fields`` of ``model``'s rows at the scope's schools that match ``filters``.

    A head of centre reads through ``visible_to(user)``. An analyst sees no student rows (the
    access policy), so their rows are reached from the schools they may see, in one query whose
    filters all apply to the same related row; callers ask for timestamps, tiers, states and
    internal ids only, and only aggregates leave this module."""
    via, school_field = _PATHS[model]
    if not scope.aggregate_only:
        rows = model.objects.visible_to(scope.user).filter(**{f"{school_field}__in": scope.school_ids}, **filters)
        return list(rows.order_by().values_list(*fields))
    schools = School.objects.visible_to(scope.user).filter(
        pk__in=scope.school_ids, **{f"{via}__isnull": False}, **{f"{via}__{k}": v for k, v in filters.items()})
    return list(schools.order_by().values_list(*(f"{via}__{f}" for f in fields)))


# --- the measures, per term --------------------------------------------------------------------------


def _participation(scope: Scope, term: Term) -> dict[str, Kpi]:
    """Coverage, completion and the flag rate per tier, over the campaigns that opened in the term."""
    roster = {pk for (pk,) in _values(scope, Student, ["pk"], is_active=True, created_at__lt=term.end)}
    assignments = _values(scope, Assignment, ["student", "submission__tier"],
                          campaign__opens_at__gte=term.start, campaign__opens_at__lt=term.end)
    covered = {student for student, _tier in assignments} & roster
    tiers = [tier for _student, tier in assignments if tier is not None]
    cells = {"coverage": share(len(covered), len(roster)), "completion": share(len(tiers), len(assignments))}
    for tier in FLAG_TIERS:
        cells[f"flag_rate_{tier}"] = share(tiers.count(tier), len(tiers))
    return cells


def _casework(scope: Scope, term: Term) -> dict[str, Kpi]:
    """First contact, interview rate, follow-up adherence and alert acknowledgement.

    A head of centre's numbers come from the workspace's own selectors (screening.cases.selectors);
    an analyst's from the same definitions over the rows reached through their schools, because
    the selectors read through ``visible_to``, which gives an analyst nothing."""
    if scope.aggregate_only:
        return _casework_cells(_first_contact(scope, term), _interviews(scope, term), _adherence(scope, term),
                               _alerts(scope, term))
    window = {"user": scope.user, "school": scope.school_ids[0], "since": term.start, "until": term.end}
    adherence = selectors.follow_up_adherence(user=scope.user, school=scope.school_ids[0], since=term.since,
                                              until=term.until + dt.timedelta(days=1))
    return _casework_cells(selectors.first_contact_measures(**window), selectors.interview_rate(**window), adherence,
                           selectors.alert_acknowledgement(**window))


def _casework_cells(first: list[selectors.FirstContact], interviews: dict[str, Any], adherence: dict[str, Any],
                    alerts: dict[str, Any]) -> dict[str, Kpi]:
    cells: dict[str, Kpi] = {}
    for measure in first:
        cells[f"first_contact_hours_{measure.tier}"] = Kpi(measure.median_hours, measure.contacted, measure.flags)
        cells[f"first_contact_within_{measure.tier}"] = share(measure.within_limit, measure.flags)
    cells["interview_rate"] = share(interviews["seen_face_to_face"], interviews["flagged"])
    cells["follow_up_adherence"] = share(adherence["on_time"], adherence["due"])
    cells["alert_ack_minutes"] = Kpi(alerts["median_minutes"], alerts["acknowledged"], alerts["alerts"])
    cells["alert_ack_within"] = share(alerts["within_limit"], alerts["decided"])
    return cells


def _first_contact(scope: Scope, term: Term) -> list[selectors.FirstContact]:
    """As selectors.first_contact_measures, over the scope's schools."""
    rows = _values(scope, CaseFlag, ["tier", "at", "due_at", "contacted_at"], at__gte=term.start, at__lt=term.end)
    out = []
    for tier in FLAG_TIERS:
        mine = [(at, due, contacted) for t, at, due, contacted in rows if t == tier]
        hours = [(c - a).total_seconds() / 3600 for a, _d, c in mine if c is not None]
        within = sum(1 for _a, d, c in mine if c is not None and (d is None or c <= d))
        out.append(selectors.FirstContact(tier, len(mine), len(hours), within,
                                          round(statistics.median(hours), 2) if hours else None))
    return out


def _interviews(scope: Scope, term: Term) -> dict[str, Any]:
    """As selectors.interview_rate (面访率), over the scope's schools."""
    first: dict[int, dt.datetime] = {}
    for student, at in _values(scope, CaseFlag, ["case__student", "at"], at__gte=term.start, at__lt=term.end):
        first[student] = min(at, first.get(student, at))
    contacts = _values(scope, Contact, ["student", "at", "outcome"], student__in=list(first),
                       kind=Contact.Kind.STUDENT, method=Contact.Method.FACE_TO_FACE) if first else []
    seen = {student for student, at, outcome in contacts
            if outcome != Contact.Outcome.COULD_NOT_REACH and at >= first[student] - dt.timedelta(days=1)}
    return {"flagged": len(first), "seen_face_to_face": len(seen)}


def _adherence(scope: Scope, term: Term) -> dict[str, Any]:
    """As selectors.follow_up_adherence, over the scope's schools."""
    rows = _values(scope, FollowUp, ["due_on", "status", "done_at"], due_on__gte=term.since,
                   due_on__lte=min(term.until, timezone.localdate()),
                   status__in=[FollowUp.Status.PLANNED, FollowUp.Status.DONE, FollowUp.Status.MISSED])
    on_time = sum(1 for due, status, done in rows
                  if status == FollowUp.Status.DONE and done is not None and timezone.localtime(done).date() <= due)
    return {"due": len(rows), "on_time": on_time}


def _alerts(scope: Scope, term: Term) -> dict[str, Any]:
    """As selectors.alert_acknowledgement, over the scope's schools."""
    rows = _values(scope, CrisisAlert, ["created_at", "acknowledged_at", "acknowledge_due_at"],
                   created_at__gte=term.start, created_at__lt=term.end)
    now = timezone.now()
    minutes = [(a - c).total_seconds() / 60 for c, a, _d in rows if a is not None]
    within = sum(1 for _c, a, d in rows if a is not None and (d is None or a <= d))
    decided = sum(1 for _c, a, d in rows if a is not None or (d is not None and d <= now))
    return {"alerts": len(rows), "acknowledged": len(minutes), "within_limit": within, "decided": decided,
            "median_minutes": round(statistics.median(minutes), 1) if minutes else None}


def _referrals(scope: Scope, term: Term) -> dict[str, Kpi]:
    """Acceptance, time to accept and feedback, over the referrals sent in the term. A referral is
    accepted (declined, attended) when its timeline has that move, whatever came after."""
    sent = {pk: (at, feedback) for pk, at, feedback in _values(
        scope, Referral, ["pk", "sent_at", "feedback_at"], sent_at__gte=term.start, sent_at__lt=term.end)}
    moved: dict[str, dict[int, dt.datetime]] = {Referral.State.ACCEPTED: {}, Referral.State.DECLINED: {},
                                                Referral.State.ATTENDED: {}}
    moves = _values(scope, ReferralEvent, ["referral", "to_state", "at"], referral__in=list(sent),
                    to_state__in=list(moved)) if sent else []
    for referral, state, at in moves:
        moved[state][referral] = min(at, moved[state].get(referral, at))
    accepted, attended = moved[Referral.State.ACCEPTED], moved[Referral.State.ATTENDED]
    decided = set(accepted) | set(moved[Referral.State.DECLINED])
    hours = [(at - sent[pk][0]).total_seconds() / 3600 for pk, at in accepted.items()]
    with_feedback = sum(1 for pk in attended if sent[pk][1] is not None)
    return {"referral_acceptance": share(len(accepted), len(decided)),
            "referral_accept_hours": median(hours, len(sent), 2),
            "hospital_feedback": share(with_feedback, len(attended))}


def _term_row(scope: Scope, term: Term) -> dict[str, Any]:
    cells = {**_participation(scope, term), **_casework(scope, term), **_referrals(scope, term)}
    if scope.aggregate_only:
        cells = {key: suppress(kpi, SMALL_CELL) for key, kpi in cells.items()}
    return {"term": term.label, "term_key": term.key, "since": term.since, "until": term.until,
            **{key: cells[key] for key in KPI_KEYS}}


def programme_kpis(*, user: Any, school: int | None, region: int | None, since: dt.date, until: dt.date,
                   progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """The programme's KPIs for a school or a region, one row per term of the period.

    Columns: ``term`` (label in the active language), ``term_key`` (e.g. ``2025-autumn``), ``since``
    and ``until`` (the days the row covers), then one column per ``KPI_KEYS``, each cell a
    :class:`Kpi`. ``frame.attrs`` holds the scope: ``label``, ``aggregate_only``, ``small_cell``,
    ``school_ids``, ``school`` and ``region``. Raises NotAllowed, NotFound or InvalidInput (see
    :func:`kpi_scope`, :func:`terms_between`). Nothing but counts, shares and medians comes out."""
    scope = kpi_scope(user=user, school=school, region=region)
    terms = terms_between(since, until)
    rows = []
    for done, term in enumerate(terms, start=1):
        rows.append(_term_row(scope, term))
        if progress is not None:
            progress(done, len(terms))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame.attrs.update(label=scope.label, aggregate_only=scope.aggregate_only, small_cell=SMALL_CELL,
                       school_ids=list(scope.school_ids), school=scope.school_id, region=scope.region_id)
    return frame


# --- the workbook --------------------------------------------------------------------------------------


def build_kpi_workbook(ctx: BuildContext) -> None:
    """Builder of the ``kpis`` export (``exports.kinds``): the KPI workbook of ``ctx.params``
    (``school``, ``region``, ``since``, ``until``) as ``ctx.user``, written to ``ctx.path`` by
    ``exports.kpi_workbook``, with one audit entry."""
    from exports.kpi_workbook import write_kpi_workbook
    from screening.core.audit import audit_record

    school, region, since, until = _params(ctx.params)
    terms = len(terms_between(since, until))
    ctx.progress(0, terms + 1)
    frame = programme_kpis(user=ctx.user, school=school, region=region, since=since, until=until,
                           progress=lambda done, _total: ctx.progress(done, terms + 1))
    detail = {"since": since.isoformat(), "until": until.isoformat(), "school": school, "region": region,
              "schools": len(frame.attrs["school_ids"]), "terms": terms,
              "aggregate_only": frame.attrs["aggregate_only"]}
    ctx.detail.update(detail)
    audit_record(actor=ctx.user, action="export", object_type="exports.kpis", school_id=frame.attrs["school"],
                 detail=detail)
    write_kpi_workbook(frame, ctx.path, user=ctx.user)
    ctx.progress(terms + 1, terms + 1)


def _params(params: dict[str, Any]) -> tuple[int | None, int | None, dt.date, dt.date]:
    """The job's parameters in their JSON form (ids, ISO dates), checked again."""
    problems: dict[str, list[Any]] = {}
    ids: dict[str, int | None] = {}
    for name in ("school", "region"):
        value = params.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            problems[name] = [_("Not found.")]
        ids[name] = value
    days: dict[str, dt.date] = {}
    for name in ("since", "until"):
        value = params.get(name)
        try:
            days[name] = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError:
            problems[name] = [_("Enter a date as YYYY-MM-DD.")]
    if problems:
        raise InvalidInput(fields=problems)
    return ids["school"], ids["region"], days["since"], days["until"]

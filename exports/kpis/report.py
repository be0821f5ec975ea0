"""The KPI rows of a scope, one per term (:func:`programme_kpis`), and the ``kpis`` export's builder
(:func:`build_kpi_workbook`). What each KPI counts is in ``exports.kpis.definitions``; the four
casework measures are the workspace's own (``screening.cases.measures``). A head of centre's cells
are counted here; an analyst's terms are whole and their cells come from ``exports.kpis.analyst``
(participation from the bureau aggregate of the same region and term, casework as rates only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
from django.utils.translation import gettext as _

from exports.analyst import whole_started_terms
from exports.build import BuildContext
from exports.kpis.analyst import casework_rates, participation_cells
from exports.kpis.definitions import COLUMNS, KPI_KEYS, Kpi, median, share
from exports.kpis.scope import Scope, kpi_scope, scope_values, scope_values_of
from exports.kpis.terms import Term, terms_between
from screening.campaigns.models import Assignment, CrisisAlert
from screening.cases import measures
from screening.cases.measures import FLAG_TIERS
from screening.cases.models import CaseFlag, Contact, FollowUp
from screening.core.errors import InvalidInput
from screening.directory.models import Student
from screening.directory.selectors import SMALL_CELL
from screening.referrals.models import Referral, ReferralEvent


def _participation(scope: Scope, term: Term) -> dict[str, Kpi]:
    """Coverage, completion and the flag rate per tier, over the campaigns that opened in the term."""
    roster = {pk for (pk,) in scope_values(scope, Student, ["pk"], is_active=True, created_at__lt=term.end)}
    assignments = scope_values(scope, Assignment, ["student", "submission__tier"],
                               campaign__opens_at__gte=term.start, campaign__opens_at__lt=term.end)
    covered = {student for student, _tier in assignments} & roster
    tiers = [tier for _student, tier in assignments if tier is not None]
    cells = {"coverage": share(len(covered), len(roster)), "completion": share(len(tiers), len(assignments))}
    for tier in FLAG_TIERS:
        cells[f"flag_rate_{tier}"] = share(tiers.count(tier), len(tiers))
    return cells


def _casework(scope: Scope, term: Term) -> dict[str, Kpi]:
    """First contact, interview rate, follow-up adherence and red alert acknowledgement.

    Counted by the workspace's own definitions (``screening.cases.measures``, the functions the
    selectors call) over the scope's rows of the term, read the same way for every scope: a head of
    centre's rows are those the workspace's selectors read for their school, an analyst's are
    reached through the schools they may see (:func:`scope_values`)."""
    flagged_in_term = {"at__gte": term.start, "at__lt": term.end}
    first = measures.first_contact_measures(
        scope_values(scope, CaseFlag, measures.FIRST_CONTACT_FIELDS, **flagged_in_term))
    flagged = scope_values(scope, CaseFlag, measures.FLAGGED_STUDENT_FIELDS, **flagged_in_term)
    students = sorted({student for student, _at in flagged})
    contacts = scope_values_of(scope, Contact, measures.INTERVIEW_CONTACT_FIELDS, "student", students)
    follow_ups = scope_values(scope, FollowUp, measures.FOLLOW_UP_FIELDS, due_on__gte=term.since,
                              due_on__lte=term.until)
    alerts = scope_values(scope, CrisisAlert, measures.ALERT_FIELDS, created_at__gte=term.start,
                          created_at__lt=term.end)
    return _casework_cells(first, measures.interview_rate(flagged, contacts), measures.follow_up_adherence(follow_ups),
                           measures.alert_acknowledgement(alerts))


def _casework_cells(first: list[measures.FirstContact], interviews: dict[str, Any], adherence: dict[str, Any],
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


def _referrals(scope: Scope, term: Term) -> dict[str, Kpi]:
    """Acceptance, time to accept and feedback, over the referrals sent in the term. A referral is
    accepted (declined, attended) when its timeline has that move, whatever came after."""
    sent = {pk: (at, feedback) for pk, at, feedback in scope_values(
        scope, Referral, ["pk", "sent_at", "feedback_at"], sent_at__gte=term.start, sent_at__lt=term.end)}
    moved: dict[str, dict[int, dt.datetime]] = {Referral.State.ACCEPTED: {}, Referral.State.DECLINED: {},
                                                Referral.State.ATTENDED: {}}
    moves = scope_values_of(scope, ReferralEvent, ["referral", "to_state", "at"], "referral", sorted(sent),
                            to_state__in=list(moved))
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
    casework = {**_casework(scope, term), **_referrals(scope, term)}
    if scope.aggregate_only:
        cells = {**participation_cells(scope, term, small_cell=SMALL_CELL),
                 **casework_rates(casework, small_cell=SMALL_CELL)}
    else:
        cells = {**_participation(scope, term), **casework}
    return {"term": term.label, "term_key": term.key, "since": term.since, "until": term.until,
            **{key: cells[key] for key in KPI_KEYS}}


def programme_kpis(*, user: Any, school: int | None, region: int | None, since: dt.date, until: dt.date,
                   progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """The programme's KPIs for a school or a region, one row per term of the period.

    Columns: ``term`` (label in the active language), ``term_key`` (e.g. ``2025-autumn``), ``since``
    and ``until`` (the days the row covers: for a head of centre the first and last terms clipped
    to the period, for an analyst every term whole and only those that have started), then one
    column per ``KPI_KEYS``, each cell a :class:`Kpi`. ``frame.attrs`` holds the scope: ``label``,
    ``aggregate_only``, ``small_cell``, ``school_ids``, ``school`` and ``region``. Raises
    NotAllowed, NotFound or InvalidInput (see :func:`kpi_scope`, :func:`terms_between`; for an
    analyst also when no term of the period has started). Nothing but counts, shares and medians
    comes out."""
    scope = kpi_scope(user=user, school=school, region=region)
    terms = terms_between(since, until)
    if scope.aggregate_only:  # a term's row is the same whatever the period (exports.analyst)
        terms = whole_started_terms(terms)
        if not terms:
            raise InvalidInput(fields={"since": [_("No term of this period has started yet.")]})
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
    frame = programme_kpis(user=ctx.user, school=school, region=region, since=since, until=until,
                           progress=lambda done, total: ctx.progress(done, total + 1))
    terms = len(frame)
    detail = {"since": since.isoformat(), "until": until.isoformat(), "school": school,
              "region": frame.attrs["region"],
              "schools": len(frame.attrs["school_ids"]), "terms": terms, "term_keys": list(frame["term_key"]),
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

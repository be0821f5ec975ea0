"""Reads of the counsellor workspace that depend on who asks, built on the access policy: the queue,
a case with its timeline, the escalations a head of centre sees, and the measures the reports use
(time to first contact, interview rate, follow-up adherence, alert acknowledgement time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case as Choose
from django.db.models import Count, Exists, F, IntegerField, Min, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from screening.campaigns.models import CrisisAlert, Result
from screening.cases import measures
from screening.cases.measures import FirstContact
from screening.cases.models import Case, CaseEvent, CaseFlag, Contact, FollowUp

TIER_ORDER = {"red": 0, "orange": 1, "yellow": 2, "green": 3}
ESCALATIONS = (CaseEvent.Kind.ALERT_ESCALATED_SCHOOL, CaseEvent.Kind.ALERT_ESCALATED_HOSPITAL, CaseEvent.Kind.ESCALATED)


def _tier_rank() -> Choose:
    return Choose(*(When(tier=t, then=Value(r)) for t, r in TIER_ORDER.items()), default=Value(9),
                  output_field=IntegerField())


def case_queue(
    *, user: Any, school_class: int | None = None, tier: str | None = None, status: str | None = None,
    overdue: bool = False, campaign: int | None = None, include_closed: bool = False,
) -> QuerySet[Case]:
    """The cases on students this user covers, red first, then by the time left: to the first
    contact while one is due, else to the next follow-up. Annotated with ``next_follow_up``,
    ``open_alerts`` and ``follow_ups_due`` (planned or missed, due by today)."""
    today = timezone.localdate()
    qs = Case.objects.visible_to(user).select_related("student__school_class", "school")
    if not include_closed and status != Case.Status.CLOSED:
        qs = qs.exclude(status=Case.Status.CLOSED)
    if school_class:
        qs = qs.filter(student__school_class_id=school_class)
    if tier:
        qs = qs.filter(tier=tier)
    if status:
        qs = qs.filter(status=status)
    if campaign:  # a subquery, so that the counts below still cover every flag of the case
        qs = qs.filter(Exists(CaseFlag.objects.filter(
            Q(submission__assignment__campaign_id=campaign) | Q(risk_score__submission__assignment__campaign_id=campaign),
            case=OuterRef("pk"))))
    next_follow_up = Min("follow_ups__due_on", filter=Q(follow_ups__status__in=[FollowUp.Status.PLANNED, FollowUp.Status.MISSED]))
    qs = qs.annotate(
        tier_rank=_tier_rank(),
        next_follow_up=next_follow_up,
        open_alerts=Count("flags__submission__alert", filter=Q(flags__submission__alert__acknowledged_at__isnull=True),
                          distinct=True),
        follow_ups_due=Count("follow_ups", filter=Q(follow_ups__due_on__lte=today,
                                                    follow_ups__status__in=[FollowUp.Status.PLANNED, FollowUp.Status.MISSED]),
                             distinct=True),
    )
    if overdue:
        qs = qs.filter(Q(first_contact_due_at__lte=timezone.now()) | Q(follow_ups_due__gt=0))
    return qs.order_by("tier_rank", F("first_contact_due_at").asc(nulls_last=True), F("next_follow_up").asc(nulls_last=True),
                       "opened_at", "id")


def tier_counts(*, user: Any) -> dict[str, int]:
    """Open cases per tier among the students this user covers (always shown above the queue)."""
    rows = Case.objects.visible_to(user).exclude(status=Case.Status.CLOSED).values("tier").annotate(n=Count("id"))
    counts = dict.fromkeys(("red", "orange", "yellow"), 0)
    counts.update({r["tier"]: r["n"] for r in rows})
    return counts


def case_list(*, user: Any) -> QuerySet[Case]:
    """Every case this user may see, open or closed (API lists and the student's file)."""
    return Case.objects.visible_to(user).select_related("student__school_class", "school")


def case_timeline(*, user: Any, case: Case) -> list[dict[str, Any]]:
    """The case's events (every step, with actor and time), oldest first; contacts and follow-ups
    are read with case_contacts and case_follow_ups, and the student's file joins them all."""
    items: list[dict[str, Any]] = []
    for event in CaseEvent.objects.visible_to(user).filter(case=case).select_related("actor"):
        items.append({"at": event.at, "type": "event", "event": event})
    return items


def case_contacts(*, user: Any, case: Case) -> QuerySet[Contact]:
    return Contact.objects.visible_to(user).filter(case=case).select_related("recorded_by", "follow_up")


def case_follow_ups(*, user: Any, case: Case) -> QuerySet[FollowUp]:
    return FollowUp.objects.visible_to(user).filter(case=case).order_by("due_on", "id")


def escalation_list(*, user: Any) -> QuerySet[CaseEvent]:
    """Escalations on the cases this user sees, newest first (for heads of centre)."""
    return (CaseEvent.objects.visible_to(user).filter(kind__in=ESCALATIONS)
            .select_related("case__student__school_class", "alert").order_by("-at", "-id"))


# --- measures ----------------------------------------------------------------------------------------
# What each measure counts is defined once, in screening.cases.measures (the KPI workbook uses the same
# functions); these read the rows: the user's, through visible_to, optionally of one school and period.


def _between(qs: QuerySet[Any], field: str, since: dt.date | None, until: dt.date | None) -> QuerySet[Any]:
    """Rows whose ``field`` is at or after ``since`` and before ``until`` (either may be None)."""
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{field}__lt": until})
    return qs


def _flags(user: Any, school: int | None, since: dt.datetime | None, until: dt.datetime | None) -> QuerySet[CaseFlag]:
    flags = _between(CaseFlag.objects.visible_to(user), "at", since, until)
    return flags if school is None else flags.filter(case__school_id=school)


def first_contact_measures(*, user: Any, school: int | None = None, since: dt.datetime | None = None,
                           until: dt.datetime | None = None) -> list[FirstContact]:
    """Per tier, over the flags raised in the period: how many, how many were contacted, how many
    within the first-contact limit, and the median hours from flag to first contact
    (:func:`screening.cases.measures.first_contact_measures`)."""
    rows = _flags(user, school, since, until).order_by().values_list(*measures.FIRST_CONTACT_FIELDS)
    return measures.first_contact_measures(rows)


def interview_rate(*, user: Any, school: int | None = None, since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> dict[str, Any]:
    """面访率: of the students flagged in the period, the share seen face to face after the flag
    (:func:`screening.cases.measures.interview_rate`); the contacts are those of the flagged
    students that the user sees."""
    flags = list(_flags(user, school, since, until).order_by().values_list(*measures.FLAGGED_STUDENT_FIELDS))
    students = {student for student, _at in flags}
    contacts = Contact.objects.visible_to(user).filter(student_id__in=students).order_by().values_list(
        *measures.INTERVIEW_CONTACT_FIELDS) if students else []
    return measures.interview_rate(flags, contacts)


def follow_up_adherence(*, user: Any, school: int | None = None, since: dt.date | None = None,
                        until: dt.date | None = None) -> dict[str, Any]:
    """Of the follow-ups that fell due in the period (not cancelled), the share done by their day
    (:func:`screening.cases.measures.follow_up_adherence`); ``until`` is the first day after it."""
    qs = _between(FollowUp.objects.visible_to(user), "due_on", since, until)
    if school is not None:
        qs = qs.filter(case__school_id=school)
    return measures.follow_up_adherence(qs.order_by().values_list(*measures.FOLLOW_UP_FIELDS))


def alert_acknowledgement(*, user: Any, school: int | None = None, since: dt.datetime | None = None,
                          until: dt.datetime | None = None) -> dict[str, Any]:
    """Red alerts raised in the period: how many, how many acknowledged, how many within the limit
    out of those decided (acknowledged, or past their limit: an alert still in time counts for
    neither), and the median minutes to acknowledgement
    (:func:`screening.cases.measures.alert_acknowledgement`)."""
    qs = _between(CrisisAlert.objects.visible_to(user), "created_at", since, until)
    if school is not None:
        qs = qs.filter(school_id=school)
    return measures.alert_acknowledgement(qs.order_by().values_list(*measures.ALERT_FIELDS))


def case_alerts(*, user: Any, case: Case) -> QuerySet[CrisisAlert]:
    """The red alerts raised by the case's flags, open ones first, then newest first, with who
    acknowledged them (the case page shows each with its acknowledgement and escalation)."""
    raised_by = Q(submission__case_flag__case=case) | Q(submission__risk_scores__case_flag__case=case)
    return (CrisisAlert.objects.visible_to(user).filter(raised_by).distinct()
            .select_related("acknowledged_by").order_by(F("acknowledged_at").desc(nulls_first=True), "-created_at", "-id"))


def student_cases(*, user: Any, student: Any) -> QuerySet[Case]:
    """The student's cases this user may see, open or closed, newest first (the student's file)."""
    return case_list(user=user).filter(student=student).order_by("-opened_at", "-id")


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# Steps a contact or referral item on the timeline already tells (with its note and outcome).
TOLD_BY_CONTACT = (CaseEvent.Kind.CONTACT, CaseEvent.Kind.GUARDIAN, CaseEvent.Kind.REFERRAL)


def student_timeline(*, user: Any, student: Any, case: Case | None = None) -> list[dict[str, Any]]:
    """One timeline of the student's cases this user covers (only ``case``'s when given), newest
    first: contacts with their decrypted notes (guardian communication is a contact of its own
    kind), follow-ups that are planned, done or missed (at their day; cancelled ones are left
    out) and the cases' events, without the events a contact item already tells. Each item is
    ``{"at", "type": "contact" | "follow_up" | "event" | "referral", "case_id", <type>: the row}``;
    a referral item is one move of a referral (both sides', with its note). The caller audits
    the read."""
    from screening.referrals.models import ReferralEvent

    contacts = Contact.objects.visible_to(user).filter(student=student).select_related("recorded_by", "follow_up")
    follow_ups = FollowUp.objects.visible_to(user).filter(case__student=student).exclude(status=FollowUp.Status.CANCELLED)
    events = (CaseEvent.objects.visible_to(user).filter(case__student=student).exclude(kind__in=TOLD_BY_CONTACT)
              .select_related("actor"))
    moves = (ReferralEvent.objects.visible_to(user).filter(referral__student=student)
             .select_related("actor", "referral__hospital"))
    if case is not None:
        contacts, follow_ups, events = contacts.filter(case=case), follow_ups.filter(case=case), events.filter(case=case)
        moves = moves.filter(referral__case=case)
    items: list[dict[str, Any]] = [{"at": c.at, "type": "contact", "case_id": c.case_id, "contact": c} for c in contacts]
    items += [{"at": f.done_at or _day_start(f.due_on), "type": "follow_up", "case_id": f.case_id, "follow_up": f}
              for f in follow_ups]
    items += [{"at": e.at, "type": "event", "case_id": e.case_id, "event": e} for e in events]
    items += [{"at": m.at, "type": "referral", "case_id": m.referral.case_id, "referral": m} for m in moves]
    order = {"event": 0, "referral": 0, "follow_up": 1, "contact": 2}  # at the same moment, the contact first
    items.sort(key=lambda i: (i["at"], order[i["type"]], i[i["type"]].pk), reverse=True)
    return items


def student_results(*, user: Any, student: Any) -> dict[str, list[Result]]:
    """The student's scored results (a valid total) by instrument code, oldest first, each with
    its submission: the points of the score trends in the student's file. Results of a submission
    the user may not see are left out by the access policy."""
    rows = (Result.objects.visible_to(user).filter(submission__student=student, valid=True, total__isnull=False)
            .select_related("submission").order_by("submission__submitted_at", "submission_id", "position"))
    by_code: dict[str, list[Result]] = {}
    for result in rows:
        by_code.setdefault(result.instrument, []).append(result)
    return by_code

"""The rules of taking part, in one place: who must consent, and what stops a student starting.

Under 14 a guardian must consent (PIPL art. 31). From 14 the student consents themself; for ages
14–17 the campaign's ``consent_mode`` decides whether a guardian must also consent or is only told
(and may still refuse). From 18 no guardian is involved. Every student agrees on a first page
before any question is shown; nobody without consent is ever screened.

Research use of the answers (without names) is a separate, optional consent that never decides
whether a student may be screened: :func:`research_use_covered` is its one rule.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from screening.campaigns.models import Assignment, Campaign, ConsentRecord

GUARDIAN_CONSENT_BELOW = 14  # PIPL art. 31
ADULT_FROM = 18


class GuardianRole(StrEnum):
    CONSENT = "consent"  # the guardian must consent before the student starts
    NOTICE = "notice"  # the guardian is told and may refuse
    NONE = "none"  # an adult student: no guardian


class Blocker(StrEnum):
    """Why a student cannot answer now (codes the API returns; the pages explain each)."""

    NOT_OPEN = "campaign_not_open"
    CLOSED = "campaign_closed"
    SUBMITTED = "already_submitted"
    MISSED = "assignment_missed"
    GUARDIAN_PENDING = "guardian_consent_pending"
    GUARDIAN_REFUSED = "guardian_refused"
    STUDENT_CONSENT = "student_consent_needed"
    STUDENT_DECLINED = "student_declined"
    LEFT_ROSTER = "student_left_roster"


def guardian_role(assignment: Assignment, today: dt.date | None = None) -> GuardianRole:
    """What the guardian of this assignment's student is asked for, by age today."""
    age = assignment.student.age_on(today or timezone.localdate())
    if age < GUARDIAN_CONSENT_BELOW:
        return GuardianRole.CONSENT
    if age >= ADULT_FROM:
        return GuardianRole.NONE
    if assignment.campaign.consent_mode == Campaign.ConsentMode.GUARDIAN_CONSENT:
        return GuardianRole.CONSENT
    return GuardianRole.NOTICE


def guardian_blocker(assignment: Assignment, today: dt.date | None = None) -> Blocker | None:
    """The guardian's part: consent given where needed, and no refusal or withdrawal ever stands."""
    g = Assignment.Guardian
    if assignment.guardian in (g.REFUSED, g.WITHDRAWN):
        return Blocker.GUARDIAN_REFUSED
    if guardian_role(assignment, today) is GuardianRole.CONSENT and assignment.guardian != g.GRANTED:
        return Blocker.GUARDIAN_PENDING
    return None


def window_blocker(assignment: Assignment, now: dt.datetime | None = None) -> Blocker | None:
    """The campaign's part and the assignment's own state."""
    now = now or timezone.now()
    campaign = assignment.campaign
    if assignment.status == Assignment.Status.SUBMITTED:
        return Blocker.SUBMITTED
    if assignment.status == Assignment.Status.MISSED or campaign.status == Campaign.Status.CLOSED:
        return Blocker.CLOSED if campaign.status == Campaign.Status.CLOSED else Blocker.MISSED
    if campaign.status != Campaign.Status.LAUNCHED or now < campaign.opens_at:
        return Blocker.NOT_OPEN
    if now >= campaign.closes_at:
        return Blocker.CLOSED
    if not assignment.student.is_active:
        return Blocker.LEFT_ROSTER
    return None


def consent_blocker(assignment: Assignment, today: dt.date | None = None) -> Blocker | None:
    """Consent of both parties: the guardian's first, then the student's own."""
    blocker = guardian_blocker(assignment, today)
    if blocker is not None:
        return blocker
    s = Assignment.StudentConsent
    if assignment.student_consent in (s.REFUSED, s.WITHDRAWN):
        return Blocker.STUDENT_DECLINED
    if assignment.student_consent != s.GRANTED:
        return Blocker.STUDENT_CONSENT
    return None


def answer_blocker(assignment: Assignment, now: dt.datetime | None = None) -> Blocker | None:
    """Why this student may not answer (save a draft or submit) now; None when they may."""
    now = now or timezone.now()
    return window_blocker(assignment, now) or consent_blocker(assignment, timezone.localdate(now))


def may_give_own_consent(assignment: Assignment, now: dt.datetime | None = None) -> Blocker | None:
    """The student's first page is open once the window is and the guardian's part is settled."""
    now = now or timezone.now()
    return window_blocker(assignment, now) or guardian_blocker(assignment, timezone.localdate(now))


# --- research use (issue #8) ------------------------------------------------------------------


def born_on_or_before(day: dt.date, years: int) -> dt.date:
    """The latest birth date of someone who is ``years`` old or more on ``day`` (as
    ``Student.age_on`` counts: a birthday on 29 February is reached on 1 March in other years)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, and the year ``years`` back has none
        return dt.date(day.year - years, 2, 28)


def _latest_research_decision(party: str) -> Subquery:
    records = ConsentRecord.objects.filter(
        assignment=OuterRef("pk"), purpose=ConsentRecord.Purpose.RESEARCH, party=party,
    ).order_by("-at", "-id")
    return Subquery(records.values("decision")[:1])


def research_use_covered(campaign: Campaign, assignments: QuerySet[Assignment] | None = None) -> QuerySet[Assignment]:
    """The assignments of ``campaign`` (among ``assignments``, e.g. those a user may see) whose
    consent covers research use of the answers without names. The one rule:

    - the campaign asked for it (``asks_research_use``);
    - the screening consent still stands: the student's own is granted and no guardian refused or
      withdrew it (a withdrawal stops all further processing, research included);
    - the student's latest research-purpose record is *granted*: every student says yes
      themself, as for the screening (rules above);
    - for a student under 18 on the campaign's opening day, the guardian's latest
      research-purpose record is *granted* too. Stricter than the screening's 14-17 rule
      (``consent_mode``) on purpose: research is not for the child's own care, and research on a
      minor needs the guardian's consent as well as the minor's own agreement.

    "Latest" is the newest record of that party for that purpose, so a later refusal or
    withdrawal undoes an earlier yes, and a yes after a withdrawal counts again.
    """
    qs = (assignments if assignments is not None else Assignment.objects.all()).filter(campaign=campaign)
    if not campaign.asks_research_use:
        return qs.none()
    granted, party = ConsentRecord.Decision.GRANTED, ConsentRecord.Party
    g = Assignment.Guardian
    adult_born_by = born_on_or_before(timezone.localdate(campaign.opens_at), ADULT_FROM)
    return (
        qs.filter(student_consent=Assignment.StudentConsent.GRANTED)
        .exclude(guardian__in=[g.REFUSED, g.WITHDRAWN])
        .annotate(research_student=_latest_research_decision(party.STUDENT),
                  research_guardian=_latest_research_decision(party.GUARDIAN))
        .filter(research_student=granted)
        .filter(Q(student__birth_date__lte=adult_born_by) | Q(research_guardian=granted))
    )


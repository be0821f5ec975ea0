"""The rules of taking part, in one place: who must consent, and what stops a student starting.

Under 14 a guardian must consent (PIPL art. 31). From 14 the student consents themself; for ages
14–17 the campaign's ``consent_mode`` decides whether a guardian must also consent or is only told
(and may still refuse). From 18 no guardian is involved. Every student agrees on a first page
before any question is shown; nobody without consent is ever screened.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from django.utils import timezone

from screening.campaigns.models import Assignment, Campaign

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

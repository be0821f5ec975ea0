"""What a flagged screening does to the student's case, inside the submit's transaction.

Yellow and above open a case, or update the student's open case (there is at most one: a partial
unique constraint holds it). A flag on a student whose last case is closed reopens that case when
it closed less than ``REOPEN_WITHIN`` ago (the same episode of care), and otherwise opens a new case
that follows it; the timeline says which and why. A case's tier is the highest of its flags: a
lower flag never lowers it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Case as Choose
from django.db.models import IntegerField, Q, Value, When

from scoring.tiers import Tier
from screening.campaigns.models import CrisisAlert, Submission
from screening.cases.models import Case, CaseEvent, CaseFlag
from screening.core import rows
from screening.riskmodels.models import RiskScore

REOPEN_WITHIN = dt.timedelta(days=30)
FLAGGING = frozenset({Tier.YELLOW, Tier.ORANGE, Tier.RED})


def _latest_case(student_id: int) -> Case | None:
    """The student's open case, else their most recently opened closed one; the open one locked."""
    open_first = Choose(When(status=Case.Status.CLOSED, then=Value(1)), default=Value(0), output_field=IntegerField())
    return (Case.objects.select_for_update().filter(student_id=student_id)
            .order_by(open_first, "-opened_at", "-id").first())


@dataclass(frozen=True)
class Flag:
    """What flags a case: a submission's own tier, or a tier a later risk score raised it to."""

    submission: Submission
    tier: Tier
    at: dt.datetime
    due: dt.datetime | None
    risk_score: RiskScore | None = None


def case_flag(*, submission: Submission, school_id: int, alert: CrisisAlert | None = None) -> Case | None:
    """Put a submission of yellow or above on the student's case (opening, updating or reopening
    it); None for green. Runs in the caller's transaction; the system is the actor."""
    tier = Tier(submission.tier)
    if tier not in FLAGGING:
        return None
    return flag_case(Flag(submission, tier, submission.submitted_at, submission.first_contact_due_at), school_id, alert)


def flag_case(flag: Flag, school_id: int, alert: CrisisAlert | None = None) -> Case:
    """Open, update or reopen the student's case for one flag (see :func:`case_flag`)."""
    now, tier = flag.at, flag.tier
    case = _latest_case(flag.submission.student_id)
    if case is not None and case.status == Case.Status.CLOSED:
        if case.closed_at is not None and now - case.closed_at < REOPEN_WITHIN:
            case, effect = _reopen(case, tier, now), CaseFlag.Effect.REOPENED
        else:
            case, effect = _new(flag, school_id, previous=case)
    elif case is None:
        case, effect = _new(flag, school_id, previous=None)
    else:
        effect = CaseFlag.Effect.RAISED if tier > Tier(case.tier) else CaseFlag.Effect.UPDATED
    _attach(case, flag, effect)
    if alert is not None:
        due = alert.acknowledge_due_at
        rows.insert([CaseEvent(case=case, kind=CaseEvent.Kind.ALERT_RAISED, at=now, alert=alert,
                               detail={"due": due.isoformat() if due else None})])
    return case


def _new(flag: Flag, school_id: int, previous: Case | None) -> tuple[Case, CaseFlag.Effect]:
    """A new case for the flag, and the flag's effect (opened; or updated, when a concurrent submit
    of the same student opened one first)."""
    submission, tier = flag.submission, flag.tier
    case = Case(student_id=submission.student_id, school_id=school_id, tier=tier.value, status=Case.Status.OPEN,
                opened_at=flag.at, previous=previous, first_contact_due_at=flag.due)
    try:
        with transaction.atomic():
            rows.insert([case])
    except IntegrityError:
        opened = _latest_case(submission.student_id)
        if opened is None or opened.status == Case.Status.CLOSED:
            raise
        return opened, (CaseFlag.Effect.RAISED if tier > Tier(opened.tier) else CaseFlag.Effect.UPDATED)
    detail: dict[str, object] = {"submission": submission.pk, "tier": tier.value}
    if previous is not None:
        detail["previous"] = previous.pk
    if flag.risk_score is not None:
        detail["risk_score"] = flag.risk_score.pk
    rows.insert([CaseEvent(case=case, kind=CaseEvent.Kind.OPENED, at=flag.at, detail=detail)])
    return case, CaseFlag.Effect.OPENED


def _reopen(case: Case, tier: Tier, now: dt.datetime) -> Case:
    """Reopen a case closed within REOPEN_WITHIN: the same episode of care continues, at the new
    flag's tier, waiting for a new first contact."""
    closed_at = case.closed_at
    case.status, case.closed_at, case.closed_by, case.close_reason, case.close_note = Case.Status.OPEN, None, None, "", ""
    case.tier, case.first_contact_due_at = tier.value, None
    case.save(update_fields=["status", "closed_at", "closed_by", "close_reason", "close_note", "tier",
                             "first_contact_due_at", "updated_at"])
    rows.insert([CaseEvent(case=case, kind=CaseEvent.Kind.REOPENED, at=now,
                           detail={"closed": closed_at.isoformat() if closed_at else None,
                                   "within_days": REOPEN_WITHIN.days})])
    return case


def _attach(case: Case, flag: Flag, effect: str) -> None:
    """Record the flag, and keep the case's tier (the highest) and its earliest pending limit."""
    due, at, tier, submission = flag.due, flag.at, flag.tier, flag.submission
    by_score = flag.risk_score is not None
    rows.insert([CaseFlag(case=case, submission=None if by_score else submission, risk_score=flag.risk_score,
                          tier=tier.value, effect=effect, at=at, due_at=due)])
    fields = ["updated_at"]
    about: dict[str, object] = {"submission": submission.pk}
    if by_score:
        about["risk_score"] = flag.risk_score.pk  # type: ignore[union-attr]
    if tier > Tier(case.tier):
        rows.insert([CaseEvent(case=case, kind=CaseEvent.Kind.TIER_RAISED, at=at,
                               detail={"from": case.tier, "to": tier.value, **about})])
        case.tier = tier.value
        fields.append("tier")
    if effect != CaseFlag.Effect.OPENED:
        rows.insert([CaseEvent(case=case, kind=CaseEvent.Kind.FLAGGED, at=at,
                               detail={"tier": tier.value, "effect": effect, **about})])
    if due is not None and (case.first_contact_due_at is None or due < case.first_contact_due_at):
        case.first_contact_due_at = due
        fields.append("first_contact_due_at")
    if effect != CaseFlag.Effect.OPENED:  # a new case was written with its tier and limit
        rows.update(case, fields)


def case_of_alert(alert: CrisisAlert) -> Case | None:
    """The case a red alert belongs to: the one its submission flagged, at submit or on a re-score."""
    by = Q(flags__submission_id=alert.submission_id) | Q(flags__risk_score__submission_id=alert.submission_id)
    return Case.objects.filter(by, student_id=alert.student_id).select_related("student").order_by("-opened_at").first()

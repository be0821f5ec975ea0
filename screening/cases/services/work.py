"""What counsellors and heads of centre do on a case: acknowledge a red alert, record a contact
(or guardian communication) with its outcome, plan follow-ups from the tier's rhythm, move a case
between in contact and monitoring, and close it with a reason.

Each function locks the row it changes through the access policy (a case the actor does not cover
is NotFound, as one that does not exist), changes it in one transaction, appends the step to the
case's timeline and writes the audit entry. Repeating a request is safe: acknowledging twice keeps
the first acknowledgement, and a contact or plan sent again with the same ``request_key`` returns
the one already recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoring.tiers import Tier
from screening.campaigns.models import CrisisAlert
from screening.campaigns.services.answering import school_policy
from screening.cases.models import Case, CaseEvent, Contact, FollowUp, FollowUpPlan
from screening.cases.services.flags import case_of_alert
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict, InvalidInput, NotFound
from screening.referrals import states as referral_states
from screening.referrals.models import Referral

MAX_FOLLOW_UPS = 20
MAX_PLAN_DAYS = 366
MAX_NOTE = 10_000
EARLY_DAYS = 2  # a contact up to two days before a planned follow-up's day still counts as it


def _reused() -> Conflict:
    return Conflict(_("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused")


def _locked(actor: Any, case: Case | int) -> Case:
    pk = case.pk if isinstance(case, Case) else case
    locked = (Case.objects.visible_to(actor).select_for_update().select_related("student", "school")
              .filter(pk=pk).first())
    if locked is None:
        raise NotFound(_("Not found."))
    return locked


def _open(case: Case) -> None:
    if case.status == Case.Status.CLOSED:
        raise Conflict(_("This case is closed."), code="case_closed")


def _event(case: Case, kind: str, actor: Any, at: dt.datetime, alert: CrisisAlert | None = None,
           **detail: Any) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, at=at, alert=alert, detail=detail)


def _audit(actor: Any, action: str, obj: Any, case: Case, **detail: Any) -> None:
    audit_record(actor=actor, action=action, object_type=obj._meta.label, object_id=obj.pk,
                 student_public_id=case.student.public_id, school_id=case.school_id, detail=detail)


# --- red alerts ----------------------------------------------------------------------------------


def alert_acknowledge(*, actor: Any, alert: CrisisAlert | int) -> CrisisAlert:
    """Acknowledge a red alert on a student the actor covers. The first acknowledgement stands;
    acknowledging again changes nothing. Stops the alert's escalation."""
    pk = alert.pk if isinstance(alert, CrisisAlert) else alert
    with transaction.atomic():
        locked = CrisisAlert.objects.visible_to(actor).select_for_update().select_related("student").filter(pk=pk).first()
        if locked is None:
            raise NotFound(_("Not found."))
        if locked.acknowledged_at is not None:
            return locked
        now = timezone.now()
        locked.acknowledged_at, locked.acknowledged_by = now, actor
        locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
        case = case_of_alert(locked)
        if case is not None:
            _event(case, CaseEvent.Kind.ALERT_ACKNOWLEDGED, actor, now, alert=locked,
                   minutes=round((now - locked.created_at).total_seconds() / 60, 1))
        audit_record(actor=actor, action=Action.UPDATE, object_type="campaigns.CrisisAlert", object_id=locked.pk,
                     student_public_id=locked.student.public_id, school_id=locked.school_id,
                     detail={"acknowledged": True})
    return locked


# --- contacts ------------------------------------------------------------------------------------


def _check_contact(case: Case, kind: str, at: dt.datetime, method: str, participants: Sequence[str], note: str,
                   outcome: str) -> dict[str, list[Any]]:
    problems: dict[str, list[Any]] = {}
    if kind not in Contact.Kind.values:
        problems["kind"] = [_("Choose the kind of contact.")]
    if method not in Contact.Method.values:
        problems["method"] = [_("Choose how the contact took place.")]
    if at > timezone.now() + dt.timedelta(minutes=5):
        problems["at"] = [_("A contact cannot be in the future.")]
    elif at < case.opened_at - dt.timedelta(days=1):
        problems["at"] = [_("A contact about this case cannot be before the case was opened.")]
    unknown = [p for p in participants if p not in Contact.Participant.values]
    if unknown or not participants or len(set(participants)) != len(participants):
        problems["participants"] = [_("Choose who took part (student, guardian, class teacher), each once.")]
    elif kind == Contact.Kind.GUARDIAN and Contact.Participant.GUARDIAN not in participants:
        problems["participants"] = [_("Guardian communication needs the guardian among those who took part.")]
    if kind == Contact.Kind.STUDENT and outcome not in Contact.Outcome.values:
        problems["outcome"] = [_("Choose the outcome of the contact.")]
    elif outcome and outcome not in Contact.Outcome.values:
        problems["outcome"] = [_("Choose one of the listed outcomes.")]
    if len(note) > MAX_NOTE:
        problems["note"] = [_("Keep the note under %(n)d characters.") % {"n": MAX_NOTE}]
    return problems


def contact_record(
    *, actor: Any, case: Case | int, at: dt.datetime, method: str, participants: Sequence[str], outcome: str = "",
    note: str = "", kind: str = Contact.Kind.STUDENT, follow_up: int | None = None, request_key: str = "",
) -> Contact:
    """Record a contact on an open case. A contact that reached the student (any outcome but
    "could not reach") meets every first-contact limit of the flags before it and moves an open case
    to "in contact". Naming a planned follow-up (``follow_up``) marks it done. Guardian
    communication after an emergency referral was sent gives the guardian the notice it owed. The same
    ``request_key`` with the same contact returns the one recorded; with a different one, Conflict."""
    with transaction.atomic():
        locked = _locked(actor, case)
        if request_key and (done := Contact.objects.filter(case=locked, request_key=request_key).first()):
            if (done.at, done.method, done.kind, done.outcome, done.note) != (at, method, kind, outcome or "", note or ""):
                raise _reused()
            return done
        _open(locked)
        problems = _check_contact(locked, kind, at, method, list(participants), note or "", outcome or "")
        if follow_up is not None and kind != Contact.Kind.STUDENT:
            problems["follow_up"] = [_("A follow-up is a contact with the student.")]
        if problems:
            raise InvalidInput(fields=problems)
        planned = _follow_up_for(locked, follow_up)
        now = timezone.now()
        contact = Contact.objects.create(
            case=locked, student_id=locked.student_id, kind=kind, at=at, method=method,
            participants=list(participants), note=note or "", outcome=outcome or "", follow_up=planned,
            recorded_by=actor, recorded_at=now, request_key=request_key,
        )
        if planned is not None:
            FollowUp.objects.filter(pk=planned.pk).update(status=FollowUp.Status.DONE, done_at=at)
            _event(locked, CaseEvent.Kind.FOLLOW_UP_DONE, actor, now, follow_up=planned.pk,
                   due=planned.due_on.isoformat(), on_time=timezone.localtime(at).date() <= planned.due_on)
        if contact.counts_as_contact:
            _met(locked, at)
        if kind == Contact.Kind.GUARDIAN:  # the notice an emergency referral owes the guardian is given
            Referral.objects.filter(case=locked, guardian_notice_due=True, sent_at__lte=at).update(guardian_notice_due=False)
        kind_event = CaseEvent.Kind.GUARDIAN if kind == Contact.Kind.GUARDIAN else CaseEvent.Kind.CONTACT
        _event(locked, kind_event, actor, now, contact=contact.pk, method=method, outcome=outcome or "")
        _audit(actor, Action.CREATE, contact, locked, kind=kind, outcome=outcome or "")
    return contact


def _follow_up_for(case: Case, follow_up: int | None) -> FollowUp | None:
    """The planned (or missed) follow-up this contact is, when the counsellor names one."""
    if follow_up is None:
        return None
    pending = FollowUp.objects.filter(case=case, status__in=[FollowUp.Status.PLANNED, FollowUp.Status.MISSED])
    chosen = pending.filter(pk=follow_up).first()
    if chosen is None:
        raise InvalidInput(fields={"follow_up": [_("This follow-up is not one still to do on this case.")]})
    return chosen


def next_follow_up(case: Case) -> FollowUp | None:
    """The follow-up a contact today most likely is: the earliest still planned that falls due by
    ``EARLY_DAYS`` from today (the contact form offers it; the counsellor confirms)."""
    latest = timezone.localdate() + dt.timedelta(days=EARLY_DAYS)
    return (FollowUp.objects.filter(case=case, status=FollowUp.Status.PLANNED, due_on__lte=latest)
            .order_by("due_on", "id").first())


def _met(case: Case, at: dt.datetime) -> None:
    """A contact reached the student at ``at``: the flags before it are met; the case is in contact."""
    case.flags.filter(contacted_at__isnull=True, at__lte=at).update(contacted_at=at)
    waiting = case.flags.filter(contacted_at__isnull=True, due_at__isnull=False).order_by("due_at").first()
    case.first_contact_due_at = waiting.due_at if waiting else None
    fields = ["first_contact_due_at", "updated_at"]
    if case.first_contact_at is None or at < case.first_contact_at:
        case.first_contact_at = at
        fields.append("first_contact_at")
    if case.status == Case.Status.OPEN:
        case.status = Case.Status.IN_CONTACT
        fields.append("status")
    case.save(update_fields=fields)


# --- follow-up plans -------------------------------------------------------------------------------


# After a hospital's feedback, the rhythm its recommendation calls for: the case's tier's, the
# lighter yellow rhythm when no treatment is needed, and none while the student is an inpatient
# (the counsellor plans again on their return).
AFTER_RECOMMENDATION: dict[str, str | None] = {
    Referral.Recommendation.OUTPATIENT: "tier",
    Referral.Recommendation.RETURN_WITH_FOLLOW_UP: "tier",
    Referral.Recommendation.NO_TREATMENT: Tier.YELLOW.value,
    Referral.Recommendation.INPATIENT: None,
}


def follow_up_suggest(*, case: Case, start: dt.date | None = None) -> list[dt.date]:
    """The follow-up days the school's policy gives the case's tier, counted from ``start`` (today);
    once a hospital has given feedback on the case, the rhythm its recommendation calls for
    (``AFTER_RECOMMENDATION``)."""
    start = start or timezone.localdate()
    tier = Tier(case.tier)
    feedback = (Referral.objects.filter(case=case, feedback_at__isnull=False).exclude(recommendation="")
                .order_by("-feedback_at").values_list("recommendation", flat=True).first())
    if feedback is not None:
        rhythm = AFTER_RECOMMENDATION.get(feedback, "tier")
        if rhythm is None:
            return []
        tier = tier if rhythm == "tier" else Tier(rhythm)
    days = school_policy(case.school).settings(tier).follow_up_days
    return [start + dt.timedelta(days=d) for d in days]


def follow_up_plan_create(*, actor: Any, case: Case | int, dates: Sequence[dt.date], request_key: str = "") -> FollowUpPlan:
    """Plan follow-ups on the given days (the suggestion, as edited). Follow-ups of an earlier plan
    still to come are cancelled; a case in contact moves to monitoring."""
    with transaction.atomic():
        locked = _locked(actor, case)
        if request_key and (done := FollowUpPlan.objects.filter(case=locked, request_key=request_key).first()):
            if sorted(done.follow_ups.values_list("due_on", flat=True)) != sorted(set(dates)):
                raise _reused()
            return done
        _open(locked)
        days = _check_dates(dates)
        now = timezone.now()
        cancelled = locked.follow_ups.filter(status=FollowUp.Status.PLANNED).update(status=FollowUp.Status.CANCELLED)
        plan = FollowUpPlan.objects.create(case=locked, tier=locked.tier, created_by=actor, created_at=now,
                                           request_key=request_key)
        FollowUp.objects.bulk_create([FollowUp(plan=plan, case=locked, due_on=d) for d in days])
        if locked.status == Case.Status.IN_CONTACT:
            _move(locked, Case.Status.MONITORING, actor, now)
        _event(locked, CaseEvent.Kind.PLAN, actor, now, plan=plan.pk, dates=[d.isoformat() for d in days],
               cancelled=cancelled)
        _audit(actor, Action.CREATE, plan, locked, follow_ups=len(days))
    return plan


def _check_dates(dates: Sequence[dt.date]) -> list[dt.date]:
    today = timezone.localdate()
    days = sorted(set(dates))
    if not days:
        raise InvalidInput(fields={"dates": [_("Plan at least one follow-up.")]})
    if len(days) > MAX_FOLLOW_UPS:
        raise InvalidInput(fields={"dates": [_("Plan at most %(n)d follow-ups at once.") % {"n": MAX_FOLLOW_UPS}]})
    if days[0] < today:
        raise InvalidInput(fields={"dates": [_("Follow-ups cannot be planned in the past.")]})
    if days[-1] > today + dt.timedelta(days=MAX_PLAN_DAYS):
        raise InvalidInput(fields={"dates": [_("Plan follow-ups within the coming year.")]})
    return days


# --- status and closing ------------------------------------------------------------------------------


def _move(case: Case, status: str, actor: Any, now: dt.datetime) -> None:
    before, case.status = case.status, status
    case.save(update_fields=["status", "updated_at"])
    _event(case, CaseEvent.Kind.STATUS, actor, now, before=before, after=status)


def case_move(*, actor: Any, case: Case | int, status: str) -> Case:
    """Move an open case between "in contact" and "monitoring" (contacts and plans move it too;
    closing is case_close)."""
    allowed = {Case.Status.IN_CONTACT, Case.Status.MONITORING}
    with transaction.atomic():
        locked = _locked(actor, case)
        if status not in allowed:
            raise InvalidInput(fields={"status": [_("A case can be moved to in contact or monitoring here.")]})
        _open(locked)
        if locked.status == status:
            return locked
        if locked.status not in allowed:
            raise Conflict(_("Record a contact with the student first."), code="case_not_contacted")
        _move(locked, status, actor, timezone.now())
        _audit(actor, Action.UPDATE, locked, locked, status=status)
    return locked


def _check_close(reason: str, note: str) -> None:
    problems: dict[str, list[Any]] = {}
    if reason not in Case.CloseReason.values:
        problems["reason"] = [_("Choose why the case is closed.")]
    elif reason == Case.CloseReason.OTHER and not (note or "").strip():
        problems["note"] = [_("Say why the case is closed.")]
    if len(note or "") > MAX_NOTE:
        problems["note"] = [_("Keep the note under %(n)d characters.") % {"n": MAX_NOTE}]
    if problems:
        raise InvalidInput(fields=problems)


def case_close(*, actor: Any, case: Case | int, reason: str, note: str = "") -> Case:
    """Close a case with a reason (and a note when the reason is "other"). A case with an
    unacknowledged red alert or a live referral cannot be closed; planned follow-ups are cancelled. Closing a closed
    case again changes nothing."""
    with transaction.atomic():
        locked = _locked(actor, case)  # an unseen case is NotFound before any check of the input
        _check_close(reason, note)
        if locked.status == Case.Status.CLOSED:
            return locked
        if CrisisAlert.objects.filter(student_id=locked.student_id, acknowledged_at__isnull=True).exists():
            raise Conflict(_("Acknowledge the red alert on this case before closing it."), code="alert_open")
        if Referral.objects.filter(case=locked).exclude(state__in=referral_states.ENDED).exists():
            raise Conflict(_("This case has a live referral; close or cancel the referral first."), code="live_referral")
        now = timezone.now()
        locked.follow_ups.filter(status=FollowUp.Status.PLANNED).update(status=FollowUp.Status.CANCELLED)
        locked.status, locked.closed_at, locked.closed_by = Case.Status.CLOSED, now, actor
        locked.close_reason, locked.close_note = reason, note or ""
        locked.save(update_fields=["status", "closed_at", "closed_by", "close_reason", "close_note", "updated_at"])
        _event(locked, CaseEvent.Kind.CLOSED, actor, now, reason=reason)
        _audit(actor, Action.UPDATE, locked, locked, status="closed", reason=reason)
    return locked

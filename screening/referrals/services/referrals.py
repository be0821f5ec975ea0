"""Referrals: from the counsellor's draft to the hospital's feedback, every move through
``screening.referrals.states`` and recorded as an event both sides read.

Who is acting decides the side: staff who cover the student act for the school; a liaison of the
referral's hospital acts for the hospital. A referral the actor cannot see is NotFound; a move
their side may not make is NotAllowed; a move the state does not allow is Conflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening.cases.models import Case, CaseEvent
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from screening.directory.models import Hospital
from screening.referrals import selectors, states
from screening.referrals.delivery import outbox_enqueue
from screening.referrals.models import Referral, ReferralEvent, SharingConsent
from screening.referrals.services.agreements import agreement_for

MAX_TEXT = 5000
S = Referral.State


def live_referral(student_id: int) -> Referral | None:
    """The student's live referral (sent or on its way, not declined, closed or cancelled), if any."""
    return Referral.objects.filter(student_id=student_id).exclude(state__in=states.ENDED).first()


def _side(actor: Any, referral: Referral) -> str | None:
    return selectors.acting_side(user=actor, referral=referral)


def _locked(actor: Any, referral: Referral | int) -> Referral:
    pk = referral.pk if isinstance(referral, Referral) else referral
    found = (Referral.objects.visible_to(actor).select_for_update().select_related("student", "agreement", "case")
             .filter(pk=pk).first())
    if found is None:
        raise NotFound(_("Not found."))
    return found


def _text(value: str, field: str, required: bool = False) -> dict[str, list[Any]]:
    if required and not (value or "").strip():
        return {field: [_("This field is required.")]}
    if len(value or "") > MAX_TEXT:
        return {field: [_("Keep this under %(n)d characters.") % {"n": MAX_TEXT}]}
    return {}


def _event(referral: Referral, before: str, side: str, actor: Any, at: dt.datetime, note: str = "", **detail: Any) -> None:
    ReferralEvent.objects.create(referral=referral, from_state=before, to_state=referral.state, side=side, actor=actor,
                                 at=at, note=note or "", detail=detail)
    CaseEvent.objects.create(case_id=referral.case_id, kind=CaseEvent.Kind.REFERRAL, actor=actor, at=at,
                             detail={"referral": referral.pk, "from": before, "to": referral.state, "side": side})
    audit_record(actor=actor, action=Action.CREATE if not before else Action.UPDATE, object_type="referrals.Referral",
                 object_id=referral.pk, student_public_id=referral.student.public_id, school_id=referral.school_id,
                 detail={"from": before, "to": referral.state, "side": side})


Fields = Callable[[Referral, dt.datetime], dict[str, Any]]


def _move(actor: Any, referral: Referral | int, to: str, *, note: str = "", fields: Fields | None = None,
          check: Callable[[Referral], None] | None = None) -> Referral:
    """Lock, check the side and the state (and ``check``), set ``fields(locked, now)``, record the
    event on both timelines and in the audit log; queue the push to the hospital's system for a
    school-side move of a sent referral (``delivery.outbox_enqueue``)."""
    with transaction.atomic():
        locked = _locked(actor, referral)
        side = _side(actor, locked)
        if side is None or not any(side in sides for (_frm, dest), sides in states.MOVES.items() if dest == to):
            raise NotAllowed(_("This step is not yours to take."))
        if side == states.HOSPITAL and locked.state == S.SENT and to in (S.ACCEPTED, S.DECLINED):
            _acknowledged(locked, actor)  # deciding acknowledges first, in the same transaction
        if not states.allowed(locked.state, to, side):
            raise Conflict(_("This referral is %(state)s; that step is not possible now.") % {
                "state": locked.get_state_display()}, code="referral_state")
        if check is not None:
            check(locked)
        before, now = locked.state, timezone.now()
        changes = fields(locked, now) if fields is not None else {}
        locked.state = to
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save()
        _event(locked, before, side, actor, now, note,
               **{k: str(v) for k, v in changes.items() if k in ("decline_reason", "recommendation")})
        if side == states.SCHOOL and locked.sent_at is not None:
            # The hospital's system hears of the sending and of every later change the school
            # makes (a draft cancelled before sending was never theirs): same transaction.
            outbox_enqueue(locked)
    return locked


def _acknowledged(locked: Referral, actor: Any) -> None:
    now = timezone.now()
    locked.state, locked.acknowledged_at = S.ACKNOWLEDGED, now
    locked.save(update_fields=["state", "acknowledged_at"])
    _event(locked, S.SENT, states.HOSPITAL, actor, now)


# --- the school side ------------------------------------------------------------------------------


def referral_create(
    *, actor: Any, case: Case | int, hospital: Hospital, reason: str, basis: str,
    consent: SharingConsent | None = None, emergency_justification: str = "", request_key: str = "",
) -> Referral:
    """A draft referral of the case's student to a hospital, under the school's valid agreement that
    covers the case's tier. The legal basis is a separate consent to share with that hospital, or
    the emergency basis with a written justification. A student has one live referral at most:
    a second attempt is a Conflict that names the live one. The same ``request_key`` again returns
    the referral it made (a different request under it is a Conflict)."""
    with transaction.atomic():
        pk = case.pk if isinstance(case, Case) else case
        locked = Case.objects.visible_to(actor).select_for_update().select_related("student").filter(pk=pk).first()
        if locked is None:
            raise NotFound(_("Not found."))
        if request_key and (done := Referral.objects.filter(case=locked, request_key=request_key).first()):
            if (done.hospital_id, done.basis, done.reason) != (hospital.pk, basis, reason):
                raise Conflict(_("This Idempotency-Key was already used with a different request."),
                               code="idempotency_key_reused")
            return done  # the same request again: the referral it made
        if locked.status == Case.Status.CLOSED:
            raise Conflict(_("This case is closed."), code="case_closed")
        live = live_referral(locked.student_id)
        if live is not None:
            raise Conflict(_("This student already has a live referral (number %(id)s); continue that one.") % {"id": live.pk},
                           code="live_referral", fields={"referral": [live.pk]})
        agreement = agreement_for(school_id=locked.school_id, hospital_id=hospital.pk, tier=locked.tier)
        problems = _text(reason, "reason", required=True)
        if agreement is None:
            problems["hospital"] = [_("The school has no valid agreement with this hospital that covers this tier.")]
        problems |= _basis_problems(locked, hospital, basis, consent, emergency_justification)
        if problems:
            raise InvalidInput(fields=problems)
        assert agreement is not None
        try:
            with transaction.atomic():
                referral = Referral.objects.create(
                    case=locked, student=locked.student, school_id=locked.school_id, hospital=hospital,
                    agreement=agreement, tier=locked.tier, basis=basis,
                    consent=consent if basis == Referral.Basis.CONSENT else None,
                    emergency_justification=emergency_justification if basis == Referral.Basis.EMERGENCY else "",
                    reason=reason, created_by=actor, created_at=timezone.now(), request_key=request_key,
                )
        except IntegrityError as e:  # a concurrent referral of the same student won
            won = live_referral(locked.student_id)
            raise Conflict(_("This student already has a live referral; continue that one."), code="live_referral",
                           fields={"referral": [won.pk]} if won else None) from e
        _event(referral, "", states.SCHOOL, actor, referral.created_at, basis=basis)
    return referral


def _basis_problems(case: Case, hospital: Hospital, basis: str, consent: SharingConsent | None,
                    justification: str) -> dict[str, list[Any]]:
    if basis == Referral.Basis.CONSENT:
        ok = (consent is not None and consent.student_id == case.student_id and consent.hospital_id == hospital.pk
              and consent.withdrawn_at is None)
        if ok and case.student.is_minor_under_14 and consent.party != SharingConsent.Party.GUARDIAN:  # type: ignore[union-attr]
            ok = False
        return {} if ok else {"consent": [_("Record the consent to share with this hospital first (the guardian's for a "
                                            "student under 14), or use the emergency basis.")]}
    if basis == Referral.Basis.EMERGENCY:
        return _text(justification, "emergency_justification", required=True)
    return {"basis": [_("Choose the legal basis: consent to share, or emergency.")]}


def referral_send(*, actor: Any, referral: Referral | int) -> Referral:
    """Send a draft to the hospital: its time limits start (the agreement's, for the tier). An
    expired agreement sends nothing. On the emergency basis the heads of centre are told at once
    and a notice to the guardian is due."""
    def valid(locked: Referral) -> None:
        today, agreement = timezone.localdate(), locked.agreement
        if not agreement.valid_from <= today <= agreement.valid_until or locked.tier not in agreement.tiers:
            raise Conflict(_("The agreement with this hospital is not valid today for this tier; it accepts no new "
                             "referrals."), code="agreement_expired")

    def timers(locked: Referral, now: dt.datetime) -> dict[str, Any]:
        limits = _limits(locked)
        return {"sent_at": now, "acknowledge_due_at": now + dt.timedelta(hours=int(limits["acknowledge_hours"])),
                "decide_due_at": now + dt.timedelta(hours=int(limits["decide_hours"])),
                "guardian_notice_due": locked.basis == Referral.Basis.EMERGENCY}

    sent = _move(actor, referral, S.SENT, fields=timers, check=valid)
    if sent.basis == Referral.Basis.EMERGENCY:
        from screening.referrals.notices import emergency_referral_told

        transaction.on_commit(lambda: emergency_referral_told(sent.pk))
    return sent


def _limits(referral: Referral) -> dict[str, Any]:
    return dict(referral.agreement.limits.get(referral.tier) or {"acknowledge_hours": 24, "decide_hours": 72})


def referral_cancel(*, actor: Any, referral: Referral | int, note: str) -> Referral:
    """The school withdraws the referral before attendance, saying why."""
    problems = _text(note, "note", required=True)
    if problems:
        raise InvalidInput(fields=problems)
    return _move(actor, referral, S.CANCELLED, note=note, fields=lambda _r, now: {"closed_at": now})


# --- the hospital side -----------------------------------------------------------------------------


def referral_acknowledge(*, actor: Any, referral: Referral | int, note: str = "") -> Referral:
    """The hospital has received the referral (stops the acknowledgement timer)."""
    return _move(actor, referral, S.ACKNOWLEDGED, note=note, fields=lambda _r, now: {"acknowledged_at": now})


def referral_accept(*, actor: Any, referral: Referral | int, note: str = "") -> Referral:
    """The hospital takes the referral on (acknowledging it first if it had not)."""
    return _move(actor, referral, S.ACCEPTED, note=note, fields=lambda _r, now: {"decided_at": now})


def referral_decline(*, actor: Any, referral: Referral | int, reason: str, text: str = "") -> Referral:
    """The hospital declines, with a reason from the list and its own words."""
    problems: dict[str, list[Any]] = {}
    if reason not in Referral.DeclineReason.values:
        problems["reason"] = [_("Choose why the referral is declined.")]
    problems |= _text(text, "text", required=reason == Referral.DeclineReason.OTHER)
    if problems:
        raise InvalidInput(fields=problems)
    return _move(actor, referral, S.DECLINED, note=text,
                 fields=lambda _r, now: {"decided_at": now, "decline_reason": reason, "decline_text": text,
                                         "closed_at": now})


def referral_schedule(*, actor: Any, referral: Referral | int, at: dt.datetime, place: str, bring: str = "") -> Referral:
    """The appointment: when, where, what to bring (again for a new time)."""
    problems = _text(place, "place", required=True)
    if len(bring) > 300:
        problems["bring"] = [_("Keep this under %(n)d characters.") % {"n": 300}]
    if at < timezone.now() - dt.timedelta(hours=1):
        problems["at"] = [_("An appointment cannot be in the past.")]
    if len(place) > 200:
        problems["place"] = [_("Keep this under %(n)d characters.") % {"n": 200}]
    if problems:
        raise InvalidInput(fields=problems)
    return _move(actor, referral, S.SCHEDULED,
                 fields=lambda _r, _now: {"appointment_at": at, "appointment_place": place.strip(),
                                          "appointment_bring": bring.strip()})


def referral_attendance(*, actor: Any, referral: Referral | int, attended: bool, recommendation: str = "",
                        advice: str = "") -> Referral:
    """Whether the student came; if so the feedback: seen, a recommendation, advice to the school.
    The feedback returns to the case (an event on its timeline)."""
    problems = _text(advice, "advice")
    if not attended:
        if problems:
            raise InvalidInput(fields=problems)
        return _move(actor, referral, S.NO_SHOW, fields=lambda _r, _now: {"seen": False, "advice": advice})
    if recommendation not in Referral.Recommendation.values:
        problems["recommendation"] = [_("Choose the recommendation.")]
    if problems:
        raise InvalidInput(fields=problems)
    return _move(actor, referral, S.ATTENDED, note=advice,
                 fields=lambda _r, now: {"seen": True, "recommendation": recommendation, "advice": advice,
                                         "feedback_at": now})


def referral_close(*, actor: Any, referral: Referral | int, note: str = "") -> Referral:
    """Close the loop once attendance is recorded (either side)."""
    return _move(actor, referral, S.CLOSED, note=note, fields=lambda _r, now: {"closed_at": now})

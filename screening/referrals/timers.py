"""The hospital's time limits on a referral, run with the workspace's other timers (every minute
from beat; ``manage.py run_timers`` without a broker). A referral not acknowledged by
``acknowledge_due_at``, or not accepted or declined by ``decide_due_at``, escalates on both sides:
to the school's heads of centre, and to the hospital (its liaisons and the crisis contact named in
the agreement). A referral sent on the emergency basis whose guardian has still not been told
``GUARDIAN_NOTICE_HOURS`` after sending reminds the referring counsellor and the heads. Each step
is claimed once, recorded on the referral's timeline and audited; the
deadlines are in the rows, so nothing is lost across a restart.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from screening.cases.services.escalation import hospital_liaisons, school_heads
from screening.core.audit import Action, audit_record
from screening.referrals.models import Referral, ReferralEvent

S = Referral.State
STEPS = {
    "acknowledge": ("acknowledge_due_at", "acknowledge_escalated_at", (S.SENT,)),
    "decide": ("decide_due_at", "decide_escalated_at", (S.SENT, S.ACKNOWLEDGED)),
}


# The guardian of a student referred without consent (PIPL art. 13(4)) is told afterwards by the
# school, in person or by phone, as the counsellor judges safe; a day is the longest that may wait.
GUARDIAN_NOTICE_HOURS = 24


def referral_timers_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Escalate every referral whose hospital limit passed, and remind of guardian notices still
    due. Returns counts per step."""
    now = now or timezone.now()
    return {**{step: _escalate(step, now) for step in STEPS}, "guardian_notice": _remind_guardian_notice(now)}


def _remind_guardian_notice(now: dt.datetime) -> int:
    """Claim and send one reminder per emergency referral whose guardian notice is overdue."""
    due = Referral.objects.filter(guardian_notice_due=True, guardian_notice_reminded_at__isnull=True,
                                  sent_at__lte=now - dt.timedelta(hours=GUARDIAN_NOTICE_HOURS))
    done = 0
    for referral in due.select_related("student", "school", "hospital", "created_by").order_by("sent_at")[:500]:
        with transaction.atomic():
            if not Referral.objects.filter(pk=referral.pk, guardian_notice_due=True,
                                           guardian_notice_reminded_at__isnull=True).update(guardian_notice_reminded_at=now):
                continue
            ReferralEvent.objects.create(referral=referral, from_state=referral.state, to_state=referral.state,
                                         side=ReferralEvent.Side.SYSTEM, at=now, detail={"escalated": "guardian_notice"})
            audit_record(actor=None, action=Action.UPDATE, object_type="referrals.Referral", object_id=referral.pk,
                         student_public_id=referral.student.public_id, school_id=referral.school_id,
                         detail={"escalated": "guardian_notice"}, actor_username="system")
            transaction.on_commit(lambda r=referral: _tell_guardian_notice(r))  # type: ignore[misc]
            done += 1
    return done


def _tell_guardian_notice(referral: Referral) -> int:
    people = [*school_heads(referral.school_id), *([referral.created_by] if referral.created_by else [])]
    addresses = sorted({u.email for u in people if u.email})
    with override(settings.LANGUAGE_CODE):
        subject = _("A guardian has not been told of an emergency referral")
        body = _(
            "Referral number %(id)s was sent to %(hospital)s without consent, on the emergency basis, more than "
            "%(hours)s hours ago, and no contact with the guardian has been recorded since. Please tell the guardian "
            "and record it on the case in Xinqiao (sign in to see it).\n"
        ) % {"id": referral.pk, "hospital": referral.hospital.name, "hours": GUARDIAN_NOTICE_HOURS}
    return sum(send_mail(subject, body, None, [address]) for address in addresses)


def _escalate(step: str, now: dt.datetime) -> int:
    due_field, done_field, open_states = STEPS[step]
    due = Referral.objects.filter(**{"state__in": open_states, f"{due_field}__lte": now, f"{done_field}__isnull": True})
    done = 0
    for referral in due.select_related("student", "agreement", "school", "hospital").order_by(due_field)[:500]:
        with transaction.atomic():
            if not Referral.objects.filter(pk=referral.pk, state__in=open_states,
                                           **{f"{done_field}__isnull": True}).update(**{done_field: now}):
                continue
            ReferralEvent.objects.create(referral=referral, from_state=referral.state, to_state=referral.state,
                                         side=ReferralEvent.Side.SYSTEM, at=now, detail={"escalated": step})
            audit_record(actor=None, action=Action.UPDATE, object_type="referrals.Referral", object_id=referral.pk,
                         student_public_id=referral.student.public_id, school_id=referral.school_id,
                         detail={"escalated": step}, actor_username="system")
            transaction.on_commit(lambda r=referral, s=step: _tell(r, s))  # type: ignore[misc]
            done += 1
    return done


def _recipients(referral: Referral) -> list[str]:
    people = [*school_heads(referral.school_id), *hospital_liaisons(referral.hospital_id)]
    addresses = [u.email for u in people if u.email]
    if referral.agreement.crisis_contact_email:
        addresses.append(referral.agreement.crisis_contact_email)
    return sorted(set(addresses))


def _tell(referral: Referral, step: str) -> int:
    with override(settings.LANGUAGE_CODE):
        subject = _("Referral overdue at the hospital")
        what = _("acknowledged") if step == "acknowledge" else _("accepted or declined")
        body = _(
            "A referral from %(school)s to %(hospital)s (number %(id)s) has not been %(what)s within the time the "
            "agreement sets. Please look at it in Xinqiao now (sign in to see it).\n"
        ) % {"school": referral.school.name, "hospital": referral.hospital.name, "id": referral.pk, "what": what}
    return sum(send_mail(subject, body, None, [address]) for address in _recipients(referral))

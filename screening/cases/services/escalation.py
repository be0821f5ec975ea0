"""The timers of the counsellor workspace, run as one sweep every minute (Celery beat in
production; ``manage.py run_timers`` on the embedded default, which ``./dev demo`` keeps running).

The deadlines live in the rows themselves (an alert's ``acknowledge_due_at`` and
``hospital_due_at``, a flag's ``due_at``, a follow-up's ``due_on``), so nothing is lost across a
restart: a sweep after a pause acts on everything that fell due meanwhile. Each step is claimed with
a conditional UPDATE (``... WHERE escalated_at IS NULL``), so two sweeps running at once (two beat
processes, a retry) never act twice. Steps:

- a red alert not acknowledged by ``acknowledge_due_at`` (the school's limit, 15 minutes by
  default) goes to the school's heads of centre;
- still not acknowledged at ``hospital_due_at`` (30 minutes by default), to the partner hospital:
  its liaisons, and the crisis contact named in the school's valid agreement with it that covers
  red (``crisis_agreement``);
- a flag whose first-contact limit passed without a contact goes to the heads of centre;
- a planned follow-up whose day has passed without a contact is marked missed.

Every step is a CaseEvent on the case's timeline (actor: the system) and an audit entry; e-mail
follows the commit and carries no name, answer or score.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from screening.campaigns.models import CrisisAlert
from screening.cases.models import Case, CaseEvent, CaseFlag, FollowUp
from screening.cases.services.flags import case_of_alert
from screening.core.audit import Action, audit_record
from screening.core.models import User
from screening.directory.models import Membership, School

BATCH = 500


def school_heads(school_id: int) -> QuerySet[User]:
    """The school's heads of psychological centre today."""
    today = timezone.localdate()
    return User.objects.filter(
        Q(memberships__ends_on__isnull=True) | Q(memberships__ends_on__gte=today), is_active=True,
        memberships__school_id=school_id, memberships__role=Membership.Role.SCHOOL_ADMIN,
        memberships__starts_on__lte=today,
    ).distinct()


def hospital_liaisons(hospital_id: int) -> QuerySet[User]:
    """A hospital's liaisons today."""
    today = timezone.localdate()
    return User.objects.filter(
        Q(memberships__ends_on__isnull=True) | Q(memberships__ends_on__gte=today), is_active=True,
        memberships__hospital_id=hospital_id, memberships__role=Membership.Role.HOSPITAL_LIAISON,
        memberships__starts_on__lte=today,
    ).distinct()


def hospital_contacts(school: School) -> QuerySet[User]:
    """Who the partner hospital has on the platform for this school's crises: its liaisons today."""
    if school.partner_hospital_id is None:
        return User.objects.none()
    return hospital_liaisons(school.partner_hospital_id)


def crisis_agreement(school: School) -> Any:
    """The school's valid agreement with its partner hospital that covers red, whose crisis contact
    an unacknowledged red alert goes to (with the hospital's liaisons)."""
    from screening.referrals.services.agreements import agreement_for

    if school.partner_hospital_id is None:
        return None
    return agreement_for(school_id=school.pk, hospital_id=school.partner_hospital_id, tier="red")


def escalations_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One sweep: every escalation and missed follow-up that is due. Returns counts per step."""
    now = now or timezone.now()
    return {
        "alerts_to_school": _alerts(now, "acknowledge_due_at", "escalated_school_at",
                                    CaseEvent.Kind.ALERT_ESCALATED_SCHOOL),
        "alerts_to_hospital": _alerts(now, "hospital_due_at", "escalated_hospital_at",
                                      CaseEvent.Kind.ALERT_ESCALATED_HOSPITAL),
        "first_contact_overdue": _overdue_flags(now),
        "follow_ups_missed": _missed_follow_ups(now),
    }


def _claim(model: Any, pk: int, field: str, now: dt.datetime, **extra: Any) -> bool:
    return bool(model.objects.filter(pk=pk, **{f"{field}__isnull": True}, **extra).update(**{field: now}))


def _alerts(now: dt.datetime, due_field: str, done_field: str, kind: str) -> int:
    due = CrisisAlert.objects.filter(**{"acknowledged_at__isnull": True, f"{due_field}__lte": now,
                                        f"{done_field}__isnull": True})
    done = 0
    for alert in due.select_related("student", "school").order_by(due_field)[:BATCH]:
        with transaction.atomic():
            if not _claim(CrisisAlert, alert.pk, done_field, now, acknowledged_at__isnull=True):
                continue
            case = case_of_alert(alert)
            to = school_heads(alert.school_id) if kind == CaseEvent.Kind.ALERT_ESCALATED_SCHOOL else hospital_contacts(alert.school)
            ids = sorted(to.values_list("pk", flat=True))
            detail: dict[str, Any] = {"to": ids, "minutes": round((now - alert.created_at).total_seconds() / 60)}
            if kind == CaseEvent.Kind.ALERT_ESCALATED_HOSPITAL and (agreement := crisis_agreement(alert.school)):
                detail["agreement"] = agreement.pk  # its named crisis contact is written to as well
            if case is not None:
                event = CaseEvent.objects.create(case=case, kind=kind, at=now, alert=alert, detail=detail)
                _notify_after_commit(event.pk)
            audit_record(actor=None, action=Action.UPDATE, object_type="campaigns.CrisisAlert", object_id=alert.pk,
                         student_public_id=alert.student.public_id, school_id=alert.school_id,
                         detail={"escalated": kind, "recipients": len(ids)}, actor_username="system")
            done += 1
    return done


def _overdue_flags(now: dt.datetime) -> int:
    due = CaseFlag.objects.filter(contacted_at__isnull=True, escalated_at__isnull=True, due_at__lte=now).exclude(
        case__status=Case.Status.CLOSED)
    done = 0
    for flag in due.select_related("case__student").order_by("due_at")[:BATCH]:
        with transaction.atomic():
            if not _claim(CaseFlag, flag.pk, "escalated_at", now, contacted_at__isnull=True):
                continue
            case = flag.case
            ids = sorted(school_heads(case.school_id).values_list("pk", flat=True))
            event = CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.ESCALATED, at=now,
                                             detail={"to": ids, "tier": flag.tier, "flag": flag.pk,
                                                     "due": flag.due_at.isoformat() if flag.due_at else None})
            _notify_after_commit(event.pk)
            audit_record(actor=None, action=Action.UPDATE, object_type="cases.Case", object_id=case.pk,
                         student_public_id=case.student.public_id, school_id=case.school_id,
                         detail={"escalated": "first_contact_overdue", "recipients": len(ids)},
                         actor_username="system")
            done += 1
    return done


def _missed_follow_ups(now: dt.datetime) -> int:
    today = timezone.localtime(now).date()
    done = 0
    for follow_up in FollowUp.objects.filter(status=FollowUp.Status.PLANNED, due_on__lt=today).order_by("due_on")[:BATCH]:
        with transaction.atomic():
            if not FollowUp.objects.filter(pk=follow_up.pk, status=FollowUp.Status.PLANNED).update(
                    status=FollowUp.Status.MISSED, missed_at=now):
                continue
            CaseEvent.objects.create(case_id=follow_up.case_id, kind=CaseEvent.Kind.FOLLOW_UP_MISSED, at=now,
                                     detail={"follow_up": follow_up.pk, "due": follow_up.due_on.isoformat()})
            done += 1
    return done


def _notify_after_commit(event_id: int) -> None:
    from screening.cases.tasks import notify_case_event

    transaction.on_commit(lambda: notify_case_event.delay(event_id))


def case_event_notify(*, event_id: int) -> int:
    """E-mail an escalation to the people named in it, once (the event records when it was sent)."""
    from screening.cases.notices import escalation_mail

    event = CaseEvent.objects.select_related("case__school", "alert").filter(pk=event_id, notified_at__isnull=True).first()
    if event is None:
        return 0
    sent = escalation_mail(event)
    CaseEvent.objects.filter(pk=event.pk).update(notified_at=timezone.now())
    return sent

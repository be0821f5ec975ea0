"""The crisis response: the help a student sees at once, and the red alert to their counsellors.

The student's resources are the school's own 24-hour line, the partner hospital's 24-hour line,
the national psychological assistance hotline 12356, and 110 / 120 for immediate danger. The alert
goes to every counsellor who covers the student today (whole school, or the student's class for a
class-limited counsellor); when the school has none, to the school's heads of centre, so that a
red tier is never addressed to nobody. E-mail follows the commit and says only that a student
needs contact and where to look: no name, answer or score leaves the platform.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from scoring.tiers import TierDecision, TierPolicy
from screening.campaigns.models import CrisisAlert, Submission
from screening.core.audit import Action, audit_record
from screening.core.models import User
from screening.directory.models import Membership, School, Student


def crisis_resources(school: School) -> list[dict[str, str]]:
    """Where to get help now, in the active language: ``[{kind, label, phone}]``."""
    lines: list[dict[str, str]] = []
    if school.crisis_line:
        lines.append({"kind": "school", "label": _("Your school's 24-hour line"), "phone": school.crisis_line})
    hospital = school.partner_hospital
    if hospital is not None and hospital.crisis_line:
        name = hospital.name_en if get_language() == "en" and hospital.name_en else hospital.name
        lines.append({"kind": "hospital", "label": _("24-hour line of %(hospital)s") % {"hospital": name},
                      "phone": hospital.crisis_line})
    lines.append({"kind": "hotline", "label": _("Psychological assistance hotline (24 hours)"),
                  "phone": settings.XINQIAO_NATIONAL_HOTLINE})
    lines.append({"kind": "police", "label": _("Police, if you are in danger now"), "phone": "110"})
    lines.append({"kind": "ambulance", "label": _("Ambulance, if you are hurt or in danger now"), "phone": "120"})
    return lines


def alert_recipients(student: Student) -> QuerySet[User]:
    """Counsellors who cover this student today; the school's heads of centre if there are none."""
    today = timezone.localdate()
    active = Q(memberships__school_id=student.school_id, memberships__starts_on__lte=today) & (
        Q(memberships__ends_on__isnull=True) | Q(memberships__ends_on__gte=today)
    )
    covers = Q(memberships__limited_to_classes=False) | Q(memberships__classes=student.school_class_id)
    users = User.objects.filter(is_active=True)
    counsellors = users.filter(active, covers, memberships__role=Membership.Role.COUNSELLOR).distinct()
    if counsellors.exists():
        return counsellors
    return users.filter(active, memberships__role=Membership.Role.SCHOOL_ADMIN).distinct()


def crisis_alert_raise(*, submission: Submission, decision: TierDecision, policy: TierPolicy,
                       at: dt.datetime | None = None) -> CrisisAlert:
    """Create the red alert for a submission, inside the caller's transaction; e-mail after commit.
    It must be acknowledged within the school's limit (``policy.alerts``), or it escalates. ``at``
    is when the red tier was decided: the submit, or a later re-score with a new risk model."""
    student = submission.student
    limit, at = decision.first_contact_limit, at or submission.submitted_at
    alert = CrisisAlert.objects.create(
        submission=submission, student=student, school_id=student.school_id,
        rules=[r.to_dict() for r in decision.rules], created_at=at,
        due_at=at + limit if limit is not None else at,
        acknowledge_due_at=at + policy.alerts.acknowledge_within, hospital_due_at=at + policy.alerts.hospital_after,
    )
    alert.recipients.set(alert_recipients(student))
    audit_record(actor=None, action=Action.CREATE, object_type="campaigns.CrisisAlert", object_id=alert.pk,
                 student_public_id=student.public_id, school_id=student.school_id,
                 detail={"recipients": alert.recipients.count()}, actor_username="system")
    transaction.on_commit(lambda: _send_later(alert.pk))
    return alert


def _send_later(alert_id: int) -> None:
    from screening.campaigns.tasks import notify_crisis_alert

    notify_crisis_alert.delay(alert_id)


def crisis_alert_notify(*, alert_id: int) -> int:
    """E-mail each recipient of an alert once. Returns how many were sent."""
    from django.core.mail import send_mail
    from django.utils.translation import override

    alert = CrisisAlert.objects.select_related("school").filter(pk=alert_id, notified_at__isnull=True).first()
    if alert is None:
        return 0
    link = settings.XINQIAO_PUBLIC_URL + reverse("web:alert", args=[alert.pk])
    sent = 0
    for user in alert.recipients.exclude(email=""):
        with override(settings.LANGUAGE_CODE):
            subject = _("Red alert: a student needs contact now")
            body = _(
                "A screening at %(school)s has raised a red alert: a student may be at imminent risk.\n"
                "Contact them now and keep them safe. Details are in Xinqiao (sign in to see them):\n%(link)s\n"
            ) % {"school": alert.school.name, "link": link}
        sent += send_mail(subject, body, None, [user.email])
    CrisisAlert.objects.filter(pk=alert.pk, notified_at__isnull=True).update(notified_at=timezone.now())
    return sent
